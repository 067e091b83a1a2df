-- The roles the extension's privileged functions run as (SECURITY.md, "Who runs what").
--
-- insforge_integrations_secrets owns the JWT key's table and the four functions that
-- read or write it (sql/jwt_secret.sql, sql/jwt.sql). Roles are cluster-wide: the
-- first database that installs the extension creates it, the others find it. It must
-- stay NOLOGIN, without attributes (SUPERUSER, CREATEROLE, CREATEDB, REPLICATION,
-- BYPASSRLS), members or memberships; otherwise the script refuses (42501).
DO $role$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = 'insforge_integrations_secrets';
    IF NOT FOUND THEN
        CREATE ROLE insforge_integrations_secrets NOLOGIN NOINHERIT;
    ELSIF r.rolsuper OR r.rolcanlogin OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
          OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                      WHERE m.roleid OPERATOR(pg_catalog.=) r.oid OR m.member OPERATOR(pg_catalog.=) r.oid) THEN
        RAISE EXCEPTION 'role insforge_integrations_secrets exists with attributes or memberships the extension did not give it'
            USING ERRCODE = '42501',
                  HINT = 'It holds the JWT key, so it must be NOLOGIN, without attributes, members or memberships. A superuser must inspect it (DROP ROLE it if it is not from this extension in another database), then run the command again.';
    END IF;
END
$role$;
