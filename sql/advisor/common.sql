-- Helpers shared by the advisor's rules (sql/advisor/<rule>.sql). Internal: the
-- API is insforge.advise() and the insforge.lint_<rule>() functions. Every helper
-- runs as its caller and reads only catalogs every role can read.
--
-- Policy expressions are read deparsed (pg_get_expr) with search_path pinned to
-- pg_catalog, so every function outside pg_catalog is printed schema-qualified
-- (public.requesting_user_id(), auth.uid(), ...) whatever the caller's path is.

-- Schemas PostgREST serves. It always serves public in InsForge; a project that
-- exposes more sets PostgREST's in-database configuration `pgrst.db_schemas`
-- (ALTER ROLE authenticator SET pgrst.db_schemas = 'public, api'), which lands in
-- the world-readable pg_db_role_setting, or sets it for the session. InsForge
-- itself serves every schema but Postgres's, its internal ones
-- (insforge.internal_schemas) and extension-owned ones, decided by its
-- system.is_exposed_schema(text) (an event trigger writes the result into
-- pgrst.db_schemas); where that function exists and the caller may run it, its
-- answer counts too.
CREATE FUNCTION insforge.advisor_exposed_schemas() RETURNS name[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    insforge_exposed name[] := '{}';
    result name[];
BEGIN
    IF pg_catalog.to_regprocedure('system.is_exposed_schema(text)') IS NOT NULL THEN
        IF pg_catalog.has_schema_privilege('system', 'USAGE')
           AND pg_catalog.has_function_privilege('system.is_exposed_schema(text)', 'EXECUTE') THEN
            EXECUTE 'SELECT coalesce(pg_catalog.array_agg(n.nspname), ''{}'') FROM pg_catalog.pg_namespace n
                      WHERE system.is_exposed_schema(n.nspname::text)'
                INTO insforge_exposed;
        END IF;
    END IF;
    SELECT pg_catalog.array_agg(DISTINCT s.nspname::name ORDER BY s.nspname::name) INTO result
      FROM (SELECT 'public'::text AS nspname
            UNION ALL
            SELECT pg_catalog.btrim(x, ' "')
              FROM pg_catalog.pg_db_role_setting d,
                   pg_catalog.unnest(d.setconfig) c,
                   pg_catalog.regexp_split_to_table(pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1), ',') x
             WHERE pg_catalog.split_part(c, '=', 1) = 'pgrst.db_schemas'
               AND d.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
            UNION ALL
            SELECT pg_catalog.btrim(x, ' "')
              FROM pg_catalog.regexp_split_to_table(coalesce(pg_catalog.current_setting('pgrst.db_schemas', true), ''), ',') x
            UNION ALL
            SELECT pg_catalog.unnest(insforge_exposed)::text
           ) s
      JOIN pg_catalog.pg_namespace n ON n.nspname = s.nspname;
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION insforge.advisor_exposed_schemas() IS
'Internal helper of insforge.advise(): the schemas PostgREST exposes (public, any listed in a pgrst.db_schemas role/database setting or session setting, and those InsForge''s system.is_exposed_schema() exposes).';

-- Schemas whose tables and policies are the project's own: not Postgres's, not
-- InsForge's platform schemas (the project cannot change those), not temporary.
CREATE FUNCTION insforge.advisor_user_schema(nspname name) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT nspname::text NOT IN ('pg_catalog', 'information_schema', 'insforge',
                                 'auth', 'storage', 'realtime', 'payments', 'system', 'functions', 'ai',
                                 'schedules', 'compute', 'deployments', 'email', 'memory', 'cron', 'better_auth')
       AND nspname::text !~ '^pg_(toast|temp_|toast_temp_)'
$$;
COMMENT ON FUNCTION insforge.advisor_user_schema(name) IS
'Internal helper of insforge.advise(): true for a schema holding the project''s own tables (not pg_catalog, information_schema, insforge, or InsForge''s platform schemas).';

-- Marks the requesting-user expressions in a deparsed expression:
--   __uid__      public./insforge.requesting_user_id(), auth.jwt() ->> 'sub',
--                insforge.jwt() ->> 'sub', insforge.claim('sub'),
--                current_setting('request.jwt.claims', true)::jsonb ->> 'sub' (with or without nullif)
--   __authuid__  auth.uid()
-- each also when wrapped in (select ...) or nullif(..., '').
CREATE FUNCTION insforge.advisor_mark_uid(expr text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    e text := expr;
    prev text;
BEGIN
    IF e IS NULL THEN
        RETURN NULL;
    END IF;
    e := pg_catalog.regexp_replace(e, '\s+', ' ', 'g');
    e := pg_catalog.regexp_replace(e, '\m(public|insforge)\.requesting_user_id\(\)', '__uid__', 'g');
    e := pg_catalog.regexp_replace(e, '\mauth\.uid\(\)', '__authuid__', 'g');
    e := pg_catalog.regexp_replace(e, '\minsforge\.claim\(''sub''::text\)', '__uid__', 'g');
    e := pg_catalog.regexp_replace(e, '\m(auth|insforge)\.jwt\(\)', '__jwt__', 'g');
    e := pg_catalog.regexp_replace(e,
        '\((NULLIF\()?current_setting\(''request\.jwt\.claims''::text(, true)?\)(, ''''::text\))?\)::jsonb?',
        '__jwt__', 'g');
    LOOP
        prev := e;
        e := pg_catalog.regexp_replace(e, '\( SELECT (__jwt__|__uid__|__authuid__)( AS [^()]*)?\)', '\1', 'g');
        e := pg_catalog.regexp_replace(e, '\(__jwt__ ->> ''sub''::text\)', '__uid__', 'g');
        e := pg_catalog.regexp_replace(e, 'NULLIF\((__uid__), ''''::text\)', '\1', 'g');
        e := pg_catalog.regexp_replace(e, '(^|[^a-zA-Z0-9_$"])\((__uid__|__authuid__)\)(?!::)', '\1\2', 'g');
        EXIT WHEN e = prev;
    END LOOP;
    RETURN e;
END
$fn$;
COMMENT ON FUNCTION insforge.advisor_mark_uid(text) IS
'Internal helper of insforge.advise(): replaces the requesting-user expressions of a deparsed policy expression with __uid__ (requesting_user_id(), jwt ->> ''sub'') and __authuid__ (auth.uid()).';

-- Whether a marked expression compares column `col` (its quote_ident spelling)
-- with one of the given tokens ('__uid__', '__authuid__'), directly or through
-- casts on either side, in either order, or as `col = ANY (ARRAY[..., token, ...])`.
-- Returns the token compared with, or NULL.
CREATE FUNCTION insforge.advisor_uid_comparison(marked text, col text, tokens text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    c text := pg_catalog.regexp_replace(col, '([.*+?^${}()|\[\]\\])', '\\\1', 'g');
    t text;
    te text;
    colre text;
    tokre text;
BEGIN
    IF marked IS NULL THEN
        RETURN NULL;
    END IF;
    colre := '(\(' || c || '\)::[a-z ]+|' || c || ')';
    FOREACH t IN ARRAY tokens LOOP
        CONTINUE WHEN t IS NULL;
        te := pg_catalog.regexp_replace(t, '([.*+?^${}()|\[\]\\])', '\\\1', 'g');
        tokre := '(\(' || te || '\)::[a-z ]+|' || te || ')';
        IF marked ~ ('(^|[ (\[,])' || colre || ' = ' || tokre || '([ )]|$)')
           OR marked ~ ('(^|[ (\[,])' || tokre || ' = ' || colre || '([ )]|$)')
           OR marked ~ ('(^|[ (\[,])' || colre || ' = ANY \(ARRAY\[[^]]*' || te) THEN
            RETURN t;
        END IF;
    END LOOP;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION insforge.advisor_uid_comparison(text, text, text[]) IS
'Internal helper of insforge.advise(): which requesting-user token (__uid__ / __authuid__) a marked expression compares the column with, or NULL.';

-- Every policy on a table in a project schema, deparsed and marked.
CREATE FUNCTION insforge.advisor_policies()
    RETURNS TABLE(relid oid, schema_name name, table_name name, policy_name name, command text,
                  permissive boolean, roles name[], applies_to_public boolean,
                  qual text, with_check text, marked_qual text, marked_check text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT c.oid, n.nspname, c.relname, p.polname,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                         WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           p.polpermissive,
           ARRAY(SELECT CASE WHEN r = 0 THEN 'public'::name ELSE (SELECT rolname FROM pg_roles WHERE oid = r) END
                   FROM pg_catalog.unnest(p.polroles) r ORDER BY 1),
           0 = ANY (p.polroles),
           pg_catalog.pg_get_expr(p.polqual, p.polrelid),
           pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
           insforge.advisor_mark_uid(pg_catalog.pg_get_expr(p.polqual, p.polrelid)),
           insforge.advisor_mark_uid(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_catalog.pg_policy p
      JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE insforge.advisor_user_schema(n.nspname)
$$;
COMMENT ON FUNCTION insforge.advisor_policies() IS
'Internal helper of insforge.advise(): the project''s policies with their expressions deparsed (schema-qualified) and marked by insforge.advisor_mark_uid().';

-- Whether `role_name` gets rows through a policy's role list (PUBLIC, the role
-- itself, or a role it is a member of).
CREATE FUNCTION insforge.advisor_policy_applies_to(polroles oid[], role_name name) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = role_name)
       AND (0 = ANY (polroles)
            OR EXISTS (SELECT 1 FROM pg_catalog.unnest(polroles) x
                        WHERE x <> 0 AND pg_catalog.pg_has_role(role_name, x, 'MEMBER')))
$$;
COMMENT ON FUNCTION insforge.advisor_policy_applies_to(oid[], name) IS
'Internal helper of insforge.advise(): true when a policy with these roles applies to role_name (PUBLIC, the role, or a role it belongs to).';

-- Owner-like column names (rls_disabled_with_owner_column).
CREATE FUNCTION insforge.advisor_owner_column(attname name) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT pg_catalog.lower(attname::text) IN (
        'user_id', 'userid', 'owner_id', 'ownerid', 'owner', 'created_by', 'creator_id', 'author_id',
        'account_id', 'profile_id', 'member_id', 'customer_id', 'auth_user_id', 'clerk_user_id', 'clerk_id')
$$;
COMMENT ON FUNCTION insforge.advisor_owner_column(name) IS
'Internal helper of insforge.advise(): true for owner-like column names (user_id, owner_id, created_by, author_id, account_id, profile_id, ...).';

-- Transaction-hash column names (the x402 rules): tx_hash, txhash, transaction_hash,
-- transactionhash, optionally prefixed (settlement_tx_hash, payment_transaction_hash).
CREATE FUNCTION insforge.advisor_tx_hash_column(attname name) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT pg_catalog.lower(attname::text) ~ '^([a-z0-9]+_)?(tx_?hash|transaction_?hash)$'
$$;
COMMENT ON FUNCTION insforge.advisor_tx_hash_column(name) IS
'Internal helper of insforge.advise(): true for transaction-hash column names (tx_hash, txhash, transaction_hash, settlement_tx_hash, ...).';

-- The JWT claims a deparsed expression reads by name, other than through the
-- requesting-user spellings of advisor_mark_uid (sub): `jwt ->> 'k'`, `jwt -> 'k'`,
-- `jwt #>> '{k,...}'`, `jwt #> '{k,...}'`, `jwt ? 'k'` and `jwt @> '{"k": ...}'`,
-- where jwt is auth.jwt(), insforge.jwt() or request.jwt.claims cast to jsonb (also
-- inside (select ...)), and insforge.claim('k'), insforge.claim_path('k', ...),
-- insforge.has_claim('k', ...). Keys given as literals only; the first key of a path.
CREATE FUNCTION insforge.advisor_claims_read(expr text) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    e text := insforge.advisor_mark_uid(expr);
    lit constant text := '''((?:[^'']|'''')*)''';
    keys text[] := '{}';
    m text[];
    obj jsonb;
BEGIN
    IF e IS NULL THEN
        RETURN NULL;
    END IF;
    FOR m IN SELECT pg_catalog.regexp_matches(e, '__jwt__ (?:->>|->|\?) ' || lit || '::text', 'g') LOOP
        keys := keys || pg_catalog.replace(m[1], '''''', '''');
    END LOOP;
    FOR m IN SELECT pg_catalog.regexp_matches(e, '__jwt__ (?:#>>|#>) ' || lit || '::text\[\]', 'g') LOOP
        BEGIN
            keys := keys || (pg_catalog.replace(m[1], '''''', '''')::text[])[1];
        EXCEPTION WHEN OTHERS THEN
            NULL;  -- not an array literal: no key this rule can name
        END;
    END LOOP;
    FOR m IN SELECT pg_catalog.regexp_matches(e, 'insforge\.(?:claim|has_claim)\(' || lit || '::text', 'g') LOOP
        keys := keys || pg_catalog.replace(m[1], '''''', '''');
    END LOOP;
    FOR m IN SELECT pg_catalog.regexp_matches(e, 'insforge\.claim_path\(VARIADIC ARRAY\[' || lit || '::text', 'g') LOOP
        keys := keys || pg_catalog.replace(m[1], '''''', '''');
    END LOOP;
    FOR m IN SELECT pg_catalog.regexp_matches(e, '__jwt__ @> ' || lit || '::jsonb', 'g') LOOP
        BEGIN
            obj := pg_catalog.replace(m[1], '''''', '''')::jsonb;
        EXCEPTION WHEN OTHERS THEN
            obj := NULL;
        END;
        IF pg_catalog.jsonb_typeof(obj) = 'object' THEN
            keys := keys || ARRAY(SELECT pg_catalog.jsonb_object_keys(obj));
        END IF;
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT k FROM pg_catalog.unnest(keys) k WHERE k IS NOT NULL ORDER BY k);
END
$fn$;
COMMENT ON FUNCTION insforge.advisor_claims_read(text) IS
'Internal helper of insforge.advise(): the claim names a deparsed policy expression reads (auth.jwt() ->> ''k'', insforge.claim(''k''), ...), the subject read as requesting user excepted.';
