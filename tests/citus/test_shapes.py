"""Policies on Citus distributed tables behind PostgREST (docs/citus.md): every query shape a
project's requests take, with each identity function in the policy, returns exactly the
requesting user's rows once PostgREST's pre-request is insforge.pre_request(); without it the
workers see no claims and every shape fails closed.

Shapes: a router query (one shard), a multi-shard query, an aggregate, PostgREST's CTE +
json_agg, INSERT of one's own row and of someone else's, UPDATE, DELETE, a savepoint rolled back
after a second user's claims, and one connection serving several users in turn."""
import json

import psycopg
import pytest

from citus_helpers import POLICY_FUNCTIONS, SPECIAL_USER, USERS, one, postgrest_select, request, rows_of

ME = ["user_03", "user_10", SPECIAL_USER]


def mine(cur, table):
    """(user_id, id) of every row the request sees, sorted."""
    return sorted(cur.execute(f"SELECT user_id, id FROM {table}").fetchall())


def expected(user):
    return sorted((user, i) for i in rows_of(user))


def shape_router(conn, table, me):
    other = next(u for u in USERS if u != me)
    with request(conn, me) as cur:
        assert sorted(r[0] for r in cur.execute(f"SELECT id FROM {table} WHERE user_id = %s", (me,))) == rows_of(me)
        assert cur.execute(f"SELECT id FROM {table} WHERE user_id = %s", (other,)).fetchall() == []
        assert cur.execute(f"SELECT id FROM {table} WHERE user_id = %s AND id = %s",
                           (other, rows_of(other)[0])).fetchall() == []


def shape_multi_shard(conn, table, me):
    with request(conn, me) as cur:
        assert mine(cur, table) == expected(me)


def shape_aggregate(conn, table, me):
    with request(conn, me) as cur:
        assert cur.execute(f"SELECT count(*), count(DISTINCT user_id), min(user_id), max(user_id), sum(id)"
                           f" FROM {table}").fetchone() == (len(rows_of(me)), 1, me, me, sum(rows_of(me)))
        assert cur.execute(f"SELECT user_id, count(*) FROM {table} GROUP BY user_id").fetchall() \
            == [(me, len(rows_of(me)))]


def shape_postgrest_json_agg(conn, table, me):
    with request(conn, me) as cur:
        total, page_total, body, *_ = cur.execute(postgrest_select(table)).fetchone()
        assert total is None and page_total == len(rows_of(me))
        body = body if isinstance(body, list) else json.loads(body)
        # By position: on a multi-shard query Citus names the fields f1, f2, f3
        # (test_postgrest_field_names_on_citus below).
        got = sorted(tuple(r.values()) for r in body)
        assert got == sorted((i, me, f"note {i} of {me}") for i in rows_of(me))


def shape_insert_own(conn, table, me):
    with request(conn, me) as cur:
        assert cur.execute(f"INSERT INTO {table} (id, user_id, body) VALUES (99999, %s, 'new') RETURNING user_id",
                           (me,)).fetchall() == [(me,)]
        assert mine(cur, table) == sorted(expected(me) + [(me, 99999)])


def shape_insert_other(conn, table, me):
    other = next(u for u in USERS if u != me)
    with request(conn, me) as cur:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with conn.transaction():
                cur.execute(f"INSERT INTO {table} (id, user_id, body) VALUES (99998, %s, 'forged')", (other,))
        assert mine(cur, table) == expected(me)
    with conn.transaction(force_rollback=True):
        assert one(conn, f"SELECT count(*) FROM {table} WHERE id = 99998") == 0


def shape_update(conn, table, me):
    other = next(u for u in USERS if u != me)
    with request(conn, me) as cur:
        changed = sorted(cur.execute(f"UPDATE {table} SET body = body || '!' RETURNING user_id, id").fetchall())
        assert changed == expected(me)
        assert cur.execute(f"UPDATE {table} SET body = 'x' WHERE user_id = %s RETURNING id", (other,)).fetchall() == []
        assert cur.execute(f"SELECT count(*) FROM {table} WHERE body LIKE '%%!'").fetchone()[0] == len(rows_of(me))


def shape_delete(conn, table, me):
    other = next(u for u in USERS if u != me)
    with request(conn, me) as cur:
        assert cur.execute(f"DELETE FROM {table} WHERE user_id = %s RETURNING id", (other,)).fetchall() == []
        assert sorted(cur.execute(f"DELETE FROM {table} RETURNING user_id, id").fetchall()) == expected(me)
        assert mine(cur, table) == []
    with conn.transaction(force_rollback=True):  # rolled back: everyone's rows are there
        assert one(conn, f"SELECT count(*) FROM {table}") == sum(len(rows_of(u)) for u in USERS)


def shape_savepoint(conn, table, me):
    other = next(u for u in USERS if u != me)
    with request(conn, me) as cur:
        assert mine(cur, table) == expected(me)
        cur.execute("SAVEPOINT s")
        cur.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": other, "role": "authenticated"}),))
        cur.execute('select "insforge"."pre_request"()')
        assert mine(cur, table) == expected(other)
        cur.execute("ROLLBACK TO SAVEPOINT s")
        # The coordinator's claims and the workers' are me's again.
        assert mine(cur, table) == expected(me)
        assert one(conn, f"SELECT count(*) FROM {table}") == len(rows_of(me))


def shape_users_in_turn(conn, table, me):
    order = [me] + [u for u in USERS if u != me][:3] + [me, USERS[0]]
    for u in order:
        with request(conn, u) as cur:
            assert mine(cur, table) == expected(u), u
            assert cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == len(rows_of(u))


SHAPES = {name[len("shape_"):]: fn for name, fn in globals().items() if name.startswith("shape_")}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("function", list(POLICY_FUNCTIONS))
def test_shape(citus, tables, function, shape):
    with citus.connect() as conn:
        for me in ME:
            SHAPES[shape](conn, tables[function], me)


def test_the_users_live_on_both_workers(citus, tables):
    with citus.connect() as c:
        ports = {one(c, "SELECT nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)"
                        " WHERE shardid = get_shard_id_for_distribution_column(%s::regclass, %s::text)", tables["native"], u)
                 for u in ME}
    assert ports == {w.port for w in citus.workers}


def test_adopted_helper_is_native_on_every_node(citus, tables):
    for node in citus.nodes:
        with node.connect(citus.dbname) as c:
            assert one(c, "SELECT insforge.native_requesting_user_id_installed()") is True, node.port


def test_without_the_pre_request_the_workers_see_no_claims(citus, tables):
    """What the pre-request fixes: set_config() never reaches the workers, so every policy on a
    distributed table sees no user (it fails closed), while the coordinator's own table works."""
    with citus.connect() as conn:
        for table in tables.values():
            with request(conn, "user_03", pre_request=False) as cur:
                assert mine(cur, table) == []
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with conn.transaction():
                        cur.execute(f"INSERT INTO {table} (id, user_id) VALUES (99997, 'user_03')")
        with request(conn, "user_03", pre_request=False) as cur:
            assert mine(cur, "notes_local") == expected("user_03")


def test_read_only_requests_as_postgrest_sends_gets(citus, tables):
    """PostgREST runs a GET in BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY: SET LOCAL is
    allowed there, and Citus sends it to the workers all the same."""
    with citus.connect() as conn:
        conn.read_only = True
        for user in ME:
            with request(conn, user) as cur:
                assert one(conn, "SHOW transaction_read_only") == "on"
                assert mine(cur, tables["native"]) == expected(user)


def test_pre_request_outside_a_transaction_block_does_nothing(citus, tables):
    with citus.connect() as conn:
        conn.execute('select "insforge"."pre_request"()')
        assert one(conn, "select current_setting('citus.propagate_set_commands')") == "none"


def test_nologin_client_roles_break_every_distributed_query(citus, tables):
    """InsForge creates anon and authenticated NOLOGIN; Citus connects to the workers as the
    current role, so each distributed query then fails (08006, the worker's "not permitted to
    log in" relayed by Citus), while the coordinator's own
    table still answers. (The hardening gives them LOGIN, fenced: test_hardening.py.)"""
    with citus.connect() as admin:
        admin.execute("ALTER ROLE authenticated NOLOGIN")
        try:
            with citus.connect() as conn:  # a new backend: no cached worker connections
                with request(conn, "user_03") as cur:
                    assert mine(cur, "notes_local") == expected("user_03")
                with pytest.raises(psycopg.errors.ConnectionFailure, match="not permitted to log in"):
                    with request(conn, "user_03") as cur:
                        mine(cur, tables["native"])
        finally:
            admin.execute("ALTER ROLE authenticated LOGIN")


# -- malformed claims: what one node does, and never half a propagation --------------------------------------
MALFORMED = [
    "{",                                  # not JSON: 22P02
    '{"sub": "user_03"',                  # truncated: 22P02
    "not json at all",                    # 22P02
    '{"sub": "\\u0000"}',                 # valid JSON jsonb cannot hold: 22P05
    '"user_03"',                          # a JSON string, not an object: no sub
    "[1, 2]",                             # an array: no sub
    '{"sub": 3}',                         # a number as sub: its text
    '{"sub": ""}',                        # empty sub: NULL
    '{"role": "authenticated"}',          # no sub
    "",                                   # empty: no claims
]


def outcome(conn, table, claims):
    """What a request with these claims gets from table: ('rows', [...]) or ('error', SQLSTATE)."""
    try:
        with request(conn, claims=claims) as cur:
            return ("rows", mine(cur, table))
    except psycopg.Error as e:
        return ("error", e.sqlstate)


@pytest.mark.parametrize("claims", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_claims_behave_as_on_one_node(citus, tables, claims):
    with citus.connect() as conn:
        local = outcome(conn, "notes_local", claims)
        for table in tables.values():
            assert outcome(conn, table, claims) == local, (table, claims)
        # The connection serves the next request correctly.
        with request(conn, "user_03") as cur:
            assert mine(cur, tables["native"]) == expected("user_03")


def test_malformed_claims_in_a_savepoint_leave_nothing_behind(citus, tables):
    """The pre-request itself accepts any text (as set_config does); the policy raises as on one
    node; rolling back to the savepoint gives every worker the earlier claims back."""
    with citus.connect() as conn:
        with request(conn, "user_10") as cur:
            cur.execute("SAVEPOINT s")
            cur.execute("select set_config('request.jwt.claims', '{\"sub\": ', true)")
            cur.execute('select "insforge"."pre_request"()')
            with pytest.raises(psycopg.errors.InvalidTextRepresentation):
                cur.execute(f"SELECT count(*) FROM {tables['native']}")
            cur.execute("ROLLBACK TO SAVEPOINT s")
            assert mine(cur, tables["native"]) == expected("user_10")
            assert mine(cur, tables["adopted"]) == expected("user_10")


def test_claims_reach_the_workers_byte_for_byte(citus, tables):
    """Quotes, backslashes, non-ASCII and nesting survive the trip (the policy compares the
    whole claim set the worker sees with the coordinator's)."""
    claims = {"sub": SPECIAL_USER, "role": "authenticated", "name": "Zoë \"Z\" O'Brien \\ \u2603",
              "org": {"ids": [1, 2], "path": "a\\b'c"}}
    text = json.dumps(claims, ensure_ascii=False)
    with citus.operator() as op:
        op.execute("CREATE TABLE echo (k int PRIMARY KEY, seen text)")
        op.execute("ALTER TABLE echo ENABLE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY everything ON echo FOR SELECT TO authenticated"
                   " USING (seen = current_setting('request.jwt.claims', true))")
        op.execute("SELECT create_distributed_table('echo', 'k')")
        op.execute("INSERT INTO echo SELECT g, %s FROM generate_series(1, 64) g", (text,))
    with citus.connect() as conn:
        with request(conn, claims=text) as cur:
            assert cur.execute("SELECT count(*) FROM echo").fetchone()[0] == 64
            assert mine(cur, tables["native"]) == expected(SPECIAL_USER)
        with request(conn, claims=text.replace("Zo", "Zo ")) as cur:
            assert cur.execute("SELECT count(*) FROM echo").fetchone()[0] == 0


def test_postgrest_field_names_on_citus(citus, tables):
    """A limit of Citus, not of identity (citusdata/citus#1745, PostgREST/postgrest#1784): in
    PostgREST's json_agg shape a multi-shard query names every field f1, f2, ...; a router
    query (a filter on the distribution column) keeps the column names. The rows are right in
    both (test_shape[*-postgrest_json_agg])."""
    table = tables["native"]
    with citus.connect() as conn:
        with request(conn, "user_03") as cur:
            body = cur.execute(postgrest_select(table)).fetchone()[2]
            assert set(body[0]) == {"f1", "f2", "f3"}
            routed = postgrest_select(table).replace(f'FROM "public"."{table}"  )',
                                                     f'FROM "public"."{table}" WHERE user_id = \'user_03\' )')
            body = cur.execute(routed).fetchone()[2]
            assert set(body[0]) == {"id", "user_id", "body"} and len(body) == len(rows_of("user_03"))
