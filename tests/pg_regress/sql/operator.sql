-- insforge_integrations: who operates it. InsForge runs a project's SQL as project_admin
-- (never a superuser): on its own connection, BEGIN; SET LOCAL ROLE project_admin; ...
-- Its preloaded insforge_pg_utils runs project_admin's CREATE/ALTER/DROP EXTENSION as the
-- bootstrap superuser (the test cluster preloads a stand-in for it).
SET ROLE project_admin;
CREATE EXTENSION insforge_integrations;
SELECT rolsuper FROM pg_roles WHERE rolname = current_user;

-- The operator runs every administrative step of the README.
SELECT insforge.adopt_requesting_user_id();
SELECT insforge.set_jwt_secret('operator-transcript-secret-0123456789abcdef');
SELECT insforge.jwt_secret_configured();
SELECT x402.install_ledger();
SELECT pg_get_userbyid(relowner) AS ledger_owner FROM pg_class WHERE oid = 'public.x402_payments'::regclass;
-- ... but never reads the key back.
SELECT key FROM insforge.jwt_secret;

-- Bad input: a malformed key is refused (22023) and the stored key stays.
SELECT insforge.set_jwt_secret('-----BEGIN PUBLIC KEY-----
nope
-----END PUBLIC KEY-----');
SELECT insforge.jwt_secret_configured();
RESET ROLE;

-- Everyone else gets 42501 naming the role they need, and nothing changes.
SET ROLE authenticated;
SELECT insforge.set_jwt_secret(NULL);
SELECT insforge.release_requesting_user_id();
SELECT x402.install_ledger();
SELECT insforge.grant_operator('authenticated');
-- The privileged halves are closed by Postgres's own privileges.
SELECT insforge._set_jwt_secret(NULL);
RESET ROLE;
SELECT insforge.jwt_secret_configured(), insforge.native_requesting_user_id_installed();

-- grant_operator(role) makes another administrative role an operator; revoke_operator undoes it.
CREATE ROLE transcript_ops NOLOGIN;
SET ROLE project_admin;
SELECT insforge.grant_operator('transcript_ops');
RESET ROLE;
SET ROLE transcript_ops;
SELECT insforge.set_jwt_secret('operator-transcript-rotated-0123456789abcdef');
RESET ROLE;
SELECT insforge.revoke_operator('transcript_ops');
SET ROLE transcript_ops;
SELECT insforge.set_jwt_secret(NULL);
RESET ROLE;
-- Bad input: client roles cannot be operators; unknown roles do not exist.
SELECT insforge.grant_operator('anon');
SELECT insforge.grant_operator('no_such_role');
DROP ROLE transcript_ops;

-- Settings live under insforge_integrations.*; InsForge's insforge.* stay InsForge's.
SELECT name FROM pg_settings WHERE name LIKE 'insforge\_integrations.%' ORDER BY 1;
SELECT current_setting('insforge.extension_grant_role') AS insforge_pg_utils_setting;
SET insforge_integrations.no_such_setting = 1;

-- ALTER and DROP EXTENSION as project_admin.
SET ROLE project_admin;
ALTER EXTENSION insforge_integrations UPDATE;
DROP EXTENSION insforge_integrations;
SELECT to_regclass('public.x402_payments') IS NOT NULL AS ledger_kept;
RESET ROLE;
