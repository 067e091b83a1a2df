-- Rule uuid_owner_column: a uuid column compared with the requesting user's id
-- (requesting_user_id(), public. or insforge., or jwt ->> 'sub'), directly or
-- through a cast on either side, in a policy, or defaulting to it.
-- Provider ids are strings: (requesting_user_id())::uuid fails for every
-- provider user (22P02), and a uuid column can never hold their id, so
-- user_id::text = requesting_user_id() matches nothing. See docs/advisor/uuid_owner_column.md.
CREATE FUNCTION insforge.lint_uuid_owner_column()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH uses AS (
        -- policies comparing a uuid column of their own table with the requesting user id
        SELECT p.relid, a.attnum, p.policy_name::text AS policy_name, NULL::text AS dflt
          FROM insforge.advisor_policies() p
          JOIN pg_catalog.pg_attribute a ON a.attrelid = p.relid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
           AND coalesce(insforge.advisor_uid_comparison(p.marked_qual, pg_catalog.quote_ident(a.attname), '{__uid__}'),
                        insforge.advisor_uid_comparison(p.marked_check, pg_catalog.quote_ident(a.attname), '{__uid__}'))
               IS NOT NULL
        UNION ALL
        -- uuid columns whose default is the requesting user id (cast to uuid)
        SELECT d.adrelid, d.adnum, NULL, 'default'
          FROM pg_catalog.pg_attrdef d
          JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
          JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE a.atttypid = 'pg_catalog.uuid'::pg_catalog.regtype
           AND insforge.advisor_user_schema(n.nspname)
           AND insforge.advisor_mark_uid(pg_catalog.pg_get_expr(d.adbin, d.adrelid)) ~ '__uid__'
    ), cols AS (
        SELECT u.relid, u.attnum,
               coalesce(pg_catalog.array_agg(DISTINCT u.policy_name) FILTER (WHERE u.policy_name IS NOT NULL), '{}') AS policies,
               bool_or(u.dflt IS NOT NULL) AS has_default
          FROM uses u
         GROUP BY u.relid, u.attnum
    )
    SELECT 'uuid_owner_column',
           'Owner column is uuid but holds provider ids',
           'ERROR',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects uuid columns compared with requesting_user_id() or auth.jwt() ->> ''sub'' (cast on either side) in a '
           || 'policy, or defaulting to it. Provider ids (Clerk user_..., Auth0 auth0|..., ...) are strings: casting them '
           || 'to uuid fails every request, and a uuid column can never hold them.',
           pg_catalog.format('Column %I.%I.%I is uuid but %s.', n.nspname, c.relname, a.attname,
                             pg_catalog.concat_ws(' and ',
                                 CASE WHEN pg_catalog.cardinality(cols.policies) > 0 THEN
                                      'is compared with the requesting user id in '
                                      || CASE WHEN pg_catalog.cardinality(cols.policies) = 1 THEN 'policy ' ELSE 'policies ' END
                                      || (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY x)
                                            FROM pg_catalog.unnest(cols.policies) x) END,
                                 CASE WHEN cols.has_default THEN 'defaults to the requesting user id cast to uuid' END)),
           pg_catalog.format('Store provider ids as text: drop the policies that use the column, '
                             || 'ALTER TABLE %I.%I ALTER COLUMN %I TYPE text USING %I::text, ALTER COLUMN %I SET DEFAULT requesting_user_id(); '
                             || 'then recreate the policies as (%I = requesting_user_id()). See docs/advisor/uuid_owner_column.md.',
                             n.nspname, c.relname, a.attname, a.attname, a.attname, a.attname),
           pg_catalog.jsonb_build_object('schema', n.nspname, 'table', c.relname, 'type', 'column',
                                         'column', a.attname, 'policies', pg_catalog.to_jsonb(cols.policies),
                                         'default', cols.has_default),
           pg_catalog.format('uuid_owner_column_%s_%s_%s', n.nspname, c.relname, a.attname)
      FROM cols
      JOIN pg_catalog.pg_class c ON c.oid = cols.relid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = cols.relid AND a.attnum = cols.attnum
$$;
COMMENT ON FUNCTION insforge.lint_uuid_owner_column() IS
'Advisor rule uuid_owner_column (ERROR): uuid columns compared with (or defaulting to) the requesting user''s id, which for provider users is a string. One row per column.';
