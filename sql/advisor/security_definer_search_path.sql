-- Rule security_definer_search_path: a SECURITY DEFINER function in a schema
-- clients can reach (the schemas PostgREST serves, plus the extension's own
-- insforge and x402) has no search_path pinned in its configuration (proconfig).
-- It then resolves unqualified names through the caller's search_path, so a
-- caller who can create objects in a schema on that path can make it run their
-- code with the owner's privileges. See docs/advisor/security_definer_search_path.md.
CREATE FUNCTION insforge.lint_security_definer_search_path()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'security_definer_search_path',
           'SECURITY DEFINER function without a pinned search_path',
           'WARN',
           'EXTERNAL',
           ARRAY['SECURITY'],
           'Detects SECURITY DEFINER functions in exposed schemas (those PostgREST serves, plus insforge and x402) without '
           || 'SET search_path. They run with their owner''s privileges but look names up through the caller''s search_path, '
           || 'so a caller can substitute objects of their own.',
           pg_catalog.format('Function %s is SECURITY DEFINER (owner %I) and does not set search_path.',
                             p.oid::pg_catalog.regprocedure, pg_catalog.pg_get_userbyid(p.proowner)),
           pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp;  -- and schema-qualify the names it uses',
                             p.oid::pg_catalog.regprocedure),
           pg_catalog.jsonb_build_object('schema', n.nspname, 'type', 'function', 'function',
                                         pg_catalog.format('%s(%s)', p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),
                                         'owner', pg_catalog.pg_get_userbyid(p.proowner)),
           pg_catalog.format('security_definer_search_path_%s_%s(%s)', n.nspname, p.proname,
                             pg_catalog.pg_get_function_identity_arguments(p.oid))
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.prosecdef
       AND (n.nspname = ANY (insforge.advisor_exposed_schemas()) OR n.nspname IN ('insforge', 'x402'))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) cfg WHERE cfg LIKE 'search\_path=%')
$$;
COMMENT ON FUNCTION insforge.lint_security_definer_search_path() IS
'Advisor rule security_definer_search_path (WARN): SECURITY DEFINER functions in exposed schemas (and insforge, x402) without a pinned search_path. One row per function.';
