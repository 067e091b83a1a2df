-- What every update to 0.3.0 creates before the functions (included by
-- sql/update/<A>--0.3.0/before.sql, after that version's own steps).
--
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
-- begin_settlement() return gains the new columns of the ledger.
ALTER TYPE x402.payment ADD ATTRIBUTE nonce_scope text, ADD ATTRIBUTE scheme text, ADD ATTRIBUTE valid_before timestamptz,
    ADD ATTRIBUTE payment_id text, ADD ATTRIBUTE settled_amount numeric(78,0), ADD ATTRIBUTE answers jsonb;
