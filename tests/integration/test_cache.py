"""The claims cache: parsed once per distinct value, never stale, never leaking
into the next transaction."""
import json

import pytest
from conftest import claims_for
from pgcluster import FIXTURES, postgrest_request

A, B, C = (json.dumps(claims_for(s)) for s in ("user_A", "user_B", "user_C"))


def parses(cur):
    return cur.execute("select insforge.claims_parse_count()").fetchone()[0]


def sub(cur):
    return cur.execute("select insforge.requesting_user_id(), public.requesting_user_id(), insforge.claim('sub')"
                       ).fetchone()


@pytest.fixture
def big_notes(cluster, db):
    with cluster.connect(db) as c:
        c.execute((FIXTURES / "notes.sql").read_text())
        c.execute("insert into notes(user_id, body) select 'user_' || (g % 100), 'n' from generate_series(1, 200000) g")
        c.execute("analyze notes")
    return db


def test_parsed_once_per_distinct_value(cluster, db):
    with cluster.connect(db) as conn:
        with conn.transaction():
            cur = conn.cursor()
            cur.execute("select set_config('request.jwt.claims', %s, true)", (A,))
            before = parses(cur)
            n = cur.execute("select count(*) from generate_series(1, 100000) g"
                            " where insforge.requesting_user_id() = 'user_A' and insforge.claim('role') is not null"
                            " and insforge.jwt() is not null and insforge.has_claim('aud', 'insforge-api')").fetchone()
            assert n == (100000,)
            assert parses(cur) - before == 1
            # The same text set again (a new assignment): not parsed again.
            cur.execute("select set_config('request.jwt.claims', %s, true)", (A,))
            assert sub(cur) == ("user_A",) * 3 and parses(cur) - before == 1
            cur.execute("select set_config('request.jwt.claims', %s, true)", (B,))
            assert sub(cur) == ("user_B",) * 3 and parses(cur) - before == 2
        # PostgREST sets the same claims again in the next request: no re-parse...
        for _ in range(3):
            with postgrest_request(conn, json.loads(B)) as cur:
                assert sub(cur) == ("user_B",) * 3
        with conn.transaction():
            assert parses(conn.cursor()) - before == 2 + 0  # unset in between costs no parse either


def test_transaction_end_reverts_claims(cluster, db):
    with cluster.connect(db) as conn:
        with postgrest_request(conn, json.loads(A)) as cur:
            assert sub(cur) == ("user_A",) * 3
        assert sub(conn.cursor()) == (None, None, None)
        # A failed request rolls back too, and leaves nothing behind.
        with pytest.raises(ZeroDivisionError):
            with postgrest_request(conn, json.loads(B)) as cur:
                assert sub(cur) == ("user_B",) * 3
                raise ZeroDivisionError
        assert sub(conn.cursor()) == (None, None, None)
        # Session value, a transaction-local override, then back to the session value.
        conn.execute("select set_config('request.jwt.claims', %s, false)", (C,))
        with postgrest_request(conn, json.loads(A)) as cur:
            assert sub(cur) == ("user_A",) * 3
        assert sub(conn.cursor()) == ("user_C",) * 3
        conn.execute("RESET request.jwt.claims")
        assert sub(conn.cursor()) == (None, None, None)


def test_savepoints(cluster, db):
    with cluster.connect(db) as conn:
        with conn.transaction():
            cur = conn.cursor()
            cur.execute("select set_config('request.jwt.claims', %s, true)", (A,))
            cur.execute("SAVEPOINT s1")
            cur.execute("select set_config('request.jwt.claims', %s, true)", (B,))
            assert sub(cur) == ("user_B",) * 3
            cur.execute("ROLLBACK TO SAVEPOINT s1")
            assert sub(cur) == ("user_A",) * 3
            cur.execute("SAVEPOINT s2")
            cur.execute("SET LOCAL request.jwt.claims = %s" % "'" + C.replace("'", "''") + "'")
            cur.execute("RELEASE SAVEPOINT s2")
            assert sub(cur) == ("user_C",) * 3
            # An exception block is a subtransaction too.
            cur.execute("""
                do $$ begin
                    perform set_config('request.jwt.claims', '{"sub":"inside"}', true);
                    perform 1 / 0;
                exception when division_by_zero then null; end $$""")
            assert sub(cur) == ("user_C",) * 3


def test_mid_transaction_changes_in_plpgsql(cluster, db):
    """PL/pgSQL keeps simple expressions (and their per-call-site cache) for the
    whole transaction; every change must still be seen."""
    with cluster.connect(db) as conn:
        conn.execute("""
            create function subs_seen(n int) returns text[] language plpgsql as $$
            declare out text[] := '{}'; s text;
            begin
                for i in 1..n loop
                    perform set_config('request.jwt.claims', json_build_object('sub', 'u' || (i % 3))::text, true);
                    s := requesting_user_id();
                    out := out || s || insforge.role() || insforge.requesting_user_id();
                    if i % 4 = 0 then perform set_config('request.jwt.claims', '', true);
                        out := out || coalesce(requesting_user_id(), '-');
                    end if;
                end loop;
                return out;
            end $$""")
        with conn.transaction():
            got = conn.execute("select subs_seen(8)").fetchone()[0]
        want = []
        for i in range(1, 9):
            want += [f"u{i % 3}", None, f"u{i % 3}"]
            if i % 4 == 0:
                want.append("-")
        assert got == want


def test_prepared_statement_across_requests(cluster, db):
    with cluster.connect(db) as conn:
        for s in ["user_A", "user_B", "user_A", None, "user_C"] * 3:
            with postgrest_request(conn, claims_for(s) if s else None, role="authenticated") as cur:
                assert cur.execute("select requesting_user_id()", prepare=True).fetchone() == (s,)


def test_parallel_workers_see_the_claims(cluster, big_notes):
    with cluster.connect(big_notes, user="authenticator") as conn:
        with postgrest_request(conn, claims_for("user_7")) as cur:
            for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
                            "max_parallel_workers_per_gather = 2"):
                cur.execute(f"SET LOCAL {setting}")
            plan = cur.execute("explain (analyze, format json) select count(*) from notes").fetchone()[0]
            text = json.dumps(plan)
            assert '"Parallel Aware": true' in text and '"Workers Launched": 2' in text, text
            assert cur.execute("select count(*) from notes").fetchone() == (2000,)
            # Functions evaluated in workers directly, too.
            # force_parallel_mode was renamed debug_parallel_query in PostgreSQL 16.
            newer = cur.execute("select current_setting('server_version_num')::int >= 160000").fetchone()[0]
            cur.execute(f"SET LOCAL {'debug_parallel_query' if newer else 'force_parallel_mode'} = on")
            assert cur.execute("select insforge.requesting_user_id(), insforge.jwt() ->> 'sub', insforge.role()"
                               ).fetchone() == ("user_7", "user_7", "authenticated")


def test_pooled_connection_never_leaks_claims(cluster, big_notes):
    """One long-lived connection serving requests for different users, like
    PostgREST's pool: every request sees exactly its own identity."""
    users = ["user_1", None, "user_2", "user_1", None, "user_3"] * 4
    with cluster.connect(big_notes, user="authenticator") as conn:
        for s in users:
            with postgrest_request(conn, claims_for(s) if s else None, role="authenticated" if s else "anon") as cur:
                got = cur.execute("select requesting_user_id(), count(*) from notes").fetchone()
                assert got == ((s, 2000) if s else (None, 0))
            with conn.transaction():
                assert sub(conn.cursor()) == (None, None, None)
        conn.execute("select set_config('request.jwt.claims', %s, false)", (A,))
        conn.execute("DISCARD ALL")
        assert sub(conn.cursor()) == (None, None, None)
