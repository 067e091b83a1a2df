-- Rule policy_without_role: an owner policy (one comparing a column with
-- requesting_user_id(), auth.uid() or auth.jwt() ->> 'sub') applies to PUBLIC,
-- i.e. was created without TO, where the guides write TO authenticated. It then
-- also runs for anon and for the service role (project_admin), and as a
-- RESTRICTIVE policy it hides every row from the service key. See docs/advisor/policy_without_role.md.
CREATE FUNCTION insforge.lint_policy_without_role()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'policy_without_role',
           'Owner policy applies to PUBLIC',
           'WARN',
           'EXTERNAL',
           ARRAY['SECURITY'],
           'Detects owner policies (comparing a column with requesting_user_id(), auth.uid() or auth.jwt() ->> ''sub'') '
           || 'created without TO, so they apply to PUBLIC: anon and the service role (project_admin) too. The guides write '
           || 'TO authenticated; a PUBLIC policy is evaluated for anonymous requests, and a RESTRICTIVE one also filters the service key.',
           pg_catalog.format('%s policy %I on %I.%I (FOR %s) compares an owner column with the requesting user but applies to PUBLIC.',
                             CASE WHEN p.permissive THEN 'Permissive' ELSE 'Restrictive' END,
                             p.policy_name, p.schema_name, p.table_name, p.command),
           pg_catalog.format('ALTER POLICY %I ON %I.%I TO authenticated;', p.policy_name, p.schema_name, p.table_name),
           pg_catalog.jsonb_build_object('schema', p.schema_name, 'table', p.table_name, 'type', 'policy',
                                         'policy', p.policy_name, 'command', p.command, 'permissive', p.permissive),
           pg_catalog.format('policy_without_role_%s_%s_%s', p.schema_name, p.table_name, p.policy_name)
      FROM insforge.advisor_policies() p
     WHERE p.applies_to_public
       AND (coalesce(p.marked_qual, '') || ' ' || coalesce(p.marked_check, ''))
           ~ '(= (\()?(__uid__|__authuid__))|((__uid__|__authuid__)(\)::[a-z ]+)? =)|(= ANY \(ARRAY\[[^]]*(__uid__|__authuid__))'
$$;
COMMENT ON FUNCTION insforge.lint_policy_without_role() IS
'Advisor rule policy_without_role (WARN): owner policies that apply to PUBLIC where TO authenticated was meant. One row per policy.';
