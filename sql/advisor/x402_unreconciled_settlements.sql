-- Rule x402_unreconciled_settlements: the settlement journal (public.x402_payments)
-- holds pending intents that nobody completed: x402.begin_settlement() ran before
-- /settle, x402.record_settlement() never followed (the app died, timed out, or
-- lost the answer). The facilitator may have moved the money. Stale means the
-- authorization's validBefore has passed (it can no longer settle, so its outcome
-- on chain is final and can be looked up) or the intent is older than an hour.
-- See docs/x402.md ("Reconciling").
CREATE FUNCTION insforge.lint_x402_unreconciled_settlements()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    n bigint;
    oldest timestamptz;
    expired bigint;
BEGIN
    -- No ledger, one without the journal's columns, or one the caller may not read: nothing to look at.
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RETURN;
    END IF;
    IF (SELECT count(*) FROM pg_catalog.pg_attribute
         WHERE attrelid = pg_catalog.to_regclass('public.x402_payments')
           AND attname IN ('status', 'payload', 'created_at') AND NOT attisdropped) < 3
       OR NOT pg_catalog.has_table_privilege(pg_catalog.to_regclass('public.x402_payments'), 'SELECT') THEN
        RETURN;
    END IF;
    EXECUTE $q$
        SELECT count(*), min(p.created_at), count(*) FILTER (WHERE vb.t <= pg_catalog.now())
          FROM public.x402_payments p
          CROSS JOIN LATERAL (SELECT CASE WHEN p.payload #>> '{payload,authorization,validBefore}' ~ '^[0-9]{1,15}$'
                                          THEN pg_catalog.to_timestamp((p.payload #>> '{payload,authorization,validBefore}')::double precision)
                                     END AS t) vb
         WHERE p.status = 'pending'
           AND (vb.t <= pg_catalog.now() OR p.created_at < pg_catalog.now() - interval '1 hour') $q$
        INTO n, oldest, expired;
    IF n = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT
        'x402_unreconciled_settlements'::text,
        'Settlements begun but never recorded'::text,
        'WARN'::text,
        'INTERNAL'::text,
        ARRAY['CORRECTNESS']::text[],
        ('Detects pending rows in the settlement journal: x402.begin_settlement() wrote the intent before /settle and '
         || 'x402.record_settlement() never completed it. The facilitator may have moved the money anyway; until the row '
         || 'is reconciled the payment is unaccounted. Stale: the authorization''s validBefore has passed (its outcome on '
         || 'chain is final) or the intent is older than an hour.')::text,
        pg_catalog.format('public.x402_payments has %s stale pending settlement%s (%s past validBefore), the oldest begun %s ago.',
                          n, CASE WHEN n = 1 THEN '' ELSE 's' END, expired,
                          pg_catalog.date_trunc('second', pg_catalog.now() - oldest)),
        ('SELECT * FROM x402.unreconciled(''0 seconds'');  -- then look each authorization up (look_up, explorer) and '
         || 'record the facilitator''s answer with x402.record_settlement(payload, requirements, answer)')::text,
        pg_catalog.jsonb_build_object('schema', 'public', 'table', 'x402_payments', 'type', 'table', 'pending', n,
                                      'past_valid_before', expired, 'oldest', oldest),
        'x402_unreconciled_settlements_public_x402_payments'::text;
END
$fn$;
COMMENT ON FUNCTION insforge.lint_x402_unreconciled_settlements() IS
'Advisor rule x402_unreconciled_settlements (WARN): pending settlement intents whose authorization can no longer settle, or older than an hour, that record_settlement() never completed. One row.';
