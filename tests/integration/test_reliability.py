"""Reliability: the settlement ledger under concurrent load, across kill -9 crashes,
through pg_dump/pg_restore and extension updates, and on a streaming hot standby.

These tests start their own clusters on ports 55455-55458 (55459 is scripts/reliability.sh's)
and remove them at the end. Short, deterministic versions; the long run with the numbers is
scripts/reliability.sh (benches/settlement_load.py). The helpers are in tools/load_settlements.py.
"""
import json
import re
import shutil
import subprocess
import threading
import time

import jwt as pyjwt
import psycopg
import pytest
from conftest import claims_for
from pgcluster import FIXTURES, Cluster, _as_postgres, frozen_scripts, postgrest_request, released_versions

import load_settlements as L

PRIMARY_PORT, CRASH_PORT, STANDBY_PORT, RESTORE_PORT = 55455, 55456, 55457, 55458
SECRET = "reliability-test-jwt-secret-0123456789abcdef-0123456789abcdef"
ROTATED = "reliability-test-rotated-secret-fedcba9876543210-fedcba98765432"
USERS = ["user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "auth0|64b1f0c2e4a7d9b3c5e6f708", "kp_0123456789abcdef0123456789abcdef"]
EXT = "insforge_integrations"


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def record(conn, s, endpoint="/api/joke"):
    """x402.record_settlement as the service role (project_admin) in its own transaction."""
    with conn.transaction():
        conn.execute("SET LOCAL ROLE project_admin")
        return conn.execute("SELECT * FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, %s)",
                            (*s.args(), endpoint)).fetchone()


@pytest.fixture(scope="module")
def signed():
    """1,500 x402 payments pre-signed with eth-account (deterministic), and conflicting twins
    (same tx hash, other amount and nonce) for keys 1..8."""
    return L.make_settlements(1500, seed=6, conflicts=8)


def start_cluster(port, **settings):
    c = Cluster(port=port, settings=settings)
    try:
        c.start()
    except Exception:
        c.cleanup()
        raise
    return c


@pytest.fixture(scope="module")
def primary():
    c = start_cluster(PRIMARY_PORT)
    try:
        yield c
    finally:
        c.cleanup()


# -- 1. concurrency ---------------------------------------------------------------------------------------

def test_pgbench_repeats_and_conflicts(primary, signed, tmp_path):
    """4 pgbench clients, 1,200 transactions: each call takes a fresh hash or (half the time) one
    some client already called, so about half the calls repeat a hash, mostly another client's;
    plus ~2% deliberate conflicting-facts repeats that must raise 23505."""
    settlements, conflicts = signed
    pool = settlements
    primary.create_database("conc")
    with primary.connect("conc") as c:
        L.install_workload(c, pool, conflicts)
    run = L.run_pgbench(primary, "conc", tmp_path, clients=4, jobs=2, nhash=len(pool), nconf=len(conflicts),
                        transactions=300, repeat=50)
    assert run["returncode"] == 0, run["stdout"] + run["stderr"]
    assert (run["processed"], run["failed"], run["aborted"], run["stderr_errors"]) == (1200, 0, 0, []), run
    with primary.connect("conc") as c:
        r = L.check_ledger(c, pool)
        # Every pgbench transaction is accounted for: a call that got its row back, or a logged conflict.
        assert r["pgbench_calls"] + r["conflict_attempts"] == run["processed"], r
        assert {k: v for k, v in r.items() if k.endswith("_bad")} == {
            "ledger_vs_calls_bad": 0, "wrong_facts_bad": 0, "returned_other_row_bad": 0, "conflicts_other_bad": 0,
            "sum_mismatch_bad": 0}, r
        assert r["duplicates"] == 0 and r["rows"] == r["distinct_keys_called"], r
        assert 0.4 * r["calls"] <= r["repeat_calls"] <= 0.6 * r["calls"], r  # about half the calls repeat
        assert r["keys_called_by_several_clients"] >= 100 and not r["fresh_keys_wrapped"], r
        assert r["conflicts_23505"] >= 5, r
        # The same conflicts from a client: 23505 with the documented message, nothing changed.
        rows = one(c, "SELECT count(*) FROM public.x402_payments")
        for k in conflicts:
            with pytest.raises(psycopg.errors.UniqueViolation, match="already recorded with different facts"):
                record(c, conflicts[k])
        assert one(c, "SELECT count(*) FROM public.x402_payments") == rows
        assert one(c, "SELECT sum(amount) FROM public.x402_payments") == r["expected_sum"]


def test_journal_load_begin_record_retries_reconciles(primary, signed, tmp_path):
    """The journal under load: 4 pgbench clients, 600 payments begun (30% of them retries of a
    payment already begun, mostly another client's), each then answered with a settlement, a
    facilitator failure, a second transaction for the same authorization, or nothing (the app
    died); then every pending row is reconciled as an operator would (x402.unreconciled()).
    The totals must reconcile: no pending left, one settled row per authorization with a
    transaction, the other transactions disputed, revenue counted once per authorization."""
    settlements, _ = signed
    primary.create_database("journal")
    with primary.connect("journal") as c:
        L.install_journal_workload(c, settlements)
    run = L.run_journal_pgbench(primary, "journal", tmp_path, clients=4, jobs=2, nhash=len(settlements),
                                transactions=150, repeat=30)
    assert run["returncode"] == 0 and (run["processed"], run["failed"], run["aborted"], run["stderr_errors"]) \
        == (600, 0, 0, []), run["stdout"] + run["stderr"]
    with primary.connect("journal") as c:
        steps = dict(c.execute("SELECT step, count(*) FROM load_journal GROUP BY 1").fetchall())
        assert steps["begin"] == 600 and sum(v for k, v in steps.items() if k != "begin") == 600, steps
        assert min(steps.get(k, 0) for k in ("died", "failed", "reuse", "settled")) > 0, steps
        pending = c.execute("SELECT count(*) FROM public.x402_payments WHERE status = 'pending'").fetchone()[0]
        assert pending > 0
        assert L.reconcile_journal(c) == pending
        r = L.check_journal(c, settlements)
    assert {k: v for k, v in r.items() if k.endswith("_bad")} == {
        "pending_bad": 0, "settled_per_authorization_bad": 0, "duplicate_tx_bad": 0, "disputed_without_reuse_bad": 0,
        "settled_wrong_facts_bad": 0, "revenue_mismatch_bad": 0, "begin_other_status_bad": 0}, r
    assert r["retried_begins"] > 50 and r["rows"].get("disputed", 0) > 0 and r["rows"].get("failed", 0) > 0, r


def test_pending_rows_survive_kill9_drop_extension_and_dump_restore(signed, tmp_path):
    """Intents written by begin_settlement() (acknowledged commits) are still there, still pending,
    after a kill -9 of every server process, after DROP EXTENSION ... CASCADE and CREATE EXTENSION,
    and after pg_dump/pg_restore into a new cluster; a later record_settlement() completes each."""
    settlements, _ = signed
    keys = list(range(1400, 1410))
    c = start_cluster(CRASH_PORT, fsync="on", synchronous_commit="on")
    dest = None
    try:
        c.create_database("intents")
        with c.connect("intents") as conn:
            conn.execute("SELECT x402.install_ledger()")
            for k in keys:
                with conn.transaction():
                    conn.execute("SET LOCAL ROLE project_admin")
                    conn.execute("SELECT x402.begin_settlement(%s::jsonb, %s::jsonb, '/api/joke')",
                                 settlements[k].args()[:2])
            before = conn.execute("SELECT id, nonce, status FROM public.x402_payments ORDER BY nonce").fetchall()
        assert [s for _, _, s in before] == ["pending"] * len(keys)
        L.crash(c)
        c.start()
        with c.connect("intents") as conn:
            assert conn.execute("SELECT id, nonce, status FROM public.x402_payments ORDER BY nonce").fetchall() == before
            conn.execute(f"DROP EXTENSION {EXT} CASCADE")
            assert conn.execute("SELECT id, nonce, status FROM public.x402_payments ORDER BY nonce").fetchall() == before
            conn.execute(f"CREATE EXTENSION {EXT}")
            assert len(conn.execute("SELECT * FROM x402.unreconciled('0 seconds')").fetchall()) == len(keys)
        dest = start_cluster(RESTORE_PORT)
        b = str(c.bin)
        dump = subprocess.run([f"{b}/pg_dump", "-h", str(c.base), "-p", str(c.port), "-U", "postgres", "-Fc", "intents"],
                              capture_output=True, check=True).stdout
        dest.create_database("roles", extension=False)  # InsForge's roles (cluster-wide) exist in the new cluster
        dest.create_database("intents", insforge=False, extension=False)
        p = subprocess.run([f"{b}/pg_restore", "-h", str(dest.base), "-p", str(dest.port), "-U", "postgres",
                            "-d", "intents", "--exit-on-error"], input=dump, capture_output=True)
        assert p.returncode == 0, p.stderr.decode()
        with dest.connect("intents") as conn:
            assert conn.execute("SELECT id, nonce, status FROM public.x402_payments ORDER BY nonce").fetchall() == before
            for k in keys:
                row = record(conn, settlements[k])
                assert row[6] == "settled" and row[4] == settlements[k].tx_hash
            assert conn.execute("SELECT count(*), count(*) FILTER (WHERE status = 'settled') FROM public.x402_payments"
                                ).fetchone() == (len(keys), len(keys))
    finally:
        c.cleanup()
        if dest:
            dest.cleanup()


def _blocked(conn, pid, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() == ("Lock",):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("first,second,isolation,expect", [
    ("commit", "same", "read committed", "existing row"),
    ("rollback", "same", "read committed", "new row"),
    ("commit", "conflicting", "read committed", "23505"),
    ("rollback", "conflicting", "read committed", "new row"),
    ("commit", "same", "repeatable read", "40001"),
])
def test_concurrent_twins(primary, signed, first, second, isolation, expect):
    """Two service connections record the same tx hash at the same moment: the second blocks on the
    first's uncommitted row (checked in pg_stat_activity), then resolves as documented. At
    REPEATABLE READ the second one gets 40001 (serialization failure, retry), as Postgres's
    INSERT ... ON CONFLICT does when the conflicting row is not in its snapshot."""
    settlements, conflicts = signed
    k = 1  # has a conflicting twin
    db = "twins"
    primary.create_database(db)
    with primary.connect(db) as c:
        c.execute("SELECT x402.install_ledger()")
    a = primary.connect(db, user="authenticator", autocommit=False)
    b = primary.connect(db, user="authenticator", autocommit=False)
    try:
        b.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
        b.execute("SET LOCAL ROLE project_admin")
        b.execute("SELECT 1")  # B's snapshot (for REPEATABLE READ) is taken now, before A commits
        a.execute("SET LOCAL ROLE project_admin")
        a_row = a.execute("SELECT * FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)",
                          settlements[k].args()).fetchone()
        out = {}

        def second_call():
            s = settlements[k] if second == "same" else conflicts[k]
            try:
                out["row"] = b.execute("SELECT * FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)",
                                       s.args()).fetchone()
                b.commit()
            except psycopg.Error as e:
                out["error"] = e.sqlstate
                b.rollback()
        b_pid = b.info.backend_pid
        t = threading.Thread(target=second_call)
        t.start()
        with primary.connect(db) as watcher:
            assert _blocked(watcher, b_pid), "the twin did not wait for the first transaction"
        (a.commit if first == "commit" else a.rollback)()
        t.join(30)
        with primary.connect(db) as c:
            rows = c.execute("SELECT id, amount FROM public.x402_payments").fetchall()
        if expect == "existing row":
            assert out["row"][0] == a_row[0] and rows == [(a_row[0], a_row[3])]
        elif expect == "new row":
            want = settlements[k] if second == "same" else conflicts[k]
            assert out["row"][0] != a_row[0] and rows == [(out["row"][0], want.amount)]
        else:
            assert out.get("error") == expect, out
            assert rows == [(a_row[0], a_row[3])]
    finally:
        a.close()
        b.close()


# -- 2. crash ---------------------------------------------------------------------------------------------

def test_kill9_keeps_every_acknowledged_settlement(signed, tmp_path):
    """4 psycopg workers (half retries of already-attempted hashes) log each settlement whose COMMIT
    returned; 3 times the postmaster and every backend get SIGKILL mid-load (fsync and
    synchronous_commit on); 2% of the calls are conflicting twins of acknowledged hashes (23505).
    After each restart and crash recovery the load continues. At the end:
    every acknowledged settlement is there exactly once with the id its COMMIT returned, no row
    that was never attempted, amcheck clean."""
    settlements, conflicts = signed
    c = start_cluster(CRASH_PORT, fsync="on", synchronous_commit="on")
    try:
        c.create_database("crash")
        with c.connect("crash") as conn:
            conn.execute("SELECT x402.install_ledger()")
        r = L.crash_cycles(c, "crash", settlements, tmp_path / "acks", workers=4, cycles=3, acks_per_cycle=300,
                           conflicts=conflicts, conflict_rate=0.02)
        summary = {k: v for k, v in r.items() if k != "recovery_log"}
        assert r["crash_cycles"] == 3 and r["recovered_with_redo"] == 3, r
        assert all(r["fresh_keys_left_at_each_kill"]), summary  # every crash hit new inserts
        assert r["acknowledged_commits"] >= 900 and r["conflicts_23505"] >= 1, summary
        assert (r["rows_lost"], r["duplicates"], r["phantom_rows"], r["ids_per_ack_bad"], r["wrong_amount"],
                r["amcheck_corruptions"], r["unexpected_errors"]) == (0, 0, 0, 0, 0, 0, {}), summary
        assert r["ledger_sum"] >= r["expected_sum_at_least"]
        # After recovery the ledger still records and still refuses duplicates.
        with c.connect("crash") as conn:
            fresh = next(s for k, s in settlements.items() if k > 1400)
            assert record(conn, fresh)[4] == fresh.tx_hash
            assert record(conn, fresh)[0] == record(conn, fresh)[0]
    finally:
        c.cleanup()


# -- 3. backup, restore, update ---------------------------------------------------------------------------

def populate(cluster, db, settlements, keys):
    """The guides' notes table and policies with notes from three users (written through PostgREST-style
    requests, user_id from the column default), a ledger with settlements, a user-added asset."""
    with cluster.connect(db) as c:
        c.execute((FIXTURES / "notes.sql").read_text())
    with cluster.connect(db, user="authenticator") as conn:
        for i, u in enumerate(USERS):
            for n in range(i + 1):
                with postgrest_request(conn, claims_for(u), method="POST") as cur:
                    cur.execute("INSERT INTO notes(body) VALUES (%s)", (f"note {n} of {u}",))
    with cluster.connect(db) as c:
        c.execute("SELECT x402.install_ledger()")
        for k in keys:
            record(c, settlements[k])
        c.execute("INSERT INTO x402.assets VALUES ('eip155:1', '0x" + "cd" * 20 + "', 'Mine', '1', 18, 'MINE')")


def snapshot(conn):
    q = {
        "notes": "SELECT id, user_id, body FROM public.notes ORDER BY id",
        "policies": "SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check FROM pg_policies"
                    " ORDER BY 1, 2",
        "ledger": "SELECT id, tx_hash, amount, payer_address, pay_to, nonce, status, created_at, payload"
                  " FROM public.x402_payments ORDER BY tx_hash",
        "assets": "SELECT * FROM x402.assets WHERE NOT builtin ORDER BY 1, 2",  # the user's rows
        "rls": "SELECT relname, relrowsecurity FROM pg_class WHERE relname IN ('notes', 'x402_payments') ORDER BY 1",
        "grants": "SELECT r, t, p, has_table_privilege(r, t, p) FROM unnest(array['anon', 'authenticated',"
                  " 'project_admin']) r, unnest(array['public.notes', 'public.x402_payments']) t,"
                  " unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p ORDER BY 1, 2, 3",
        "native": "SELECT insforge.native_requesting_user_id_installed()",
    }
    return {k: conn.execute(v).fetchall() for k, v in q.items()}


def exercise(cluster, db, settlements, recorded, new_key):
    """What users and the service do after a restore or an update."""
    with cluster.connect(db, user="authenticator") as conn:
        for u in USERS:
            with postgrest_request(conn, claims_for(u)) as cur:
                mine = cur.execute("SELECT DISTINCT user_id FROM notes").fetchall()
                assert mine == [(u,)], (u, mine)
        with postgrest_request(conn, None, role="anon") as cur:
            assert cur.execute("SELECT count(*) FROM notes").fetchone() == (0,)
            assert cur.execute("SELECT count(*) FROM public.x402_payments").fetchone()[0] == len(recorded)
        with postgrest_request(conn, claims_for(USERS[0]), method="POST") as cur:
            assert cur.execute("INSERT INTO notes(body) VALUES ('after') RETURNING user_id").fetchone() == (USERS[0],)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with postgrest_request(conn, claims_for(USERS[0])) as cur:
                cur.execute("SELECT x402.record_settlement('{}', '{}', '{}')")
    with cluster.connect(db) as c:
        ids = dict(c.execute("SELECT tx_hash, id FROM public.x402_payments").fetchall())
        for k in recorded:  # a retry returns the existing (restored) row
            assert record(c, settlements[k])[0] == ids[settlements[k].tx_hash]
        row = record(c, settlements[new_key])
        assert row[4] == settlements[new_key].tx_hash and row[6] == "settled"
        assert one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'invalidReason'",
                   *settlements[recorded[0]].args()[:2]) == "invalid_exact_evm_nonce_already_used"


def test_dump_restore_into_a_new_cluster(primary, signed):
    """pg_dumpall --globals-only + pg_dump -Fc of a database with the extension, the guides'
    notes policies and a ledger with rows, restored (--exit-on-error) into a fresh cluster: the
    same rows, policies, grants and RLS; users see their own rows; record_settlement works and
    treats restored hashes as recorded. The JWT key is not in the dump (documented): the restored
    database fails closed until set_jwt_secret() is called again."""
    settlements, conflicts = signed
    keys = list(range(1, 21))
    primary.create_database("bk")
    populate(primary, "bk", settlements, keys)
    with primary.connect("bk") as c:
        c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
        before = snapshot(c)
    assert len(before["ledger"]) == 20 and len(before["notes"]) == 6 and len(before["assets"]) == 1
    dest = start_cluster(RESTORE_PORT)
    try:
        b = str(primary.bin)
        src = ["-h", str(primary.base), "-p", str(primary.port), "-U", "postgres"]
        dst = ["-h", str(dest.base), "-p", str(dest.port), "-U", "postgres"]
        globals_sql = subprocess.run([f"{b}/pg_dumpall", *src, "--globals-only", "--no-role-passwords"],
                                     capture_output=True, text=True, check=True).stdout
        g = subprocess.run([f"{b}/psql", "-X", "-q", *dst, "-d", "postgres"], input=globals_sql, capture_output=True,
                           text=True)
        errors = [ln for ln in g.stderr.splitlines() if "ERROR" in ln]
        assert all('role "postgres" already exists' in ln for ln in errors), g.stderr
        dump = subprocess.run([f"{b}/pg_dump", *src, "-Fc", "bk"], capture_output=True, check=True).stdout
        with dest.connect() as c:
            c.execute("CREATE DATABASE bk TEMPLATE template0")
        p = subprocess.run([f"{b}/pg_restore", *dst, "-d", "bk", "--exit-on-error"], input=dump, capture_output=True)
        assert p.returncode == 0, p.stderr.decode()
        with dest.connect("bk") as c:
            after = snapshot(c)
            for part in before:
                assert after[part] == before[part], part
            assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == \
                one(c, f"SELECT default_version FROM pg_available_extensions WHERE name = '{EXT}'")
            assert one(c, "SELECT insforge.jwt_secret_configured()") is False
        with dest.connect("bk", user="authenticator") as conn:
            token = pyjwt.encode(claims_for(USERS[0]), SECRET, algorithm="HS256")
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="no JWT key"):
                with conn.transaction():
                    conn.execute("SELECT insforge.authenticate(%s)", (token,))
        with dest.connect("bk") as c:
            c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
        with dest.connect("bk", user="authenticator") as conn:
            with conn.transaction():
                assert one(conn, "SELECT insforge.authenticate(%s)", token) == USERS[0]
                assert one(conn, "SELECT count(*) FROM notes") == 1
        exercise(dest, "bk", settlements, keys, new_key=21)
        with dest.connect("bk") as c:  # the unique hash survived the restore: conflicts still refused
            with pytest.raises(psycopg.errors.UniqueViolation):
                record(c, conflicts[1])
    finally:
        dest.cleanup()


def version_key(v):
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\-]", v))


def test_extension_update_paths(primary, signed):
    """ALTER EXTENSION ... UPDATE from every released version to the default one, with data and
    policies in place. An installation carries the default version's script and one update script
    from each released version, nothing older (SECURITY.md, "Scripts"); the released versions'
    own scripts are put in place for this test only (released_versions()). The update leaves the
    ledger alone; its owner brings it up to date with x402.install_ledger() afterwards."""
    settlements, _ = signed
    with primary.connect() as c:
        default = one(c, "SELECT default_version FROM pg_available_extensions WHERE name = %s", EXT)
        shipped = [v for (v,) in c.execute(
            "SELECT version FROM pg_available_extension_versions WHERE name = %s", (EXT,))]
        paths = {(s, t): p for s, t, p in c.execute(
            "SELECT source, target, path FROM pg_extension_update_paths(%s) WHERE path IS NOT NULL", (EXT,))}
    assert shipped == [default], f"an installation offers only {default}, not {shipped}"
    released = sorted({f.name[len(EXT) + 2:-4].split("--")[0] for f in frozen_scripts()}, key=version_key)
    assert released and released[0] == "0.1.0", released
    for old in released:
        assert paths.get((old, default)) == f"{old}--{default}", (
            f"no direct update script {old} -> {default}: generate sql/{EXT}--{old}--{default}.sql "
            f"(sql/update/{old}--{default}/, tools/gen_update.py)")
    with released_versions():
        for n, old in enumerate(released):
            db = f"upd_{n}"
            primary.create_database(db, extension=False)
            with primary.connect(db) as c:
                c.execute(f"CREATE EXTENSION {EXT} VERSION '{old}'")
            keys = list(range(100 + 10 * n, 105 + 10 * n))
            populate(primary, db, settlements, keys)
            with primary.connect(db) as c:
                before = snapshot(c)
                c.execute(f"ALTER EXTENSION {EXT} UPDATE")
                assert one(c, f"SELECT extversion FROM pg_extension WHERE extname = '{EXT}'") == default
                after = snapshot(c)
                assert after == before, f"update {old} -> {default} changed data, policies or grants"
                c.execute("SELECT x402.install_ledger()")
            exercise(primary, db, settlements, keys, new_key=105 + 10 * n)
    # `ALTER EXTENSION ... UPDATE` at the default version is a no-op that keeps everything.
    primary.create_database("upd_same")
    keys = list(range(200, 205))
    populate(primary, "upd_same", settlements, keys)
    with primary.connect("upd_same") as c:
        before = snapshot(c)
        c.execute(f"ALTER EXTENSION {EXT} UPDATE")
        assert snapshot(c) == before
    exercise(primary, "upd_same", settlements, keys, new_key=205)


# -- 4. hot standby ---------------------------------------------------------------------------------------

def wait_replayed(primary, standby, db, timeout=30.0):
    with primary.connect(db) as p:
        lsn = one(p, "SELECT pg_current_wal_lsn()::text")
    deadline = time.time() + timeout
    with standby.connect(db) as s:
        while not one(s, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn):
            assert time.time() < deadline, "standby did not replay in time"
            time.sleep(0.05)
    return lsn


@pytest.fixture(scope="module")
def standby(primary, signed):
    """Database `rep` on the primary (notes, ledger, stored JWT key, an audience setting), then a
    streaming hot standby made by pg_basebackup -R, on its own port and socket directory."""
    settlements, _ = signed
    primary.create_database("rep")
    populate(primary, "rep", settlements, list(range(300, 305)))
    with primary.connect("rep") as c:
        c.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
        c.execute("ALTER DATABASE rep SET insforge_integrations.jwt_audience = 'insforge-api'")
    s = Cluster(port=STANDBY_PORT)
    s.base.mkdir(parents=True, exist_ok=True)
    s.base.chmod(0o755)
    shutil.chown(s.base, "postgres", "postgres")
    try:
        subprocess.run(_as_postgres([str(s.bin / "pg_basebackup"), "-h", str(primary.base), "-p", str(primary.port),
                                     "-U", "postgres", "-D", str(s.data), "-R", "-X", "stream", "-c", "fast"]),
                       check=True, capture_output=True)
        with open(s.data / "postgresql.auto.conf", "a") as f:  # the copy names the primary's socket directory
            f.write(f"unix_socket_directories = '{s.base}'\nhot_standby = on\n")
        s.start()
        yield s
    finally:
        s.cleanup()


def test_standby_streams_and_serves_read_only(primary, standby, signed):
    settlements, _ = signed
    with standby.connect("rep") as s:
        assert one(s, "SELECT pg_is_in_recovery()") is True
        assert one(s, "SELECT status FROM pg_stat_wal_receiver") == "streaming"
    # Written on the primary after the base backup: appear on the standby once replayed.
    with primary.connect("rep") as p:
        for k in range(305, 310):
            record(p, settlements[k])
        with postgrest_request(p, claims_for(USERS[1]), method="POST") as cur:
            cur.execute("INSERT INTO notes(body) VALUES ('written after the base backup')")
        ledger = p.execute("SELECT id, tx_hash, amount, status FROM public.x402_payments ORDER BY tx_hash").fetchall()
    wait_replayed(primary, standby, "rep")
    with standby.connect("rep") as s:
        assert s.execute("SELECT id, tx_hash, amount, status FROM public.x402_payments ORDER BY tx_hash"
                         ).fetchall() == ledger
        assert len(ledger) == 10
        # Writes are refused as on any standby (25006), and nothing changes.
        for sql, args in [("SELECT x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb)", settlements[400].args()),
                          ("SELECT x402.install_ledger()", ())]:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                s.execute(sql, args)
        with pytest.raises(psycopg.Error):  # 25006 expected; see test_standby_set_jwt_secret_sqlstate
            s.execute("SELECT insforge.set_jwt_secret('x')")
        assert s.execute("SELECT id, tx_hash, amount, status FROM public.x402_payments ORDER BY tx_hash"
                         ).fetchall() == ledger


def test_standby_identity_and_claims(primary, standby):
    """Identity functions with request.jwt.claims set per transaction (PostgREST style), RLS on the
    notes table, claim validation (audience from ALTER DATABASE on the primary, replicated) and
    strict mode, all on the standby."""
    with standby.connect("rep", user="authenticator") as conn:
        for u in USERS + USERS[:1]:  # same connection, one request per user, then the first again
            claims = claims_for(u, email="a@example.com", permissions=["read:docs"], org={"roles": ["owner"]})
            with postgrest_request(conn, claims) as cur:
                got = cur.execute("SELECT insforge.requesting_user_id(), public.requesting_user_id(), insforge.role(),"
                                  " insforge.email(), insforge.has_claim('permissions', 'read:docs'),"
                                  " insforge.claim_path('org', 'roles', '0'), insforge.jwt() ->> 'sub',"
                                  " insforge.claims_valid(), insforge.auth_provider()").fetchone()
                assert got[:8] == (u, u, "authenticated", "a@example.com", True, "owner", u, True), got
                assert {r[0] for r in cur.execute("SELECT user_id FROM notes")} == {u}
        with conn.transaction():  # outside a request: no identity
            assert one(conn, "SELECT public.requesting_user_id() IS NULL AND insforge.jwt() IS NULL")
        with postgrest_request(conn, None, role="anon") as cur:
            assert cur.execute("SELECT count(*) FROM notes").fetchone() == (0,)
        assert one(conn, "SHOW insforge_integrations.jwt_audience") == "insforge-api"
        bad = claims_for(USERS[0], aud="other", exp=1)
        assert one(conn, "SELECT insforge.validate_claims(%s::jsonb)", json.dumps(bad)) == ["expired", "audience"]
        assert one(conn, "SELECT insforge.validate_claims(%s::jsonb)", json.dumps(claims_for(USERS[0]))) == []
        with postgrest_request(conn, bad) as cur:
            assert cur.execute("SELECT insforge.claims_valid()").fetchone() == (False,)
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
                cur.execute("SELECT insforge.require_valid_claims()")
    with standby.connect("rep") as s:  # strict mode (a superuser setting)
        s.execute("SET insforge_integrations.strict = on")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="strict"):
            with s.transaction():
                s.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(bad),))
                s.execute("SELECT requesting_user_id()")


def test_standby_jwt_verification_and_key_rotation(primary, standby):
    """verify_jwt with an HS256 token from PyJWT; authenticate() with the key stored on the primary;
    a key rotated on the primary takes effect on the standby's open connection once replayed."""
    now = int(time.time())
    claims = {**claims_for(USERS[2]), "iat": now, "exp": now + 600}
    token = pyjwt.encode(claims, SECRET, algorithm="HS256")
    with standby.connect("rep", user="authenticator") as conn:
        assert one(conn, "SELECT insforge.verify_jwt(%s, %s)", token, SECRET) == claims
        for key in (ROTATED, SECRET + "x"):
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="signature"):
                conn.execute("SELECT insforge.verify_jwt(%s, %s)", (token, key))
        expired = pyjwt.encode({**claims, "exp": now - 3600}, SECRET, algorithm="HS256")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="expired"):
            conn.execute("SELECT insforge.verify_jwt(%s, %s)", (expired, SECRET))
        with conn.transaction():
            assert one(conn, "SELECT insforge.authenticate(%s)", token) == USERS[2]
            assert one(conn, "SELECT current_user") == "authenticated"
            assert {r[0] for r in conn.execute("SELECT user_id FROM notes")} == {USERS[2]}
        with primary.connect("rep") as p:
            p.execute("SELECT insforge.set_jwt_secret(%s)", (ROTATED,))
        wait_replayed(primary, standby, "rep")
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification, match="signature"):
            with conn.transaction():
                conn.execute("SELECT insforge.authenticate(%s)", (token,))
        with conn.transaction():
            assert one(conn, "SELECT insforge.authenticate(%s)",
                       pyjwt.encode(claims, ROTATED, algorithm="HS256")) == USERS[2]
    with primary.connect("rep") as p:
        p.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))


def test_standby_x402_pure_functions(primary, standby, signed):
    settlements, _ = signed
    recorded, fresh = settlements[300], settlements[450]
    with standby.connect("rep") as s:
        value = {"x402Version": 2, "accepts": [recorded.requirements]}
        enc = one(s, "SELECT x402.encode_header(%s::jsonb)", json.dumps(value))
        assert one(s, "SELECT x402.decode_header(%s)", enc) == value
        assert one(s, "SELECT encode(x402.domain_separator('Global Dollar', '1', 196, %s), 'hex')", L.USDG) == \
            "415f0706e345fcaf25d5be24c4fd7830d0054fc5742c51a0db9319c759bd3743"
        assert one(s, "SELECT x402.checksum_address(%s)", L.MERCHANT.lower()) == L.MERCHANT
        assert one(s, "SELECT x402.recover_payer(%s::jsonb)", json.dumps(fresh.payload)) == fresh.payer
        # Checks that stop before the x402.assets lookup work too (the full path: test_standby_verify_payment).
        early = one(s, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb)", json.dumps(fresh.payload),
                    json.dumps({k: v for k, v in fresh.requirements.items() if k != "extra"}))
        assert early["invalidReason"] == "missing_eip712_domain"
        facts = one(s, "SELECT x402._settlement_facts(%s::jsonb, %s::jsonb, %s::jsonb)", *fresh.args())
        assert (facts["tx_hash"], facts["amount"], facts["status"]) == (fresh.tx_hash, str(fresh.amount), "settled")
        totals = s.execute("SELECT requests, revenue FROM x402.stats() WHERE endpoint IS NULL").fetchall()
        with primary.connect("rep") as p:
            assert totals == p.execute("SELECT requests, revenue FROM x402.stats() WHERE endpoint IS NULL").fetchall()


# verify_payment reads x402.assets and the ledger with read-only SPI, so it takes no
# transaction id: it works on a hot standby, in parallel workers (it is PARALLEL
# SAFE), and leaves no commit record on the primary. (These were found failing with
# XX000 and fixed: pgrx's Spi::get_*_with_args helpers run as updates.)


def test_standby_verify_payment(primary, standby, signed):
    settlements, _ = signed
    recorded, fresh = settlements[300], settlements[450]
    with standby.connect("rep") as s:
        ok = one(s, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb)", *fresh.args()[:2])
        assert ok["isValid"] and ok["payer"] == fresh.payer
        # The nonce of a payment recorded on the primary is known on the standby.
        used = one(s, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb)", *recorded.args()[:2])
        assert used["invalidReason"] == "invalid_exact_evm_nonce_already_used"


def test_verify_payment_takes_no_transaction_id(primary, signed):
    settlements, _ = signed
    primary.create_database("xid")
    with primary.connect("xid") as c:
        c.execute("BEGIN READ ONLY")
        valid, xid = c.execute("SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'isValid',"
                               " pg_current_xact_id_if_assigned()", settlements[1].args()[:2]).fetchone()
        c.execute("COMMIT")
        assert valid == "true"
        assert xid is None, f"a read-only call was given transaction id {xid}"
        # PARALLEL SAFE: it must run in a parallel worker (force_parallel_mode is debug_parallel_query from 16 on).
        c.execute("SET debug_parallel_query = on" if int(one(c, "SHOW server_version_num")) >= 160000
                  else "SET force_parallel_mode = on")
        assert one(c, "SELECT x402.verify_payment(%s::jsonb, %s::jsonb) ->> 'isValid'",
                   *settlements[1].args()[:2]) == "true"


def test_standby_set_jwt_secret_sqlstate(standby):
    with standby.connect("rep") as s:
        with pytest.raises(psycopg.Error) as err:
            s.execute("SELECT insforge.set_jwt_secret('x')")
        assert err.value.sqlstate == "25006", f"{err.value.sqlstate}: {err.value}"
