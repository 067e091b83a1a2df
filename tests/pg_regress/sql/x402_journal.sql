-- insforge_integrations: the settlement journal (schema x402). A paid endpoint calls
-- x402.begin_settlement() before the facilitator's /settle, so that the database holds the
-- attempt even if the app dies before x402.record_settlement(); record_settlement() then
-- completes that row exactly once. x402.unreconciled() lists what was begun and never
-- recorded. Rows are shown without their random id and times.
SET ROLE project_admin;  -- the operator, as InsForge runs a project's SQL
CREATE EXTENSION insforge_integrations;
SELECT x402.install_ledger();
\set SHOW_CONTEXT never

-- 1 USDG on X Layer, signed with eth-account by the well-known test key
-- 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 (address 0xf39F...2266),
-- valid from 2025-11-22 08:26:40 UTC for one hour (so it can no longer settle today).
\set usdg_req '{"scheme":"exact","network":"eip155:196","amount":"1000000","asset":"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"Global Dollar","version":"1"}}'
\set usdg_payload '{"x402Version":2,"accepted":{"scheme":"exact","network":"eip155:196","amount":"1000000","asset":"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"Global Dollar","version":"1"}},"payload":{"signature":"0x7270385c522e6daca710c202171bef4bb403957f542f4c78bf1e7196b0ae21a363654ed6332f473c79115c19f711c5da50cf6d734d53733ff46efe84a4e8ad161b","authorization":{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"1000000","validAfter":"1763800000","validBefore":"1763803600","nonce":"0x6d25ea5c0cf695a5ccdc870b97f2cdf1fced28a7fffd52c4be9ee41b13713a2e"}}}'
\set settled '{"success":true,"transaction":"0x0eac8d551f76cb029c308abd3d4ec7217a6e12b7d90f6f19fef39180e4fdb324","network":"eip155:196","payer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}'

--------------------------------------------------------------------------------------------
-- x402.begin_settlement(payload, requirements, endpoint) -> x402.payment: the intent, pending.
SELECT status, tx_hash, payer_address, amount, network, nonce, endpoint
  FROM x402.begin_settlement(:'usdg_payload', :'usdg_req', '/api/joke');
-- Begun again (the app retried): the same row, nothing new.
SELECT b.status, (SELECT count(*) FROM public.x402_payments) AS rows_in_ledger
  FROM x402.begin_settlement(:'usdg_payload', :'usdg_req', '/api/joke') b;
-- verify_payment now calls the nonce used: the same payment header cannot buy twice.
SELECT x402.verify_payment(:'usdg_payload', :'usdg_req', '2025-11-22 08:30:00+00') ->> 'invalidReason' AS reason;

--------------------------------------------------------------------------------------------
-- x402.unreconciled(older_than interval) -> what was begun and never recorded, with what to look up.
SELECT payer_address, nonce, amount, settleable, explorer FROM x402.unreconciled('0 seconds');
SELECT look_up FROM x402.unreconciled('0 seconds');
SELECT count(*) AS older_than_an_hour FROM x402.unreconciled('1 hour');
-- The advisor warns about it (the authorization's validBefore has passed).
SELECT level, name, detail ~ '1 stale pending settlement' AS counted FROM insforge.advise()
 WHERE name = 'x402_unreconciled_settlements';

--------------------------------------------------------------------------------------------
-- record_settlement() completes the intent: the same row, now settled.
SELECT status, tx_hash, completed_at IS NOT NULL AS completed, (SELECT count(*) FROM public.x402_payments) AS rows
  FROM x402.record_settlement(:'usdg_payload', :'usdg_req', :'settled', '/api/joke');
SELECT count(*) AS unreconciled FROM x402.unreconciled('0 seconds');
-- Begin after it settled: the settled row comes back (paid: do not settle again).
SELECT status FROM x402.begin_settlement(:'usdg_payload', :'usdg_req', '/api/joke');
-- A second transaction for the same authorization: written, disputed, never counted as revenue.
SELECT status, dispute_reason FROM x402.record_settlement(:'usdg_payload', :'usdg_req',
    jsonb_set(:'settled', '{transaction}', '"0x00000000000000000000000000000000000000000000000000000000000000aa"'));
SELECT requests, settled, disputed, revenue, pending, failed FROM x402.stats() WHERE endpoint IS NULL;

--------------------------------------------------------------------------------------------
-- A facilitator failure (success = false) marks the intent failed, with its reason.
SELECT status, failure_reason, tx_hash
  FROM x402.begin_settlement(jsonb_set(:'usdg_payload', '{payload,authorization,nonce}',
                                       '"0x1111111111111111111111111111111111111111111111111111111111111111"'), :'usdg_req');
SELECT status, failure_reason, tx_hash
  FROM x402.record_settlement(jsonb_set(:'usdg_payload', '{payload,authorization,nonce}',
                                        '"0x1111111111111111111111111111111111111111111111111111111111111111"'), :'usdg_req',
                              '{"success": false, "errorReason": "insufficient_funds", "transaction": ""}');

--------------------------------------------------------------------------------------------
-- Bad input: 22023 and nothing written.
SELECT count(*) AS rows_before FROM public.x402_payments;
SELECT * FROM x402.begin_settlement('[1]', :'usdg_req');
SELECT * FROM x402.begin_settlement(:'usdg_payload', '{"scheme":"exact"}');
SELECT * FROM x402.begin_settlement(NULL, :'usdg_req');
SELECT * FROM x402.record_settlement(:'usdg_payload', :'usdg_req', '{"success": true, "transaction": "0x12"}');
SELECT * FROM x402.unreconciled(NULL);
SELECT count(*) AS rows_after FROM public.x402_payments;
RESET ROLE;
-- Clients read the ledger's dashboard columns (x402.unreconciled() too) but never write it,
-- nor read the signed payloads (42501).
SET ROLE authenticated;
SELECT * FROM x402.begin_settlement(:'usdg_payload', :'usdg_req');
SELECT count(*) AS visible, count(DISTINCT status) AS statuses FROM public.x402_payments;
SELECT payload FROM public.x402_payments;
SELECT count(*) AS visible FROM x402.unreconciled('0 seconds');
RESET ROLE;

--------------------------------------------------------------------------------------------
-- How settlements really end. OKX answers /settle right after broadcast (syncSettle false, its
-- default): success with status "pending". The row is broadcast: sent, not confirmed, not revenue.
\set okx_payload '{"x402Version":2,"accepted":{"scheme":"exact","network":"eip155:196","amount":"1000000","asset":"0x4ae46a509f6b1d9056937ba4500cb143933d2dc8","payTo":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","maxTimeoutSeconds":300,"extra":{"name":"Global Dollar","version":"1"}},"payload":{"signature":"0x717d4459ba101177f32b3a814d289d6450beec17f77052eae5cc366b21f1ed4d7db0b10ff06d86c947373d576c34ad1d88371593ca5508a402e9daba112c9d701c","authorization":{"from":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","to":"0x209693Bc6afc0C5328bA36FaF03C514EF312287C","value":"1000000","validAfter":"0","validBefore":"4102444800","nonce":"0x4242424242424242424242424242424242424242424242424242424242424242"}}}'
\set okx_pending '{"success":true,"status":"pending","transaction":"0x4242424242424242424242424242424242424242424242424242424242424242","network":"eip155:196","payer":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}'
SET ROLE project_admin;
SELECT status, tx_hash IS NOT NULL AS has_tx, settled_amount FROM x402.begin_settlement(:'okx_payload', :'usdg_req', '/api/joke');
SELECT status, tx_hash IS NOT NULL AS has_tx, settled_amount FROM x402.record_settlement(:'okx_payload', :'usdg_req', :'okx_pending', '/api/joke');
SELECT settled, broadcast, revenue, unconfirmed_revenue FROM x402.payment_stats() WHERE endpoint IS NULL AND network = 'eip155:196';
-- What to ask, and where: OKX's status path with the hash.
SELECT substr(look_up, 1, 120) AS look_up FROM x402.unreconciled('0 seconds') WHERE nonce = '0x4242424242424242424242424242424242424242424242424242424242424242';
-- OKX's GET /api/v6/pay/x402/settle/status answers success: the row is settled, the revenue confirmed.
SELECT status, settled_amount FROM x402.record_status('0x4242424242424242424242424242424242424242424242424242424242424242', '{"success":true,"status":"success"}');
SELECT settled, broadcast, revenue, unconfirmed_revenue FROM x402.payment_stats() WHERE endpoint IS NULL AND network = 'eip155:196';
-- A late "pending" never takes a settled row back; a "failed" after it is a contradiction: disputed,
-- both answers kept.
SELECT status FROM x402.record_status('0x4242424242424242424242424242424242424242424242424242424242424242', '{"status":"pending"}');
SELECT status, dispute_reason, jsonb_array_length(answers) AS answers
  FROM x402.record_status('0x4242424242424242424242424242424242424242424242424242424242424242', '{"status":"failed","errorReason":"execution reverted"}');
-- Bad input: 22023 (a malformed answer), P0002 (a hash the ledger does not know); nothing written.
SELECT status FROM x402.record_status('0x4242424242424242424242424242424242424242424242424242424242424242', '{"status":"mined"}');
SELECT status FROM x402.record_status('0x4343434343434343434343434343434343434343434343434343434343434343', '{"status":"success"}');
RESET ROLE;
