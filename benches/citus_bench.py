"""Citus benchmark (docs/citus.md), one run, two parts.

1. RLS on a distributed table: `select count(*)` as `authenticated` through a PostgREST-shaped
   request (set_config statement, then `select "insforge"."pre_request"()`), over N rows
   (default 1,000,000, 1,000 owners) spread over two workers (32 shards, distributed by id so
   that every variant is a multi-shard query), median of interleaved runs:
     (a) native     policy user_id = insforge.requesting_user_id()
     (c) literal    policy user_id = 'user_42'            (the floor, same cluster)
     (b) guide SQL  policy user_id = guide.requesting_user_id() (auth.jwt() ->> 'sub'), for reference
   Target (a)/(c) <= 1.3.

2. The pre-request's cost per request: pgbench (-M prepared, one client, as PostgREST sends
   it: BEGIN; the set_config statement; the pre-request; [a query;] COMMIT) with
   insforge.pre_request() against an empty plpgsql pre-request function, against none, and
   against the same work written in plpgsql (SET LOCAL through EXECUTE), on a
   plain PostgreSQL 15 (no Citus: insforge.pre_request() returns at once) and on the Citus
   coordinator (where it sends claims and headers to the workers), there also with a router
   SELECT on the distributed table after it (with none or the empty function the workers see no
   claims, so that SELECT finds no row and does less work). Rounds interleaved; median latency.

Usage: python3 benches/citus_bench.py [--rows 1000000] [--owners 1000] [--runs 9] [--seconds 5] [--json]
Needs Citus in $PG_CONFIG's PostgreSQL (bash scripts/citus.sh) and, for numbers worth
recording, the extension's release build there: cargo pgrx install --release --pg-config "$PG_CONFIG"
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from citus_cluster import CitusCluster, citus_installed  # noqa: E402
from pgcluster import PG_CONFIG, Cluster, bindir  # noqa: E402

CLAIMS = {  # a Clerk-shaped claim set (JWT template "insforge"), as in benches/rls_bench.py
    "azp": "https://app.example.com", "exp": 4102444800, "iat": 1763800000, "iss": "https://demo.clerk.accounts.dev",
    "nbf": 1763799990, "sid": "sess_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "sub": "user_42", "role": "authenticated",
    "aud": "insforge-api",
}
HEADERS = {"accept": "application/json", "host": "localhost:3000", "user-agent": "bench",
           "authorization": "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzQyIn0.x"}
VARIANTS = {
    "native": "user_id = insforge.requesting_user_id()",
    "literal": "user_id = 'user_42'",
    "guide_sql": "user_id = guide.requesting_user_id()",
}


def sql_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def set_request_sql() -> str:
    return ("select set_config('search_path', 'public', true), set_config('role', 'authenticated', true),"
            f" set_config('request.jwt.claims', {sql_literal(json.dumps(CLAIMS))}, true),"
            " set_config('request.method', 'GET', true), set_config('request.path', '/notes', true),"
            f" set_config('request.headers', {sql_literal(json.dumps(HEADERS))}, true),"
            " set_config('request.cookies', '{}', true);")


# -- part 1 ------------------------------------------------------------------------------------------------------

def load(citus: CitusCluster, rows: int, owners: int, rls: bool = True) -> None:
    with citus.operator() as op:
        op.execute("CREATE SCHEMA IF NOT EXISTS guide")
        op.execute("GRANT USAGE ON SCHEMA guide TO authenticated")
        op.execute("CREATE OR REPLACE FUNCTION guide.requesting_user_id() RETURNS text LANGUAGE sql STABLE"
                   " AS $$ SELECT auth.jwt() ->> 'sub' $$")
        for name, qual in (VARIANTS.items() if rls else ()):
            t = f"bench_{name}"
            op.execute(f"CREATE TABLE {t} (id bigint PRIMARY KEY, user_id text NOT NULL, body text)")
            op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY owner ON {t} FOR SELECT TO authenticated USING ({qual})")
            op.execute("SELECT create_distributed_table(%s, 'id')", (t,))
            op.execute(f"INSERT INTO {t} SELECT g, 'user_' || (g % {owners}), 'note ' || g"
                       f" FROM generate_series(1, {rows}) g")
        # For part 2: a table distributed by the owner, read by a router query.
        op.execute("CREATE TABLE notes_by_user (id bigint, user_id text NOT NULL, body text, PRIMARY KEY (user_id, id))")
        op.execute("ALTER TABLE notes_by_user ENABLE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY owner ON notes_by_user FOR SELECT TO authenticated"
                   " USING (user_id = insforge.requesting_user_id())")
        op.execute("SELECT create_distributed_table('notes_by_user', 'user_id')")
        op.execute(f"INSERT INTO notes_by_user SELECT g, 'user_' || (g % {owners}), 'note ' || g"
                   " FROM generate_series(1, 100000) g")
        op.execute("CREATE OR REPLACE FUNCTION public.empty_pre_request() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$")
        op.execute(PLPGSQL_PRE_REQUEST)
    with citus.connect() as c:
        for name in (VARIANTS if rls else ()):
            c.execute(f"VACUUM (ANALYZE, FREEZE) bench_{name}")
        c.execute("VACUUM (ANALYZE, FREEZE) notes_by_user")


def timed_count(conn, table: str) -> tuple[float, int]:
    with conn.transaction():
        cur = conn.cursor()
        cur.execute(set_request_sql())
        cur.execute('select "insforge"."pre_request"()')
        t0 = time.perf_counter()
        n = cur.execute(f"select count(*) from {table}").fetchone()[0]
        return time.perf_counter() - t0, n


def part1(citus: CitusCluster, rows: int, owners: int, runs: int) -> dict:
    expected = rows // owners
    times = {v: [] for v in VARIANTS}
    with citus.connect() as conn:
        for v in VARIANTS:  # warm-up: pages into the workers' shared buffers, connections open
            for _ in range(2):
                timed_count(conn, f"bench_{v}")
        for _ in range(runs):
            for v in VARIANTS:
                dt, n = timed_count(conn, f"bench_{v}")
                if n != expected:
                    raise SystemExit(f"{v}: counted {n} rows, expected {expected}")
                times[v].append(dt)
    med = {v: statistics.median(ts) * 1000 for v, ts in times.items()}
    return {"rows": rows, "owners": owners, "runs": runs, **{f"{v}_ms": round(m, 1) for v, m in med.items()},
            "native_over_literal": round(med["native"] / med["literal"], 3),
            "guide_sql_over_native": round(med["guide_sql"] / med["native"], 1)}


# -- part 2 ------------------------------------------------------------------------------------------------------

def pgbench_latency_ms(host: str, port: int, dbname: str, script: str, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    os.chmod(path, 0o644)
    try:
        out = subprocess.run([str(bindir() / "pgbench"), "-n", "-M", "prepared", "-c", "1", "-T", str(seconds),
                              "-h", host, "-p", str(port), "-U", "postgres", "-f", path, dbname],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    for line in out.splitlines():
        if line.startswith("latency average"):
            return float(line.split("=")[1].split()[0])
    raise RuntimeError(out)


def request_script(pre: str | None, query: str | None) -> str:
    lines = ["BEGIN;", set_request_sql()]
    if pre:
        lines.append(f"select {pre}();")
    if query:
        lines.append(query + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


PRE = {"none": None, "empty": '"public"."empty_pre_request"', "plpgsql": '"public"."plpgsql_pre_request"',
       "insforge": '"insforge"."pre_request"'}

# What the pre-request does, written in plpgsql (what one would write by hand; the measurement
# that found the fix used this form).
PLPGSQL_PRE_REQUEST = """
CREATE FUNCTION public.plpgsql_pre_request() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('citus.propagate_set_commands', true) IS NULL THEN
        RETURN;
    END IF;
    SET LOCAL citus.propagate_set_commands = 'local';
    EXECUTE format('SET LOCAL "request.jwt.claims" TO %L', coalesce(current_setting('request.jwt.claims', true), ''));
    EXECUTE format('SET LOCAL "request.headers" TO %L', coalesce(current_setting('request.headers', true), ''));
END $$"""


def part2(targets: list[tuple[str, str, int, str, str | None]], seconds: int, rounds: int) -> list[dict]:
    """targets: (label, socket dir, port, dbname, query or None)."""
    out = []
    for label, host, port, dbname, query in targets:
        lat = {p: [] for p in PRE}
        for _ in range(rounds):
            for p, fn in PRE.items():
                lat[p].append(pgbench_latency_ms(host, port, dbname, request_script(fn, query), seconds))
        med = {p: statistics.median(v) for p, v in lat.items()}
        out.append({"where": label, **{f"{p}_ms": round(m, 4) for p, m in med.items()},
                    "insforge_minus_empty_us": round((med["insforge"] - med["empty"]) * 1000, 1),
                    "insforge_minus_plpgsql_us": round((med["insforge"] - med["plpgsql"]) * 1000, 1),
                    "empty_minus_none_us": round((med["empty"] - med["none"]) * 1000, 1)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--owners", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--seconds", type=int, default=5, help="pgbench seconds per variant and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=int(os.environ.get("INSFORGE_BENCH_PORT", "55630")))
    ap.add_argument("--parts", default="1,2", help="which parts to run: 1 (RLS), 2 (pre-request), or both")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    if not citus_installed():
        raise SystemExit(f"Citus is not installed into {PG_CONFIG}: bash scripts/citus.sh")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the clusters when killed
    citus = CitusCluster(port=args.port, settings={"shared_buffers": "512MB"})
    plain = Cluster(port=args.port + 3, settings={"shared_buffers": "256MB"})
    citus.start()
    plain.start()
    try:
        load(citus, args.rows, args.owners, rls=1 in parts)
        plain.create_database("bench")
        with plain.connect("bench") as c:
            c.execute("CREATE FUNCTION public.empty_pre_request() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$")
            c.execute(PLPGSQL_PRE_REQUEST)
        r1 = part1(citus, args.rows, args.owners, args.runs) if 1 in parts else None
        router = "select count(*) from notes_by_user where user_id = 'user_42'"
        r2 = [] if 2 not in parts else part2([("PostgreSQL 15, no Citus", str(plain.base), plain.port, "bench", None),
                    ("Citus coordinator", str(citus.coordinator.base), citus.port, citus.dbname, None),
                    ("Citus coordinator + router SELECT", str(citus.coordinator.base), citus.port, citus.dbname, router)],
                   args.seconds, args.rounds)
    finally:
        citus.cleanup()
        plain.cleanup()

    if args.json:
        print(json.dumps({"rls": r1, "pre_request": r2}))
        return
    if r1:
        print_part1(r1)
    if r2:
        print_part2(r2, args)


def print_part1(r1):
    print(f"1. count(*) as authenticated over {r1['rows']:,} rows ({r1['owners']} owners) on two workers, 32 shards,"
          f" multi-shard, median of {r1['runs']} interleaved runs")
    print("| (a) native ms | (c) literal ms | (b) guide SQL ms | a/c | b/a |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {r1['native_ms']:.1f} | {r1['literal_ms']:.1f} | {r1['guide_sql_ms']:.1f} |"
          f" {r1['native_over_literal']:.2f} | {r1['guide_sql_over_native']:.1f} |")
    print()


def print_part2(r2, args):
    print(f"2. per request (pgbench -M prepared, 1 client, {args.seconds} s x {args.rounds} rounds, median latency)")
    print("| where | none ms | empty ms | plpgsql equivalent ms | insforge.pre_request() ms | insforge - empty µs |"
          " insforge - plpgsql µs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in r2:
        print(f"| {r['where']} | {r['none_ms']:.3f} | {r['empty_ms']:.3f} | {r['plpgsql_ms']:.3f} | {r['insforge_ms']:.3f} |"
              f" {r['insforge_minus_empty_us']:.1f} | {r['insforge_minus_plpgsql_us']:.1f} |")


if __name__ == "__main__":
    main()
