-- Rule x402_tx_hash_not_unique: a settlement table (one with a transaction-hash
-- column: tx_hash, txhash, transaction_hash, transactionhash, optionally prefixed
-- as in settlement_tx_hash) has no unique constraint or unique index on exactly
-- that column. Without one the same on-chain payment can be recorded, and
-- redeemed, twice. What counts as unique: a non-partial unique index (or
-- PRIMARY KEY / UNIQUE constraint) whose only key is the column, or the column
-- wrapped in lower() or upper() (stricter: hex hashes are case-insensitive).
-- A partial unique index does not count; nor does a multi-column one. See docs/advisor/x402_tx_hash_not_unique.md.
CREATE FUNCTION insforge.lint_x402_tx_hash_not_unique()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'x402_tx_hash_not_unique',
           'Settlement transaction hash is not unique',
           'ERROR',
           'EXTERNAL',
           ARRAY['SECURITY'],
           'Detects tables with a transaction-hash column (tx_hash, transaction_hash, txhash, ...) without a unique constraint '
           || 'or non-partial unique index on exactly that column. The ledger is what proves a payment; without uniqueness the '
           || 'same settlement can be recorded twice and a replayed payment buys twice.',
           pg_catalog.format('Column %I.%I.%I has no unique constraint or unique index%s.',
                             n.nspname, c.relname, a.attname,
                             CASE WHEN near.partial THEN ' (a partial unique index does not count)'
                                  WHEN near.multi THEN ' (a multi-column unique index does not count)'
                                  ELSE '' END),
           pg_catalog.format('ALTER TABLE %I.%I ADD CONSTRAINT %I UNIQUE (%I);  -- remove duplicate rows first',
                             n.nspname, c.relname, pg_catalog.left(c.relname || '_' || a.attname || '_key', 63), a.attname),
           pg_catalog.jsonb_build_object('schema', n.nspname, 'table', c.relname, 'type', 'column', 'column', a.attname,
                                         'partial_unique_index', near.partial, 'multi_column_unique_index', near.multi),
           pg_catalog.format('x402_tx_hash_not_unique_%s_%s_%s', n.nspname, c.relname, a.attname)
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      CROSS JOIN LATERAL (
            SELECT coalesce(bool_or(i.indpred IS NULL AND i.on_column), false) AS ok,
                   coalesce(bool_or(i.indpred IS NOT NULL AND i.on_column), false) AS partial,
                   coalesce(bool_or(i.indpred IS NULL AND i.indnkeyatts > 1 AND a.attnum = ANY (i.indkey::int2[])), false) AS multi
              FROM (SELECT x.indpred, x.indnkeyatts, x.indkey,
                           -- the column alone, or lower(col) / upper(col) alone
                           x.indnkeyatts = 1
                           AND (x.indkey[0] = a.attnum
                                OR (x.indkey[0] = 0
                                    AND pg_catalog.pg_get_indexdef(x.indexrelid, 1, true) IN (
                                        SELECT pg_catalog.format(f, fn, pg_catalog.quote_ident(a.attname))
                                          FROM pg_catalog.unnest(ARRAY['lower', 'upper']) fn,
                                               pg_catalog.unnest(ARRAY['%s(%s)', '%s(%s::text)', '%s((%s)::text)']) f))) AS on_column
                      FROM pg_catalog.pg_index x
                     WHERE x.indrelid = c.oid AND x.indisunique AND x.indisvalid) i) near
     WHERE c.relkind IN ('r', 'p')
       AND NOT c.relispartition
       AND insforge.advisor_user_schema(n.nspname)
       AND insforge.advisor_tx_hash_column(a.attname)
       AND NOT near.ok
$$;
COMMENT ON FUNCTION insforge.lint_x402_tx_hash_not_unique() IS
'Advisor rule x402_tx_hash_not_unique (ERROR): settlement tables whose transaction-hash column has no unique constraint or non-partial single-column unique index. One row per column.';
