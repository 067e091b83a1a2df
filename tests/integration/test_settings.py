"""The operator configures its database: every setting the docs ask a project to set, through
insforge.set_setting() as project_admin (InsForge never hands a project a superuser), reaching
pooled connections at their next transaction, unchangeable by clients on any route, surviving
pg_dump/restore; a superuser's ALTER DATABASE/ROLE ... SET keeps working and takes precedence."""
import json
import subprocess
import time

import psycopg
import pytest
from conftest import claims_for
from pgcluster import as_operator, postgrest_request

SETTINGS = {  # name: (value given, canonical value)
    "strict": ("yes", "on"),
    "claims_source": ("Verified", "verified"),
    "jwt_audience": (" insforge-api , other ", "insforge-api,other"),
    "jwt_issuers": ("https://clerk.example.com", "https://clerk.example.com"),
    "jwt_roles": ("anon, authenticated", "anon,authenticated"),
    "jwt_leeway": ("2min", "120"),
    "jwt_providers": ("clerk,auth0", "clerk,auth0"),
}


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def effective(conn):
    return {n.split(".", 1)[1]: (v, s) for n, v, s in conn.execute("SELECT name, value, source FROM insforge.settings()")}


def test_project_admin_sets_every_setting(cluster, db):
    with cluster.connect(db) as c:
        for name, (given, canonical) in SETTINGS.items():
            with as_operator(c):
                msg = one(c, "SELECT insforge.set_setting(%s, %s)", name, given)
            assert msg.startswith(f"insforge_integrations.{name} = '{canonical}' for database {db}"), msg
        assert dict(c.execute("SELECT name, value FROM insforge.database_settings")) == \
            {n: v for n, (_, v) in SETTINGS.items()}
        assert effective(c) == {n: (v, "operator") for n, (_, v) in SETTINGS.items()}
        with as_operator(c):  # the prefix is accepted too; NULL resets
            one(c, "SELECT insforge.set_setting('insforge_integrations.strict', 'off')")
            assert one(c, "SELECT insforge.set_setting('strict', NULL)").startswith(
                "insforge_integrations.strict is back to its default")
        assert effective(c)["strict"] == ("off", "default")


@pytest.mark.parametrize("name,value,message", [
    ("strict", "maybe", "requires a Boolean value"),
    ("jwt_leeway", "-1", "outside the valid range"),
    ("jwt_leeway", "ten", "invalid value"),
    ("claims_source", "trusted", "invalid value"),
    ("jwt_providers", "clerk,okta", "unknown provider okta"),
    ("jwt_roles", "anon,postgres", "role postgres is a superuser"),
    ("verified_claims", "{}", "not a setting the operator may set"),
    ("search_path", "public", "not a setting the operator may set"),
])
def test_bad_values_are_refused_and_change_nothing(cluster, db, name, value, message):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT insforge.set_setting('jwt_leeway', '45')")
        before = c.execute("SELECT * FROM insforge.database_settings ORDER BY 1").fetchall()
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            with as_operator(c):
                c.execute("SELECT insforge.set_setting(%s, %s)", (name, value))
        with pytest.raises(psycopg.errors.InvalidParameterValue):  # a direct write gets the same check
            with as_operator(c):
                c.execute("INSERT INTO insforge.database_settings(name, value) VALUES (%s, %s)"
                          " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))
        assert c.execute("SELECT * FROM insforge.database_settings ORDER BY 1").fetchall() == before


def test_a_change_reaches_a_pooled_connection_at_its_next_transaction(cluster, db):
    expired = {**claims_for("user_old"), "exp": int(time.time()) - 3600}
    with cluster.connect(db, user="authenticator") as pooled, cluster.connect(db) as admin:
        with postgrest_request(pooled, expired) as cur:
            assert cur.execute("SELECT requesting_user_id()").fetchone() == ("user_old",)
        with as_operator(admin):
            admin.execute("SELECT insforge.set_setting('strict', 'on')")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
            with postgrest_request(pooled, expired) as cur:
                cur.execute("SELECT requesting_user_id()")
        with as_operator(admin):
            admin.execute("SELECT insforge.set_setting('claims_source', 'verified')")
        with postgrest_request(pooled, claims_for("user_forged")) as cur:  # hand-written claims: nobody
            assert cur.execute("SELECT requesting_user_id()").fetchone() == (None,)
        with as_operator(admin):
            admin.execute("SELECT insforge.reset_setting('claims_source'); SELECT insforge.reset_setting('strict')")
        with postgrest_request(pooled, expired) as cur:
            assert cur.execute("SELECT requesting_user_id()").fetchone() == ("user_old",)


def test_parallel_workers_follow_the_operators_settings(cluster, db):
    expired = {**claims_for("user_p"), "exp": int(time.time()) - 3600}
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE par AS SELECT g AS id, 'user_p' AS user_id FROM generate_series(1, 200000) g")
        c.execute("ANALYZE par")
        with as_operator(c):
            c.execute("SELECT insforge.set_setting('strict', 'on')")
    with cluster.connect(db) as conn:
        conn.execute("SET debug_parallel_query = on" if one(conn, "SHOW server_version_num").startswith(("16", "17", "18"))
                     else "SET force_parallel_mode = on")
        conn.execute("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET max_parallel_workers_per_gather = 2")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
            with conn.transaction():
                conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(expired),))
                conn.execute("SELECT count(*) FROM par WHERE user_id = insforge.requesting_user_id()")


def test_clients_cannot_change_any_setting(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT insforge.set_setting('claims_source', 'verified')")
    attempts = [
        "SELECT insforge.set_setting('claims_source', 'setting')",
        "SELECT insforge.reset_setting('claims_source')",
        "UPDATE insforge.database_settings SET value = 'setting'",
        "DELETE FROM insforge.database_settings",
        "INSERT INTO insforge.database_settings VALUES ('strict', 'off')",
        "TRUNCATE insforge.database_settings",
        "SELECT set_config('insforge_integrations.claims_source', 'setting', true)",
        "SET insforge_integrations.strict = off",
    ]
    with cluster.connect(db, user="authenticator") as conn:
        for role in ("anon", "authenticated"):
            for sql in attempts:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with postgrest_request(conn, {"role": role, "sub": "u"}) as cur:
                        cur.execute("SELECT insforge.role()")  # the library is loaded (as after any request)
                        cur.execute(sql)
    # Before the library is loaded in a session, a SET of its names is a placeholder anyone may
    # write; loading the library discards a placeholder a non-superuser set.
    with cluster.connect(db, user="authenticator") as fresh:
        with postgrest_request(fresh, claims_for("user_forged")) as cur:
            cur.execute("SELECT set_config('insforge_integrations.claims_source', 'setting', true)")
            assert cur.execute("SELECT requesting_user_id()").fetchone() == (None,)
    with cluster.connect(db) as c:
        assert effective(c)["claims_source"] == ("verified", "operator")


def test_a_superusers_setting_takes_precedence(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT insforge.set_setting('jwt_leeway', '10')")
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_leeway = 99')
    with cluster.connect(db) as c:  # a new session: ALTER DATABASE applies at session start
        assert effective(c)["jwt_leeway"] == ("99", "superuser")
        with as_operator(c):
            assert "a superuser's setting takes precedence here: 99" in one(c, "SELECT insforge.set_setting('jwt_leeway', '5')")
        c.execute(f'ALTER DATABASE "{db}" RESET insforge_integrations.jwt_leeway')
    with cluster.connect(db) as c:
        assert effective(c)["jwt_leeway"] == ("5", "operator")


def test_settings_survive_dump_and_restore(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT insforge.set_setting('jwt_audience', 'insforge-api')")
            c.execute("SELECT insforge.set_setting('strict', 'on')")
    dump = subprocess.run([str(cluster.bin / "pg_dump"), "-h", str(cluster.base), "-p", str(cluster.port), "-U", "postgres",
                           "-Fc", db], capture_output=True, check=True).stdout
    cluster.create_database("restored_settings", insforge=False, extension=False)
    subprocess.run([str(cluster.bin / "pg_restore"), "-h", str(cluster.base), "-p", str(cluster.port), "-U", "postgres",
                    "-d", "restored_settings", "--exit-on-error"], input=dump, check=True)
    with cluster.connect("restored_settings") as c:
        assert effective(c)["jwt_audience"] == ("insforge-api", "operator")
        assert effective(c)["strict"] == ("on", "operator")


def test_the_advisor_sees_the_operators_settings_and_says_how_to_undo_them(cluster, db):
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("SELECT insforge.set_setting('jwt_audience', 'insforge-api')")
            c.execute("SELECT insforge.set_setting('strict', 'on')")
            detail, remediation, meta = c.execute(
                "SELECT detail, remediation, metadata FROM insforge.advise()"
                " WHERE name = 'validation_needs_unforwarded_claims'").fetchone()
        assert "insforge_integrations.jwt_audience = 'insforge-api' (the operator, insforge.set_setting())" in detail
        assert "strict is on" in detail and meta["strict"] == "on"
        assert "SELECT insforge.reset_setting('jwt_audience');" in remediation
        with as_operator(c):  # the remediation works, as the operator
            c.execute("SELECT insforge.reset_setting('jwt_audience')")
            assert c.execute("SELECT count(*) FROM insforge.advise() WHERE name = 'validation_needs_unforwarded_claims'"
                             ).fetchone() == (0,)
