-- insforge.advise(): every advisor rule, one row per finding, most severe first
-- (ERROR, WARN, INFO), then by rule name and cache_key. The rules are the
-- extension's functions insforge.lint_<rule>() (one SQL file each in sql/advisor/,
-- registered by build.rs), found in the catalog, so a new rule needs nothing here.
-- Runs as its caller; each rule reads only catalogs every role can read, except
-- jwt_secret_exposed, whose SECURITY DEFINER function reads the key: a rule the
-- caller may not execute is not run, and one INFO row says it was skipped and why.
-- See docs/advisor.md.
CREATE FUNCTION insforge.advise()
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
           'SELECT * FROM (' || pg_catalog.array_to_string(parts, ' UNION ALL ') || ') f'
        || ' ORDER BY CASE f.level WHEN ''ERROR'' THEN 0 WHEN ''WARN'' THEN 1 ELSE 2 END, f.name, f.cache_key';
END
$fn$;
COMMENT ON FUNCTION insforge.advise() IS
'Integration-mistake advisor: one row per finding (name, title, level, facing, categories, description, detail, remediation, metadata, cache_key), ERROR first, then WARN, then INFO, from every rule the extension has (its insforge.lint_<rule>() functions); a rule the caller may not run is reported as skipped. See docs/advisor.md.';
