"""Where record_settlement's time goes: backend on-CPU µs per transaction, one connection.

Each transaction is what benches/x402_bench.py's pgbench scripts run (BEGIN; SET LOCAL ROLE project_admin;
<statement>; COMMIT) for a pre-signed payment of its own (one signed authorization settles once: a second
transaction for it would be disputed), under a transaction hash of its own. Statements:

  base       SELECT of the payment's key: the cost of a transaction that writes nothing
  recover    SELECT x402.recover_payer(payload, requirements): the signature check alone
  facts      SELECT x402._settlement_facts(...): everything record_settlement derives (recovery included)
  plain      INSERT ... RETURNING of the precomputed row into a copy of the ledger (x402_bench's baseline)
  checked    the same INSERT, its payer from x402.recover_payer(): the floor of any recording that checks
             the signature
  record     x402.record_settlement itself (facts, then one INSERT for a new settlement that agrees)
  plain_pending  INSERT ... RETURNING of the precomputed pending row (x402_bench's baseline for begin)
  begin      x402.begin_settlement itself (facts, then one INSERT for an authorization without a live row)

Batches of --n transactions per statement, interleaved, --rounds of them; prints min, p25 and median µs.
record - checked is what recording costs beyond the INSERT and its signature check; record - plain, beyond
the INSERT (begin - plain_pending, the intent's); recover - base, what the signature check costs.

Usage: python3 benches/settlement_breakdown.py [--n 100] [--rounds 25]   (PG_CONFIG selects PostgreSQL)
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "benches"))
from pgcluster import Cluster  # noqa: E402
import x402_bench as xb  # noqa: E402

SETTLE = "jsonb_set(e.settlement, '{transaction}', to_jsonb(h.tx))"
PAYMENT = "FROM public.bench_payments e, LATERAL (SELECT %(tx)s::text AS tx) h WHERE e.k = %(k)s"

STATEMENTS = {
    "base": f"SELECT e.k, h.tx {PAYMENT}",
    "recover": f"SELECT x402.recover_payer(e.payload, e.requirements), h.tx {PAYMENT}",
    "facts": f"SELECT x402._settlement_facts(e.payload, e.requirements, {SETTLE}) {PAYMENT}",
    "plain": "INSERT INTO public.bench_plain (payer_address, endpoint, amount, tx_hash, chain, status, response_summary,"
             " network, asset, pay_to, nonce, dispute_reason, payload, requirements, settlement)"
             " SELECT e.payer_address, '/bench', e.amount, h.tx, e.chain, e.status, NULL, e.network, e.asset, e.pay_to,"
             f" e.nonce, NULL, e.payload, e.requirements, {SETTLE} {PAYMENT} RETURNING tx_hash, status",
    "checked": "INSERT INTO public.bench_checked (payer_address, endpoint, amount, tx_hash, chain, status,"
               " response_summary, network, asset, pay_to, nonce, dispute_reason, payload, requirements, settlement)"
               " SELECT x402.recover_payer(e.payload, e.requirements), '/bench', e.amount, h.tx, e.chain, e.status, NULL,"
               " e.network, e.asset, e.pay_to, e.nonce, NULL, e.payload, e.requirements,"
               f" {SETTLE} {PAYMENT} RETURNING tx_hash, status",
    "record": "SELECT r.tx_hash, r.status FROM public.bench_payments e, LATERAL (SELECT %(tx)s::text AS tx) h,"
              f" LATERAL x402.record_settlement(e.payload, e.requirements, {SETTLE}, '/bench') r WHERE e.k = %(k)s",
    "plain_pending": "INSERT INTO public.bench_plain (payer_address, endpoint, amount, chain, status, network, asset,"
                     " pay_to, nonce, payload, requirements) SELECT e.payer_address, '/bench', e.amount, e.chain,"
                     " 'pending', e.network, e.asset, e.pay_to, e.intent_nonce, e.intent_payload, e.requirements"
                     f" {PAYMENT} RETURNING id, status",
    "begin": "SELECT r.id, r.status FROM public.bench_payments e, LATERAL (SELECT %(tx)s::text AS tx) h,"
             " LATERAL x402.begin_settlement(e.intent_payload, e.requirements, '/bench') r WHERE e.k = %(k)s",
}


def on_cpu_us(pid):
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="transactions per batch")
    ap.add_argument("--rounds", type=int, default=25, help="interleaved batches per statement")
    args = ap.parse_args()
    total = len(STATEMENTS) * (50 + args.rounds * args.n)
    payments = xb.make_payments(total)
    cluster = Cluster(port=55444, settings={"shared_buffers": "1GB"})
    cluster.start()
    try:
        cluster.create_database("bench")
        with cluster.connect("bench") as c:
            c.execute(xb.SETUP_SQL)
            with c.cursor().copy("COPY public.bench_payments (k, payload, requirements, settlement) FROM STDIN") as cp:
                for k, payload, req, settle in payments:
                    cp.write_row((k, json.dumps(payload), json.dumps(req), json.dumps(settle)))
            c.execute(xb.FACTS_SQL)
            c.execute("GRANT EXECUTE ON FUNCTION x402._settlement_facts(jsonb, jsonb, jsonb) TO project_admin")
            c.execute("VACUUM ANALYZE")
        times = {s: [] for s in STATEMENTS}
        counter = 0
        with cluster.connect("bench", user="authenticator") as c:
            c.autocommit = True
            pid = c.execute("select pg_backend_pid()").fetchone()[0]

            def batch(name, n):
                nonlocal counter
                t0 = on_cpu_us(pid)
                for _ in range(n):
                    counter += 1
                    with c.transaction():
                        c.execute("SET LOCAL ROLE project_admin")
                        c.execute(STATEMENTS[name], {"tx": "0x" + format(counter, "064x"), "k": counter},
                                  prepare=True).fetchall()
                return (on_cpu_us(pid) - t0) / n
            for name in STATEMENTS:  # warm-up: plans cached, library loaded
                batch(name, 50)
            names = list(STATEMENTS)
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    times[name].append(batch(name, args.n))
    finally:
        cluster.cleanup()
    print(f"backend on-CPU µs per transaction, {args.rounds} interleaved batches of {args.n}")
    print("| statement | min | p25 | median |")
    print("|---|---:|---:|---:|")
    for name, xs in times.items():
        xs = sorted(xs)
        print(f"| {name} | {xs[0]:.0f} | {xs[len(xs) // 4]:.0f} | {statistics.median(xs):.0f} |")


if __name__ == "__main__":
    main()
