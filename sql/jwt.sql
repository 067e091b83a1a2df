-- Key storage helpers for insforge.set_jwt_secret() (src/sql_jwt.rs) and verified mode.
-- The two SECURITY DEFINER functions belong to insforge_integrations_secrets, the
-- key's role (sql/roles.sql), and touch nothing but insforge.jwt_secret.

CREATE FUNCTION insforge.jwt_secret_configured() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT EXISTS (SELECT 1 FROM insforge.jwt_secret) $$;
ALTER FUNCTION insforge.jwt_secret_configured() OWNER TO insforge_integrations_secrets;
COMMENT ON FUNCTION insforge.jwt_secret_configured() IS
'True when insforge.set_jwt_secret() stored a key for this database. Discloses nothing else.';

-- Called by the extension's C code through fmgr (no ACL check there); nobody
-- else may execute it.
CREATE FUNCTION insforge._jwt_key() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT coalesce((SELECT key FROM insforge.jwt_secret), '') $$;
REVOKE ALL ON FUNCTION insforge._jwt_key() FROM PUBLIC;
ALTER FUNCTION insforge._jwt_key() OWNER TO insforge_integrations_secrets;
COMMENT ON FUNCTION insforge._jwt_key() IS
'Internal: the stored key, for the extension''s own verification code. Not executable by any role.';

-- The operator's entry point (sql/operator.sql): checks the caller, then calls the
-- SECURITY DEFINER insforge._set_jwt_secret() (src/sql_jwt.rs), which validates the
-- key (22023 when malformed) and writes insforge.jwt_secret.
CREATE FUNCTION insforge.set_jwt_secret(key text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.set_jwt_secret()');
    PERFORM insforge._set_jwt_secret(key);
    -- On a Citus coordinator: every worker too (sql/citus.sql; 0 elsewhere).
    PERFORM insforge._propagate_jwt_secret(key);
END
$fn$;
COMMENT ON FUNCTION insforge.set_jwt_secret(text) IS
'Stores the JWT verification key of this database: an HMAC secret, a PEM public key, a JWK or a JWKS (PostgREST''s jwt-secret vocabulary; 22023 when malformed, when it is a documentation placeholder, or when an HMAC secret is shorter than 32 bytes). NULL removes it. On a Citus coordinator it stores it on every worker as well (outside a transaction block only: 25001 inside one; 08000 naming a worker it could not write). Operators only (project_admin or a superuser; 42501 for everyone else). No role can read it back.';
