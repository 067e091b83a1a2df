-- Rule better_auth_tables_exposed: Better Auth's own tables (session tokens,
-- password hashes, OAuth access and refresh tokens) sit in a schema PostgREST
-- serves and anon or authenticated hold a privilege on them. InsForge's default
-- privileges (ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT,
-- UPDATE, DELETE ON TABLES TO anon, authenticated) open every new public table,
-- and InsForge serves every schema that is not internal; the Better Auth guide
-- keeps its tables in schema better_auth and asks for a one-time REVOKE after
-- Better Auth's migration.
--
-- Recognised by shape, not only by name (Better Auth can rename and pluralise its
-- models; column names compared case-insensitively without underscores, so both
-- expiresAt and expires_at match):
--   session       token + expiresAt + userId
--   account       accountId + providerId + userId, and password, accessToken,
--                 refreshToken or idToken
--   verification  identifier + value + expiresAt
--   user          a table named user/users with email + emailVerified, in a schema
--                 that also holds one of the three above (a project's own users
--                 table is not Better Auth's).
-- A privilege means any table privilege (SELECT, INSERT, UPDATE, DELETE,
-- TRUNCATE, REFERENCES, TRIGGER) or column privilege, directly, through PUBLIC or
-- through a role they belong to. See docs/advisor/better_auth_tables_exposed.md.
CREATE FUNCTION insforge.lint_better_auth_tables_exposed()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH columns AS (
        SELECT c.oid, n.nspname, c.relname,
               pg_catalog.array_agg(pg_catalog.replace(pg_catalog.lower(a.attname::text), '_', '')) AS cols
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'insforge', 'x402')
           AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
         GROUP BY c.oid, n.nspname, c.relname
    ), shaped AS (
        SELECT t.*,
               CASE WHEN t.cols @> ARRAY['token', 'expiresat', 'userid'] THEN 'session'
                    WHEN t.cols @> ARRAY['accountid', 'providerid', 'userid']
                         AND t.cols && ARRAY['password', 'accesstoken', 'refreshtoken', 'idtoken'] THEN 'account'
                    WHEN t.cols @> ARRAY['identifier', 'value', 'expiresat'] THEN 'verification'
                    WHEN t.cols @> ARRAY['email', 'emailverified']
                         AND pg_catalog.lower(t.relname::text) IN ('user', 'users') THEN 'user'
               END AS model
          FROM columns t
    ), better_auth AS (
        SELECT s.* FROM shaped s
         WHERE s.model IN ('session', 'account', 'verification')
            OR (s.model = 'user' AND EXISTS (SELECT 1 FROM shaped o WHERE o.nspname = s.nspname
                                                 AND o.model IN ('session', 'account', 'verification')))
    ), grants AS (
        SELECT b.oid, r.rolname, pr.ord, pr.priv
          FROM better_auth b
          CROSS JOIN pg_catalog.pg_roles r
          CROSS JOIN (VALUES (1, 'SELECT'), (2, 'INSERT'), (3, 'UPDATE'), (4, 'DELETE'), (5, 'TRUNCATE'),
                             (6, 'REFERENCES'), (7, 'TRIGGER')) pr(ord, priv)
         WHERE r.rolname IN ('anon', 'authenticated')
           AND b.nspname = ANY (insforge.advisor_exposed_schemas())
           AND (pg_catalog.has_table_privilege(r.oid, b.oid, pr.priv)
                OR (pr.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                    AND pg_catalog.has_any_column_privilege(r.oid, b.oid, pr.priv)))
    ), per_table AS (
        SELECT g.oid, pg_catalog.jsonb_object_agg(g.rolname, g.privs) AS privs,
               pg_catalog.string_agg(g.rolname || ' may ' || pg_catalog.array_to_string(g.privs, ', '), '; '
                                     ORDER BY g.rolname) AS text
          FROM (SELECT oid, rolname, pg_catalog.array_agg(priv ORDER BY ord) AS privs FROM grants GROUP BY oid, rolname) g
         GROUP BY g.oid
    )
    SELECT 'better_auth_tables_exposed',
           'Better Auth''s tables are served to clients',
           'ERROR',
           'EXTERNAL',
           ARRAY['SECURITY'],
           'Detects Better Auth''s own tables (user, session, account, verification, recognised by their columns) in a schema '
           || 'PostgREST serves, on which anon or authenticated hold a privilege. They hold session tokens, password hashes and '
           || 'OAuth tokens: whoever can read them can sign in as any user. InsForge''s default privileges open every new '
           || 'public table to the clients and InsForge serves every non-internal schema, so Better Auth''s migration leaves '
           || 'them open until the one-time REVOKE the InsForge guide asks for.',
           pg_catalog.format('Table %I.%I looks like Better Auth''s %s table (%s) and is served by PostgREST: %s.',
                             b.nspname, b.relname, b.model,
                             CASE b.model WHEN 'session' THEN 'token, expiresAt, userId'
                                          WHEN 'account' THEN 'accountId, providerId, userId and credentials'
                                          WHEN 'verification' THEN 'identifier, value, expiresAt'
                                          ELSE 'email, emailVerified, beside the other Better Auth tables' END,
                             t.text),
           pg_catalog.format('REVOKE ALL ON TABLE %I.%I FROM PUBLIC, anon, authenticated;  -- Better Auth reaches it '
                             || 'through its own database connection, never through the API', b.nspname, b.relname),
           pg_catalog.jsonb_build_object('schema', b.nspname, 'table', b.relname, 'type', 'table', 'model', b.model,
                                         'privileges', t.privs),
           pg_catalog.format('better_auth_tables_exposed_%s_%s', b.nspname, b.relname)
      FROM per_table t
      JOIN better_auth b ON b.oid = t.oid
$$;
COMMENT ON FUNCTION insforge.lint_better_auth_tables_exposed() IS
'Advisor rule better_auth_tables_exposed (ERROR): Better Auth''s user/session/account/verification tables in a schema PostgREST serves, with a privilege for anon or authenticated. One row per table.';
