-- Rule jwt_secret_exposed: the JWT signing key appears somewhere non-superusers
-- can read it. Anyone holding it can mint tokens for any user and any role
-- (project_admin included).
--
-- Keys looked for:
--   * insforge.jwt_secret.key (superuser-only table): an HMAC secret as stored;
--     for a JWK/JWKS, its private members (k, d, p, q); for a PEM private key, its
--     middle base64 line (the first lines are the same ASN.1 header for every key
--     of a kind); public keys (PEM PUBLIC KEY / CERTIFICATE, public-only JWKs) are
--     not secrets and are skipped;
--   * the session's app.settings.jwt_secret, the setting InsForge's own SQL reads.
--   Values shorter than 16 characters are not searched for: they would match
--   ordinary text, and an HS256 key that short is broken anyway (RFC 7518 asks
--   for 256 bits).
-- Where (all world-readable catalogs): function bodies (pg_proc.prosrc and
-- SQL-standard bodies) and function SET clauses, view and materialized view
-- definitions, policy expressions, column defaults and generated columns, CHECK
-- constraints, trigger arguments, database and role settings
-- (pg_db_role_setting, cluster-wide), and comments (pg_description,
-- pg_shdescription). Literals are matched raw and with quotes doubled, as they
-- are deparsed. Any app.settings.jwt_secret entry in a function's SET clause, or
-- in pg_db_role_setting for this database or for all databases, is a finding
-- whatever its value.
--
-- Privileges: this function must read the key, so it is SECURITY DEFINER, owned by
-- the key's role insforge_integrations_secrets (sql/roles.sql), search_path pinned;
-- besides the key it reads only world-readable catalogs. It takes no argument and
-- returns only finding rows, which name where the key is, never the key.
-- EXECUTE is revoked from PUBLIC and granted to the operator (project_admin, the
-- role the service key and InsForge's dashboard use; see sql/operator.sql);
-- insforge.advise() runs it when the caller may, and otherwise reports that this
-- rule was skipped. See docs/advisor/jwt_secret_exposed.md.
CREATE FUNCTION insforge.lint_jwt_secret_exposed()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
#variable_conflict use_column
DECLARE
    stored text;
    setting text := nullif(pg_catalog.current_setting('app.settings.jwt_secret', true), '');
    j jsonb;
    lines text[];
    srcs text[] := '{}';
    vals text[] := '{}';
BEGIN
    IF pg_catalog.to_regclass('insforge.jwt_secret') IS NOT NULL THEN
        EXECUTE 'SELECT key FROM insforge.jwt_secret LIMIT 1' INTO stored;
    END IF;
    stored := pg_catalog.btrim(stored, E' \t\r\n');
    IF stored IS NULL OR stored = '' THEN
        NULL;
    ELSIF stored ~ '-----BEGIN ([A-Z]+ )?(PUBLIC KEY|CERTIFICATE)-----' THEN
        NULL;  -- public material
    ELSIF stored ~ '-----BEGIN [A-Z ]*PRIVATE KEY-----' THEN
        lines := ARRAY(SELECT l FROM pg_catalog.regexp_split_to_table(stored, E'\\s*\\n\\s*') l
                        WHERE l !~ '^-----' AND l !~ ':' AND l <> '');
        IF pg_catalog.cardinality(lines) > 0 THEN
            srcs := srcs || 'insforge.jwt_secret'::text;
            vals := vals || lines[pg_catalog.cardinality(lines) / 2 + 1];
        END IF;
    ELSIF pg_catalog.left(stored, 1) IN ('{', '[') THEN
        BEGIN
            j := stored::jsonb;
        EXCEPTION WHEN OTHERS THEN
            j := NULL;
        END;
        IF j IS NULL THEN
            srcs := srcs || 'insforge.jwt_secret'::text;
            vals := vals || stored;
        ELSE
            SELECT srcs || pg_catalog.array_agg('insforge.jwt_secret'::text), vals || pg_catalog.array_agg(v)
              INTO srcs, vals
              FROM (SELECT DISTINCT x #>> '{}' AS v
                      FROM pg_catalog.jsonb_path_query(j, 'lax $.**.k') x
                     WHERE pg_catalog.jsonb_typeof(x) = 'string'
                    UNION
                    SELECT y ->> m
                      FROM pg_catalog.jsonb_path_query(j, 'lax $.**') y, pg_catalog.unnest(ARRAY['d', 'p', 'q']) m
                     WHERE pg_catalog.jsonb_typeof(y) = 'object' AND pg_catalog.jsonb_typeof(y -> m) = 'string') s
             WHERE v IS NOT NULL;
        END IF;
    ELSE
        srcs := srcs || 'insforge.jwt_secret'::text;
        vals := vals || stored;
    END IF;
    IF setting IS NOT NULL THEN
        srcs := srcs || 'app.settings.jwt_secret'::text;
        vals := vals || setting;
    END IF;

    RETURN QUERY
    WITH secrets AS (
        SELECT s.src, s.val, pg_catalog.replace(s.val, '''', '''''') AS quoted
          FROM unnest(srcs, vals) s(src, val)  -- multi-argument unnest is syntax, not pg_catalog.unnest
         WHERE pg_catalog.length(s.val) >= 16
    ), found AS (
        -- function bodies
        SELECT 'function' AS kind, p.oid::pg_catalog.regprocedure::text AS obj, 'pg_proc.prosrc' AS catalog, s.src,
               'Recreate the function without the key: keep the key only where insforge.set_jwt_secret() stores it, '
               || 'which nothing but superusers and the extension''s own role can read. Then rotate the secret (it has been '
               || 'readable) and store the new one with insforge.set_jwt_secret().' AS fix
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace, secrets s
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND (pg_catalog.strpos(p.prosrc, s.val) > 0 OR pg_catalog.strpos(p.prosrc, s.quoted) > 0
                OR (p.prosqlbody IS NOT NULL AND pg_catalog.strpos(pg_catalog.pg_get_function_sqlbody(p.oid), s.quoted) > 0))
        UNION
        -- function SET clauses
        SELECT 'function setting', pg_catalog.split_part(cfg, '=', 1) || ' of function ' || p.oid::pg_catalog.regprocedure::text,
               'pg_proc.proconfig', coalesce(s.src, 'app.settings.jwt_secret'),
               pg_catalog.format('ALTER FUNCTION %s RESET %s;  -- then rotate the secret',
                                 p.oid::pg_catalog.regprocedure, pg_catalog.split_part(cfg, '=', 1))
          FROM pg_catalog.pg_proc p
          CROSS JOIN LATERAL pg_catalog.unnest(p.proconfig) cfg
          LEFT JOIN secrets s ON pg_catalog.strpos(cfg, s.val) > 0
         WHERE s.src IS NOT NULL OR pg_catalog.split_part(cfg, '=', 1) = 'app.settings.jwt_secret'
        UNION
        -- views and materialized views
        SELECT CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
               pg_catalog.format('%I.%I', n.nspname, c.relname), 'pg_views.definition', s.src,
               'Recreate the view without the key: keep the key only where insforge.set_jwt_secret() stores it, '
               || 'which nothing but superusers and the extension''s own role can read. Then rotate the secret (it has been '
               || 'readable) and store the new one with insforge.set_jwt_secret().'
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, secrets s
         WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND pg_catalog.strpos(pg_catalog.pg_get_viewdef(c.oid), s.quoted) > 0
        UNION
        -- policies
        SELECT 'policy', pg_catalog.format('%I on %I.%I', p.polname, n.nspname, c.relname), 'pg_policies', s.src,
               pg_catalog.format('ALTER POLICY %I ON %I.%I with an expression that does not embed the key, then rotate the secret.',
                                 p.polname, n.nspname, c.relname)
          FROM pg_catalog.pg_policy p
          JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, secrets s
         WHERE pg_catalog.strpos(coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || ' '
                                 || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), ''), s.quoted) > 0
        UNION
        -- column defaults and generated columns
        SELECT 'column default', pg_catalog.format('%I.%I.%I', n.nspname, c.relname, a.attname), 'pg_attrdef', s.src,
               CASE WHEN a.attgenerated = ''
                    THEN pg_catalog.format('ALTER TABLE %I.%I ALTER COLUMN %I DROP DEFAULT;  -- then rotate the secret',
                                           n.nspname, c.relname, a.attname)
                    ELSE 'Recreate the generated column without the literal, then rotate the secret.' END
          FROM pg_catalog.pg_attrdef d
          JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
          JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, secrets s
         WHERE pg_catalog.strpos(pg_catalog.pg_get_expr(d.adbin, d.adrelid), s.quoted) > 0
        UNION
        -- CHECK constraints (tables and domains)
        SELECT 'constraint', pg_catalog.regexp_replace(
                   pg_catalog.pg_describe_object('pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid, 0), '^constraint ', ''),
               'pg_constraint', s.src,
               'Drop the constraint and recreate it without the literal, then rotate the secret.'
          FROM pg_catalog.pg_constraint k, secrets s
         WHERE k.contype = 'c' AND pg_catalog.strpos(pg_catalog.pg_get_constraintdef(k.oid), s.quoted) > 0
        UNION
        -- trigger arguments
        SELECT 'trigger', pg_catalog.regexp_replace(
                   pg_catalog.pg_describe_object('pg_catalog.pg_trigger'::pg_catalog.regclass, t.oid, 0), '^trigger ', ''),
               'pg_trigger', s.src,
               'Recreate the trigger without the key among its arguments, then rotate the secret.'
          FROM pg_catalog.pg_trigger t, secrets s
         WHERE NOT t.tgisinternal AND pg_catalog.strpos(pg_catalog.pg_get_triggerdef(t.oid), s.quoted) > 0
        UNION
        -- database and role settings (ALTER DATABASE / ALTER ROLE ... SET), cluster-wide
        SELECT CASE WHEN r.setrole = 0 THEN 'database setting' ELSE 'role setting' END,
               pg_catalog.split_part(cfg, '=', 1) || ' of '
               || pg_catalog.concat_ws(' in ',
                      CASE WHEN r.setrole <> 0 THEN pg_catalog.format('role %I', pg_catalog.pg_get_userbyid(r.setrole)) END,
                      CASE WHEN r.setdatabase <> 0 THEN pg_catalog.format('database %I',
                           (SELECT datname FROM pg_catalog.pg_database WHERE oid = r.setdatabase)) END),
               'pg_db_role_setting', coalesce(s.src, 'app.settings.jwt_secret'),
               pg_catalog.format('ALTER %s RESET %s;  -- settings are readable by every role; then rotate the secret',
                   CASE WHEN r.setrole = 0
                        THEN pg_catalog.format('DATABASE %I', (SELECT datname FROM pg_catalog.pg_database WHERE oid = r.setdatabase))
                        WHEN r.setdatabase = 0
                        THEN pg_catalog.format('ROLE %I', pg_catalog.pg_get_userbyid(r.setrole))
                        ELSE pg_catalog.format('ROLE %I IN DATABASE %I', pg_catalog.pg_get_userbyid(r.setrole),
                                               (SELECT datname FROM pg_catalog.pg_database WHERE oid = r.setdatabase)) END,
                   pg_catalog.split_part(cfg, '=', 1))
          FROM pg_catalog.pg_db_role_setting r
          CROSS JOIN LATERAL pg_catalog.unnest(r.setconfig) cfg
          LEFT JOIN secrets s ON pg_catalog.strpos(pg_catalog.substr(cfg, pg_catalog.strpos(cfg, '=') + 1), s.val) > 0
         WHERE s.src IS NOT NULL
            OR (pg_catalog.split_part(cfg, '=', 1) = 'app.settings.jwt_secret'
                AND r.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())))
        UNION
        -- comments on objects of this database, and on databases, roles, tablespaces
        SELECT 'comment', 'on ' || pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid), 'pg_description', s.src,
               'Replace the comment (COMMENT ON ... IS NULL), then rotate the secret.'
          FROM pg_catalog.pg_description d, secrets s
         WHERE pg_catalog.strpos(d.description, s.val) > 0
        UNION
        SELECT 'comment', 'on ' || pg_catalog.pg_describe_object(d.classoid, d.objoid, 0), 'pg_shdescription', s.src,
               'Replace the comment (COMMENT ON ... IS NULL), then rotate the secret.'
          FROM pg_catalog.pg_shdescription d, secrets s
         WHERE pg_catalog.strpos(d.description, s.val) > 0
    ), locations AS (
        SELECT f.kind, f.obj, f.catalog, f.fix, pg_catalog.array_agg(DISTINCT f.src ORDER BY f.src) AS sources
          FROM found f GROUP BY f.kind, f.obj, f.catalog, f.fix
    )
    SELECT 'jwt_secret_exposed'::text,
           'JWT secret readable by non-superusers'::text,
           'ERROR'::text,
           'EXTERNAL'::text,
           ARRAY['SECURITY']::text[],
           ('Detects the JWT signing key (insforge.jwt_secret, or the app.settings.jwt_secret setting) written into places '
            || 'every role can read: function bodies and settings, view definitions, policies, column defaults, constraints, '
            || 'triggers, database and role settings, comments. Whoever reads it can mint a token for any user or role.')::text,
           pg_catalog.format('%s appears in the %s %s (readable by every role through %s).',
                             CASE WHEN l.kind IN ('database setting', 'role setting', 'function setting')
                                   AND l.obj LIKE 'app.settings.jwt\_secret of %'
                                  THEN 'The setting app.settings.jwt_secret'
                                  ELSE 'The JWT secret (' || pg_catalog.array_to_string(l.sources, ', ') || ')' END,
                             l.kind, l.obj, l.catalog),
           l.fix,
           pg_catalog.jsonb_build_object('type', l.kind, 'object', l.obj, 'catalog', l.catalog,
                                         'secret_sources', pg_catalog.to_jsonb(l.sources)),
           pg_catalog.format('jwt_secret_exposed_%s_%s', pg_catalog.replace(l.kind, ' ', '_'), l.obj)
      FROM locations l;
END
$fn$;
COMMENT ON FUNCTION insforge.lint_jwt_secret_exposed() IS
'Advisor rule jwt_secret_exposed (ERROR): places every role can read (function bodies, views, policies, defaults, settings, comments, ...) that contain the JWT key. Reports where, never the key. SECURITY DEFINER; EXECUTE granted to project_admin only.';
REVOKE ALL ON FUNCTION insforge.lint_jwt_secret_exposed() FROM PUBLIC;
ALTER FUNCTION insforge.lint_jwt_secret_exposed() OWNER TO insforge_integrations_secrets;
-- EXECUTE for project_admin: granted with the other operator privileges (sql/operator.sql).
