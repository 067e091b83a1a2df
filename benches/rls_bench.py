"""RLS benchmark: `select count(*)` as `authenticated` over a table
whose policy is written the way the guides write it, `user_id = requesting_user_id()`
with no `(select ...)` wrapper, Clerk-shaped claims, parallelism off.

Variants, measured interleaved in one run on the same cluster:
  (a) native     policy calls public.requesting_user_id() (this extension)
  (b) guide SQL  policy calls the guides' SQL helper  (auth.jwt() ->> 'sub')
  (c) literal    policy is user_id = 'user_42'          (the floor)
  (d) wrapped    guide SQL helper inside (select ...)   (the guides' manual fix; for reference)

Usage: python3 benches/rls_bench.py [--sizes 1000000] [--owners 1000] [--runs 7]
Install a release build first: bash scripts/setup.sh --release
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pgcluster import Cluster, postgrest_request  # noqa: E402

CLAIMS = {  # a Clerk-shaped claim set (JWT template "insforge")
    "azp": "https://app.example.com", "exp": 4102444800, "iat": 1763800000, "iss": "https://demo.clerk.accounts.dev",
    "nbf": 1763799990, "sid": "sess_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "sub": "user_42", "role": "authenticated",
    "aud": "insforge-api",
}
VARIANTS = {
    "native": "user_id = requesting_user_id()",
    "guide_sql": "user_id = guide.requesting_user_id()",
    "literal": "user_id = 'user_42'",
    "wrapped": "user_id = (select guide.requesting_user_id())",
}


def setup(conn, size, owners):
    conn.execute("create schema if not exists guide")
    conn.execute("create or replace function guide.requesting_user_id() returns text language sql stable"
                 " as $$ select auth.jwt() ->> 'sub' $$")
    conn.execute("grant usage on schema guide to authenticated")
    for name, qual in VARIANTS.items():
        t = f"bench_{name}_{size}"
        conn.execute(f"drop table if exists {t}")
        conn.execute(f"create table {t} (id bigint, user_id text not null, body text)")
        conn.execute(f"insert into {t} select g, 'user_' || (g % {owners}), 'note ' || g"
                     f" from generate_series(1, {size}) g")
        conn.execute(f"alter table {t} enable row level security")
        conn.execute(f"create policy owner on {t} for select to authenticated using ({qual})")
        conn.execute(f"grant select on {t} to authenticated")
        conn.execute(f"vacuum (analyze, freeze) {t}")


def timed_count(conn, table):
    with postgrest_request(conn, CLAIMS) as cur:
        cur.execute("set local max_parallel_workers_per_gather = 0")
        cur.execute("set local jit = off")
        t0 = time.perf_counter()
        n = cur.execute(f"select count(*) from {table}").fetchone()[0]
        return time.perf_counter() - t0, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000")
    ap.add_argument("--owners", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    cluster = Cluster(port=55441, settings={"shared_buffers": "1GB"})
    cluster.start()
    results = []
    try:
        cluster.create_database("bench")
        with cluster.connect("bench") as admin:
            for size in sizes:
                setup(admin, size, args.owners)
        with cluster.connect("bench", user="authenticator") as conn:
            for size in sizes:
                times = {v: [] for v in VARIANTS}
                for v in VARIANTS:  # warm-up: pages into shared buffers
                    timed_count(conn, f"bench_{v}_{size}")
                for _ in range(args.runs):
                    for v in VARIANTS:
                        dt, n = timed_count(conn, f"bench_{v}_{size}")
                        if n != size // args.owners:
                            raise SystemExit(f"{v}: counted {n} rows, expected {size // args.owners}")
                        times[v].append(dt)
                med = {v: statistics.median(ts) * 1000 for v, ts in times.items()}
                results.append({"rows": size, **{f"{v}_ms": round(m, 2) for v, m in med.items()},
                                "native_over_literal": round(med["native"] / med["literal"], 3),
                                "guide_sql_over_literal": round(med["guide_sql"] / med["literal"], 3),
                                "guide_sql_over_native": round(med["guide_sql"] / med["native"], 2),
                                "wrapped_over_literal": round(med["wrapped"] / med["literal"], 3)})
    finally:
        cluster.cleanup()

    if args.json:
        print(json.dumps(results))
        return
    print(f"RLS count(*) as authenticated, {args.owners} owners, Clerk-shaped claims, parallelism off,"
          f" median of {args.runs} interleaved runs")
    print("| rows | (a) native ms | (b) guide SQL ms | (c) literal ms | (d) wrapped ms | a/c | b/c | b/a |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['rows']:,} | {r['native_ms']:.1f} | {r['guide_sql_ms']:.1f} | {r['literal_ms']:.1f} |"
              f" {r['wrapped_ms']:.1f} | {r['native_over_literal']:.2f} | {r['guide_sql_over_literal']:.2f} |"
              f" {r['guide_sql_over_native']:.1f} |")


if __name__ == "__main__":
    main()
