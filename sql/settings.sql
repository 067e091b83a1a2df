-- The operator's settings for its database (src/database_settings.rs).
--
-- Every insforge_integrations.* setting is SUSET: no client may change one. InsForge never
-- hands a project a superuser, so ALTER DATABASE ... SET is out of the operator's reach; the
-- operator sets them here instead, for this database, with its own table privileges:
--
--   SELECT insforge.set_setting('strict', 'on');
--   SELECT * FROM insforge.settings();
--
-- A trigger validates each value as the setting's own parser does (22023 otherwise) and
-- stores it in canonical form; every write makes every session read the table again at its
-- next transaction (a relcache invalidation), so pooled connections follow without a
-- restart. A value a superuser set (postgresql.conf, ALTER SYSTEM, ALTER DATABASE/ROLE ...
-- SET, a session's SET) takes precedence. The rows are dumped by pg_dump.
CREATE TABLE insforge.database_settings (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE insforge.database_settings IS
'The operator''s insforge_integrations settings for this database (write them with insforge.set_setting()); a value a superuser set takes precedence. Read by the identity functions at each session''s next transaction after a change.';
SELECT pg_catalog.pg_extension_config_dump('insforge.database_settings', '');
GRANT SELECT ON insforge.database_settings TO PUBLIC;  -- as every setting is readable with SHOW

CREATE FUNCTION insforge._database_settings_row() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._settings_changed();
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        NEW.name := insforge._setting_name(NEW.name);
        NEW.value := insforge._setting_value(NEW.name, NEW.value);
        NEW.updated_at := pg_catalog.now();
        RETURN NEW;
    END IF;
    RETURN OLD;
END
$fn$;
REVOKE ALL ON FUNCTION insforge._database_settings_row() FROM PUBLIC;
COMMENT ON FUNCTION insforge._database_settings_row() IS
'Internal (trigger of insforge.database_settings): validates and canonicalises each value, and makes every session read the settings again at its next transaction.';
CREATE TRIGGER database_settings_check BEFORE INSERT OR UPDATE OR DELETE ON insforge.database_settings
    FOR EACH ROW EXECUTE FUNCTION insforge._database_settings_row();
CREATE TRIGGER database_settings_truncate BEFORE TRUNCATE ON insforge.database_settings
    FOR EACH STATEMENT EXECUTE FUNCTION insforge._database_settings_row();

CREATE FUNCTION insforge.set_setting(name text, value text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    stored insforge.database_settings;
BEGIN
    PERFORM insforge._require_operator('insforge.set_setting()');
    IF name IS NULL THEN
        RAISE EXCEPTION 'insforge.set_setting(name, value): name must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF value IS NULL THEN
        RETURN insforge.reset_setting(name);
    END IF;
    INSERT INTO insforge.database_settings AS s (name, value) VALUES ($1, $2)
        ON CONFLICT ON CONSTRAINT database_settings_pkey DO UPDATE SET value = excluded.value
        RETURNING s.* INTO stored;
    RETURN pg_catalog.format('insforge_integrations.%s = %L for database %s, from each session''s next transaction%s',
                             stored.name, stored.value, pg_catalog.current_database(),
                             (SELECT ' (but a superuser''s setting takes precedence here: ' || s.value || ')'
                                FROM insforge.settings() s
                               WHERE s.name = 'insforge_integrations.' || stored.name AND s.source = 'superuser'));
END
$fn$;
COMMENT ON FUNCTION insforge.set_setting(text, text) IS
'Sets an insforge_integrations setting (strict, claims_source, jwt_audience, jwt_issuers, jwt_roles, jwt_leeway, jwt_providers; with or without the prefix) for this database, from each session''s next transaction; NULL resets it. 22023 for an unknown setting or a bad value. A value a superuser set takes precedence. Operators only (project_admin or a superuser).';

CREATE FUNCTION insforge.reset_setting(name text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    short text;
BEGIN
    PERFORM insforge._require_operator('insforge.reset_setting()');
    IF name IS NULL THEN
        RAISE EXCEPTION 'insforge.reset_setting(name): name must not be NULL' USING ERRCODE = '22023';
    END IF;
    short := insforge._setting_name(name);
    DELETE FROM insforge.database_settings s WHERE s.name = short;
    RETURN pg_catalog.format('insforge_integrations.%s is back to %s for database %s, from each session''s next transaction',
                             short, CASE WHEN (SELECT s.source FROM insforge.settings() s
                                                WHERE s.name = 'insforge_integrations.' || short) = 'superuser'
                                         THEN 'the superuser''s setting' ELSE 'its default' END,
                             pg_catalog.current_database());
END
$fn$;
COMMENT ON FUNCTION insforge.reset_setting(text) IS
'Removes the operator''s value of an insforge_integrations setting for this database (back to a superuser''s setting or the default), from each session''s next transaction. Operators only (project_admin or a superuser).';
