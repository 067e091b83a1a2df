"""insforge.act_as() and insforge.explain_access() on every policy shape the guides write.

Every project object is created by project_admin (as InsForge runs a project's SQL), and every
explanation is asked for by project_admin. Each explanation is checked twice: against the
policies' intent (what the verdict says and why), and against PostgreSQL itself: the same
request run the way PostgREST runs it (role and transaction-local claims on the
authenticator's connection), whose rows, row counts and errors the verdict must predict.
Bad input raises the extension's SQLSTATEs and changes nothing."""
import json
import time

import jwt as pyjwt
import psycopg
import pytest
from psycopg.rows import dict_row

from pgcluster import FIXTURES, as_operator

SECRET = "explain-test-jwt-secret-0123456789abcdef-0123456789abcdef"
CLERK = "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ"
CLERK_OTHER = "user_2yQoH9LyWRsU6nAcO4bIdMeF0gK"
KINDE = "kp_0123456789abcdef0123456789abcdef"
BETTER_AUTH = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"
AUTH0 = "auth0|64b1f0c2e4a7d9b3c5e6f708"

# The guides' tables and policies, created by project_admin.
SCHEMA = (FIXTURES / "notes.sql").read_text() + """
-- Organisation membership through a table, whose own policy shows each user their memberships.
CREATE TABLE public.org_members (org_id text NOT NULL, user_id text NOT NULL, role text NOT NULL DEFAULT 'member',
                                 PRIMARY KEY (org_id, user_id));
ALTER TABLE public.org_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Members see own memberships" ON public.org_members FOR SELECT TO authenticated
    USING (user_id = requesting_user_id());
CREATE TABLE public.projects (id bigserial PRIMARY KEY, org_id text NOT NULL, name text NOT NULL);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Org members read projects" ON public.projects FOR SELECT TO authenticated
    USING (org_id IN (SELECT m.org_id FROM public.org_members m WHERE m.user_id = requesting_user_id()));
CREATE POLICY "Org admins rename projects" ON public.projects FOR UPDATE TO authenticated
    USING (EXISTS (SELECT 1 FROM public.org_members m
                    WHERE m.org_id = projects.org_id AND m.user_id = requesting_user_id() AND m.role = 'admin'));

-- Better Auth: its tables in schema better_auth (not served, not granted to clients); the
-- app's rows owned by the Better Auth user id the bridge puts in sub.
CREATE SCHEMA better_auth;
CREATE TABLE better_auth."user" (id text PRIMARY KEY, name text, email text);
CREATE TABLE better_auth.member (id text PRIMARY KEY, "organizationId" text NOT NULL, "userId" text NOT NULL, role text);
REVOKE ALL ON ALL TABLES IN SCHEMA better_auth FROM PUBLIC, anon, authenticated;
CREATE TABLE public.todos (id bigserial PRIMARY KEY, user_id text NOT NULL DEFAULT requesting_user_id(),
                           org_id text, title text NOT NULL);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Own todos" ON public.todos FOR ALL TO authenticated
    USING (user_id = requesting_user_id()) WITH CHECK (user_id = requesting_user_id());

-- Nested and namespaced claims (direct connections keep the whole token), and a restrictive policy.
CREATE TABLE public.docs (id bigserial PRIMARY KEY, tenant text NOT NULL, title text NOT NULL,
                          archived boolean NOT NULL DEFAULT false);
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Tenant reads docs" ON public.docs FOR SELECT TO authenticated
    USING (tenant = insforge.claim_path('app_metadata', 'tenant'));
CREATE POLICY "Auth0 admins read docs" ON public.docs FOR SELECT TO authenticated
    USING ((auth.jwt() ->> 'https://insforge.dev/role') = 'admin');
CREATE POLICY "Editors update docs" ON public.docs FOR UPDATE TO authenticated
    USING (insforge.has_claim('permissions', 'write:docs'));
CREATE POLICY "Archived docs are hidden" ON public.docs AS RESTRICTIVE FOR SELECT TO authenticated
    USING (NOT archived);

-- A policy written for InsForge's own (uuid) users.
CREATE TABLE public.posts (id bigserial PRIMARY KEY, user_id uuid, body text);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated USING (user_id = auth.uid());
"""

DATA = f"""
INSERT INTO public.notes (user_id, body) VALUES ('{CLERK}', 'n1'), ('{CLERK}', 'n2'), ('{KINDE}', 'n3');
INSERT INTO public.org_members VALUES ('acme', '{CLERK}', 'admin'), ('acme', '{KINDE}', 'member'), ('globex', '{CLERK_OTHER}', 'admin');
INSERT INTO public.projects (org_id, name) VALUES ('acme', 'rocket'), ('acme', 'anvil'), ('globex', 'dome');
INSERT INTO better_auth."user" VALUES ('{BETTER_AUTH}', 'Ada', 'ada@example.com');
INSERT INTO better_auth.member VALUES ('m1', 'acme', '{BETTER_AUTH}', 'owner');
INSERT INTO public.todos (user_id, org_id, title) VALUES ('{BETTER_AUTH}', 'acme', 't1'), ('{CLERK}', 'acme', 't2');
INSERT INTO public.docs (tenant, title, archived) VALUES ('t1', 'd1', false), ('t1', 'd2', true), ('t2', 'd3', false);
INSERT INTO public.posts (user_id, body) VALUES (gen_random_uuid(), 'p1');
"""


def claims(sub, **extra):
    c = {"sub": sub, "role": "authenticated"}
    c.update(extra)
    return c


def token(payload, key=SECRET, **extra):
    body = {"exp": int(time.time()) + 600, **payload, **extra}
    return pyjwt.encode(body, key, algorithm="HS256")


@pytest.fixture
def guide(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute(SCHEMA)
            c.execute(DATA)
            c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
    return db


def explain(conn, table, claims_=None, command="SELECT", row_key=None, new_row=None, tok=None, operator=True):
    """explain_access() as project_admin (the way InsForge runs a project's SQL); rows as dicts."""
    args = (table, json.dumps(claims_) if claims_ is not None else None, command,
            json.dumps(row_key) if row_key is not None else None,
            json.dumps(new_row) if new_row is not None else None, tok)
    sql = "SELECT * FROM insforge.explain_access(%s, %s::jsonb, %s, %s::jsonb, %s::jsonb, %s)"
    cur = conn.cursor(row_factory=dict_row)
    if operator:
        with as_operator(conn):
            return cur.execute(sql, args).fetchall()
    return cur.execute(sql, args).fetchall()


def verdict(rows):
    v = [r for r in rows if r["kind"] == "verdict"]
    assert len(v) == 1 and rows[-1]["kind"] == "verdict", rows
    return v[0]


def by(rows, kind, name=None):
    return [r for r in rows if r["kind"] == kind and (name is None or r["name"] == name)]


def fingerprint(conn):
    """What explain_access() must leave as it was: every row of the guide's tables, the catalog's
    size, the session's role and claims, the sequence."""
    tables = ["notes", "org_members", "projects", "todos", "docs", "posts"]
    data = {t: conn.execute(f"SELECT coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM public.{t} x").fetchone()[0]
            for t in tables}
    data["catalog"] = conn.execute("SELECT (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_proc),"
                                   " (SELECT count(*) FROM pg_policy), (SELECT count(*) FROM pg_attribute)").fetchone()
    # (coalesce: loading the library defines request.jwt.claims as '', README "How the claims are read")
    data["session"] = conn.execute("SELECT current_user, coalesce(current_setting('request.jwt.claims', true), ''),"
                                   " current_setting('transaction_read_only')").fetchone()
    data["sequences"] = conn.execute("SELECT last_value FROM public.notes_id_seq").fetchone()
    return data


# -- what PostgreSQL itself does for the same request -------------------------------------------------------------

def real(cluster, db, claims_, command, table, row_key=None, new_row=None):
    """Runs the request the way PostgREST runs it (role and transaction-local claims, on the
    authenticator's connection; always rolled back). Returns ('rows', n) or ('error', sqlstate)."""
    role = (claims_ or {}).get("role", "anon")
    full = dict(claims_ or {})
    full["role"] = role
    with cluster.connect(db, user="authenticator") as conn:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                             (role, json.dumps(full)))
                where = " AND ".join(f"{k} = %s" for k in (row_key or {})) or "id IS NOT NULL"
                params = list((row_key or {}).values())
                if command == "SELECT":
                    n = conn.execute(f"SELECT count(*) FROM public.{table} WHERE {where}", params).fetchone()[0]
                elif command == "DELETE":
                    n = conn.execute(f"DELETE FROM public.{table} WHERE {where}", params).rowcount
                elif command == "UPDATE":
                    cols = list((new_row or {"id": None}).keys()) if new_row else ["id"]
                    sets = ", ".join(cols)
                    if new_row:
                        n = conn.execute(f"UPDATE public.{table} SET ({sets}) = (SELECT {sets} FROM"
                                         f" jsonb_populate_record(NULL::public.{table}, %s)) WHERE {where}",
                                         [json.dumps(new_row)] + params).rowcount
                    else:
                        n = conn.execute(f"UPDATE public.{table} SET id = id WHERE {where}", params).rowcount
                else:
                    cols = ", ".join(new_row)
                    n = conn.execute(f"INSERT INTO public.{table} ({cols}) SELECT {cols} FROM"
                                     f" jsonb_populate_record(NULL::public.{table}, %s)", [json.dumps(new_row)]).rowcount
            return ("rows", n)
        except psycopg.Error as e:
            return ("error", e.sqlstate)


def expected(rows, command, keyed):
    """What the explanation predicts for real(): the rows reached, or the error."""
    v = verdict(rows)
    if v["result"] == "error":
        return None  # checked on its own
    if command == "INSERT":
        return ("rows", 1) if v["result"] == "allowed" else ("error", "42501")
    if v["result"] == "denied" and "42501" in v["detail"]:
        return ("error", "42501")
    if keyed:
        return ("rows", 1 if v["result"] == "allowed" else 0)
    return ("rows", v["rows"])


CASES = [
    # owner policies (the notes every guide builds), per command, for its owner and another user
    ("notes", claims(CLERK), "SELECT", None, None),
    ("notes", claims(KINDE), "SELECT", None, None),
    ("notes", claims(CLERK), "SELECT", {"id": 3}, None),
    ("notes", claims(KINDE), "SELECT", {"id": 3}, None),
    ("notes", claims(CLERK), "INSERT", None, {"body": "mine"}),
    ("notes", claims(CLERK), "INSERT", None, {"body": "forged", "user_id": KINDE}),
    ("notes", claims(CLERK), "UPDATE", {"id": 1}, {"body": "edited"}),
    ("notes", claims(CLERK), "UPDATE", {"id": 1}, {"user_id": KINDE}),
    ("notes", claims(CLERK), "UPDATE", {"id": 3}, {"body": "theirs"}),
    ("notes", claims(CLERK), "UPDATE", None, {"body": "all"}),
    ("notes", claims(CLERK), "DELETE", None, None),
    ("notes", claims(KINDE), "DELETE", {"id": 1}, None),
    # anon without a token; the service key's role (BYPASSRLS)
    ("notes", None, "SELECT", None, None),
    ("notes", None, "INSERT", None, {"body": "anonymous"}),
    ("notes", {"role": "project_admin"}, "SELECT", None, None),
    # organisation membership through a table with its own RLS
    ("projects", claims(CLERK), "SELECT", None, None),
    ("projects", claims(KINDE), "SELECT", None, None),
    ("projects", claims(CLERK_OTHER), "SELECT", {"id": 1}, None),
    ("projects", claims(CLERK), "UPDATE", {"id": 1}, {"name": "renamed"}),
    ("projects", claims(KINDE), "UPDATE", {"id": 1}, {"name": "renamed"}),
    # Better Auth
    ("todos", claims(BETTER_AUTH), "SELECT", None, None),
    ("todos", claims(BETTER_AUTH), "INSERT", None, {"title": "new"}),
    ("todos", claims(BETTER_AUTH), "UPDATE", {"id": 2}, {"title": "not mine"}),
    # nested and namespaced claims, a restrictive policy
    ("docs", claims(AUTH0, app_metadata={"tenant": "t1"}), "SELECT", None, None),
    ("docs", claims(AUTH0, app_metadata={"tenant": "t1"}), "SELECT", {"id": 2}, None),
    ("docs", claims(AUTH0, **{"https://insforge.dev/role": "admin"}), "SELECT", None, None),
    ("docs", claims(AUTH0), "SELECT", None, None),
    ("docs", claims(AUTH0, permissions=["write:docs"], app_metadata={"tenant": "t1"}), "UPDATE", None, {"title": "x"}),
    ("docs", claims(AUTH0, permissions=["read:docs"]), "UPDATE", None, {"title": "x"}),
]


@pytest.mark.parametrize("table,claims_,command,row_key,new_row", CASES,
                         ids=[f"{t}-{cmd}-{i}" for i, (t, _, cmd, _, _) in enumerate(CASES)])
def test_the_verdict_is_what_postgres_does(cluster, guide, table, claims_, command, row_key, new_row):
    with cluster.connect(guide) as c:
        before = fingerprint(c)
        rows = explain(c, table, claims_, command, row_key, new_row)
        assert fingerprint(c) == before
    want = expected(rows, command, row_key is not None)
    assert want is not None, verdict(rows)
    assert real(cluster, guide, claims_, command, table, row_key, new_row) == want, rows


def test_owner_policy_explained_row_by_row(cluster, guide):
    with cluster.connect(guide) as c:
        rows = explain(c, "notes", claims(KINDE), row_key={"id": 1})
        v = verdict(rows)
        assert v["result"] == "denied"
        assert v["detail"] == (f"no permissive SELECT policy passed: \"Users read own notes\" compares user_id "
                               f"'{CLERK}' with requesting_user_id() = '{KINDE}'")
        (check,) = by(rows, "USING", "Users read own notes")
        assert (check["applies"], check["result"], check["claims_read"]) == (True, "fail", {"sub": KINDE})
        assert "permissive, FOR SELECT TO authenticated" in check["detail"]
        assert rows[0]["kind"] == "request" and rows[0]["claims_read"] == {"sub": KINDE, "role": "authenticated"}
        (table,) = by(rows, "table")
        assert table["detail"].startswith("RLS enabled, not forced; owner project_admin; policies apply to authenticated")
        # policies for other commands and roles are listed as not applying
        others = {r["name"]: r["detail"] for r in by(rows, "policy")}
        assert set(others) == {"Users create own notes", "Users update own notes", "Users delete own notes",
                               "project_admin_policy"}
        assert all(r["applies"] is False for r in by(rows, "policy"))
        assert others["project_admin_policy"].endswith("not for authenticated (it is not project_admin and has not its privileges)")
        # without a row: how many rows each policy admits, and which values the rows hold
        rows = explain(c, "notes", claims("user_nobody"))
        assert by(rows, "table")[0]["rows"] == 3
        assert by(rows, "USING", "Users read own notes")[0]["rows"] == 0
        v = verdict(rows)
        assert (v["result"], v["rows"]) == ("denied", 0)
        assert v["detail"].startswith("authenticated sees 0 of 3 rows: no permissive SELECT policy admits a row:")
        assert f"(no row has user_id = 'user_nobody'; the most common values: '{CLERK}' (2), '{KINDE}' (1))" in v["detail"]
        rows = explain(c, "notes", claims(CLERK))
        assert (verdict(rows)["result"], verdict(rows)["rows"]) == ("allowed", 2)
        assert verdict(rows)["detail"] == "authenticated sees 2 of 3 rows: \"Users read own notes\" admits 2"


def test_insert_uses_the_default_and_explains_a_forged_owner(cluster, guide):
    with cluster.connect(guide) as c:
        rows = explain(c, "notes", claims(CLERK), "INSERT", new_row={"body": "hi"})
        (default,) = by(rows, "default", "user_id")
        assert default["detail"] == f"not in new_row: its default public.requesting_user_id() gives '{CLERK}'"
        assert by(rows, "WITH CHECK", "Users create own notes")[0]["result"] == "pass"
        v = verdict(rows)
        assert v["result"] == "allowed" and v["detail"].endswith("; with RETURNING too")
        rows = explain(c, "notes", claims(CLERK), "INSERT", new_row={"body": "hi", "user_id": KINDE})
        assert by(rows, "default") == []
        v = verdict(rows)
        assert v["result"] == "denied"
        assert v["detail"] == ("the INSERT fails (42501, new row violates row-level security policy for table \"notes\"): "
                               f"no permissive INSERT policy passed: \"Users create own notes\" compares user_id '{KINDE}' "
                               f"with requesting_user_id() = '{CLERK}'")


def test_update_checks_the_new_row_and_the_select_policies(cluster, guide):
    with cluster.connect(guide) as c:
        rows = explain(c, "notes", claims(CLERK), "UPDATE", {"id": 1}, {"user_id": KINDE})
        kinds = [(r["kind"], r["name"], r["result"]) for r in rows if r["applies"]]
        assert kinds == [("USING", "Users read own notes", "pass"), ("WITH CHECK", "Users read own notes", "fail"),
                         ("USING", "Users update own notes", "pass"), ("WITH CHECK", "Users update own notes", "fail")]
        assert [r["name"] for r in by(rows, "privilege")] == ["UPDATE", "SELECT"]
        v = verdict(rows)
        assert v["result"] == "denied" and v["detail"].startswith(
            "the UPDATE reaches the row but fails (42501, new row violates row-level security policy for table \"notes\")")
        rows = explain(c, "notes", claims(KINDE), "UPDATE", {"id": 1}, {"body": "x"})
        assert verdict(rows)["detail"].startswith("the UPDATE changes nothing, without an error: no permissive UPDATE policy passed:")


def test_organisation_membership_through_a_table(cluster, guide):
    with cluster.connect(guide) as c:
        # The membership table's own RLS runs as the client: Kinde's user sees its acme membership.
        rows = explain(c, "projects", claims(KINDE))
        check = by(rows, "USING", "Org members read projects")[0]
        assert (check["rows"], check["claims_read"]) == (2, {"sub": KINDE})
        assert verdict(rows)["rows"] == 2
        # Renaming needs an admin membership: the member is refused with the reason.
        rows = explain(c, "projects", claims(KINDE), "UPDATE", {"id": 1}, {"name": "x"})
        v = verdict(rows)
        assert v["result"] == "denied"
        assert v["detail"].startswith("the UPDATE changes nothing, without an error: no permissive UPDATE policy passed:"
                                      " \"Org admins rename projects\" is false for org_id = 'acme'")
        assert f"(claims: sub = '{KINDE}')" in v["detail"]
        # Without the membership row visible to the client (its policy dropped), nobody sees a project:
        # the explanation says so even though project_admin sees every membership.
        with as_operator(c):
            c.execute("DROP POLICY \"Members see own memberships\" ON public.org_members")
        rows = explain(c, "projects", claims(CLERK))
        assert verdict(rows)["rows"] == 0
        assert by(rows, "USING", "Org members read projects")[0]["rows"] == 0


def test_better_auth_tables_read_by_a_policy_need_a_grant(cluster, guide):
    with cluster.connect(guide) as c:
        with as_operator(c):
            c.execute("""CREATE POLICY "Org todos" ON public.todos FOR SELECT TO authenticated
                USING (EXISTS (SELECT 1 FROM better_auth.member m
                                WHERE m."organizationId" = todos.org_id AND m."userId" = requesting_user_id()))""")
        rows = explain(c, "todos", claims(BETTER_AUTH))
        assert by(rows, "USING", "Own todos")[0]["result"] == "pass"
        (org,) = by(rows, "USING", "Org todos")
        assert org["result"] == "error" and "42501: permission denied for schema better_auth" in org["detail"]
        v = verdict(rows)
        assert v["result"] == "error"
        # PostgreSQL's own words (it reads the stored policy, by OID); the policy's text, read as the
        # client, stops at the schema the client may not use: 42501 both.
        assert v["detail"].startswith("the SELECT fails with 42501: permission denied for table member")
        assert real(cluster, guide, claims(BETTER_AUTH), "SELECT", "todos") == ("error", "42501")
        with as_operator(c):
            c.execute("GRANT USAGE ON SCHEMA better_auth TO authenticated")
            c.execute("GRANT SELECT ON better_auth.member TO authenticated")
        rows = explain(c, "todos", claims(BETTER_AUTH))
        assert [r["rows"] for r in by(rows, "USING")] == [2, 1]  # "Org todos" (acme: both), "Own todos"
        assert verdict(rows)["rows"] == 2
        assert real(cluster, guide, claims(BETTER_AUTH), "SELECT", "todos") == ("rows", 2)


def test_nested_namespaced_claims_and_a_restrictive_policy(cluster, guide):
    with cluster.connect(guide) as c:
        rows = explain(c, "docs", claims(AUTH0, app_metadata={"tenant": "t1"}), row_key={"id": 2})
        tenant = by(rows, "USING", "Tenant reads docs")[0]
        assert tenant["result"] == "pass" and tenant["claims_read"] == {"app_metadata": {"tenant": "t1"}}
        namespaced = by(rows, "USING", "Auth0 admins read docs")[0]
        assert namespaced["result"] == "fail" and namespaced["claims_read"] == {"https://insforge.dev/role": None}
        assert "claims read: https://insforge.dev/role = NULL (absent)" in namespaced["detail"]
        assert by(rows, "USING", "Archived docs are hidden")[0]["result"] == "fail"
        v = verdict(rows)
        assert v["detail"] == "a restrictive SELECT policy failed: \"Archived docs are hidden\" is false for archived = 't'"
        rows = explain(c, "docs", claims(AUTH0, **{"https://insforge.dev/role": "admin"}))
        assert verdict(rows)["rows"] == 2  # three docs, one archived
        rows = explain(c, "docs", claims(AUTH0, permissions=["read:docs"]), "UPDATE")
        assert by(rows, "USING", "Editors update docs")[0]["claims_read"] == {"permissions": ["read:docs"]}
        assert verdict(rows)["detail"].startswith("the UPDATE changes nothing, without an error: no permissive UPDATE policy")


def test_auth_uid_with_a_provider_id_is_explained_as_the_error_it_is(cluster, guide):
    with cluster.connect(guide) as c:
        rows = explain(c, "posts", claims(CLERK))
        (check,) = by(rows, "USING", "Users read own posts")
        assert check["result"] == "error"
        assert f'raises 22P02: invalid input syntax for type uuid: "{CLERK}"' in check["detail"]
        assert verdict(rows)["result"] == "error"
    assert real(cluster, guide, claims(CLERK), "SELECT", "posts") == ("error", "22P02")


def test_force_rls_and_the_table_owner(cluster, guide):
    with cluster.connect(guide) as c:
        c.execute("DROP ROLE IF EXISTS explain_app_owner; CREATE ROLE explain_app_owner NOLOGIN")
        c.execute(f'ALTER DATABASE "{guide}" SET insforge_integrations.jwt_roles = \'anon,authenticated,explain_app_owner\'')
        c.execute("GRANT explain_app_owner TO authenticator")
        with as_operator(c):
            c.execute("CREATE TABLE public.ledger (id int PRIMARY KEY, who text); INSERT INTO public.ledger VALUES (1, 'a')")
            c.execute("ALTER TABLE public.ledger ENABLE ROW LEVEL SECURITY")
            c.execute("CREATE POLICY mine ON public.ledger USING (who = requesting_user_id())")
        c.execute("ALTER TABLE public.ledger OWNER TO explain_app_owner")
        c.execute("GRANT SELECT ON public.ledger TO project_admin")
    try:
        with cluster.connect(guide) as c:
            owner = {"sub": "b", "role": "explain_app_owner"}
            rows = explain(c, "ledger", owner)
            assert by(rows, "table")[0]["detail"].endswith(
                "no policy applies: explain_app_owner owns public.ledger (has its owner's privileges) and RLS is not forced")
            assert (verdict(rows)["result"], verdict(rows)["rows"]) == ("allowed", 1)
            assert real(cluster, guide, owner, "SELECT", "ledger") == ("rows", 1)
            c.execute("ALTER TABLE public.ledger FORCE ROW LEVEL SECURITY")
            rows = explain(c, "ledger", owner)
            assert "RLS enabled and forced" in by(rows, "table")[0]["detail"]
            assert "it has the owner's privileges, but RLS is forced" in by(rows, "table")[0]["detail"]
            assert (verdict(rows)["result"], verdict(rows)["rows"]) == ("denied", 0)
            assert real(cluster, guide, owner, "SELECT", "ledger") == ("rows", 0)
            # project_admin: BYPASSRLS beats FORCE
            rows = explain(c, "ledger", {"role": "project_admin"})
            assert verdict(rows)["detail"] == ("project_admin sees every row (1): no policy applies, as project_admin has "
                                               "BYPASSRLS")
    finally:
        with cluster.connect(guide) as c:
            c.execute("DROP TABLE public.ledger")
            c.execute(f'ALTER DATABASE "{guide}" RESET insforge_integrations.jwt_roles')
            c.execute("DROP ROLE explain_app_owner")


def test_a_role_without_the_table_privilege(cluster, guide):
    with cluster.connect(guide) as c:
        with as_operator(c):
            c.execute("REVOKE ALL ON public.notes FROM anon")
        rows = explain(c, "notes")
        (priv,) = by(rows, "privilege", "SELECT")
        assert (priv["result"], priv["detail"]) == ("fail", "anon lacks SELECT on public.notes")
        v = verdict(rows)
        assert (v["result"], v["detail"]) == ("denied", "anon lacks SELECT on public.notes: the SELECT fails (42501, "
                                                        "permission denied for table notes) before any policy")
        assert real(cluster, guide, None, "SELECT", "notes") == ("error", "42501")
        with as_operator(c):
            c.execute("GRANT SELECT (id, body) ON public.notes TO anon")
        detail = by(explain(c, "notes"), "privilege")[0]["detail"]
        assert detail == "anon holds SELECT on some columns of public.notes only: id, body"


def test_anon_without_a_token(cluster, guide):
    with cluster.connect(guide) as c:
        rows = explain(c, "notes")
        assert rows[0]["name"] == "anon" and rows[0]["claims_read"] == {"role": "anon"}
        assert rows[0]["detail"] == ("no token: an anonymous request, as PostgREST runs one; role anon; "
                                     "requesting_user_id() = NULL")
        assert verdict(rows)["detail"] == ("anon sees 0 of 3 rows: no permissive SELECT policy applies to anon "
                                           "(they are for authenticated, project_admin)")


def test_tokens_and_verified_mode(cluster, guide):
    with cluster.connect(guide) as c:
        tok = token(claims(CLERK))
        rows = explain(c, "notes", tok=tok)
        assert rows[0]["detail"].startswith("a token, verified with the stored key; role authenticated")
        assert verdict(rows)["rows"] == 2
        for bad, message in [(token(claims(CLERK), exp=int(time.time()) - 3600), "JWT expired"),
                             (token(claims(CLERK), key="another-secret-0123456789abcdef-0123456789abcdef"),
                              "JWT signature does not match")]:
            before = fingerprint(c)
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match=message):
                explain(c, "notes", tok=bad)
            assert fingerprint(c) == before
        c.execute(f'ALTER DATABASE "{guide}" SET insforge_integrations.claims_source = verified')
    try:
        with cluster.connect(guide) as c:
            rows = explain(c, "notes", claims(CLERK))
            assert "claims_source is verified, so claims given by hand give no identity" in rows[0]["detail"]
            assert verdict(rows)["rows"] == 0
            rows = explain(c, "notes", tok=tok)
            assert verdict(rows)["rows"] == 2
    finally:
        with cluster.connect(guide) as c:
            c.execute(f'ALTER DATABASE "{guide}" RESET insforge_integrations.claims_source')


BAD_INPUT = [
    (("public.nope",), psycopg.errors.UndefinedTable, "does not exist"),
    (("notes", None, "MERGE"), psycopg.errors.InvalidParameterValue, "unknown command 'MERGE'"),
    (("notes", None, None), psycopg.errors.InvalidParameterValue, "unknown command NULL"),
    (("notes", {"sub": "x", "role": "nobody"}), psycopg.errors.UndefinedObject, 'role "nobody" does not exist'),
    (("notes", {"role": "postgres"}), psycopg.errors.InsufficientPrivilege, "role postgres is a superuser"),
    (("notes", {"role": "authenticator"}), psycopg.errors.InsufficientPrivilege, "it is not a client role"),
    (("notes", {"role": "insforge_integrations_secrets"}), psycopg.errors.InsufficientPrivilege, "the extension.s own role for its secrets"),
    (("notes", ["sub"]), psycopg.errors.InvalidParameterValue, "claims must be a JSON object, not an array"),
    (("notes", {"role": 5}), psycopg.errors.InvalidParameterValue, "role claim must be a string"),
    (("notes", {"sub": "x"}, "SELECT", {"nope": 1}), psycopg.errors.InvalidParameterValue, "has no column nope"),
    (("notes", {"sub": "x"}, "SELECT", {"user_id": CLERK}), psycopg.errors.InvalidParameterValue, "matches more than one row"),
    (("notes", {"sub": "x"}, "SELECT", [1]), psycopg.errors.InvalidParameterValue, "row_key must be a JSON object"),
    (("notes", {"sub": "x"}, "INSERT", {"id": 1}), psycopg.errors.InvalidParameterValue, "INSERT takes new_row"),
    (("notes", {"sub": "x"}, "SELECT", None, {"body": "x"}), psycopg.errors.InvalidParameterValue, "SELECT takes no new_row"),
    (("notes", {"sub": "x"}, "SELECT", None, None, "tok"), psycopg.errors.InvalidParameterValue, "not both"),
    (("notes", None, "SELECT", None, None, "not.a.token"), psycopg.errors.InvalidAuthorizationSpecification, "JWT"),
    (("pg_stat_activity",), psycopg.errors.InvalidParameterValue, "is not a table"),
]


@pytest.mark.parametrize("args,error,message", BAD_INPUT, ids=[str(i) for i in range(len(BAD_INPUT))])
def test_bad_input(cluster, guide, args, error, message):
    with cluster.connect(guide) as c:
        before = fingerprint(c)
        with pytest.raises(error, match=message):
            explain(c, *args)
        assert fingerprint(c) == before


def test_malformed_claims_json_is_22P02(cluster, guide):
    with cluster.connect(guide) as c:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            with as_operator(c):
                c.execute("SELECT * FROM insforge.explain_access('notes', '{not json')")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            with as_operator(c):
                c.execute("SELECT insforge.act_as('{not json')")


def test_explain_refuses_a_read_only_transaction(cluster, guide):
    with cluster.connect(guide) as c:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="cannot run in a read-only transaction"):
            with c.transaction():
                c.execute("SET TRANSACTION READ ONLY")
                c.execute("SELECT * FROM insforge.explain_access('notes', '{\"sub\": \"x\", \"role\": \"authenticated\"}')")


def test_clients_may_not_explain_or_act(cluster, guide):
    with cluster.connect(guide, user="authenticator") as c:
        for role in ("anon", "authenticated"):
            for sql in ("SELECT * FROM insforge.explain_access('notes')",
                        "SELECT insforge.act_as('{\"role\": \"anon\"}')"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may be run only by the operator"):
                    with c.transaction():
                        c.execute(f"SET LOCAL ROLE {role}")
                        c.execute(sql)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function _act_as"):
                with c.transaction():
                    c.execute(f"SET LOCAL ROLE {role}")
                    c.execute("SELECT insforge._act_as(NULL, NULL)")


# -- act_as -----------------------------------------------------------------------------------------------------

def test_act_as_runs_the_rest_of_the_transaction_as_the_client(cluster, guide):
    with cluster.connect(guide) as c:
        with pytest.raises(psycopg.errors.NoActiveSqlTransaction, match="must run inside a transaction block"):
            c.execute("SELECT insforge.act_as(%s::jsonb)", (json.dumps(claims(CLERK)),))
        with c.transaction(force_rollback=True):
            c.execute("SET LOCAL ROLE project_admin")
            assert c.execute("SELECT insforge.act_as(%s::jsonb)", (json.dumps(claims(CLERK)),)).fetchone() == (CLERK,)
            row = c.execute("SELECT current_user, current_setting('request.jwt.claims')::jsonb,"
                            " current_setting('request.headers'), requesting_user_id(), count(*) FROM public.notes").fetchone()
            assert row == ("authenticated", {"sub": CLERK, "role": "authenticated"}, "{}", CLERK, 2)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute("INSERT INTO public.notes (user_id, body) VALUES (%s, 'forged')", (KINDE,))
        # nothing outlives the transaction
        assert c.execute("SELECT current_user, current_setting('request.jwt.claims', true),"
                         " current_setting('request.headers', true)").fetchone() == ("postgres", "", "")
        # a savepoint rolled back undoes it too
        with c.transaction(force_rollback=True):
            c.execute("SET LOCAL ROLE project_admin")
            with c.transaction(force_rollback=True):
                c.execute("SELECT insforge.act_as()")
                assert c.execute("SELECT current_user, current_setting('request.jwt.claims')").fetchone() \
                    == ("anon", '{"role":"anon"}')
            assert c.execute("SELECT current_user").fetchone() == ("project_admin",)


def test_act_as_with_a_token_sets_the_bearer_and_is_verified(cluster, guide):
    tok = token(claims(CLERK, email="ada@example.com"))
    with cluster.connect(guide) as c:
        c.execute(f'ALTER DATABASE "{guide}" SET insforge_integrations.claims_source = verified')
    try:
        with cluster.connect(guide) as c:
            seen = []
            c.add_notice_handler(lambda d: seen.append(d.message_primary))
            with c.transaction(force_rollback=True):
                c.execute("SET LOCAL ROLE project_admin")
                assert c.execute("SELECT insforge.act_as(token => %s)", (tok,)).fetchone() == (CLERK,)
                headers = json.loads(c.execute("SELECT current_setting('request.headers')").fetchone()[0])
                assert headers == {"authorization": f"Bearer {tok}"}
                assert c.execute("SELECT insforge.email(), count(*) FROM public.notes").fetchone() == ("ada@example.com", 2)
            assert seen == []
            # claims by hand in verified mode: no identity, and a NOTICE says why
            with c.transaction(force_rollback=True):
                c.execute("SET LOCAL ROLE project_admin")
                assert c.execute("SELECT insforge.act_as(%s::jsonb)", (json.dumps(claims(CLERK)),)).fetchone() == (None,)
                assert c.execute("SELECT requesting_user_id(), count(*) FROM public.notes").fetchone() == (None, 0)
            assert any("claims given by hand give no identity" in m for m in seen)
    finally:
        with cluster.connect(guide) as c:
            c.execute(f'ALTER DATABASE "{guide}" RESET insforge_integrations.claims_source')


def test_act_as_in_one_go_as_the_sql_editor_sends_it(cluster, guide):
    """InsForge's SQL editor sends a script as one simple query (no BEGIN allowed, no set_config
    allowed): the statements share one implicit transaction block, which act_as() accepts."""
    with cluster.connect(guide) as c:
        c.execute("SET ROLE project_admin")  # the editor's session-level SET ROLE
        cur = c.cursor()
        cur.execute(f"SELECT insforge.act_as('{json.dumps(claims(KINDE))}'); SELECT current_user, count(*) FROM public.notes")
        results = [cur.fetchall()]
        while cur.nextset():
            results.append(cur.fetchall())
        assert results == [[(KINDE,)], [("authenticated", 1)]]
        assert c.execute("SELECT current_user, current_setting('request.jwt.claims', true)").fetchone() == ("project_admin", "")
