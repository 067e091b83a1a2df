"""JWT verification benchmark: the cost of one `insforge.verify_jwt()` call,
measured server-side, against pgcrypto's HMAC over the same token text (the floor).

Every variant evaluates one expression N times inside one query over the same token text,
so client round trips do not count:

  select count(*) from (select <tok> tok, <key> key, <input> input
                        from generate_series(1, N) offset 0) s
   where <expression> is not null

(`offset 0` keeps the subquery a scan of its own, so the expression's arguments are columns,
not constants: pgcrypto's `hmac()` is IMMUTABLE and would otherwise be folded into a single
call at plan time.) Variants, measured interleaved in one run on the same cluster:

  baseline   s.tok                                        (the loop itself, subtracted below)
  hmac       hmac(s.input, s.key, 'sha256')               (pgcrypto; input = header.payload)
  HS256      insforge.verify_jwt(s.tok, s.key)            (the HMAC secret as key)
  jsonb      s.payload::jsonb                             (for reference: jsonb_in of the token's decoded
                                                           payload, i.e. building verify_jwt's result from text)
  RS256      insforge.verify_jwt(s.tok, s.key)            (a JWKS; the header's kid picks the RSA-2048 key)
  ES256      insforge.verify_jwt(s.tok, s.key)            (the same JWKS; the kid picks the P-256 key)

The same token is verified N times: this measures the full verification path only as long as
verify_jwt() keeps no per-token result cache (it caches the parsed key, not results).

Tokens carry a Clerk-shaped claim set (azp exp iat iss nbf sid sub role aud); RS256/ES256
tokens are signed with PyJWT using keys generated here. Raw numbers are per call including
the loop; net numbers subtract the baseline's time per call first. Times are medians over the
runs; ratios are medians of per-run ratios (one run measures every variant back to back).

Time is the backend's on-CPU time (Linux /proc/<pid>/schedstat, read around each query; the
cluster is local), not wall-clock time: on a shared machine a query can spend as long waiting
for a CPU as running, and that wait is noise. Wall-clock medians are printed alongside. Where
schedstat cannot be read, wall-clock time is used throughout and the header says so. RS256 and ES256 cost about
a hundred times as much per call, so their queries evaluate --n-asym times (default N/10) to keep
every query short and the interleaving fine-grained; all numbers are per call.

--cases-out FILE writes the generated cases (variant name, token, key text) as JSON (with --cases-only: and stops
there); --cases-in FILE measures those cases instead of generating new keys. benches/run_all.py uses both so that the
raw-crypto micro-benchmark (core/benches/raw_crypto.rs) times the very tokens and keys measured here.

Usage: python3 benches/jwt_bench.py [--n 20000] [--n-asym 2000] [--runs 7] [--json]
                                    [--cases-out FILE [--cases-only]] [--cases-in FILE]
Install a release build first: bash scripts/setup.sh --release
"""

import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pgcluster import Cluster  # noqa: E402

SECRET = "insforge-project-jwt-secret-0123456789abcdef-0123456789abcdef"
CLAIMS = {  # a Clerk-shaped claim set (JWT template "insforge"), as in rls_bench.py
    "azp": "https://app.example.com", "exp": 4102444800, "iat": 1763800000, "iss": "https://demo.clerk.accounts.dev",
    "nbf": 1763799990, "sid": "sess_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "sub": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ",
    "role": "authenticated", "aud": "insforge-api",
}
RSA_KID = "ins_2xPnG8KxVQrT5mZbN3aHcLdE9fJ"
EC_KID = "ins_2yQoH9LyWRsU6nAcO4bIdMeF0gK"

QUERY = ("select count(*) from (select %(tok)s::text tok, %(key)s::text key, %(input)s::text input,"
         " %(payload)s::text payload from generate_series(1, %(n)s) offset 0) s where {expr} is not null")
EXPRS = {
    "baseline": "s.tok",
    "hmac": "hmac(s.input, s.key, 'sha256')",
    "verify": "insforge.verify_jwt(s.tok, s.key)",
    "jsonb": "s.payload::jsonb",
}


def make_cases():
    """(name, expression, token, key) for every variant, with the same claims everywhere."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256 = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": []}
    for cls, key, kid, alg in ((RSAAlgorithm, rsa_key, RSA_KID, "RS256"), (ECAlgorithm, p256, EC_KID, "ES256")):
        jwk = json.loads(cls.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        jwks["keys"].append(jwk)
    jwks_text = json.dumps(jwks)
    hs = pyjwt.encode(CLAIMS, SECRET, algorithm="HS256")
    rs = pyjwt.encode(CLAIMS, rsa_key, algorithm="RS256", headers={"kid": RSA_KID})
    es = pyjwt.encode(CLAIMS, p256, algorithm="ES256", headers={"kid": EC_KID})
    return [
        ("baseline", EXPRS["baseline"], hs, SECRET),
        ("hmac", EXPRS["hmac"], hs, SECRET),
        ("HS256", EXPRS["verify"], hs, SECRET),
        ("jsonb", EXPRS["jsonb"], hs, SECRET),
        ("RS256", EXPRS["verify"], rs, jwks_text),
        ("ES256", EXPRS["verify"], es, jwks_text),
    ]


def params(tok, key, n):
    payload = base64.urlsafe_b64decode(tok.split(".")[1] + "==").decode()
    return {"tok": tok, "key": key, "input": tok.rsplit(".", 1)[0], "payload": payload, "n": n}


def check(conn, cases):
    """The variants compute what they claim: pgcrypto's HMAC is the HS256 token's signature,
    and every token verifies to the claims it was signed with."""
    for name, _, tok, key in cases:
        p = params(tok, key, 1)
        if name == "hmac":
            mac = conn.execute("select hmac(%(input)s::text, %(key)s::text, 'sha256')", p).fetchone()[0]
            sig = base64.urlsafe_b64decode(tok.rsplit(".", 1)[1] + "==")
            if bytes(mac) != sig:
                raise SystemExit("pgcrypto hmac() does not reproduce the HS256 signature")
        elif name == "jsonb":
            got = conn.execute("select %(payload)s::text::jsonb", p).fetchone()[0]
            if got != CLAIMS:
                raise SystemExit(f"the token's payload is {got}")
        elif name != "baseline":
            got = conn.execute("select insforge.verify_jwt(%(tok)s, %(key)s)", p).fetchone()[0]
            if got != CLAIMS:
                raise SystemExit(f"{name}: verify_jwt returned {got}")


def on_cpu(pid):
    """Seconds the backend has spent on a CPU (Linux schedstat), or None where unreadable."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def timed(conn, pid, expr, tok, key, n):
    """(on-CPU seconds of the backend, wall-clock seconds) for one query."""
    sql = QUERY.format(expr=expr)
    c0, t0 = on_cpu(pid), time.perf_counter()
    got = conn.execute(sql, params(tok, key, n)).fetchone()[0]
    c1, t1 = on_cpu(pid), time.perf_counter()
    if got != n:
        raise SystemExit(f"{expr}: counted {got}, expected {n}")
    return (c1 - c0 if c0 is not None and c1 is not None else t1 - t0), t1 - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000, help="evaluations per query (baseline, hmac, HS256)")
    ap.add_argument("--n-asym", type=int, default=None, help="evaluations per query for RS256/ES256 (default N/10)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--cases-out", help="write the cases (name, token, key) to this JSON file")
    ap.add_argument("--cases-only", action="store_true", help="with --cases-out: write the cases and stop")
    ap.add_argument("--cases-in", help="measure the cases of this file (written by --cases-out)")
    args = ap.parse_args()
    if args.cases_in:
        given = {c["name"]: (c["token"], c["key"]) for c in json.loads(Path(args.cases_in).read_text())}
        hs, secret = given["HS256"]
        cases = [("baseline", EXPRS["baseline"], hs, secret), ("hmac", EXPRS["hmac"], hs, secret),
                 ("HS256", EXPRS["verify"], hs, secret), ("jsonb", EXPRS["jsonb"], hs, secret),
                 ("RS256", EXPRS["verify"], *given["RS256"]), ("ES256", EXPRS["verify"], *given["ES256"])]
    else:
        cases = make_cases()
    if args.cases_out:
        Path(args.cases_out).write_text(json.dumps(
            [{"name": name, "token": tok, "key": key} for name, expr, tok, key in cases if expr == EXPRS["verify"]]))
        if args.cases_only:
            return
    n_asym = args.n_asym or max(args.n // 10, 1)
    counts = {name: (n_asym if name in ("RS256", "ES256") else args.n) for name, *_ in cases}

    cluster = Cluster(port=55442)
    cluster.start()
    try:
        cluster.create_database("bench")
        with cluster.connect("bench") as conn:
            conn.execute("create extension pgcrypto")
            conn.execute("set max_parallel_workers_per_gather = 0")
            conn.execute("set jit = off")
            check(conn, cases)
            pid = conn.execute("select pg_backend_pid()").fetchone()[0]
            clock = "on-CPU" if on_cpu(pid) is not None else "wall-clock"
            times = {name: [] for name, *_ in cases}  # on-CPU seconds per call
            walls = {name: [] for name, *_ in cases}  # wall-clock seconds per call
            for name, expr, tok, key in cases:  # warm-up: library loaded, key parsed and cached
                timed(conn, pid, expr, tok, key, counts[name])
            for run in range(args.runs):
                order = cases[run % len(cases):] + cases[:run % len(cases)]  # rotate to spread drift
                for name, expr, tok, key in order:
                    cpu, wall = timed(conn, pid, expr, tok, key, counts[name])
                    times[name].append(cpu / counts[name])
                    walls[name].append(wall / counts[name])
            version = conn.execute("select extversion from pg_extension where extname = 'pgcrypto'").fetchone()[0]
    finally:
        cluster.cleanup()

    # Times are medians over the runs; ratios are medians of the per-run ratios (the variants of one
    # run are measured back to back, so the machine's load largely cancels out of them).
    med = {name: statistics.median(ts) for name, ts in times.items()}  # seconds per call

    def ratio(name, over, net, ts=times):
        b = ts["baseline"]
        rs = [(ts[name][i] - (b[i] if net else 0)) / (ts[over][i] - (b[i] if net else 0)) for i in range(args.runs)]
        return round(statistics.median(rs), 2)
    lens = {name: len(params(tok, key, 0)["payload"] if name == "jsonb" else tok) for name, _, tok, key in cases}
    rows = []
    for name in med:
        rows.append({
            "variant": name, "n": counts[name], "token_bytes": lens[name],
            "raw_us": round(med[name] * 1e6, 3), "net_us": round((med[name] - med["baseline"]) * 1e6, 3),
            "spread_us": [round(min(times[name]) * 1e6, 2), round(max(times[name]) * 1e6, 2)],
            "wall_us": round(statistics.median(walls[name]) * 1e6, 3),
            "wall_raw_over_hmac": ratio(name, "hmac", False, walls),
            "raw_over_hmac": ratio(name, "hmac", False),
            "net_over_hmac": ratio(name, "hmac", True) if name != "baseline" else None,
            "net_over_hs256": ratio(name, "HS256", True) if name != "baseline" else None,
        })
    if args.json:
        print(json.dumps({"n": args.n, "n_asym": n_asym, "runs": args.runs, "clock": clock, "pgcrypto": version,
                          "rows": rows}))
        return
    label = {"baseline": "baseline (loop only)", "hmac": "pgcrypto `hmac()` (floor)",
             "HS256": "`verify_jwt` HS256, secret", "jsonb": "for reference: `payload::jsonb` (bytes: the payload)",
             "RS256": "`verify_jwt` RS256, JWKS + kid", "ES256": "`verify_jwt` ES256, JWKS + kid"}
    print(f"Per call, server-side (one expression evaluated N times per query), {clock} time of the backend,"
          f" Clerk-shaped claims, {args.runs} interleaved runs: µs are medians, ratios medians of per-run ratios"
          f" (pgcrypto {version})")
    print("| variant | N per query | token bytes | µs/call raw (min–max) | µs/call net | raw / hmac | net / hmac"
          " | net / HS256 | wall µs/call | wall raw / hmac |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def f(v):
        return "–" if v is None else f"{v:.2f}"
    for r in rows:
        lo, hi = r["spread_us"]
        net = "–" if r["variant"] == "baseline" else f"{r['net_us']:.2f}"
        print(f"| {label[r['variant']]} | {r['n']:,} | {r['token_bytes']} | {r['raw_us']:.2f} ({lo:.2f}–{hi:.2f}) |"
              f" {net} | {r['raw_over_hmac']:.2f} | {f(r['net_over_hmac'])} | {f(r['net_over_hs256'])} |"
              f" {r['wall_us']:.2f} | {r['wall_raw_over_hmac']:.2f} |")


if __name__ == "__main__":
    main()
