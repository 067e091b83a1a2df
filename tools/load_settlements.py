"""Settlement load and crash tooling for the reliability checks.

Used by tests/integration/test_reliability.py (short, deterministic runs) and
benches/settlement_load.py (the long run behind scripts/reliability.sh):

- make_settlements(): deterministic x402 payments pre-signed with eth-account, one per
  transaction hash (the same hash always carries the same payload), plus "conflicting
  twins": the same hash with another amount and nonce, which must raise 23505.
- install_workload(): the ledger plus the tables and the one helper function the pgbench
  scripts use (load_payloads, load_conflicts, load_calls, load_conflict_log).
- run_pgbench() / check_ledger(): N pgbench clients calling x402.record_settlement() with
  frequent repeats and a few deliberate conflicts, then the ledger checks.
- AckLoader / crash() / check_acknowledged(): psycopg threads that log every settlement
  whose COMMIT was acknowledged, SIGKILL of every process of a cluster, and the check
  that every acknowledged settlement is present exactly once after recovery.

Everything talks to the clusters over their Unix sockets only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import re
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

import x402_sign
from pgcluster import Cluster, _as_postgres

USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"  # Global Dollar on X Layer (eip155:196), in x402.assets
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
PAYERS = 8


@dataclass(frozen=True)
class Settlement:
    k: int
    tx_hash: str
    amount: int
    payer: str
    nonce: str
    payload: dict
    requirements: dict
    settlement: dict

    def args(self) -> tuple[str, str, str]:
        return json.dumps(self.payload), json.dumps(self.requirements), json.dumps(self.settlement)


def _h(*parts) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def requirements_for(amount: int) -> dict:
    return {"scheme": "exact", "network": "eip155:196", "amount": str(amount), "asset": USDG, "payTo": MERCHANT,
            "maxTimeoutSeconds": 300, "extra": {"name": "Global Dollar", "version": "1"}}


@functools.lru_cache(maxsize=None)
def _account(seed: int, i: int):
    from eth_account import Account
    return Account.from_key("0x" + _h("payer", seed, i))


def _one_settlement(args: tuple[int, int, bool]) -> Settlement:
    k, seed, conflicting = args
    account = _account(seed, k % PAYERS)
    amount = 1000 + int(_h("amount", seed, k)[:8], 16) % 1_000_000
    nonce = "0x" + _h("nonce", seed, k)
    if conflicting:  # the same transaction hash, other facts: another amount and nonce
        amount, nonce = amount + 1, "0x" + _h("conflict-nonce", seed, k)
    tx = "0x" + _h("tx", seed, k)
    req = requirements_for(amount)
    payload = x402_sign.sign_payment(account, req, nonce=nonce)
    settle = {"success": True, "transaction": tx, "network": "eip155:196", "payer": account.address}
    return Settlement(k, tx, amount, account.address, nonce, payload, req, settle)


CACHE = Path(os.environ.get("INSFORGE_RELIABILITY_CACHE", "/tmp/insforge-reliability-cache"))


def _cache_file(n: int, seed: int, conflicts: int) -> Path:
    import inspect
    code = inspect.getsource(x402_sign) + inspect.getsource(_one_settlement) + inspect.getsource(requirements_for)
    return CACHE / f"settlements-{seed}-{n}-{conflicts}-{_h(code)[:12]}.json"


def make_settlements(n: int, seed: int = 6, conflicts: int = 0, processes: int | None = None,
                     cache: bool = True) -> tuple[dict[int, Settlement], dict[int, Settlement]]:
    """n settlements keyed 1..n and conflicting twins for keys 1..conflicts. Deterministic in seed.
    Signing is pure Python (about 3 ms each), so large sets use a process per core and are cached
    (as JSON, in INSFORGE_RELIABILITY_CACHE, default /tmp/insforge-reliability-cache; the file name
    carries a hash of the signing code)."""
    path = _cache_file(n, seed, conflicts)
    if cache and path.exists():
        try:
            done = [Settlement(**d) for d in json.loads(path.read_text())]
            return {s.k: s for s in done[:n]}, {s.k: s for s in done[n:]}
        except (ValueError, TypeError):
            pass
    jobs = [(k, seed, False) for k in range(1, n + 1)] + [(k, seed, True) for k in range(1, conflicts + 1)]
    if processes is None:
        processes = min(os.cpu_count() or 1, 4) if len(jobs) > 400 else 1
    if processes > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(processes) as pool:
            done = list(pool.map(_one_settlement, jobs, chunksize=64))
    else:
        done = [_one_settlement(j) for j in jobs]
    if cache:
        try:
            CACHE.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps([s.__dict__ for s in done]))
            tmp.replace(path)
        except OSError:
            pass
    return {s.k: s for s in done[:n]}, {s.k: s for s in done[n:]}


# -- the database side ------------------------------------------------------------------------------------

WORKLOAD_SQL = """
CREATE TABLE load_payloads (k int PRIMARY KEY, tx_hash text NOT NULL, amount numeric(78,0) NOT NULL,
    payer text NOT NULL, nonce text NOT NULL, payload jsonb NOT NULL, requirements jsonb NOT NULL,
    settlement jsonb NOT NULL);
CREATE TABLE load_conflicts (LIKE load_payloads INCLUDING ALL);
-- Keys handed out so far. A call takes a fresh key (nextval) or, with probability repeat%, one already
-- handed out to any client (a retry, possibly of a twin still in flight); past nhash it wraps around.
CREATE SEQUENCE load_fresh;
CREATE FUNCTION load_pick(p_r int, p_u bigint, p_repeat int, p_n int) RETURNS int LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN p_r <= p_repeat AND s.is_called THEN 1 + (p_u % least(s.last_value, p_n))::int
                ELSE 1 + ((nextval('load_fresh') - 1) % p_n)::int END
      FROM load_fresh s
$$;
-- What each pgbench call got back from record_settlement (same transaction as the call).
CREATE TABLE load_calls (client int NOT NULL, k int NOT NULL, id uuid, tx_hash text, amount numeric(78,0),
    payer text, status text, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE load_conflict_log (client int NOT NULL, k int NOT NULL, sqlstate text NOT NULL, message text,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
-- pgbench aborts a client on any error, so the deliberate conflicts go through this function:
-- it catches 23505 (unique_violation) only and logs it; any other error still reaches pgbench.
CREATE FUNCTION load_conflict(p_client int, p_k int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    e load_conflicts;
    r x402.payment;
BEGIN
    SELECT * INTO STRICT e FROM load_conflicts WHERE k = p_k;
    BEGIN
        r := x402.record_settlement(e.payload, e.requirements, e.settlement, '/load-conflict');
    EXCEPTION WHEN unique_violation THEN
        INSERT INTO load_conflict_log (client, k, sqlstate, message) VALUES (p_client, p_k, SQLSTATE, SQLERRM);
        RETURN SQLSTATE;
    END;
    INSERT INTO load_conflict_log (client, k, sqlstate, message)
        VALUES (p_client, p_k, 'none', 'recorded as ' || r.id::text || ' amount ' || r.amount::text);
    RETURN 'none';
END
$$;
"""

CALL_SQL = """WITH p AS MATERIALIZED ({pick})
INSERT INTO load_calls (client, k, id, tx_hash, amount, payer, status)
SELECT {client}, e.k, r.id, r.tx_hash, r.amount, r.payer_address, r.status
  FROM p JOIN load_payloads e ON e.k = p.k,
       LATERAL x402.record_settlement(e.payload, e.requirements, e.settlement, '/load') r;"""

MAIN_SCRIPT = ("\\set r random(1, 100)\n\\set u random(0, 1000000000)\nBEGIN;\nSET LOCAL ROLE project_admin;\n"
               + CALL_SQL.format(client=":client_id", pick="SELECT load_pick(:r, :u, :repeat, :nhash) AS k")
               + "\nEND;\n")

CONFLICT_SCRIPT = """\\set c random(1, :nconf)
BEGIN;
SET LOCAL ROLE project_admin;
SELECT load_conflict(:client_id, :c);
END;
"""


def _copy_rows(conn, table: str, items) -> None:
    with conn.cursor().copy(f"COPY {table} (k, tx_hash, amount, payer, nonce, payload, requirements, settlement)"
                            " FROM STDIN") as cp:
        for s in items:
            cp.write_row((s.k, s.tx_hash, s.amount, s.payer, s.nonce, *s.args()))


def install_workload(conn, settlements: dict[int, Settlement], conflicts: dict[int, Settlement]) -> None:
    """The ledger, the workload tables and their rows; then records the conflicting keys' originals
    (so every deliberate conflict meets a recorded row and must raise 23505)."""
    conn.execute("SELECT x402.install_ledger()")
    conn.execute(WORKLOAD_SQL)
    _copy_rows(conn, "load_payloads", settlements.values())
    _copy_rows(conn, "load_conflicts", conflicts.values())
    conn.execute("ANALYZE load_payloads; ANALYZE load_conflicts")
    for k in conflicts:
        record_call(conn, -1, k)
    if conflicts:  # fresh keys start after the seeded ones, repeats may pick them
        conn.execute("SELECT setval('load_fresh', %s)", (max(conflicts),))


def record_call(conn, client: int, k: int) -> None:
    """The pgbench main script's transaction, once, from psycopg (autocommit connection)."""
    with conn.transaction():
        conn.execute("SET LOCAL ROLE project_admin")
        conn.execute(CALL_SQL.format(client="%s", pick="SELECT %s::int AS k"), (k, client))


def run_pgbench(cluster: Cluster, db: str, workdir: Path, *, clients: int, jobs: int, nhash: int, nconf: int,
                transactions: int | None = None, duration: int | None = None, conflict_weight: int = 1,
                main_weight: int = 49, repeat: int = 50, seed: int = 6, user: str = "authenticator") -> dict:
    """pgbench with two scripts: the main one (with probability repeat% a hash some client already
    called, else a fresh one: so about repeat% of the calls repeat, most across clients) and the
    conflict one (a seeded key with other facts, weight conflict_weight against main_weight)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "settle.sql").write_text(MAIN_SCRIPT)
    (workdir / "conflict.sql").write_text(CONFLICT_SCRIPT)
    cmd = [str(cluster.bin / "pgbench"), "-n", "-h", str(cluster.base), "-p", str(cluster.port), "-U", user,
           "-c", str(clients), "-j", str(jobs), "-D", f"nhash={nhash}", "-D", f"nconf={nconf}",
           "-D", f"repeat={repeat}",
           f"--random-seed={seed}", "-f", f"{workdir / 'settle.sql'}@{main_weight}",
           "-f", f"{workdir / 'conflict.sql'}@{conflict_weight}"]
    cmd += ["-t", str(transactions)] if transactions else ["-T", str(duration)]
    cmd.append(db)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = {"command": " ".join(cmd), "returncode": p.returncode, "stdout": p.stdout, "stderr": p.stderr,
           "elapsed": time.time() - t0, "clients": clients}

    def grab(pattern, conv=int):
        m = re.search(pattern, p.stdout)
        return conv(m.group(1)) if m else None
    out["processed"] = grab(r"number of transactions actually processed: (\d+)")
    out["failed"] = grab(r"number of failed transactions: (\d+)")
    out["tps"] = grab(r"tps = ([0-9.]+) \(without initial connection time\)", float)
    out["latency_ms"] = grab(r"latency average = ([0-9.]+) ms", float)
    out["aborted"] = grab(r"number of clients aborted: (\d+)") or 0
    out["stderr_errors"] = [ln for ln in p.stderr.splitlines() if re.search(r"ERROR|FATAL|abort", ln)]
    return out


# -- the journal load: begin, /settle (or not), record, retries -------------------------------------------

JOURNAL_SQL = """
-- Each call is what a paid endpoint does for one payment: begin_settlement() (committed
-- before /settle), then in a second transaction the facilitator's answer through
-- record_settlement(): a settlement (most), a failure (the client retries later), a second
-- transaction for the same authorization (nonce reuse), or nothing (the app died between the
-- two; reconcile_journal() records those afterwards, as an operator would).
CREATE TABLE load_journal (client int NOT NULL, k int NOT NULL, step text NOT NULL, status text, id uuid,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE FUNCTION load_reuse_tx(p_k int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '0x' || md5('reuse' || p_k) || md5('reuse-2' || p_k) $$;
CREATE FUNCTION load_journal_begin(p_client int, p_k int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    e load_payloads;
    r x402.payment;
BEGIN
    SELECT * INTO STRICT e FROM load_payloads WHERE k = p_k;
    r := x402.begin_settlement(e.payload, e.requirements, '/journal');
    INSERT INTO load_journal (client, k, step, status, id) VALUES (p_client, p_k, 'begin', r.status, r.id);
    RETURN p_k;
END
$$;
CREATE FUNCTION load_journal_finish(p_client int, p_k int, p_outcome int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    e load_payloads;
    r x402.payment;
    step text;
BEGIN
    SELECT * INTO STRICT e FROM load_payloads WHERE k = p_k;
    IF p_outcome <= 5 THEN
        INSERT INTO load_journal (client, k, step) VALUES (p_client, p_k, 'died');
        RETURN 'died';
    ELSIF p_outcome <= 12 THEN
        step := 'failed';
        r := x402.record_settlement(e.payload, e.requirements,
                                    '{"success": false, "errorReason": "insufficient_funds", "transaction": ""}', '/journal');
    ELSIF p_outcome <= 15 THEN
        step := 'reuse';
        r := x402.record_settlement(e.payload, e.requirements,
                                    e.settlement || jsonb_build_object('transaction', load_reuse_tx(p_k)), '/journal');
    ELSE
        step := 'settled';
        r := x402.record_settlement(e.payload, e.requirements, e.settlement, '/journal');
    END IF;
    INSERT INTO load_journal (client, k, step, status, id) VALUES (p_client, p_k, step, r.status, r.id);
    RETURN r.status;
END
$$;
"""

JOURNAL_SCRIPT = """\\set r random(1, 100)
\\set u random(0, 1000000000)
\\set outcome random(1, 100)
BEGIN;
SET LOCAL ROLE project_admin;
SELECT load_journal_begin(:client_id, load_pick(:r, :u, :repeat, :nhash)) AS k \\gset
END;
BEGIN;
SET LOCAL ROLE project_admin;
SELECT load_journal_finish(:client_id, :k, :outcome);
END;
"""


def install_journal_workload(conn, settlements: dict[int, Settlement]) -> None:
    """The ledger, the payloads and the journal load's functions (no conflicting twins)."""
    conn.execute("SELECT x402.install_ledger()")
    conn.execute(WORKLOAD_SQL)
    conn.execute(JOURNAL_SQL)
    _copy_rows(conn, "load_payloads", settlements.values())
    conn.execute("ANALYZE load_payloads")


def run_journal_pgbench(cluster: Cluster, db: str, workdir: Path, *, clients: int, jobs: int, nhash: int,
                        transactions: int, repeat: int = 30, seed: int = 6, user: str = "authenticator") -> dict:
    """pgbench with the journal script: each transaction pair begins one payment (a fresh one, or
    with probability repeat% one already begun: a retry) and records an outcome for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "journal.sql").write_text(JOURNAL_SCRIPT)
    cmd = [str(cluster.bin / "pgbench"), "-n", "-h", str(cluster.base), "-p", str(cluster.port), "-U", user,
           "-c", str(clients), "-j", str(jobs), "-D", f"nhash={nhash}", "-D", f"repeat={repeat}",
           f"--random-seed={seed}", "-f", str(workdir / "journal.sql"), "-t", str(transactions), db]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"number of transactions actually processed: (\d+)", p.stdout)
    f = re.search(r"number of failed transactions: (\d+)", p.stdout)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", p.stdout)
    return {"command": " ".join(cmd), "returncode": p.returncode, "stdout": p.stdout, "stderr": p.stderr,
            "elapsed": time.time() - t0, "processed": int(m.group(1)) if m else None,
            "failed": int(f.group(1)) if f else None, "tps": float(tps.group(1)) if tps else None,
            "aborted": int((re.search(r"number of clients aborted: (\d+)", p.stdout) or [0, 0])[1]),
            "stderr_errors": [ln for ln in p.stderr.splitlines() if re.search(r"ERROR|FATAL|abort", ln)]}


def reconcile_journal(conn) -> int:
    """What an operator does with x402.unreconciled(): looks each pending authorization up (here: the
    facilitator settled it under its signed transaction) and records the answer. Returns how many."""
    pending = conn.execute("SELECT e.payload, e.requirements, e.settlement FROM x402.unreconciled('0 seconds') u"
                           " JOIN load_payloads e ON e.nonce = u.nonce").fetchall()
    for payload, requirements, settlement in pending:
        with conn.transaction():
            conn.execute("SET LOCAL ROLE project_admin")
            conn.execute("SELECT x402.record_settlement(%s, %s, %s, '/journal')",
                         (json.dumps(payload), json.dumps(requirements), json.dumps(settlement)))
    return len(pending)


def check_journal(conn, settlements: dict[int, Settlement]) -> dict:
    """The journal's invariants after the load and the reconciliation (every *_bad must be 0)."""
    r = {}
    r["steps"] = dict(conn.execute("SELECT step, count(*) FROM load_journal GROUP BY 1 ORDER BY 1").fetchall())
    r["rows"] = dict(conn.execute("SELECT status, count(*) FROM public.x402_payments GROUP BY 1 ORDER BY 1").fetchall())
    r["pending_bad"] = r["rows"].get("pending", 0)
    # At most one settled row per authorization, and one for every authorization that has a transaction.
    r["settled_per_authorization_bad"] = one(
        conn, "SELECT count(*) FROM (SELECT nonce FROM public.x402_payments WHERE tx_hash IS NOT NULL GROUP BY nonce"
              " HAVING count(*) FILTER (WHERE status = 'settled') <> 1) x")
    # Every transaction recorded once; the disputed ones are exactly the other transactions of an authorization.
    r["duplicate_tx_bad"] = one(conn, "SELECT count(*) - count(DISTINCT tx_hash) FROM public.x402_payments"
                                      " WHERE tx_hash IS NOT NULL")
    r["disputed_without_reuse_bad"] = one(
        conn, "SELECT count(*) FROM public.x402_payments WHERE status = 'disputed'"
              " AND dispute_reason NOT LIKE '%%already recorded under transaction%%'")
    r["settled_wrong_facts_bad"] = one(
        conn, "SELECT count(*) FROM public.x402_payments p JOIN load_payloads e ON e.nonce = p.nonce"
              " WHERE p.status = 'settled' AND (p.amount <> e.amount OR lower(p.payer_address) <> lower(e.payer)"
              " OR p.tx_hash NOT IN (e.tx_hash, load_reuse_tx(e.k)))")
    # Revenue: each authorization with a transaction counted once, at its amount.
    revenue = one(conn, "SELECT coalesce(sum(revenue), 0) FROM x402.stats() WHERE endpoint IS NULL")
    expected = one(conn, "SELECT coalesce(sum(e.amount), 0) FROM load_payloads e WHERE EXISTS"
                         " (SELECT 1 FROM public.x402_payments p WHERE p.nonce = e.nonce AND p.tx_hash IS NOT NULL)")
    r["revenue"], r["expected_revenue"] = int(revenue), int(expected)
    r["revenue_mismatch_bad"] = int(revenue) - int(expected)
    # Every begin answered pending (an intent, new or retried) or settled (already paid: do not settle again).
    r["begin_other_status_bad"] = one(conn, "SELECT count(*) FROM load_journal WHERE step = 'begin'"
                                            " AND status NOT IN ('pending', 'settled')")
    r["retried_begins"] = one(conn, "SELECT count(*) - count(DISTINCT k) FROM load_journal WHERE step = 'begin'")
    return r


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def check_ledger(conn, settlements: dict[int, Settlement]) -> dict:
    """Every invariant of the pgbench run, as numbers (all the *_bad ones must be 0)."""
    r = {}
    r["rows"], r["distinct_hashes"], r["distinct_lower_hashes"] = conn.execute(
        "SELECT count(*), count(DISTINCT tx_hash), count(DISTINCT lower(tx_hash)) FROM public.x402_payments").fetchone()
    r["duplicates"] = r["rows"] - r["distinct_lower_hashes"]
    r["calls"], r["distinct_keys_called"] = conn.execute(
        "SELECT count(*), count(DISTINCT k) FROM load_calls").fetchone()
    r["pgbench_calls"] = one(conn, "SELECT count(*) FROM load_calls WHERE client >= 0")
    r["repeat_calls"] = r["calls"] - r["distinct_keys_called"]
    r["fresh_keys_wrapped"] = one(conn, "SELECT last_value > (SELECT count(*) FROM load_payloads) FROM load_fresh")
    r["keys_called_by_several_clients"] = one(
        conn, "SELECT count(*) FROM (SELECT k FROM load_calls WHERE client >= 0 GROUP BY k"
              " HAVING count(DISTINCT client) > 1) x")
    # The ledger holds exactly the hashes that were called, nothing else.
    r["ledger_vs_calls_bad"] = one(
        conn, "SELECT count(*) FROM public.x402_payments p FULL JOIN (SELECT DISTINCT tx_hash FROM load_calls) c"
              " USING (tx_hash) WHERE p.id IS NULL OR c.tx_hash IS NULL")
    # Each row carries the facts of the one payload signed for its hash (never a conflicting twin's).
    r["wrong_facts_bad"] = one(
        conn, "SELECT count(*) FROM public.x402_payments p LEFT JOIN load_payloads e USING (tx_hash)"
              " WHERE e.k IS NULL OR p.amount <> e.amount OR lower(p.payer_address) <> lower(e.payer)"
              " OR p.nonce <> e.nonce OR p.status <> 'settled'")
    # Every call (first or repeat) got back the one row of its hash.
    r["returned_other_row_bad"] = one(
        conn, "SELECT count(*) FROM load_calls c LEFT JOIN public.x402_payments p USING (tx_hash)"
              " JOIN load_payloads e ON e.k = c.k WHERE p.id IS NULL OR c.id <> p.id OR c.tx_hash <> e.tx_hash"
              " OR c.amount <> e.amount OR c.payer <> e.payer OR c.status <> 'settled'")
    r["conflict_attempts"] = one(conn, "SELECT count(*) FROM load_conflict_log")
    r["conflicts_23505"] = one(conn, "SELECT count(*) FROM load_conflict_log WHERE sqlstate = '23505'"
                                     " AND message LIKE '%%already recorded with different facts%%'")
    r["conflicts_other_bad"] = r["conflict_attempts"] - r["conflicts_23505"]
    ledger_sum = one(conn, "SELECT coalesce(sum(amount), 0) FROM public.x402_payments")
    called = {k for (k,) in conn.execute("SELECT DISTINCT k FROM load_calls").fetchall()}
    expected_sum = sum(settlements[k].amount for k in called)
    r["ledger_sum"], r["expected_sum"] = int(ledger_sum), expected_sum
    r["sum_mismatch_bad"] = int(ledger_sum) - expected_sum
    return r


# -- acknowledged commits and crashes ---------------------------------------------------------------------

class AckLoader:
    """`workers` threads, each on its own connection (as authenticator, SET LOCAL ROLE project_admin),
    recording settlements: with probability `repeat` one already attempted by any worker (a retry,
    which must return the existing row), otherwise a fresh one (worker i takes keys i+1, i+1+workers,
    ...; once they run out it only repeats, counted in `fresh_exhausted`). With probability
    conflict_rate, the conflicting twin of an acknowledged key instead: it must raise 23505 (counted
    in conflicts_23505; anything else in `unexpected`). A line `ack <k> <id>` is written
    and flushed to acks-<worker>.log after COMMIT returned; `doubt <k>` when the connection broke
    before the answer to COMMIT arrived (the commit may or may not have happened). Connections that
    break are reopened until stop()."""

    def __init__(self, cluster: Cluster, db: str, settlements: dict[int, Settlement], workers: int,
                 ack_dir: Path, seed: int = 6, user: str = "authenticator", repeat: float = 0.5,
                 conflicts: dict[int, Settlement] | None = None, conflict_rate: float = 0.0):
        self.conninfo = cluster.conninfo(db, user)
        self.conflicts = {k: s.args() for k, s in (conflicts or {}).items()}
        self.conflict_rate = conflict_rate
        self.acked_keys: set[int] = set()
        self.conflicts_23505 = 0
        self.repeat = repeat
        self.attempted: list[int] = []
        self.fresh_exhausted = 0
        self.settlements = settlements
        self.keys = sorted(settlements)
        self.args = {k: s.args() for k, s in settlements.items()}
        self.workers = workers
        self.ack_dir = ack_dir
        self.seed = seed
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acked = 0
        self.in_doubt = 0
        self.reconnects = 0
        self.unexpected: Counter = Counter()  # sqlstate -> count, errors on a live connection
        self.threads: list[threading.Thread] = []
        ack_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> "AckLoader":
        for i in range(self.workers):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(60)

    def _connect(self):
        try:
            return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=3)
        except psycopg.Error:
            return None

    def _conflict(self, conn, k: int) -> None:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL ROLE project_admin")
                conn.execute("SELECT id FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb, '/load-conflict')",
                             self.conflicts[k])
            with self.lock:
                self.unexpected["conflict recorded"] += 1
        except psycopg.errors.UniqueViolation as e:
            with self.lock:
                if "already recorded with different facts" in str(e):
                    self.conflicts_23505 += 1
                else:
                    self.unexpected["23505 other message"] += 1
        except psycopg.Error as e:
            if not (conn.closed or conn.broken or isinstance(e, psycopg.OperationalError)):
                with self.lock:
                    self.unexpected[e.sqlstate or type(e).__name__] += 1
            else:
                try:
                    conn.close()
                except Exception:
                    pass

    def _run(self, i: int) -> None:
        rng = random.Random(self.seed * 1000 + i)
        own = iter(self.keys[i::self.workers])
        conn = None
        with open(self.ack_dir / f"acks-{i}.log", "a", buffering=1) as log:
            while not self.stop_event.is_set():
                if conn is None:
                    conn = self._connect()
                    if conn is None:
                        time.sleep(0.1)
                        continue
                    with self.lock:
                        self.reconnects += 1
                if self.conflict_rate and rng.random() < self.conflict_rate:
                    with self.lock:
                        ready = sorted(self.acked_keys.intersection(self.conflicts))
                    if ready:
                        self._conflict(conn, rng.choice(ready))
                        if conn.broken or conn.closed:
                            conn = None
                        continue
                k = None
                if self.attempted and rng.random() < self.repeat:
                    k = rng.choice(self.attempted)
                else:
                    fresh = next(own, None)
                    if fresh is None:
                        with self.lock:
                            self.fresh_exhausted += 1
                        k = rng.choice(self.attempted or self.keys)
                    else:
                        k = fresh
                        with self.lock:
                            self.attempted.append(k)
                try:
                    with conn.transaction():
                        conn.execute("SET LOCAL ROLE project_admin")
                        row = conn.execute("SELECT id FROM x402.record_settlement(%s::jsonb, %s::jsonb, %s::jsonb,"
                                           " '/load')", self.args[k]).fetchone()
                    # COMMIT was acknowledged.
                    log.write(f"ack {k} {row[0]}\n")
                    with self.lock:
                        self.acked += 1
                        self.acked_keys.add(k)
                except psycopg.Error as e:
                    if conn.closed or conn.broken or isinstance(e, psycopg.OperationalError):
                        log.write(f"doubt {k}\n")
                        with self.lock:
                            self.in_doubt += 1
                        try:
                            conn.close()
                        except Exception:
                            pass
                        conn = None
                    else:
                        with self.lock:
                            self.unexpected[e.sqlstate or type(e).__name__] += 1
            if conn is not None:
                conn.close()


def postgres_pids(cluster: Cluster) -> list[int]:
    """The postmaster (from postmaster.pid) and every process it started."""
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid] + [int(p) for p in kids]


def _gone(pid: int) -> bool:
    """The process no longer exists, not even as a zombie: Postgres's lock-file check uses
    kill(pid, 0), which succeeds for a zombie, and on this machine PID 1 reaps orphans only
    every second or so."""
    return not Path(f"/proc/{pid}").exists()


def crash(cluster: Cluster) -> int:
    """kill -9, as postgres, the postmaster and every backend/auxiliary process of the cluster at once
    (a machine-level crash of the server processes). Returns how many processes were killed."""
    pids = postgres_pids(cluster)
    subprocess.run(_as_postgres(["kill", "-9", *map(str, pids)]), check=False, capture_output=True)
    deadline = time.time() + 30
    while not all(_gone(p) for p in pids):
        if time.time() > deadline:
            raise RuntimeError(f"postgres processes survived SIGKILL: {[p for p in pids if not _gone(p)]}")
        time.sleep(0.05)
    return len(pids)


def read_acks(ack_dir: Path) -> tuple[dict[int, set[str]], Counter, int]:
    """k -> ids acknowledged for it, k -> times in doubt, total acknowledged commits."""
    acked: dict[int, set[str]] = {}
    doubt: Counter = Counter()
    total = 0
    for f in sorted(ack_dir.glob("acks-*.log")):
        for line in f.read_text().splitlines():
            parts = line.split()
            if parts[0] == "ack":
                acked.setdefault(int(parts[1]), set()).add(parts[2])
                total += 1
            elif parts[0] == "doubt":
                doubt[int(parts[1])] += 1
    return acked, doubt, total


def check_acknowledged(conn, settlements: dict[int, Settlement], ack_dir: Path) -> dict:
    """After recovery: every acknowledged settlement is in the ledger, once, with the id its
    COMMIT returned; nothing is there that was neither acknowledged nor in doubt."""
    acked, doubt, total = read_acks(ack_dir)
    by_hash = {s.tx_hash: k for k, s in settlements.items()}
    rows = conn.execute("SELECT tx_hash, id::text, amount FROM public.x402_payments").fetchall()
    ledger: dict[int, list[tuple[str, int]]] = {}
    unknown = 0
    for tx, rid, amount in rows:
        k = by_hash.get(tx)
        if k is None:
            unknown += 1
            continue
        ledger.setdefault(k, []).append((rid, int(amount)))
    r = {"acknowledged_commits": total, "acknowledged_settlements": len(acked),
         "in_doubt_attempts": sum(doubt.values()), "ledger_rows": len(rows)}
    r["ids_per_ack_bad"] = sum(1 for ids in acked.values() if len(ids) != 1)  # a repeat returned another row
    r["rows_lost"] = sum(1 for k, ids in acked.items() if k not in ledger or {i for i, _ in ledger[k]} != ids)
    r["duplicates"] = sum(len(v) - 1 for v in ledger.values()) + (len(rows) - one(
        conn, "SELECT count(DISTINCT lower(tx_hash)) FROM public.x402_payments"))
    r["phantom_rows"] = unknown + sum(1 for k in ledger if k not in acked and k not in doubt)
    r["in_doubt_settlements_present"] = sum(1 for k in doubt if k not in acked and k in ledger)
    r["in_doubt_settlements_absent"] = sum(1 for k in doubt if k not in acked and k not in ledger)
    r["wrong_amount"] = sum(1 for k, v in ledger.items() for _, a in v if a != settlements[k].amount)
    r["ledger_sum"] = sum(a for v in ledger.values() for _, a in v)
    r["expected_sum_at_least"] = sum(settlements[k].amount for k in acked)
    return r


def amcheck(conn) -> int:
    """amcheck over the ledger's heap and every index (heapallindexed); returns the number of
    corruption reports (raises if an index check fails)."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    for (idx,) in conn.execute("SELECT indexrelid::regclass::text FROM pg_index"
                               " WHERE indrelid = 'public.x402_payments'::regclass").fetchall():
        conn.execute("SELECT bt_index_parent_check(%s::regclass, true)", (idx,))
    return one(conn, "SELECT count(*) FROM verify_heapam('public.x402_payments')")


def recovery_log_lines(cluster: Cluster, since_bytes: int = 0) -> list[str]:
    """Crash-recovery lines of the server log written after byte offset since_bytes."""
    try:
        text = (cluster.base / "server.log").read_bytes()[since_bytes:].decode(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines()
            if re.search(r"not properly shut down|automatic recovery|redo starts|redo done|interrupted", ln)]


def log_size(cluster: Cluster) -> int:
    try:
        return (cluster.base / "server.log").stat().st_size
    except OSError:
        return 0


def crash_cycles(cluster: Cluster, db: str, settlements: dict[int, Settlement], ack_dir: Path, *, workers: int,
                 cycles: int, load_seconds: float | None = None, acks_per_cycle: int | None = None, seed: int = 6,
                 repeat: float = 0.5, conflicts: dict[int, Settlement] | None = None, conflict_rate: float = 0.0,
                 progress=None) -> dict:
    """Load with AckLoader; `cycles` times: let it run (about load_seconds, or until about
    acks_per_cycle more commits were acknowledged; both randomised by +-40%), kill -9 every process
    of the cluster, restart it (crash recovery). Then one more such period without a crash, stop,
    and check. Returns the numbers."""
    rng = random.Random(seed)
    loader = AckLoader(cluster, db, settlements, workers, ack_dir, seed=seed, repeat=repeat, conflicts=conflicts,
                       conflict_rate=conflict_rate).start()
    t0 = time.time()
    recoveries, killed, acked_at_kill, doubt_at_kill, fresh_left_at_kill = [], [], [], [], []

    budget = len(settlements) * 0.95 / (cycles + 1)  # fresh keys per period, so they never run out

    def run_period(c):
        start_acks, start_t = loader.acked, time.time()
        factor = rng.uniform(0.6, 1.4)
        while True:
            time.sleep(0.02)
            if not any(t.is_alive() for t in loader.threads):
                raise RuntimeError("the loader threads died")
            if acks_per_cycle is not None and loader.acked - start_acks >= acks_per_cycle * factor:
                return
            if load_seconds is not None and time.time() - start_t >= load_seconds * factor:
                return
            if len(loader.attempted) >= budget * (c + 1):
                return
            if time.time() - start_t > 120:
                raise RuntimeError(f"no progress: {loader.acked - start_acks} commits in 120 s")

    try:
        for c in range(cycles):
            run_period(c)
            acked_at_kill.append(loader.acked)
            doubt_before = loader.in_doubt
            fresh_left_at_kill.append(loader.fresh_exhausted == 0)
            offset = log_size(cluster)
            killed.append(crash(cluster))
            cluster.start()
            recoveries.append(recovery_log_lines(cluster, offset))
            time.sleep(0.3)  # let the workers notice and reconnect
            doubt_at_kill.append(loader.in_doubt - doubt_before)
            if progress:
                progress(f"crash {c + 1}/{cycles} at {time.time() - t0:.0f} s: SIGKILLed {killed[-1]} processes after"
                         f" {acked_at_kill[-1]} acknowledged commits; restarted after crash recovery")
        run_period(cycles)
    finally:
        loader.stop()
    elapsed = time.time() - t0
    with cluster.connect(db) as conn:
        r = check_acknowledged(conn, settlements, ack_dir)
        r["amcheck_corruptions"] = amcheck(conn)
    r.update({"workers": workers, "crash_cycles": len(killed), "processes_killed": killed,
              "acked_at_each_kill": acked_at_kill, "in_doubt_at_each_kill": doubt_at_kill,
              "fresh_keys_left_at_each_kill": fresh_left_at_kill, "elapsed_s": round(elapsed, 1),
              "ack_tps": round(r["acknowledged_commits"] / elapsed, 1), "reconnects": loader.reconnects,
              "unexpected_errors": dict(loader.unexpected), "fresh_exhausted": loader.fresh_exhausted,
              "conflicts_23505": loader.conflicts_23505,
              "recovered_with_redo": sum(1 for lines in recoveries if any("redo starts" in ln for ln in lines)),
              "recovery_log": recoveries})
    return r
