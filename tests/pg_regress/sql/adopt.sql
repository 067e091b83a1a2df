-- insforge_integrations: public.requesting_user_id(), the name the guides write.
-- A database that already has the guide's SQL helper and policies using it.
CREATE FUNCTION public.requesting_user_id() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub' $$;
CREATE TABLE notes (id int, user_id text DEFAULT requesting_user_id(), body text);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (user_id = requesting_user_id());
CREATE TEMP TABLE before AS SELECT oid AS policy, xmin::text AS version FROM pg_policy;

-- CREATE EXTENSION leaves it alone and says what to do.
CREATE EXTENSION insforge_integrations;
SELECT insforge.native_requesting_user_id_installed();

-- Adopt: same function (same OID), native body; the policy row is not rewritten.
SELECT insforge.adopt_requesting_user_id();
SELECT insforge.native_requesting_user_id_installed();
SELECT count(*) AS unchanged_policies FROM pg_policy p JOIN before b ON b.policy = p.oid AND b.version = p.xmin::text;
SELECT insforge.adopt_requesting_user_id();  -- harmless again

-- Bad input: a helper that means something else is not swapped silently.
SELECT insforge.release_requesting_user_id();
CREATE OR REPLACE FUNCTION public.requesting_user_id() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT current_setting('request.jwt.claims', true)::jsonb ->> 'user_id' $$;
SELECT insforge.adopt_requesting_user_id();
SELECT insforge.adopt_requesting_user_id(force => true);

-- DROP EXTENSION keeps the helper and the policy.
DROP EXTENSION insforge_integrations CASCADE;
SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = 'notes'::regclass;
SELECT set_config('request.jwt.claims', '{"sub":"still_works"}', false) IS NOT NULL AS set;
SELECT requesting_user_id();
