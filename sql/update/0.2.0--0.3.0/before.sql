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
