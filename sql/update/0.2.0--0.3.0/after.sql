-- insforge_integrations 0.2.0 -> 0.3.0, hand-written part run last.
--
-- 1. What every update to 0.3.0 does last (the key's owner, the settings' triggers).
-- @include sql/update/to-0.3.0-after.sql

-- 2. Every operator of 0.2.0 (project_admin, and roles given insforge.grant_operator())
--    gets 0.3.0's list of operator privileges (sql/operator.sql): the ledger's internal
--    functions it now runs as itself.
DO $operators$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT a.oid::pg_catalog.regrole AS role
               FROM pg_catalog.pg_roles a
              WHERE NOT a.rolsuper
                AND pg_catalog.has_function_privilege(a.oid, 'insforge._grant_operator(regrole,boolean)', 'EXECUTE')
              ORDER BY a.rolname
    LOOP
        PERFORM insforge._grant_operator(r.role, true);
    END LOOP;
END
$operators$;

-- The ledger (public.x402_payments) is the operator's table, and nothing that runs as
-- the extension's owner touches it, this script included: after the update the operator
-- runs SELECT x402.install_ledger(); as the table's owner, which brings it to 0.3.0
-- (clients read every column but the signed payload).
