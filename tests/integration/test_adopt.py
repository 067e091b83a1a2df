"""public.requesting_user_id(): created native in a fresh database, adopted in
place where the guide's SQL helper already backs policies, handed back as SQL
(never dropped) with the extension, and restored by pg_restore."""
import subprocess

import psycopg
import pytest
from conftest import claims_for
from pgcluster import FIXTURES, postgrest_request

GUIDE_HELPERS = [
    "CREATE OR REPLACE FUNCTION public.requesting_user_id() RETURNS TEXT AS $$\n"
    "  SELECT auth.jwt() ->> 'sub'\n$$ LANGUAGE SQL STABLE;",
    "create function requesting_user_id() returns text language sql stable as"
    " $$ select nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'; $$",
    "create function public.requesting_user_id() returns text language sql stable"
    " return (select auth.jwt()) ->> 'sub'",
    "create function public.requesting_user_id() returns text language sql stable as"
    " $$ SELECT NULLIF(auth.jwt() ->> 'sub', '')::text $$",
]


def policy_state(c):
    return c.execute("select oid, xmin::text, polname, pg_get_expr(polqual, polrelid),"
                     " pg_get_expr(polwithcheck, polrelid) from pg_policy order by oid").fetchall()


def fn_state(c):
    return c.execute("select p.oid, l.lanname, p.prosrc from pg_proc p join pg_language l on l.oid = p.prolang"
                     " where p.oid = to_regprocedure('public.requesting_user_id()')").fetchone()


def is_member(c):
    return c.execute("select exists(select 1 from pg_depend d join pg_extension e on e.oid = d.refobjid"
                     " where d.objid = to_regprocedure('public.requesting_user_id()') and d.deptype = 'e')"
                     ).fetchone()[0]


def sees(cluster, dbname, sub):
    with cluster.connect(dbname, user="authenticator") as conn:
        with postgrest_request(conn, claims_for(sub)) as cur:
            return cur.execute("select user_id, count(*) from notes group by 1").fetchall()


@pytest.fixture
def bare_db(cluster):
    """An InsForge database without the extension."""
    name = "bare_adopt"
    cluster.create_database(name, extension=False)
    yield name
    with cluster.connect() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_notes(c):
    c.execute((FIXTURES / "notes.sql").read_text())
    c.execute("insert into notes(user_id, body) values ('user_a', 'a'), ('user_b', 'b'), ('user_b', 'b2')")


def test_fresh_database_gets_native_helper(cluster, db):
    with cluster.connect(db) as c:
        oid, lang, src = fn_state(c)
        assert (lang, src) == ("c", "insforge_requesting_user_id")
        assert is_member(c)  # so pg_dump leaves it to CREATE EXTENSION
        assert c.execute("select insforge.native_requesting_user_id_installed()").fetchone() == (True,)
        seed_notes(c)
    assert sees(cluster, db, "user_b") == [("user_b", 2)]


@pytest.mark.parametrize("helper", GUIDE_HELPERS, ids=range(len(GUIDE_HELPERS)))
def test_existing_guide_helper_is_adopted_in_place(cluster, bare_db, helper):
    notices = []
    with cluster.connect(bare_db) as c:
        c.add_notice_handler(lambda d: notices.append(d.message_primary + " " + (d.message_hint or "")))
        c.execute(helper)
        seed_notes(c)
        fn_before, policies_before = fn_state(c), policy_state(c)
        assert fn_before[1] == "sql"
        c.execute("create extension insforge_integrations")
        assert any("adopt_requesting_user_id()" in n for n in notices), notices
        assert fn_state(c) == fn_before and not is_member(c)  # left as it was until asked
        msg = c.execute("select insforge.adopt_requesting_user_id()").fetchone()[0]
        assert msg.startswith("adopted")
        oid, lang, src = fn_state(c)
        assert (oid, lang, src) == (fn_before[0], "c", "insforge_requesting_user_id")
        assert policy_state(c) == policies_before  # same rows, same xmin: never rewritten
        assert is_member(c)
        assert c.execute("select insforge.adopt_requesting_user_id()").fetchone()[0].startswith("unchanged")
        assert fn_state(c)[0] == fn_before[0] and policy_state(c) == policies_before
    assert sees(cluster, bare_db, "user_b") == [("user_b", 2)]
    assert sees(cluster, bare_db, "user_a") == [("user_a", 1)]


def test_unrecognised_body_needs_force(cluster, bare_db):
    with cluster.connect(bare_db) as c:
        c.execute("create function public.requesting_user_id() returns text language sql stable"
                  " as $$ select auth.jwt() ->> 'user_id' $$")
        seed_notes(c)
        c.execute("create extension insforge_integrations")
        before = fn_state(c)
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="not the InsForge guide's helper"):
            c.execute("select insforge.adopt_requesting_user_id()")
        assert fn_state(c) == before
        assert c.execute("select insforge.adopt_requesting_user_id(force => true)").fetchone()[0].startswith("adopted")
        assert fn_state(c)[1:] == ("c", "insforge_requesting_user_id")


def test_uuid_helper_is_refused(cluster, bare_db):
    with cluster.connect(bare_db) as c:
        c.execute("create function public.requesting_user_id() returns uuid language sql stable"
                  " as $$ select (auth.jwt() ->> 'sub')::uuid $$")
        c.execute("create extension insforge_integrations")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="returns uuid"):
            c.execute("select insforge.adopt_requesting_user_id(force => true)")
        assert fn_state(c)[1] == "sql"


def test_adopt_needs_the_operator(cluster, db):
    """Only the operator (project_admin, superusers) may adopt or release; everyone else gets
    42501 naming project_admin and nothing changes (tests/integration/test_operator.py runs the
    operator's side)."""
    with cluster.connect(db) as c:
        c.execute("select insforge.release_requesting_user_id()")
        c.execute("create role app_owner login")
        c.execute("grant execute on function insforge.adopt_requesting_user_id(boolean) to app_owner")
    with cluster.connect(db, user="app_owner") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only by the operator: project_admin"):
            c.execute("select insforge.adopt_requesting_user_id()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
            c.execute("select insforge._adopt_requesting_user_id(false)")
    with cluster.connect(db, user="authenticator") as c:
        for role in ("anon", "authenticated"):
            c.execute(f"set role {role}")
            for fn in ("adopt_requesting_user_id()", "release_requesting_user_id()"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="project_admin"):
                    c.execute(f"select insforge.{fn}")
    with cluster.connect(db) as c:
        assert c.execute("select insforge.native_requesting_user_id_installed()").fetchone() == (False,)


@pytest.mark.parametrize("cascade", [False, True], ids=["plain", "cascade"])
@pytest.mark.parametrize("adopted", [False, True], ids=["fresh", "adopted"])
def test_drop_extension_never_drops_a_policy(cluster, bare_db, cascade, adopted):
    with cluster.connect(bare_db) as c:
        if adopted:
            c.execute(GUIDE_HELPERS[0])
            seed_notes(c)
            c.execute("create extension insforge_integrations")
            c.execute("select insforge.adopt_requesting_user_id()")
        else:
            c.execute("create extension insforge_integrations")
            seed_notes(c)
        fn, policies = fn_state(c), policy_state(c)
        assert len(policies) == 5
        c.execute("drop extension insforge_integrations" + (" cascade" if cascade else ""))
        # Same function (same OID), now an equivalent SQL helper owned by nobody; every policy intact.
        assert policy_state(c) == policies and fn_state(c)[:2] == (fn[0], "sql") and not is_member(c)
    # Policies keep working after the drop, without the extension.
    assert sees(cluster, bare_db, "user_b") == [("user_b", 2)]
    assert sees(cluster, bare_db, "nobody") == []
    with cluster.connect(bare_db) as c:
        # Installing again recognises its own released helper, makes it native again and says nothing.
        notices = []
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        c.execute("create extension insforge_integrations")
        assert not [n for n in notices if "requesting_user_id" in n]
        assert policy_state(c) == policies and fn_state(c) == fn and is_member(c)


@pytest.mark.parametrize("adopted", [False, True], ids=["fresh", "adopted"])
def test_dump_and_restore_keep_policies_native(cluster, bare_db, adopted):
    with cluster.connect(bare_db) as c:
        if adopted:
            c.execute(GUIDE_HELPERS[0])
        c.execute("create extension insforge_integrations")
        if adopted:
            c.execute("select insforge.adopt_requesting_user_id()")
        seed_notes(c)
    dump = subprocess.run([str(cluster.bin / "pg_dump"), "-Fc", "-h", str(cluster.base), "-p", str(cluster.port),
                           "-U", "postgres", bare_db], capture_output=True, check=True).stdout
    with cluster.connect() as c:
        c.execute('drop database if exists "restored_adopt" with (force)')
        c.execute('create database "restored_adopt" template template0')
    proc = subprocess.run([str(cluster.bin / "pg_restore"), "-h", str(cluster.base), "-p", str(cluster.port),
                           "-U", "postgres", "-d", "restored_adopt", "--exit-on-error"], input=dump, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    with cluster.connect("restored_adopt") as c:
        assert fn_state(c)[1:] == ("c", "insforge_requesting_user_id") and is_member(c)
        assert len(policy_state(c)) == 5
    assert sees(cluster, "restored_adopt", "user_b") == [("user_b", 2)]
    with cluster.connect() as c:
        c.execute('drop database "restored_adopt" with (force)')


def test_release_switches_back_in_place(cluster, db):
    with cluster.connect(db) as c:
        seed_notes(c)
        fn, policies = fn_state(c), policy_state(c)
        assert c.execute("select insforge.release_requesting_user_id()").fetchone()[0].startswith("released")
        assert fn_state(c)[:2] == (fn[0], "sql") and policy_state(c) == policies and not is_member(c)
    assert sees(cluster, db, "user_b") == [("user_b", 2)]
    with cluster.connect(db) as c:
        assert c.execute("select insforge.adopt_requesting_user_id()").fetchone()[0].startswith("adopted")
        assert fn_state(c) == fn
