-- Rule sql_requesting_user_id: public.requesting_user_id() exists and is still
-- the guides' SQL helper (insforge.native_requesting_user_id_installed() is
-- false). Every policy calling it re-parses the claims for every row; the native
-- function is about 50x faster on large tables. See docs/advisor/sql_requesting_user_id.md.
CREATE FUNCTION insforge.lint_sql_requesting_user_id()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'sql_requesting_user_id',
           'requesting_user_id() is still the SQL helper',
           'WARN',
           'INTERNAL',
           ARRAY['PERFORMANCE'],
           'Detects a public.requesting_user_id() that is still the integration guides'' SQL helper rather than the '
           || 'extension''s native function. The SQL helper parses the claims JSON once per row; the native one once per request.',
           pg_catalog.format('public.requesting_user_id() is LANGUAGE %s returning %s; %s %s it.',
                             l.lanname, pg_catalog.format_type(p.prorettype, NULL), dep.n,
                             CASE WHEN dep.n = 1 THEN 'policy calls' ELSE 'policies call' END),
           CASE WHEN p.prorettype = 'pg_catalog.text'::pg_catalog.regtype
                THEN 'SELECT insforge.adopt_requesting_user_id();  -- as project_admin or a superuser; swaps the body in place, policies untouched'
                ELSE 'It returns ' || pg_catalog.format_type(p.prorettype, NULL) || ', not text, so it cannot be adopted in place: '
                     || 'change the policies to compare text owner columns, drop the function, then SELECT insforge.adopt_requesting_user_id();' END,
           pg_catalog.jsonb_build_object('schema', 'public', 'type', 'function', 'function', 'requesting_user_id()',
                                         'language', l.lanname, 'returns', pg_catalog.format_type(p.prorettype, NULL),
                                         'policies', dep.n),
           'sql_requesting_user_id_public_requesting_user_id'
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      CROSS JOIN LATERAL (SELECT pg_catalog.count(DISTINCT d.objid) AS n FROM pg_catalog.pg_depend d
                           WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid = p.oid
                             AND d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass) dep
     WHERE p.oid = pg_catalog.to_regprocedure('public.requesting_user_id()')
       AND NOT insforge.native_requesting_user_id_installed()
$$;
COMMENT ON FUNCTION insforge.lint_sql_requesting_user_id() IS
'Advisor rule sql_requesting_user_id (WARN): public.requesting_user_id() is still the SQL helper; SELECT insforge.adopt_requesting_user_id(); switches it to the native function in place.';
