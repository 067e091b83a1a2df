-- x402 settlement records. The codecs, EIP-712 hashing and signature recovery are
-- Rust (src/sql_x402.rs); the ledger logic is here.
--
-- Nothing here runs with more rights than its caller (SECURITY.md): the ledger,
-- public.x402_payments, belongs to the operator who installed it (InsForge hands
-- every table in public to project_admin anyway), so every function that reads or
-- writes it is SECURITY INVOKER and works with the caller's own privileges. Triggers,
-- defaults, rules or policies an owner attaches to the ledger therefore run as the
-- role that wrote, never as the extension's owner.
CREATE SCHEMA IF NOT EXISTS x402;
GRANT USAGE ON SCHEMA x402 TO PUBLIC;

-- Registered assets: their EIP-712 domain, so a wrong name/version in payment
-- requirements is caught before any network call (the facilitator's "Invalid Authority").
CREATE TABLE x402.assets (
    network text NOT NULL CHECK (network ~ '^eip155:[0-9]+$'),
    asset text NOT NULL CHECK (asset ~ '^0x[0-9a-f]{40}$'),
    eip712_name text NOT NULL,
    eip712_version text NOT NULL,
    decimals integer NOT NULL CHECK (decimals BETWEEN 0 AND 77),
    symbol text NOT NULL,
    builtin boolean NOT NULL DEFAULT false,
    PRIMARY KEY (network, asset)
);
COMMENT ON TABLE x402.assets IS
'Assets x402 payments may use: CAIP-2 network, lower-case token address, EIP-712 domain name and version, decimals, symbol. Rows you add are dumped by pg_dump; the built-in ones come with the extension.';
INSERT INTO x402.assets VALUES
    ('eip155:196', '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8', 'Global Dollar', '1', 6, 'USDG', true),
    ('eip155:84532', '0x036cbd53842c5426634e7929541ec2318f3dcf7e', 'USDC', '2', 6, 'USDC', true),
    -- USD₮0 on X Layer: the domain name is the token's name() with U+20AE (₮), version 1
    -- (docs/x402.md, "Assets and their evidence").
    ('eip155:196', '0x779ded0c9e1022225f8e0630b35a9b54be713736', 'USD₮0', '1', 6, 'USDT0', true);
SELECT pg_catalog.pg_extension_config_dump('x402.assets', 'WHERE NOT builtin');
GRANT SELECT ON x402.assets TO PUBLIC;

-- What record_settlement() and begin_settlement() return: the ledger's columns.
CREATE TYPE x402.payment AS (
    id uuid,
    payer_address text,
    endpoint text,
    amount numeric(78,0),
    tx_hash text,
    chain text,
    status text,
    response_summary text,
    created_at timestamptz,
    network text,
    asset text,
    pay_to text,
    nonce text,
    dispute_reason text,
    payload jsonb,
    requirements jsonb,
    settlement jsonb,
    failure_reason text,
    completed_at timestamptz,
    nonce_scope text,
    scheme text,
    valid_before timestamptz,
    payment_id text,
    settled_amount numeric(78,0),
    answers jsonb
);

-- Used by x402.verify_payment(): whether the ledger already holds this payer's
-- nonce for this asset. Runs as the caller, with the caller's privileges and the
-- ledger's policies: a caller who may not read the columns it needs gets NULL (no
-- answer), never a bypass. EXECUTE is revoked from PUBLIC: verify_payment() calls it
-- from C (src/sql_x402.rs) without that check.
CREATE FUNCTION x402._nonce_recorded(p_network text, p_asset text, p_payer text, p_nonce text) RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off  -- its plan is kept for the session: the nonce index, however small the ledger was
    AS $fn$
DECLARE
    ledger oid := pg_catalog.to_regclass('public.x402_payments');
BEGIN
    -- No ledger yet, or a guide-made one not yet upgraded by x402.install_ledger():
    -- nothing is recorded in the shape this check reads. (No EXCEPTION block: that
    -- would be a subtransaction, which parallel workers may not start.)
    IF ledger IS NULL OR (SELECT count(*) FROM pg_catalog.pg_attribute
                           WHERE attrelid = ledger AND NOT attisdropped
                             AND attname IN ('network', 'nonce_scope', 'payer_address', 'nonce', 'status')) < 5 THEN
        RETURN false;
    END IF;
    IF NOT (pg_catalog.has_schema_privilege('public', 'USAGE')
            AND pg_catalog.has_column_privilege(ledger, 'nonce', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'network', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'nonce_scope', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'payer_address', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'status', 'SELECT')) THEN
        RETURN NULL;
    END IF;
    -- Recorded means settled, disputed or pending (an intent: /settle may be under
    -- way); a failed settlement left the nonce unused on chain. Static SQL: planned
    -- once per session (replanned by the plan cache after DDL), and only reached once
    -- the columns exist.
    RETURN EXISTS (SELECT 1 FROM public.x402_payments
                    WHERE nonce = lower(p_nonce) AND network = p_network AND lower(nonce_scope) = lower(p_asset)  -- (p_asset: the nonce's scope)
                      AND lower(payer_address) = lower(p_payer) AND status <> 'failed');
END
$fn$;
REVOKE ALL ON FUNCTION x402._nonce_recorded(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION x402._nonce_recorded(text, text, text, text) IS
'Internal (verify_payment, which calls it from C): whether the ledger holds this payer''s nonce for this asset (pending, settled or disputed), read with the caller''s own privileges and policies; NULL when the caller may not read those columns.';

-- x402.install_ledger(): creates the ledger or brings a guide-made (or older) one up to
-- date, as its caller: the table a fresh call creates belongs to the calling operator
-- (project_admin in InsForge, like everything a project creates in public), and every
-- change to an existing one needs its owner's rights, which the caller must have.
CREATE FUNCTION x402.install_ledger() RETURNS regclass
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning  -- not the "already exists, skipping" NOTICEs of a second run
    AS $fn$
DECLARE
    bad text;
    r text;
    readable text;
    ledger oid;
BEGIN
    PERFORM insforge._require_operator('x402.install_ledger()');
    ledger := pg_catalog.to_regclass('public.x402_payments');
    IF ledger IS NULL THEN
        CREATE TABLE public.x402_payments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            payer_address text NOT NULL,
            endpoint text,
            amount numeric(78,0) NOT NULL,
            tx_hash text,
            chain text NOT NULL DEFAULT 'xlayer',
            status text NOT NULL DEFAULT 'settled',
            response_summary text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE public.x402_payments IS
            'x402 settlements, one row per on-chain transaction; written by x402.record_settlement() (insforge_integrations).';
    ELSIF NOT pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = ledger), 'USAGE') THEN
        RAISE EXCEPTION 'public.x402_payments belongs to %, and only its owner can bring it up to date (current role: %)',
                pg_catalog.pg_get_userbyid((SELECT relowner FROM pg_catalog.pg_class WHERE oid = ledger)), current_user
            USING ERRCODE = '42501',
                  HINT = 'Run SELECT x402.install_ledger(); as the table''s owner (in InsForge, project_admin owns every table in public). Nothing was changed.';
    END IF;

    -- A guide-made table: check what would break before changing anything.
    SELECT pg_catalog.string_agg(id::text || ' (' || coalesce(amount::text, 'NULL') || ')', ', ') INTO bad
      FROM (SELECT id, amount FROM public.x402_payments
             WHERE amount IS NULL OR amount::text !~ '^[0-9]+$' LIMIT 5) b;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.amount holds values that are not whole numbers in the token''s smallest unit: %', bad
            USING ERRCODE = '22023',
                  HINT = 'Amounts are uint256 integers (USDG: 1000000 = 1 USDG). Fix those rows, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    SELECT pg_catalog.string_agg(coalesce(tx_hash, 'NULL'), ', ') INTO bad
      FROM (SELECT tx_hash FROM public.x402_payments WHERE tx_hash IS NULL OR tx_hash !~ '^0x[0-9a-fA-F]{64}$' LIMIT 5) b;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.tx_hash holds values that are not transaction hashes (0x + 64 hex digits): %', bad
            USING ERRCODE = '22023', HINT = 'Fix those rows, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    SELECT pg_catalog.string_agg(h, ', ') INTO bad
      FROM (SELECT lower(tx_hash) AS h FROM public.x402_payments GROUP BY 1 HAVING count(*) > 1 LIMIT 5) d;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments records these transactions more than once: %', bad
            USING ERRCODE = '23505',
                  HINT = 'One settlement is one row. Resolve the duplicates, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    SELECT pg_catalog.string_agg(DISTINCT coalesce(status, 'NULL'), ', ') INTO bad
      FROM public.x402_payments WHERE status IS NULL OR status NOT IN ('pending', 'broadcast', 'settled', 'disputed', 'failed');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.status holds values other than pending, broadcast, settled, disputed and failed: %', bad
            USING ERRCODE = '22023',
                  HINT = 'Map them to one of those five, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    ALTER TABLE public.x402_payments
        ADD COLUMN IF NOT EXISTS network text,
        ADD COLUMN IF NOT EXISTS asset text,
        ADD COLUMN IF NOT EXISTS pay_to text,
        ADD COLUMN IF NOT EXISTS nonce text,
        ADD COLUMN IF NOT EXISTS dispute_reason text,
        ADD COLUMN IF NOT EXISTS payload jsonb,
        ADD COLUMN IF NOT EXISTS requirements jsonb,
        ADD COLUMN IF NOT EXISTS settlement jsonb,
        ADD COLUMN IF NOT EXISTS failure_reason text,
        ADD COLUMN IF NOT EXISTS completed_at timestamptz,
        ADD COLUMN IF NOT EXISTS nonce_scope text,
        ADD COLUMN IF NOT EXISTS scheme text,
        ADD COLUMN IF NOT EXISTS valid_before timestamptz,
        ADD COLUMN IF NOT EXISTS payment_id text,
        ADD COLUMN IF NOT EXISTS settled_amount numeric(78,0),
        ADD COLUMN IF NOT EXISTS answers jsonb;
    -- Rows of older versions: their nonce is the token's (EIP-3009), their scheme exact, what
    -- settled is what was authorized, and their validBefore is in the payload.
    UPDATE public.x402_payments SET nonce_scope = asset WHERE nonce_scope IS NULL AND asset IS NOT NULL;
    UPDATE public.x402_payments SET scheme = 'exact' WHERE scheme IS NULL AND nonce IS NOT NULL;
    UPDATE public.x402_payments SET settled_amount = amount::text::numeric
     WHERE settled_amount IS NULL AND status IN ('settled', 'disputed') AND tx_hash IS NOT NULL;
    UPDATE public.x402_payments
       SET valid_before = pg_catalog.to_timestamp((payload #>> '{payload,authorization,validBefore}')::double precision)
     WHERE valid_before IS NULL AND payload #>> '{payload,authorization,validBefore}' ~ '^[0-9]{1,15}$';
    -- One signed authorization can settle once on chain; 0.1.0 could record it under two
    -- transaction hashes as two settled payments. Checked with the unique index's own key
    -- (below), after the backfill above (an exception undoes all of it: nothing changes).
    SELECT pg_catalog.string_agg(pg_catalog.format('nonce %s of %s on %s: %s', nonce, payer_address, network, txs), '; ')
      INTO bad
      FROM (SELECT network, pg_catalog.min(payer_address) AS payer_address, nonce,
                   pg_catalog.string_agg(tx_hash, ', ' ORDER BY created_at, tx_hash) AS txs
              FROM public.x402_payments
             WHERE status IN ('pending', 'broadcast', 'settled') AND nonce IS NOT NULL AND network IS NOT NULL
             GROUP BY network, lower(nonce_scope), lower(payer_address), nonce HAVING count(*) > 1 LIMIT 5) d;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments records one authorization as settled more than once (on chain only one transaction can have used it): %', bad
            USING ERRCODE = '23505',
                  HINT = 'Look the transactions up; mark every one but the real one disputed, e.g. UPDATE public.x402_payments SET status = ''disputed'', dispute_reason = ''nonce reuse'' WHERE tx_hash = ''0x...''; then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    -- A pending intent (begin_settlement) has no transaction yet, nor may a failed settlement.
    ALTER TABLE public.x402_payments ALTER COLUMN tx_hash DROP NOT NULL;
    IF (SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute
         WHERE attrelid = 'public.x402_payments'::regclass AND attname = 'amount') <> 'numeric(78,0)' THEN
        ALTER TABLE public.x402_payments ALTER COLUMN amount TYPE numeric(78,0) USING amount::text::numeric(78,0);
    END IF;
    UPDATE public.x402_payments SET tx_hash = lower(tx_hash) WHERE tx_hash <> lower(tx_hash);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                    WHERE i.indrelid = 'public.x402_payments'::regclass AND i.indisunique AND i.indpred IS NULL
                      AND i.indnkeyatts = 1 AND i.indexprs IS NULL
                      AND i.indkey[0] = (SELECT attnum FROM pg_catalog.pg_attribute
                                          WHERE attrelid = 'public.x402_payments'::regclass AND attname = 'tx_hash')) THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_key UNIQUE (tx_hash);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_tx_hash_format') THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_format CHECK (tx_hash ~ '^0x[0-9a-f]{64}$');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_amount_nonnegative') THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_amount_nonnegative CHECK (amount >= 0);
    END IF;
    -- The statuses (src/ledger.rs, insforge_core::x402 settlement.rs): a transaction hash
    -- for every row but an intent, a failure, one the facilitator accepted for later
    -- (OKX's aggr_deferred, broadcast without a hash yet) and an upto payment that settled 0.
    IF (SELECT pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint
         WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_status')
       IS DISTINCT FROM 'CHECK (((status = ANY (ARRAY[''pending''::text, ''broadcast''::text, ''settled''::text, ''disputed''::text, ''failed''::text])) AND ((tx_hash IS NOT NULL) OR (status = ANY (ARRAY[''pending''::text, ''broadcast''::text, ''failed''::text])) OR ((status = ''settled''::text) AND (settled_amount = (0)::numeric)))))' THEN
        ALTER TABLE public.x402_payments DROP CONSTRAINT IF EXISTS x402_payments_status;
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_status
            CHECK (status IN ('pending', 'broadcast', 'settled', 'disputed', 'failed')
                   AND (tx_hash IS NOT NULL OR status IN ('pending', 'broadcast', 'failed')
                        OR (status = 'settled' AND settled_amount = 0)));
    END IF;
    -- At most one live row (pending, broadcast or settled) per authorization, keyed by its
    -- nonce's scope (the token for EIP-3009, the Permit2 contract for Permit2), and per
    -- payment identifier; every lookup by nonce indexed.
    IF (SELECT pg_catalog.pg_get_indexdef(pg_catalog.to_regclass('public.x402_payments_authorization_key')))
       IS DISTINCT FROM 'CREATE UNIQUE INDEX x402_payments_authorization_key ON public.x402_payments USING btree (network, lower(nonce_scope), lower(payer_address), nonce) WHERE (status = ANY (ARRAY[''pending''::text, ''broadcast''::text, ''settled''::text]))' THEN
        DROP INDEX IF EXISTS public.x402_payments_authorization_key;
        CREATE UNIQUE INDEX x402_payments_authorization_key
            ON public.x402_payments (network, lower(nonce_scope), lower(payer_address), nonce)
            WHERE status IN ('pending', 'broadcast', 'settled');
    END IF;
    CREATE UNIQUE INDEX IF NOT EXISTS x402_payments_payment_id
        ON public.x402_payments (payment_id) WHERE payment_id IS NOT NULL AND status IN ('pending', 'broadcast', 'settled');
    CREATE INDEX IF NOT EXISTS x402_payments_nonce ON public.x402_payments (nonce);
    DROP INDEX IF EXISTS public.x402_payments_pending;
    CREATE INDEX IF NOT EXISTS x402_payments_open ON public.x402_payments (created_at) WHERE status IN ('pending', 'broadcast');

    -- A realtime trigger from an older enable_realtime() (AFTER INSERT only) also fires on
    -- the status change that completes an intent, as enable_realtime() makes it now.
    SELECT pg_catalog.pg_get_triggerdef(t.oid) INTO bad FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = 'public.x402_payments'::regclass AND t.tgname = 'x402_payments_realtime'
       AND t.tgfoid = 'x402.publish_payment()'::regprocedure;
    IF bad IS NOT NULL AND bad !~ 'UPDATE OF status' THEN
        EXECUTE pg_catalog.regexp_replace(
            pg_catalog.regexp_replace(bad, '^CREATE TRIGGER', 'CREATE OR REPLACE TRIGGER'),
            'AFTER INSERT ON', 'AFTER INSERT OR UPDATE OF status ON');
    END IF;

    -- Clients read what a dashboard needs (every column but the signed payload: a
    -- pending or failed authorization could still be submitted on chain by whoever holds
    -- it) through the guide's public-read policy; only the operator writes.
    ALTER TABLE public.x402_payments ENABLE ROW LEVEL SECURITY;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.x402_payments FROM PUBLIC;
    REVOKE SELECT ON public.x402_payments FROM PUBLIC;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum) INTO readable
      FROM pg_catalog.pg_attribute
     WHERE attrelid = 'public.x402_payments'::regclass AND attnum > 0 AND NOT attisdropped
       AND attname <> 'payload';
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON public.x402_payments FROM %I', r);
            EXECUTE pg_catalog.format('GRANT SELECT (%s) ON public.x402_payments TO %I', readable, r);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = 'public.x402_payments'::regclass AND polcmd IN ('r', '*')
                      AND polroles = '{0}') THEN
        CREATE POLICY x402_payments_public_read ON public.x402_payments FOR SELECT USING (true);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'project_admin') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.x402_payments TO project_admin;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = 'public.x402_payments'::regclass
                          AND p.polcmd = '*' AND (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'project_admin') = ANY (p.polroles)) THEN
            CREATE POLICY project_admin_policy ON public.x402_payments FOR ALL TO project_admin USING (true) WITH CHECK (true);
        END IF;
    END IF;
    RETURN 'public.x402_payments'::regclass;
END
$fn$;
COMMENT ON FUNCTION x402.install_ledger() IS
'Creates public.x402_payments (owned by the caller), or upgrades a guide-made one in place keeping its rows (amount to numeric(78,0), unique lower-case tx_hash, the journal''s columns, RLS with public read of every column but the signed payload, writes for the operator only). Runs as its caller, who must own the table. Idempotent. The table is user data: pg_dump dumps it and DROP EXTENSION never removes it. Operators only (project_admin or a superuser).';

-- The settlement journal. One row per attempt to settle an authorization, keyed by the
-- authorization (network, nonce scope, payer, nonce) and, once there is one, by the
-- transaction hash (src/ledger.rs writes; insforge_core::x402 settlement.rs decides):
--   pending    x402.begin_settlement() wrote the intent before /settle; no answer yet
--   broadcast  the facilitator sent the transaction, nobody has confirmed it yet (OKX's
--              default answer, its timeout, the SDK's settlement_pending, OKX's
--              aggr_deferred whose hash comes later); x402.record_status() completes it
--   settled    confirmed, and payload, requirements and answer agree
--   disputed   money may have moved but something disagrees (the reason says what), or
--              the authorization was already recorded under another transaction, or two
--              answers contradicted each other (every answer is kept in answers)
--   failed     terminal: the facilitator answered success = false, or the transaction
--              failed on chain (then it has its hash)
-- At most one live row (pending, broadcast or settled) per authorization
-- (x402_payments_authorization_key) and per payment identifier (x402_payments_payment_id);
-- failed and disputed rows are history. A settled row never goes back.

CREATE FUNCTION x402.record_settlement(payload jsonb, requirements jsonb, settlement jsonb,
                                       endpoint text DEFAULT NULL, response_summary text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- Every lookup it makes has an index (tx_hash, the authorization, the payment id); its
    -- plans are kept for the session, and a ledger analyzed while nearly empty must not
    -- leave them scanning it.
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'x402_record_settlement_wrapper';
COMMENT ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) IS
'Records the facilitator''s answer to /settle exactly once and returns the row: completes the intent of begin_settlement() for this authorization, or writes a new row. settled when the answer confirms it (OKX status success, or an answer without status, as the official SDK gives after the receipt) and payload, requirements and answer agree; broadcast when it was only sent (OKX status pending or timeout, the SDK''s settlement_pending, OKX aggr_deferred); failed for success = false; disputed (with the reason) when money moved but something disagrees, the authorization is already recorded under another transaction, or answers contradict. The same answer again returns the row; the same tx hash with other facts, or a payment identifier of another payment, raises 23505 and changes nothing. Unknown x402Version or scheme: 0A000; malformed input: 22023; nothing written. Runs as its caller, who must be able to write the ledger. Operators only (project_admin: the service key).';
REVOKE ALL ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) FROM PUBLIC;

CREATE FUNCTION x402.begin_settlement(payload jsonb, requirements jsonb, endpoint text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off  -- as record_settlement: its kept plans use the ledger's indexes
    AS 'MODULE_PATHNAME', 'x402_begin_settlement_wrapper';
COMMENT ON FUNCTION x402.begin_settlement(jsonb, jsonb, text) IS
'Writes the intent to settle a payment before calling the facilitator''s /settle: a pending row keyed by the authorization (network, nonce scope, payer, nonce), so that a settlement is never unaccounted even if the app dies before record_settlement(). Returns the row; when the authorization already has a live row (pending, broadcast or settled), returns that one instead (broadcast or settled: do not settle again). Idempotent on the payload''s payment-identifier; one that names another payment raises 23505. Unknown x402Version or scheme: 0A000; malformed payload or requirements: 22023; nothing written. Runs as its caller, who must be able to write the ledger. Operators only (project_admin: the service key).';
REVOKE ALL ON FUNCTION x402.begin_settlement(jsonb, jsonb, text) FROM PUBLIC;

CREATE FUNCTION x402.record_status(tx_hash text, answer jsonb)
    RETURNS x402.payment
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'x402_record_status_wrapper';
COMMENT ON FUNCTION x402.record_status(text, jsonb) IS
'Records what became of a broadcast transaction and returns its row: OKX''s GET /api/v6/pay/x402/settle/status answer (status pending, success or failed) or a transaction receipt the app fetched (status 0x1 or 0x0). success settles a broadcast row, failed fails it (with its hash), pending changes nothing; an answer that contradicts a settled or failed row makes it disputed, both answers kept. Unknown hash: P0002; malformed answer: 22023; nothing written. Operators only.';
REVOKE ALL ON FUNCTION x402.record_status(text, jsonb) FROM PUBLIC;

-- Where to look an address up, for the networks the extension knows.
CREATE FUNCTION x402.explorer_url(network text, address text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE network
               WHEN 'eip155:196' THEN 'https://www.oklink.com/xlayer/address/'
               WHEN 'eip155:1952' THEN 'https://www.oklink.com/xlayer-test/address/'
               WHEN 'eip155:8453' THEN 'https://basescan.org/address/'
               WHEN 'eip155:84532' THEN 'https://sepolia.basescan.org/address/'
               WHEN 'eip155:1' THEN 'https://etherscan.io/address/'
               WHEN 'eip155:11155111' THEN 'https://sepolia.etherscan.io/address/'
           END || address
$$;
COMMENT ON FUNCTION x402.explorer_url(text, text) IS
'The block explorer page of an address (a payer, a token), for X Layer, Base and Ethereum and their test networks (CAIP-2); NULL for other networks.';

CREATE FUNCTION x402.unreconciled(older_than interval DEFAULT '5 minutes')
    RETURNS TABLE (id uuid, created_at timestamptz, age interval, endpoint text, network text, asset text,
                   payer_address text, nonce text, amount numeric, pay_to text, valid_before timestamptz,
                   settleable boolean, look_up text, explorer text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
#variable_conflict use_column
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT p.id, p.created_at, pg_catalog.now() - p.created_at, p.endpoint, p.network, p.asset, p.payer_address,
               p.nonce, p.amount, p.pay_to, p.valid_before, p.valid_before IS NULL OR p.valid_before > pg_catalog.now(),
               CASE WHEN p.status = 'broadcast' AND p.tx_hash IS NOT NULL THEN
                   pg_catalog.format('broadcast as %s, not confirmed: ask the facilitator (OKX: GET /api/v6/pay/x402/settle/status?txHash=%s) '
                                     || 'or the chain (the transaction''s receipt), then record the answer with '
                                     || 'x402.record_status(''%s'', answer)', p.tx_hash, p.tx_hash, p.tx_hash)
               WHEN p.status = 'broadcast' THEN
                   pg_catalog.format('accepted by the facilitator for a later batched settlement (no transaction yet): when it '
                                     || 'names the transaction, record its answer again with x402.record_settlement(payload, '
                                     || 'requirements, answer); on chain, %s says whether it was used', c.onchain)
               ELSE
                   pg_catalog.format('%s: %s means the authorization was used, '
                                     || 'so find its transaction (%s) and record it with '
                                     || 'x402.record_settlement(); %s %s',
                                     c.onchain, c.used, c.event, c.unused,
                                     CASE WHEN p.valid_before IS NOT NULL AND p.valid_before <= pg_catalog.now()
                                          THEN 'means it never settled and no longer can (validBefore passed): record the facilitator''s failure with x402.record_settlement(payload, requirements, ''{"success": false, "errorReason": "..."}'')'
                                          ELSE 'means it has not settled yet; ask the facilitator about the /settle call' END)
               END,
               x402.explorer_url(p.network, p.payer_address)
          FROM public.x402_payments p
          -- Where the chain keeps the nonce: EIP-3009's token (authorizationState(payer, nonce)), or
          -- Permit2, whose nonces are bits of nonceBitmap(owner, nonce >> 8) (bit nonce & 0xff).
          CROSS JOIN LATERAL (
              SELECT CASE WHEN permit2 THEN pg_catalog.format('nonceBitmap(%s, 0x%s) on Permit2 %s (%s), bit %s',
                                                              p.payer_address, pg_catalog.substr(p.nonce, 3, 62), p.nonce_scope,
                                                              p.network, ('x' || pg_catalog.right(p.nonce, 2))::bit(8)::integer)
                          ELSE pg_catalog.format('authorizationState(%s, %s) on %s (%s)',
                                                 p.payer_address, p.nonce, p.nonce_scope, p.network) END AS onchain,
                     CASE WHEN permit2 THEN 'a set bit' ELSE 'true' END AS used,
                     CASE WHEN permit2 THEN 'a clear bit' ELSE 'false' END AS unused,
                     CASE WHEN permit2 THEN pg_catalog.format('the Transfer of %s from %s', p.asset, p.payer_address)
                          ELSE pg_catalog.format('AuthorizationUsed/Transfer from %s', p.payer_address) END AS event
                FROM (SELECT pg_catalog.lower(p.nonce_scope) = '0x000000000022d473030f116ddee9f6b43ac78ba3'
                             AND p.nonce ~ '^0x[0-9a-f]{64}$' AS permit2) k) c
         WHERE p.status IN ('pending', 'broadcast') AND pg_catalog.now() - p.created_at >= $1  -- (no overflow for any interval)
         ORDER BY p.created_at $q$ USING older_than;
END
$fn$;
COMMENT ON FUNCTION x402.unreconciled(interval) IS
'Settlements begun or broadcast but not confirmed, older than the given interval, oldest first: pending rows (begin_settlement() without an answer since) and broadcast rows (sent, not confirmed), with exactly what to look up (OKX''s status path with the hash, the chain''s authorizationState(payer, nonce) or Permit2''s nonceBitmap(payer, nonce >> 8), the explorer) and whether the authorization can still settle (validBefore). Readable by whoever may read the ledger (the signed payload is not needed).';

CREATE FUNCTION x402.payment_stats(since timestamptz DEFAULT NULL)
    RETURNS TABLE (endpoint text, network text, asset text, symbol text, requests bigint, settled bigint,
                   broadcast bigint, pending bigint, failed bigint, disputed bigint,
                   revenue numeric, revenue_tokens numeric, unconfirmed_revenue numeric, unconfirmed_revenue_tokens numeric,
                   latest_payment timestamptz)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
#variable_conflict use_column
BEGIN
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT CASE WHEN GROUPING(p.endpoint) = 0 THEN coalesce(p.endpoint, '') END, p.network, p.asset, a.symbol, count(*),
               count(*) FILTER (WHERE p.status = 'settled'), count(*) FILTER (WHERE p.status = 'broadcast'),
               count(*) FILTER (WHERE p.status = 'pending'), count(*) FILTER (WHERE p.status = 'failed'),
               count(*) FILTER (WHERE p.status = 'disputed'),
               coalesce(sum(coalesce(p.settled_amount, p.amount)) FILTER (WHERE p.status = 'settled'), 0)::numeric,
               trim_scale(coalesce(sum(coalesce(p.settled_amount, p.amount)) FILTER (WHERE p.status = 'settled'), 0)
                          / (10::numeric ^ coalesce(a.decimals, 0))),
               coalesce(sum(coalesce(p.settled_amount, p.amount)) FILTER (WHERE p.status = 'broadcast'), 0)::numeric,
               trim_scale(coalesce(sum(coalesce(p.settled_amount, p.amount)) FILTER (WHERE p.status = 'broadcast'), 0)
                          / (10::numeric ^ coalesce(a.decimals, 0))),
               max(p.created_at) FILTER (WHERE p.status = 'settled')
          FROM public.x402_payments p
          LEFT JOIN x402.assets a ON a.network = p.network AND a.asset = lower(p.asset)
         WHERE $1 IS NULL OR p.created_at >= $1
         GROUP BY GROUPING SETS ((p.network, p.asset, a.symbol, a.decimals),
                                 (p.endpoint, p.network, p.asset, a.symbol, a.decimals))
         ORDER BY 1 NULLS FIRST, 2, 3 $q$ USING since;
END
$fn$;
COMMENT ON FUNCTION x402.payment_stats(timestamptz) IS
'Dashboard numbers from public.x402_payments since a time (NULL: all), per network and asset (endpoint NULL: the totals) and per endpoint: requests (rows), settled (confirmed), broadcast (sent, not confirmed), pending (begun), failed, disputed; revenue from confirmed settlements and unconfirmed_revenue from broadcast ones (what settled, for upto the settled amount), in the smallest unit and in token units; latest_payment is the newest settled row.';

-- 0.2.0's columns, of x402.payment_stats().
CREATE FUNCTION x402.stats(since timestamptz DEFAULT NULL)
    RETURNS TABLE (endpoint text, network text, asset text, symbol text, requests bigint, settled bigint,
                   disputed bigint, revenue numeric, revenue_tokens numeric, latest_payment timestamptz,
                   pending bigint, failed bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
    SELECT s.endpoint, s.network, s.asset, s.symbol, s.requests, s.settled, s.disputed, s.revenue,
           s.revenue_tokens, s.latest_payment, s.pending, s.failed
      FROM x402.payment_stats(since) s
     ORDER BY 1 NULLS FIRST, 2, 3
$fn$;
COMMENT ON FUNCTION x402.stats(timestamptz) IS
'Dashboard numbers from public.x402_payments since a time (NULL: all): one row per network and asset with endpoint NULL (the totals), then one per endpoint ('''''' for rows recorded without one). requests counts every row (attempts); revenue counts confirmed settlements only (settled rows: never pending, broadcast, failed or disputed ones), what settled (for upto, the settled amount), in the smallest unit and in token units (x402.assets decimals); latest_payment is the newest settled row. The columns are 0.2.0''s; x402.payment_stats() also counts broadcast (sent, unconfirmed) payments and their revenue.';

CREATE FUNCTION x402.publish_payment() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    -- A payment is published when it is recorded as broadcast, settled or disputed
    -- (inserted so, or a row changing into one of them), once per status: subscribers see
    -- a broadcast payment and then its confirmation. Intents and failures are not payments.
    IF NEW.status IN ('broadcast', 'settled', 'disputed')
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
        -- The row without its signed payload: subscribers are clients.
        PERFORM realtime.publish(TG_ARGV[0], 'INSERT_' || TG_TABLE_NAME,
                                 pg_catalog.jsonb_build_object('new', pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) 'payload'));
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION x402.publish_payment() IS
'Trigger: publishes each ledger row (without its signed payload) through InsForge''s realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}) when it is recorded as broadcast, settled or disputed, once per status (the row''s status says which).';

CREATE FUNCTION x402.enable_realtime(channel text DEFAULT 'x402_payments') RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('x402.enable_realtime()');
    IF pg_catalog.to_regprocedure('realtime.publish(text,text,jsonb)') IS NULL THEN
        RAISE EXCEPTION 'realtime.publish(text, text, jsonb) does not exist'
            USING ERRCODE = '42883',
                  HINT = 'x402.enable_realtime() publishes through InsForge''s realtime schema; run it in an InsForge database.';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    IF channel IS NULL OR channel = '' THEN
        RAISE EXCEPTION 'channel must be a non-empty name' USING ERRCODE = '22023';
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE OR REPLACE TRIGGER x402_payments_realtime AFTER INSERT OR UPDATE OF status ON public.x402_payments
             FOR EACH ROW EXECUTE FUNCTION x402.publish_payment(%L)', channel);
    IF pg_catalog.to_regclass('realtime.channels') IS NOT NULL THEN
        IF pg_catalog.has_table_privilege('realtime.channels', 'INSERT')
           AND pg_catalog.has_table_privilege('realtime.channels', 'SELECT') THEN
            EXECUTE 'INSERT INTO realtime.channels (pattern, description, enabled)
                     SELECT $1, $2, true WHERE NOT EXISTS (SELECT 1 FROM realtime.channels WHERE pattern = $1)'
                USING channel, 'x402 settlements (insforge_integrations)';
        ELSE
            RAISE WARNING 'channel % was not registered in realtime.channels: % may not insert there', channel, current_user
                USING HINT = 'Register it as a role that may (InsForge: project_admin), or in the dashboard.';
        END IF;
    END IF;
    RETURN pg_catalog.format('public.x402_payments publishes INSERT_x402_payments on channel %s', channel);
END
$fn$;
COMMENT ON FUNCTION x402.enable_realtime(text) IS
'Adds a trigger that publishes each recorded payment through realtime.publish(channel, ''INSERT_x402_payments'', {"new": row without its signed payload}), as the InsForge x402 guide does (when a row is recorded as broadcast, settled or disputed, once per status, also when it completes an intent), and registers the channel in realtime.channels when that table exists. Runs as its caller, the ledger''s owner. Operators only (project_admin or a superuser).';
