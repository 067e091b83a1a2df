-- insforge_integrations: insforge.advise(), the integration-mistake advisor.
-- One row per finding, in supabase splinter's shape; ERROR first, then WARN, INFO.
CREATE EXTENSION insforge_integrations;
SELECT pg_get_function_result('insforge.advise()'::regprocedure);

-- A project that follows the guides: text owner column defaulting to the
-- requester, owner policies TO authenticated, the native requesting_user_id().
CREATE TABLE public.notes (
    id bigserial PRIMARY KEY,
    user_id text NOT NULL DEFAULT requesting_user_id(),
    body text NOT NULL
);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own notes" ON public.notes FOR SELECT TO authenticated
    USING (user_id = requesting_user_id());
CREATE POLICY "Users create own notes" ON public.notes FOR INSERT TO authenticated
    WITH CHECK (user_id = requesting_user_id());
SELECT count(*) AS findings FROM insforge.advise();

-- Mistakes: a policy written for InsForge's own auth (auth.uid() is a uuid),
-- an x402 ledger whose tx_hash is not unique and that clients can write, and a
-- table with an owner column left without row-level security.
CREATE TABLE public.posts (id int, user_id uuid NOT NULL DEFAULT auth.uid(), body text);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE TABLE public.x402_payments (id int, payer_address text, tx_hash text, amount text);
CREATE INDEX ON public.x402_payments (tx_hash);
CREATE TABLE public.todos (id int, owner_id text, done boolean);

\x on
SELECT level, name, title, facing, categories, detail, remediation, cache_key FROM insforge.advise();
\x off

-- Each rule is also a function of its own, with the same columns.
SELECT name, level, metadata FROM insforge.lint_x402_tx_hash_not_unique();

-- Fixing them, as the remediations say.
DROP POLICY "Users read own posts" ON public.posts;
ALTER TABLE public.posts ALTER COLUMN user_id DROP DEFAULT,
    ALTER COLUMN user_id TYPE text, ALTER COLUMN user_id SET DEFAULT requesting_user_id();
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated
    USING (user_id = requesting_user_id());
ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_key UNIQUE (tx_hash);
REVOKE INSERT, UPDATE, DELETE ON public.x402_payments FROM anon, authenticated;
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users manage own todos" ON public.todos TO authenticated
    USING (owner_id = requesting_user_id());
-- A FOR ALL policy checks inserts too, and owner_id has no default:
SELECT level, name, detail, remediation FROM insforge.advise();
ALTER TABLE public.todos ALTER COLUMN owner_id SET DEFAULT requesting_user_id();
SELECT count(*) AS findings FROM insforge.advise();

-- The guides' SQL helper is reported until it is adopted.
SELECT insforge.release_requesting_user_id();
SELECT level, name, detail, remediation FROM insforge.advise();
SELECT insforge.adopt_requesting_user_id();
SELECT count(*) AS findings FROM insforge.advise();

-- The JWT key: reported where it was copied, never printed.
INSERT INTO insforge.jwt_secret(key) VALUES ('regress-hs256-secret-0123456789abcdef');
CREATE VIEW public.settings AS SELECT 'regress-hs256-secret-0123456789abcdef'::text AS jwt_key;
SELECT level, name, detail FROM insforge.advise();
SELECT count(*) AS rows_showing_the_key FROM insforge.advise() a
 WHERE a::text LIKE '%regress-hs256-secret-0123456789abcdef%';

-- As project_admin (not a superuser), the service key's role: same findings.
SET ROLE project_admin;
SELECT level, name, detail FROM insforge.advise();
-- Bad input: the advisor is the operator's (PostgREST serves schema insforge, and the
-- findings name the project's tables, policies and settings): a client role may run
-- neither a rule nor advise().
SET ROLE authenticated;
SELECT * FROM insforge.lint_jwt_secret_exposed();
SELECT * FROM insforge.lint_policy_without_role();
SELECT level, name, detail FROM insforge.advise();
RESET ROLE;
DROP VIEW public.settings;

-- InsForge's API pipeline: only sub, email, role, iat and exp reach request.jwt.claims.
-- A policy on an organisation claim (Better Auth's multi-tenant setup) denies every API request:
CREATE TABLE public.docs (id int, org_id text, user_id text DEFAULT requesting_user_id());
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Org members read" ON public.docs FOR SELECT TO authenticated
    USING (org_id = (auth.jwt() ->> 'org_id') OR insforge.has_claim('permissions', 'read:docs'));
CREATE POLICY own ON public.docs FOR UPDATE TO authenticated USING (user_id = requesting_user_id());
SELECT name, level, metadata ->> 'policy' AS policy, metadata -> 'claims' AS claims
  FROM insforge.lint_policy_reads_unforwarded_claim();
-- Better Auth's session table left open in public by its migration (InsForge's default grants):
CREATE TABLE public.session (id text PRIMARY KEY, "expiresAt" timestamptz NOT NULL, token text NOT NULL UNIQUE,
                             "userId" text NOT NULL);
SELECT name, level, detail FROM insforge.lint_better_auth_tables_exposed();
REVOKE ALL ON public.session FROM PUBLIC, anon, authenticated;
SELECT count(*) AS better_auth_findings FROM insforge.lint_better_auth_tables_exposed();
-- Audience validation, which InsForge-minted tokens cannot pass:
SET insforge_integrations.jwt_audience = 'insforge-api';
SELECT name, level, detail FROM insforge.lint_validation_needs_unforwarded_claims();
RESET insforge_integrations.jwt_audience;
SELECT count(*) AS validation_findings FROM insforge.lint_validation_needs_unforwarded_claims();
