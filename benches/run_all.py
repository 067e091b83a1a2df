"""Every benchmark of the project, one after another, and one table of ratios.

Each ratio compares a measurement with a baseline measured in the same run of the
same script on the same throwaway cluster (the machine is shared and noisy, so
absolute numbers are printed for context only).

Usage: bash scripts/bench.sh   (builds and installs a release, then runs this)
       python3 benches/run_all.py [--quick]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script, *args):
    cmd = [sys.executable, str(HERE / script), "--json", *args]
    print("$ " + " ".join(["python3", f"benches/{script}", "--json", *args]), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs and shorter loads (a smoke run, noisier)")
    args = ap.parse_args()
    q = args.quick
    rows = []

    rls = run("rls_bench.py", "--sizes", "10000,100000,1000000", "--runs", "3" if q else "9")
    for r in rls:
        rows.append((f"RLS count(*), {r['rows']:,} rows", "native requesting_user_id()", f"{r['native_ms']:.1f} ms",
                     "literal user_id = 'user_42'", f"{r['literal_ms']:.1f} ms", r["native_over_literal"], "≤ 1.3"))
        rows.append((f"RLS count(*), {r['rows']:,} rows", "guides' SQL helper", f"{r['guide_sql_ms']:.1f} ms",
                     "literal user_id = 'user_42'", f"{r['literal_ms']:.1f} ms", r["guide_sql_over_literal"], ""))

    jwt = run("jwt_bench.py", *(["--n", "5000", "--runs", "3"] if q else []))
    by = {r["variant"]: r for r in jwt["rows"]}
    rows.append(("JWT verification per call (net of loop overhead)", "verify_jwt HS256", f"{by['HS256']['net_us']:.2f} µs",
                 "pgcrypto hmac(sha256), same token", f"{by['hmac']['net_us']:.2f} µs", by["HS256"]["net_over_hmac"],
                 "≤ 3"))
    for alg in ("RS256", "ES256"):
        if alg in by:
            rows.append(("JWT verification per call", f"verify_jwt {alg} via JWKS + kid", f"{by[alg]['net_us']:.1f} µs",
                         "verify_jwt HS256", f"{by['HS256']['net_us']:.2f} µs", by[alg]["net_over_hs256"], ""))

    x402 = run("x402_bench.py", *(["--runs", "3", "--seconds", "5", "--rounds", "1", "--payments", "500"] if q else []))
    us = x402["us_per_call"]
    rows.append(("x402 per call", "recover_payer", f"{us['recover_payer']:.1f} µs", "pgcrypto digest(sha256), same payload",
                 f"{us['sha256']:.2f} µs", x402["recover_over_sha256"], ""))
    tps = x402["tps"]
    rows.append(("x402 throughput, pgbench 2 clients", "record_settlement", f"{tps['record_settlement']:.0f} tps",
                 "plain INSERT of the same row", f"{tps['plain_insert']:.0f} tps", x402["record_over_insert"], ""))

    print("| benchmark | measured | value | baseline (same run) | value | ratio | target |")
    print("|---|---|---:|---|---:|---:|---|")
    for b, m, mv, base, bv, ratio, target in rows:
        print(f"| {b} | {m} | {mv} | {base} | {bv} | {ratio} | {target} |")


if __name__ == "__main__":
    main()
