"""Running in InsForge the way InsForge runs Postgres.

The session cluster is configured like InsForge's (tools/pgcluster.py: InsForge's insforge.*
lines in postgresql.conf, and in shared_preload_libraries our test stand-in for its
insforge_pg_utils, which runs project_admin's CREATE/ALTER/DROP EXTENSION as the bootstrap
superuser). A project's SQL runs as project_admin: `BEGIN; SET LOCAL ROLE project_admin;
set_config('request.jwt.claims', '{"role":"project_admin"}', true); ...` on a superuser's
connection (pgcluster.as_operator).
"""
import json
import time

import jwt as pyjwt
import psycopg
import pytest
from conftest import claims_for
from pgcluster import FIXTURES, INSFORGE_CONF, as_operator, postgrest_request

import load_settlements as L

SECRET = "operator-test-jwt-secret-0123456789abcdef-0123456789abcdef-0123"
GUIDE_HELPER = """CREATE FUNCTION public.requesting_user_id() RETURNS TEXT AS $$
  SELECT auth.jwt() ->> 'sub'
$$ LANGUAGE SQL STABLE"""
REALTIME_STANDIN = (FIXTURES / "realtime.sql").read_text()  # InsForge's realtime schema, a stand-in
USERS = ["user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "auth0|64b1f0c2e4a7d9b3c5e6f708"]

# Every administrative call the README asks a project to make, with what shows it took effect.
ADMIN_CALLS = {
    "insforge.adopt_requesting_user_id()": "SELECT insforge.native_requesting_user_id_installed()",
    "insforge.release_requesting_user_id()": "SELECT insforge.native_requesting_user_id_installed()",
    f"insforge.set_jwt_secret('{SECRET}')": "SELECT insforge.jwt_secret_configured()",
    "insforge.set_jwt_secret(NULL)": "SELECT insforge.jwt_secret_configured()",
    "x402.install_ledger()": "SELECT to_regclass('public.x402_payments') IS NOT NULL",
    "x402.enable_realtime()": "SELECT count(*) FROM pg_trigger WHERE tgname = 'x402_payments_realtime'",
    "insforge.grant_operator('op_someone')": "SELECT has_function_privilege('op_someone', 'insforge._set_jwt_secret(text)', 'EXECUTE')",
    "insforge.revoke_operator('project_admin')": "SELECT has_function_privilege('project_admin', 'insforge._set_jwt_secret(text)', 'EXECUTE')",
}


def one(conn, sql, *args):
    return conn.execute(sql, args or None).fetchone()[0]


def notices(conn):
    seen = []
    conn.add_notice_handler(lambda d: seen.append((d.severity_nonlocalized, d.message_primary)))
    return seen


@pytest.fixture
def project(cluster):
    """An InsForge project database without the extension (roles, auth.jwt(), default privileges)."""
    name = "operator_project"
    cluster.create_database(name, extension=False)
    yield name
    with cluster.connect() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- 3. settings beside InsForge's --------------------------------------------------------------------------

def test_library_leaves_insforge_settings_alone(cluster, db):
    """Loading the library (any extension function) removes, reserves or warns about nothing under
    insforge.: InsForge's insforge.internal_schemas (a plain placeholder) and insforge_pg_utils'
    settings keep what postgresql.conf says. Only insforge_integrations. is reserved."""
    conf = {k: v.strip("'") for k, v in INSFORGE_CONF.items() if k.startswith("insforge.")}
    log_before = (cluster.base / "server.log").stat().st_size
    with cluster.connect(db, user="authenticator") as conn:
        seen = notices(conn)
        assert one(conn, "SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid()") == 1
        for name, value in conf.items():
            assert one(conn, "SELECT current_setting(%s)", name) == value, name
        conn.execute("SELECT insforge.role()")  # loads insforge_integrations into this backend
        assert one(conn, "SELECT count(*) FROM pg_settings WHERE name LIKE 'insforge\\_integrations.%'") == 7
        for name, value in conf.items():
            assert one(conn, "SELECT current_setting(%s)", name) == value, name
        conn.execute("SET insforge.some_future_setting = 'kept'")  # InsForge's prefix stays open
        assert one(conn, "SELECT current_setting('insforge.some_future_setting')") == "kept"
        if one(conn, "SELECT current_setting('server_version_num')::int") >= 150000:  # no reserved prefixes in 14
            with pytest.raises(psycopg.Error, match="reserved prefix"):
                conn.execute("SET insforge_integrations.no_such_setting = 1")
        conn.execute("SET search_path = public")  # a new statement after the load: any WARNING arrived by now
        assert [n for n in seen if n[0] == "WARNING"] == [], seen
    log = (cluster.base / "server.log").read_text(errors="replace")[log_before:]
    assert 'invalid configuration parameter name "insforge.' not in log, log[-2000:]
    assert "removing it" not in log, log[-2000:]
    # InsForge's own deny-list function reads the setting as configured, not its fallback.
    with cluster.connect(db) as c:
        c.execute("SELECT insforge.role()")
        assert one(c, "SELECT string_to_array(current_setting('insforge.internal_schemas', true), ',')") == \
            conf["insforge.internal_schemas"].split(",")


# -- 1 and 2. the README's whole setup, as project_admin -----------------------------------------------------

def test_readme_setup_run_by_project_admin(cluster, project):
    settlements, _ = L.make_settlements(3, seed=21)
    with cluster.connect(project) as c:
        c.execute(REALTIME_STANDIN)  # InsForge's realtime schema (its own migrations make it)
        seen = notices(c)
        # The guide's helper and owner policies, made by the project (so owned by project_admin).
        with as_operator(c):
            c.execute(GUIDE_HELPER)
            c.execute((FIXTURES / "notes.sql").read_text())
        helper_oid = one(c, "SELECT to_regprocedure('public.requesting_user_id()')::oid")
        # CREATE EXTENSION as project_admin (insforge_pg_utils runs it as the bootstrap superuser).
        with as_operator(c):
            c.execute("CREATE EXTENSION insforge_integrations")
        assert any("already exists and is not the native implementation" in m for _, m in seen), seen
        assert one(c, "SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'insforge_integrations'") \
            == "postgres"
        # Adopt the helper in place.
        with as_operator(c):
            assert one(c, "SELECT insforge.adopt_requesting_user_id()").startswith("adopted")
        assert one(c, "SELECT insforge.native_requesting_user_id_installed()") is True
        assert one(c, "SELECT to_regprocedure('public.requesting_user_id()')::oid") == helper_oid
        # The key, then authenticate() from a login role that is a member of authenticated.
        with as_operator(c):
            c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
            assert one(c, "SELECT insforge.jwt_secret_configured()") is True
        # The ledger (owned by project_admin, like everything a project creates), a settlement, realtime.
        with as_operator(c):
            assert one(c, "SELECT x402.install_ledger()::text") == "x402_payments"
            assert one(c, "SELECT x402.enable_realtime()").startswith("public.x402_payments publishes")
            row = c.execute("SELECT tx_hash, status, payer_address FROM x402.record_settlement(%s::jsonb, %s::jsonb,"
                            " %s::jsonb, '/api/joke')", settlements[1].args()).fetchone()
            assert row == (settlements[1].tx_hash, "settled", settlements[1].payer)
            # project_admin may register an asset of its own.
            c.execute("INSERT INTO x402.assets VALUES ('eip155:8453', '0x833589fcd6edb6e08f4c7c32d4f71b54bda02913',"
                      " 'USD Coin', '2', 6, 'USDC')")
        assert one(c, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.x402_payments'::regclass") \
            == "project_admin"
        assert one(c, "SELECT count(*) FROM realtime.published") == 1
        assert one(c, "SELECT count(*) FROM realtime.channels WHERE pattern = 'x402_payments'") == 1
        # The advisor, as project_admin: nothing to fix.
        with as_operator(c):
            rows = c.execute("SELECT level, name, detail FROM insforge.advise() WHERE level IN ('ERROR', 'WARN')"
                             ).fetchall()
        assert rows == [], rows
        # ALTER EXTENSION UPDATE as project_admin (at the current version: a no-op that must work).
        with as_operator(c):
            c.execute("ALTER EXTENSION insforge_integrations UPDATE")
    token = pyjwt.encode({**claims_for(USERS[0]), "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    with cluster.connect(project, user="authenticator") as conn:
        with conn.transaction():
            assert one(conn, "SELECT insforge.authenticate(%s)", token) == USERS[0]
            conn.execute("INSERT INTO notes(body) VALUES ('mine')")
            assert conn.execute("SELECT user_id FROM notes").fetchall() == [(USERS[0],)]
        with postgrest_request(conn, claims_for(USERS[1]), method="POST") as cur:
            cur.execute("INSERT INTO notes(body) VALUES ('theirs')")
            assert cur.execute("SELECT user_id FROM notes").fetchall() == [(USERS[1],)]
        with postgrest_request(conn, None, role="anon") as cur:
            assert one(cur, "SELECT count(*) FROM public.x402_payments") == 1  # the guide's public read
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute("DELETE FROM public.x402_payments")
    # DROP EXTENSION as project_admin: the policies stay and keep working on the SQL helper. The
    # realtime trigger calls the extension's x402.publish_payment(), so Postgres asks for CASCADE,
    # which removes that trigger (and nothing of the project's: the ledger and its rows stay).
    with cluster.connect(project) as c:
        policies = c.execute("SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy ORDER BY 1").fetchall()
        with pytest.raises(psycopg.errors.DependentObjectsStillExist, match="x402_payments_realtime"):
            with as_operator(c):
                c.execute("DROP EXTENSION insforge_integrations")
        with as_operator(c):
            c.execute("DROP EXTENSION insforge_integrations CASCADE")
        assert c.execute("SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy ORDER BY 1").fetchall() \
            == policies
        assert one(c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'x402_payments_realtime'") == 0
        assert one(c, "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
                      " WHERE p.oid = %s", helper_oid) == "sql"
        assert one(c, "SELECT count(*) FROM public.x402_payments") == 1  # user data, not a member
    with cluster.connect(project, user="authenticator") as conn:
        with postgrest_request(conn, claims_for(USERS[1])) as cur:
            assert cur.execute("SELECT user_id, body FROM notes").fetchall() == [(USERS[1], "theirs")]
    # CREATE EXTENSION again as project_admin: native again, same function.
    with cluster.connect(project) as c:
        with as_operator(c):
            c.execute("CREATE EXTENSION insforge_integrations")
        assert one(c, "SELECT insforge.native_requesting_user_id_installed()") is True
        assert one(c, "SELECT to_regprocedure('public.requesting_user_id()')::oid") == helper_oid
        with as_operator(c):  # operator rights come back with it
            c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))


# -- 1. everyone else is refused, and nothing changes ------------------------------------------------------------

def test_administrative_functions_refuse_everyone_but_the_operator(cluster, db):
    with cluster.connect(db) as c:
        c.execute(REALTIME_STANDIN)
        c.execute("DROP ROLE IF EXISTS op_someone")
        c.execute("DROP ROLE IF EXISTS op_client_login")
        c.execute("CREATE ROLE op_someone LOGIN")
        c.execute("CREATE ROLE op_client_login LOGIN IN ROLE anon, authenticated")
        states = {call: c.execute(check).fetchall() for call, check in ADMIN_CALLS.items()}
    try:
        for user, role in [("authenticator", "anon"), ("authenticator", "authenticated"), ("op_client_login", None),
                           ("op_someone", None), ("authenticator", None)]:
            with cluster.connect(db, user=user) as conn:
                if role:
                    conn.execute(f"SET ROLE {role}")
                for call in ADMIN_CALLS:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
                        conn.execute(f"SELECT {call}")
                    message = str(err.value)
                    assert "may be run only by the operator: project_admin or a superuser" in message, (call, message)
                    assert f"current role: {role or user}" in message, message
                    assert "grant_operator" in (err.value.diag.message_hint or "")
                # The privileged halves are closed to them too (Postgres's own ACL check).
                for inner in ("insforge._set_jwt_secret('k')", "insforge._adopt_requesting_user_id(true)",
                              "insforge._release_requesting_user_id()",
                              "insforge._grant_operator(current_user::regrole, true)",
                              "insforge.lint_jwt_secret_exposed()", "insforge._jwt_key()",
                              "x402._nonce_recorded('eip155:196', '0x00', '0x00', '0x00')"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
                        conn.execute(f"SELECT {inner}")
        with cluster.connect(db) as c:
            assert {call: c.execute(check).fetchall() for call, check in ADMIN_CALLS.items()} == states
    finally:
        with cluster.connect(db) as c:
            c.execute("DROP ROLE op_someone")
            c.execute("DROP ROLE op_client_login")


def test_grant_operator_for_another_admin_role(cluster, db):
    with cluster.connect(db) as c:
        c.execute("CREATE ROLE ops_admin LOGIN")
    try:
        with cluster.connect(db, user="ops_admin") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="project_admin"):
                conn.execute(f"SELECT insforge.set_jwt_secret('{SECRET}')")
        with cluster.connect(db) as c:
            with as_operator(c):  # project_admin may make another role an operator ...
                assert one(c, "SELECT insforge.grant_operator('ops_admin')") == \
                    "granted: ops_admin may operate insforge_integrations"
                for client in ("anon", "authenticated"):  # ... but never a client role
                    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="client role"):
                        with c.transaction():
                            c.execute("SELECT insforge.grant_operator(%s)", (client,))
        with cluster.connect(db, user="ops_admin") as conn:
            conn.execute(f"SELECT insforge.set_jwt_secret('{SECRET}')")
            assert one(conn, "SELECT insforge.jwt_secret_configured()") is True
            assert conn.execute("SELECT * FROM insforge.advise() WHERE name = 'jwt_secret_exposed'").fetchall() == []
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # still no way to read the key
                conn.execute("SELECT key FROM insforge.jwt_secret")
        with cluster.connect(db) as c:
            assert one(c, "SELECT insforge.revoke_operator('ops_admin')").startswith("revoked")
        with cluster.connect(db, user="ops_admin") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="project_admin"):
                conn.execute("SELECT insforge.set_jwt_secret(NULL)")
        with cluster.connect(db) as c:
            assert one(c, "SELECT insforge.jwt_secret_configured()") is True
    finally:
        with cluster.connect(db) as c:
            c.execute("DROP OWNED BY ops_admin")
            c.execute("DROP ROLE ops_admin")


def test_the_key_stays_unreadable_for_the_operator(cluster, db):
    """project_admin writes the key but never reads it back, on any path."""
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
            for sql in ("SELECT key FROM insforge.jwt_secret", "SELECT insforge._jwt_key()"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with c.transaction():
                        c.execute(sql)
            rows = c.execute("SELECT * FROM insforge.advise()").fetchall()
            assert SECRET not in json.dumps(rows, default=str)
            # A malformed key is refused without echoing it, and changes nothing.
            with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
                with c.transaction():
                    c.execute("SELECT insforge.set_jwt_secret('{\"kty\": \"oct\", \"k\": 7, \"x\": \"" + SECRET + "\"}')")
            assert SECRET not in str(err.value)
        assert one(c, "SELECT insforge.jwt_secret_configured()") is True
