-- insforge_integrations: identity and claim accessors.
-- Each request's claims arrive in request.jwt.claims (PostgREST sets it per transaction).
CREATE EXTENSION insforge_integrations;

-- No claims: every accessor is NULL (has_claim is false).
SELECT insforge.jwt(), insforge.requesting_user_id(), requesting_user_id(),
       insforge.role(), insforge.email(), insforge.claim('sub'), insforge.has_claim('role', 'anon');

-- A Clerk-shaped request, as PostgREST sets it.
BEGIN;
SELECT set_config('request.jwt.claims',
  '{"sub":"user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ","role":"authenticated","aud":"insforge-api",'
  '"iss":"https://demo.clerk.accounts.dev","azp":"https://app.example.com","sid":"sess_1",'
  '"email":"ada@example.com","exp":4102444800}', true) IS NOT NULL AS set;
SELECT insforge.requesting_user_id(), requesting_user_id(), insforge.role(), insforge.email();
SELECT insforge.jwt() ->> 'iss' AS iss, insforge.claim('azp') AS azp, insforge.claim('exp') AS exp;
COMMIT;

-- Claims end with the transaction: the next request starts with none.
SELECT requesting_user_id() IS NULL AS no_identity_after_commit;

-- Auth0: namespaced claims are read literally; permission lists with has_claim().
BEGIN;
SELECT set_config('request.jwt.claims',
  '{"sub":"auth0|64b1f0c2e4a7d9b3c5e6f708","https://insforge.dev/insforge_token":"eyJhbGciOi...",'
  '"permissions":["read:notes","write:notes"],"org":{"id":"org_1","roles":["admin","member"]}}', true) IS NOT NULL AS set;
SELECT insforge.claim('https://insforge.dev/insforge_token') AS namespaced;
SELECT insforge.has_claim('permissions', 'write:notes') AS can_write,
       insforge.has_claim('permissions', 'delete:notes') AS can_delete,
       insforge.has_claim('sub', 'auth0|64b1f0c2e4a7d9b3c5e6f708') AS scalar_equal;
SELECT insforge.claim_path('org', 'id') AS org, insforge.claim_path('org', 'roles', '0') AS first_role,
       insforge.claim_path(VARIADIC ARRAY['org', 'roles', '1']) AS second_role;
SELECT insforge.claim('org') AS object_as_text, insforge.claim('missing') AS missing;
COMMIT;

-- Subjects are text exactly as ->> gives them: numbers keep their JSON spelling,
-- an empty sub is no subject at all.
SELECT set_config('request.jwt.claims', '{"sub":123}', false) IS NOT NULL AS set;
SELECT requesting_user_id();
SELECT set_config('request.jwt.claims', '{"sub":1.50}', false) IS NOT NULL AS set;
SELECT requesting_user_id();
SELECT set_config('request.jwt.claims', '{"sub":""}', false) IS NOT NULL AS set;
SELECT requesting_user_id() IS NULL AS empty_sub_is_null;
SELECT set_config('request.jwt.claims', '{"sub":"a","sub":"b"}', false) IS NOT NULL AS set;
SELECT requesting_user_id() AS last_duplicate_wins;
SELECT set_config('request.jwt.claims', '[1,2]', false) IS NOT NULL AS set;
SELECT insforge.jwt(), requesting_user_id(), insforge.claim_path('0');

-- Bad input: malformed claims raise exactly what ::jsonb raises.
SELECT set_config('request.jwt.claims', '{"sub":"user_1"', false) IS NOT NULL AS set;
SELECT requesting_user_id();
SELECT insforge.jwt();
SELECT set_config('request.jwt.claims', '{"sub":"a\u0000b"}', false) IS NOT NULL AS set;
SELECT insforge.claim('sub');
RESET request.jwt.claims;
SELECT requesting_user_id() IS NULL AS reset_clears;

-- NULL arguments: the accessors are STRICT.
SELECT insforge.claim(NULL), insforge.has_claim(NULL, 'x'), insforge.claim_path(VARIADIC NULL::text[]);

-- Per-row use in a policy parses the claims once per distinct value.
SELECT set_config('request.jwt.claims', '{"sub":"user_7"}', false) IS NOT NULL AS set;
SELECT insforge.claims_parse_count() AS before \gset
SELECT count(*) FROM generate_series(1, 10000) g WHERE 'user_' || (g % 10) = requesting_user_id();
SELECT insforge.claims_parse_count() - :before AS parses_for_10000_rows;

-- insforge.pre_request(): PostgREST's db-pre-request for Citus (docs/citus.md). It sends the
-- request's claims and headers to the Citus workers; without Citus it does nothing, and the
-- claims stay as PostgREST set them.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"user_9","role":"authenticated"}', true) IS NOT NULL AS set;
SELECT insforge.pre_request();
SELECT requesting_user_id(), current_setting('citus.propagate_set_commands', true) AS citus_setting;
COMMIT;
-- Bad input: malformed claims are not its business (as with set_config); the accessors raise.
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":', true) IS NOT NULL AS set;
SELECT insforge.pre_request();
SELECT requesting_user_id();
ROLLBACK;
