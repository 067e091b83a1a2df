-- insforge_integrations: claims you can trust: verify_jwt, validate_claims,
-- claims_valid, require_valid_claims, auth_provider, set_jwt_secret, jwt_secret_configured,
-- authenticate, token_verification_count, strict and verified modes.
CREATE EXTENSION insforge_integrations;

-- The tokens were signed with PyJWT. Claims are Clerk-shaped (azp exp iat iss nbf sid sub role aud);
-- exp 4102444800 is 2100-01-01. The project's HS256 secret:
\set secret 'insforge-project-jwt-secret-0123456789abcdef-0123456789abcdef'
-- HS256, signed with the secret.
\set good 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.NZMNmqaCJkW7PgFMKeqiGf6sohW2OtAxRri6kgR3GOs'
-- The same claims with exp 1 (1970), with nbf 4102444000 (2099), with role project_admin.
\set expired 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6MSwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.SlqP1gJVNPGy8CRcjofRPlMwlVXh_0GJPTocAcfPT6Q'
\set early 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjo0MTAyNDQ0MDAwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.p2FcNnbjyJrDO6K2wwgGs01lcx778IMWHqkLjeoVmW4'
\set admin 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6InByb2plY3RfYWRtaW4iLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.RDPdbKSOaFYQoQI4ZcrGofIsQxiw3LeUaA9NMKp4UR4'
-- The same claims signed with another secret, and unsigned (alg none).
\set forged 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.ajFXkEMVWR77Hxpjv6wi58W7ARrrjfDgNpzu1grNh2s'
\set unsigned 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.'
-- A JWKS with one P-256 key (kid k1), an ES256 token with kid k1 and one with kid k9.
\set jwks '{"keys":[{"kty":"EC","crv":"P-256","x":"2Ll-qDhzPoL5u9EmqkrqU7c8sHe9i9SZ7wGdwYMA9O0","y":"YxrXGRr73ca-SivgCW8oymSb18Ppr26JLmEvGtkTSF4","kid":"k1","alg":"ES256","use":"sig"}]}'
\set es256 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.kdvXHBjL1G9enbrShduaHwBVqUkA6ZmMVbtExxR-7OA1qlyF7V0ird9pqcJ4ySDdKF2DI5NxDTQOX-GN1kvLVw'
\set es256_k9 'eyJhbGciOiJFUzI1NiIsImtpZCI6Ims5IiwidHlwIjoiSldUIn0.eyJhenAiOiJodHRwczovL2FwcC5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzYzODAwMDAwLCJpc3MiOiJodHRwczovL2RlbW8uY2xlcmsuYWNjb3VudHMuZGV2IiwibmJmIjoxNzYzNzk5OTkwLCJzaWQiOiJzZXNzXzJ4UG5HOEt4VlFyVDVtWmJOM2FIY0xkRTlmSiIsInN1YiI6InVzZXJfMnhQbkc4S3hWUXJUNW1aYk4zYUhjTGRFOWZKIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJhdWQiOiJpbnNmb3JnZS1hcGkifQ.RTWc7w3oIPlxuUBHVuTN3loLTcu1uHfpEf1FmbGCT3j9mBmntJWYnD2fHJMRBjSXPzUv8zLIJrEthgUMumG_vA'

-- Messages about time say how many seconds ago a token expired, which changes from run to run:
-- this helper prints SQLSTATE and message with those seconds replaced by N.
CREATE FUNCTION pg_temp.attempt(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '(expired|another) [0-9]+ s', '\1 N s');
END $$;

---------------------------------------------------------------------------------------------------
-- verify_jwt(token, key, audience DEFAULT NULL, issuer DEFAULT NULL) returns the claims of a
-- token whose signature verifies; exp and nbf are checked (leeway insforge_integrations.jwt_leeway = 30 s).
SELECT jsonb_pretty(insforge.verify_jwt(:'good', :'secret'));
-- Audience and issuer are checked when given; a comma-separated list is accepted.
SELECT insforge.verify_jwt(:'good', :'secret', 'insforge-api') ->> 'sub' AS sub;
SELECT insforge.verify_jwt(:'good', :'secret', audience => 'other-api, insforge-api',
                           issuer => 'https://demo.clerk.accounts.dev') ->> 'sub' AS sub;
-- A JWKS: the header's kid picks the key.
SELECT insforge.verify_jwt(:'es256', :'jwks') ->> 'sub' AS sub;
-- With insforge_integrations.jwt_audience set, a NULL audience argument falls back to the setting.
SET insforge_integrations.jwt_audience = 'insforge-api';
SELECT insforge.verify_jwt(:'good', :'secret') ->> 'aud' AS aud;
SET insforge_integrations.jwt_audience = 'billing-api';
SELECT insforge.verify_jwt(:'good', :'secret');
RESET insforge_integrations.jwt_audience;

-- Bad input: every failed check raises 28000 (invalid_authorization_specification) naming it.
-- Wrong signature (another secret), alg none, wrong audience, wrong issuer:
SELECT insforge.verify_jwt(:'forged', :'secret');
SELECT insforge.verify_jwt(:'unsigned', :'secret');
SELECT insforge.verify_jwt(:'good', :'secret', 'other-api');
SELECT insforge.verify_jwt(:'good', :'secret', NULL, 'https://evil.example');
-- A kid the JWKS does not have; an HS256 token against an EC key (algorithm confusion):
SELECT insforge.verify_jwt(:'es256_k9', :'jwks');
SELECT insforge.verify_jwt(:'good', :'jwks');
-- Tokens that are not JWS compact serialisations:
SELECT insforge.verify_jwt('not-a-token', :'secret');
SELECT insforge.verify_jwt('', :'secret');
SELECT insforge.verify_jwt('e30.e30.', :'secret');
-- Expired and not yet valid (through attempt(): the seconds change with the clock).
SELECT pg_temp.attempt(format('SELECT insforge.verify_jwt(%L, %L)', :'expired', :'secret')) AS expired;
SELECT pg_temp.attempt(format('SELECT insforge.verify_jwt(%L, %L)', :'early', :'secret')) AS not_yet_valid;
-- A key that looks like a JWK, JWKS or PEM but does not parse raises 22023 (invalid_parameter_value).
SELECT insforge.verify_jwt(:'good', '{"kty":"RSA","n":"x"}');
SELECT insforge.verify_jwt(:'good', '{"keys":[]}');
SELECT insforge.verify_jwt(:'good', E'-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----');
-- The SQLSTATE of each failure above:
SELECT check_name, split_part(pg_temp.attempt(format('SELECT insforge.verify_jwt(%L, %L, %L, %L)',
                                                     tok, key, aud, iss)), ':', 1) AS sqlstate
FROM (VALUES ('signature', :'forged', :'secret', NULL, NULL),
             ('alg none', :'unsigned', :'secret', NULL, NULL),
             ('audience', :'good', :'secret', 'other-api', NULL),
             ('issuer', :'good', :'secret', NULL, 'https://evil.example'),
             ('unknown kid', :'es256_k9', :'jwks', NULL, NULL),
             ('algorithm confusion', :'good', :'jwks', NULL, NULL),
             ('malformed token', 'not-a-token', :'secret', NULL, NULL),
             ('expired', :'expired', :'secret', NULL, NULL),
             ('not yet valid', :'early', :'secret', NULL, NULL),
             ('malformed key', :'good', '{"kty":"RSA","n":"x"}', NULL, NULL),
             ('valid', :'good', :'secret', NULL, NULL)) AS v(check_name, tok, key, aud, iss);
-- A NULL token or key gives NULL without an error, as if the function were STRICT (it is not,
-- because audience and issuer may be NULL). authenticate() and validate_claims() are STRICT.
SELECT pg_temp.attempt(format('SELECT insforge.verify_jwt(NULL, %L)', :'secret')) AS null_token,
       pg_temp.attempt(format('SELECT insforge.verify_jwt(%L, NULL)', :'good')) AS null_key;

---------------------------------------------------------------------------------------------------
-- validate_claims(claims) lists the problems under the insforge_integrations.jwt_* settings, in a fixed order:
-- missing_sub, expired, not_yet_valid, audience, issuer, role, provider_mismatch. Empty: none.
-- With the default settings only sub, exp, nbf and role (insforge_integrations.jwt_roles = anon,authenticated) count.
SELECT c AS claims, insforge.validate_claims(c::jsonb) AS problems
FROM (VALUES ('{"sub":"user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ","role":"authenticated","exp":4102444800}'),
             ('{"sub":"user_1"}'),
             ('{"role":"authenticated"}'),
             ('{"sub":"","role":"authenticated"}'),
             ('{"sub":{"id":1}}'),
             ('{"sub":42}'),
             ('{"sub":"user_1","exp":1}'),
             ('{"sub":"user_1","nbf":4102444800}'),
             ('{"sub":"user_1","role":"project_admin"}'),
             ('{"role":"anon"}'),
             ('{"sub":null,"exp":1,"nbf":4102444800,"role":"service_role"}')) AS v(c);
-- Audience, issuer and provider are checked once configured.
SET insforge_integrations.jwt_audience = 'insforge-api';
SET insforge_integrations.jwt_issuers = 'https://demo.clerk.accounts.dev';
SELECT c AS claims, insforge.validate_claims(c::jsonb) AS problems
FROM (VALUES ('{"sub":"user_1","aud":"insforge-api","iss":"https://demo.clerk.accounts.dev"}'),
             ('{"sub":"user_1","aud":["other","insforge-api"],"iss":"https://demo.clerk.accounts.dev"}'),
             ('{"sub":"user_1","aud":"other-api","iss":"https://demo.clerk.accounts.dev"}'),
             ('{"sub":"user_1","iss":"https://demo.clerk.accounts.dev"}'),
             ('{"sub":"user_1","aud":"insforge-api","iss":"https://evil.example"}'),
             ('{"sub":"user_1","aud":"insforge-api"}')) AS v(c);
RESET insforge_integrations.jwt_issuers;
SET insforge_integrations.jwt_providers = 'clerk';
SELECT c AS claims, insforge.validate_claims(c::jsonb) AS problems
FROM (VALUES ('{"sub":"user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ","aud":"insforge-api"}'),
             ('{"sub":"auth0|64b1f0c2e4a7d9b3c5e6f708","aud":"insforge-api"}'),
             ('{"sub":"someone","aud":"insforge-api"}')) AS v(c);
RESET insforge_integrations.jwt_providers;
RESET insforge_integrations.jwt_audience;
-- Bad input: the argument is jsonb, so malformed JSON fails in the cast (22P02); a claim set that is
-- not an object has no sub; NULL gives NULL.
SELECT insforge.validate_claims('{"sub":');
SELECT insforge.validate_claims('[1,2]'), insforge.validate_claims('"user_1"');
SELECT insforge.validate_claims(NULL) IS NULL AS null_claims;

---------------------------------------------------------------------------------------------------
-- claims_valid() and require_valid_claims() judge the current request (request.jwt.claims).
-- No claims: not valid, and require_valid_claims() says so.
SELECT insforge.claims_valid();
SELECT insforge.require_valid_claims();
-- A valid request, as PostgREST sets it.
BEGIN;
SELECT set_config('request.jwt.claims',
  '{"sub":"user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ","role":"authenticated","aud":"insforge-api","exp":4102444800}',
  true) IS NOT NULL AS set;
SELECT insforge.claims_valid();
SELECT insforge.require_valid_claims();
COMMIT;
-- Expired claims: claims_valid() is false, require_valid_claims() names the first problem.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"user_1","role":"authenticated","exp":1}', true) IS NOT NULL AS set;
SELECT insforge.claims_valid(), insforge.validate_claims(insforge.jwt());
SELECT insforge.require_valid_claims();
ROLLBACK;
-- A role outside insforge_integrations.jwt_roles, and no subject.
BEGIN;
SELECT set_config('request.jwt.claims', '{"role":"project_admin"}', true) IS NOT NULL AS set;
SELECT insforge.claims_valid(), insforge.validate_claims(insforge.jwt());
SELECT insforge.require_valid_claims();
ROLLBACK;
-- Malformed claims raise what ::jsonb raises.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":', true) IS NOT NULL AS set;
SELECT insforge.claims_valid();
ROLLBACK;

---------------------------------------------------------------------------------------------------
-- auth_provider(claims DEFAULT NULL): the provider behind a claim set (NULL: the current request's).
-- By the shape of sub, one claim set per provider:
SELECT c AS claims, insforge.auth_provider(c::jsonb) AS provider
FROM (VALUES ('{"sub":"user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ"}'),
             ('{"sub":"auth0|64b1f0c2e4a7d9b3c5e6f708"}'),
             ('{"sub":"google-oauth2|109876543210987654321"}'),
             ('{"sub":"user_01HZX3K5M7N9P1Q3R5S7T9V1W3"}'),
             ('{"sub":"kp_0123456789abcdef0123456789abcdef"}'),
             ('{"sub":"user-test-8b6a1f5e-2c3d-4e5f-9a0b-1c2d3e4f5a6b"}'),
             ('{"sub":"aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"}'),
             ('{"sub":"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}')) AS v(c);
-- The issuer decides first when it names a provider:
SELECT c AS claims, insforge.auth_provider(c::jsonb) AS provider
FROM (VALUES ('{"sub":"u","iss":"https://demo.clerk.accounts.dev"}'),
             ('{"sub":"u","iss":"https://clerk.example.com"}'),
             ('{"sub":"u","iss":"https://acme.eu.auth0.com/"}'),
             ('{"sub":"u","iss":"https://api.workos.com/user_management/client_01"}'),
             ('{"sub":"u","iss":"https://acme.kinde.com"}'),
             ('{"sub":"u","iss":"stytch.com/project-test-0123"}'),
             ('{"sub":"u","iss":"insforge"}'),
             ('{"sub":"user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ","iss":"https://acme.kinde.com"}')) AS v(c);
-- Unknown shapes give NULL; so do no claims.
SELECT insforge.auth_provider('{"sub":"someone"}') AS unknown, insforge.auth_provider('{}') AS empty,
       insforge.auth_provider('[1]') AS not_an_object, insforge.auth_provider() AS no_request;
-- Without an argument: the current request.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"kp_0123456789abcdef0123456789abcdef"}', true) IS NOT NULL AS set;
SELECT insforge.auth_provider();
COMMIT;

---------------------------------------------------------------------------------------------------
-- set_jwt_secret(key) stores the database's verification key (secret, PEM, JWK or JWKS);
-- jwt_secret_configured() says whether there is one and discloses nothing else.
SELECT insforge.jwt_secret_configured();
-- Bad input: a malformed key is refused (22023) and nothing is stored.
SELECT insforge.set_jwt_secret('{"kty":"EC","crv":"P-256","x":"AAAA"}');
SELECT insforge.jwt_secret_configured();
SELECT insforge.set_jwt_secret(:'secret');
SELECT insforge.jwt_secret_configured();
-- Only the operator (project_admin or a superuser) sets it: 42501 for a client; nobody reads it back.
SET ROLE authenticated;
SELECT insforge.jwt_secret_configured();
SELECT insforge.set_jwt_secret('mine');
SELECT key FROM insforge.jwt_secret;
RESET ROLE;
-- It is never a setting.
SELECT count(*) AS settings_holding_the_key FROM pg_settings WHERE setting LIKE '%' || :'secret' || '%';

---------------------------------------------------------------------------------------------------
-- authenticate(token), for direct connections: verifies the token with the stored key, validates
-- its claims, then for the rest of the transaction sets the role and request.jwt.claims as
-- PostgREST would, and returns the subject. Connect as a login role that is a member of the roles.
SET SESSION AUTHORIZATION authenticator;
-- Outside a transaction block it refuses (25P01) instead of changing the session.
SELECT insforge.authenticate(:'good');
SELECT insforge.authenticate(NULL) IS NULL AS null_token;
BEGIN;
SELECT current_user, requesting_user_id();
SELECT insforge.authenticate(:'good') AS subject;
SELECT current_user, requesting_user_id(), insforge.role(), insforge.auth_provider(), insforge.claims_valid();
COMMIT;
-- Role and claims end with the transaction.
SELECT current_user, requesting_user_id();
-- Bad input: a role outside insforge_integrations.jwt_roles, a forged token, an expired token.
BEGIN;
SELECT insforge.authenticate(:'admin');
ROLLBACK;
BEGIN;
SELECT insforge.authenticate(:'forged');
ROLLBACK;
BEGIN;
SELECT pg_temp.attempt(format('SELECT insforge.authenticate(%L)', :'expired')) AS expired;
SELECT current_user, requesting_user_id();
ROLLBACK;
RESET SESSION AUTHORIZATION;

---------------------------------------------------------------------------------------------------
-- Strict mode: requesting_user_id() raises 28000 for claims that fail validation.
-- A superuser setting (in practice ALTER DATABASE ... SET insforge_integrations.strict = on).
SET insforge_integrations.strict = on;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"user_1","role":"authenticated","exp":1}', true) IS NOT NULL AS set;
SELECT requesting_user_id();
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"user_1","role":"project_admin"}', true) IS NOT NULL AS set;
SELECT insforge.requesting_user_id();
ROLLBACK;
-- Valid claims give the subject; anonymous requests (role anon without sub, or no claims) give NULL.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"user_1","role":"authenticated","exp":4102444800}', true) IS NOT NULL AS set;
SELECT requesting_user_id();
SELECT set_config('request.jwt.claims', '{"role":"anon"}', true) IS NOT NULL AS set;
SELECT requesting_user_id() IS NULL AS anonymous;
COMMIT;
SELECT requesting_user_id() IS NULL AS no_claims;
-- Only a superuser can turn it off (or on).
SET ROLE authenticated;
SET insforge_integrations.strict = off;
RESET ROLE;
RESET insforge_integrations.strict;

---------------------------------------------------------------------------------------------------
-- Verified mode: identity comes only from verified tokens: authenticate(), or the bearer token
-- PostgREST puts in request.headers, verified with the stored key once per token.
SET insforge_integrations.claims_source = verified;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"user_3","role":"authenticated","exp":4102444800}', true) IS NOT NULL AS set;
SELECT requesting_user_id() IS NULL AS hand_written_claims_impersonate_nobody;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'good')::text, true) IS NOT NULL AS set;
SELECT insforge.token_verification_count() AS before \gset
SELECT count(*) FROM generate_series(1, 1000) g WHERE requesting_user_id() = 'user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ';
SELECT insforge.token_verification_count() - :before AS verifications_for_1000_rows;
COMMIT;
-- A bearer token that does not verify is refused loudly.
BEGIN;
SELECT set_config('request.headers', json_build_object('authorization', 'Bearer ' || :'forged')::text, true) IS NOT NULL AS set;
SELECT requesting_user_id();
ROLLBACK;
RESET insforge_integrations.claims_source;

-- Removing the key: verification fails closed.
SELECT insforge.set_jwt_secret(NULL);
SELECT insforge.jwt_secret_configured();
BEGIN;
SELECT insforge.authenticate(:'good');
ROLLBACK;
