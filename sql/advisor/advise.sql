-- insforge.advise(): every advisor rule, one row per finding, most severe first
-- (ERROR, WARN, INFO), then by rule name and cache_key. Runs as its caller; each
-- rule reads only catalogs every role can read, except jwt_secret_exposed, whose
-- SECURITY DEFINER function is run when the caller holds EXECUTE on it
-- (project_admin and superusers by default); otherwise one INFO row says that
-- rule was skipped. See README.md.
CREATE FUNCTION insforge.advise()
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
           'SELECT * FROM ('
        || ' SELECT * FROM insforge.lint_auth_uid_in_policy()'
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
        || ' UNION ALL SELECT * FROM insforge.lint_x402_unreconciled_settlements()'
        || ' UNION ALL SELECT * FROM insforge.lint_citus_claims_not_propagated()'
        || ') f ORDER BY CASE f.level WHEN ''ERROR'' THEN 0 WHEN ''WARN'' THEN 1 ELSE 2 END, f.name, f.cache_key';
END
$fn$;
COMMENT ON FUNCTION insforge.advise() IS
'Integration-mistake advisor: one row per finding (name, title, level, facing, categories, description, detail, remediation, metadata, cache_key), ERROR first, then WARN, then INFO. Rules: auth_uid_in_policy, uuid_owner_column, owner_column_without_default, rls_disabled_with_owner_column, rls_enabled_no_policy, policy_without_role, sql_requesting_user_id, jwt_secret_exposed, x402_tx_hash_not_unique, x402_ledger_writable_by_clients, security_definer_search_path, better_auth_tables_exposed, policy_reads_unforwarded_claim, validation_needs_unforwarded_claims, x402_unreconciled_settlements, citus_claims_not_propagated.';
