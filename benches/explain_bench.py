"""explain_access() benchmark: explaining a SELECT on a 100,000-row table with 5 policies,
against running the same SELECT as that user. Target: the explanation within 2x.

The table is the guides' kind of table with five policies on it, four permissive and one
restrictive, each a shape the guides write:

  owner        user_id = requesting_user_id()
  org          org_id IN (SELECT org_id FROM org_members WHERE user_id = requesting_user_id())
               (the membership table has its own policy, evaluated as the user)
  permission   insforge.has_claim('permissions', 'read:all')
  admin email  (select auth.jwt() ->> 'email') = 'admin@example.com'
  not deleted  AS RESTRICTIVE ... USING (deleted_at IS NULL)

Measured, interleaved, in one run on one cluster, as medians:
  (a) select     SELECT * FROM docs as the user, the way PostgREST runs a request (role and
                 transaction-local claims), every visible row fetched by the client
  (b) explain    SELECT * FROM insforge.explain_access('docs', claims) as project_admin (the way
                 InsForge runs a project's SQL): how many rows each policy admits, and the verdict
and, for context (no target): (c) count(*) as the user, (d) explain of one row by its key.
Parallelism off and JIT off in both, so neither is a matter of scheduling.

Usage: python3 benches/explain_bench.py [--rows 100000] [--runs 15] [--json]
Install a release build first (cargo pgrx install --release, or bash scripts/setup.sh --release).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pgcluster import Cluster, as_operator, postgrest_request  # noqa: E402

CLAIMS = {"sub": "user_7", "role": "authenticated", "email": "ada@example.com", "permissions": ["read:own"],
          "aud": "insforge-api", "exp": 4102444800}
SCHEMA = """
CREATE TABLE public.org_members (org_id int NOT NULL, user_id text NOT NULL, PRIMARY KEY (org_id, user_id));
ALTER TABLE public.org_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own memberships" ON public.org_members FOR SELECT TO authenticated USING (user_id = requesting_user_id());
CREATE TABLE public.docs (
    id bigint PRIMARY KEY,
    user_id text NOT NULL DEFAULT requesting_user_id(),
    org_id int NOT NULL,
    title text NOT NULL,
    deleted_at timestamptz
);
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner ON public.docs FOR SELECT TO authenticated USING (user_id = requesting_user_id());
CREATE POLICY org ON public.docs FOR SELECT TO authenticated
    USING (org_id IN (SELECT m.org_id FROM public.org_members m WHERE m.user_id = requesting_user_id()));
CREATE POLICY permission ON public.docs FOR SELECT TO authenticated USING (insforge.has_claim('permissions', 'read:all'));
CREATE POLICY "admin email" ON public.docs FOR SELECT TO authenticated
    USING ((SELECT auth.jwt() ->> 'email') = 'admin@example.com');
CREATE POLICY "not deleted" ON public.docs AS RESTRICTIVE FOR SELECT TO authenticated USING (deleted_at IS NULL);
"""


def setup(conn, rows):
    with as_operator(conn):
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO public.org_members VALUES (3, 'user_7'), (4, 'user_8')")
        conn.execute("INSERT INTO public.docs (id, user_id, org_id, title, deleted_at)"
                     " SELECT g, 'user_' || (g % 1000), g % 50, 'document ' || g,"
                     "        CASE WHEN g % 97 = 0 THEN now() END"
                     f" FROM generate_series(1, {rows}) g")
    conn.execute("VACUUM (ANALYZE, FREEZE) public.docs, public.org_members")


def quiet(cur):
    cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    cur.execute("SET LOCAL jit = off")


def run_select(conn):
    with postgrest_request(conn, CLAIMS) as cur:
        quiet(cur)
        t0 = time.perf_counter()
        rows = cur.execute("SELECT * FROM public.docs").fetchall()
        return time.perf_counter() - t0, len(rows)


def run_count(conn):
    with postgrest_request(conn, CLAIMS) as cur:
        quiet(cur)
        t0 = time.perf_counter()
        n = cur.execute("SELECT count(*) FROM public.docs").fetchone()[0]
        return time.perf_counter() - t0, n


def run_explain(conn, row_key=None):
    with as_operator(conn):
        cur = conn.cursor()
        quiet(cur)
        t0 = time.perf_counter()
        rows = cur.execute("SELECT kind, result, rows FROM insforge.explain_access('public.docs', %s::jsonb,"
                           " row_key => %s::jsonb)", (json.dumps(CLAIMS), row_key)).fetchall()
        dt = time.perf_counter() - t0
    verdict = rows[-1]
    return dt, verdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--port", type=int, default=55445)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()

    cluster = Cluster(port=args.port)
    cluster.start()
    try:
        cluster.create_database("bench")
        with cluster.connect("bench") as admin:
            setup(admin, args.rows)
            expected = admin.execute(
                "SELECT count(*) FROM public.docs WHERE deleted_at IS NULL AND (user_id = 'user_7' OR org_id = 3)").fetchone()[0]
        with cluster.connect("bench", user="authenticator") as client, cluster.connect("bench") as operator:
            times = {"select": [], "explain": [], "count": [], "explain_row": []}
            for _ in range(2):  # warm-up: pages into shared buffers, plans, the library loaded
                run_select(client), run_explain(operator), run_count(client), run_explain(operator, '{"id": 7}')
            for _ in range(args.runs):
                dt, n = run_select(client)
                assert n == expected, (n, expected)
                times["select"].append(dt)
                dt, verdict = run_explain(operator)
                assert verdict == ("verdict", "allowed", expected), verdict
                times["explain"].append(dt)
                dt, n = run_count(client)
                assert n == expected, (n, expected)
                times["count"].append(dt)
                dt, verdict = run_explain(operator, '{"id": 7}')
                assert verdict[:2] == ("verdict", "allowed"), verdict
                times["explain_row"].append(dt)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    finally:
        cluster.cleanup()

    result = {"rows": args.rows, "visible": expected, "policies": 5, "runs": args.runs,
              **{f"{k}_ms": round(v, 2) for k, v in med.items()},
              "explain_over_select": round(med["explain"] / med["select"], 3),
              "explain_over_count": round(med["explain"] / med["count"], 3)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"explain_access() on {args.rows:,} rows with 5 policies ({expected:,} visible to the user),"
          f" medians of {args.runs} interleaved runs, parallelism and JIT off")
    print("| measured | ms | baseline (same run) | ms | ratio | target |")
    print("|---|---:|---|---:|---:|---|")
    print(f"| (b) explain_access(), without a row | {med['explain']:.1f} | (a) SELECT * as the user |"
          f" {med['select']:.1f} | {result['explain_over_select']:.2f} | ≤ 2 |")
    print(f"| (b) explain_access(), without a row | {med['explain']:.1f} | (c) count(*) as the user |"
          f" {med['count']:.1f} | {result['explain_over_count']:.2f} | |")
    print(f"| (d) explain_access(), one row by key | {med['explain_row']:.1f} | | | | |")


if __name__ == "__main__":
    main()
