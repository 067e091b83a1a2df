"""Versions and upgrades.

* Every C symbol a released version's script names (sql/insforge_integrations--0.1.0.sql,
  --0.2.0.sql, frozen) exists in today's library: a database still on an older catalog runs
  today's library the moment it is installed.
* `ALTER EXTENSION insforge_integrations UPDATE` from each released version gives exactly the
  catalog of a fresh install of the current version (every member function, table, type, schema,
  event trigger, privilege, initial privilege and comment), so every SQL change must ship in the
  update scripts (generated: tools/gen_update.py).
* The released versions' scripts are not installed (SECURITY.md, "Scripts"); these tests put
  them in place for their own duration (released_versions()).
* An update of a database with data, run by project_admin as InsForge runs it: the adopted
  helper with its policies, the stored key, ledger rows, the realtime trigger and database/role
  settings under their 0.1.0 names all survive, and everything works afterwards.
* Data the update cannot carry (an old setting name in a configuration file, or both names set
  differently) makes it refuse with 55000 and change nothing.

These tests run on their own InsForge-like cluster (port 55460), because they change
cluster-wide configuration (postgresql.conf) and role settings.
"""
import json
import re
import subprocess
import time
from pathlib import Path

import jwt as pyjwt
import psycopg
import pytest
from conftest import claims_for
from pgcluster import FIXTURES, ROOT, Cluster, as_operator, frozen_scripts, postgrest_request, released_versions

import load_settlements as L

EXT = "insforge_integrations"
RELEASED = ROOT / "sql" / f"{EXT}--0.1.0.sql"
SECRET = "upgrade-test-jwt-secret-0123456789abcdef-0123456789abcdef-01"
USERS = ["user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "auth0|64b1f0c2e4a7d9b3c5e6f708"]
GUIDE_HELPER = """CREATE FUNCTION public.requesting_user_id() RETURNS text LANGUAGE sql STABLE
                  AS $$ SELECT auth.jwt() ->> 'sub' $$"""
REALTIME_STANDIN = (FIXTURES / "realtime.sql").read_text()  # InsForge's realtime schema, a stand-in


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def current_version(conn):
    return one(conn, "SELECT default_version FROM pg_available_extensions WHERE name = %s", EXT)


RELEASED_VERSIONS = sorted({f.name[len(EXT) + 2:-4].split("--")[0] for f in frozen_scripts()},
                           key=lambda v: tuple(int(x) for x in v.split(".")))


@pytest.fixture(scope="module")
def up():
    c = Cluster(port=55460)
    c.start()
    try:
        with released_versions():
            yield c
    finally:
        c.cleanup()


@pytest.fixture(scope="module")
def signed():
    settlements, _ = L.make_settlements(40, seed=9)
    return settlements


# -- the released script and its symbols ------------------------------------------------------------------

def test_released_scripts_and_their_symbols(up):
    with up.connect() as c:
        versions = {v for (v,) in c.execute(
            "SELECT version FROM pg_available_extension_versions WHERE name = %s", (EXT,))}
        default = current_version(c)
        paths = {(s, t): p for s, t, p in c.execute(
            "SELECT source, target, path FROM pg_extension_update_paths(%s) WHERE path IS NOT NULL", (EXT,))}
    assert set(RELEASED_VERSIONS) | {default} == versions
    for old in RELEASED_VERSIONS:  # one direct script each (the frozen 0.1.0 -> 0.2.0 is never used)
        assert paths[(old, default)] == f"{old}--{default}"
    libdir = Path(subprocess.check_output([up.bin / "pg_config", "--pkglibdir"], text=True).strip())
    exported = set(subprocess.check_output(["nm", "-D", "--defined-only", str(libdir / f"{EXT}.so")],
                                           text=True).split())
    sharedir = Path(subprocess.check_output([up.bin / "pg_config", "--sharedir"], text=True).strip())
    for script in [ROOT / "sql" / f"{EXT}--{v}.sql" for v in RELEASED_VERSIONS] + [
            sharedir / "extension" / f"{EXT}--{default}.sql"]:
        symbols = set(re.findall(r"'MODULE_PATHNAME',\s*'([A-Za-z0-9_]+)'", script.read_text()))
        symbols |= set(re.findall(r"AS 'MODULE_PATHNAME', '([A-Za-z0-9_]+)'", script.read_text()))
        assert len(symbols) > 20, script
        missing = sorted(s for s in symbols if s not in exported)
        assert not missing, f"{script.name} names C symbols the library no longer exports: {missing}"


def test_a_database_on_0_1_0_stays_safe_under_the_new_library(up):
    """Before ALTER EXTENSION UPDATE, 0.1.0's set_jwt_secret() (executable by everyone) reaches
    today's code: it must still refuse non-superusers."""
    up.create_database("old_catalog", extension=False)
    with up.connect("old_catalog") as c:
        c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
        c.execute("create role old_catalog_login login")
    with up.connect("old_catalog", user="old_catalog_login") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="project_admin or a superuser"):
            c.execute("SELECT insforge.set_jwt_secret('attacker-chosen-key-0123456789abcdef')")
    with up.connect("old_catalog") as c:
        assert one(c, "SELECT insforge.jwt_secret_configured()") is False
        c.execute("drop role old_catalog_login")


# -- fresh install == 0.1.0 + update ------------------------------------------------------------------------

MEMBERS = f"""
    SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass AND e.extname = '{EXT}'"""

CATALOG = {
    "functions": f"""
        SELECT p.oid::regprocedure::text, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
               l.lanname, p.prosrc, p.probin, p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof,
               p.proparallel, p.procost, p.prorows, p.proconfig, p.proacl::text,
               obj_description(p.oid, 'pg_proc'), pg_get_userbyid(p.proowner)
          FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
          JOIN ({MEMBERS}) m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
         ORDER BY 1""",
    "relations": f"""
        SELECT c.oid::regclass::text, c.relkind, c.relacl::text, c.relrowsecurity, obj_description(c.oid, 'pg_class'),
               pg_get_userbyid(c.relowner),
               (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
                                 || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '') ORDER BY a.attnum)
                  FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
               (SELECT array_agg(conname || ' ' || pg_get_constraintdef(oid) ORDER BY conname)
                  FROM pg_constraint WHERE conrelid = c.oid),
               (SELECT array_agg(pg_get_indexdef(indexrelid) ORDER BY 1) FROM pg_index WHERE indrelid = c.oid),
               (SELECT array_agg(polname || ' ' || polcmd::text || ' ' || coalesce(pg_get_expr(polqual, polrelid), '')
                                 ORDER BY polname) FROM pg_policy WHERE polrelid = c.oid)
          FROM pg_class c JOIN ({MEMBERS}) m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
         ORDER BY 1""",
    "types": f"""
        SELECT t.oid::regtype::text, t.typtype,
               (SELECT array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                  FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0)
          FROM pg_type t JOIN ({MEMBERS}) m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
         ORDER BY 1""",
    "schemas": f"""
        SELECT n.nspname, n.nspacl::text, obj_description(n.oid, 'pg_namespace'), pg_get_userbyid(n.nspowner)
          FROM pg_namespace n WHERE n.nspname IN ('insforge', 'x402') ORDER BY 1""",
    "event_triggers": f"""
        SELECT t.evtname, t.evtevent, t.evtfoid::regproc::text, t.evttags, t.evtenabled
          FROM pg_event_trigger t JOIN ({MEMBERS}) m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = t.oid
         ORDER BY 1""",
    "member_count": f"SELECT classid::regclass::text, count(*) FROM ({MEMBERS}) m GROUP BY 1 ORDER BY 1",
    "init_privs": f"""
        SELECT pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, i.initprivs::text
          FROM pg_init_privs i JOIN ({MEMBERS}) m ON m.classid = i.classoid AND m.objid = i.objoid
         ORDER BY 1""",
    "extension": f"SELECT extconfig::regclass[]::text[], extcondition, extversion, pg_get_userbyid(extowner)"
                 f" FROM pg_extension WHERE extname = '{EXT}'",
    "assets": "SELECT * FROM x402.assets ORDER BY 1, 2",
}


def catalog(conn):
    return {k: conn.execute(q).fetchall() for k, q in CATALOG.items()}


@pytest.mark.parametrize("old", RELEASED_VERSIONS)
def test_update_gives_the_catalog_of_a_fresh_install(up, old):
    up.create_database("fresh")  # CREATE EXTENSION by project_admin, as InsForge runs it
    up.create_database("updated", extension=False)
    with up.connect("updated") as c:
        c.execute(f"CREATE EXTENSION {EXT} VERSION '{old}'")  # a released version: a superuser's
        with as_operator(c):
            c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        updated = catalog(c)
    with up.connect("fresh") as c:
        fresh = catalog(c)
    for part in CATALOG:
        if fresh[part] != updated[part]:
            only_fresh = [r for r in fresh[part] if r not in updated[part]]
            only_updated = [r for r in updated[part] if r not in fresh[part]]
            pytest.fail(f"{part} differ between a fresh install and {old} + update:\n"
                        f"  fresh only:   {only_fresh}\n  updated only: {only_updated}")


# -- an update with data, run the InsForge way ----------------------------------------------------------------

def state(conn):
    q = {
        "helper_oid": "SELECT to_regprocedure('public.requesting_user_id()')::oid",
        "native": "SELECT insforge.native_requesting_user_id_installed()",
        "policies": "SELECT tablename, policyname, roles::text, cmd, qual, with_check FROM pg_policies ORDER BY 1, 2",
        "notes": "SELECT id, user_id, body FROM public.notes ORDER BY id",
        "ledger": "SELECT id, tx_hash, amount, payer_address, status, created_at, payload FROM public.x402_payments"
                  " ORDER BY tx_hash",
        "ledger_owner": "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.x402_payments'::regclass",
        "triggers": "SELECT tgname, tgfoid::regproc::text, tgargs FROM pg_trigger"
                    " WHERE tgrelid = 'public.x402_payments'::regclass AND NOT tgisinternal",
        "key": "SELECT insforge.jwt_secret_configured()",
        "assets": "SELECT * FROM x402.assets WHERE NOT builtin ORDER BY 1, 2",  # the user's rows
    }
    return {k: conn.execute(v).fetchall() for k, v in q.items()}


def settings_of(conn, db):
    """The extension's settings in pg_db_role_setting for this database, its roles, and all databases."""
    return sorted((s.split("=", 1)[0], s.split("=", 1)[1], r)
                  for r, s in conn.execute(
                      "SELECT coalesce(pg_get_userbyid(nullif(setrole, 0)), '*'), unnest(setconfig)"
                      " FROM pg_db_role_setting WHERE setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = %s))",
                      (db,)).fetchall()
                  if s.startswith(("insforge.", "insforge_integrations.")))


def populate_0_1_0(cluster, db, settlements):
    """A project on 0.1.0 as its guides and our 0.1.0 README had it: the guide's helper and owner
    policies adopted, the key stored, the ledger installed with settlements, realtime enabled,
    validation settings under their 0.1.0 names (0.1.0's administrative functions were superuser-only)."""
    cluster.create_database(db, extension=False)
    with cluster.connect(db) as c:
        c.execute(REALTIME_STANDIN)
        with as_operator(c):
            c.execute(GUIDE_HELPER)
            c.execute((FIXTURES / "notes.sql").read_text())
        with as_operator(c):
            c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
        assert one(c, "SELECT insforge.adopt_requesting_user_id()").startswith("adopted")
        c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute("SELECT x402.install_ledger()")
        c.execute("SELECT x402.enable_realtime()")
        for k in range(1, 6):
            c.execute("SELECT * FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/api/joke')",
                      settlements[k].args())
        # InsForge's ownership sweep (migration 063) hands every table in public to project_admin.
        c.execute("ALTER TABLE public.x402_payments OWNER TO project_admin")
        c.execute(f'ALTER DATABASE "{db}" SET insforge.jwt_audience = \'insforge-api\'')
        c.execute(f'ALTER DATABASE "{db}" SET insforge.jwt_leeway = 60')
        c.execute(f'ALTER ROLE authenticator IN DATABASE "{db}" SET insforge.strict = on')
    with cluster.connect(db, user="authenticator") as conn:
        for u in USERS:
            with postgrest_request(conn, claims_for(u), method="POST") as cur:
                cur.execute("INSERT INTO notes(body) VALUES (%s)", (f"note of {u}",))


def test_update_with_data_run_by_project_admin(up, signed):
    db = "with_data"
    populate_0_1_0(up, db, signed)
    with up.connect(db) as c:
        before = state(c)
        assert before["native"] == [(True,)] and len(before["ledger"]) == 5 and before["triggers"]
        assert len(c.execute("SELECT * FROM realtime.published").fetchall()) == 5
        assert settings_of(c, db) == [("insforge.jwt_audience", "insforge-api", "*"),
                                      ("insforge.jwt_leeway", "60", "*"),
                                      ("insforge.strict", "on", "authenticator")]
        with as_operator(c):
            c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == current_version(c)
        assert state(c) == before, "the update changed user data, policies, the key or the helper"
        assert settings_of(c, db) == [("insforge_integrations.jwt_audience", "insforge-api", "*"),
                                      ("insforge_integrations.jwt_leeway", "60", "*"),
                                      ("insforge_integrations.strict", "on", "authenticator")]
    # Everything works afterwards: the native helper under policies, strict mode under its new name,
    # the stored key with authenticate(), the ledger and realtime, the operator's functions.
    token = pyjwt.encode({**claims_for(USERS[0]), "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    with up.connect(db, user="authenticator") as conn:
        assert one(conn, "SHOW insforge_integrations.strict") == "on"
        for u in USERS:
            with postgrest_request(conn, claims_for(u)) as cur:
                assert cur.execute("SELECT user_id FROM notes").fetchall() == [(u,)]
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="audience"):
            with postgrest_request(conn, {**claims_for(USERS[0]), "aud": "elsewhere"}) as cur:
                cur.execute("SELECT requesting_user_id()")
        with conn.transaction():
            assert one(conn, "SELECT insforge.authenticate(%s)", token) == USERS[0]
            assert one(conn, "SELECT count(*) FROM notes") == 1
    with up.connect(db) as c:
        # The update leaves the ledger to its owner, who brings it up to date; then it carries the
        # journal: an intent, completed by its settlement, published once.
        with as_operator(c):
            assert one(c, "SELECT x402.install_ledger()::text") == "x402_payments"
        with as_operator(c):
            assert c.execute("SELECT status FROM x402.begin_settlement(%s::jsonb, %s::jsonb)",
                             signed[6].args()[:2]).fetchone() == ("pending",)
            row = c.execute("SELECT tx_hash, status FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)",
                            signed[6].args()).fetchone()
            assert row == (signed[6].tx_hash, "settled")
            assert one(c, "SELECT insforge.adopt_requesting_user_id()").startswith("unchanged")
            c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
            assert one(c, "SELECT x402.install_ledger()::text") == "x402_payments"
        assert len(c.execute("SELECT * FROM realtime.published").fetchall()) == 6
        assert one(c, "SELECT count(*) FROM public.x402_payments") == 6


def test_update_refuses_an_old_setting_name_in_a_configuration_file(up):
    db = "conf_old_name"
    up.create_database(db, extension=False)
    with up.connect(db) as c:
        c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
        c.execute(f'ALTER DATABASE "{db}" SET insforge.jwt_issuers = \'https://issuer.example\'')
    conf = up.data / "postgresql.conf"
    original = conf.read_text()

    def configure(extra):
        conf.write_text(original + extra)
        with up.connect() as c:
            c.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)

    configure("\ninsforge.strict = on\n")
    try:
        with up.connect(db) as c:
            before = settings_of(c, db)
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState,
                               match=r"insforge.strict = 'on' in .*postgresql.conf line \d+") as err:
                with as_operator(c):
                    c.execute(f"ALTER EXTENSION {EXT} UPDATE")
            assert "Nothing was changed" in (err.value.diag.message_hint or "")
            assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == "0.1.0"
            assert settings_of(c, db) == before
        # The documented fix: the new name beside (or instead of) the old one.
        configure("\ninsforge.strict = on\ninsforge_integrations.strict = on\n")
        with up.connect(db) as c:
            with as_operator(c):
                c.execute(f"ALTER EXTENSION {EXT} UPDATE")
            assert settings_of(c, db) == [("insforge_integrations.jwt_issuers", "https://issuer.example", "*")]
    finally:
        configure("")


def test_update_refuses_both_names_set_differently(up):
    db = "both_names"
    up.create_database(db, extension=False)
    with up.connect(db) as c:
        c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
        c.execute(f'ALTER DATABASE "{db}" SET insforge.jwt_roles = \'anon,authenticated\'')
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_roles = \'authenticated\'')
        before = settings_of(c, db)
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="both names are set"):
            with as_operator(c):
                c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == "0.1.0"
        assert settings_of(c, db) == before
        c.execute(f'ALTER DATABASE "{db}" RESET insforge.jwt_roles')
        with as_operator(c):
            c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        assert settings_of(c, db) == [("insforge_integrations.jwt_roles", "authenticated", "*")]


def test_a_ledger_that_cannot_carry_the_journal_is_refused_after_the_update(up, signed):
    """0.1.0 could record one authorization under two transaction hashes as two settled payments;
    since 0.2.0 one settled row per authorization is allowed. The update itself leaves the ledger
    alone (it is the operator's table); x402.install_ledger(), run by its owner afterwards, refuses
    (23505), names them, and changes nothing; after the operator marks the second one disputed, it
    goes through."""
    db = "reused_nonce"
    up.create_database(db, extension=False)
    s = signed[7]
    second_tx = "0x" + "cd" * 32
    with up.connect(db) as c:
        c.execute(f"CREATE EXTENSION {EXT} VERSION '0.1.0'")
        c.execute("SELECT x402.install_ledger()")
        c.execute("SELECT x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)", s.args())
        c.execute("SELECT x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)",
                  (*s.args()[:2], json.dumps({**s.settlement, "transaction": second_tx})))
        c.execute("ALTER TABLE public.x402_payments OWNER TO project_admin")  # InsForge's sweep
        before = c.execute("SELECT id, tx_hash, status FROM public.x402_payments ORDER BY tx_hash").fetchall()
        assert [r[2] for r in before] == ["settled", "settled"]
        with as_operator(c):
            c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == current_version(c)
        with pytest.raises(psycopg.errors.UniqueViolation, match="one authorization as settled more than once") as err:
            with as_operator(c):
                c.execute("SELECT x402.install_ledger()")
        assert s.nonce in str(err.value) and second_tx in str(err.value)
        assert c.execute("SELECT id, tx_hash, status FROM public.x402_payments ORDER BY tx_hash").fetchall() == before
        with as_operator(c):
            c.execute("UPDATE public.x402_payments SET status = 'disputed' WHERE tx_hash = %s", (second_tx,))
            c.execute("SELECT x402.install_ledger()")
        assert one(c, "SELECT revenue FROM x402.stats() WHERE endpoint IS NULL") == s.amount


# -- the user's own objects over the previous release survive the update ------------------------------------------

PUBLIC_API = f"""
    SELECT p.oid::regprocedure::text, p.oid::regproc::text, pg_get_function_identity_arguments(p.oid),
           p.proretset, p.prorettype::regtype::text, p.provariadic <> 0,
           (SELECT array_agg(format_type(t, NULL) ORDER BY i)
              FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t, i))
      FROM pg_proc p JOIN ({MEMBERS}) m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
     WHERE p.proname NOT LIKE '\\_%' AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
     ORDER BY 1"""


def call_sql(proc, args, variadic, returns_set):
    """A call of the function with NULLs of its argument types."""
    nulls = [f"NULL::{t}" for t in (args or [])]
    if variadic and nulls:
        nulls[-1] = "VARIADIC " + nulls[-1]
    call = f"{proc}({', '.join(nulls)})"
    return f"SELECT * FROM {call}" if returns_set else f"SELECT {call}"


def test_update_keeps_views_and_functions_over_the_previous_release(up):
    """On 0.2.0, the user (project_admin) makes a view and a BEGIN ATOMIC function over every public
    function and relation of the extension; ALTER EXTENSION ... UPDATE keeps them (no 2BP01: nothing
    they depend on is dropped and made anew), and afterwards each still runs: no undefined function
    or type, no changed result type."""
    previous = RELEASED_VERSIONS[-1]
    db = "users_objects"
    up.create_database(db, extension=False)
    with up.connect(db) as c:
        c.execute(f"CREATE EXTENSION {EXT} VERSION '{previous}'")
        api = c.execute(PUBLIC_API).fetchall()
        assert len(api) > 40
        made = []
        with as_operator(c):
            for n, (sig, proc, _, retset, rettype, variadic, args) in enumerate(api):
                sql = call_sql(proc, args, variadic, retset)
                if rettype != "void":
                    c.execute(f"CREATE VIEW public.dep_view_{n} AS {sql}")
                    made.append(f"SELECT * FROM public.dep_view_{n}")
                c.execute(f"CREATE FUNCTION public.dep_fn_{n}() RETURNS void LANGUAGE sql BEGIN ATOMIC {sql}; END")
                made.append(f"SELECT public.dep_fn_{n}()")
            c.execute("CREATE VIEW public.dep_assets AS SELECT network, asset, eip712_name FROM x402.assets")
            c.execute("CREATE VIEW public.dep_payment_type AS SELECT (NULL::x402.payment).tx_hash")
            made += ["SELECT * FROM public.dep_assets", "SELECT * FROM public.dep_payment_type"]
        deps = one(c, "SELECT count(*) FROM pg_depend d JOIN pg_class v ON v.oid = d.objid"
                      " WHERE v.relname LIKE 'dep\\_%%'")
        assert deps > 0
        with as_operator(c):
            c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == current_version(c)
        broken = []
        for sql in made:
            try:
                with c.transaction():
                    c.execute(sql)
            except psycopg.Error as e:
                message = str(e).splitlines()[0]
                # Postgres's own "function/type ... does not exist", a result of another type, or a
                # crash: what an update that dropped or changed something they use would give.
                # Anything else is the function's own answer to NULL arguments (22023, 42501, ...,
                # or enable_realtime's 42883 where InsForge's realtime is missing): it ran.
                if (isinstance(e, (psycopg.errors.DatatypeMismatch, psycopg.errors.InternalError))
                        or re.match(r"(function|type) .* does not exist", message)):
                    broken.append((sql, type(e).__name__, message))
        assert broken == [], broken
