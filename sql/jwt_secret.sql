-- Where insforge.set_jwt_secret() keeps the verification key of this database.
--
-- Not a setting (SHOW, current_setting(), pg_settings, and the world-readable
-- pg_db_role_setting would all expose it), not in any view, and not dumped by pg_dump
-- (secrets do not belong in backups: after a restore, run insforge.set_jwt_secret()
-- again; until then verification fails closed).
--
-- The table and the four functions that read or write it (insforge._set_jwt_secret,
-- insforge._jwt_key, insforge.jwt_secret_configured, insforge.lint_jwt_secret_exposed)
-- belong to insforge_integrations_secrets: a NOLOGIN role with no attributes, no
-- members and no memberships, so that the code that reaches the key runs with no
-- right but that one (SECURITY.md; the role is made in sql/roles.sql). Superusers
-- read the table; nobody else can.

CREATE TABLE insforge.jwt_secret (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON TABLE insforge.jwt_secret FROM PUBLIC;
ALTER TABLE insforge.jwt_secret OWNER TO insforge_integrations_secrets;
COMMENT ON TABLE insforge.jwt_secret IS
'The JWT verification key of this database (HMAC secret, PEM, JWK or JWKS). Superusers only; write it with insforge.set_jwt_secret().';
