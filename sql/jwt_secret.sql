-- Where insforge.set_jwt_secret() keeps the verification key of this database.
-- Readable by superusers only: not a setting (SHOW, current_setting(), pg_settings,
-- and the world-readable pg_db_role_setting would all expose it), not in any view,
-- and not dumped by pg_dump (secrets do not belong in backups: after a restore, run
-- insforge.set_jwt_secret() again; until then verification fails closed).
CREATE TABLE insforge.jwt_secret (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON TABLE insforge.jwt_secret FROM PUBLIC;
COMMENT ON TABLE insforge.jwt_secret IS
'The JWT verification key of this database (HMAC secret, PEM, JWK or JWKS). Superusers only; write it with insforge.set_jwt_secret().';
