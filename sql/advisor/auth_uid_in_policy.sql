-- Rule auth_uid_in_policy: a policy calls auth.uid().
-- InsForge's auth.uid() is (auth.jwt() ->> 'sub')::uuid. Provider ids (Clerk
-- user_..., Auth0 auth0|..., WorkOS, Kinde, Stytch, Better Auth) are not UUIDs,
-- so for their users the cast fails and every request touching the table errors
-- (22P02 invalid input syntax for type uuid). See docs/advisor/auth_uid_in_policy.md.
CREATE FUNCTION insforge.lint_auth_uid_in_policy()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'auth_uid_in_policy',
           'Policy calls auth.uid()',
           'WARN',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects row-level security policies that call auth.uid(). auth.uid() casts the token''s sub to uuid; '
           || 'third-party providers (Clerk, Auth0, WorkOS, Kinde, Stytch, Better Auth) issue string ids, so every '
           || 'request from their users fails with "invalid input syntax for type uuid". Only InsForge''s own users have UUID ids.',
           pg_catalog.format('Policy %I on %I.%I (FOR %s TO %s) calls auth.uid()%s.',
                             p.policy_name, p.schema_name, p.table_name, p.command,
                             pg_catalog.array_to_string(p.roles, ', '),
                             CASE WHEN pg_catalog.array_length(cols.names, 1) > 0
                                  THEN ' and compares it with column ' || pg_catalog.array_to_string(cols.names, ', ')
                                  ELSE '' END),
           pg_catalog.format('Compare a text owner column with requesting_user_id() instead: '
                             || 'ALTER POLICY %I ON %I.%I ... (user_id = requesting_user_id()); '
                             || 'owner columns that hold provider ids must be text. See docs/advisor/auth_uid_in_policy.md.',
                             p.policy_name, p.schema_name, p.table_name),
           pg_catalog.jsonb_build_object('schema', p.schema_name, 'table', p.table_name, 'type', 'policy',
                                         'policy', p.policy_name, 'command', p.command, 'roles', p.roles,
                                         'columns', pg_catalog.to_jsonb(cols.names)),
           pg_catalog.format('auth_uid_in_policy_%s_%s_%s', p.schema_name, p.table_name, p.policy_name)
      FROM insforge.advisor_policies() p
      CROSS JOIN LATERAL (
            SELECT coalesce(pg_catalog.array_agg(a.attname::text ORDER BY a.attnum), '{}') AS names
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = p.relid AND a.attnum > 0 AND NOT a.attisdropped
               AND coalesce(insforge.advisor_uid_comparison(p.marked_qual, pg_catalog.quote_ident(a.attname), '{__authuid__}'),
                            insforge.advisor_uid_comparison(p.marked_check, pg_catalog.quote_ident(a.attname), '{__authuid__}'))
                   IS NOT NULL) cols
     WHERE coalesce(p.marked_qual, '') ~ '__authuid__' OR coalesce(p.marked_check, '') ~ '__authuid__'
$$;
COMMENT ON FUNCTION insforge.lint_auth_uid_in_policy() IS
'Advisor rule auth_uid_in_policy (WARN): policies that call auth.uid(), which casts the subject to uuid and fails for provider string ids. One row per policy.';
