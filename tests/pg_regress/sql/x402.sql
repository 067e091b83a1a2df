-- insforge_integrations: x402 settlement records (schema x402).
-- Header codecs, EIP-712 hashing, EIP-3009 payer recovery, facilitator-style verification,
-- and the ledger that records every settled payment exactly once. Every output below is
-- deterministic: signatures are fixed vectors, verification times are given explicitly, and
-- ledger rows are shown without their random id and created_at.
CREATE EXTENSION insforge_integrations;
\set SHOW_CONTEXT never

-- The x402 v2 specification's example payment: 0.01 USDC on Base Sepolia.
\set spec_req '{"scheme":"exact","network":"eip155:84532","amount":"10000","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":60,"extra":{"name":"USDC","version":"2"}}'
\set spec_auth '{"from":"0x857b06519E91e3A54538791bDbb0E22373e36b66","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"10000","validAfter":"1740672089","validBefore":"1740672154","nonce":"0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"}'
\set spec_sig '0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c'
SELECT jsonb_build_object('x402Version', 2, 'accepted', :'spec_req'::jsonb,
                          'payload', jsonb_build_object('signature', :'spec_sig', 'authorization', :'spec_auth'::jsonb))
       AS spec_payload \gset
-- 1 USDG on X Layer, signed with eth-account by the well-known test key
-- 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 (address 0xf39F...2266),
-- valid from 2025-11-22 08:26:40 UTC for one hour.
\set usdg_req '{"scheme":"exact","network":"eip155:196","amount":"1000000","asset":"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"Global Dollar","version":"1"}}'
\set usdg_payload '{"x402Version":2,"accepted":{"scheme":"exact","network":"eip155:196","amount":"1000000","asset":"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"Global Dollar","version":"1"}},"payload":{"signature":"0x7270385c522e6daca710c202171bef4bb403957f542f4c78bf1e7196b0ae21a363654ed6332f473c79115c19f711c5da50cf6d734d53733ff46efe84a4e8ad161b","authorization":{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"1000000","validAfter":"1763800000","validBefore":"1763803600","nonce":"0x6d25ea5c0cf695a5ccdc870b97f2cdf1fced28a7fffd52c4be9ee41b13713a2e"}}}'
-- The facilitator's PAYMENT-RESPONSE header for it, as the server receives it.
\set usdg_response_header 'eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4MGVhYzhkNTUxZjc2Y2IwMjljMzA4YWJkM2Q0ZWM3MjE3YTZlMTJiN2Q5MGY2ZjE5ZmVmMzkxODBlNGZkYjMyNCIsIm5ldHdvcmsiOiJlaXAxNTU6MTk2IiwicGF5ZXIiOiIweGYzOUZkNmU1MWFhZDg4RjZGNGNlNmFCODgyNzI3OWNmZkZiOTIyNjYifQ=='

--------------------------------------------------------------------------------------------
-- x402.decode_header(text) -> jsonb: PAYMENT-SIGNATURE, X-PAYMENT, PAYMENT-REQUIRED,
-- PAYMENT-RESPONSE values; standard or URL-safe base64, padded or not, of a JSON object.
SELECT x402.decode_header(:'usdg_response_header');
SELECT x402.decode_header(rtrim(:'usdg_response_header', '=')) = x402.decode_header(:'usdg_response_header')
       AS unpadded_same;
-- URL-safe alphabet ('-' and '_' instead of '+' and '/'):
SELECT x402.encode_header('{"q":"?>?>"}') AS standard,
       x402.decode_header(translate(x402.encode_header('{"q":"?>?>"}'), '+/', '-_')) AS url_safe_decoded;
SELECT x402.decode_header(NULL) IS NULL AS strict;
-- Bad input: not base64, base64 of something that is not a JSON object, empty. All 22023.
SELECT x402.decode_header('%%%');
SELECT x402.decode_header('WzEsMl0=');  -- [1,2]
SELECT x402.decode_header('NDI=');      -- 42
SELECT x402.decode_header('e25vcGU=');  -- {nope
SELECT x402.decode_header('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------------------------
-- x402.encode_header(jsonb) -> text: standard padded base64 of compact JSON.
SELECT x402.encode_header('{"success": true, "transaction": "0x0eac8d551f76cb029c308abd3d4ec7217a6e12b7d90f6f19fef39180e4fdb324", "network": "eip155:196", "payer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}')
       AS payment_response;
SELECT x402.decode_header(x402.encode_header(:'usdg_payload')) = :'usdg_payload'::jsonb AS round_trip;
-- Bad input: only objects are header values (22023).
SELECT x402.encode_header('[1]');
SELECT x402.encode_header('"text"');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------------------------
-- x402.domain_separator(name, version, chain_id, verifying_contract) -> bytea (32 bytes):
-- EIP712Domain(string name,string version,uint256 chainId,address verifyingContract).
-- USDG on X Layer: the value the token contract itself returns from DOMAIN_SEPARATOR().
SELECT '0x' || encode(x402.domain_separator('Global Dollar', '1', 196, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8'), 'hex')
       AS usdg_xlayer;
-- USDC on Base Sepolia (the spec's asset); the contract address may be checksummed.
SELECT '0x' || encode(x402.domain_separator('USDC', '2', 84532, '0x036CbD53842c5426634e7929541eC2318f3dCF7e'), 'hex')
       AS usdc_base_sepolia;
-- A wrong name gives another domain, hence another signer (the facilitator's "Invalid Authority").
SELECT x402.domain_separator('USDG', '1', 196, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8')
       = x402.domain_separator('Global Dollar', '1', 196, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8') AS same;
-- chain_id is a uint256: 196.0 is 196; negative or fractional ids and bad addresses are refused.
SELECT x402.domain_separator('Global Dollar', '1', 196.0, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8')
       = x402.domain_separator('Global Dollar', '1', 196, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8') AS same;
SELECT x402.domain_separator('Global Dollar', '1', -1, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8');
SELECT x402.domain_separator('Global Dollar', '1', 1.5, '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8');
SELECT x402.domain_separator('Global Dollar', '1', 196, '0x12');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------------------------
-- x402.checksum_address(text) -> text: EIP-55 (vectors from the EIP).
SELECT x402.checksum_address('0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed') AS from_lower,
       x402.checksum_address('0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED') AS from_upper,
       x402.checksum_address('0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359') AS already_checksummed;
-- Bad input (22023): a mixed-case address whose checksum is wrong (one letter changed case),
-- too short, no 0x and too long, not hex.
SELECT x402.checksum_address('0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed');
SELECT x402.checksum_address('0x12');
SELECT x402.checksum_address('5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00');
SELECT x402.checksum_address('0xzzeb6053f3e94c9b9a09f33669435e7ef1beaed');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------------------------
-- x402.recover_payer(payload jsonb, requirements jsonb DEFAULT NULL) -> text: who signed the
-- EIP-3009 TransferWithAuthorization. The spec vector recovers to authorization.from:
SELECT x402.recover_payer(:'spec_payload') AS payer;
SELECT x402.recover_payer(:'spec_payload', :'spec_req') AS payer;
SELECT x402.recover_payer(:'usdg_payload') AS payer;
-- Under another EIP-712 domain name the same signature recovers to some other address.
SELECT x402.recover_payer(:'spec_payload', jsonb_set(:'spec_req', '{extra,name}', '"USD Coin"')) AS not_the_payer;
-- v may be 0/1 instead of 27/28: the same signer.
SELECT x402.recover_payer(jsonb_set(:'spec_payload', '{payload,signature}',
       '"0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b5701"'))
       AS payer_v_0_1;
-- Bad input (22023): the malleable twin of the spec signature (s' = n - s, v flipped: high s),
-- a truncated signature, no signature, not an object.
SELECT x402.recover_payer(jsonb_set(:'spec_payload', '{payload,signature}',
       '"0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a12832597641736f75d319b699bd1c88292572440a7c914fd99d3b7107defddd294fbf92121b5ea1b"'));
SELECT x402.recover_payer(jsonb_set(:'spec_payload', '{payload,signature}', '"0x12"'));
SELECT x402.recover_payer(:'spec_payload'::jsonb #- '{payload,signature}');
SELECT x402.recover_payer('[1]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A v1 payload carries no requirements: they must be given.
SELECT x402.recover_payer('{"x402Version":1,"scheme":"exact","network":"eip155:84532","payload":{}}');

--------------------------------------------------------------------------------------------
-- x402.verify_payment(payload, requirements, at DEFAULT now(),
-- valid_before_margin DEFAULT '6 seconds') -> jsonb: the official x402 SDK's facilitator /verify
-- before any network call (same verdicts, check order and reason codes), against the server's
-- own requirements. Here `at` is fixed, inside the spec payment's window [1740672089, 1740672154).
SELECT x402.verify_payment(:'spec_payload', :'spec_req', to_timestamp(1740672100));
SELECT x402.verify_payment(:'usdg_payload', :'usdg_req', to_timestamp(1763800100));
-- Without the server's requirements there is nothing to verify against (the payload's own
-- accepted says whatever the client wants): 22023.
SELECT x402.verify_payment(:'spec_payload', NULL, to_timestamp(1740672100));
SELECT x402.verify_payment(:'spec_payload');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- An x402Version or a scheme the extension does not implement: 0A000, not a verdict.
SELECT x402.verify_payment(jsonb_set(:'spec_payload', '{x402Version}', '7'), :'spec_req', to_timestamp(1740672100));
SELECT x402.verify_payment(:'spec_payload', jsonb_set(:'spec_req', '{scheme}', '"deferred"'), to_timestamp(1740672100));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Each failure is a verdict, not an error: the first failing check in the SDK's order is
-- reported (recipient, value, validBefore, validAfter, signature). payer is known from the
-- signature check on.
\x on
SELECT c.case, v ->> 'isValid' AS valid, v ->> 'invalidReason' AS reason, v ->> 'invalidMessage' AS message,
       v ->> 'payer' AS payer
  FROM (VALUES
    (1, 'too early',           :'spec_payload'::jsonb, :'spec_req'::jsonb, to_timestamp(1740672088)),
    (2, 'expired',             :'spec_payload', :'spec_req', to_timestamp(1740672154)),
    (3, 'expires within 6 s',  :'spec_payload', :'spec_req', to_timestamp(1740672149)),
    (4, 'other payTo',         :'spec_payload', jsonb_set(:'spec_req', '{payTo}', '"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"'), to_timestamp(1740672100)),
    (5, 'other amount',        :'spec_payload', jsonb_set(:'spec_req', '{amount}', '"20000"'), to_timestamp(1740672100)),
    (6, 'wrong EIP-712 name',  :'spec_payload', jsonb_set(:'spec_req', '{extra,name}', '"USD Coin"'), to_timestamp(1740672100)),
    (7, 'other network',       :'spec_payload', jsonb_set(:'spec_req', '{network}', '"eip155:8453"'), to_timestamp(1740672100)),
    (8, 'other scheme',        :'spec_payload', jsonb_set(:'spec_req', '{scheme}', '"upto"'), to_timestamp(1740672100)),
    (9, 'forged from',         jsonb_set(:'spec_payload', '{payload,authorization,from}', '"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"'), :'spec_req', to_timestamp(1740672100)),
    (10, 'v1 shape, v2 version', jsonb_set(:'spec_payload'::jsonb - 'accepted', '{scheme}', '"exact"'), :'spec_req', to_timestamp(1740672100)),
    (11, 'no asset',           :'spec_payload', :'spec_req'::jsonb - 'asset', to_timestamp(1740672100)),
    (12, 'payload not object', '[1]', :'spec_req', to_timestamp(1740672100)),
    (13, 'no EIP-712 domain',  :'spec_payload', :'spec_req'::jsonb - 'extra', to_timestamp(1740672100)),
    (14, '64-byte signature',  jsonb_set(:'spec_payload', '{payload,signature}', to_jsonb(left(:'spec_sig', 130))), :'spec_req', to_timestamp(1740672100)),
    (15, 'signature v 29',     jsonb_set(:'spec_payload', '{payload,signature}', to_jsonb(left(:'spec_sig', 130) || '1d')), :'spec_req', to_timestamp(1740672100)),
    (16, 'no signature',       :'spec_payload'::jsonb #- '{payload,signature}', :'spec_req', to_timestamp(1740672100)),
    (17, 'legacy network name', jsonb_set(:'spec_payload', '{accepted,network}', '"base-sepolia"'), :'spec_req', to_timestamp(1740672100)),
    -- Requirements declaring USDG's EIP-712 name as "USDG" (x402.assets: "Global Dollar"),
    -- signed over that name: the signature recovers, the token contract would refuse it.
    (18, 'domain not the registered one',
         jsonb_set(jsonb_set(jsonb_set(:'usdg_payload', '{accepted,extra,name}', '"USDG"'),
                             '{payload,authorization,nonce}', to_jsonb('0x' || repeat('0d', 32))),
                   '{payload,signature}', '"0x5514e1071e880c33a18babd4b58eb92add8d567595878c66ec463e707c43733c65bb789db225974cb7e3b4c0b0354f20faef90b28e8b76cdd1fde46a1c8e321d1c"'),
         jsonb_set(:'usdg_req', '{extra,name}', '"USDG"'), to_timestamp(1763800100))
  ) AS c(n, "case", p, r, at),
  LATERAL (SELECT x402.verify_payment(c.p, c.r, c.at) AS v) x
 ORDER BY c.n;
\x off
-- valid_before_margin: the SDK refuses an authorization that expires within 6 seconds (it would
-- expire before its settlement lands). '1 second' is the token contract's own rule (at < validBefore).
SELECT extract(epoch FROM m)::int AS margin_seconds,
       x402.verify_payment(:'spec_payload', :'spec_req', to_timestamp(1740672149), m) ->> 'isValid' AS valid
  FROM unnest(ARRAY[interval '6 seconds', interval '5 seconds', interval '1 second', interval '1 minute']) m;
-- Bad input: a negative margin (22023).
SELECT x402.verify_payment(:'spec_payload', :'spec_req', to_timestamp(1740672100), interval '-1 second');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------------------------
-- Permit2: x402 `exact` settled through Permit2 (payload.permit2Authorization: a Permit2
-- PermitWitnessTransferFrom to the x402 exact proxy, witness {to, validAfter}) and `upto`
-- (to the upto proxy, witness {to, facilitator, validAfter}: the signed amount is a ceiling).
-- 0.01 USDC on Base Sepolia, signed with eth-account exactly as the official SDK's client signs
-- (tools/x402_permit2.py worked_vector; key keccak("x402-permit2/payer"), address 0x0473…90C1).
\set p2_req '{"scheme":"exact","network":"eip155:84532","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","amount":"10000","payTo":"0xED3D13dDaba4aA8104E649ac940Dfee495cB299e","maxTimeoutSeconds":300,"extra":{"name":"USDC","version":"2","assetTransferMethod":"permit2"}}'
\set p2_auth '{"from":"0x0473Ce1B2410916e66831b35f8ce772dE2eA90C1","permitted":{"token":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","amount":"10000"},"spender":"0x402085c248EeA27D92E8b30b2C58ed07f9E20001","nonce":"17271509876904230898195603904827850891173620991802167303217006144908805997986","deadline":"1763800300","witness":{"to":"0xED3D13dDaba4aA8104E649ac940Dfee495cB299e","validAfter":"0"}}'
SELECT jsonb_build_object('x402Version', 2, 'accepted', :'p2_req'::jsonb, 'payload', jsonb_build_object(
         'permit2Authorization', :'p2_auth'::jsonb,
         'signature', '0x4f56c393fa1f496250d831f57877526fc520b1b60e93fb8810c0b857cdbb86ac67aeb7440a90a8d42aca7f3a85f027d456bbf15dd80d03cb76a805287872b82c1b'))
       AS p2_payload \gset
\set upto_req '{"scheme":"upto","network":"eip155:84532","asset":"0x036CbD53842c5426634e7929541eC2318f3dCF7e","amount":"10000","payTo":"0xED3D13dDaba4aA8104E649ac940Dfee495cB299e","maxTimeoutSeconds":300,"extra":{"name":"USDC","version":"2","assetTransferMethod":"permit2","facilitatorAddress":"0x0746345E28B45F23475b2f0283bB06bbDE5b695d"}}'
SELECT jsonb_build_object('x402Version', 2, 'accepted', :'upto_req'::jsonb, 'payload', jsonb_build_object(
         'permit2Authorization', jsonb_set(jsonb_set(:'p2_auth'::jsonb, '{spender}', '"0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"'),
                                           '{witness}', '{"to":"0xED3D13dDaba4aA8104E649ac940Dfee495cB299e","facilitator":"0x0746345E28B45F23475b2f0283bB06bbDE5b695d","validAfter":"0"}'),
         'signature', '0x122c9ce0e437cdc8ef6e8526b7d89e4081e11084c3d41f0b76773da69b4eb4d3564e0b4c3dd2487651220076b49a30ab80f9c01feaae5a58e1c8bf82e70af5131b'))
       AS upto_payload \gset
-- Who signed, and the verdicts, at 2025-11-22 08:26:40 UTC (the deadline is 300 s later).
SELECT x402.recover_payer(:'p2_payload', :'p2_req') AS exact_payer, x402.recover_payer(:'upto_payload', :'upto_req') AS upto_payer;
SELECT x402.verify_payment(:'p2_payload', :'p2_req', to_timestamp(1763800000));
SELECT x402.verify_payment(:'upto_payload', :'upto_req', to_timestamp(1763800000));
-- Each failure, in the SDK's order (its verify_permit2 and verify_upto_permit2), with its codes.
\x on
SELECT c.case, v ->> 'isValid' AS valid, v ->> 'invalidReason' AS reason, v ->> 'invalidMessage' AS message,
       v ->> 'payer' AS payer
  FROM (VALUES
    (1, 'exact: other network',         :'p2_payload'::jsonb, jsonb_set(:'p2_req', '{network}', '"eip155:8453"'), to_timestamp(1763800000)),
    (2, 'upto: other network',          :'upto_payload'::jsonb, jsonb_set(:'upto_req', '{network}', '"eip155:8453"'), to_timestamp(1763800000)),
    (3, 'upto: requirements exact',     :'upto_payload'::jsonb, jsonb_set(:'upto_req', '{scheme}', '"exact"'), to_timestamp(1763800000)),
    (4, 'upto: an exact permit',        jsonb_set(:'p2_payload', '{accepted}', :'upto_req'), :'upto_req'::jsonb, to_timestamp(1763800000)),
    (5, 'exact: the upto proxy',        jsonb_set(:'p2_payload', '{payload,permit2Authorization,spender}', '"0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002"'), :'p2_req', to_timestamp(1763800000)),
    (6, 'exact: other payTo',           :'p2_payload', jsonb_set(:'p2_req', '{payTo}', '"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"'), to_timestamp(1763800000)),
    (7, 'upto: other facilitator',      :'upto_payload', jsonb_set(:'upto_req', '{extra,facilitatorAddress}', '"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"'), to_timestamp(1763800000)),
    (8, 'exact: deadline not a number', jsonb_set(:'p2_payload', '{payload,permit2Authorization,deadline}', '"soon"'), :'p2_req', to_timestamp(1763800000)),
    (9, 'exact: expires within 6 s',    :'p2_payload', :'p2_req', to_timestamp(1763800295)),
    (10, 'upto: expired',               :'upto_payload', :'upto_req', to_timestamp(1763800300)),
    (11, 'upto: ceiling 20000 asked',   :'upto_payload', jsonb_set(:'upto_req', '{amount}', '"20000"'), to_timestamp(1763800000)),
    (12, 'exact: other asset',          :'p2_payload', jsonb_set(:'p2_req', '{asset}', '"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"'), to_timestamp(1763800000)),
    (13, 'exact: nonce changed',        jsonb_set(:'p2_payload', '{payload,permit2Authorization,nonce}', '"1"'), :'p2_req', to_timestamp(1763800000)),
    (14, 'exact: forged from',          jsonb_set(:'p2_payload', '{payload,permit2Authorization,from}', '"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"'), :'p2_req', to_timestamp(1763800000)),
    (15, 'upto: v 0 or 1',              jsonb_set(:'upto_payload', '{payload,signature}', '"0x122c9ce0e437cdc8ef6e8526b7d89e4081e11084c3d41f0b76773da69b4eb4d3564e0b4c3dd2487651220076b49a30ab80f9c01feaae5a58e1c8bf82e70af51300"'), :'upto_req', to_timestamp(1763800000)),
    (16, 'exact: v 0 or 1 (the SDK''s exact verify accepts it)', jsonb_set(:'p2_payload', '{payload,signature}', '"0x4f56c393fa1f496250d831f57877526fc520b1b60e93fb8810c0b857cdbb86ac67aeb7440a90a8d42aca7f3a85f027d456bbf15dd80d03cb76a805287872b82c00"'), :'p2_req', to_timestamp(1763800000))
  ) AS c(n, "case", p, r, at),
  LATERAL (SELECT x402.verify_payment(c.p, c.r, c.at) AS v) x
 ORDER BY c.n;
\x off
-- x402._authorization(payload, requirements) -> jsonb (internal; the journal's facts): what the
-- payment authorizes. upto signs a ceiling; Permit2's nonce lives in Permit2 (nonce_scope), one
-- space per payer for every token and scheme.
SELECT jsonb_pretty(x402._authorization(:'upto_payload', :'upto_req'));
SELECT a ->> 'transfer_method' AS method, a ->> 'amount' AS amount, a ->> 'ceiling' AS ceiling, a ->> 'nonce_scope' AS nonce_scope
  FROM (VALUES (x402._authorization(:'p2_payload', :'p2_req')), (x402._authorization(:'upto_payload', :'upto_req')),
               (x402._authorization(:'spec_payload', :'spec_req'))) t(a);
-- With a payment identifier (extensions["payment-identifier"].info.id, 16 to 128 of [A-Za-z0-9_-]):
SELECT x402._authorization(jsonb_set(:'p2_payload', '{extensions}', '{"payment-identifier":{"info":{"required":false,"id":"pay_0123456789abcdef"}}}'), :'p2_req') ->> 'payment_id' AS payment_id;
-- Bad input: a malformed identifier, an upto payload that is no Permit2 permit (22023); an
-- x402Version the extension does not implement (0A000).
SELECT x402._authorization(jsonb_set(:'p2_payload', '{extensions}', '{"payment-identifier":{"info":{"id":"short"}}}'), :'p2_req');
SELECT x402._authorization(jsonb_set(:'spec_payload', '{accepted,scheme}', '"upto"'), :'upto_req');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT x402._authorization(jsonb_set(:'p2_payload', '{x402Version}', '3'), :'p2_req');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------------------------
-- x402.assets: the EIP-712 domains of registered assets (verify_payment's "wrong EIP-712 name").
SELECT network, asset, eip712_name, eip712_version, decimals, symbol, builtin FROM x402.assets ORDER BY network;
-- Bad input: addresses are stored lower-case, networks are CAIP-2 (23514).
INSERT INTO x402.assets VALUES ('eip155:1', '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', 'USD Coin', '2', 6, 'USDC');
INSERT INTO x402.assets VALUES ('ethereum', '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48', 'USD Coin', '2', 6, 'USDC');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO x402.assets VALUES ('eip155:1', '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48', 'USD Coin', '2', 6, 'USDC');
SELECT network, symbol, builtin FROM x402.assets ORDER BY network;

--------------------------------------------------------------------------------------------
-- x402.install_ledger() -> regclass. Before it, the ledger functions say what to do (42P01).
SELECT * FROM x402.record_settlement(:'usdg_payload', :'usdg_req', x402.decode_header(:'usdg_response_header'));
SELECT * FROM x402.stats();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A ledger made by hand from the guide's columns (amount as text, no unique constraint on
-- tx_hash), with a row whose amount is not a whole number of the token's smallest unit:
-- install_ledger refuses, names the row, and changes nothing.
CREATE TABLE public.x402_payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), payer_address text NOT NULL, endpoint text,
    amount text NOT NULL, tx_hash text, chain text DEFAULT 'xlayer', status text DEFAULT 'settled',
    response_summary text, created_at timestamptz DEFAULT now());
INSERT INTO public.x402_payments (id, payer_address, endpoint, amount, tx_hash)
VALUES ('00000000-0000-4000-8000-000000000001', '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '/api/joke', '1.5',
        '0x5C504ED432CB51138BCF09AA5E8A410DD4A1E204EF84BFED1BE16DFBA1B22060');
SELECT x402.install_ledger();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT format_type(atttypid, atttypmod) AS amount_type FROM pg_attribute
 WHERE attrelid = 'public.x402_payments'::regclass AND attname = 'amount';
-- Fixed (1.5 USDG is 1500000), it upgrades the table in place and keeps the row (same id,
-- amount now numeric(78,0), tx_hash lower-cased and unique). Running it again changes nothing
-- (the NOTICEs come from its ADD COLUMN IF NOT EXISTS).
UPDATE public.x402_payments SET amount = '1500000';
SELECT x402.install_ledger();
SELECT x402.install_ledger() AS idempotent;
SELECT id, payer_address, amount, tx_hash, chain, status, network FROM public.x402_payments;
SELECT format_type(atttypid, atttypmod) AS amount_type FROM pg_attribute
 WHERE attrelid = 'public.x402_payments'::regclass AND attname = 'amount';
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint  -- (NOT NULLs are listed from PostgreSQL 18 on)
 WHERE conrelid = 'public.x402_payments'::regclass AND contype <> 'n' ORDER BY conname;
-- Clients read every column but the signed payload; only project_admin (the service key)
-- writes, through record_settlement or directly.
SELECT r AS role, has_column_privilege(r, 'public.x402_payments', 'amount', 'SELECT') AS can_select_amount,
       has_column_privilege(r, 'public.x402_payments', 'payload', 'SELECT') AS can_select_payload,
       has_table_privilege(r, 'public.x402_payments', 'INSERT') AS can_insert,
       has_function_privilege(r, 'x402.record_settlement(jsonb,jsonb,jsonb,text,text)', 'EXECUTE') AS can_record
  FROM unnest(ARRAY['anon', 'authenticated', 'project_admin']) r;
-- The policies ({-} is PUBLIC):
SELECT polname, polcmd, polroles::regrole[] FROM pg_policy
 WHERE polrelid = 'public.x402_payments'::regclass ORDER BY polname;

--------------------------------------------------------------------------------------------
-- x402.record_settlement(payload, requirements, settlement, endpoint, response_summary):
-- records a settled payment exactly once and returns its row. Run as the service key:
SET ROLE project_admin;
SELECT id AS usdg_id FROM x402.record_settlement(
    x402.decode_header(x402.encode_header(:'usdg_payload')),  -- the PAYMENT-SIGNATURE header, decoded
    :'usdg_req', x402.decode_header(:'usdg_response_header'), '/api/joke', 'a joke') \gset
SELECT payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network, asset, pay_to, nonce,
       dispute_reason FROM public.x402_payments WHERE id = :'usdg_id';
-- A retry (the same settlement again, say after a timeout) returns the same row, writes nothing.
SELECT id = :'usdg_id' AS same_row, tx_hash, status, amount FROM x402.record_settlement(
    :'usdg_payload', :'usdg_req', x402.decode_header(:'usdg_response_header'), '/api/joke', 'a joke');
SELECT count(*) AS rows FROM public.x402_payments WHERE tx_hash = '0x0eac8d551f76cb029c308abd3d4ec7217a6e12b7d90f6f19fef39180e4fdb324';
-- The hash is matched case-insensitively (it is stored lower-case).
SELECT id = :'usdg_id' AS same_row, tx_hash FROM x402.record_settlement(
    :'usdg_payload', :'usdg_req',
    '{"success":true,"transaction":"0x0EAC8D551F76CB029C308ABD3D4EC7217A6E12B7D90F6F19FEF39180E4FDB324","network":"eip155:196"}');
-- The same transaction hash with other facts (another payment): 23505, nothing changed.
SELECT tx_hash, status, amount FROM x402.record_settlement(:'spec_payload', :'spec_req',
    '{"success":true,"transaction":"0x0eac8d551f76cb029c308abd3d4ec7217a6e12b7d90f6f19fef39180e4fdb324","network":"eip155:84532"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT amount, payer_address FROM public.x402_payments WHERE id = :'usdg_id';
-- Nothing to record (22023, nothing written): no or a malformed transaction hash, no payer,
-- arguments that are not JSON objects, a NULL argument.
SELECT tx_hash FROM x402.record_settlement(:'usdg_payload', :'usdg_req', '{"success":true,"transaction":"pending"}');
SELECT tx_hash FROM x402.record_settlement(:'usdg_payload', :'usdg_req', '{"success":true}');
SELECT tx_hash FROM x402.record_settlement('{"x402Version":2}', :'usdg_req',
    '{"success":true,"transaction":"0x1111111111111111111111111111111111111111111111111111111111111111"}');
SELECT tx_hash FROM x402.record_settlement('[1]', :'usdg_req',
    '{"success":true,"transaction":"0x1111111111111111111111111111111111111111111111111111111111111111"}');
SELECT tx_hash FROM x402.record_settlement(NULL, :'usdg_req',
    '{"success":true,"transaction":"0x1111111111111111111111111111111111111111111111111111111111111111"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Money that moved is never lost: when payload, requirements and settlement disagree, the row
-- is written as disputed, with the reasons. Here the server asked for 2 USDG, the payer
-- signed 1 USDG, and the facilitator settled on another network.
SELECT tx_hash, status, amount, dispute_reason FROM x402.record_settlement(
    :'usdg_payload', jsonb_set(:'usdg_req', '{amount}', '"2000000"'),
    '{"success":true,"transaction":"0x2222222222222222222222222222222222222222222222222222222222222222","network":"eip155:1"}',
    '/api/premium');
-- Clients cannot record: 42501.
SET ROLE anon;
SELECT tx_hash FROM x402.record_settlement(:'usdg_payload', :'usdg_req', x402.decode_header(:'usdg_response_header'));
INSERT INTO public.x402_payments (payer_address, amount, tx_hash) VALUES ('0x0', 1, '0x' || repeat('3', 64));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows_anon_can_read FROM public.x402_payments;
RESET ROLE;
-- Once recorded, verify_payment reports the payer's nonce as used.
SELECT x402.verify_payment(:'usdg_payload', :'usdg_req', to_timestamp(1763800100)) ->> 'invalidReason' AS reason;

--------------------------------------------------------------------------------------------
-- x402.stats(since DEFAULT NULL): per network and asset (endpoint NULL: the totals), then per
-- endpoint. Revenue counts settled rows only, in the smallest unit and in token units. The
-- hand-made row has no network or asset (it predates install_ledger), so no decimals are known
-- and its revenue_tokens stays in the smallest unit.
SELECT endpoint, network, symbol, requests, settled, disputed, revenue, revenue_tokens,
       latest_payment IS NOT NULL AS has_latest
  FROM x402.stats();
SELECT count(*) AS rows_since_tomorrow FROM x402.stats(now() + interval '1 day');

--------------------------------------------------------------------------------------------
-- x402.enable_realtime(channel DEFAULT 'x402_payments'): publishes each new ledger row through
-- InsForge's realtime.publish(). This database has no realtime schema: 42883.
SELECT x402.enable_realtime();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- With a stand-in for InsForge's realtime schema that records what is published:
CREATE SCHEMA realtime;
CREATE TABLE realtime.channels (pattern text PRIMARY KEY, description text, enabled boolean);
CREATE TABLE realtime.sent (channel text, event text, payload jsonb);
CREATE FUNCTION realtime.publish(p_channel_name text, p_event_name text, p_payload jsonb) RETURNS uuid
    LANGUAGE sql SECURITY DEFINER
    AS $$ INSERT INTO realtime.sent VALUES (p_channel_name, p_event_name, p_payload); SELECT gen_random_uuid() $$;
-- As InsForge grants them: project_admin (who writes the ledger, so whose trigger publishes) may
-- publish and register channels.
GRANT USAGE ON SCHEMA realtime TO project_admin;
GRANT EXECUTE ON FUNCTION realtime.publish(text, text, jsonb) TO project_admin;
GRANT SELECT, INSERT ON realtime.channels TO project_admin;
SELECT x402.enable_realtime('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT x402.enable_realtime();
SELECT x402.enable_realtime() AS idempotent;
SELECT pattern, description, enabled FROM realtime.channels;
-- A new settlement is published once; its retry publishes nothing.
SET ROLE project_admin;
SELECT tx_hash, status, amount FROM x402.record_settlement(:'spec_payload', :'spec_req',
    '{"success":true,"transaction":"0xabababababababababababababababababababababababababababababababab","network":"eip155:84532","payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}',
    '/api/joke');
SELECT tx_hash, status, amount FROM x402.record_settlement(:'spec_payload', :'spec_req',
    '{"success":true,"transaction":"0xabababababababababababababababababababababababababababababababab","network":"eip155:84532","payer":"0x857b06519E91e3A54538791bDbb0E22373e36b66"}',
    '/api/joke');
RESET ROLE;
-- The message carries the row without its signed payload (subscribers are clients).
SELECT channel, event, payload -> 'new' ->> 'tx_hash' AS tx_hash, payload -> 'new' ->> 'amount' AS amount,
       payload -> 'new' ->> 'chain' AS chain, payload -> 'new' ? 'payload' AS has_payload
  FROM realtime.sent;

-- The ledger is user data: DROP EXTENSION leaves it and its rows.
DROP EXTENSION insforge_integrations CASCADE;
SELECT count(*) AS rows_after_drop_extension FROM public.x402_payments;
