-- insforge_integrations 0.2.0 -> 0.3.0, hand-written part run first.
--
-- 1. The guard every script starts with: refuse a schema someone else created or
--    filled, then pin the search path (sql/guard.sql).
-- @include sql/guard.sql

-- 2. The role that owns the JWT key and the code that reaches it (sql/roles.sql).
-- @include sql/roles.sql

-- 3. Functions 0.3.0 no longer has. The ledger's functions run as their caller now
--    (SECURITY.md), so the privileged halves of install_ledger() and
--    enable_realtime() are gone, and the operator check takes no privileged function.
DROP FUNCTION x402._install_ledger(regrole);
DROP FUNCTION x402._enable_realtime(text);
DROP FUNCTION insforge._require_operator(text, regprocedure);

-- The operator's settings for its database (sql/settings.sql); its triggers come after the
-- functions they call (after.sql).
CREATE TABLE insforge.database_settings (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE insforge.database_settings IS
'The operator''s insforge_integrations settings for this database (write them with insforge.set_setting()); a value a superuser set takes precedence. Read by the identity functions at each session''s next transaction after a change.';
SELECT pg_catalog.pg_extension_config_dump('insforge.database_settings', '');
GRANT SELECT ON insforge.database_settings TO PUBLIC;

-- The settlement journal (sql/x402.sql, src/ledger.rs): what record_settlement() and
-- begin_settlement() return gains the new columns of the ledger, and its PL/pgSQL halves
-- are gone (the journal decides in Rust now).
DROP FUNCTION x402._record_settlement(jsonb, jsonb, jsonb, text, text, jsonb);
DROP FUNCTION x402._begin_settlement(jsonb, jsonb, text, jsonb);
DROP FUNCTION x402._same_settlement(x402.payment, jsonb);
ALTER TYPE x402.payment ADD ATTRIBUTE nonce_scope text, ADD ATTRIBUTE scheme text, ADD ATTRIBUTE valid_before timestamptz,
    ADD ATTRIBUTE payment_id text, ADD ATTRIBUTE settled_amount numeric(78,0), ADD ATTRIBUTE answers jsonb;
-- x402._explorer_address_url() is public now, as x402.explorer_url().
DROP FUNCTION x402._explorer_address_url(text, text);
