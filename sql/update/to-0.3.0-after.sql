-- What every update to 0.3.0 runs last (included by sql/update/<A>--0.3.0/after.sql).
--
-- The JWT key and the four functions that reach it belong to the key's role.
ALTER TABLE insforge.jwt_secret OWNER TO insforge_integrations_secrets;
ALTER FUNCTION insforge._set_jwt_secret(text) OWNER TO insforge_integrations_secrets;
ALTER FUNCTION insforge._jwt_key() OWNER TO insforge_integrations_secrets;
ALTER FUNCTION insforge.jwt_secret_configured() OWNER TO insforge_integrations_secrets;
ALTER FUNCTION insforge.lint_jwt_secret_exposed() OWNER TO insforge_integrations_secrets;

-- The triggers of the operator's settings table (sql/settings.sql).
CREATE TRIGGER database_settings_check BEFORE INSERT OR UPDATE OR DELETE ON insforge.database_settings
    FOR EACH ROW EXECUTE FUNCTION insforge._database_settings_row();
CREATE TRIGGER database_settings_truncate BEFORE TRUNCATE ON insforge.database_settings
    FOR EACH STATEMENT EXECUTE FUNCTION insforge._database_settings_row();

-- The advisor's rules are for operators (sql/operator.sql); the operators get them back
-- with the rest of their privileges below.
DO $do$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT object FROM insforge._operator_privileges() WHERE object LIKE 'insforge.lint\_%' LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.object);
    END LOOP;
END
$do$;

-- USD₮0 on X Layer joins the built-in assets (docs/x402.md, "Assets and their evidence").
INSERT INTO x402.assets VALUES
    ('eip155:196', '0x779ded0c9e1022225f8e0630b35a9b54be713736', 'USD₮0', '1', 6, 'USDT0', true)
ON CONFLICT (network, asset) DO NOTHING;
