-- insforge_integrations: insforge.explain_access() and insforge.act_as().
-- Why does a user see, or may change, what it does? One row per check: the request, the
-- table's RLS, the privilege, each policy (its USING / WITH CHECK result, the claims it
-- read), and the verdict. Everything here runs as project_admin, as InsForge runs a
-- project's SQL; the policy code runs as the client, in a subtransaction rolled back.
CREATE EXTENSION insforge_integrations;
SET ROLE project_admin;
SELECT pg_get_function_identity_arguments('insforge.explain_access'::regproc),
       pg_get_function_result('insforge.explain_access'::regproc);

-- The notes table every guide builds: a text owner column defaulting to the requester.
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
CREATE POLICY "Users update own notes" ON public.notes FOR UPDATE TO authenticated
    USING (user_id = requesting_user_id()) WITH CHECK (user_id = requesting_user_id());
CREATE POLICY "Users delete own notes" ON public.notes FOR DELETE TO authenticated
    USING (user_id = requesting_user_id());
INSERT INTO public.notes (user_id, body) VALUES
    ('user_1', 'first'), ('user_1', 'second'), ('kp_c3143a4b50ad43c88e541d9077681782', 'third');

-- 1. Owner policies. Without a row: how many rows each policy admits.
SELECT kind, name, applies, result, rows, claims_read, detail
  FROM insforge.explain_access('notes', '{"sub": "user_2", "role": "authenticated"}');
-- One row, by its primary key: each check's result, and the reason.
SELECT kind, name, result, detail
  FROM insforge.explain_access('notes', '{"sub": "user_2", "role": "authenticated"}', row_key => '{"id": 1}')
 WHERE applies IS NOT false;
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('notes', '{"sub": "user_1", "role": "authenticated"}')
 WHERE kind IN ('USING', 'verdict');
-- INSERT: the default fills in the requester, and a forged owner is refused.
SELECT kind, name, result, detail
  FROM insforge.explain_access('notes', '{"sub": "user_1", "role": "authenticated"}', 'INSERT',
                               new_row => '{"body": "mine"}')
 WHERE applies IS NOT false;
SELECT kind, name, result, detail
  FROM insforge.explain_access('notes', '{"sub": "user_1", "role": "authenticated"}', 'INSERT',
                               new_row => '{"body": "forged", "user_id": "user_2"}')
 WHERE kind = 'verdict';
-- UPDATE: the row's USING, the new row's WITH CHECK, and the SELECT policy for both (a
-- PATCH with a filter reads the row).
SELECT kind, name, result, detail
  FROM insforge.explain_access('notes', '{"sub": "user_1", "role": "authenticated"}', 'UPDATE',
                               row_key => '{"id": 1}', new_row => '{"user_id": "user_2"}')
 WHERE applies IS NOT false;
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('notes', '{"sub": "user_2", "role": "authenticated"}', 'DELETE')
 WHERE kind = 'verdict';

-- 2. anon without a token, and the service key's role (BYPASSRLS).
SELECT kind, name, applies, result, rows, detail FROM insforge.explain_access('notes');
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('notes', '{"role": "project_admin"}')
 WHERE kind IN ('table', 'verdict');

-- 3. Organisation membership through a table with its own RLS: the membership table is
-- read as the client, under its policy.
CREATE TABLE public.org_members (org_id text, user_id text, role text, PRIMARY KEY (org_id, user_id));
ALTER TABLE public.org_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Members see own memberships" ON public.org_members FOR SELECT TO authenticated
    USING (user_id = requesting_user_id());
CREATE TABLE public.projects (id int PRIMARY KEY, org_id text NOT NULL, name text);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Org members read projects" ON public.projects FOR SELECT TO authenticated
    USING (org_id IN (SELECT m.org_id FROM public.org_members m WHERE m.user_id = requesting_user_id()));
INSERT INTO public.org_members VALUES ('acme', 'user_1', 'admin'), ('globex', 'user_2', 'member');
INSERT INTO public.projects VALUES (1, 'acme', 'rocket'), (2, 'acme', 'anvil'), (3, 'globex', 'dome');
SELECT kind, name, result, rows, claims_read, detail
  FROM insforge.explain_access('projects', '{"sub": "user_2", "role": "authenticated"}')
 WHERE kind IN ('USING', 'verdict');
SELECT kind, name, result, detail
  FROM insforge.explain_access('projects', '{"sub": "user_2", "role": "authenticated"}', row_key => '{"id": 1}')
 WHERE kind = 'verdict';

-- 4. Better Auth: its tables in schema better_auth, not granted to clients; the app's rows
-- owned by the Better Auth user id. A policy that reads better_auth.member fails for every
-- client until the client may read it.
CREATE SCHEMA better_auth;
CREATE TABLE better_auth.member (id text PRIMARY KEY, "organizationId" text, "userId" text);
REVOKE ALL ON better_auth.member FROM anon, authenticated;
INSERT INTO better_auth.member VALUES ('m1', 'acme', 'x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu');
CREATE TABLE public.todos (id int PRIMARY KEY, user_id text NOT NULL DEFAULT requesting_user_id(), org_id text, title text);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Own todos" ON public.todos FOR ALL TO authenticated
    USING (user_id = requesting_user_id()) WITH CHECK (user_id = requesting_user_id());
INSERT INTO public.todos VALUES (1, 'x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu', 'acme', 'mine'), (2, 'user_1', 'acme', 'theirs');
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('todos', '{"sub": "x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu", "role": "authenticated"}')
 WHERE kind IN ('USING', 'verdict');
CREATE POLICY "Org todos" ON public.todos FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM better_auth.member m
                    WHERE m."organizationId" = todos.org_id AND m."userId" = requesting_user_id()));
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('todos', '{"sub": "x3Jp0TqV8mKf2LwZ9rYb7nHc4dGs1aEu", "role": "authenticated"}')
 WHERE kind IN ('USING', 'verdict');
DROP POLICY "Org todos" ON public.todos;

-- 5. Nested and namespaced claims (direct connections keep the whole token), and a
-- restrictive policy.
CREATE TABLE public.docs (id int PRIMARY KEY, tenant text NOT NULL, title text, archived boolean NOT NULL DEFAULT false);
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Tenant reads docs" ON public.docs FOR SELECT TO authenticated
    USING (tenant = insforge.claim_path('app_metadata', 'tenant'));
CREATE POLICY "Auth0 admins read docs" ON public.docs FOR SELECT TO authenticated
    USING ((auth.jwt() ->> 'https://insforge.dev/role') = 'admin');
CREATE POLICY "Archived docs are hidden" ON public.docs AS RESTRICTIVE FOR SELECT TO authenticated
    USING (NOT archived);
INSERT INTO public.docs VALUES (1, 't1', 'plan', false), (2, 't1', 'old plan', true), (3, 't2', 'memo', false);
SELECT kind, name, result, rows, claims_read, detail
  FROM insforge.explain_access('docs', '{"sub": "auth0|64b1f0c2e4a7d9b3c5e6f708", "role": "authenticated",
                                         "app_metadata": {"tenant": "t1"}}')
 WHERE kind IN ('USING', 'verdict');
SELECT kind, name, result, detail
  FROM insforge.explain_access('docs', '{"sub": "auth0|64b1f0c2e4a7d9b3c5e6f708", "role": "authenticated",
                                         "app_metadata": {"tenant": "t1"}}', row_key => '{"id": 2}')
 WHERE kind IN ('USING', 'verdict');
SELECT kind, name, result, rows, claims_read, detail
  FROM insforge.explain_access('docs', '{"sub": "auth0|64b1f0c2e4a7d9b3c5e6f708", "role": "authenticated",
                                         "https://insforge.dev/role": "admin"}')
 WHERE kind IN ('USING', 'verdict');

-- 6. A policy written for InsForge's own (uuid) users, read by a Clerk user: an error.
CREATE TABLE public.posts (id int PRIMARY KEY, user_id uuid, body text);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read own posts" ON public.posts FOR SELECT TO authenticated USING (user_id = auth.uid());
INSERT INTO public.posts VALUES (1, '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', 'hello');
SELECT kind, name, result, detail
  FROM insforge.explain_access('posts', '{"sub": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "role": "authenticated"}')
 WHERE kind IN ('USING', 'verdict');

-- 7. The table owner, and FORCE ROW LEVEL SECURITY. (A superuser makes app_owner a role
-- tokens may take on.)
RESET ROLE;
CREATE ROLE regress_app_owner NOLOGIN;
SET insforge_integrations.jwt_roles = 'anon,authenticated,regress_app_owner';
CREATE TABLE public.ledger (id int PRIMARY KEY, who text);
INSERT INTO public.ledger VALUES (1, 'someone');
ALTER TABLE public.ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON public.ledger USING (who = requesting_user_id());
ALTER TABLE public.ledger OWNER TO regress_app_owner;
GRANT SELECT ON public.ledger TO project_admin;
SET ROLE project_admin;
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('ledger', '{"sub": "me", "role": "regress_app_owner"}')
 WHERE kind IN ('table', 'verdict');
RESET ROLE;
ALTER TABLE public.ledger FORCE ROW LEVEL SECURITY;
SET ROLE project_admin;
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('ledger', '{"sub": "me", "role": "regress_app_owner"}')
 WHERE kind IN ('table', 'USING', 'verdict');

-- 8. A role without the table privilege.
REVOKE ALL ON public.notes FROM anon;
SELECT kind, name, result, detail FROM insforge.explain_access('notes')
 WHERE kind IN ('privilege', 'verdict');

-- 9. A token, verified with the stored key; and verified mode, where claims given by hand
-- give no identity.
SELECT insforge.set_jwt_secret('regress-explain-jwt-secret-0123456789abcdef-0123456789');
INSERT INTO public.notes (user_id, body) VALUES ('user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ', 'clerk note');
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('notes', token => 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInJvbGUiOiJhdXRoZW50aWNhdGVkIiwiZXhwIjo0MTAyNDQ0ODAwfQ.594s-1MBwHF3QHolaVvsme4k8A51GfdiYPD0UOS0EMA')
 WHERE kind IN ('request', 'verdict');
RESET ROLE;
SET insforge_integrations.claims_source = verified;
SET ROLE project_admin;
SELECT kind, name, result, rows, detail
  FROM insforge.explain_access('notes', '{"sub": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ", "role": "authenticated"}')
 WHERE kind IN ('request', 'verdict');
RESET ROLE;
RESET insforge_integrations.claims_source;
SET ROLE project_admin;

-- 10. act_as(): the rest of the transaction as the client, as PostgREST sets a request up.
BEGIN;
SELECT insforge.act_as('{"sub": "user_1", "role": "authenticated"}');
SELECT current_user, current_setting('request.jwt.claims') AS claims, current_setting('request.headers') AS headers;
SELECT id, user_id, body FROM public.notes ORDER BY id;
INSERT INTO public.notes (body) VALUES ('inserted as user_1') RETURNING user_id;
ROLLBACK;
SELECT current_user, current_setting('request.jwt.claims', true) AS claims;
BEGIN;
SELECT insforge.act_as();
SELECT current_user, count(*) FROM public.todos;
ROLLBACK;

-- 11. Bad input: the extension's SQLSTATEs, nothing changed. act_as() outside a transaction
-- block (its settings would end with the statement):
SELECT insforge.act_as('{"sub": "user_1", "role": "authenticated"}');
-- (try() prints SQLSTATE: message.)
RESET ROLE;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SET ROLE project_admin;
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('nope')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', command => 'MERGE')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{"role": "nobody"}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{"role": "postgres"}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{"role": "authenticator"}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '["not", "an", "object"]')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{"role": 1}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{not json')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{}', row_key => '{"no_such_column": 1}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{}', row_key => '{"user_id": "user_1"}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{}', 'INSERT', row_key => '{"id": 1}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', '{}', 'DELETE', new_row => '{"body": "x"}')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes', token => 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInJvbGUiOiJhdXRoZW50aWNhdGVkIiwiZXhwIjo0MTAyNDQ0ODAwfQ.pLoQhZNsnz6f59xtvA3PnHJG7Py9Hm3fxKK5oI2bpCc')$$);
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('pg_stat_activity')$$);
SET ROLE authenticated;
SELECT pg_temp.try($$SELECT * FROM insforge.explain_access('notes')$$);
SELECT pg_temp.try($$SELECT insforge.act_as()$$);
RESET ROLE;
SELECT count(*) AS notes, (SELECT count(*) FROM pg_class WHERE relname LIKE 'insforge_explain%') AS temporary_views
  FROM public.notes;

-- 12. The advisor in InsForge's row shape (its scan runs SELECT * FROM
-- insforge.advise_insforge() as one more rule query), and InsForge's suppressions.
SELECT pg_get_function_result('insforge.advise_insforge()'::regprocedure);
SELECT affected_object, rule_id, severity, category, title FROM insforge.advise_insforge();
CREATE SCHEMA system;
CREATE TABLE system.advisor_suppressions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rule_id text NOT NULL,
  affected_object text,
  scope text NOT NULL DEFAULT 'instance' CHECK (scope IN ('instance', 'rule')),
  reason text NOT NULL CHECK (reason IN ('false_positive', 'accepted_risk', 'wont_fix', 'other')),
  note text, created_by text, created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT advisor_suppressions_scope_object_ck CHECK (
    (scope = 'rule' AND affected_object IS NULL) OR (scope = 'instance' AND affected_object IS NOT NULL)));
GRANT USAGE ON SCHEMA system TO project_admin;
GRANT SELECT ON system.advisor_suppressions TO project_admin;
INSERT INTO system.advisor_suppressions (rule_id, affected_object, scope, reason)
VALUES ('auth_uid_in_policy', 'public.posts (Users read own posts)', 'instance', 'accepted_risk');
SET ROLE project_admin;
SELECT name, insforge.advisor_affected_object(metadata, cache_key) AS affected_object FROM insforge.advise();
SELECT count(*) AS still_reported_to_insforge FROM insforge.advise_insforge() WHERE rule_id = 'auth_uid_in_policy';
RESET ROLE;
DROP TABLE public.ledger;
DROP ROLE regress_app_owner;
