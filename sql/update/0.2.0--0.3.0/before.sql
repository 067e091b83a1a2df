-- insforge_integrations 0.2.0 -> 0.3.0, hand-written part run first.
--
-- 1. The guard every script starts with: refuse a schema someone else created or
--    filled, then pin the search path (sql/guard.sql).
-- @include sql/guard.sql

-- 2. The role that owns the JWT key and the code that reaches it (sql/roles.sql).
-- @include sql/roles.sql

-- 3. Functions 0.3.0 no longer has. The ledger's functions run as their caller now
--    (SECURITY.md), so the privileged halves of install_ledger() and
--    enable_realtime() are gone, and the operator check takes no privileged function.
DROP FUNCTION x402._install_ledger(regrole);
DROP FUNCTION x402._enable_realtime(text);
DROP FUNCTION insforge._require_operator(text, regprocedure);

-- The settlement journal (sql/x402.sql, src/ledger.rs): its PL/pgSQL halves are gone (the
-- journal decides in Rust now).
DROP FUNCTION x402._record_settlement(jsonb, jsonb, jsonb, text, text, jsonb);
DROP FUNCTION x402._begin_settlement(jsonb, jsonb, text, jsonb);
DROP FUNCTION x402._same_settlement(x402.payment, jsonb);
-- x402._explorer_address_url() is public now, as x402.explorer_url().
DROP FUNCTION x402._explorer_address_url(text, text);

-- What every update to 0.3.0 creates (the operator's settings table, the journal's
-- columns of x402.payment).
-- @include sql/update/to-0.3.0-before.sql
