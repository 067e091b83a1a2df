"""insforge.advise(): for every rule a database that trips it (exact name, level,
and the object the finding points at) and a near miss that must not; a database
that follows the guides yields no ERROR or WARN; project_admin (no superuser) can
run it; the JWT key never appears in its output."""
import json
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from pgcluster import FIXTURES

COLUMNS = ["name", "title", "level", "facing", "categories", "description", "detail", "remediation", "metadata",
           "cache_key"]
# Every rule is a file of sql/advisor/ (build.rs registers them; advise() finds them in the catalog).
RULES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "sql" / "advisor").glob("*.sql")
               if p.stem not in ("common", "advise"))
SECRET = "hs256-Secret-For-Tests-0123456789abcdefXYZ"

# The guide's x402 ledger (shared/INSFORGE.md), built by hand the right way: UNIQUE
# tx_hash, RLS on with a public SELECT policy, writes only through the service key.
X402_LEDGER = """
CREATE TABLE public.x402_payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    payer_address text NOT NULL,
    endpoint text NOT NULL,
    amount text NOT NULL,
    tx_hash text NOT NULL UNIQUE,
    chain text NOT NULL DEFAULT 'xlayer',
    status text NOT NULL DEFAULT 'settled',
    response_summary jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.x402_payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_admin_policy ON public.x402_payments FOR ALL TO project_admin USING (true) WITH CHECK (true);
CREATE POLICY "Anyone can read payments" ON public.x402_payments FOR SELECT USING (true);
REVOKE INSERT, UPDATE, DELETE ON public.x402_payments FROM anon, authenticated;
"""

# A project that follows the guides: native helper (fresh database), text owner
# columns defaulting to the requester, owner policies TO authenticated, and the
# x402 ledger from x402.install_ledger().
GUIDE_PROJECT = (FIXTURES / "notes.sql").read_text() + """
CREATE TABLE public.profiles (
    id bigserial PRIMARY KEY,
    user_id text NOT NULL UNIQUE DEFAULT requesting_user_id(),
    display_name text
);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY project_admin_policy ON public.profiles FOR ALL TO project_admin USING (true) WITH CHECK (true);
CREATE POLICY "Profiles are public" ON public.profiles FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY "Users create own profile" ON public.profiles FOR INSERT TO authenticated
    WITH CHECK (user_id = (SELECT requesting_user_id()));
CREATE POLICY "Users update own profile" ON public.profiles FOR UPDATE TO authenticated
    USING (user_id = requesting_user_id()) WITH CHECK (user_id = requesting_user_id());
CREATE TABLE public.countries (code text PRIMARY KEY, name text);
CREATE FUNCTION public.note_count() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$ SELECT count(*) FROM public.notes $$;
SELECT x402.install_ledger();
"""


# Better Auth's tables as its Postgres adapter creates them (camelCase columns); `schema` and
# the snake_case variant (some adapters' option) are filled in by better_auth_tables().
BETTER_AUTH = {
    "user": 'CREATE TABLE {s}."user" (id text PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE,'
            ' "emailVerified" boolean NOT NULL, image text, "createdAt" timestamptz, "updatedAt" timestamptz)',
    "session": 'CREATE TABLE {s}.session (id text PRIMARY KEY, "expiresAt" timestamptz NOT NULL, token text NOT NULL UNIQUE,'
               ' "createdAt" timestamptz, "updatedAt" timestamptz, "ipAddress" text, "userAgent" text,'
               ' "userId" text NOT NULL)',
    "account": 'CREATE TABLE {s}.account (id text PRIMARY KEY, "accountId" text NOT NULL, "providerId" text NOT NULL,'
               ' "userId" text NOT NULL, "accessToken" text, "refreshToken" text, "idToken" text,'
               ' "accessTokenExpiresAt" timestamptz, scope text, password text, "createdAt" timestamptz)',
    "verification": 'CREATE TABLE {s}.verification (id text PRIMARY KEY, identifier text NOT NULL, value text NOT NULL,'
                    ' "expiresAt" timestamptz NOT NULL, "createdAt" timestamptz)',
}


def better_auth_tables(schema, models=BETTER_AUTH, snake=False):
    sql = ";\n".join(BETTER_AUTH[m].format(s=schema) for m in models) + ";"
    if snake:
        for camel, snake_name in [('"emailVerified"', "email_verified"), ('"expiresAt"', "expires_at"),
                                  ('"userId"', "user_id"), ('"accountId"', "account_id"), ('"providerId"', "provider_id"),
                                  ('"accessToken"', "access_token"), ('"refreshToken"', "refresh_token")]:
            sql = sql.replace(camel, snake_name)
    return sql


# InsForge's deny-list of exposed schemas (its migration 056, as shared/INSFORGE.md describes it):
# every schema but Postgres's, those in insforge.internal_schemas, and extension-owned ones.
INSFORGE_EXPOSED_SCHEMAS = """
CREATE SCHEMA IF NOT EXISTS system;
CREATE FUNCTION system.is_exposed_schema(p_schema text) RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT p_schema IS NOT NULL AND p_schema NOT LIKE 'pg\\_%' AND p_schema <> 'information_schema'
       AND p_schema <> ALL (string_to_array(current_setting('insforge.internal_schemas', true), ','))
       AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_namespace n ON n.oid = d.objid
                        WHERE d.classid = 'pg_namespace'::regclass AND d.refclassid = 'pg_extension'::regclass
                          AND d.deptype = 'e' AND n.nspname = p_schema)
$fn$;
GRANT USAGE ON SCHEMA system TO project_admin;
"""


def advise(cluster, db, *, as_project_admin=False, sql="select * from insforge.advise()"):
    if as_project_admin:
        conn = cluster.connect(db, user="authenticator", row_factory=dict_row)
    else:
        conn = cluster.connect(db, row_factory=dict_row)
    with conn:
        if as_project_admin:
            conn.execute("set role project_admin")
            assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == \
                {"rolsuper": False}
        return conn.execute(sql).fetchall()


@pytest.fixture
def drop_roles(cluster):
    """Roles are cluster-wide: drop the ones a test made (after its database is gone)."""
    yield
    with cluster.connect() as c:
        for role in ("worker", "members", "ledger_writers"):
            c.execute(f"DROP ROLE IF EXISTS {role}")


def run(cluster, db, sql):
    with cluster.connect(db) as c:
        c.execute(sql)


def findings(cluster, db, rule, **kw):
    return [r for r in advise(cluster, db, **kw) if r["name"] == rule]


def assert_secret_absent(rows, secret=SECRET):
    for r in rows:
        for col in COLUMNS:
            assert secret not in json.dumps(r[col], default=str), (col, r)


# -- the row shape ---------------------------------------------------------------

def test_row_shape_and_every_rule_exists(cluster, db):
    with cluster.connect(db) as c:
        cols = c.execute("select pg_get_function_result('insforge.advise()'::regprocedure)").fetchone()[0]
        assert cols == ("TABLE(name text, title text, level text, facing text, categories text[], description text,"
                        " detail text, remediation text, metadata jsonb, cache_key text)")
        for rule in RULES:
            fn = c.execute("select to_regprocedure(%s)", (f"insforge.lint_{rule}()",)).fetchone()[0]
            assert fn is not None, rule
            assert c.execute("select pg_get_function_result(%s::regprocedure)", (fn,)).fetchone()[0] == cols
            assert c.execute("select obj_description(%s::regprocedure, 'pg_proc')", (fn,)).fetchone()[0]


def test_ordering_levels_and_unique_cache_keys(cluster, db):
    run(cluster, db, """
        CREATE TABLE public.todos (id int, user_id text);                          -- ERROR
        CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';  -- WARN
        CREATE TABLE public.closed (id int, owner_id text);
        ALTER TABLE public.closed ENABLE ROW LEVEL SECURITY;                       -- INFO
        CREATE TABLE public.a_ledger (tx_hash text);                               -- ERROR x2
    """)
    rows = advise(cluster, db)
    order = {"ERROR": 0, "WARN": 1, "INFO": 2}
    keys = [(order[r["level"]], r["name"], r["cache_key"]) for r in rows]
    assert keys == sorted(keys)
    assert [r["name"] for r in rows] == ["rls_disabled_with_owner_column", "x402_ledger_writable_by_clients",
                                         "x402_tx_hash_not_unique", "security_definer_search_path",
                                         "rls_enabled_no_policy"]
    assert len({r["cache_key"] for r in rows}) == len(rows)
    for r in rows:
        assert r["facing"] in ("EXTERNAL", "INTERNAL")
        assert r["categories"] and set(r["categories"]) <= {"SECURITY", "PERFORMANCE", "CORRECTNESS"}
        assert r["title"] and r["description"] and r["detail"] and r["remediation"] and r["metadata"]


# -- one rule at a time: trips, with the exact name, level and object ------------

TRIPS = {
    # rule: [(id, setup SQL, level, cache_key, detail fragment, metadata subset)]
    "auth_uid_in_policy": [
        ("select", """CREATE TABLE public.notes (id int, user_id uuid);
            ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY "Users read own" ON public.notes FOR SELECT TO authenticated USING (user_id = auth.uid());""",
         "WARN", "auth_uid_in_policy_public_notes_Users read own", 'Policy "Users read own" on public.notes',
         {"table": "notes", "policy": "Users read own", "command": "SELECT", "columns": ["user_id"]}),
        ("wrapped_text_cast", """CREATE TABLE public.notes (id int, owner text);
            CREATE POLICY own ON public.notes FOR ALL TO authenticated
                USING (owner = (SELECT auth.uid())::text) WITH CHECK (owner = (SELECT auth.uid())::text);""",
         "WARN", "auth_uid_in_policy_public_notes_own", "Policy own on public.notes (FOR ALL TO authenticated)",
         {"policy": "own", "columns": ["owner"]}),
    ],
    "uuid_owner_column": [
        ("cast_uid_to_uuid", """CREATE TABLE public.docs (id int, user_id uuid);
            CREATE POLICY own ON public.docs TO authenticated USING (user_id = requesting_user_id()::uuid);""",
         "ERROR", "uuid_owner_column_public_docs_user_id", "Column public.docs.user_id is uuid",
         {"column": "user_id", "policies": ["own"], "default": False}),
        ("cast_column_to_text", """CREATE TABLE public.docs (id int, user_id uuid);
            CREATE POLICY own ON public.docs TO authenticated USING (user_id::text = public.requesting_user_id());""",
         "ERROR", "uuid_owner_column_public_docs_user_id", "policy own", {"column": "user_id"}),
        ("insforge_schema_reversed", """CREATE TABLE public.docs (id int, user_id uuid);
            CREATE POLICY own ON public.docs TO authenticated
                USING ((SELECT insforge.requesting_user_id())::uuid = user_id);""",
         "ERROR", "uuid_owner_column_public_docs_user_id", "policy own", {"column": "user_id"}),
        ("jwt_sub", """CREATE TABLE public.docs (id int, user_id uuid);
            CREATE POLICY own ON public.docs TO authenticated USING (user_id = (auth.jwt() ->> 'sub')::uuid);""",
         "ERROR", "uuid_owner_column_public_docs_user_id", "policy own", {"column": "user_id"}),
        ("default_only", """CREATE TABLE public.docs (id int, user_id uuid DEFAULT requesting_user_id()::uuid);""",
         "ERROR", "uuid_owner_column_public_docs_user_id", "defaults to the requesting user id",
         {"column": "user_id", "policies": [], "default": True}),
    ],
    "owner_column_without_default": [
        ("insert_not_null", """CREATE TABLE public.todos (id int, user_id text NOT NULL, body text);
            ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
            CREATE POLICY "Users create own" ON public.todos FOR INSERT TO authenticated
                WITH CHECK (user_id = requesting_user_id());""",
         "WARN", "owner_column_without_default_public_todos_user_id",
         "Column public.todos.user_id (NOT NULL, no default) is checked against the requesting user on INSERT",
         {"column": "user_id", "not_null": True, "policies": ["Users create own"]}),
        ("for_all_nullable", """CREATE TABLE public.todos (id int, author_id text, body text);
            ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
            CREATE POLICY own ON public.todos TO authenticated USING (author_id = (SELECT requesting_user_id()));""",
         "WARN", "owner_column_without_default_public_todos_author_id", "(nullable, no default)",
         {"column": "author_id", "not_null": False}),
    ],
    "rls_disabled_with_owner_column": [
        ("public", "CREATE TABLE public.todos (id int, user_id text, body text);",
         "ERROR", "rls_disabled_with_owner_column_public_todos", "Table public.todos has owner column user_id",
         {"table": "todos", "columns": ["user_id"],
          "privileges": {"anon": ["SELECT", "INSERT", "UPDATE", "DELETE"],
                         "authenticated": ["SELECT", "INSERT", "UPDATE", "DELETE"]}}),
        ("pgrst_db_schemas", """CREATE SCHEMA api;
            GRANT USAGE ON SCHEMA api TO anon, authenticated;
            CREATE TABLE api.posts (id int, created_by varchar(64));
            GRANT SELECT ON api.posts TO anon;
            DO $$ BEGIN EXECUTE format('ALTER ROLE authenticator IN DATABASE %I SET pgrst.db_schemas = %L',
                                       current_database(), 'public, api'); END $$;""",
         "ERROR", "rls_disabled_with_owner_column_api_posts", "Table api.posts has owner column created_by",
         {"schema": "api", "privileges": {"anon": ["SELECT"]}}),
    ],
    "rls_enabled_no_policy": [
        ("admin_policy_only", """CREATE TABLE public.todos (id int, user_id text DEFAULT requesting_user_id());
            ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
            CREATE POLICY project_admin_policy ON public.todos FOR ALL TO project_admin USING (true) WITH CHECK (true);""",
         "INFO", "rls_enabled_no_policy_public_todos", "Table public.todos has row-level security enabled",
         {"table": "todos", "policies": ["project_admin_policy"]}),
        ("restrictive_only", """CREATE TABLE public.todos (id int);
            ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
            CREATE POLICY gate ON public.todos AS RESTRICTIVE TO authenticated USING (true);""",
         "INFO", "rls_enabled_no_policy_public_todos", "public.todos", {"policies": ["gate"]}),
    ],
    "policy_without_role": [
        ("no_to", """CREATE TABLE public.notes (id int, user_id text DEFAULT requesting_user_id());
            ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY "Users read own" ON public.notes FOR SELECT USING (user_id = requesting_user_id());""",
         "WARN", "policy_without_role_public_notes_Users read own", 'policy "Users read own" on public.notes',
         {"policy": "Users read own", "command": "SELECT", "permissive": True}),
        ("restrictive_jwt_sub", """CREATE TABLE public.notes (id int, user_id text DEFAULT requesting_user_id());
            ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
            CREATE POLICY own ON public.notes AS RESTRICTIVE TO public USING ((select auth.jwt() ->> 'sub') = user_id);""",
         "WARN", "policy_without_role_public_notes_own", "Restrictive policy own", {"permissive": False}),
    ],
    "sql_requesting_user_id": [
        ("released", """SELECT insforge.release_requesting_user_id();
            CREATE TABLE public.notes (id int, user_id text DEFAULT requesting_user_id());
            CREATE POLICY own ON public.notes TO authenticated USING (user_id = requesting_user_id());""",
         "WARN", "sql_requesting_user_id_public_requesting_user_id", "LANGUAGE sql returning text; 1 policy calls it.",
         {"language": "sql", "returns": "text", "policies": 1}),
    ],
    "x402_tx_hash_not_unique": [
        ("no_index", "CREATE TABLE public.x402_payments (id int, tx_hash text NOT NULL);",
         "ERROR", "x402_tx_hash_not_unique_public_x402_payments_tx_hash", "Column public.x402_payments.tx_hash",
         {"column": "tx_hash", "partial_unique_index": False}),
        ("plain_index", """CREATE TABLE public.payments (id int, transaction_hash text);
            CREATE INDEX ON public.payments (transaction_hash);""",
         "ERROR", "x402_tx_hash_not_unique_public_payments_transaction_hash", "transaction_hash",
         {"column": "transaction_hash"}),
        ("partial_unique", """CREATE TABLE public.x402_payments (id int, tx_hash text, status text);
            CREATE UNIQUE INDEX ON public.x402_payments (tx_hash) WHERE status = 'settled';""",
         "ERROR", "x402_tx_hash_not_unique_public_x402_payments_tx_hash", "a partial unique index does not count",
         {"partial_unique_index": True}),
        ("multi_column_unique", """CREATE SCHEMA IF NOT EXISTS x402;
            CREATE TABLE x402.settlements (network text, settlement_tx_hash text, UNIQUE (network, settlement_tx_hash));""",
         "ERROR", "x402_tx_hash_not_unique_x402_settlements_settlement_tx_hash", "multi-column",
         {"schema": "x402", "multi_column_unique_index": True}),
    ],
    "x402_ledger_writable_by_clients": [
        ("default_privileges_rls_off", "CREATE TABLE public.x402_payments (id int, tx_hash text UNIQUE);",
         "ERROR", "x402_ledger_writable_by_clients_public_x402_payments", "Settlement table public.x402_payments",
         {"writable_now": True, "rls_enabled": False,
          "privileges": {"anon": ["INSERT", "UPDATE", "DELETE"], "authenticated": ["INSERT", "UPDATE", "DELETE"]}}),
        ("guide_ledger_not_revoked", X402_LEDGER.split("REVOKE")[0],
         "WARN", "x402_ledger_writable_by_clients_public_x402_payments", "row-level security blocks these today",
         {"writable_now": False, "rls_enabled": True}),
        ("public_grant", X402_LEDGER + "GRANT INSERT ON public.x402_payments TO PUBLIC;",
         "WARN", "x402_ledger_writable_by_clients_public_x402_payments", "anon may INSERT; authenticated may INSERT",
         {"privileges": {"anon": ["INSERT"], "authenticated": ["INSERT"]}}),
        ("membership_and_policy", X402_LEDGER + """CREATE ROLE ledger_writers NOLOGIN;
            GRANT UPDATE (status) ON public.x402_payments TO ledger_writers;
            GRANT ledger_writers TO authenticated;
            CREATE POLICY "fix status" ON public.x402_payments FOR UPDATE TO ledger_writers USING (true);""",
         "ERROR", "x402_ledger_writable_by_clients_public_x402_payments", "authenticated may UPDATE",
         {"privileges": {"authenticated": ["UPDATE"]}, "writable_now": True}),
    ],
    "security_definer_search_path": [
        ("public", "CREATE FUNCTION public.grant_credits(p_user text, n int) RETURNS void LANGUAGE sql SECURITY DEFINER"
                   " AS 'select 1';",
         "WARN", "security_definer_search_path_public_grant_credits(p_user text, n integer)",
         "Function public.grant_credits(text,integer) is SECURITY DEFINER",
         {"schema": "public", "function": "grant_credits(p_user text, n integer)"}),
        ("x402_schema", """CREATE SCHEMA IF NOT EXISTS x402;
            CREATE FUNCTION x402.record(h text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
                SET statement_timeout = '5s' AS 'begin end';""",
         "WARN", "security_definer_search_path_x402_record(h text)", "x402.record(text)", {"schema": "x402"}),
    ],
}

TRIPS.update({
    "better_auth_tables_exposed": [
        ("session_in_public", better_auth_tables("public", ["session"]),
         "ERROR", "better_auth_tables_exposed_public_session",
         "Table public.session looks like Better Auth's session table (token, expiresAt, userId) and is served by "
         "PostgREST: anon may SELECT, INSERT, UPDATE, DELETE; authenticated may SELECT, INSERT, UPDATE, DELETE.",
         {"schema": "public", "table": "session", "model": "session",
          "privileges": {"anon": ["SELECT", "INSERT", "UPDATE", "DELETE"],
                         "authenticated": ["SELECT", "INSERT", "UPDATE", "DELETE"]}}),
        ("better_auth_schema_exposed_by_insforge", INSFORGE_EXPOSED_SCHEMAS + """CREATE SCHEMA better_auth;
            GRANT USAGE ON SCHEMA better_auth TO anon, authenticated;""" + better_auth_tables("better_auth", ["account"], snake=True)
         + "\nGRANT SELECT (id, password) ON better_auth.account TO authenticated;",
         "ERROR", "better_auth_tables_exposed_better_auth_account", "Better Auth's account table",
         {"schema": "better_auth", "model": "account", "privileges": {"authenticated": ["SELECT"]}}),
    ],
    "policy_reads_unforwarded_claim": [
        ("org_id", """CREATE TABLE public.docs (id int, org_id text, user_id text DEFAULT requesting_user_id());
            ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
            CREATE POLICY "Org members read" ON public.docs FOR SELECT TO authenticated
                USING (org_id = ((SELECT auth.jwt()) ->> 'org_id'));""",
         "WARN", "policy_reads_unforwarded_claim_public_docs_Org members read",
         "Policy \"Org members read\" on public.docs (FOR SELECT) reads claim 'org_id'; through InsForge's API only sub, "
         "email, role, iat and exp reach request.jwt.claims",
         {"policy": "Org members read", "command": "SELECT", "claims": ["org_id"]}),
        ("permissions_and_paths", """CREATE TABLE public.docs (id int, tenant text, org text);
            CREATE POLICY edit ON public.docs FOR UPDATE TO authenticated
                USING (insforge.has_claim('permissions', 'write:docs'))
                WITH CHECK (tenant = (nullif(current_setting('request.jwt.claims', true), '')::jsonb -> 'app_metadata' ->> 'tenant')
                            AND org = insforge.claim_path('org', 'id')
                            AND (auth.jwt() #>> '{azp}') IS NOT NULL AND insforge.jwt() @> '{"aud": "insforge-api"}');""",
         "WARN", "policy_reads_unforwarded_claim_public_docs_edit", "reads claims 'app_metadata', 'aud', 'azp', 'org', 'permissions'",
         {"claims": ["app_metadata", "aud", "azp", "org", "permissions"]}),
    ],
    "validation_needs_unforwarded_claims": [
        ("database_audience", """DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET insforge_integrations.jwt_audience = %L',
                                                          current_database(), 'insforge-api'); END $$;""",
         "INFO", "validation_needs_unforwarded_claims", "insforge_integrations.jwt_audience = 'insforge-api' (database",
         {"type": "setting", "strict": "off"}),
    ],
})

NEAR_MISSES = {
    "auth_uid_in_policy": """
        CREATE TABLE public.notes (id int, user_id text DEFAULT requesting_user_id(), team text);
        ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.notes FOR SELECT TO authenticated USING (user_id = requesting_user_id());
        CREATE POLICY by_role ON public.notes FOR SELECT TO authenticated USING ((SELECT auth.role()) = 'authenticated');
        CREATE SCHEMA app;
        CREATE FUNCTION app.uid() RETURNS text LANGUAGE sql STABLE AS 'select ''x''';
        CREATE POLICY other_uid ON public.notes FOR SELECT TO authenticated USING (team = app.uid());
        COMMENT ON POLICY own ON public.notes IS 'we do not use auth.uid() here';""",
    "uuid_owner_column": """
        CREATE TABLE public.docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), team_id uuid,
                                  user_id text NOT NULL DEFAULT requesting_user_id());
        CREATE POLICY own ON public.docs TO authenticated USING (user_id = requesting_user_id());
        CREATE POLICY team ON public.docs TO authenticated
            USING (team_id = '00000000-0000-0000-0000-000000000000'::uuid AND user_id = requesting_user_id());
        CREATE TABLE public.native_docs (id int, owner uuid DEFAULT auth.uid());
        CREATE POLICY own ON public.native_docs TO authenticated USING (owner = auth.uid());""",
    "owner_column_without_default": """
        CREATE TABLE public.todos (id int, user_id text NOT NULL DEFAULT requesting_user_id(), reviewer text);
        CREATE POLICY ins ON public.todos FOR INSERT TO authenticated WITH CHECK (user_id = requesting_user_id());
        CREATE POLICY sel ON public.todos FOR SELECT TO authenticated USING (reviewer = requesting_user_id());
        CREATE TABLE public.native (id int, owner uuid NOT NULL DEFAULT auth.uid());
        CREATE POLICY ins ON public.native FOR INSERT TO authenticated WITH CHECK (owner = auth.uid());""",
    "rls_disabled_with_owner_column": """
        CREATE TABLE public.todos (id int, user_id text DEFAULT requesting_user_id());
        ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.todos TO authenticated USING (user_id = requesting_user_id());
        CREATE TABLE public.audit (id int, user_id text);
        REVOKE ALL ON public.audit FROM anon, authenticated;
        CREATE SCHEMA private;
        GRANT USAGE ON SCHEMA private TO anon, authenticated;
        CREATE TABLE private.todos (id int, user_id text);
        GRANT ALL ON private.todos TO anon, authenticated;
        CREATE SCHEMA api;  -- exposed, but clients lack USAGE on it
        DO $$ BEGIN EXECUTE format('ALTER ROLE authenticator IN DATABASE %I SET pgrst.db_schemas = %L',
                                   current_database(), 'public,api'); END $$;
        CREATE TABLE api.todos (id int, user_id text);
        GRANT ALL ON api.todos TO anon, authenticated;
        CREATE TABLE public.countries (code text PRIMARY KEY, name text);
        CREATE TABLE public.counters (id int, user_id integer);""",
    "rls_enabled_no_policy": """
        CREATE TABLE public.a (id int);
        ALTER TABLE public.a ENABLE ROW LEVEL SECURITY;
        CREATE POLICY read ON public.a FOR SELECT USING (true);
        CREATE TABLE public.b (id int);
        ALTER TABLE public.b ENABLE ROW LEVEL SECURITY;
        REVOKE ALL ON public.b FROM anon, authenticated;
        CREATE ROLE members NOLOGIN;
        GRANT members TO authenticated;
        CREATE TABLE public.c (id int);
        ALTER TABLE public.c ENABLE ROW LEVEL SECURITY;
        CREATE POLICY m ON public.c FOR SELECT TO members USING (true);""",
    "policy_without_role": """
        CREATE TABLE public.notes (id int, user_id text DEFAULT requesting_user_id(), published boolean);
        ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.notes FOR SELECT TO authenticated USING (user_id = requesting_user_id());
        CREATE POLICY "Published are public" ON public.notes FOR SELECT USING (published);""",
    "sql_requesting_user_id": "SELECT insforge.release_requesting_user_id(); SELECT insforge.adopt_requesting_user_id();",
    # The guide's layout done right: schema better_auth, not served, privileges revoked; a
    # project's own users table; Better Auth tables in a schema no one serves.
    "better_auth_tables_exposed": "CREATE SCHEMA better_auth;\n" + better_auth_tables("better_auth") + """
        REVOKE ALL ON ALL TABLES IN SCHEMA better_auth FROM PUBLIC, anon, authenticated;
        CREATE TABLE public.users (id text PRIMARY KEY, email text, email_verified boolean, user_id text);
        CREATE SCHEMA auth_store;
        GRANT USAGE ON SCHEMA auth_store TO anon, authenticated;""" + better_auth_tables("auth_store", ["session"]) + """
        GRANT SELECT ON auth_store.session TO anon;""",
    "policy_reads_unforwarded_claim": """
        CREATE TABLE public.docs (id int, user_id text DEFAULT requesting_user_id(), email text, org_id text, exp int);
        ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.docs TO authenticated USING (user_id = requesting_user_id());
        CREATE POLICY mail ON public.docs FOR SELECT TO authenticated
            USING (email = (auth.jwt() ->> 'email') AND user_id = insforge.claim('sub') AND insforge.role() = 'authenticated');
        CREATE POLICY fresh ON public.docs FOR SELECT TO authenticated
            USING ((auth.jwt() ->> 'exp')::int > exp AND (insforge.jwt() ->> 'iat') IS NOT NULL AND auth.role() = 'x');
        CREATE POLICY org ON public.docs FOR SELECT TO authenticated USING (org_id = 'acme');""",
    "validation_needs_unforwarded_claims": """
        DO $$ BEGIN
            EXECUTE format('ALTER DATABASE %I SET insforge_integrations.strict = on', current_database());
            EXECUTE format('ALTER DATABASE %I SET insforge_integrations.jwt_roles = %L', current_database(), 'authenticated');
            EXECUTE format('ALTER DATABASE %I SET insforge_integrations.jwt_audience = %L', current_database(), '');
        END $$;""",
    "x402_tx_hash_not_unique": """
        CREATE TABLE public.a (id int, tx_hash text UNIQUE);
        CREATE TABLE public.b (tx_hash text PRIMARY KEY);
        CREATE TABLE public.c (id int, txhash text);
        CREATE UNIQUE INDEX ON public.c (lower(txhash));
        CREATE TABLE public.d (id int, tx_id text, hash text);
        CREATE TABLE public.e (id int, "TX_HASH" varchar(66));
        CREATE UNIQUE INDEX ON public.e (upper("TX_HASH"));""",
    "x402_ledger_writable_by_clients": X402_LEDGER + """
        CREATE TABLE public.d (id int, tx_id text);""",
    "security_definer_search_path": """
        CREATE FUNCTION public.a() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'select 1';
        CREATE FUNCTION public.b() RETURNS int LANGUAGE sql AS 'select 1';
        CREATE SCHEMA private;
        CREATE FUNCTION private.c() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';""",
}


@pytest.mark.parametrize("rule,case", [(r, c) for r, cases in TRIPS.items() for c in cases],
                         ids=[f"{r}-{c[0]}" for r, cases in TRIPS.items() for c in cases])
def test_rule_trips(cluster, drop_roles, db, rule, case):
    _, setup, level, cache_key, fragment, meta = case
    run(cluster, db, setup)
    got = findings(cluster, db, rule)
    assert len(got) == 1, got
    f = got[0]
    assert (f["name"], f["level"], f["cache_key"]) == (rule, level, cache_key)
    assert fragment in f["detail"], f["detail"]
    for k, v in meta.items():
        assert f["metadata"].get(k) == v, (k, f["metadata"])
    # The same finding through the rule's own function.
    with cluster.connect(db) as c:
        own = c.execute(f"select cache_key from insforge.lint_{rule}()").fetchall()
    assert own == [(cache_key,)]


@pytest.mark.parametrize("rule", NEAR_MISSES)
def test_rule_near_miss(cluster, drop_roles, db, rule):
    run(cluster, db, NEAR_MISSES[rule])
    assert findings(cluster, db, rule) == []


def test_auth_uid_and_uuid_column_on_the_same_table(cluster, db):
    # auth.uid() on a uuid column is auth_uid_in_policy's finding only; casting
    # requesting_user_id() is uuid_owner_column's; a PUBLIC policy is both.
    run(cluster, db, """
        CREATE TABLE public.posts (id int, user_id uuid NOT NULL);
        ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
        CREATE POLICY "read own" ON public.posts FOR SELECT TO authenticated USING (user_id = auth.uid());
        CREATE POLICY "write own" ON public.posts FOR INSERT WITH CHECK (user_id = requesting_user_id()::uuid);""")
    got = sorted((r["name"], r["cache_key"]) for r in advise(cluster, db))
    assert got == [
        ("auth_uid_in_policy", "auth_uid_in_policy_public_posts_read own"),
        ("owner_column_without_default", "owner_column_without_default_public_posts_user_id"),
        ("policy_without_role", "policy_without_role_public_posts_write own"),
        ("uuid_owner_column", "uuid_owner_column_public_posts_user_id"),
    ]


def test_sql_requesting_user_id_remediation_is_adopt(cluster, db):
    run(cluster, db, "SELECT insforge.release_requesting_user_id()")
    [f] = findings(cluster, db, "sql_requesting_user_id")
    assert f["remediation"].startswith("SELECT insforge.adopt_requesting_user_id();")
    assert f["categories"] == ["PERFORMANCE"]
    run(cluster, db, f["remediation"].split(";")[0])
    assert findings(cluster, db, "sql_requesting_user_id") == []


def test_sql_requesting_user_id_returning_uuid(cluster):
    name = "adv_uuid_helper"
    cluster.create_database(name, extension=False)
    try:
        run(cluster, name, "CREATE FUNCTION public.requesting_user_id() RETURNS uuid LANGUAGE sql STABLE"
                           " AS $$ SELECT (auth.jwt() ->> 'sub')::uuid $$; CREATE EXTENSION insforge_integrations")
        [f] = findings(cluster, name, "sql_requesting_user_id")
        assert f["metadata"]["returns"] == "uuid" and "cannot be adopted in place" in f["remediation"]
    finally:
        with cluster.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- InsForge's API pipeline: Better Auth, unforwarded claims, audience/issuer --------

@pytest.mark.parametrize("schema,snake", [("public", False), ("public", True), ("better_auth", False)])
def test_better_auth_every_table(cluster, db, schema, snake):
    """The four tables, either column spelling; better_auth exposed the InsForge way (deny-list)."""
    setup = better_auth_tables(schema, snake=snake)
    if schema != "public":
        setup = (INSFORGE_EXPOSED_SCHEMAS + f"CREATE SCHEMA {schema}; GRANT USAGE ON SCHEMA {schema} TO anon, authenticated;"
                 f" ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO anon;" + setup)
    run(cluster, db, setup)
    got = sorted((f["metadata"]["model"], f["level"]) for f in findings(cluster, db, "better_auth_tables_exposed",
                                                                     as_project_admin=True))
    assert got == [("account", "ERROR"), ("session", "ERROR"), ("user", "ERROR"), ("verification", "ERROR")]
    # The remediation is the fix.
    for f in findings(cluster, db, "better_auth_tables_exposed"):
        run(cluster, db, f["remediation"].split(";")[0])
    assert findings(cluster, db, "better_auth_tables_exposed") == []


def test_better_auth_schema_listed_as_internal_is_not_exposed(cluster, db):
    """With InsForge's deny-list, adding better_auth to insforge.internal_schemas takes it off the API."""
    run(cluster, db, INSFORGE_EXPOSED_SCHEMAS + "CREATE SCHEMA better_auth; GRANT USAGE ON SCHEMA better_auth TO anon;"
        + better_auth_tables("better_auth", ["session"]) + "GRANT SELECT ON better_auth.session TO anon;")
    assert len(findings(cluster, db, "better_auth_tables_exposed")) == 1
    with cluster.connect(db, row_factory=dict_row) as c:
        c.execute("SET insforge.internal_schemas = 'auth,storage,system,better_auth'")
        assert [r for r in c.execute("select * from insforge.advise()").fetchall()
                if r["name"] == "better_auth_tables_exposed"] == []


def test_validation_settings_where_and_strict(cluster, db):
    run(cluster, db, """DO $$ BEGIN
        EXECUTE format('ALTER DATABASE %I SET insforge_integrations.jwt_issuers = %L', current_database(), 'https://a.example');
        EXECUTE format('ALTER ROLE authenticator IN DATABASE %I SET insforge_integrations.jwt_audience = %L',
                       current_database(), 'insforge-api');
        EXECUTE format('ALTER DATABASE %I SET insforge_integrations.strict = on', current_database());
    END $$;""")
    [f] = findings(cluster, db, "validation_needs_unforwarded_claims", as_project_admin=True)
    assert f["level"] == "INFO"
    assert "insforge_integrations.jwt_audience = 'insforge-api' (role authenticator in database" in f["detail"]
    assert "insforge_integrations.jwt_issuers = 'https://a.example' (database" in f["detail"]
    assert "every request through InsForge's API fails" in f["detail"]
    assert "ALTER ROLE authenticator IN DATABASE" in f["remediation"] and "RESET insforge_integrations.jwt_issuers" \
        in f["remediation"]
    assert [s["where"].split(" ")[0] for s in f["metadata"]["settings"]] == ["role", "database"]
    with cluster.connect(db, row_factory=dict_row) as c:  # a session SET counts too
        c.execute("SET insforge_integrations.jwt_issuers = 'https://b.example'")
        [f] = [r for r in c.execute("select * from insforge.advise()").fetchall()
               if r["name"] == "validation_needs_unforwarded_claims"]
        assert "'https://b.example' (this session)" in f["detail"]


# -- jwt_secret_exposed -------------------------------------------------------------

SECRET_LOCATIONS = [
    ("function", "CREATE FUNCTION public.sign(p text) RETURNS text LANGUAGE sql AS $$ SELECT p || '{s}' $$",
     "function public.sign(text)", "jwt_secret_exposed_function_public.sign(text)"),
    ("sql_body", "CREATE FUNCTION public.k() RETURNS text LANGUAGE sql RETURN '{s}'",
     "function public.k()", "jwt_secret_exposed_function_public.k()"),
    ("function_setting", "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SET my.key = '{s}' AS 'select 1'",
     "function setting my.key of function public.f()", "jwt_secret_exposed_function_setting_my.key of function public.f()"),
    ("view", "CREATE VIEW public.cfg AS SELECT '{s}'::text AS k", "view public.cfg", "jwt_secret_exposed_view_public.cfg"),
    ("policy", "CREATE TABLE public.t (k text); CREATE POLICY p ON public.t USING (k <> '{s}')",
     "policy p on public.t", "jwt_secret_exposed_policy_p on public.t"),
    ("column_default", "CREATE TABLE public.t (k text DEFAULT '{s}')",
     "column default public.t.k", "jwt_secret_exposed_column_default_public.t.k"),
    ("check_constraint", "CREATE TABLE public.t (k text CONSTRAINT not_the_key CHECK (k <> '{s}'))",
     "constraint not_the_key on table public.t", "jwt_secret_exposed_constraint_not_the_key on table public.t"),
    ("trigger", "CREATE TABLE public.t (k text); CREATE FUNCTION public.tg() RETURNS trigger LANGUAGE plpgsql"
                " AS 'begin return new; end'; CREATE TRIGGER sign BEFORE INSERT ON public.t"
                " FOR EACH ROW EXECUTE FUNCTION public.tg('{s}')", "trigger sign on table public.t",
     "jwt_secret_exposed_trigger_sign on table public.t"),
    ("database_setting", "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET my.jwt = %L', current_database(),"
                         " '{s}'); END $$", "database setting my.jwt of database", None),
    ("role_setting", "CREATE ROLE worker; ALTER ROLE worker SET my.jwt = '{s}'",
     "role setting my.jwt of role worker", "jwt_secret_exposed_role_setting_my.jwt of role worker"),
    ("table_comment", "CREATE TABLE public.t (k text); COMMENT ON TABLE public.t IS 'signing key: {s}'",
     "comment on table public.t", "jwt_secret_exposed_comment_on table public.t"),
    ("column_comment", "CREATE TABLE public.t (k text); COMMENT ON COLUMN public.t.k IS 'was {s}'",
     "comment on column k of table public.t", None),
    ("role_comment", "CREATE ROLE worker; COMMENT ON ROLE worker IS '{s}'", "comment on role worker", None),
]


@pytest.fixture
def secret_db(cluster, drop_roles, db):
    run(cluster, db, f"INSERT INTO insforge.jwt_secret(key) VALUES ('{SECRET}')")
    return db


@pytest.mark.parametrize("case", SECRET_LOCATIONS, ids=[c[0] for c in SECRET_LOCATIONS])
def test_jwt_secret_exposed(cluster, secret_db, case):
    _, setup, where, cache_key = case
    run(cluster, secret_db, setup.format(s=SECRET))
    rows = advise(cluster, secret_db)
    got = [r for r in rows if r["name"] == "jwt_secret_exposed"]
    assert len(got) == 1, got
    [f] = got
    assert f["level"] == "ERROR" and f["categories"] == ["SECURITY"]
    assert where in f["detail"], f["detail"]
    assert f["metadata"]["secret_sources"] == ["insforge.jwt_secret"]
    if cache_key:
        assert f["cache_key"] == cache_key
    assert_secret_absent(rows)
    # project_admin (not a superuser) gets the same finding, and never the key either.
    rows = advise(cluster, secret_db, as_project_admin=True)
    assert [r["cache_key"] for r in rows if r["name"] == "jwt_secret_exposed"] == [f["cache_key"]]
    assert_secret_absent(rows)


def test_app_settings_jwt_secret_entries(cluster, db):
    # InsForge's own setting: any entry in the world-readable pg_db_role_setting is a
    # finding whatever its value; its value is looked for elsewhere too.
    setting = "app-settings-secret-0123456789-ABCDEFG"
    run(cluster, db, f"""
        DO $$ BEGIN EXECUTE format('ALTER ROLE authenticator IN DATABASE %I SET app.settings.jwt_secret = %L',
                                   current_database(), 'short'); END $$;
        CREATE FUNCTION public.leak() RETURNS text LANGUAGE sql AS $$ SELECT '{setting}' $$;""")
    with cluster.connect(db, row_factory=dict_row) as c:
        c.execute(f"SET app.settings.jwt_secret = '{setting}'")
        rows = c.execute("select * from insforge.advise() where name = 'jwt_secret_exposed'").fetchall()
    by_type = {r["metadata"]["type"]: r for r in rows}
    assert set(by_type) == {"role setting", "function"}
    assert by_type["role setting"]["detail"].startswith("The setting app.settings.jwt_secret appears in the role setting"
                                                        " app.settings.jwt_secret of role authenticator in database")
    assert by_type["role setting"]["remediation"].startswith(f'ALTER ROLE authenticator IN DATABASE {db} RESET')
    assert by_type["function"]["metadata"]["secret_sources"] == ["app.settings.jwt_secret"]
    assert_secret_absent(rows, setting)
    assert_secret_absent(rows, "short")


def test_jwt_secret_near_misses(cluster, db):
    short = "tiny-secret-15c"  # 15 characters: not looked for
    run(cluster, db, f"""
        CREATE FUNCTION public.current_key() RETURNS text LANGUAGE sql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp AS $$ SELECT key FROM insforge.jwt_secret $$;
        REVOKE ALL ON FUNCTION public.current_key() FROM PUBLIC;
        COMMENT ON FUNCTION public.current_key() IS 'reads app.settings.jwt_secret style keys at run time';
        CREATE TABLE public.t (k text DEFAULT '{SECRET[:-1]}');""")
    assert findings(cluster, db, "jwt_secret_exposed") == []  # no key stored: nothing to look for
    run(cluster, db, f"INSERT INTO insforge.jwt_secret(key) VALUES ('{SECRET}')")
    assert findings(cluster, db, "jwt_secret_exposed") == []  # a prefix is not the key
    run(cluster, db, f"UPDATE insforge.jwt_secret SET key = '{short}'; COMMENT ON TABLE public.t IS '{short}'")
    assert findings(cluster, db, "jwt_secret_exposed") == []


def test_jwt_secret_in_jwks_and_pem(cluster, db):
    k = "c2VjcmV0LWJ5dGVzLWZvci1obWFjLWluLWEtandrLTAxMjM0NTY3"
    jwks = json.dumps({"keys": [{"kty": "oct", "kid": "one", "alg": "HS256", "k": k},
                                {"kty": "RSA", "kid": "pub", "n": "AQAB" * 20, "e": "AQAB"}]})
    run(cluster, db, f"""INSERT INTO insforge.jwt_secret(key) VALUES ('{jwks}');
        COMMENT ON SCHEMA public IS 'n = {"AQAB" * 20}';""")
    assert findings(cluster, db, "jwt_secret_exposed") == []  # public members are not secrets
    run(cluster, db, f"CREATE VIEW public.keys AS SELECT '{k}'::text AS k")
    [f] = findings(cluster, db, "jwt_secret_exposed")
    assert f["metadata"]["object"] == "public.keys"
    pub = ("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexamplexamplexampleexample\n"
           "-----END PUBLIC KEY-----")
    run(cluster, db, f"UPDATE insforge.jwt_secret SET key = '{pub}'; COMMENT ON VIEW public.keys IS '{pub}'")
    assert findings(cluster, db, "jwt_secret_exposed") == []


def test_jwt_secret_rule_privileges(cluster, db):
    with cluster.connect(db) as c:
        prosecdef, config, owner, ext_owner = c.execute(
            "select p.prosecdef, p.proconfig, p.proowner, e.extowner from pg_proc p, pg_extension e"
            " where p.oid = 'insforge.lint_jwt_secret_exposed()'::regprocedure"
            " and e.extname = 'insforge_integrations'").fetchone()
        secrets_role = c.execute("select oid from pg_roles where rolname = 'insforge_integrations_secrets'").fetchone()[0]
        assert prosecdef and config == ["search_path=pg_catalog, pg_temp"] and owner == secrets_role != ext_owner
        acl = c.execute("select proacl::text[] from pg_proc"
                        " where oid = 'insforge.lint_jwt_secret_exposed()'::regprocedure").fetchone()[0]
        assert acl is not None and not any(a.startswith("=") for a in acl), acl  # nothing for PUBLIC
        for role, allowed in [("anon", False), ("authenticated", False), ("project_admin", True)]:
            assert c.execute("select has_function_privilege(%s, 'insforge.lint_jwt_secret_exposed()', 'EXECUTE')",
                             (role,)).fetchone()[0] is allowed, role
        # Every other function of the advisor runs as its caller.
        definers = c.execute("select p.oid::regprocedure::text from pg_proc p join pg_depend d on d.objid = p.oid"
                             " join pg_extension e on e.oid = d.refobjid and e.extname = 'insforge_integrations'"
                             " where p.prosecdef and (p.proname = 'advise' or p.proname like 'lint\\_%'"
                             " or p.proname like 'advisor\\_%')").fetchall()
        assert definers == [("insforge.lint_jwt_secret_exposed()",)]
        run(cluster, db, f"INSERT INTO insforge.jwt_secret(key) VALUES ('{SECRET}');"
                         f" COMMENT ON TABLE insforge.jwt_secret IS 'copy: {SECRET}'")
    # A client role may run neither advise() nor a rule (PostgREST serves schema insforge);
    # advisor_findings() gives it only "skipped" rows.
    with cluster.connect(db, user="authenticator", row_factory=dict_row) as c:
        c.execute("set role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("select * from insforge.lint_jwt_secret_exposed()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="may be run only by the operator"):
            c.execute("select * from insforge.advise()")
        c.rollback()
        c.execute("set role authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("select * from insforge.lint_policy_without_role()")
        c.rollback()
        c.execute("set role authenticated")
        rows = c.execute("select level, cache_key from insforge.advisor_findings()").fetchall()
        assert rows and all(r["level"] == "INFO" and r["cache_key"].endswith("_skipped") for r in rows), rows
        assert {r["cache_key"] for r in rows} >= {"jwt_secret_exposed_skipped", "policy_without_role_skipped"}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("select key from insforge.jwt_secret")
    rows = advise(cluster, db, as_project_admin=True)
    assert [r["cache_key"] for r in rows if r["name"] == "jwt_secret_exposed"] == \
        ["jwt_secret_exposed_comment_on table insforge.jwt_secret"]
    assert_secret_absent(rows)


# -- a project that follows the guides, run as project_admin ---------------------

def test_guide_following_project_has_no_error_or_warn(cluster, db):
    run(cluster, db, GUIDE_PROJECT + f"INSERT INTO insforge.jwt_secret(key) VALUES ('{SECRET}');")
    for as_admin in (False, True):
        rows = advise(cluster, db, as_project_admin=as_admin)
        assert [(r["level"], r["name"], r["detail"]) for r in rows if r["level"] in ("ERROR", "WARN")] == []
        assert_secret_absent(rows)
    # ... and the same project with the classic mistakes is flagged, as project_admin.
    run(cluster, db, """
        ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY;
        ALTER TABLE public.profiles ALTER COLUMN user_id DROP DEFAULT;
        ALTER POLICY "Users update own profile" ON public.profiles TO public;
        GRANT INSERT ON public.x402_payments TO anon;
        ALTER TABLE public.x402_payments DROP CONSTRAINT x402_payments_tx_hash_key;
        ALTER FUNCTION public.note_count() RESET search_path;
        SELECT insforge.release_requesting_user_id();""")
    names = {r["name"] for r in advise(cluster, db, as_project_admin=True) if r["level"] in ("ERROR", "WARN")}
    assert names == {"rls_disabled_with_owner_column", "owner_column_without_default", "policy_without_role",
                     "x402_ledger_writable_by_clients", "x402_tx_hash_not_unique", "security_definer_search_path",
                     "sql_requesting_user_id"}


def test_extension_ledger_passes(cluster, db):
    # The ledger the extension builds (x402.install_ledger(), when this build has it)
    # must satisfy both x402 rules; so must the extension's own functions.
    with cluster.connect(db) as c:
        if c.execute("select to_regprocedure('x402.install_ledger()')").fetchone()[0] is None:
            pytest.skip("x402.install_ledger() is not in this build")
        c.execute("select x402.install_ledger()")
    rows = advise(cluster, db, as_project_admin=True)
    assert [(r["level"], r["name"], r["detail"]) for r in rows] == []


def test_advise_ignores_insforge_platform_schemas(cluster, db):
    run(cluster, db, """
        CREATE SCHEMA IF NOT EXISTS storage;
        CREATE TABLE storage.objects (id int, owner uuid, user_id text);
        ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON storage.objects USING (owner = auth.uid());
        CREATE FUNCTION auth.helper() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';""")
    assert advise(cluster, db) == []


# Rules whose findings need more than one database can show here, and where their cases are.
TESTED_ELSEWHERE = {
    "jwt_secret_exposed": "test_jwt_secret_exposed above (a database with the key stored)",
    "x402_unreconciled_settlements": "tests/integration/test_x402_journal.py, test_x402_states.py",
    "citus_claims_not_propagated": "tests/citus/ (a coordinator and workers)",
}


def test_every_rule_file_is_a_rule_with_its_tests():
    """A rule is its SQL file in sql/advisor/, its cases in this file (TRIPS, NEAR_MISSES) or where
    TESTED_ELSEWHERE says, and its doc page docs/advisor/<rule>.md (CONTRIBUTING.md); nothing else
    registers it."""
    untested = sorted(set(RULES) - set(TRIPS) - set(TESTED_ELSEWHERE))
    assert untested == [], f"rules without a TRIPS case here: {untested}"
    docs = Path(__file__).resolve().parents[2] / "docs" / "advisor"
    undocumented = sorted(r for r in RULES if not (docs / f"{r}.md").exists())
    assert undocumented == [], f"rules without a page in docs/advisor/: {undocumented}"


def test_citus_rule_is_silent_without_citus(cluster, db):
    """citus_claims_not_propagated reads Citus's catalog only where Citus is (tests/citus/ has
    the findings); elsewhere a policy reading claims is no finding of that rule."""
    run(cluster, db, """
        CREATE TABLE public.notes (id int, user_id text);
        ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON public.notes FOR ALL TO authenticated USING (user_id = requesting_user_id());
    """)
    assert findings(cluster, db, "citus_claims_not_propagated") == []
    with cluster.connect(db) as c:
        assert c.execute("select insforge.advisor_pre_request_propagates('insforge.pre_request'),"
                         " insforge.advisor_pre_request_propagates('\"insforge\".\"pre_request\"'),"
                         " insforge.advisor_pre_request_propagates('public.nothing_here'),"
                         " insforge.advisor_pre_request_propagates('')").fetchone() == (True, True, False, False)
