-- Rule x402_unreconciled_settlements: the settlement journal (public.x402_payments)
-- holds payments whose outcome nobody recorded:
-- - pending intents: x402.begin_settlement() ran before /settle, and
--   x402.record_settlement() never followed (the app died, timed out, or lost the
--   answer). The facilitator may have moved the money. Stale: the authorization's
--   validBefore (Permit2: deadline) has passed, so its outcome on chain is final, or
--   the intent is older than an hour.
-- - broadcast transactions: the facilitator sent them (OKX's default answer, the
--   SDK's settlement_pending) and nobody recorded the confirmation with
--   x402.record_status(). Stale: older than ten minutes (X Layer confirms in
--   seconds); their amount is counted as unconfirmed revenue until then.
-- See docs/x402.md ("Reconciling").
CREATE FUNCTION insforge.lint_x402_unreconciled_settlements()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    ledger regclass := pg_catalog.to_regclass('public.x402_payments');
    n bigint;
    oldest timestamptz;
    expired bigint;
    broadcast bigint;
    unconfirmed numeric;
    valid_before text;
BEGIN
    -- No ledger, one without the journal's columns, or one the caller may not read: nothing to look at.
    IF ledger IS NULL THEN
        RETURN;
    END IF;
    IF (SELECT count(*) FROM pg_catalog.pg_attribute
         WHERE attrelid = ledger AND attname IN ('status', 'payload', 'created_at', 'amount') AND NOT attisdropped) < 4
       OR NOT pg_catalog.has_table_privilege(ledger, 'SELECT') THEN
        RETURN;
    END IF;
    -- When the authorization stops being settleable: the ledger's own column (install_ledger()
    -- of this version fills it for every kind of payment), else EIP-3009's validBefore.
    valid_before := CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                                       WHERE attrelid = ledger AND attname = 'valid_before' AND NOT attisdropped)
                         THEN 'p.valid_before'
                         ELSE $v$CASE WHEN p.payload #>> '{payload,authorization,validBefore}' ~ '^[0-9]{1,15}$'
                                    THEN pg_catalog.to_timestamp((p.payload #>> '{payload,authorization,validBefore}')::double precision)
                                 END$v$ END;
    EXECUTE pg_catalog.format($q$
        SELECT count(*) FILTER (WHERE p.status = 'pending'),
               min(p.created_at),
               count(*) FILTER (WHERE p.status = 'pending' AND %1$s <= pg_catalog.now()),
               count(*) FILTER (WHERE p.status = 'broadcast'),
               coalesce(sum(p.amount) FILTER (WHERE p.status = 'broadcast'), 0)
          FROM public.x402_payments p
         WHERE (p.status = 'pending' AND (%1$s <= pg_catalog.now() OR p.created_at < pg_catalog.now() - interval '1 hour'))
            OR (p.status = 'broadcast' AND p.created_at < pg_catalog.now() - interval '10 minutes') $q$, valid_before)
        INTO n, oldest, expired, broadcast, unconfirmed;
    IF n + broadcast = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT
        'x402_unreconciled_settlements'::text,
        'Settlements whose outcome was never recorded'::text,
        'WARN'::text,
        'INTERNAL'::text,
        ARRAY['CORRECTNESS']::text[],
        ('Detects payments in the settlement journal whose outcome nobody recorded: pending intents '
         || '(x402.begin_settlement() wrote the intent before /settle and x402.record_settlement() never completed it; '
         || 'the facilitator may have moved the money anyway) whose validBefore has passed or that are older than an hour, '
         || 'and broadcast transactions (sent, never confirmed with x402.record_status()) older than ten minutes, whose '
         || 'amount is counted as unconfirmed revenue. Until each is reconciled the payment is unaccounted.')::text,
        pg_catalog.format('public.x402_payments has %s stale pending settlement%s (%s past validBefore) and %s broadcast '
                          'transaction%s unconfirmed for over ten minutes (%s in unconfirmed revenue); the oldest was '
                          'begun %s ago.',
                          n, CASE WHEN n = 1 THEN '' ELSE 's' END, expired,
                          broadcast, CASE WHEN broadcast = 1 THEN '' ELSE 's' END, unconfirmed,
                          pg_catalog.date_trunc('second', pg_catalog.now() - oldest)),
        ('SELECT * FROM x402.unreconciled(''0 seconds'');  -- then look each one up (look_up: OKX''s status path for a '
         || 'hash, or the chain) and record what you learn: x402.record_status(tx_hash, answer) for a broadcast '
         || 'transaction, x402.record_settlement(payload, requirements, answer) for a pending intent')::text,
        pg_catalog.jsonb_build_object('schema', 'public', 'table', 'x402_payments', 'type', 'table', 'pending', n,
                                      'past_valid_before', expired, 'broadcast', broadcast,
                                      'unconfirmed_revenue', unconfirmed, 'oldest', oldest),
        'x402_unreconciled_settlements_public_x402_payments'::text;
END
$fn$;
COMMENT ON FUNCTION insforge.lint_x402_unreconciled_settlements() IS
'Advisor rule x402_unreconciled_settlements (WARN): pending settlement intents whose authorization can no longer settle, or older than an hour, that record_settlement() never completed, and broadcast transactions unconfirmed for over ten minutes. One row.';
