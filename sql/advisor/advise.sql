-- insforge.advisor_findings(): every advisor rule, one row per finding, unordered and
-- unfiltered. Runs as its caller; each rule reads only catalogs every role can read, except
-- jwt_secret_exposed, whose SECURITY DEFINER function is run when the caller holds EXECUTE
-- on it (project_admin and superusers by default); otherwise one INFO row says that rule
-- was skipped.
CREATE FUNCTION insforge.advisor_findings()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    secret_rule text;
BEGIN
    IF pg_catalog.has_function_privilege('insforge.lint_jwt_secret_exposed()', 'EXECUTE') THEN
        secret_rule := 'SELECT * FROM insforge.lint_jwt_secret_exposed()';
    ELSE
        secret_rule := $q$
        SELECT 'jwt_secret_exposed'::text, 'JWT secret check skipped'::text, 'INFO'::text, 'INTERNAL'::text,
               ARRAY['SECURITY']::text[],
               'The jwt_secret_exposed rule reads the JWT key, so only roles granted EXECUTE on insforge.lint_jwt_secret_exposed() run it.'::text,
               pg_catalog.format('Role %I may not execute insforge.lint_jwt_secret_exposed(); the JWT secret was not looked for.', current_user),
               'Run insforge.advise() as project_admin or a superuser, or make the role an operator: SELECT insforge.grant_operator(''the_role'');'::text,
               pg_catalog.jsonb_build_object('type', 'skipped', 'role', current_user::text),
               'jwt_secret_exposed_skipped'::text
        $q$;
    END IF;
    RETURN QUERY EXECUTE
           'SELECT * FROM insforge.lint_auth_uid_in_policy()'
        || ' UNION ALL SELECT * FROM insforge.lint_uuid_owner_column()'
        || ' UNION ALL SELECT * FROM insforge.lint_owner_column_without_default()'
        || ' UNION ALL SELECT * FROM insforge.lint_rls_disabled_with_owner_column()'
        || ' UNION ALL SELECT * FROM insforge.lint_rls_enabled_no_policy()'
        || ' UNION ALL SELECT * FROM insforge.lint_policy_without_role()'
        || ' UNION ALL SELECT * FROM insforge.lint_sql_requesting_user_id()'
        || ' UNION ALL ' || secret_rule
        || ' UNION ALL SELECT * FROM insforge.lint_x402_tx_hash_not_unique()'
        || ' UNION ALL SELECT * FROM insforge.lint_x402_ledger_writable_by_clients()'
        || ' UNION ALL SELECT * FROM insforge.lint_security_definer_search_path()'
        || ' UNION ALL SELECT * FROM insforge.lint_better_auth_tables_exposed()'
        || ' UNION ALL SELECT * FROM insforge.lint_policy_reads_unforwarded_claim()'
        || ' UNION ALL SELECT * FROM insforge.lint_validation_needs_unforwarded_claims()'
        || ' UNION ALL SELECT * FROM insforge.lint_x402_unreconciled_settlements()';
END
$fn$;
COMMENT ON FUNCTION insforge.advisor_findings() IS
'Internal helper of insforge.advise() and insforge.advise_insforge(): every rule''s findings, unordered, InsForge''s suppressions not applied.';

-- The object a finding is about, spelled as InsForge's own advisor spells affected_object
-- (its database-advisor.service.ts): schema.table, schema.table (policy),
-- schema.table.column, schema.function(args); a setting finding: the settings' names; the
-- JWT-secret locations: the location. A suppression in system.advisor_suppressions matches
-- this text exactly.
CREATE FUNCTION insforge.advisor_affected_object(metadata jsonb, cache_key text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE metadata ->> 'type'
               WHEN 'policy' THEN (metadata ->> 'schema') || '.' || (metadata ->> 'table') || ' (' || (metadata ->> 'policy') || ')'
               WHEN 'table' THEN (metadata ->> 'schema') || '.' || (metadata ->> 'table')
               WHEN 'column' THEN (metadata ->> 'schema') || '.' || (metadata ->> 'table') || '.' || (metadata ->> 'column')
               WHEN 'function' THEN (metadata ->> 'schema') || '.' || (metadata ->> 'function')
               WHEN 'setting' THEN (SELECT pg_catalog.string_agg(DISTINCT s ->> 'setting', ', ')
                                      FROM pg_catalog.jsonb_array_elements(metadata -> 'settings') s)
               ELSE coalesce(metadata ->> 'object', cache_key) END
$$;
COMMENT ON FUNCTION insforge.advisor_affected_object(jsonb, text) IS
'Internal helper of insforge.advise_insforge(): a finding''s object as InsForge''s advisor spells affected_object (schema.table, schema.table (policy), schema.table.column, schema.function(args)).';

-- Whether InsForge's suppressions (system.advisor_suppressions, its migration 059) exist
-- and the caller may read them: a plain table (no view, so reading it runs no one's code)
-- whose rule_id, affected_object and scope columns are text (so comparing them calls no
-- cast or operator of anyone's), in a schema the caller may use.
CREATE FUNCTION insforge.advisor_suppressions_readable() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT coalesce((
        SELECT c.relkind = 'r'
           AND pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE')
           AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
           AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attname IN ('rule_id', 'affected_object', 'scope')
                   AND NOT a.attisdropped AND a.atttypid = 'pg_catalog.text'::pg_catalog.regtype) = 3
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'system' AND c.relname = 'advisor_suppressions'), false)
$$;
COMMENT ON FUNCTION insforge.advisor_suppressions_readable() IS
'Internal helper of insforge.advise(): true when InsForge''s system.advisor_suppressions is a table the caller may read (then advise() honours it).';

-- insforge.advise(): every finding, most severe first (ERROR, WARN, INFO), then by rule
-- name and cache_key, without those InsForge's dashboard has suppressed: where
-- system.advisor_suppressions exists and the caller may read it, a finding is left out
-- when a suppression has its rule and either scope 'rule' or its affected_object (InsForge's
-- own read-time filter, with insforge.advisor_affected_object() as the object). See README.md.
CREATE FUNCTION insforge.advise()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    RETURN QUERY EXECUTE
           'SELECT f.* FROM insforge.advisor_findings() f'
        || CASE WHEN insforge.advisor_suppressions_readable()
                THEN ' WHERE NOT EXISTS (SELECT 1 FROM system.advisor_suppressions s'
                  || ' WHERE s.rule_id = f.name AND (s.scope = ''rule'''
                  || ' OR s.affected_object = insforge.advisor_affected_object(f.metadata, f.cache_key)))'
                ELSE '' END
        || ' ORDER BY CASE f.level WHEN ''ERROR'' THEN 0 WHEN ''WARN'' THEN 1 ELSE 2 END, f.name, f.cache_key';
END
$fn$;
COMMENT ON FUNCTION insforge.advise() IS
'Integration-mistake advisor: one row per finding (name, title, level, facing, categories, description, detail, remediation, metadata, cache_key), ERROR first, then WARN, then INFO, leaving out findings suppressed in InsForge''s system.advisor_suppressions (scope rule, or instance by affected_object) when the caller may read it. Rules: auth_uid_in_policy, uuid_owner_column, owner_column_without_default, rls_disabled_with_owner_column, rls_enabled_no_policy, policy_without_role, sql_requesting_user_id, jwt_secret_exposed, x402_tx_hash_not_unique, x402_ledger_writable_by_clients, security_definer_search_path, better_auth_tables_exposed, policy_reads_unforwarded_claim, validation_needs_unforwarded_claims, x402_unreconciled_settlements.';

-- insforge.advise_insforge(): the same findings in the row shape of InsForge's own
-- advisor's rule queries, so that its scan (database-advisor.service.ts) can run
-- `SELECT * FROM insforge.advise_insforge()` as one more rule query: every column text;
-- rule_id the rule's name; severity critical | warning | info (from ERROR | WARN | INFO);
-- category security | performance | health (SECURITY, else PERFORMANCE, else health: our
-- CORRECTNESS findings are the project's health); affected_object as InsForge spells it.
-- Unsuppressed, as InsForge's rules are: its scan stores every finding and filters by
-- system.advisor_suppressions when it reads them.
CREATE FUNCTION insforge.advise_insforge()
    RETURNS TABLE(affected_object text, rule_id text, severity text, category text, title text, description text,
                  detail text, remediation text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT insforge.advisor_affected_object(f.metadata, f.cache_key),
           f.name,
           CASE f.level WHEN 'ERROR' THEN 'critical' WHEN 'WARN' THEN 'warning' ELSE 'info' END,
           CASE WHEN 'SECURITY' = ANY (f.categories) THEN 'security'
                WHEN 'PERFORMANCE' = ANY (f.categories) THEN 'performance'
                ELSE 'health' END,
           f.title, f.description, f.detail, f.remediation
      FROM insforge.advisor_findings() f
     ORDER BY CASE f.level WHEN 'ERROR' THEN 0 WHEN 'WARN' THEN 1 ELSE 2 END, f.name, f.cache_key
$$;
COMMENT ON FUNCTION insforge.advise_insforge() IS
'insforge.advise()''s findings in the row shape of InsForge''s own advisor rule queries (affected_object, rule_id, severity critical|warning|info, category security|performance|health, title, description, detail, remediation), for its scan to run as one more rule query. All findings (InsForge applies its suppressions when it reads them).';
