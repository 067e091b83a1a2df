-- Comments on the functions pgrx generates from src/sql_jwt.rs and src/sql_x402.rs (pgrx
-- writes no COMMENT from a doc comment), so that \df+ and every catalog browser describe
-- every function of the extension. Kept in the words of the Rust doc comments and the docs.

COMMENT ON FUNCTION insforge.verify_jwt(text, text, text, text) IS
'Returns the claims of a JWT whose signature verifies (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384, EdDSA) with key: an HMAC secret, a PEM public key, a JWK or a JWKS (kid picks the key). Checks exp/nbf with insforge_integrations.jwt_leeway against the transaction start, and audience/issuer when given or configured. Every failed check raises 28000 naming it; a malformed key 22023.';
COMMENT ON FUNCTION insforge.validate_claims(jsonb) IS
'The problems found in the claims under the insforge_integrations.jwt_* settings, in this order: missing_sub, expired, not_yet_valid, audience, issuer, role, provider_mismatch. Empty when none.';
COMMENT ON FUNCTION insforge.claims_valid() IS
'True when the current request has claims and they pass validation (cached per request).';
COMMENT ON FUNCTION insforge.require_valid_claims() IS
'Raises 28000 naming the first problem when the current request has no claims or they fail validation.';
COMMENT ON FUNCTION insforge.auth_provider(jsonb) IS
'The identity provider behind the claims (NULL: the current request''s): clerk, auth0, workos, kinde, stytch, better_auth, insforge, or NULL. A classification by issuer and sub shape, not an authentication.';
COMMENT ON FUNCTION insforge.token_verification_count() IS
'Diagnostic: how many bearer tokens this backend has verified in insforge_integrations.claims_source = verified mode (a per-row policy verifies once per token).';
COMMENT ON FUNCTION insforge.authenticate(text) IS
'For direct connections: verifies the token with the stored key, validates its claims, then for the rest of the transaction sets request.jwt.claims and the role from the role claim (only roles in insforge_integrations.jwt_roles; Postgres''s SET ROLE rules apply), as PostgREST would. Returns the subject. 25P01 outside a transaction block. On a Citus coordinator it also puts the token in request.headers (authorization: Bearer) and sends the claims and headers to the workers, as insforge.pre_request() does.';
COMMENT ON FUNCTION insforge.pre_request() IS
'PostgREST''s db-pre-request for a Citus coordinator (PGRST_DB_PRE_REQUEST=insforge.pre_request): sends the request''s request.jwt.claims and request.headers to the Citus workers for the rest of the transaction (SET LOCAL with citus.propagate_set_commands = local), so that policies on distributed tables see the requesting user. Without Citus, or outside a transaction block, it does nothing.';
COMMENT ON FUNCTION x402.decode_header(text) IS
'Decodes a PAYMENT-SIGNATURE, X-PAYMENT, PAYMENT-REQUIRED or PAYMENT-RESPONSE header value: standard or URL-safe base64, padded or not, of a JSON object. Anything else raises 22023.';
COMMENT ON FUNCTION x402.encode_header(jsonb) IS
'Encodes a JSON object as a header value: standard padded base64 of compact JSON (round-trips with decode_header).';
COMMENT ON FUNCTION x402.domain_separator(text, text, numeric, text) IS
'The EIP-712 domain separator of EIP712Domain(string name,string version,uint256 chainId,address verifyingContract): 32 bytes.';
COMMENT ON FUNCTION x402.checksum_address(text) IS
'The EIP-55 checksummed form of an address; 22023 for a malformed address or a mixed-case one whose checksum is wrong.';
COMMENT ON FUNCTION x402.recover_payer(jsonb, jsonb) IS
'The checksummed address that signed the payment (NULL requirements: the v2 payload''s accepted): EIP-3009 TransferWithAuthorization under the requirements'' EIP-712 domain (high-s signatures refused, 22023, as the token refuses them), or Permit2''s PermitWitnessTransferFrom with the x402 witness (exact; upto when accepted.scheme is upto) on the requirements'' chain (high s accepted, as Permit2''s ecrecover accepts it). v 27/28 or 0/1.';
COMMENT ON FUNCTION x402.verify_payment(jsonb, jsonb, timestamptz, interval) IS
'Checks a payment against the server''s own requirements as the official x402 SDK''s facilitator /verify does, before any network call: {"isValid", "invalidReason", "invalidMessage", "payer"}, with the SDK''s check order and reason strings, for exact (EIP-3009 or Permit2) and upto (Permit2); validBefore (Permit2: deadline) at least valid_before_margin (6 s) ahead. NULL requirements raise 22023; an x402Version or scheme not implemented, 0A000. Additions the SDK sees only on chain: invalid_exact_evm_payload_eip712_domain_mismatch (x402.assets registers another EIP-712 domain) and invalid_exact_evm_nonce_already_used (the ledger holds the nonce).';
REVOKE ALL ON FUNCTION x402._settlement_facts(jsonb, jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._settlement_facts(jsonb, jsonb, jsonb) IS
'Internal (benchmarks, tests): what record_settlement() derives from a payment and a facilitator''s answer without writing: the payment''s terms and the outcome (settled, broadcast, failed or disputed, with the reasons). 22023 for malformed input, 0A000 for an unknown x402Version or scheme.';
COMMENT ON FUNCTION insforge.act_as(jsonb, text) IS
'Makes the rest of the current transaction run as a client, exactly as PostgREST sets up a request: role from the role claim (default anon), transaction-local request.jwt.claims (with that role) and request.headers (authorization: Bearer <token> when given a token). From claims (taken as given; in claims_source = verified mode they give no identity) or a token (verified with the stored key and validated, like authenticate()). Neither: an anonymous request. Refuses privileged roles and roles that are neither in insforge_integrations.jwt_roles nor held by the caller (42501). Returns the subject. Operators only (42501); 25P01 outside a transaction block.';
REVOKE ALL ON FUNCTION insforge._act_as(jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._act_as(jsonb, text) IS
'Internal (insforge.explain_access(), operators only): insforge.act_as() without the transaction-block requirement, for a switch made inside a subtransaction that is rolled back. Returns the claims it set.';
REVOKE ALL ON FUNCTION insforge._jsonb_layout_bench(text, integer) FROM PUBLIC;
COMMENT ON FUNCTION insforge._jsonb_layout_bench(text, integer) IS
'Internal (benchmarks): the extension''s jsonb reader and writer timed against PostgreSQL''s JsonbIteratorNext and JsonbValueToJsonb on the same document, interleaved: (half, ours_ns, postgres_ns, identical). The document must be an object or array whose numbers are integers (22023 otherwise).';
REVOKE ALL ON FUNCTION x402._authorization(jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._authorization(jsonb, jsonb) IS
'Internal: what a payment authorizes, derived once (insforge_core AuthorizedPayment): x402_version, scheme, transfer_method (eip3009 or permit2), network, chain_id, asset, pay_to, payer, amount (exact) or ceiling (upto), valid_after, valid_before (Permit2: deadline), nonce, nonce_scope (the contract holding the nonce: the token, or Permit2), spender, facilitator, payment_id, digest. 0A000 for an x402Version or scheme not implemented, 22023/22003 for unreadable input; validates nothing else.';
