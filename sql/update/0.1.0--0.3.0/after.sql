-- insforge_integrations 0.1.0 -> 0.3.0, hand-written part run last.
--
-- 1. What every update to 0.3.0 does last (the key's owner, the settings' triggers).
-- @include sql/update/to-0.3.0-after.sql

-- 2. The operator privileges for project_admin, when the role exists, as at CREATE
-- EXTENSION (sql/operator.sql).
DO $do$
BEGIN
    IF pg_catalog.to_regrole('project_admin') IS NOT NULL THEN
        PERFORM insforge._grant_operator('project_admin'::pg_catalog.regrole, true);
    END IF;
END
$do$;

-- The ledger (public.x402_payments) is user data, and nothing that runs as the
-- extension's owner touches it, this script included: after the update its owner runs
-- SELECT x402.install_ledger(); which brings it to 0.3.0 (the journal's columns,
-- constraints and indexes; clients read every column but the signed payload).
