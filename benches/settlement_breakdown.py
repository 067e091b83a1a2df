"""Where record_settlement's time goes (issue 11): backend on-CPU µs per transaction, one connection.

Each transaction is what benches/x402_bench.py's pgbench scripts run (BEGIN; SET LOCAL ROLE project_admin;
<statement>; COMMIT) for a pre-signed payment of its own (one signed authorization settles once: a second
transaction for it would be disputed), under a transaction hash of its own. Statements:

  plain      INSERT ... RETURNING of the precomputed row into a copy of the ledger (x402_bench's baseline)
  wrapped    the same INSERT inside a PL/pgSQL SECURITY DEFINER function returning x402.payment
  conflict   ... plus ON CONFLICT (tx_hash) DO NOTHING
  given      record_settlement's own body (sql/x402.sql) with the facts handed in instead of computed
  record     x402.record_settlement itself (facts from x402._settlement_facts: recovery, parsing, checks)

The three middle functions are built from sql/x402.sql's record_settlement in a throwaway cluster only.
Batches of --n transactions per statement, interleaved, --rounds of them; prints min, p25 and median µs.

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

ROW_ARGS = ("p_payer text, p_amount numeric, p_chain text, p_status text, p_network text, p_asset text,"
            " p_pay_to text, p_nonce text")
RETURNING = ("RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary,"
             " p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements,"
             " p.settlement, p.failure_reason, p.completed_at INTO r")


def wrapper(name, conflict):
    return f"""
CREATE FUNCTION x402.{name}(payload jsonb, requirements jsonb, settlement jsonb, endpoint text, response_summary text,
    {ROW_ARGS}) RETURNS x402.payment LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE r x402.payment;
BEGIN
    INSERT INTO public.x402_payments AS p
        (payer_address, endpoint, amount, tx_hash, chain, status, response_summary,
         network, asset, pay_to, nonce, dispute_reason, payload, requirements, settlement)
    VALUES (p_payer, $4, p_amount, $3 ->> 'transaction', p_chain, p_status, $5, p_network, p_asset, p_pay_to,
            p_nonce, NULL, $1, $2, $3)
    {"ON CONFLICT (tx_hash) DO NOTHING" if conflict else ""}
    {RETURNING};
    RETURN r;
END $fn$;"""


def given():
    src = (ROOT / "sql" / "x402.sql").read_text()
    fn = src[src.index("CREATE FUNCTION x402.record_settlement("):src.index("COMMENT ON FUNCTION x402.record_settlement(")]
    head_old = ("CREATE FUNCTION x402.record_settlement(payload jsonb, requirements jsonb, settlement jsonb,\n"
                "                                       endpoint text DEFAULT NULL, response_summary text DEFAULT NULL)")
    if head_old not in fn or "    f := x402._settlement_facts($1, $2, $3);" not in fn:
        raise SystemExit("sql/x402.sql's record_settlement changed shape; update this script")
    fn = fn.replace(head_old, "CREATE FUNCTION x402.rs_given(payload jsonb, requirements jsonb, settlement jsonb,"
                              " endpoint text, response_summary text, given jsonb)")
    return fn.replace("    f := x402._settlement_facts($1, $2, $3);",
                      "    f := given || jsonb_build_object('tx_hash', settlement ->> 'transaction');")


ROW = "e.payer_address, e.amount, e.chain, e.status, e.network, e.asset, e.pay_to, e.nonce"
FACTS = ("jsonb_build_object('payer_address', e.payer_address, 'amount', e.amount::text, 'chain', e.chain,"
         " 'status', e.status, 'network', e.network, 'asset', e.asset, 'pay_to', e.pay_to, 'nonce', e.nonce)")
SETTLE = "jsonb_set(e.settlement, '{transaction}', to_jsonb(h.tx))"


def call(fn, extra):
    return (f"SELECT r.tx_hash, r.status FROM public.bench_payments e, LATERAL (SELECT %(tx)s::text AS tx) h,"
            f" LATERAL x402.{fn}(e.payload, e.requirements, {SETTLE}, '/bench'{extra}) r WHERE e.k = %(k)s")


STATEMENTS = {
    "plain": "INSERT INTO public.bench_plain (payer_address, endpoint, amount, tx_hash, chain, status, response_summary,"
             " network, asset, pay_to, nonce, dispute_reason, payload, requirements, settlement)"
             f" SELECT e.payer_address, '/bench', e.amount, h.tx, e.chain, e.status, NULL, e.network, e.asset, e.pay_to,"
             f" e.nonce, NULL, e.payload, e.requirements, {SETTLE}"
             " FROM public.bench_payments e, LATERAL (SELECT %(tx)s::text AS tx) h WHERE e.k = %(k)s"
             " RETURNING tx_hash, status",
    "wrapped": call("rs_wrapped", f", NULL, {ROW}"),
    "conflict": call("rs_conflict", f", NULL, {ROW}"),
    "given": call("rs_given", f", NULL, {FACTS}"),
    "record": call("record_settlement", ""),
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
            c.execute(wrapper("rs_wrapped", False) + wrapper("rs_conflict", True) + given()
                      + "\nGRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA x402 TO project_admin;")
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
