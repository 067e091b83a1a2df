-- Rule owner_column_without_default: an INSERT (or FOR ALL) policy checks
-- col = requesting_user_id() (or auth.uid()), but col has no default. The SDKs
-- insert without an owner column (the guides rely on the default), so a client's
-- insert fails the policy: "new row violates row-level security policy" (NULL = id
-- is never true, and Postgres checks the policy before NOT NULL; only a role that
-- bypasses RLS gets the not-null violation). NOT NULL and nullable columns are both
-- reported; metadata.not_null says which. See docs/advisor/owner_column_without_default.md.
CREATE FUNCTION insforge.lint_owner_column_without_default()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH checks AS (
        SELECT p.relid, p.policy_name::text AS policy_name, a.attnum,
               coalesce(insforge.advisor_uid_comparison(
                            CASE WHEN p.command = 'INSERT' THEN p.marked_check ELSE coalesce(p.marked_check, p.marked_qual) END,
                            pg_catalog.quote_ident(a.attname), '{__uid__,__authuid__}'), '') AS token
          FROM insforge.advisor_policies() p
          JOIN pg_catalog.pg_attribute a ON a.attrelid = p.relid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE p.command IN ('INSERT', 'ALL')
           AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
    ), cols AS (
        SELECT relid, attnum, pg_catalog.array_agg(DISTINCT policy_name) AS policies,
               bool_or(token = '__authuid__') AS auth_uid
          FROM checks WHERE token <> ''
         GROUP BY relid, attnum
    )
    SELECT 'owner_column_without_default',
           'Owner column checked on INSERT has no default',
           'WARN',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects owner columns that an INSERT policy checks against the requesting user (col = requesting_user_id()) '
           || 'but that have no default. Clients insert without the owner column, as the guides do, so their inserts fail '
           || 'the policy (a NULL owner is never the requesting user; Postgres checks the policy before NOT NULL).',
           pg_catalog.format('Column %I.%I.%I (%s, no default) is checked against the requesting user on INSERT by %s %s.',
                             n.nspname, c.relname, a.attname,
                             CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'nullable' END,
                             CASE WHEN pg_catalog.cardinality(cols.policies) = 1 THEN 'policy' ELSE 'policies' END,
                             (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY x)
                                FROM pg_catalog.unnest(cols.policies) x)),
           pg_catalog.format('ALTER TABLE %I.%I ALTER COLUMN %I SET DEFAULT %s;',
                             n.nspname, c.relname, a.attname,
                             CASE WHEN cols.auth_uid THEN 'auth.uid()' ELSE 'requesting_user_id()' END),
           pg_catalog.jsonb_build_object('schema', n.nspname, 'table', c.relname, 'type', 'column',
                                         'column', a.attname, 'not_null', a.attnotnull,
                                         'policies', pg_catalog.to_jsonb(cols.policies)),
           pg_catalog.format('owner_column_without_default_%s_%s_%s', n.nspname, c.relname, a.attname)
      FROM cols
      JOIN pg_catalog.pg_class c ON c.oid = cols.relid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = cols.relid AND a.attnum = cols.attnum
$$;
COMMENT ON FUNCTION insforge.lint_owner_column_without_default() IS
'Advisor rule owner_column_without_default (WARN): owner columns an INSERT policy checks against the requesting user but that have no default, so SDK inserts fail. One row per column.';
