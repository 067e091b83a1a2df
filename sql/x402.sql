-- x402 settlement records (issue 4). The codecs, EIP-712 hashing and signature
-- recovery are Rust (src/sql_x402.rs); the ledger logic is here.
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

-- What record_settlement() returns: the ledger's columns.
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
    settlement jsonb
);

-- Used by x402.verify_payment(): whether the ledger already holds this payer's
-- nonce for this asset. Discloses nothing but that boolean.
CREATE FUNCTION x402._nonce_recorded(p_network text, p_asset text, p_payer text, p_nonce text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    found boolean;
BEGIN
    -- No ledger yet, or a guide-made one not yet upgraded by x402.install_ledger():
    -- nothing is recorded in the shape this check reads. (No EXCEPTION block: that
    -- would be a subtransaction, which parallel workers may not start.)
    IF (SELECT count(*) FROM pg_catalog.pg_attribute
         WHERE attrelid = pg_catalog.to_regclass('public.x402_payments')
           AND attname IN ('network', 'asset', 'payer_address', 'nonce') AND NOT attisdropped) < 4 THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM public.x402_payments
                             WHERE network = $1 AND lower(asset) = lower($2)
                               AND lower(payer_address) = lower($3) AND nonce = lower($4))'
        INTO found USING p_network, p_asset, p_payer, p_nonce;
    RETURN found;
END
$fn$;

-- The privileged part of x402.install_ledger() (below), run as the extension's
-- owner. `owner` is the operator who called install_ledger(): a table it creates
-- is handed to that role, as InsForge expects of public objects (project_admin
-- owns what it creates); an existing table keeps its owner.
CREATE FUNCTION x402._install_ledger(owner regrole) RETURNS regclass
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    bad text;
    r text;
BEGIN
    IF owner IS NULL OR NOT (pg_catalog.has_function_privilege(owner, 'x402._install_ledger(regrole)', 'EXECUTE')
                             OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner)) THEN
        RAISE EXCEPTION 'the ledger''s owner must be an operator of insforge_integrations (project_admin or a superuser), not %', owner
            USING ERRCODE = '42501';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        CREATE TABLE public.x402_payments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            payer_address text NOT NULL,
            endpoint text,
            amount numeric(78,0) NOT NULL,
            tx_hash text NOT NULL,
            chain text NOT NULL DEFAULT 'xlayer',
            status text NOT NULL DEFAULT 'settled',
            response_summary text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE public.x402_payments IS
            'x402 settlements, one row per on-chain transaction; written by x402.record_settlement() (insforge_integrations).';
        EXECUTE pg_catalog.format('ALTER TABLE public.x402_payments OWNER TO %s', owner);
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

    ALTER TABLE public.x402_payments
        ADD COLUMN IF NOT EXISTS network text,
        ADD COLUMN IF NOT EXISTS asset text,
        ADD COLUMN IF NOT EXISTS pay_to text,
        ADD COLUMN IF NOT EXISTS nonce text,
        ADD COLUMN IF NOT EXISTS dispute_reason text,
        ADD COLUMN IF NOT EXISTS payload jsonb,
        ADD COLUMN IF NOT EXISTS requirements jsonb,
        ADD COLUMN IF NOT EXISTS settlement jsonb;
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

    -- Clients read (the guide's public-read policy); only the service role and
    -- x402.record_settlement() write.
    ALTER TABLE public.x402_payments ENABLE ROW LEVEL SECURITY;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.x402_payments FROM PUBLIC;
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.x402_payments FROM %I', r);
            EXECUTE pg_catalog.format('GRANT SELECT ON public.x402_payments TO %I', r);
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
REVOKE ALL ON FUNCTION x402._install_ledger(regrole) FROM PUBLIC;
COMMENT ON FUNCTION x402._install_ledger(regrole) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of x402.install_ledger().';

CREATE FUNCTION x402.install_ledger() RETURNS regclass
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('x402.install_ledger()', 'x402._install_ledger(regrole)');
    RETURN x402._install_ledger(current_user::regrole);
END
$fn$;
COMMENT ON FUNCTION x402.install_ledger() IS
'Creates public.x402_payments (owned by the caller), or upgrades a guide-made one in place keeping its rows (amount to numeric(78,0), unique lower-case tx_hash, the extra columns, RLS with public read, writes for project_admin only). Idempotent. The table is user data: pg_dump dumps it and DROP EXTENSION never removes it. Operators only (project_admin or a superuser).';

CREATE FUNCTION x402.record_settlement(payload jsonb, requirements jsonb, settlement jsonb,
                                       endpoint text DEFAULT NULL, response_summary text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    f jsonb;
    r x402.payment;
BEGIN
    IF $1 IS NULL OR $2 IS NULL OR $3 IS NULL THEN
        RAISE EXCEPTION 'payload, requirements and settlement are all required'
            USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    f := x402._settlement_facts($1, $2, $3);
    INSERT INTO public.x402_payments AS p
        (payer_address, endpoint, amount, tx_hash, chain, status, response_summary,
         network, asset, pay_to, nonce, dispute_reason, payload, requirements, settlement)
    VALUES (f ->> 'payer_address', $4, (f ->> 'amount')::numeric, f ->> 'tx_hash', coalesce(f ->> 'chain', 'xlayer'),
            f ->> 'status', $5, f ->> 'network', f ->> 'asset', f ->> 'pay_to', f ->> 'nonce',
            f ->> 'dispute_reason', $1, $2, $3)
    ON CONFLICT (tx_hash) DO NOTHING
    RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary,
              p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements,
              p.settlement
    INTO r;
    IF FOUND THEN
        RETURN r;
    END IF;
    -- Recorded before (a retry, or a concurrent twin that committed first).
    SELECT p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary,
           p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements,
           p.settlement
      INTO r FROM public.x402_payments p WHERE p.tx_hash = f ->> 'tx_hash';
    IF (lower(r.payer_address), r.amount::text, r.network, lower(r.asset), lower(r.pay_to), r.nonce)
       IS DISTINCT FROM
       (lower(f ->> 'payer_address'), f ->> 'amount', f ->> 'network', lower(f ->> 'asset'), lower(f ->> 'pay_to'), f ->> 'nonce') THEN
        RAISE EXCEPTION 'transaction % is already recorded with different facts', f ->> 'tx_hash'
            USING ERRCODE = '23505',
                  DETAIL = pg_catalog.format('recorded: payer %s, amount %s, pay_to %s, network %s, asset %s, nonce %s; given: payer %s, amount %s, pay_to %s, network %s, asset %s, nonce %s',
                                             r.payer_address, r.amount, r.pay_to, r.network, r.asset, r.nonce,
                                             f ->> 'payer_address', f ->> 'amount', f ->> 'pay_to', f ->> 'network', f ->> 'asset', f ->> 'nonce'),
                  HINT = 'A transaction hash identifies one settlement. Nothing was changed.';
    END IF;
    RETURN r;
END
$fn$;
COMMENT ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) IS
'Records a settled x402 payment exactly once and returns its row. The same settlement again returns the existing row; the same tx hash with other facts raises 23505 and changes nothing. Disagreements between payload, requirements and settlement never lose the payment: the row is written with status disputed and the reason. No tx hash or no payer: 22023, nothing written. Executable by project_admin (the service key) only.';
REVOKE ALL ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) FROM PUBLIC;

CREATE FUNCTION x402.stats(since timestamptz DEFAULT NULL)
    RETURNS TABLE (endpoint text, network text, asset text, symbol text, requests bigint, settled bigint,
                   disputed bigint, revenue numeric, revenue_tokens numeric, latest_payment timestamptz)
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
        SELECT p.endpoint, p.network, p.asset, a.symbol, count(*),
               count(*) FILTER (WHERE p.status = 'settled'), count(*) FILTER (WHERE p.status = 'disputed'),
               coalesce(sum(p.amount) FILTER (WHERE p.status = 'settled'), 0)::numeric,
               trim_scale(coalesce(sum(p.amount) FILTER (WHERE p.status = 'settled'), 0) / (10::numeric ^ coalesce(a.decimals, 0))),
               max(p.created_at)
          FROM public.x402_payments p
          LEFT JOIN x402.assets a ON a.network = p.network AND a.asset = lower(p.asset)
         WHERE $1 IS NULL OR p.created_at >= $1
         GROUP BY GROUPING SETS ((p.network, p.asset, a.symbol, a.decimals),
                                 (p.endpoint, p.network, p.asset, a.symbol, a.decimals))
         ORDER BY p.endpoint NULLS FIRST, p.network, p.asset $q$ USING since;
END
$fn$;
COMMENT ON FUNCTION x402.stats(timestamptz) IS
'Dashboard numbers from public.x402_payments since a time (NULL: all): one row per network and asset with endpoint NULL (the totals), then one per endpoint. Revenue counts settled rows, in the smallest unit and in token units (x402.assets decimals).';

CREATE FUNCTION x402.publish_payment() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM realtime.publish(TG_ARGV[0], 'INSERT_' || TG_TABLE_NAME, pg_catalog.jsonb_build_object('new', pg_catalog.to_jsonb(NEW)));
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION x402.publish_payment() IS
'Trigger: publishes each new ledger row through InsForge''s realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}).';

CREATE FUNCTION x402._enable_realtime(channel text) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
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
        'CREATE OR REPLACE TRIGGER x402_payments_realtime AFTER INSERT ON public.x402_payments
             FOR EACH ROW EXECUTE FUNCTION x402.publish_payment(%L)', channel);
    IF pg_catalog.to_regclass('realtime.channels') IS NOT NULL THEN
        EXECUTE 'INSERT INTO realtime.channels (pattern, description, enabled)
                 SELECT $1, $2, true WHERE NOT EXISTS (SELECT 1 FROM realtime.channels WHERE pattern = $1)'
            USING channel, 'x402 settlements (insforge_integrations)';
    END IF;
    RETURN pg_catalog.format('public.x402_payments publishes INSERT_x402_payments on channel %s', channel);
END
$fn$;
REVOKE ALL ON FUNCTION x402._enable_realtime(text) FROM PUBLIC;
COMMENT ON FUNCTION x402._enable_realtime(text) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of x402.enable_realtime().';

CREATE FUNCTION x402.enable_realtime(channel text DEFAULT 'x402_payments') RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('x402.enable_realtime()', 'x402._enable_realtime(text)');
    RETURN x402._enable_realtime(channel);
END
$fn$;
COMMENT ON FUNCTION x402.enable_realtime(text) IS
'Adds a trigger that publishes each new ledger row through realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}), as the InsForge x402 guide does, and registers the channel in realtime.channels when that table exists. Operators only (project_admin or a superuser).';
