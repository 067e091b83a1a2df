"""Every benchmark of the project, one after another, and one table of ratios.

Each ratio compares a measurement with a baseline measured in the same run of the
same script (the machine is shared and noisy, so absolute numbers are printed for
context only):

- RLS: the native helper against a literal (benches/rls_bench.py);
- explain: explain_access() of a SELECT on 100,000 rows with 5 policies against the same SELECT
  run as that user (benches/explain_bench.py);
- jsonb: the extension's own jsonb reader and writer against PostgreSQL's JsonbIteratorNext and
  JsonbValueToJsonb on the same documents (benches/jsonb_bench.py); each is kept only while it wins;
- JWT: verify_jwt per SQL call (on-CPU time of the backend, net of the loop) against
  pgcrypto hmac() on the same token (HS256), and against the raw aws-lc verify of the
  same token and key measured by the Rust micro-benchmark (RS256, ES256);
- x402: recover_payer per SQL call (on-CPU, net of the loop) against raw libsecp256k1
  recovery + Keccak-256 of the same payload's signature (Rust micro-benchmark); verify_payment
  of a Permit2 `exact` payment per SQL call against the raw recovery of its own signature;
  record_settlement against a plain INSERT of the same row under pgbench -c 2; and, in the
  same run, that plain INSERT with its payer taken from one recover_payer() call: the most
  any recording that checks the signature could reach (printed with no target of its own).

The Rust micro-benchmark (core/benches/raw_crypto.rs, `cargo bench`) times the very
tokens, keys and payload the SQL benchmarks measure (generated first, into a temporary
directory), on the thread's CPU time. It runs twice, before and after the SQL
benchmarks, and the floor of each case is the faster of the two runs (the machine is
shared: this keeps a quiet moment in one of them from flattering the ratios).

Usage: bash scripts/bench.sh   (builds and installs a release, then runs this)
       python3 benches/run_all.py [--quick]     (PG_CONFIG selects the PostgreSQL install)
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run(script, *args):
    cmd = [sys.executable, str(HERE / script), "--json", *args]
    print("$ " + " ".join(["python3", f"benches/{script}", "--json", *args]), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_quiet(script, *args):
    cmd = [sys.executable, str(HERE / script), *args]
    print("$ " + " ".join(["python3", f"benches/{script}", *args]), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def raw_crypto(cases, payload, permit2, rounds):
    cmd = ["cargo", "bench", "-q", "-p", "insforge_core", "--bench", "raw_crypto", "--",
           "--jwt-cases", str(cases), "--x402-payload", str(payload), "--permit2-payload", str(permit2),
           "--rounds", str(rounds), "--json"]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


# Any recording that checks the signature costs at least this: the same plain INSERT, its payer
# from one recover_payer() call (x402_bench's checked_insert).
FLOOR = "plain INSERT, payer from recover_payer (the signature check's floor)"
FLOOR_BASE = "plain INSERT, payer from recover_payer"


def verdict(ratio, target):
    if not target:
        return ""
    op, bound = target.split()
    ok = {"≤": ratio <= float(bound), "<": ratio < float(bound), "≥": ratio >= float(bound)}[op]
    return "met" if ok else "**not met**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs and shorter loads (a smoke run, noisier)")
    ap.add_argument("--skip-rls", action="store_true", help="leave out the RLS benchmark")
    args = ap.parse_args()
    q = args.quick
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="insforge-bench-"))
    cases, payload, permit2 = tmp / "jwt_cases.json", tmp / "x402_payload.json", tmp / "x402_permit2.json"

    # The inputs first, then the raw floor, the SQL benchmarks, and the floor again.
    run_quiet("jwt_bench.py", "--cases-out", str(cases), "--cases-only")
    run_quiet("x402_bench.py", "--payload-out", str(payload), "--permit2-out", str(permit2), "--payload-only")
    raw_before = raw_crypto(cases, payload, permit2, 5 if q else 15)

    if not args.skip_rls:
        rls = run("rls_bench.py", "--sizes", "10000,100000,1000000", "--runs", "3" if q else "9")
        for r in rls:
            rows.append((f"RLS count(*), {r['rows']:,} rows", "native requesting_user_id()", f"{r['native_ms']:.1f} ms",
                         "literal user_id = 'user_42'", f"{r['literal_ms']:.1f} ms", r["native_over_literal"], "≤ 1.3"))
            rows.append((f"RLS count(*), {r['rows']:,} rows", "guides' SQL helper", f"{r['guide_sql_ms']:.1f} ms",
                         "literal user_id = 'user_42'", f"{r['literal_ms']:.1f} ms", r["guide_sql_over_literal"], ""))

    explain = run("explain_bench.py", "--runs", "5" if q else "15")
    rows.append((f"explain_access(), {explain['rows']:,} rows, {explain['policies']} policies",
                 "explain_access(), without a row", f"{explain['explain_ms']:.1f} ms",
                 "SELECT * as that user (PostgREST-style request)", f"{explain['select_ms']:.1f} ms",
                 explain["explain_over_select"], "≤ 2"))

    layout = run("jsonb_bench.py", "--iterations", "50000" if q else "200000")
    for r in layout["rows"]:
        theirs = "JsonbIteratorNext walk" if r["half"] == "read" else "JsonbValueToJsonb"
        rows.append((f"jsonb {r['half']}, {r['doc']}", f"ours (src/jsonb/layout.rs)", f"{r['ours_ns']:.0f} ns",
                     f"PostgreSQL's {theirs}, same input", f"{r['postgres_ns']:.0f} ns", r["ours_over_postgres"], "< 1"))

    jwt = run("jwt_bench.py", "--cases-in", str(cases), *(["--n", "5000", "--runs", "3"] if q else []))
    x402 = run("x402_bench.py", *(["--runs", "3", "--transactions", "1000", "--rounds", "1"] if q else []))
    raw_after = raw_crypto(cases, payload, permit2, 5 if q else 15)
    # Per case and variant, the faster of the two runs.
    g = {case: {k: min(v, raw_after["groups"][case][k]) for k, v in variants.items()}
         for case, variants in raw_before["groups"].items()}
    raw = raw_before

    by = {r["variant"]: r for r in jwt["rows"]}
    rows.append(("JWT per call, net of the loop (on-CPU)", "verify_jwt HS256", f"{by['HS256']['net_us']:.2f} µs",
                 "pgcrypto hmac(sha256), same token", f"{by['hmac']['net_us']:.2f} µs", by["HS256"]["net_over_hmac"],
                 "≤ 2"))
    for alg, what in (("RS256", "RSA-2048"), ("ES256", "P-256")):
        sql, floor = by[alg]["net_us"], g[alg]["raw_us"]
        rows.append(("JWT per call, net of the loop (on-CPU)", f"verify_jwt {alg}, JWKS + kid", f"{sql:.1f} µs",
                     f"raw aws-lc {what} verify, same token (Rust)", f"{floor:.1f} µs", round(sql / floor, 2), "≤ 2"))
    us = x402["us_per_call"]
    floor = g["x402"]["raw_us"]
    rows.append(("x402 per call, net of the loop (on-CPU)", "recover_payer", f"{us['recover_payer']:.1f} µs",
                 "raw libsecp256k1 recovery + keccak, same signature (Rust)", f"{floor:.1f} µs",
                 round(us["recover_payer"] / floor, 2), "≤ 2"))
    floor = g["permit2"]["raw_us"]
    rows.append(("x402 per call, net of the loop (on-CPU)", "verify_payment, Permit2 exact (the whole check)",
                 f"{us['verify_permit2']:.1f} µs", "raw libsecp256k1 recovery + keccak, same signature (Rust)",
                 f"{floor:.1f} µs", round(us["verify_permit2"] / floor, 2), "≤ 2"))
    rows.append(("x402 per call (context)", "recover_payer", f"{us['recover_payer']:.1f} µs",
                 "pgcrypto digest(sha256), same payload", f"{us['sha256']:.2f} µs", x402["recover_over_sha256"], ""))

    def throughput_rows(label, result):
        t = result["tps"]
        rows.append((label, "record_settlement", f"{t['record_settlement']:.0f} tps", "plain INSERT of the same row",
                     f"{t['plain_insert']:.0f} tps", result["record_over_insert"], "≥ 0.8"))
        rows.append((label, FLOOR, f"{t['checked_insert']:.0f} tps", "plain INSERT of the same row",
                     f"{t['plain_insert']:.0f} tps", result["checked_over_insert"], ""))
        rows.append((label, "record_settlement", f"{t['record_settlement']:.0f} tps", FLOOR_BASE,
                     f"{t['checked_insert']:.0f} tps", result["record_over_checked"], ""))
        rows.append((label, "begin_settlement", f"{t['begin_settlement']:.0f} tps", "plain INSERT of the same pending row",
                     f"{t['plain_insert_pending']:.0f} tps", result["begin_over_insert"], "≥ 0.8"))
    throughput_rows("x402 throughput, pgbench 2 clients", x402)
    durable = run("x402_bench.py", "--durable", "--skip-part1", *(["--transactions", "500", "--rounds", "1"] if q else
                                                                 ["--transactions", "1500"]))
    throughput_rows("x402 throughput, pgbench 2 clients, fsync on", durable)

    print("| benchmark | measured | value | baseline (same run) | value | ratio | target | |")
    print("|---|---|---:|---|---:|---:|---|---|")
    for b, m, mv, base, bv, ratio, target in rows:
        print(f"| {b} | {m} | {mv} | {base} | {bv} | {ratio} | {target} | {verdict(ratio, target)} |")
    print()
    print(f"Raw crypto (core/benches/raw_crypto.rs, {raw['clock']}, medians of {raw['rounds']} interleaved rounds,"
          " the faster of a run before and a run after the SQL benchmarks), µs per call:")
    print("| case | raw one-shot | raw pre-parsed key | jsonwebtoken verifier | insforge_core (whole check) |")
    print("|---|---:|---:|---:|---:|")
    for name in ("HS256", "RS256", "ES256"):
        r = g[name]
        print(f"| {name} | {r['raw_oneshot_us']:.2f} | {r['raw_parsed_us']:.2f} | {r['jsonwebtoken_us']:.2f} |"
              f" {r['core_us']:.2f} |")
    r = g["x402"]
    print(f"| x402 recovery | {r['raw_us']:.2f} | | | {r['core_us']:.2f} (from JSON text: {r['core_text_us']:.2f}) |")
    r = g["permit2"]
    print(f"| x402 Permit2 verify_payment | {r['raw_us']:.2f} | | | {r['core_us']:.2f} (from JSON text:"
          f" {r['core_text_us']:.2f}) |")
    print()
    print("raw floor before / after the SQL benchmarks, µs: " + "; ".join(
        f"{c} {raw_before['groups'][c]['raw_us']:.2f} / {raw_after['groups'][c]['raw_us']:.2f}"
        for c in ("HS256", "RS256", "ES256", "x402", "permit2")))
    for name, ratios in x402["round_ratios"].items():
        print(f"x402 {name} / its plain INSERT per round: {', '.join(f'{x:.2f}' for x in ratios)}")


if __name__ == "__main__":
    main()
