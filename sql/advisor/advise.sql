-- insforge.advisor_findings(): every advisor rule, one row per finding, unordered and
-- unfiltered. The rules are the extension's functions insforge.lint_<rule>() (one SQL
-- file each in sql/advisor/, registered by build.rs), found in the catalog, so a new rule
-- needs nothing here. Runs as its caller; each rule reads only catalogs every role can
-- read, except jwt_secret_exposed, whose SECURITY DEFINER function reads the key: a rule
-- the caller may not execute is not run, and one INFO row says it was skipped and why.
CREATE FUNCTION insforge.advisor_findings()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    parts text[] := '{}';
    r record;
BEGIN
    FOR r IN SELECT p.oid::regprocedure AS fn, pg_catalog.substr(p.proname, 6) AS rule
               FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                                          AND d.deptype = 'e'
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'insforge_integrations'
              WHERE p.pronamespace = 'insforge'::pg_catalog.regnamespace AND p.proname LIKE 'lint\_%' AND p.pronargs = 0
              ORDER BY p.proname
    LOOP
        IF pg_catalog.has_function_privilege(r.fn, 'EXECUTE') THEN
            parts := parts || pg_catalog.format('SELECT * FROM %s', r.fn);
        ELSE
            parts := parts || pg_catalog.format(
                $q$SELECT %L::text, %L::text, 'INFO'::text, 'INTERNAL'::text, ARRAY['SECURITY']::text[],
                          %L::text, %L::text, %L::text,
                          pg_catalog.jsonb_build_object('type', 'skipped', 'role', %L::text), %L::text$q$,
                r.rule, r.rule || ' check skipped',
                pg_catalog.format('Rule %s runs with privileges this role lacks (EXECUTE on %s).', r.rule, r.fn),
                pg_catalog.format('Role %I may not execute %s; the %s rule was not run.', current_user, r.fn, r.rule),
                'Run insforge.advise() as project_admin or a superuser, or make the role an operator: SELECT insforge.grant_operator(''the_role'');',
                current_user, r.rule || '_skipped');
        END IF;
    END LOOP;
    RETURN QUERY EXECUTE
           'SELECT * FROM (' || pg_catalog.array_to_string(parts, ' UNION ALL ') || ') f';
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
-- own read-time filter, with insforge.advisor_affected_object() as the object). See docs/advisor.md.
CREATE FUNCTION insforge.advise()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.advise()');
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
'Integration-mistake advisor: one row per finding (name, title, level, facing, categories, description, detail, remediation, metadata, cache_key), ERROR first, then WARN, then INFO, leaving out findings suppressed in InsForge''s system.advisor_suppressions (scope rule, or instance by affected_object) when the caller may read it; every rule the extension has (its insforge.lint_<rule>() functions) runs, and a rule the caller may not run is reported as skipped. See docs/advisor.md.';

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
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.advise_insforge()');
    RETURN QUERY
        SELECT insforge.advisor_affected_object(f.metadata, f.cache_key),
               f.name,
               CASE f.level WHEN 'ERROR' THEN 'critical' WHEN 'WARN' THEN 'warning' ELSE 'info' END,
               CASE WHEN 'SECURITY' = ANY (f.categories) THEN 'security'
                    WHEN 'PERFORMANCE' = ANY (f.categories) THEN 'performance'
                    ELSE 'health' END,
               f.title, f.description, f.detail, f.remediation
          FROM insforge.advisor_findings() f
         ORDER BY CASE f.level WHEN 'ERROR' THEN 0 WHEN 'WARN' THEN 1 ELSE 2 END, f.name, f.cache_key;
END
$fn$;
COMMENT ON FUNCTION insforge.advise_insforge() IS
'insforge.advise()''s findings in the row shape of InsForge''s own advisor rule queries (affected_object, rule_id, severity critical|warning|info, category security|performance|health, title, description, detail, remediation), for its scan to run as one more rule query. All findings (InsForge applies its suppressions when it reads them).';
