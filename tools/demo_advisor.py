"""The advisor part of the demo: a project database with four classic integration
mistakes, what insforge.advise() says about it, and the same list after the fixes,
everything run as project_admin, as InsForge runs a project's SQL.

`run(cluster)` is called at the end of tools/demo.py with its running cluster and
returns a list of failure descriptions (empty when every check held). Run alone:
`python3 tools/demo_advisor.py` (starts and removes its own throwaway cluster).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import FIXTURES, Cluster, as_operator  # noqa: E402

DB = "demo_advisor"

# The mistakes, each as people make them when following the guides:
MISTAKES = """
-- 1. The guide's SQL helper, written before the extension arrived (not adopted yet).
CREATE FUNCTION public.requesting_user_id() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT auth.jwt() ->> 'sub' $$;
-- 2. A policy copied from InsForge-auth code: auth.uid() is a uuid; Clerk ids are not.
CREATE TABLE public.posts (id bigserial PRIMARY KEY, user_id uuid NOT NULL DEFAULT auth.uid(), body text);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated USING (user_id = auth.uid());
-- 3. An x402 ledger whose tx_hash is indexed but not unique: one payment, two redemptions.
CREATE TABLE public.x402_payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), payer_address text NOT NULL, endpoint text NOT NULL,
    amount text NOT NULL, tx_hash text NOT NULL, chain text NOT NULL DEFAULT 'xlayer',
    status text NOT NULL DEFAULT 'settled', response_summary jsonb, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX x402_payments_tx_hash_idx ON public.x402_payments (tx_hash);
ALTER TABLE public.x402_payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Anyone can read payments" ON public.x402_payments FOR SELECT USING (true);
REVOKE INSERT, UPDATE, DELETE ON public.x402_payments FROM anon, authenticated;
-- 4. Better Auth's migration run against public: its session tokens open to the API.
CREATE TABLE public.session (id text PRIMARY KEY, "expiresAt" timestamptz NOT NULL, token text NOT NULL UNIQUE,
    "ipAddress" text, "userAgent" text, "userId" text NOT NULL);
"""

EXPECTED = {
    ("ERROR", "better_auth_tables_exposed", "better_auth_tables_exposed_public_session"),
    # the same open session table, seen by the RLS rule too (its "userId" is an owner column)
    ("ERROR", "rls_disabled_with_owner_column", "rls_disabled_with_owner_column_public_session"),
    ("ERROR", "x402_tx_hash_not_unique", "x402_tx_hash_not_unique_public_x402_payments_tx_hash"),
    ("WARN", "auth_uid_in_policy", "auth_uid_in_policy_public_posts_Users read own posts"),
    ("WARN", "sql_requesting_user_id", "sql_requesting_user_id_public_requesting_user_id"),
}

FIXES = """
SELECT insforge.adopt_requesting_user_id();
DROP POLICY "Users read own posts" ON public.posts;
ALTER TABLE public.posts ALTER COLUMN user_id DROP DEFAULT, ALTER COLUMN user_id TYPE text,
    ALTER COLUMN user_id SET DEFAULT requesting_user_id();
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated USING (user_id = requesting_user_id());
DROP INDEX public.x402_payments_tx_hash_idx;
ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_key UNIQUE (tx_hash);
REVOKE ALL ON TABLE public.session FROM PUBLIC, anon, authenticated;
"""


def show(conn, heading):
    rows = conn.execute("SELECT level, name, detail, cache_key FROM insforge.advise()").fetchall()
    print(f"\n== {heading}: SELECT level, name, detail FROM insforge.advise();  ({len(rows)} rows)")
    for level, name, detail, _ in rows:
        print(f"   {level:<5} {name:<30} {detail}")
    return rows


def run(cluster) -> list[str]:
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
            print(f"   !! FAILED: {what}")

    print("\n== the advisor: a project with four integration mistakes (everything as project_admin)")
    cluster.create_database(DB, extension=False)
    try:
        with cluster.connect(DB) as c:
            with as_operator(c):
                c.execute(MISTAKES)
                c.execute((FIXTURES / "notes.sql").read_text())  # the guides' notes table, done right
                c.execute("CREATE EXTENSION insforge_integrations")
                c.execute("SELECT insforge.set_jwt_secret('demo-hs256-secret-0123456789abcdefghij')")
                rows = show(c, "before")
            got = {(level, name, key) for level, name, _, key in rows}
            check(got == EXPECTED, f"advise() reports exactly the four mistakes, in five findings (got {sorted(got)})")
            check(all("demo-hs256-secret" not in str(r) for r in rows), "advise() never prints the JWT key")
        # A superuser sees the same list.
        with cluster.connect(DB) as c:
            as_superuser = {(level, name, key) for level, name, _, key in
                            c.execute("SELECT level, name, detail, cache_key FROM insforge.advise()").fetchall()}
            print(f"   (as a superuser: {len(as_superuser)} rows, the same)")
            check(as_superuser == EXPECTED, "a superuser gets the same findings")
        with cluster.connect(DB) as c:
            with as_operator(c):
                c.execute(FIXES)
                rows = show(c, "after the remediations")
            check(rows == [], "no finding left once fixed")
    finally:
        with cluster.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    return failures


def main():
    cluster = Cluster(port=int(os.environ.get("INSFORGE_DEMO_PORT", "55441")))
    cluster.start()
    try:
        failures = run(cluster)
    finally:
        cluster.cleanup()
    print(f"\nadvisor demo: {'OK' if not failures else f'{len(failures)} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
