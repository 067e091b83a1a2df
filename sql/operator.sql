-- Who operates the extension (SECURITY.md, "Trust levels").
--
-- The operator is InsForge's project_admin (the role InsForge runs a project's SQL
-- as: dashboard, CLI, migrations; never a superuser) and any superuser. Every
-- administrative step of the docs works for it:
--
--   * a step the caller's own rights suffice for runs as the caller (SECURITY
--     INVOKER): the ledger, realtime, settings;
--   * a step that needs more (writing the JWT key, defining a C-language function,
--     granting the extension's privileges) is a SECURITY DEFINER function owned by the
--     least-privileged role that can do it, touching only the extension's own objects,
--     with search_path pinned and EXECUTE revoked from PUBLIC and granted to the
--     operator only (project_admin, when the role exists at CREATE EXTENSION time;
--     insforge.grant_operator() otherwise);
--   * each public entry point (insforge.set_jwt_secret(), x402.install_ledger(), ...)
--     first checks that the caller is an operator, so that anon, authenticated and
--     every other role get 42501 with a message naming the role they need, and nothing
--     changes.
--
-- The privileges that make a role an operator are listed once, in
-- insforge._operator_privileges(); insforge.grant_operator() and
-- insforge.revoke_operator() apply that list to a role, and CREATE EXTENSION
-- applies it to project_admin (the block at the end of this file).

CREATE FUNCTION insforge._operator_privileges() RETURNS TABLE(object_type text, object text, privileges text)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    VALUES ('FUNCTION', 'insforge._adopt_requesting_user_id(boolean)', 'EXECUTE'),
           ('FUNCTION', 'insforge._release_requesting_user_id()', 'EXECUTE'),
           ('FUNCTION', 'insforge._set_jwt_secret(text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._propagate_jwt_secret(text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._propagate_requesting_user_id(boolean,boolean)', 'EXECUTE'),
           ('FUNCTION', 'insforge._grant_operator(regrole,boolean)', 'EXECUTE'),
           ('FUNCTION', 'insforge.lint_jwt_secret_exposed()', 'EXECUTE'),
           ('FUNCTION', 'insforge._act_as(jsonb,text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._explain_query(text,text,text,text,text,text[],text[],text[],integer)', 'EXECUTE'),
           ('FUNCTION', 'insforge._explain_literal(text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._explain_check(jsonb,text,boolean,bigint,bigint,text,jsonb,text,jsonb)', 'EXECUTE'),
           ('FUNCTION', 'insforge._explain_denial(text,text,name,jsonb,jsonb,boolean)', 'EXECUTE'),
           ('FUNCTION', 'insforge._explain_verdict(text,text,text,name,boolean,text,boolean,boolean,boolean,bigint,text,bigint,bigint,bigint,jsonb,jsonb,bigint,text,boolean)', 'EXECUTE'),
           ('FUNCTION', 'x402.record_settlement(jsonb,jsonb,jsonb,text,text)', 'EXECUTE'),
           ('FUNCTION', 'x402.begin_settlement(jsonb,jsonb,text)', 'EXECUTE'),
           ('FUNCTION', 'x402.record_status(text,jsonb)', 'EXECUTE'),
           ('FUNCTION', 'x402._settlement_facts(jsonb,jsonb,jsonb)', 'EXECUTE'),
           ('FUNCTION', 'insforge._setting_name(text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._setting_value(text,text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._settings_changed()', 'EXECUTE'),
           ('FUNCTION', 'insforge._database_settings_row()', 'EXECUTE'),
           ('TABLE', 'insforge.database_settings', 'INSERT, UPDATE, DELETE'),
           ('FUNCTION', 'x402._authorization(jsonb,jsonb)', 'EXECUTE'),
           ('TABLE', 'x402.assets', 'INSERT, UPDATE, DELETE')
    UNION
    -- every advisor rule (insforge.lint_<rule>(), one per file of sql/advisor/)
    SELECT 'FUNCTION', p.oid::pg_catalog.regprocedure::text, 'EXECUTE'
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
                                 AND d.deptype = 'e'
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'insforge_integrations'
     WHERE p.pronamespace = 'insforge'::pg_catalog.regnamespace AND p.proname LIKE 'lint\_%'
$$;
REVOKE ALL ON FUNCTION insforge._operator_privileges() FROM PUBLIC;
COMMENT ON FUNCTION insforge._operator_privileges() IS
'Internal: the privileges that make a role an operator of insforge_integrations (granted to project_admin at CREATE EXTENSION, and by insforge.grant_operator()).';

-- Raises 42501, naming the role needed, unless the caller is an operator: one who may
-- execute insforge._grant_operator() (every operator may; its ACL is the list).
CREATE FUNCTION insforge._require_operator(what text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF NOT pg_catalog.has_function_privilege('insforge._grant_operator(regrole,boolean)', 'EXECUTE') THEN
        RAISE EXCEPTION '% may be run only by the operator: project_admin or a superuser (current role: %)',
                what, current_user
            USING ERRCODE = '42501',
                  HINT = 'Run it as project_admin, as InsForge runs a project''s SQL (SET LOCAL ROLE project_admin), or as a superuser. '
                      || 'To make another role an operator: SELECT insforge.grant_operator(''that_role'');';
    END IF;
END
$fn$;
COMMENT ON FUNCTION insforge._require_operator(text) IS
'Internal: raises 42501 naming the operator role unless the caller is an operator of the extension.';

CREATE FUNCTION insforge._grant_operator(role regrole, grant_it boolean) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    p record;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF role = 0 OR pg_catalog.to_regrole(role::text) IS NULL THEN
        RAISE EXCEPTION 'role % does not exist', role USING ERRCODE = '42704';
    END IF;
    IF (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = role) ~ '^pg_' THEN
        RAISE EXCEPTION 'role % is a predefined role of PostgreSQL and cannot be an operator', role
            USING ERRCODE = '42501';
    END IF;
    IF (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = role) IN ('anon', 'authenticated', 'authenticator') THEN
        RAISE EXCEPTION 'role % is a client role of InsForge and cannot be an operator', role
            USING ERRCODE = '42501',
                  HINT = 'anon and authenticated are the roles of end users (and authenticator can become them); operators administer the project.';
    END IF;
    FOR p IN SELECT * FROM insforge._operator_privileges() LOOP
        EXECUTE pg_catalog.format(CASE WHEN grant_it THEN 'GRANT %s ON %s %s TO %s' ELSE 'REVOKE %s ON %s %s FROM %s' END,
                                  p.privileges, p.object_type, p.object, role);
    END LOOP;
    RETURN pg_catalog.format('%s: %s %s operate insforge_integrations',
                             CASE WHEN grant_it THEN 'granted' ELSE 'revoked' END, role,
                             CASE WHEN grant_it THEN 'may' ELSE 'may no longer' END);
END
$fn$;
REVOKE ALL ON FUNCTION insforge._grant_operator(regrole, boolean) FROM PUBLIC;
COMMENT ON FUNCTION insforge._grant_operator(regrole, boolean) IS
'Internal (SECURITY DEFINER, operators only): grants or revokes the operator privileges of insforge._operator_privileges() to or from a role.';

CREATE FUNCTION insforge.grant_operator(role regrole) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.grant_operator()');
    RETURN insforge._grant_operator(role, true);
END
$fn$;
COMMENT ON FUNCTION insforge.grant_operator(regrole) IS
'Makes a role an operator of the extension (what project_admin is after CREATE EXTENSION): it may then adopt/release public.requesting_user_id(), set the JWT key, install the ledger, record settlements, enable realtime and run every advisor rule. Operators only (project_admin or a superuser).';

CREATE FUNCTION insforge.revoke_operator(role regrole) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.revoke_operator()');
    RETURN insforge._grant_operator(role, false);
END
$fn$;
COMMENT ON FUNCTION insforge.revoke_operator(regrole) IS
'Takes the operator privileges of the extension away from a role. Superusers stay operators. Operators only (project_admin or a superuser).';

-- pgrx creates insforge._set_jwt_secret() (src/sql_jwt.rs) executable by PUBLIC and
-- owned by the extension's owner; it belongs to the key's role (sql/roles.sql).
REVOKE ALL ON FUNCTION insforge._set_jwt_secret(text) FROM PUBLIC;
ALTER FUNCTION insforge._set_jwt_secret(text) OWNER TO insforge_integrations_secrets;
COMMENT ON FUNCTION insforge._set_jwt_secret(text) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of insforge.set_jwt_secret(); validates the key and writes insforge.jwt_secret.';

-- The advisor's rules read the project's catalog (its tables, policies, functions, the
-- operator's settings) and report it: for operators, not for clients, who could call
-- them as RPCs where PostgREST serves schema insforge (SECURITY.md). insforge.advise()
-- itself refuses non-operators.
DO $do$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT object FROM insforge._operator_privileges() WHERE object LIKE 'insforge.lint\_%' LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.object);
    END LOOP;
END
$do$;

-- At CREATE EXTENSION time: InsForge's operator role, when it exists.
DO $do$
BEGIN
    IF pg_catalog.to_regrole('project_admin') IS NOT NULL THEN
        PERFORM insforge._grant_operator('project_admin'::pg_catalog.regrole, true);
    END IF;
END
$do$;
