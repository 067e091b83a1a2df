"""Shared by the Citus tests (tests/citus/): requests shaped like PostgREST's, the operator's
connection, and the users and rows of the distributed tables."""
from __future__ import annotations

import contextlib
import json

import psycopg

SECRET = "citus-lane-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
# The guides' SQL helper, as a project has it before the extension.
GUIDE_HELPER = ("CREATE FUNCTION public.requesting_user_id() RETURNS TEXT AS $$\n"
                "  SELECT auth.jwt() ->> 'sub'\n$$ LANGUAGE SQL STABLE;")

# Users of the test tables: user_NN with NN + 1 rows each (so a leak of anyone's rows changes
# every count), and one whose id needs quoting (a quote and a backslash) to reach the workers.
SPECIAL_USER = "o'brien\\x"
USERS = [f"user_{n:02d}" for n in range(12)] + [SPECIAL_USER]


def rows_of(user: str) -> list[int]:
    """The ids of `user`'s rows in every test table."""
    k = USERS.index(user)
    return [k * 100 + j for j in range(1, k + 2)]


def one(conn, sql, *args):
    return conn.execute(sql, args or None).fetchone()[0]


def claims_of(sub: str | None, role: str = "authenticated", **extra) -> dict:
    c = {"role": role, "aud": "insforge-api", "exp": 4102444800}
    if sub is not None:
        c["sub"] = sub
    c.update(extra)
    return c


def headers_with(token: str | None = None) -> dict:
    h = {"accept": "application/json", "host": "localhost:3000", "x-client-info": "tests/citus"}
    if token is not None:
        h["authorization"] = "Bearer " + token
    return h


def set_request(cur, claims: dict | str | None, role: str = "authenticated", headers: dict | str | None = None,
                pre_request: bool = True) -> None:
    """What PostgREST 12 sends at the start of a request (one statement of set_config calls),
    then its db-pre-request `select "insforge"."pre_request"()` (unless pre_request is False)."""
    claims_text = claims if isinstance(claims, str) or claims is None else json.dumps(claims)
    headers_text = headers if isinstance(headers, str) else json.dumps(headers if headers is not None else headers_with())
    cur.execute(
        "select set_config('search_path', 'public', true), set_config('role', %s, true),"
        " set_config('request.jwt.claims', %s, true), set_config('request.method', 'GET', true),"
        " set_config('request.path', '/notes', true), set_config('request.headers', %s, true),"
        " set_config('request.cookies', '{}', true)",
        (role, claims_text if claims_text is not None else "", headers_text))
    if pre_request:
        cur.execute('select "insforge"."pre_request"()')


@contextlib.contextmanager
def request(conn: psycopg.Connection, sub: str | None = None, *, claims: dict | str | None = None,
            role: str = "authenticated", headers: dict | str | None = None, pre_request: bool = True,
            commit: bool = False):
    """One request as PostgREST runs it on the coordinator: a transaction, the set_config
    statement, the pre-request function, then the block's statements. Rolled back at the end
    unless commit (so the tables keep their rows)."""
    if claims is None and sub is not None:
        claims = claims_of(sub, role)
    with conn.transaction(force_rollback=not commit):
        cur = conn.cursor()
        set_request(cur, claims, role, headers, pre_request)
        yield cur


def postgrest_select(table: str) -> str:
    """PostgREST 12's GET /<table> (no select parameter): the CTE, count and json_agg shape."""
    return (f'WITH pgrst_source AS ( SELECT "public"."{table}".* FROM "public"."{table}"  ) '
            "SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
            "coalesce(json_agg(_postgrest_t), '[]') AS body, nullif(current_setting('response.headers', true), '') "
            "AS response_headers, nullif(current_setting('response.status', true), '') AS response_status, "
            "'' AS response_inserted FROM ( SELECT * FROM pgrst_source ) _postgrest_t")


# -- the test tables ---------------------------------------------------------------------------------------
# One distributed table per identity function in its policy, the same rows in each:
#   native     insforge.requesting_user_id()       (the extension's function)
#   adopted    public.requesting_user_id()         (the guide's SQL helper, adopted: native on every node)
#   guide_sql  guide.requesting_user_id()          (the guide's SQL helper, as the guide writes it)
# and notes_local, a plain table on the coordinator with the native policy (what one node does).
POLICY_FUNCTIONS = {
    "native": "insforge.requesting_user_id()",
    "adopted": "public.requesting_user_id()",
    "guide_sql": "guide.requesting_user_id()",
}


def create_notes(op, table: str, function: str, distribute: bool = True) -> None:
    op.execute(f"CREATE TABLE {table} (id bigint NOT NULL, user_id text NOT NULL, body text,"
               f" PRIMARY KEY (user_id, id))")
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY own ON {table} FOR ALL TO authenticated"
               f" USING (user_id = {function}) WITH CHECK (user_id = {function})")
    if distribute:
        op.execute("SELECT create_distributed_table(%s, 'user_id')", (table,))
    with op.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} (id, user_id, body) VALUES (%s, %s, %s)",
                        [(i, u, f"note {i} of {u}") for u in USERS for i in rows_of(u)])
