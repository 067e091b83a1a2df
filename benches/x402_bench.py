"""x402 benchmark, one run, one throwaway cluster (port 55443):

Part 1, payer recovery, server side. One query runs N calls over generate_series on a one-row
  table holding the x402 payload (a column, so nothing is constant-folded); the time of a
  loop-only query (same join, count(t.p)) is subtracted; median of interleaved runs; µs per call.
    (a) x402.recover_payer(payload)           EIP-712 hashing + secp256k1 recovery (this extension)
    (b) digest(payload::text, 'sha256')       pgcrypto, the same payload: the baseline
    (c) x402.checksum_address(from)           one Keccak-256 of an address, for scale
    (d) x402.verify_payment(p2, r2, at)       a Permit2 `exact` payment (tools/x402_permit2.py, X Layer
                                              USDG) verified against its requirements: the whole check,
                                              EIP-712 hashing and recovery included (its floor is the raw
                                              recovery of the same signature, core/benches/raw_crypto.rs)
    (e) x402.verify_payment(p, r, at)         the EIP-3009 payment of (a), for scale (it also looks up
                                              x402.assets and the ledger)
  For reference only (not a baseline): the same recovery in the app with eth-account (Python,
  encode_typed_data + recover_message), µs per call.

Part 2, the settlement journal under pgbench (2 clients), each against a plain INSERT ...
  RETURNING of the same row into an identical table (CREATE TABLE ... LIKE public.x402_payments
  INCLUDING ALL: the same constraints and indexes, the one-live-row-per-authorization index
  included; the same RLS policies):
    x402.record_settlement(...)   a settled payment, against a plain INSERT of its settled row;
    x402.begin_settlement(...)    an intent before /settle, against a plain INSERT of its pending row.
  And the floor of any recording that checks the signature: the same plain INSERT of the
  settled row, into a third copy, with its payer from one x402.recover_payer() call instead of the
  precomputed column (checked_insert). checked_insert / plain_insert is the most record_settlement
  could reach while it checks signatures; record_settlement / checked_insert, how close it comes.
  All as project_admin (the service key): pgbench connects as `authenticator` and each transaction
  is BEGIN; SET LOCAL ROLE project_admin; <statement>; END (-M prepared), `--transactions` per
  client and round. Every transaction records a payment of its own: one signed authorization
  settles once (a second transaction for it would be disputed), so (rounds + 1) x clients x
  transactions payments are pre-signed (x402_sign.FastSigner, libsecp256k1, checked against
  eth-account) with distinct payers' nonces and amounts, and each transaction takes the next one
  (round, client id and a per-client counter), under a transaction hash of its own (md5 prefix for
  random B-tree placement, then the three counters in hex). begin_settlement does not check the
  signature (record_settlement and verify_payment do), so its intents use those payments with a
  nonce of their own. Rounds are interleaved (the order alternates), TPS is the median over
  rounds. Before each round the tables are vacuumed and analyzed and a checkpoint is taken
  (autovacuum is off), so neither falls on one round at random. At the end each table's rows must
  equal the transactions pgbench reported (warm-up included): every record `settled`, every intent
  `pending`, the same facts in the tables (the recovered payers included).

Settings as benches/rls_bench.py (tools/pgcluster.py defaults: fsync=off, Unix socket;
shared_buffers=1GB; autovacuum=off; jit=off and no parallel workers for part 1). fsync=off makes commits nearly
free, the worst case for part 2's ratios; --durable measures with fsync and synchronous_commit on,
as a production server commits.

Usage: python3 benches/x402_bench.py [--calls 2000] [--runs 9] [--transactions 4000] [--rounds 3]
Install a release build first:
  cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config
"""

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from pgcluster import Cluster  # noqa: E402
from x402_sign import FastSigner, typed_data  # noqa: E402
import x402_permit2 as p2  # noqa: E402

PORT = 55443
USDG = "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8"  # Global Dollar on X Layer (eip155:196)
MERCHANT = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
PAYERS = 16
PLACEHOLDER_TX = "0x" + "00" * 32
def say(msg):
    print(msg, file=sys.stderr, flush=True)


def _h(*parts) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def make_payments(n):
    """n x402 v2 "exact" USDG payments, deterministic; the first signed with eth-account, the rest
    with x402_sign.FastSigner (checked against eth-account first)."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    accounts = [Account.from_key("0x" + _h("x402-bench-payer", i)) for i in range(PAYERS)]
    base = {"scheme": "exact", "network": "eip155:196", "amount": "1000", "asset": USDG, "payTo": MERCHANT,
            "maxTimeoutSeconds": 300, "extra": {"name": "Global Dollar", "version": "1"}}
    fast = FastSigner(base)
    fast.check(accounts[0])
    out = []
    for k in range(1, n + 1):
        acct = accounts[k % PAYERS]
        amount = 1000 + int(_h("amount", k)[:8], 16) % 1_000_000
        nonce = "0x" + _h("nonce", k)
        if k == 1:
            req = dict(base, amount=str(amount))
            auth = {"from": acct.address, "to": MERCHANT, "value": str(amount), "validAfter": "0",
                    "validBefore": "4102444800", "nonce": nonce}
            signed = Account.sign_message(encode_typed_data(full_message=typed_data(req, auth)), acct.key)
            payload = {"x402Version": 2, "accepted": req, "payload": {
                "signature": "0x" + signed.signature.hex().removeprefix("0x"), "authorization": auth}}
        else:
            payload = fast.sign(acct.key, acct.address, amount, nonce)
        settle = {"success": True, "transaction": PLACEHOLDER_TX, "network": "eip155:196", "payer": acct.address}
        out.append((k, payload, payload["accepted"], settle))
    return out


def make_permit2_payment():
    """One Permit2 `exact` payment on X Layer (USDG), deterministic, and the time it is valid at."""
    fx = p2.Fixture(seed="x402-bench/permit2", network="eip155:196", asset=USDG, amount=1000)
    req = fx.requirements("exact")
    return {"payload": fx.sign("exact", req), "requirements": req, "at": fx.now}


def library_state():
    """sha256 of the installed library and whether it is the release build in target/."""
    pg_config = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
    pkglib = subprocess.check_output([pg_config, "--pkglibdir"], text=True).strip()
    lib = Path(pkglib) / "insforge_integrations.so"
    rel = ROOT / "target" / "release" / "libinsforge_integrations.so"

    def digest(p):
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
    installed = digest(lib)
    return {"installed_sha256": installed, "size": lib.stat().st_size if lib.exists() else None,
            "is_release": installed is not None and installed == digest(rel)}


# -- part 1: per-call cost ---------------------------------------------------------------------------------

CALL_QUERIES = {
    "loop": "select count(t.p) from bench_rp t, generate_series(1, {n}) g",
    "recover_payer": "select count(x402.recover_payer(t.p)) from bench_rp t, generate_series(1, {n}) g",
    "sha256": "select count(digest(t.p::text, 'sha256')) from bench_rp t, generate_series(1, {n}) g",
    "checksum_address": "select count(x402.checksum_address(t.a)) from bench_rp t, generate_series(1, {n}) g",
    "verify_permit2": "select count(x402.verify_payment(t.p2, t.r2, t.at)) from bench_rp t, generate_series(1, {n}) g",
    "verify_eip3009": "select count(x402.verify_payment(t.p, t.r, t.at)) from bench_rp t, generate_series(1, {n}) g",
}


def on_cpu(pid):
    """Seconds the backend has spent on a CPU (Linux schedstat), or None where unreadable."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def per_call(conn, payload, permit2, calls, runs):
    """µs per call net of the loop, medians over interleaved runs (order rotated per run). Time is the
    backend's on-CPU time (/proc/<pid>/schedstat around each query, as in jwt_bench.py), so waiting for
    one of the shared cores does not count; wall-clock where schedstat cannot be read."""
    conn.execute("create extension if not exists pgcrypto")
    conn.execute("create table bench_rp (p jsonb not null, a text not null, r jsonb not null, p2 jsonb not null,"
                 " r2 jsonb not null, at timestamptz not null)")
    conn.execute("insert into bench_rp values (%s::jsonb, lower(%s), %s::jsonb, %s::jsonb, %s::jsonb, to_timestamp(%s))",
                 (json.dumps(payload), payload["payload"]["authorization"]["from"], json.dumps(payload["accepted"]),
                  json.dumps(permit2["payload"]), json.dumps(permit2["requirements"]), permit2["at"]))
    conn.execute("vacuum analyze bench_rp")
    signer = conn.execute("select x402.recover_payer(p) from bench_rp").fetchone()[0]
    if signer != payload["payload"]["authorization"]["from"]:
        raise SystemExit(f"recover_payer gave {signer}")
    for col, want in (("p2, r2", permit2["payload"]["payload"]["permit2Authorization"]["from"]),
                      ("p, r", payload["payload"]["authorization"]["from"])):
        verdict = conn.execute(f"select x402.verify_payment({col}, at) from bench_rp").fetchone()[0]
        if not verdict["isValid"] or verdict["payer"] != want:
            raise SystemExit(f"verify_payment({col}) gave {verdict}")
    conn.execute("set jit = off")
    conn.execute("set max_parallel_workers_per_gather = 0")
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    clock = "on-CPU" if on_cpu(pid) is not None else "wall-clock"
    names = list(CALL_QUERIES)
    times = {q: [] for q in names}
    for q, sql in CALL_QUERIES.items():  # warm-up
        conn.execute(sql.format(n=max(calls // 10, 1))).fetchone()
    for run in range(runs):
        for q in names[run % len(names):] + names[:run % len(names)]:
            c0, t0 = on_cpu(pid), time.perf_counter()
            n = conn.execute(CALL_QUERIES[q].format(n=calls)).fetchone()[0]
            c1, t1 = on_cpu(pid), time.perf_counter()
            times[q].append(c1 - c0 if c0 is not None and c1 is not None else t1 - t0)
            if n != calls:
                raise SystemExit(f"{q}: counted {n}, expected {calls}")
    # net per call per run (the loop of the same run subtracted), then the median over runs
    net = {q: statistics.median((times[q][i] - times["loop"][i]) / calls * 1e6 for i in range(runs))
           for q in names if q != "loop"}
    net["loop"] = statistics.median(times["loop"]) / calls * 1e6
    net["clock"] = clock
    return net


def app_side_recovery(payload, n=100):
    """The same recovery in an app server with eth-account (reference only)."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    auth, sig = payload["payload"]["authorization"], payload["payload"]["signature"]
    t0 = time.perf_counter()
    for _ in range(n):
        got = Account.recover_message(encode_typed_data(full_message=typed_data(payload["accepted"], auth)),
                                      signature=sig)
    assert got == auth["from"]
    return (time.perf_counter() - t0) / n * 1e6


# -- part 2: pgbench -------------------------------------------------------------------------------------------

# A copy of the ledger (its constraints, indexes and RLS policies) for the plain INSERTs to write.
LEDGER_COPY_SQL = """
CREATE TABLE public.{t} (LIKE public.x402_payments INCLUDING ALL);
ALTER TABLE public.{t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {t}_public_read ON public.{t} FOR SELECT USING (true);
CREATE POLICY project_admin_policy ON public.{t} FOR ALL TO project_admin USING (true) WITH CHECK (true);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.{t} FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.{t} TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.{t} TO project_admin;
"""
SETUP_SQL = ("SELECT x402.install_ledger();"
             + "".join(LEDGER_COPY_SQL.format(t=t) for t in ("bench_plain", "bench_checked")) + """
CREATE TABLE public.bench_payments (k int PRIMARY KEY, payload jsonb NOT NULL, requirements jsonb NOT NULL,
    settlement jsonb NOT NULL, payer_address text, amount numeric(78,0), chain text, status text, network text,
    asset text, pay_to text, nonce text, intent_nonce text, intent_payload jsonb);
GRANT SELECT ON public.bench_payments TO project_admin;
""")

# The facts record_settlement derives, computed once so the plain INSERT writes the same row; and
# for the intents, the payload with a nonce of its own (begin_settlement does not check signatures).
FACTS_SQL = """
UPDATE public.bench_payments e SET payer_address = f ->> 'payer_address', amount = (f ->> 'amount')::numeric,
       chain = f ->> 'chain', status = f ->> 'status', network = f ->> 'network', asset = f ->> 'asset',
       pay_to = f ->> 'pay_to', nonce = f ->> 'nonce',
       intent_nonce = '0x' || md5('intent' || e.k) || md5('intent-2' || e.k)
  FROM (SELECT k, x402._settlement_facts(payload, requirements, settlement) AS f FROM public.bench_payments) x
 WHERE x.k = e.k;
UPDATE public.bench_payments
   SET intent_payload = jsonb_set(payload, '{payload,authorization,nonce}', to_jsonb(intent_nonce));
"""

TX = ("'0x' || md5((:round)::text || ':' || (:client_id)::text || ':' || (:n)::text)"
      " || lpad(to_hex((:round)::int), 4, '0') || lpad(to_hex((:client_id)::int), 4, '0')"
      " || lpad(to_hex((:n)::bigint), 24, '0')")

# Each transaction's own payment: after those of earlier rounds, client by client.
PICK = ("\\set n :n + 1\n\\set k 1 + :round * :clients * :per_client + (:n - 1) * :clients + :client_id\n")
SCRIPTS = {
    "record_settlement": PICK + f"""BEGIN;
SET LOCAL ROLE project_admin;
SELECT r.tx_hash, r.status
  FROM public.bench_payments e, LATERAL (SELECT {TX} AS tx) h,
       LATERAL x402.record_settlement(e.payload, e.requirements,
                                      jsonb_set(e.settlement, '{{transaction}}', to_jsonb(h.tx)), '/bench') r
 WHERE e.k = :k;
END;
""",
    "plain_insert": PICK + f"""BEGIN;
SET LOCAL ROLE project_admin;
INSERT INTO public.bench_plain (payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network,
                                asset, pay_to, nonce, dispute_reason, payload, requirements, settlement, completed_at)
SELECT e.payer_address, '/bench', e.amount, h.tx, e.chain, e.status, NULL, e.network, e.asset, e.pay_to, e.nonce,
       NULL, e.payload, e.requirements, jsonb_set(e.settlement, '{{transaction}}', to_jsonb(h.tx)), now()
  FROM public.bench_payments e, LATERAL (SELECT {TX} AS tx) h
 WHERE e.k = :k
RETURNING tx_hash, status;
END;
""",
    # The floor of any recording that checks the signature: the plain INSERT, with the payer taken
    # from one x402.recover_payer() call (libsecp256k1 recovery + EIP-712 hashing) instead of the
    # precomputed column. Its ratio to plain_insert is the most record_settlement could reach.
    "checked_insert": PICK + f"""BEGIN;
SET LOCAL ROLE project_admin;
INSERT INTO public.bench_checked (payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network,
                                  asset, pay_to, nonce, dispute_reason, payload, requirements, settlement, completed_at)
SELECT x402.recover_payer(e.payload, e.requirements), '/bench', e.amount, h.tx, e.chain, e.status, NULL, e.network,
       e.asset, e.pay_to, e.nonce, NULL, e.payload, e.requirements,
       jsonb_set(e.settlement, '{{transaction}}', to_jsonb(h.tx)), now()
  FROM public.bench_payments e, LATERAL (SELECT {TX} AS tx) h
 WHERE e.k = :k
RETURNING tx_hash, status;
END;
""",
    "begin_settlement": PICK + """BEGIN;
SET LOCAL ROLE project_admin;
SELECT r.id, r.status
  FROM public.bench_payments e, LATERAL x402.begin_settlement(e.intent_payload, e.requirements, '/bench') r
 WHERE e.k = :k;
END;
""",
    "plain_insert_pending": PICK + """BEGIN;
SET LOCAL ROLE project_admin;
INSERT INTO public.bench_plain (payer_address, endpoint, amount, chain, status, network, asset, pay_to, nonce,
                                payload, requirements)
SELECT e.payer_address, '/bench', e.amount, e.chain, 'pending', e.network, e.asset, e.pay_to, e.intent_nonce,
       e.intent_payload, e.requirements
  FROM public.bench_payments e
 WHERE e.k = :k
RETURNING id, status;
END;
""",
}
# What each variant is compared with, and the status its rows must have.
PAIRS = {"record_settlement": "plain_insert", "begin_settlement": "plain_insert_pending",
         "checked_insert": "plain_insert"}
STATUS = {"record_settlement": "settled", "plain_insert": "settled", "begin_settlement": "pending",
          "plain_insert_pending": "pending", "checked_insert": "settled"}
TABLES = {"record_settlement": "public.x402_payments", "plain_insert": "public.bench_plain",
          "begin_settlement": "public.x402_payments", "plain_insert_pending": "public.bench_plain",
          "checked_insert": "public.bench_checked"}


def pgbench(cluster, db, workdir, variant, rnd, clients, transactions, per_client):
    script = workdir / f"{variant}.sql"
    script.write_text(SCRIPTS[variant])
    # Every round starts from the same state: the tables vacuumed and analyzed and no checkpoint due
    # (autovacuum is off in this cluster), so neither lands on a round at random, as pgbench's own
    # vacuum before a run does for its tables.
    with cluster.connect(db) as c:
        c.autocommit = True
        c.execute("VACUUM ANALYZE " + ", ".join(sorted(set(TABLES.values()))))
        c.execute("CHECKPOINT")
    cmd = [str(cluster.bin / "pgbench"), "-n", "-M", "prepared", "-h", str(cluster.base), "-p", str(cluster.port),
           "-U", "authenticator", "-c", str(clients), "-j", str(clients), "-t", str(transactions),
           "-D", f"clients={clients}", "-D", f"per_client={per_client}", "-D", "n=0", "-D", f"round={rnd}",
           "-f", str(script), db]
    p = subprocess.run(cmd, capture_output=True, text=True)

    def grab(pattern, conv=int):
        m = re.search(pattern, p.stdout)
        return conv(m.group(1)) if m else None
    out = {"variant": variant, "round": rnd, "returncode": p.returncode,
           "processed": grab(r"number of transactions actually processed: (\d+)"),
           "failed": grab(r"number of failed transactions: (\d+)") or 0,
           "tps": grab(r"tps = ([0-9.]+) \(without initial connection time\)", float),
           "latency_ms": grab(r"latency average = ([0-9.]+) ms", float),
           "command": " ".join(cmd)}
    if p.returncode != 0 or out["processed"] is None or out["failed"] or p.stderr.strip():
        raise SystemExit(f"pgbench {variant} round {rnd} failed:\n{p.stdout}\n{p.stderr}")
    return out


def throughput(cluster, db, payments, clients, transactions, rounds, warmup):
    with cluster.connect(db) as c:
        c.execute(SETUP_SQL)
        with c.cursor().copy("COPY public.bench_payments (k, payload, requirements, settlement) FROM STDIN") as cp:
            for k, payload, req, settle in payments:
                cp.write_row((k, json.dumps(payload), json.dumps(req), json.dumps(settle)))
        c.execute(FACTS_SQL)
        bad = c.execute("SELECT count(*) FROM public.bench_payments WHERE status IS DISTINCT FROM 'settled'"
                        " OR payer_address IS NULL").fetchone()[0]
        if bad:
            raise SystemExit(f"{bad} pre-signed payments are not clean settlements")
        c.execute("VACUUM ANALYZE public.bench_payments")
    workdir = Path(tempfile.mkdtemp(prefix="x402-bench-"))
    runs = []
    for v in SCRIPTS:  # warm-up, round 0: counted in the row check, not in the TPS
        runs.append(pgbench(cluster, db, workdir, v, 0, clients, warmup, transactions))
    for rnd in range(1, rounds + 1):
        order = list(SCRIPTS) if rnd % 2 else list(reversed(SCRIPTS))
        for v in order:
            r = pgbench(cluster, db, workdir, v, rnd, clients, transactions, transactions)
            say(f"  round {rnd} {v}: {r['processed']} transactions, {r['tps']:.0f} TPS, {r['latency_ms']} ms")
            runs.append(r)
    check = {}
    with cluster.connect(db) as c:
        for v, table in TABLES.items():
            rows, distinct_keys = c.execute(
                f"SELECT count(*), count(DISTINCT nonce) FROM {table} WHERE status = %s", (STATUS[v],)).fetchone()
            others = c.execute(f"SELECT count(*) FROM {table} WHERE status NOT IN ('settled', 'pending')").fetchone()[0]
            reported = sum(r["processed"] for r in runs if r["variant"] == v)
            check[v] = {"rows": rows, "distinct_authorizations": distinct_keys, "status": STATUS[v],
                        "other_statuses": others, "pgbench_transactions": reported,
                        "ok": rows == reported == distinct_keys and others == 0}
        # The two tables hold the same facts for the same pre-signed payment.
        check["same_facts"] = c.execute(
            "SELECT count(*) = 0 FROM (SELECT DISTINCT payer_address, amount, chain, status, network, asset, pay_to, nonce,"
            " payload, requirements, settlement - 'transaction' AS s FROM public.x402_payments"
            " EXCEPT SELECT payer_address, amount, chain, status, network, asset, pay_to, nonce, payload, requirements,"
            " settlement - 'transaction' FROM public.bench_plain) x").fetchone()[0]
        # The recovered payers are the precomputed ones: the checked INSERT wrote the same facts.
        check["same_facts"] = check["same_facts"] and c.execute(
            "SELECT count(*) = 0 FROM (SELECT payer_address, amount, nonce, payload, settlement - 'transaction' AS s"
            " FROM public.bench_checked EXCEPT SELECT payer_address, amount, nonce, payload, settlement - 'transaction'"
            " FROM public.x402_payments) x").fetchone()[0]
    tps = {v: statistics.median(r["tps"] for r in runs if r["variant"] == v and r["round"] > 0) for v in SCRIPTS}
    by_round = {(r["variant"], r["round"]): r["tps"] for r in runs}
    ratios = {v: [by_round[(v, n)] / by_round[(base, n)] for n in range(1, rounds + 1)] for v, base in PAIRS.items()}
    return {"tps": tps, "round_ratios": ratios, "runs": runs, "check": check, "command": runs[-1]["command"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000, help="calls per timed query (part 1)")
    ap.add_argument("--runs", type=int, default=9, help="interleaved runs (part 1)")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--transactions", type=int, default=4000, help="pgbench -t per client and round (part 2)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved pgbench rounds per variant (part 2)")
    ap.add_argument("--warmup", type=int, default=500, help="pgbench -t per client of the warm-up round")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--payload-out", help="write the payload part 1 measures to this JSON file (for the raw-crypto"
                                          " micro-benchmark, core/benches/raw_crypto.rs)")
    ap.add_argument("--payload-only", action="store_true", help="with --payload-out: write the payload and stop")
    ap.add_argument("--permit2-out", help="write the Permit2 payment part 1 verifies ({payload, requirements, at}) to"
                                          " this JSON file (for core/benches/raw_crypto.rs --permit2-payload)")
    ap.add_argument("--skip-throughput", action="store_true", help="part 1 only")
    ap.add_argument("--skip-part1", action="store_true", help="part 2 only")
    ap.add_argument("--durable", action="store_true",
                    help="fsync and synchronous_commit on (a production server's commits) instead of the worst case"
                         " for the ratios, fsync off")
    args = ap.parse_args()

    lib_before = library_state()
    if not lib_before["is_release"]:
        say("WARNING: the installed insforge_integrations.so is not target/release's build")
    t = time.time()
    needed = (args.rounds + 1) * args.clients * args.transactions
    payments = make_payments(1 if args.payload_only or args.skip_throughput else needed)
    permit2 = make_permit2_payment()
    say(f"signed {len(payments)} payments in {time.time() - t:.1f} s")
    if args.permit2_out:
        Path(args.permit2_out).write_text(json.dumps(permit2))
    if args.payload_out:
        Path(args.payload_out).write_text(json.dumps(payments[0][1]))
        if args.payload_only:
            return

    settings = {"shared_buffers": "1GB", "autovacuum": "off"}  # part 2 vacuums before each round itself
    if args.durable:  # a production server's commits: flushed to disk before they are acknowledged
        settings |= {"fsync": "on", "synchronous_commit": "on"}
    cluster = Cluster(port=PORT, settings=settings)
    cluster.start()
    try:
        cluster.create_database("bench")
        with cluster.connect("bench") as c:
            server = c.execute("show server_version").fetchone()[0]
            if not args.skip_part1:
                say(f"part 1: {args.calls} calls per query, {args.runs} interleaved runs")
                us = per_call(c, payments[0][1], permit2, args.calls, args.runs)
        app_us = None if args.skip_part1 else app_side_recovery(payments[0][1])
        if args.skip_throughput:
            tp = None
        else:
            say(f"part 2: pgbench, {args.clients} clients, {args.rounds} rounds of {args.transactions} transactions"
                f" per client per variant")
            tp = throughput(cluster, "bench", payments, args.clients, args.transactions, args.rounds, args.warmup)
    finally:
        cluster.cleanup()
    lib_after = library_state()
    result = {"server": server, "library": lib_before, "library_changed_during_run": lib_before != lib_after,
              "args": vars(args)}
    if not args.skip_part1:
        clock = us.pop("clock")
        result |= {"clock": clock, "us_per_call": {k: round(v, 2) for k, v in us.items()},
                   "eth_account_us_per_call": round(app_us, 1),
                   "recover_over_sha256": round(us["recover_payer"] / us["sha256"], 2),
                   "recover_over_checksum": round(us["recover_payer"] / us["checksum_address"], 2)}
    if tp is None:
        print(json.dumps(result) if args.json else json.dumps(result, indent=1))
        return
    result |= {
              "tps": {k: round(v, 1) for k, v in tp["tps"].items()},
              "record_over_insert": round(tp["tps"]["record_settlement"] / tp["tps"]["plain_insert"], 3),
              "begin_over_insert": round(tp["tps"]["begin_settlement"] / tp["tps"]["plain_insert_pending"], 3),
              "checked_over_insert": round(tp["tps"]["checked_insert"] / tp["tps"]["plain_insert"], 3),
              "record_over_checked": round(tp["tps"]["record_settlement"] / tp["tps"]["checked_insert"], 3),
              "round_ratios": {k: [round(x, 3) for x in v] for k, v in tp["round_ratios"].items()},
              "check": tp["check"], "pgbench_command": tp["command"],
              "pgbench_runs": [{k: r[k] for k in ("variant", "round", "processed", "tps", "latency_ms")}
                               for r in tp["runs"]]}
    ok = all(v["ok"] for k, v in tp["check"].items() if k != "same_facts") and tp["check"]["same_facts"]
    if args.json:
        print(json.dumps(result))
    else:
        tps, c = result["tps"], tp["check"]
        print(f"x402 benchmark, PostgreSQL {server}, library sha256 {lib_before['installed_sha256'][:12]}"
              f" ({'release' if lib_before['is_release'] else 'NOT the release build'})")
        print("| measurement | this extension | baseline | ratio |")
        print("|---|---:|---:|---:|")
        if not args.skip_part1:
            print(f"| µs per call ({clock} time of the backend), median of {args.runs} × {args.calls} calls, loop"
                  f" overhead ({us['loop']:.2f} µs) subtracted | `recover_payer(payload)`: {us['recover_payer']:.1f} |"
                  f" `digest(payload::text, 'sha256')`: {us['sha256']:.2f} | {result['recover_over_sha256']:.1f} |")
            print(f"| (same, for scale) | `recover_payer(payload)`: {us['recover_payer']:.1f} |"
                  f" `checksum_address(from)`: {us['checksum_address']:.2f} | {result['recover_over_checksum']:.1f} |")
            print(f"| (same) a Permit2 exact payment, the whole check | `verify_payment(p2, r2, at)`:"
                  f" {us['verify_permit2']:.1f} | `recover_payer(payload)`: {us['recover_payer']:.1f} |"
                  f" {us['verify_permit2'] / us['recover_payer']:.2f} |")
            print(f"| (same) the EIP-3009 payment, the whole check | `verify_payment(p, r, at)`:"
                  f" {us['verify_eip3009']:.1f} | `recover_payer(payload)`: {us['recover_payer']:.1f} |"
                  f" {us['verify_eip3009'] / us['recover_payer']:.2f} |")
            print(f"| (reference) the same recovery in the app, eth-account, µs | | {app_us:.0f} |"
                  f" {app_us / us['recover_payer']:.0f}× slower |")
        if args.durable:
            print("| (part 2 with fsync and synchronous_commit on) | | | |")
        print(f"| TPS, pgbench {args.clients} clients, median of {args.rounds} × {args.transactions} transactions per"
              f" client | `record_settlement`: {tps['record_settlement']:.0f} | plain INSERT of the settled row:"
              f" {tps['plain_insert']:.0f} | {result['record_over_insert']:.2f} |")
        print(f"| (same) the signature check's floor | plain INSERT with the payer from `recover_payer`:"
              f" {tps['checked_insert']:.0f} | plain INSERT of the settled row: {tps['plain_insert']:.0f} |"
              f" {result['checked_over_insert']:.2f} |")
        print(f"| (same) | `record_settlement`: {tps['record_settlement']:.0f} | plain INSERT with the payer from"
              f" `recover_payer`: {tps['checked_insert']:.0f} | {result['record_over_checked']:.2f} |")
        print(f"| (same) | `begin_settlement`: {tps['begin_settlement']:.0f} | plain INSERT of the pending row:"
              f" {tps['plain_insert_pending']:.0f} | {result['begin_over_insert']:.2f} |")
        print()
        for v, rs in tp["round_ratios"].items():
            print(f"{v} / {PAIRS[v]} per round: " + ", ".join(f"{x:.2f}" for x in rs)
                  + f" (median {statistics.median(rs):.2f})")
        for v in TABLES:
            print(f"{v}: {c[v]['rows']} {c[v]['status']} rows, {c[v]['distinct_authorizations']} distinct authorizations,"
                  f" pgbench reported {c[v]['pgbench_transactions']} transactions (warm-up included): "
                  f"{'OK' if c[v]['ok'] else 'MISMATCH'}")
        print(f"same facts in the tables: {'OK' if c['same_facts'] else 'MISMATCH'}")
        print(f"pgbench command (last round): {tp['command']}")
        if result["library_changed_during_run"]:
            print("WARNING: the installed library changed during the run; numbers are suspect")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
