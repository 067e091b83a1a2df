-- Identity and claim accessors. Implemented in src/sql_identity.rs (V1 C functions,
-- cached per request). Every function reads request.jwt.claims exactly as
-- InsForge's auth.jwt() does: nullif(current_setting('request.jwt.claims', true), '')::jsonb.

GRANT USAGE ON SCHEMA insforge TO PUBLIC;

CREATE FUNCTION insforge.jwt() RETURNS jsonb
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_jwt';
COMMENT ON FUNCTION insforge.jwt() IS
'The current request''s claims: nullif(current_setting(''request.jwt.claims'', true), '''')::jsonb, parsed once per distinct value. NULL when unset or empty; malformed JSON raises the jsonb input error (22P02, 22P05).';

CREATE FUNCTION insforge.requesting_user_id() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_requesting_user_id';
COMMENT ON FUNCTION insforge.requesting_user_id() IS
'The requesting user''s id: nullif(insforge.jwt() ->> ''sub'', ''''). Provider ids are text (Clerk user_..., Auth0 auth0|..., InsForge UUIDs). NULL without claims or without a sub.';

CREATE FUNCTION insforge.claim(key text) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_claim';
COMMENT ON FUNCTION insforge.claim(text) IS
'insforge.jwt() ->> key: one top-level claim as text, the key taken literally (namespaced keys such as https://insforge.dev/insforge_token work). NULL when absent or JSON null.';

CREATE FUNCTION insforge.claim_path(VARIADIC path text[]) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_claim_path';
COMMENT ON FUNCTION insforge.claim_path(text[]) IS
'insforge.jwt() #>> path: a nested claim as text, e.g. insforge.claim_path(''org'', ''role''); array elements by index (''permissions'', ''0'').';

CREATE FUNCTION insforge.role() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_role';
COMMENT ON FUNCTION insforge.role() IS
'nullif(insforge.jwt() ->> ''role'', ''''): the role claim PostgREST switches to (anon, authenticated, project_admin).';

CREATE FUNCTION insforge.email() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_email';
COMMENT ON FUNCTION insforge.email() IS
'nullif(insforge.jwt() ->> ''email'', ''''): the email claim, when the token carries one.';

CREATE FUNCTION insforge.has_claim(key text, value text) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_has_claim';
COMMENT ON FUNCTION insforge.has_claim(text, text) IS
'True when the claim equals value (compared as text, like ->>) or is a JSON array with an element equal to value (Auth0 permissions, organisation role lists). False when the claim or the claims are absent.';

CREATE FUNCTION insforge.claims_parse_count() RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'insforge_claims_parse_count';
COMMENT ON FUNCTION insforge.claims_parse_count() IS
'Diagnostic: how many times this backend has parsed request.jwt.claims. It grows once per distinct claims value, not per row or per call.';
