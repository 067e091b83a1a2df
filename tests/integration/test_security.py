"""Security: who may execute what, SECURITY DEFINER hygiene, no
escalation for client roles, impersonation under verified mode, and an advisor
with nothing to say about a database set up as documented."""
import json
import time

import jwt as pyjwt
import psycopg
import pytest
from pgcluster import FIXTURES, postgrest_request

SECRET = "security-test-secret-0123456789abcdef-0123456789abcdef-0123456789"

# Functions that need not be callable by every role, and the client roles that may call them.
# The administrative entry points (adopt/release, set_jwt_secret, install_ledger, enable_realtime,
# grant/revoke_operator) are executable by everyone and refuse non-operators themselves (42501
# naming project_admin, tests below); what they call is listed here.
RESTRICTED = {
    "insforge._jwt_key()": set(),
    "insforge._make_native_in_place()": set(),
    "insforge._adopt_requesting_user_id(boolean)": {"project_admin"},
    "insforge._release_requesting_user_id()": {"project_admin"},
    "insforge._set_jwt_secret(text)": {"project_admin"},
    "insforge._grant_operator(regrole,boolean)": {"project_admin"},
    "x402.record_settlement(jsonb,jsonb,jsonb,text,text)": {"project_admin"},
    "x402.begin_settlement(jsonb,jsonb,text)": {"project_admin"},
    "x402.record_status(text,jsonb)": {"project_admin"},
    "x402._nonce_recorded(text,text,text,text)": set(),
    "x402._settlement_facts(jsonb,jsonb,jsonb)": {"project_admin"},
    "insforge._jsonb_layout_bench(text,integer)": set(),
    "x402._authorization(jsonb,jsonb)": {"project_admin"},
    "insforge._operator_privileges()": set(),
    "insforge._released_marker()": set(),
    "insforge._requesting_user_id_is_member()": set(),
    "insforge._release_before_drop()": set(),
    "insforge._setting_name(text)": {"project_admin"},
    "insforge._setting_value(text,text)": {"project_admin"},
    "insforge._settings_changed()": {"project_admin"},
    "insforge._database_settings_row()": {"project_admin"},
    "insforge.lint_jwt_secret_exposed()": {"project_admin"},
    # act_as() and explain_access() are executable by everyone and refuse non-operators; their halves:
    "insforge._act_as(jsonb,text)": {"project_admin"},
    "insforge._explain_query(text,text,text,text,text,text[],text[],text[],integer)": {"project_admin"},
    "insforge._explain_literal(text)": {"project_admin"},
    "insforge._explain_check(jsonb,text,boolean,bigint,bigint,text,jsonb,text,jsonb)": {"project_admin"},
    "insforge._explain_denial(text,text,name,jsonb,jsonb,boolean)": {"project_admin"},
    "insforge._explain_verdict(text,text,text,name,boolean,text,boolean,boolean,boolean,bigint,text,bigint,bigint,bigint,jsonb,jsonb,bigint,text,boolean)": {"project_admin"},
    # Citus (docs/citus.md): the operator's calls that also run on the workers.
    "insforge._propagate_jwt_secret(text)": {"project_admin"},
    "insforge._propagate_requesting_user_id(boolean,boolean)": {"project_admin"},
    "insforge._on_other_nodes(text,text)": set(),
}
CLIENTS = ("anon", "authenticated", "project_admin")


def extension_functions(c):
    return [r[0] for r in c.execute(
        "select p.oid::regprocedure::text from pg_proc p join pg_depend d on d.objid = p.oid"
        " and d.classid = 'pg_proc'::regclass and d.deptype = 'e'"
        " join pg_extension e on e.oid = d.refobjid and e.extname = 'insforge_integrations'").fetchall()]


def test_execute_privileges_match_what_each_role_needs(cluster, db):
    with cluster.connect(db) as c:
        c.execute("select x402.install_ledger()")
        functions = extension_functions(c)
        assert set(RESTRICTED) <= set(functions)
        for fn in functions:
            for role in CLIENTS:
                allowed = c.execute("select has_function_privilege(%s, %s, 'EXECUTE')", (role, fn)).fetchone()[0]
                if fn in RESTRICTED:
                    expected = role in RESTRICTED[fn]
                elif fn.startswith("insforge.lint_"):  # every advisor rule: the operator's (SECURITY.md)
                    expected = role == "project_admin"
                else:
                    expected = True
                assert allowed == expected, (fn, role, allowed)


def test_security_definer_functions_pin_search_path(cluster, db):
    with cluster.connect(db) as c:
        rows = c.execute(
            "select p.oid::regprocedure::text, p.proconfig from pg_proc p join pg_depend d on d.objid = p.oid"
            " and d.deptype = 'e' join pg_extension e on e.oid = d.refobjid and e.extname = 'insforge_integrations'"
            " where p.prosecdef").fetchall()
        # (tests/security/test_catalog.py checks each one's owner against SECURITY.md)
        assert {fn for fn, _ in rows} == {"insforge.jwt_secret_configured()", "insforge._jwt_key()",
                                          "insforge.lint_jwt_secret_exposed()",
                                          "insforge._adopt_requesting_user_id(boolean)",
                                          "insforge._release_requesting_user_id()",
                                          "insforge._set_jwt_secret(text)",
                                          "insforge._grant_operator(regrole,boolean)",
                                          "insforge._propagate_jwt_secret(text)",
                                          "insforge._propagate_requesting_user_id(boolean,boolean)"}
        for fn, config in rows:
            assert config and "search_path=pg_catalog, pg_temp" in config, (fn, config)
        # The extension's own tables: clients read the asset registry, the operator (project_admin)
        # also registers assets, nobody but superusers reads the key.
        for role in CLIENTS:
            assert not c.execute("select has_table_privilege(%s, 'insforge.jwt_secret', 'SELECT')", (role,)).fetchone()[0]
            assert c.execute("select has_table_privilege(%s, 'x402.assets', 'SELECT')", (role,)).fetchone()[0]
            for priv in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                expected = role == "project_admin" and priv != "TRUNCATE"
                assert c.execute("select has_table_privilege(%s, 'x402.assets', %s)", (role, priv)).fetchone()[0] \
                    == expected, (role, priv)


def token(sub, role="authenticated", **extra):
    return pyjwt.encode({"sub": sub, "role": role, "exp": int(time.time()) + 600, **extra}, SECRET, algorithm="HS256")


def test_clients_cannot_escalate(cluster, db):
    with cluster.connect(db) as c:
        c.execute("select insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute("select x402.install_ledger()")
    attempts = [
        "select insforge.set_jwt_secret('mine')",
        "select insforge._jwt_key()",
        "select * from insforge.jwt_secret",
        "select insforge.adopt_requesting_user_id(true)",
        "select insforge.release_requesting_user_id()",
        "select insforge._make_native_in_place()",
        "select x402.install_ledger()",
        "select x402.enable_realtime()",
        "insert into x402.assets values ('eip155:1', '0x" + "00" * 20 + "', 'Fake', '1', 6, 'FAKE')",
        "update x402.assets set eip712_name = 'x'",
        "set insforge_integrations.claims_source = setting",
        "set insforge_integrations.jwt_roles = 'anon,authenticated,project_admin'",
        "select set_config('insforge_integrations.verified_claims', '{\"sub\":\"admin\"}', true)",
        "alter function public.requesting_user_id() owner to authenticated",
        "create or replace function public.requesting_user_id() returns text language sql as $$ select 'victim' $$",
        "delete from public.x402_payments",
    ]
    with cluster.connect(db, user="authenticator") as conn:
        # The library loaded (as in every PostgREST connection after its first request); a SET
        # before it loads is a placeholder that loading discards (test_jwt.py tests that).
        conn.execute("select insforge.role()")
        for role in ("anon", "authenticated"):
            for sql in attempts:
                with pytest.raises(psycopg.Error) as err:
                    with postgrest_request(conn, {"role": role, "sub": "attacker"}) as cur:
                        cur.execute(sql)
                assert err.value.sqlstate == "42501", (role, sql, err.value)
        # A valid token cannot pick a role outside insforge_integrations.jwt_roles.
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="role"):
            with conn.transaction():
                conn.execute("select insforge.authenticate(%s)", (token("attacker", role="project_admin"),))
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="role"):
            with conn.transaction():
                conn.execute("select insforge.authenticate(%s)", (token("attacker", role="postgres"),))
        # The key never leaks through an error message either.
        with pytest.raises(psycopg.Error) as err:
            with conn.transaction():
                conn.execute("select insforge.authenticate('a.b.c')")
        assert SECRET not in str(err.value)


def test_impersonation_fails_under_verified_mode(cluster, db):
    with cluster.connect(db) as c:
        c.execute("select insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute((FIXTURES / "notes.sql").read_text())
        c.execute("insert into notes(user_id, body) values ('victim', 'private'), ('attacker', 'mine')")
        c.execute(f'alter database "{db}" set insforge_integrations.claims_source = verified')
    with cluster.connect(db, user="authenticator") as conn:
        # Forged claims, with or without a forged token in the headers.
        with postgrest_request(conn, {"sub": "victim", "role": "authenticated"}) as cur:
            assert cur.execute("select count(*) from notes").fetchone() == (0,)
        forged = pyjwt.encode({"sub": "victim", "role": "authenticated"}, "guessed-secret-guessed-secret-32b",
                              algorithm="HS256")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification):
            with postgrest_request(conn, {"sub": "victim", "role": "authenticated"}, token=forged) as cur:
                cur.execute("select count(*) from notes")
        # alg none, and the right claims with the signature stripped.
        none = pyjwt.encode({"sub": "victim", "role": "authenticated"}, None, algorithm="none")
        stripped = token("victim").rsplit(".", 1)[0] + "."
        for bad in (none, stripped):
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification):
                with postgrest_request(conn, {"sub": "victim", "role": "authenticated"}, token=bad) as cur:
                    cur.execute("select count(*) from notes")
        # The real token of the attacker sees only the attacker's row.
        with postgrest_request(conn, {"sub": "victim", "role": "authenticated"}, token=token("attacker")) as cur:
            assert cur.execute("select user_id from notes").fetchall() == [("attacker",)]


def test_advisor_quiet_when_installed_as_documented(cluster, db):
    with cluster.connect(db) as c:
        c.execute((FIXTURES / "notes.sql").read_text())
        c.execute("select x402.install_ledger()")
        c.execute("select insforge.set_jwt_secret(%s)", (SECRET,))
        # Strict mode on, without an audience: InsForge-minted tokens carry no aud (README, "What
        # reaches Postgres"; the advisor's validation_needs_unforwarded_claims says so otherwise).
        c.execute(f'alter database "{db}" set insforge_integrations.strict = on')
    with cluster.connect(db, user="authenticator") as conn:
        conn.execute("set role project_admin")
        rows = conn.execute("select level, name, detail from insforge.advise()").fetchall()
        assert rows == [], rows
        assert SECRET not in json.dumps(rows)


def test_every_function_has_a_comment(cluster, db):
    """\\df+ describes every function of the extension (pgrx writes no COMMENT; sql/comments.sql does)."""
    with cluster.connect(db) as c:
        missing = [r[0] for r in c.execute(
            "select p.oid::regprocedure::text from pg_proc p join pg_depend d on d.objid = p.oid and d.deptype = 'e'"
            " join pg_extension e on e.oid = d.refobjid and e.extname = 'insforge_integrations'"
            " where coalesce(obj_description(p.oid, 'pg_proc'), '') = ''").fetchall()]
    assert missing == [], missing
