-- insforge_integrations 0.1.0 -> 0.3.0, hand-written part run first.
--
-- A direct update: 0.3.0 does not ship the released 0.1.0 -> 0.2.0 script, whose ledger
-- upgrade ran as the extension's owner on a table the operator may own (SECURITY.md,
-- "Scripts"). Everything 0.1.0 -> 0.2.0 changed besides the ledger is here or in the
-- generated part; the ledger itself is brought up to date afterwards by its owner,
-- with SELECT x402.install_ledger();.
--
-- 1. The guard every script starts with (sql/guard.sql).
-- @include sql/guard.sql

-- 2. The role that owns the JWT key and the code that reaches it (sql/roles.sql).
-- @include sql/roles.sql

-- 3. Settings: 0.1.0 named them insforge.*, a prefix that belongs to InsForge (its
-- insforge_pg_utils and insforge.internal_schemas); since 0.2.0 they are
-- insforge_integrations.* and only that prefix is reserved. The library is shared by
-- every database of the cluster, so from the moment the new library is installed every
-- database reads the new names. Database and role settings (ALTER DATABASE/ROLE ... SET,
-- in the cluster-wide pg_db_role_setting) are carried over to the new names here, for
-- every database and role. Settings in configuration files cannot be changed from SQL:
-- if one of the old names is set there without its new name beside it (same value), the
-- update refuses (55000) and changes nothing, because carrying on would silently drop
-- the setting (insforge.strict = on would become off).
DO $settings$
DECLARE
    names text[] := ARRAY['jwt_audience', 'jwt_issuers', 'jwt_roles', 'jwt_leeway', 'jwt_providers', 'strict',
                          'claims_source'];
    r record;
    problems text;
    statements text[] := '{}';
    stmt text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = %L in %s line %s', f.name, f.setting, f.sourcefile, f.sourceline),
                                 '; ' ORDER BY f.sourcefile, f.sourceline)
      INTO problems
      FROM pg_catalog.pg_file_settings f
     WHERE f.name IN (SELECT 'insforge.' || n FROM pg_catalog.unnest(names) n)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_file_settings g
                        WHERE g.name = 'insforge_integrations.' || pg_catalog.substr(f.name, 10)
                          AND g.setting IS NOT DISTINCT FROM f.setting);
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'insforge_integrations 0.2.0 renamed its settings from insforge.* to insforge_integrations.*, and a configuration file still sets the old names: %', problems
            USING ERRCODE = '55000',
                  HINT = 'In that file, rename each setting (insforge.strict -> insforge_integrations.strict, ...), run SELECT pg_reload_conf(); and run ALTER EXTENSION insforge_integrations UPDATE again. Nothing was changed.';
    END IF;

    FOR r IN
        SELECT d.setdatabase, d.setrole, db.datname, ro.rolname,
               pg_catalog.split_part(c, '=', 1) AS old_name,
               'insforge_integrations.' || pg_catalog.substr(pg_catalog.split_part(c, '=', 1), 10) AS new_name,
               pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1) AS value,
               (SELECT pg_catalog.substr(c2, pg_catalog.strpos(c2, '=') + 1)
                  FROM pg_catalog.unnest(d.setconfig) c2
                 WHERE pg_catalog.split_part(c2, '=', 1)
                       = 'insforge_integrations.' || pg_catalog.substr(pg_catalog.split_part(c, '=', 1), 10)) AS existing
          FROM pg_catalog.pg_db_role_setting d
          CROSS JOIN LATERAL pg_catalog.unnest(d.setconfig) c
          LEFT JOIN pg_catalog.pg_database db ON db.oid = d.setdatabase
          LEFT JOIN pg_catalog.pg_roles ro ON ro.oid = d.setrole
         WHERE pg_catalog.split_part(c, '=', 1) IN (SELECT 'insforge.' || n FROM pg_catalog.unnest(names) n)
         ORDER BY d.setdatabase, d.setrole, c
    LOOP
        IF r.existing IS NOT NULL AND r.existing <> r.value THEN
            problems := coalesce(problems || '; ', '')
                || pg_catalog.format('%s = %L but %s = %L (%s)', r.old_name, r.value, r.new_name, r.existing,
                                     CASE WHEN r.setrole = 0 THEN 'database ' || r.datname
                                          WHEN r.setdatabase = 0 THEN 'role ' || r.rolname
                                          ELSE 'role ' || r.rolname || ' in database ' || r.datname END);
            CONTINUE;
        END IF;
        stmt := CASE WHEN r.setrole = 0 THEN pg_catalog.format('ALTER DATABASE %I', r.datname)
                     WHEN r.setdatabase = 0 THEN pg_catalog.format('ALTER ROLE %I', r.rolname)
                     ELSE pg_catalog.format('ALTER ROLE %I IN DATABASE %I', r.rolname, r.datname) END;
        IF r.existing IS NULL THEN
            statements := statements || pg_catalog.format('%s SET %s = %L', stmt, r.new_name, r.value);
        END IF;
        statements := statements || pg_catalog.format('%s RESET %s', stmt, r.old_name);
    END LOOP;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'insforge_integrations 0.2.0 renamed its settings to insforge_integrations.*, and both names are set with different values: %', problems
            USING ERRCODE = '55000',
                  HINT = 'Decide which value is right, keep it under the new name, RESET the old one, and run ALTER EXTENSION insforge_integrations UPDATE again. Nothing was changed.';
    END IF;
    FOREACH stmt IN ARRAY statements LOOP
        EXECUTE stmt;
    END LOOP;
    IF pg_catalog.cardinality(statements) > 0 THEN
        PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        RAISE NOTICE 'insforge_integrations: settings carried over to their new names: %',
            pg_catalog.array_to_string(statements, '; ');
    END IF;
END
$settings$;


-- 4. Functions whose signature, result or privileges change. The administrative entry
-- points were superuser-only in 0.1.0 (EXECUTE revoked from PUBLIC); now everyone may
-- call them and they refuse non-operators themselves, so they are made anew with default
-- privileges, as a fresh install has them. verify_payment() gained its margin argument
-- (0.1.0's symbol stays in the library for databases not updated yet) and stats() its
-- pending and failed columns.
DROP FUNCTION insforge.adopt_requesting_user_id(boolean);
DROP FUNCTION insforge.release_requesting_user_id();
DROP FUNCTION x402.install_ledger();
DROP FUNCTION x402.enable_realtime(text);
DROP FUNCTION x402.verify_payment(jsonb, jsonb, timestamptz);
DROP FUNCTION x402.stats(timestamptz);

-- 5. What record_settlement() and begin_settlement() return gains the journal's columns.
ALTER TYPE x402.payment ADD ATTRIBUTE failure_reason text, ADD ATTRIBUTE completed_at timestamptz;

-- What every update to 0.3.0 creates (the operator's settings table, the journal's
-- columns of x402.payment).
-- @include sql/update/to-0.3.0-before.sql
