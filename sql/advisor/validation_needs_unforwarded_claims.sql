-- Rule validation_needs_unforwarded_claims: audience or issuer validation is
-- configured (insforge_integrations.jwt_audience / jwt_issuers: by the operator
-- with insforge.set_setting(), in this session, or as a database or role
-- setting), but the tokens InsForge's API forwards to
-- PostgREST are minted by InsForge with only sub, email, role, iat and exp: they
-- carry no aud and no iss. Validation (claims_valid(), validate_claims(), strict
-- mode, verify_jwt()'s defaults) then reports audience/issuer for every API
-- request; with insforge_integrations.strict = on every such request fails with
-- 28000. Meant for direct connections that verify a provider's own token with
-- insforge.authenticate(), which keeps aud and iss: hence INFO. See docs/advisor/validation_needs_unforwarded_claims.md.
CREATE FUNCTION insforge.lint_validation_needs_unforwarded_claims()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH stored AS (
        SELECT pg_catalog.split_part(c, '=', 1) AS setting,
               nullif(pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1), '') AS value,
               CASE WHEN d.setrole = 0 THEN pg_catalog.format('database %I', db.datname)
                    WHEN d.setdatabase = 0 THEN pg_catalog.format('role %I', r.rolname)
                    ELSE pg_catalog.format('role %I in database %I', r.rolname, db.datname) END AS source,
               pg_catalog.format('%s RESET %s',
                                 CASE WHEN d.setrole = 0 THEN pg_catalog.format('ALTER DATABASE %I', db.datname)
                                      WHEN d.setdatabase = 0 THEN pg_catalog.format('ALTER ROLE %I', r.rolname)
                                      ELSE pg_catalog.format('ALTER ROLE %I IN DATABASE %I', r.rolname, db.datname) END,
                                 pg_catalog.split_part(c, '=', 1)) AS reset
          FROM pg_catalog.pg_db_role_setting d
          CROSS JOIN LATERAL pg_catalog.unnest(d.setconfig) c
          LEFT JOIN pg_catalog.pg_database db ON db.oid = d.setdatabase
          LEFT JOIN pg_catalog.pg_roles r ON r.oid = d.setrole
         WHERE pg_catalog.split_part(c, '=', 1) IN ('insforge_integrations.jwt_audience', 'insforge_integrations.jwt_issuers')
           AND d.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
    ), configured AS (
        SELECT * FROM stored WHERE value IS NOT NULL
        UNION ALL
        -- The operator's own settings for this database (insforge.set_setting()).
        SELECT 'insforge_integrations.' || o.name, o.value, 'the operator, insforge.set_setting()',
               pg_catalog.format('SELECT insforge.reset_setting(%L)', o.name)
          FROM insforge.database_settings o
         WHERE o.name IN ('jwt_audience', 'jwt_issuers') AND o.value <> ''
        UNION ALL
        -- The session's value, when no database or role setting above explains it
        -- (postgresql.conf, SET, a role setting of the login role).
        SELECT x.setting, v.value, 'this session', pg_catalog.format('RESET %s', x.setting)
          FROM (VALUES ('insforge_integrations.jwt_audience'), ('insforge_integrations.jwt_issuers')) x(setting)
          CROSS JOIN LATERAL (SELECT nullif(pg_catalog.current_setting(x.setting, true), '') AS value) v
         WHERE v.value IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM stored s WHERE s.setting = x.setting AND s.value = v.value)
    ), strict AS (
        SELECT coalesce((SELECT st.value FROM insforge.settings() st WHERE st.name = 'insforge_integrations.strict'), 'off') AS value
    ), summary AS (
        SELECT pg_catalog.string_agg(pg_catalog.format('%s = %L (%s)', c.setting, c.value, c.source), '; '
                                     ORDER BY c.setting, c.source) AS text,
               pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('setting', c.setting, 'value', c.value, 'where', c.source)
                                    ORDER BY c.setting, c.source) AS settings,
               pg_catalog.string_agg(DISTINCT c.reset || ';', ' ') AS resets
          FROM configured c
        HAVING pg_catalog.count(*) > 0
    )
    SELECT 'validation_needs_unforwarded_claims',
           'Audience or issuer validation is configured, but InsForge''s tokens carry neither',
           'INFO',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects audience or issuer validation (insforge_integrations.jwt_audience, jwt_issuers). InsForge''s API re-mints '
           || 'every user token for PostgREST with only sub, email, role, iat and exp, so requests through the API carry no aud '
           || 'and no iss: validation reports audience/issuer for each of them, and strict mode refuses them all (28000). '
           || 'These settings fit direct connections that verify a provider''s own token with insforge.authenticate().',
           pg_catalog.format('Configured: %s.%s', s.text,
                             CASE WHEN st.value = 'on'
                                  THEN ' insforge_integrations.strict is on, so every request through InsForge''s API fails.'
                                  ELSE '' END),
           'If requests come through InsForge''s API, remove the setting: ' || s.resets
           || ' (ALTER ... RESET needs a superuser; insforge.reset_setting() is the operator''s.)'
           || ' Keep it only where every request carries the provider''s own token (insforge.authenticate()).',
           pg_catalog.jsonb_build_object('type', 'setting', 'settings', s.settings, 'strict', st.value),
           'validation_needs_unforwarded_claims'
      FROM summary s, strict st
$$;
COMMENT ON FUNCTION insforge.lint_validation_needs_unforwarded_claims() IS
'Advisor rule validation_needs_unforwarded_claims (INFO): audience or issuer validation is configured, but tokens minted by InsForge''s API carry neither aud nor iss. One row.';
