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
    ('eip155:84532', '0x036cbd53842c5426634e7929541ec2318f3dcf7e', 'USDC', '2', 6, 'USDC', true);
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
    completed_at timestamptz
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
                             AND attname IN ('network', 'asset', 'payer_address', 'nonce', 'status')) < 5 THEN
        RETURN false;
    END IF;
    IF NOT (pg_catalog.has_schema_privilege('public', 'USAGE')
            AND pg_catalog.has_column_privilege(ledger, 'nonce', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'network', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'asset', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'payer_address', 'SELECT')
            AND pg_catalog.has_column_privilege(ledger, 'status', 'SELECT')) THEN
        RETURN NULL;
    END IF;
    -- Recorded means settled, disputed or pending (an intent: /settle may be under
    -- way); a failed settlement left the nonce unused on chain. Static SQL: planned
    -- once per session (replanned by the plan cache after DDL), and only reached once
    -- the columns exist.
    RETURN EXISTS (SELECT 1 FROM public.x402_payments
                    WHERE nonce = lower(p_nonce) AND network = p_network AND lower(asset) = lower(p_asset)
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
      FROM public.x402_payments WHERE status IS NULL OR status NOT IN ('pending', 'settled', 'disputed', 'failed');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.status holds values other than pending, settled, disputed and failed: %', bad
            USING ERRCODE = '22023',
                  HINT = 'Map them to one of those four, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    -- One signed authorization (network, asset, payer, nonce) can settle once on chain;
    -- 0.1.0 could record it under two transaction hashes as two settled payments.
    IF (SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = 'public.x402_payments'::regclass
           AND attname IN ('network', 'asset', 'nonce') AND NOT attisdropped) = 3 THEN
        EXECUTE $q$
            SELECT pg_catalog.string_agg(pg_catalog.format('nonce %s of %s on %s: %s', nonce, payer_address, network, txs), '; ')
              FROM (SELECT network, lower(asset), pg_catalog.min(payer_address) AS payer_address, nonce,
                           pg_catalog.string_agg(tx_hash, ', ' ORDER BY created_at, tx_hash) AS txs
                      FROM public.x402_payments
                     WHERE status IN ('pending', 'settled') AND nonce IS NOT NULL AND network IS NOT NULL
                     GROUP BY network, lower(asset), lower(payer_address), nonce HAVING count(*) > 1 LIMIT 5) d $q$
            INTO bad;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'public.x402_payments records one authorization as settled more than once (on chain only one transaction can have used it): %', bad
                USING ERRCODE = '23505',
                      HINT = 'Look the transactions up; mark every one but the real one disputed, e.g. UPDATE public.x402_payments SET status = ''disputed'', dispute_reason = ''nonce reuse'' WHERE tx_hash = ''0x...''; then run SELECT x402.install_ledger(); again. Nothing was changed.';
        END IF;
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
        ADD COLUMN IF NOT EXISTS completed_at timestamptz;
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
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_status') THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_status
            CHECK (status IN ('pending', 'settled', 'disputed', 'failed') AND (tx_hash IS NOT NULL OR status IN ('pending', 'failed')));
    END IF;
    -- At most one live row (pending or settled) per authorization; every lookup by nonce indexed.
    CREATE UNIQUE INDEX IF NOT EXISTS x402_payments_authorization_key
        ON public.x402_payments (network, lower(asset), lower(payer_address), nonce) WHERE status IN ('pending', 'settled');
    CREATE INDEX IF NOT EXISTS x402_payments_nonce ON public.x402_payments (nonce);
    CREATE INDEX IF NOT EXISTS x402_payments_pending ON public.x402_payments (created_at) WHERE status = 'pending';

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

-- The settlement journal (issue 10). One row per authorization attempt, keyed by
-- the authorization (network, asset, payer, nonce) and, once there is one, by the
-- transaction hash:
--   pending   x402.begin_settlement() wrote the intent before /settle; no answer yet
--   settled   the facilitator settled it and payload, requirements and answer agree
--   disputed  money moved (there is a transaction) but something disagrees, or the
--             authorization was already recorded under another transaction
--   failed    the facilitator answered success = false (its reason in failure_reason)
-- At most one live row (pending or settled) per authorization
-- (x402_payments_authorization_key); failed and disputed rows are history.

-- Checks a settlement that is already recorded under its transaction hash: the
-- same facts (a retry, or a concurrent twin that committed first) are fine,
-- other facts raise 23505.
CREATE FUNCTION x402._same_settlement(r x402.payment, f jsonb) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF (lower(r.payer_address), r.amount::text, r.network, lower(r.asset), lower(r.pay_to), r.nonce)
       IS DISTINCT FROM
       (lower(f ->> 'payer_address'), f ->> 'amount', f ->> 'network', lower(f ->> 'asset'), lower(f ->> 'pay_to'), f ->> 'nonce')
       OR (r.status = 'failed') IS DISTINCT FROM (f ->> 'status' = 'failed') THEN
        RAISE EXCEPTION 'transaction % is already recorded with different facts', f ->> 'tx_hash'
            USING ERRCODE = '23505',
                  DETAIL = pg_catalog.format('recorded: %s, payer %s, amount %s, pay_to %s, network %s, asset %s, nonce %s; given: %s, payer %s, amount %s, pay_to %s, network %s, asset %s, nonce %s',
                                             r.status, r.payer_address, r.amount, r.pay_to, r.network, r.asset, r.nonce,
                                             f ->> 'status', f ->> 'payer_address', f ->> 'amount', f ->> 'pay_to',
                                             f ->> 'network', f ->> 'asset', f ->> 'nonce'),
                  HINT = 'A transaction hash identifies one settlement. Nothing was changed.';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION x402._same_settlement(x402.payment, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._same_settlement(x402.payment, jsonb) IS
'Internal (record_settlement): raises 23505 when a transaction already recorded is given with other facts.';

-- Everything record_settlement() does but the common case (src/sql_x402.rs: a settlement
-- that agrees, new for the ledger, is one INSERT there). f: x402._settlement_facts().
CREATE FUNCTION x402._record_settlement(payload jsonb, requirements jsonb, settlement jsonb,
                                        endpoint text, response_summary text, f jsonb)
    RETURNS x402.payment
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    r x402.payment;
    v_status text;
    v_reason text;
    first_tx text;
    attempt int := 0;
BEGIN
    -- Only record_settlement() calls it, with facts it has just derived; a direct call by the
    -- extension's owner with anything else writes nothing.
    IF pg_catalog.jsonb_typeof(f) IS DISTINCT FROM 'object' OR f ->> 'payer_address' IS NULL
       OR coalesce(f ->> 'status', '') NOT IN ('settled', 'disputed', 'failed')
       OR (f ->> 'amount') IS NOT DISTINCT FROM NULL OR (f ->> 'amount') !~ '^[0-9]{1,78}$'
       OR (f ->> 'tx_hash') !~ '^0x[0-9a-f]{64}$'
       OR (f ->> 'tx_hash' IS NULL AND f ->> 'status' <> 'failed') THEN
        RAISE EXCEPTION 'x402._record_settlement: f is not what x402._settlement_facts() gives: %', f
            USING ERRCODE = '22023', HINT = 'Call x402.record_settlement(payload, requirements, settlement). Nothing was written.';
    END IF;
    LOOP
        attempt := attempt + 1;
        v_status := f ->> 'status';
        v_reason := f ->> 'dispute_reason';
        -- 1. This transaction is recorded already: a retry, or a twin that committed first.
        IF f ->> 'tx_hash' IS NOT NULL THEN
            SELECT p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r FROM public.x402_payments p WHERE p.tx_hash = f ->> 'tx_hash';
            IF FOUND THEN
                PERFORM x402._same_settlement(r, f);
                RETURN r;
            END IF;
        END IF;
        -- 2. The authorization is recorded under another transaction: on chain only one of
        --    them can have used it, so this one is disputed (and never counted as revenue).
        IF v_status <> 'failed' AND f ->> 'nonce' IS NOT NULL THEN
            SELECT p.tx_hash INTO first_tx FROM public.x402_payments p
             WHERE p.nonce = f ->> 'nonce' AND p.network = f ->> 'network' AND lower(p.asset) = lower(f ->> 'asset')
               AND lower(p.payer_address) = lower(f ->> 'payer_address') AND p.tx_hash IS NOT NULL
               AND p.status IN ('settled', 'disputed')
             ORDER BY p.created_at, p.tx_hash LIMIT 1;
            IF FOUND THEN
                v_status := 'disputed';
                v_reason := concat_ws('; ', v_reason, pg_catalog.format(
                    'authorization (nonce %s) already recorded under transaction %s: on chain only one of them can have used it',
                    f ->> 'nonce', first_tx));
            END IF;
        END IF;
        -- 3. Complete the intent begin_settlement() wrote, exactly once.
        IF f ->> 'nonce' IS NOT NULL THEN
            UPDATE public.x402_payments p
               SET tx_hash = f ->> 'tx_hash', status = v_status, dispute_reason = v_reason,
                   failure_reason = f ->> 'failure_reason', payer_address = f ->> 'payer_address',
                   amount = (f ->> 'amount')::numeric, pay_to = f ->> 'pay_to', chain = coalesce(f ->> 'chain', p.chain),
                   endpoint = coalesce($4, p.endpoint), response_summary = coalesce($5, p.response_summary),
                   payload = $1, requirements = $2, settlement = $3, completed_at = pg_catalog.now()
             WHERE p.nonce = f ->> 'nonce' AND p.network = f ->> 'network' AND lower(p.asset) = lower(f ->> 'asset')
               AND lower(p.payer_address) = lower(f ->> 'payer_address') AND p.status = 'pending'
            RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r;
            IF FOUND THEN
                RETURN r;
            END IF;
        END IF;
        -- 4. No intent: the row is new.
        INSERT INTO public.x402_payments AS p
            (payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network, asset, pay_to, nonce,
             dispute_reason, failure_reason, payload, requirements, settlement, completed_at)
        VALUES (f ->> 'payer_address', $4, (f ->> 'amount')::numeric, f ->> 'tx_hash', coalesce(f ->> 'chain', 'xlayer'),
                v_status, $5, f ->> 'network', f ->> 'asset', f ->> 'pay_to', f ->> 'nonce',
                v_reason, f ->> 'failure_reason', $1, $2, $3, pg_catalog.now())
        ON CONFLICT DO NOTHING
        RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r;
        IF FOUND THEN
            RETURN r;
        END IF;
        -- 5. A concurrent twin (same transaction, or the same authorization) committed first:
        --    look again with what it wrote.
        IF attempt >= 3 THEN
            RAISE EXCEPTION 'could not record transaction % after % attempts: concurrent writers keep changing its authorization''s rows',
                    f ->> 'tx_hash', attempt
                USING ERRCODE = '40001', HINT = 'Retry the call; nothing was written.';
        END IF;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION x402._record_settlement(jsonb, jsonb, jsonb, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._record_settlement(jsonb, jsonb, jsonb, text, text, jsonb) IS
'Internal (record_settlement, which alone may run it): a retry or twin of a recorded transaction, a pending intent to complete, a second transaction for an authorization, a disputed or failed answer. f: the facts x402._settlement_facts() gives.';

CREATE FUNCTION x402.record_settlement(payload jsonb, requirements jsonb, settlement jsonb,
                                       endpoint text DEFAULT NULL, response_summary text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    -- Every lookup it makes has an index (tx_hash, nonce); its plans are kept for the
    -- session, and a ledger analyzed while nearly empty must not leave them scanning it.
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'record_settlement_wrapper';
COMMENT ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) IS
'Records the facilitator''s answer to /settle exactly once and returns the row: completes the pending intent of begin_settlement() for this authorization, or writes a new row. settled when payload, requirements and answer agree; disputed (with the reason) when money moved but something disagrees, or the authorization is already recorded under another transaction; failed (with the facilitator''s reason) for success = false. The same answer again returns the existing row; the same tx hash with other facts raises 23505 and changes nothing. No payer, or success without a tx hash: 22023, nothing written. Runs as its caller, who must be able to write the ledger. Operators only (project_admin: the service key).';
REVOKE ALL ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) FROM PUBLIC;

-- Everything begin_settlement() does but the common case (src/sql_x402.rs: an authorization
-- the ledger has no live row for is one INSERT there). f: the facts begin_settlement() derived.
CREATE FUNCTION x402._begin_settlement(payload jsonb, requirements jsonb, endpoint text, f jsonb)
    RETURNS x402.payment
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    r x402.payment;
BEGIN
    -- Only begin_settlement() calls it, with facts it has just derived; a direct call by the
    -- extension's owner with anything else writes nothing.
    IF pg_catalog.jsonb_typeof(f) IS DISTINCT FROM 'object'
       OR f ->> 'payer_address' IS NULL OR f ->> 'network' IS NULL OR f ->> 'asset' IS NULL
       OR f ->> 'pay_to' IS NULL OR f ->> 'nonce' IS NULL
       OR (f ->> 'amount') IS NOT DISTINCT FROM NULL OR (f ->> 'amount') !~ '^[0-9]{1,78}$' THEN
        RAISE EXCEPTION 'x402._begin_settlement: f is not the facts begin_settlement() derives: %', f
            USING ERRCODE = '22023', HINT = 'Call x402.begin_settlement(payload, requirements). Nothing was written.';
    END IF;
    -- begin_settlement's INSERT has just met a live row of this authorization: look for it
    -- first, and write the intent only if it has gone since (a concurrent writer).
    FOR attempt IN 1..3 LOOP
        -- The authorization has a live row: its pending intent (a retry of begin) or its
        -- settlement (already paid: do not /settle again). Either way, that row.
        SELECT p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r FROM public.x402_payments p
         WHERE p.nonce = f ->> 'nonce' AND p.network = f ->> 'network' AND lower(p.asset) = lower(f ->> 'asset')
           AND lower(p.payer_address) = lower(f ->> 'payer_address') AND p.status IN ('pending', 'settled');
        IF FOUND THEN
            RETURN r;
        END IF;
        INSERT INTO public.x402_payments AS p
            (payer_address, endpoint, amount, chain, status, network, asset, pay_to, nonce, payload, requirements)
        VALUES (f ->> 'payer_address', $3, (f ->> 'amount')::numeric, f ->> 'chain', 'pending', f ->> 'network',
                f ->> 'asset', f ->> 'pay_to', f ->> 'nonce', $1, $2)
        ON CONFLICT DO NOTHING
        RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r;
        IF FOUND THEN
            RETURN r;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'could not write the intent for nonce % after 3 attempts: concurrent writers keep changing its rows', f ->> 'nonce'
        USING ERRCODE = '40001', HINT = 'Retry the call; nothing was written.';
END
$fn$;
REVOKE ALL ON FUNCTION x402._begin_settlement(jsonb, jsonb, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._begin_settlement(jsonb, jsonb, text, jsonb) IS
'Internal (begin_settlement, which alone may run it): an authorization that already has a live row (a retried begin, or already settled), or a concurrent twin. f: the facts begin_settlement() derived.';

CREATE FUNCTION x402.begin_settlement(payload jsonb, requirements jsonb, endpoint text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off  -- as record_settlement: its kept plans use the ledger's indexes
    AS 'MODULE_PATHNAME', 'begin_settlement_wrapper';
COMMENT ON FUNCTION x402.begin_settlement(jsonb, jsonb, text) IS
'Writes the intent to settle a payment before calling the facilitator''s /settle: a pending row keyed by the authorization (network, asset, payer, nonce), so that a settlement is never unaccounted even if the app dies before record_settlement(). Returns the row; when the authorization already has a pending or settled row, returns that one instead (status settled: it is paid, do not settle again). Malformed payload or requirements: 22023, nothing written. Runs as its caller, who must be able to write the ledger. Operators only (project_admin: the service key).';
REVOKE ALL ON FUNCTION x402.begin_settlement(jsonb, jsonb, text) FROM PUBLIC;

-- Where to look a payer's transactions up, for the networks the extension knows.
CREATE FUNCTION x402._explorer_address_url(network text, address text) RETURNS text
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
REVOKE ALL ON FUNCTION x402._explorer_address_url(text, text) FROM PUBLIC;
COMMENT ON FUNCTION x402._explorer_address_url(text, text) IS
'Internal (unreconciled): the block explorer page of an address, for the networks the extension knows (NULL for others).';

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
               p.nonce, p.amount, p.pay_to, vb.t, vb.t IS NULL OR vb.t > pg_catalog.now(),
               pg_catalog.format('authorizationState(%s, %s) on token %s (%s): true means the authorization was used, '
                                 || 'so find its transaction (AuthorizationUsed/Transfer from %s) and record it with '
                                 || 'x402.record_settlement(); false %s',
                                 p.payer_address, p.nonce, p.asset, p.network, p.payer_address,
                                 CASE WHEN vb.t IS NOT NULL AND vb.t <= pg_catalog.now()
                                      THEN 'means it never settled and no longer can (validBefore passed): record the facilitator''s failure with x402.record_settlement(payload, requirements, ''{"success": false, "errorReason": "..."}'')'
                                      ELSE 'means it has not settled yet; ask the facilitator about the /settle call' END),
               x402._explorer_address_url(p.network, p.payer_address)
          FROM public.x402_payments p
          CROSS JOIN LATERAL (SELECT CASE WHEN p.payload #>> '{payload,authorization,validBefore}' ~ '^[0-9]{1,15}$'
                                          THEN pg_catalog.to_timestamp((p.payload #>> '{payload,authorization,validBefore}')::double precision)
                                     END AS t) vb
         WHERE p.status = 'pending' AND pg_catalog.now() - p.created_at >= $1  -- (no overflow for any interval)
         ORDER BY p.created_at $q$ USING older_than;
END
$fn$;
COMMENT ON FUNCTION x402.unreconciled(interval) IS
'Pending settlements (begin_settlement() without a record_settlement() since) older than the given interval, oldest first, with what to look up on chain or at the facilitator (authorizationState(payer, nonce) on the token, the explorer) and whether the authorization can still settle (validBefore). Readable by whoever may read the ledger.';

CREATE FUNCTION x402.stats(since timestamptz DEFAULT NULL)
    RETURNS TABLE (endpoint text, network text, asset text, symbol text, requests bigint, settled bigint,
                   disputed bigint, revenue numeric, revenue_tokens numeric, latest_payment timestamptz,
                   pending bigint, failed bigint)
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
               count(*) FILTER (WHERE p.status = 'settled'), count(*) FILTER (WHERE p.status = 'disputed'),
               coalesce(sum(p.amount) FILTER (WHERE p.status = 'settled'), 0)::numeric,
               trim_scale(coalesce(sum(p.amount) FILTER (WHERE p.status = 'settled'), 0) / (10::numeric ^ coalesce(a.decimals, 0))),
               max(p.created_at) FILTER (WHERE p.status = 'settled'),
               count(*) FILTER (WHERE p.status = 'pending'), count(*) FILTER (WHERE p.status = 'failed')
          FROM public.x402_payments p
          LEFT JOIN x402.assets a ON a.network = p.network AND a.asset = lower(p.asset)
         WHERE $1 IS NULL OR p.created_at >= $1
         GROUP BY GROUPING SETS ((p.network, p.asset, a.symbol, a.decimals),
                                 (p.endpoint, p.network, p.asset, a.symbol, a.decimals))
         ORDER BY 1 NULLS FIRST, 2, 3 $q$ USING since;
END
$fn$;
COMMENT ON FUNCTION x402.stats(timestamptz) IS
'Dashboard numbers from public.x402_payments since a time (NULL: all): one row per network and asset with endpoint NULL (the totals), then one per endpoint ('''''' for rows recorded without one). requests counts every row (attempts); revenue counts settled rows only (never pending, failed or disputed ones, such as a second transaction for one authorization), in the smallest unit and in token units (x402.assets decimals); latest_payment is the newest settled row.';

CREATE FUNCTION x402.publish_payment() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    -- A payment is published once, when it is recorded: inserted as settled or disputed,
    -- or a pending intent (or a failed attempt) completed as one. Intents and failures
    -- are not payments.
    IF NEW.status IN ('settled', 'disputed')
       AND (TG_OP = 'INSERT' OR OLD.status IS NULL OR OLD.status NOT IN ('settled', 'disputed')) THEN
        -- The row without its signed payload: subscribers are clients.
        PERFORM realtime.publish(TG_ARGV[0], 'INSERT_' || TG_TABLE_NAME,
                                 pg_catalog.jsonb_build_object('new', pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) 'payload'));
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION x402.publish_payment() IS
'Trigger: publishes each ledger row (without its signed payload) through InsForge''s realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}) once, when it is recorded as settled or disputed (inserted so, or completed from a pending intent).';

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
'Adds a trigger that publishes each recorded payment through realtime.publish(channel, ''INSERT_x402_payments'', {"new": row without its signed payload}), as the InsForge x402 guide does (once, when a row is recorded as settled or disputed, also when it completes a pending intent), and registers the channel in realtime.channels when that table exists. Runs as its caller, the ledger''s owner. Operators only (project_admin or a superuser).';
