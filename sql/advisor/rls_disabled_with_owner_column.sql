-- Rule rls_disabled_with_owner_column: a table PostgREST serves (schema public,
-- or one listed in pgrst.db_schemas) has an owner-like column (user_id, owner_id,
-- created_by, author_id, account_id, profile_id, ...) of a text type or uuid, the
-- client roles anon/authenticated can reach it (USAGE on the schema and a table
-- privilege), and row-level security is off: every client reads and writes
-- every user's rows. See docs/advisor/rls_disabled_with_owner_column.md.
CREATE FUNCTION insforge.lint_rls_disabled_with_owner_column()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH t AS (
        SELECT c.oid, n.nspname, c.relname,
               (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attnum)
                  FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND insforge.advisor_owner_column(a.attname)
                   AND pg_catalog.format_type(coalesce(
                           (SELECT ty.typbasetype FROM pg_catalog.pg_type ty
                             WHERE ty.oid = a.atttypid AND ty.typtype = 'd'), a.atttypid), NULL)
                       IN ('text', 'character varying', 'character', 'citext', 'uuid')) AS cols,
               (SELECT pg_catalog.jsonb_object_agg(r.rolname, r.privs)
                  FROM (SELECT r.rolname, pg_catalog.array_agg(pr.priv ORDER BY pr.ord) AS privs
                          FROM pg_catalog.pg_roles r
                          CROSS JOIN (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE')) pr(ord, priv)
                         WHERE r.rolname IN ('anon', 'authenticated')
                           AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'USAGE')
                           AND pg_catalog.has_table_privilege(r.oid, c.oid, pr.priv)
                         GROUP BY r.rolname) r) AS privs
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND NOT c.relrowsecurity
           AND n.nspname = ANY (insforge.advisor_exposed_schemas())
           AND insforge.advisor_user_schema(n.nspname)
    )
    SELECT 'rls_disabled_with_owner_column',
           'Row-level security off on a table with an owner column',
           'ERROR',
           'EXTERNAL',
           ARRAY['SECURITY'],
           'Detects tables that PostgREST serves (schema public, or one listed in pgrst.db_schemas) that have an owner-like '
           || 'column (user_id, owner_id, created_by, author_id, account_id, profile_id, ...) and on which anon or authenticated '
           || 'hold privileges, with row-level security disabled: owner policies are not enforced, every client sees and '
           || 'changes every user''s rows.',
           pg_catalog.format('Table %I.%I has owner column %s and row-level security disabled; %s.',
                             t.nspname, t.relname, pg_catalog.array_to_string(t.cols, ', '),
                             (SELECT pg_catalog.string_agg(pg_catalog.format('%s may %s', k, (SELECT pg_catalog.string_agg(v, ', ')
                                                                                                 FROM pg_catalog.jsonb_array_elements_text(t.privs -> k) v)),
                                                           '; ' ORDER BY k)
                                FROM pg_catalog.jsonb_object_keys(t.privs) k)),
           pg_catalog.format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY; then add owner policies TO authenticated, e.g. '
                             || 'CREATE POLICY "Users read own" ON %I.%I FOR SELECT TO authenticated USING (%I = requesting_user_id());',
                             t.nspname, t.relname, t.nspname, t.relname, t.cols[1]),
           pg_catalog.jsonb_build_object('schema', t.nspname, 'table', t.relname, 'type', 'table',
                                         'columns', pg_catalog.to_jsonb(t.cols), 'privileges', t.privs),
           pg_catalog.format('rls_disabled_with_owner_column_%s_%s', t.nspname, t.relname)
      FROM t
     WHERE t.cols IS NOT NULL AND t.privs IS NOT NULL
$$;
COMMENT ON FUNCTION insforge.lint_rls_disabled_with_owner_column() IS
'Advisor rule rls_disabled_with_owner_column (ERROR): tables PostgREST serves, with an owner-like column and privileges for anon/authenticated, whose row-level security is off. One row per table.';
