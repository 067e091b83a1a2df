-- Rule x402_ledger_writable_by_clients: anon or authenticated hold INSERT,
-- UPDATE, DELETE or TRUNCATE on a settlement table (one with a transaction-hash
-- column, see x402_tx_hash_not_unique), directly, through PUBLIC or through a role
-- they belong to (has_table_privilege / has_any_column_privilege). Only the
-- server (service key) may write the ledger: a client that can insert a row has
-- "paid". InsForge's default privileges grant INSERT/UPDATE/DELETE on every new
-- public table to anon, authenticated and project_admin, so a ledger made by
-- following the guide trips this until those grants are revoked.
--
-- Level: ERROR when a client can write right now (row-level security off, a
-- permissive policy for that command applies to the role, or TRUNCATE, which
-- row-level security does not govern); WARN when only row-level security stands
-- in the way (one policy added later opens the ledger). See docs/advisor/x402_ledger_writable_by_clients.md.
CREATE FUNCTION insforge.lint_x402_ledger_writable_by_clients()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH ledgers AS (
        SELECT DISTINCT c.oid, n.nspname, c.relname, c.relrowsecurity
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p')
           AND insforge.advisor_user_schema(n.nspname)
           AND insforge.advisor_tx_hash_column(a.attname)
    ), grants AS (
        SELECT l.oid, r.rolname, pr.ord, pr.priv,
               pr.priv = 'TRUNCATE' OR NOT l.relrowsecurity
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                           WHERE p.polrelid = l.oid AND p.polpermissive
                             AND p.polcmd IN ('*', pr.cmd)
                             AND insforge.advisor_policy_applies_to(p.polroles, r.rolname)) AS open_now
          FROM ledgers l
          CROSS JOIN pg_catalog.pg_roles r
          CROSS JOIN (VALUES (1, 'INSERT', 'a'), (2, 'UPDATE', 'w'), (3, 'DELETE', 'd'), (4, 'TRUNCATE', '-')) pr(ord, priv, cmd)
         WHERE r.rolname IN ('anon', 'authenticated')
           AND (pg_catalog.has_table_privilege(r.oid, l.oid, pr.priv)
                OR (pr.priv IN ('INSERT', 'UPDATE') AND pg_catalog.has_any_column_privilege(r.oid, l.oid, pr.priv)))
    ), per_table AS (
        SELECT g.oid, bool_or(g.open_now) AS open_now,
               pg_catalog.jsonb_object_agg(g.rolname, g.privs) AS privs,
               pg_catalog.string_agg(g.rolname || ' may ' || pg_catalog.array_to_string(g.privs, ', '), '; ' ORDER BY g.rolname) AS text
          FROM (SELECT oid, rolname, bool_or(open_now) AS open_now, pg_catalog.array_agg(priv ORDER BY ord) AS privs
                  FROM grants GROUP BY oid, rolname) g
         GROUP BY g.oid
    )
    SELECT 'x402_ledger_writable_by_clients',
           'Clients can write the settlement ledger',
           CASE WHEN t.open_now THEN 'ERROR' ELSE 'WARN' END,
           'EXTERNAL',
           ARRAY['SECURITY'],
           'Detects settlement tables (with a transaction-hash column) on which anon or authenticated hold INSERT, UPDATE, '
           || 'DELETE or TRUNCATE. Only the server may record payments; a client that can write the ledger can grant itself '
           || 'access without paying. InsForge''s default privileges grant these on every new public table. ERROR when a '
           || 'client can write now, WARN when only row-level security prevents it.',
           pg_catalog.format('Settlement table %I.%I: %s%s.', l.nspname, l.relname, t.text,
                             CASE WHEN t.open_now THEN '' ELSE ' (row-level security blocks these today)' END),
           pg_catalog.format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I.%I FROM PUBLIC, anon, authenticated;  '
                             || '-- writes go through the service key (project_admin)', l.nspname, l.relname),
           pg_catalog.jsonb_build_object('schema', l.nspname, 'table', l.relname, 'type', 'table',
                                         'privileges', t.privs, 'rls_enabled', l.relrowsecurity,
                                         'writable_now', t.open_now),
           pg_catalog.format('x402_ledger_writable_by_clients_%s_%s', l.nspname, l.relname)
      FROM per_table t
      JOIN ledgers l ON l.oid = t.oid
$$;
COMMENT ON FUNCTION insforge.lint_x402_ledger_writable_by_clients() IS
'Advisor rule x402_ledger_writable_by_clients (ERROR, or WARN when only row-level security blocks the writes): anon/authenticated hold INSERT, UPDATE, DELETE or TRUNCATE on a settlement table. One row per table.';
