"""The demo: a throwaway PostgreSQL 15 cluster configured like InsForge's, a project
database set up the way InsForge runs a project's SQL (as project_admin, never a
superuser: CREATE EXTENSION, the guides' notes table, the JWT key, the ledger), and
one request per provider user run the way PostgREST 12 runs it. Prints what each
user sees and fails loudly (exit 1) when anything differs from what the policies
promise."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psycopg  # noqa: E402
import demo_advisor  # noqa: E402
import demo_x402  # noqa: E402
from pgcluster import FIXTURES, Cluster, as_operator, postgrest_request  # noqa: E402

USERS = [
    ("Clerk", "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ",
     {"azp": "https://app.example.com", "iss": "https://demo-app.clerk.accounts.dev", "sid": "sess_2xPnG8"}),
    ("Auth0", "auth0|64b1f0c2e4a7d9b3c5e6f708", {"email": "ada@example.com"}),
    ("Auth0 (Google)", "google-oauth2|109876543210987654321", {"email": "grace@example.com"}),
    ("WorkOS", "user_01HZX3K5M7N9P1Q3R5S7T9V1W3", {"user_email": "linus@example.com"}),
    ("Kinde", "kp_0123456789abcdef0123456789abcdef", {"email": "ken@example.com"}),
    ("Stytch", "user-test-8b6a1f5e-2c3d-4e5f-9a0b-1c2d3e4f5a6b", {}),
    ("Better Auth", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY", {}),
    ("InsForge", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", {"email": "native@example.com"}),
]

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"   !! FAILED: {what}")


def main():
    cluster = Cluster(port=55440)
    print(f"== starting a throwaway PostgreSQL 15 cluster in {cluster.base}")
    cluster.start()
    try:
        run(cluster)
        failures.extend(demo_x402.run(cluster))
        failures.extend(demo_advisor.run(cluster))
    finally:
        cluster.cleanup()
    if failures:
        print(f"\nDEMO FAILED: {len(failures)} check(s) did not hold")
        return 1
    print("\nDemo OK: every user saw, wrote, changed and deleted only their own notes, the paid request"
          " was recorded once, as the facilitator ended it, and insforge.advise() found exactly the mistakes"
          " that were made.")
    return 0


SECRET = "demo-insforge-jwt-secret-0123456789abcdefghijklmnopqrstuv"


def run(cluster):
    print("== the project's setup, run the way InsForge runs a project's SQL:"
          " BEGIN; SET LOCAL ROLE project_admin; ...")
    cluster.create_database("demo")  # CREATE EXTENSION as project_admin (insforge_pg_utils runs it as the bootstrap superuser)
    with cluster.connect("demo") as c:
        with as_operator(c):
            who = c.execute("select current_user, (select rolsuper from pg_roles where rolname = current_user)").fetchone()
            version = c.execute("select extversion from pg_extension where extname = 'insforge_integrations'").fetchone()
            print(f"   as {who[0]} (superuser: {who[1]}): CREATE EXTENSION insforge_integrations ({version[0]})")
            check(who == ("project_admin", False), "the setup runs as project_admin, not a superuser")
            c.execute((FIXTURES / "notes.sql").read_text())
            print("   CREATE TABLE notes (...) with the guides' owner policies")
            c.execute("select insforge.set_jwt_secret(%s)", (SECRET,))
            print(f"   SELECT insforge.set_jwt_secret(...);  configured: "
                  f"{c.execute('select insforge.jwt_secret_configured()').fetchone()[0]}")
            print(f"   SELECT x402.install_ledger();  -> {c.execute('select x402.install_ledger()').fetchone()[0]}")
            findings = c.execute("select level, name from insforge.advise() where level in ('ERROR', 'WARN')").fetchall()
            print(f"   SELECT ... FROM insforge.advise();  ERROR/WARN findings: {len(findings)}")
            check(findings == [], f"a project set up as the README says has nothing to fix (got {findings})")
            for name, sub, _ in USERS:
                c.execute("insert into notes(user_id, body) values (%s, %s), (%s, %s)",
                          (sub, f"{name}'s first note", sub, f"{name}'s second note"))
            print(f"   seeded {2 * len(USERS)} notes (2 per user) as the service role")
        lang = c.execute("select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang"
                         " where p.oid = 'public.requesting_user_id()'::regprocedure").fetchone()[0]
        print(f"   public.requesting_user_id() is LANGUAGE {lang}")
        check(lang == "c", "public.requesting_user_id() runs the native code")
    with cluster.connect("demo", user="authenticator") as conn:
        with postgrest_request(conn, {"sub": USERS[0][1], "role": "authenticated"}) as cur:
            try:
                cur.execute("select insforge.set_jwt_secret('my-own-key-0123456789abcdef')")
                refusal = "ALLOWED"
            except psycopg.errors.InsufficientPrivilege as e:
                refusal = e.diag.message_primary
        print(f"   an authenticated user calling set_jwt_secret(): {refusal}")
        check("only by the operator: project_admin" in refusal, "clients cannot run operator functions")

    print("\n== one PostgREST-style request per user (SET role + request.jwt.claims, transaction-local)")
    print(f"   {'provider':<15} {'sub':<48} {'sees':>4}  insert  update  delete  forge-other")
    with cluster.connect("demo", user="authenticator") as conn:
        for i, (name, sub, extra) in enumerate(USERS):
            other = USERS[(i + 1) % len(USERS)][1]
            claims = {"sub": sub, "role": "authenticated", "aud": "insforge-api", "exp": 4102444800, **extra}
            with postgrest_request(conn, claims) as cur:
                rows = cur.execute("select user_id from notes").fetchall()
                inserted = cur.execute("insert into notes(body) values ('via API') returning user_id").fetchone()[0]
                updated = cur.execute("update notes set body = body || ' (edited)' where body = 'via API'").rowcount
                touched_other = cur.execute("update notes set body = 'hijacked' where user_id = %s", (other,)).rowcount
                deleted = cur.execute("delete from notes where body = 'via API (edited)'").rowcount
            try:
                with postgrest_request(conn, claims) as cur:
                    cur.execute("insert into notes(user_id, body) values (%s, 'forged')", (other,))
                forged = "ALLOWED"
            except psycopg.errors.InsufficientPrivilege:
                forged = "refused"
            print(f"   {name:<15} {sub:<48} {len(rows):>4}  {inserted == sub!s:<6}  {updated:<6}  {deleted:<6}  {forged}")
            check(rows == [(sub,), (sub,)], f"{name} sees exactly their 2 notes")
            check(inserted == sub, f"{name}'s insert is owned by {name}")
            check(updated == 1 and deleted == 1 and touched_other == 0, f"{name} changes only own rows")
            check(forged == "refused", f"{name} cannot write a note for someone else")

        for label, claims, role in [("anon (no token)", None, "anon"), ("token without sub", '{"role":"authenticated"}',
                                                                         "authenticated")]:
            with postgrest_request(conn, claims, role=role) as cur:
                n = cur.execute("select count(*) from notes").fetchone()[0]
            print(f"   {label:<64} {n:>4}")
            check(n == 0, f"{label} sees nothing")

        with postgrest_request(conn, {"sub": "user_2x", "role": "authenticated",
                                      "https://insforge.dev/insforge_token": "eyJ...",
                                      "permissions": ["read:notes", "write:notes"], "org": {"role": "admin"}}) as cur:
            row = cur.execute("select insforge.claim('https://insforge.dev/insforge_token'),"
                              " insforge.has_claim('permissions', 'write:notes'), insforge.claim_path('org', 'role'),"
                              " insforge.role()").fetchone()
        print(f"\n== claim accessors: claim(namespaced)={row[0]!r} has_claim(permissions, write:notes)={row[1]}"
              f" claim_path(org, role)={row[2]!r} role()={row[3]!r}")
        check(row == ("eyJ...", True, "admin", "authenticated"), "claim accessors")

    explain_demo(cluster)

    print("\n== a database that already has the guide's SQL helper: adopt it in place (as project_admin)")
    cluster.create_database("guide", extension=False)
    with cluster.connect("guide") as c:
        with as_operator(c):
            c.execute("CREATE FUNCTION public.requesting_user_id() RETURNS text LANGUAGE sql STABLE"
                      " AS $$ SELECT auth.jwt() ->> 'sub' $$")
            c.execute((FIXTURES / "notes.sql").read_text())
        before = c.execute("select oid, xmin::text from pg_policy order by oid").fetchall()
        notices = []
        c.add_notice_handler(lambda d: notices.append(f"{d.message_primary}\n   HINT: {d.message_hint}"))
        with as_operator(c):
            c.execute("CREATE EXTENSION insforge_integrations")
        for n in notices:
            print(f"   NOTICE: {n}")
        with as_operator(c):
            print("   " + c.execute("select insforge.adopt_requesting_user_id()").fetchone()[0])
        after = c.execute("select oid, xmin::text from pg_policy order by oid").fetchall()
        check(before == after, "adopting leaves every policy untouched")
        check(c.execute("select insforge.native_requesting_user_id_installed()").fetchone()[0], "adopted helper is native")
        print(f"   {len(after)} policies, unchanged (same oid and xmin)")


KINDE_USER = {"sub": "kp_c3143a4b50ad43c88e541d9077681782", "email": "ken@example.com", "role": "authenticated"}


def explain_demo(cluster):
    """Why does this Kinde user see 0 rows of docs? Asked of the database (docs/explain.md)."""
    print("\n== why does this Kinde user see 0 rows of docs? (as project_admin: insforge.explain_access)")
    with cluster.connect("demo") as c:
        with as_operator(c):
            c.execute("""
                CREATE TABLE public.docs (id bigserial PRIMARY KEY, owner_id text NOT NULL DEFAULT requesting_user_id(),
                                          org_code text NOT NULL, title text NOT NULL);
                ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
                CREATE POLICY "Org members read docs" ON public.docs FOR SELECT TO authenticated
                    USING (org_code = (auth.jwt() ->> 'org_code'));
                INSERT INTO public.docs (owner_id, org_code, title) VALUES
                    ('kp_c3143a4b50ad43c88e541d9077681782', 'org_acme', 'Roadmap'),
                    ('kp_c3143a4b50ad43c88e541d9077681782', 'org_acme', 'Pricing'),
                    ('kp_9f2e6d1a0b3c4d5e6f7a8b9c0d1e2f3a', 'org_globex', 'Hiring plan');""")
            explain = ("SELECT result, rows, detail FROM insforge.explain_access('docs', %s::jsonb)"
                       " WHERE kind = 'verdict'")
            result, rows, detail = c.execute(explain, (json.dumps(KINDE_USER),)).fetchone()
            print(f"   {detail}")
            check((result, rows) == ("denied", 0) and "org_code = NULL (absent)" in detail,
                  "the explanation names the claim InsForge's API does not forward")
            c.execute("""
                CREATE TABLE public.org_members (org_code text, user_id text, PRIMARY KEY (org_code, user_id));
                ALTER TABLE public.org_members ENABLE ROW LEVEL SECURITY;
                CREATE POLICY "Members see own memberships" ON public.org_members FOR SELECT TO authenticated
                    USING (user_id = requesting_user_id());
                INSERT INTO public.org_members VALUES ('org_acme', 'kp_c3143a4b50ad43c88e541d9077681782');
                DROP POLICY "Org members read docs" ON public.docs;
                CREATE POLICY "Org members read docs" ON public.docs FOR SELECT TO authenticated
                    USING (org_code IN (SELECT m.org_code FROM public.org_members m WHERE m.user_id = requesting_user_id()));""")
            result, rows, detail = c.execute(explain, (json.dumps(KINDE_USER),)).fetchone()
            print(f"   after looking the organisation up by requesting_user_id(): {detail}")
            check((result, rows) == ("allowed", 2), "with a membership table the Kinde user sees the org's 2 docs")
    with cluster.connect("demo", user="authenticator") as conn:
        with postgrest_request(conn, KINDE_USER) as cur:
            n = cur.execute("select count(*) from docs").fetchone()[0]
    check(n == 2, f"a real request agrees with the explanation (saw {n})")


if __name__ == "__main__":
    sys.exit(main())
