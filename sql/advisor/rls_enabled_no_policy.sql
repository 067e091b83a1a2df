-- Rule rls_enabled_no_policy: row-level security is on, anon/authenticated hold
-- privileges on the table, but no permissive policy applies to them (PUBLIC
-- policies count; InsForge's automatic project_admin_policy, FOR ALL TO
-- project_admin, does not). Clients get empty results and every write is refused,
-- which is what a forgotten policy looks like. See docs/advisor/rls_enabled_no_policy.md.
CREATE FUNCTION insforge.lint_rls_enabled_no_policy()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'rls_enabled_no_policy',
           'Row-level security on, no policy for clients',
           'INFO',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects tables PostgREST serves with row-level security enabled and privileges granted to anon or authenticated, '
           || 'but no permissive policy that applies to either role (PUBLIC policies count; project_admin_policy does not). '
           || 'Clients see no rows and every write is refused. That is safe, but usually means a policy was forgotten.',
           pg_catalog.format('Table %I.%I has row-level security enabled but no policy for anon or authenticated%s.',
                             n.nspname, c.relname,
                             CASE WHEN pol.names IS NULL THEN ' (it has no policy at all)'
                                  ELSE ' (policies: ' || pg_catalog.array_to_string(pol.names, ', ') || ')' END),
           pg_catalog.format('Add the policies clients need, e.g. CREATE POLICY "Users read own" ON %I.%I FOR SELECT TO authenticated '
                             || 'USING (user_id = requesting_user_id()); or, if clients should not reach the table, '
                             || 'REVOKE ALL ON %I.%I FROM anon, authenticated;',
                             n.nspname, c.relname, n.nspname, c.relname),
           pg_catalog.jsonb_build_object('schema', n.nspname, 'table', c.relname, 'type', 'table',
                                         'policies', coalesce(pg_catalog.to_jsonb(pol.names), '[]'::jsonb)),
           pg_catalog.format('rls_enabled_no_policy_%s_%s', n.nspname, c.relname)
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (SELECT pg_catalog.array_agg(pg_catalog.quote_ident(p.polname) ORDER BY p.polname) AS names
                            FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid) pol
     WHERE c.relkind IN ('r', 'p')
       AND c.relrowsecurity
       AND n.nspname = ANY (insforge.advisor_exposed_schemas())
       AND insforge.advisor_user_schema(n.nspname)
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                    CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE')) pr(priv)
                    WHERE r.rolname IN ('anon', 'authenticated')
                      AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'USAGE')
                      AND pg_catalog.has_table_privilege(r.oid, c.oid, pr.priv))
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                        WHERE p.polrelid = c.oid AND p.polpermissive
                          AND (insforge.advisor_policy_applies_to(p.polroles, 'anon')
                               OR insforge.advisor_policy_applies_to(p.polroles, 'authenticated')))
$$;
COMMENT ON FUNCTION insforge.lint_rls_enabled_no_policy() IS
'Advisor rule rls_enabled_no_policy (INFO): tables clients hold privileges on, with row-level security on and no permissive policy for anon or authenticated. One row per table.';
