"""RLS with the guides' owner policies, requests run the way PostgREST 12 and
InsForge's backend run them, one user per provider id shape."""
import psycopg
import pytest
from conftest import PROVIDER_USERS, claims_for
from pgcluster import FIXTURES, backend_request, postgrest_request

STYLES = {"postgrest": postgrest_request, "backend": backend_request}


@pytest.fixture
def notes_db(cluster, db):
    with cluster.connect(db) as c:
        c.execute((FIXTURES / "notes.sql").read_text())
        # Two notes for every provider user, written as the service (project_admin).
        for sub in PROVIDER_USERS.values():
            c.execute("insert into notes(user_id, body) values (%s, 'first'), (%s, 'second')", (sub, sub))
    return db


def test_guides_policy_runs_native_code(cluster, notes_db):
    with cluster.connect(notes_db) as c:
        lang, src = c.execute(
            "select l.lanname, p.prosrc from pg_proc p join pg_language l on l.oid = p.prolang"
            " where p.oid = 'public.requesting_user_id()'::regprocedure").fetchone()
        assert (lang, src) == ("c", "insforge_requesting_user_id")
        quals = [r[0] for r in c.execute("select pg_get_expr(polqual, polrelid) from pg_policy"
                                          " where polrelid = 'notes'::regclass and polqual is not null"
                                          " and polname <> 'project_admin_policy'")]
        assert quals and all("requesting_user_id()" in q for q in quals)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("provider", PROVIDER_USERS)
def test_each_provider_sees_and_changes_only_own_rows(cluster, notes_db, provider, style):
    sub = PROVIDER_USERS[provider]
    other = next(s for p, s in PROVIDER_USERS.items() if p != provider)
    request = STYLES[style]
    with cluster.connect(notes_db, user="authenticator") as conn:
        with request(conn, claims_for(sub)) as cur:
            rows = cur.execute("select user_id, body from notes order by id").fetchall()
            assert rows == [(sub, "first"), (sub, "second")]
            # Insert without user_id: the default fills in the requester.
            new = cur.execute("insert into notes(body) values ('mine') returning user_id").fetchone()
            assert new == (sub,)
            assert cur.execute("update notes set body = body || '!' returning user_id").fetchall() == [(sub,)] * 3
            assert cur.execute("update notes set body = 'x' where user_id = %s", (other,)).rowcount == 0
            assert cur.execute("delete from notes where body = 'mine!' returning user_id").fetchall() == [(sub,)]
            assert cur.execute("delete from notes where user_id = %s", (other,)).rowcount == 0
        # Writing a row for someone else is refused by the WITH CHECK policy.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with request(conn, claims_for(sub)) as cur:
                cur.execute("insert into notes(user_id, body) values (%s, 'forged')", (other,))
        # Moving one's own row to someone else is refused too.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with request(conn, claims_for(sub)) as cur:
                cur.execute("update notes set user_id = %s", (other,))
    with cluster.connect(notes_db) as c:
        counts = dict(c.execute("select user_id, count(*) from notes group by 1").fetchall())
        assert counts == {s: 2 for s in PROVIDER_USERS.values()}
        changed = c.execute("select distinct user_id from notes where body like '%!'").fetchall()
        assert changed == [(sub,)]


@pytest.mark.parametrize("claims", [None, "", '{"role":"anon"}', '{"role":"anon","sub":""}'],
                         ids=["no-claims", "empty", "anon-no-sub", "anon-empty-sub"])
def test_anon_and_missing_claims_see_nothing(cluster, notes_db, claims):
    with cluster.connect(notes_db, user="authenticator") as conn:
        with postgrest_request(conn, claims, role="anon") as cur:
            assert cur.execute("select count(*) from notes").fetchone() == (0,)
            assert cur.execute("select requesting_user_id()").fetchone() == (None,)
        # authenticated role but claims without a subject: still nothing.
        with postgrest_request(conn, claims, role="authenticated") as cur:
            assert cur.execute("select count(*) from notes").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with postgrest_request(conn, claims, role="authenticated") as cur:
                cur.execute("insert into notes(body) values ('nobody')")


def test_project_admin_sees_everything(cluster, notes_db):
    with cluster.connect(notes_db, user="authenticator") as conn:
        with postgrest_request(conn, {"role": "project_admin"}) as cur:
            assert cur.execute("select count(*) from notes").fetchone() == (2 * len(PROVIDER_USERS),)


def test_functions_usable_by_insforge_roles(cluster, db):
    with cluster.connect(db, user="authenticator") as conn:
        for role in ("anon", "authenticated", "project_admin"):
            with postgrest_request(conn, {"sub": "u1", "role": role, "email": "a@b.c", "perms": ["x"]}) as cur:
                row = cur.execute(
                    "select insforge.requesting_user_id(), requesting_user_id(), insforge.role(), insforge.email(),"
                    " insforge.claim('sub'), insforge.claim_path('perms', '0'), insforge.has_claim('perms', 'x'),"
                    " insforge.jwt() ->> 'sub'").fetchone()
                assert row == ("u1", "u1", role, "a@b.c", "u1", "x", True, "u1")


def test_volatility_and_parallel_safety(cluster, db):
    with cluster.connect(db) as c:
        rows = c.execute(
            "select p.proname, p.provolatile, p.proparallel from pg_proc p"
            " join pg_depend d on d.objid = p.oid and d.classid = 'pg_proc'::regclass"
            " join pg_extension e on e.oid = d.refobjid and e.extname = 'insforge_integrations'"
            " where p.proname in ('jwt','requesting_user_id','claim','claim_path','role','email','has_claim')"
        ).fetchall()
        # the seven in schema insforge, plus public.requesting_user_id() (a member too)
        assert len(rows) == 8
        assert all(v == "s" and par == "s" for _, v, par in rows), rows
