-- Rule citus_claims_not_propagated: on a Citus coordinator, a distributed (or reference)
-- table has a policy that reads the request's claims, but PostgREST is not configured to
-- send them to the workers. Citus evaluates such a policy on the workers, which never see
-- PostgREST's set_config('request.jwt.claims', ...): every request then sees no rows and
-- every write is refused. The fix is PostgREST's pre-request insforge.pre_request()
-- (docs/citus.md).
--
-- How the database knows the pre-request is configured: PostgREST's in-database
-- configuration, `pgrst.db_pre_request` in pg_db_role_setting (ALTER ROLE <authenticator>
-- [IN DATABASE <db>] SET pgrst.db_pre_request = 'insforge.pre_request'), for any role, in
-- this database or in all of them, naming insforge.pre_request or a function whose body
-- calls it. PostgREST reads it for its authenticator role and it wins over the
-- PGRST_DB_PRE_REQUEST environment variable, which the database cannot see: configured
-- only there, the finding stays, and docs/citus.md says to configure it in the database.
--
-- A policy reads claims when its deparsed expression calls a requesting_user_id() (any
-- schema), auth.uid/jwt/role/email(), insforge.jwt/claim/claim_path/has_claim/role/email(),
-- or current_setting('request. ...'). Runs as its caller; reads catalogs every role can
-- read, Citus's pg_dist_partition through dynamic SQL (the rule exists without Citus).
CREATE FUNCTION insforge.lint_citus_claims_not_propagated()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    configured text[];
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- Every pgrst.db_pre_request value that applies to this database.
    SELECT pg_catalog.array_agg(DISTINCT pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1)) INTO configured
      FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) c
     WHERE pg_catalog.split_part(c, '=', 1) = 'pgrst.db_pre_request'
       AND d.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()));
    IF EXISTS (SELECT 1 FROM pg_catalog.unnest(coalesce(configured, '{}')) v
                WHERE insforge.advisor_pre_request_propagates(v)) THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
    WITH dist AS (
        SELECT logicalrelid AS relid,
               CASE WHEN partmethod = 'n' THEN 'reference' ELSE 'distributed' END AS kind
          FROM pg_catalog.pg_dist_partition
         WHERE partmethod IN ('h', 'r', 'a') OR (partmethod = 'n' AND repmodel = 't')
    ), reading AS (
        SELECT p.relid, p.schema_name, p.table_name, d.kind,
               pg_catalog.array_agg(pg_catalog.quote_ident(p.policy_name) ORDER BY p.policy_name) AS policies
          FROM insforge.advisor_policies() p
          JOIN dist d ON d.relid = p.relid
         WHERE insforge.advisor_reads_claims(p.marked_qual) OR insforge.advisor_reads_claims(p.marked_check)
         GROUP BY 1, 2, 3, 4
    )
    SELECT 'citus_claims_not_propagated'::text,
           'Distributed table''s policies read claims the workers never receive'::text,
           'WARN'::text,
           'EXTERNAL'::text,
           ARRAY['CORRECTNESS']::text[],
           ('Detects, on a Citus coordinator, distributed and reference tables whose policies read the request''s claims '
            || 'while PostgREST is not configured to send the claims to the workers. Citus evaluates those policies on the '
            || 'workers, and PostgREST''s set_config(''request.jwt.claims'', ...) never reaches them: every request sees no '
            || 'rows and every write is refused. insforge.pre_request() as PostgREST''s db-pre-request sends them.')::text,
           pg_catalog.format('Citus %s table %I.%I has %s that %s the request''s claims (%s), but %s, so on the workers the '
                             || 'policies see no user: requests through PostgREST get no rows and their writes are refused.',
                             r.kind, r.schema_name, r.table_name,
                             CASE WHEN pg_catalog.cardinality(r.policies) = 1 THEN 'a policy' ELSE 'policies' END,
                             CASE WHEN pg_catalog.cardinality(r.policies) = 1 THEN 'reads' ELSE 'read' END,
                             pg_catalog.array_to_string(r.policies, ', '),
                             CASE WHEN $1 IS NULL THEN 'no role has pgrst.db_pre_request set for this database'
                                  ELSE 'pgrst.db_pre_request names ' || pg_catalog.array_to_string($1, ', ')
                                       || ', which does not call insforge.pre_request()' END),
           pg_catalog.format('Make insforge.pre_request() PostgREST''s pre-request, in the database (where PostgREST reads it first and this '
            || 'advisor sees it), as a superuser: ALTER ROLE postgres IN DATABASE %I SET pgrst.db_pre_request = ''insforge.pre_request''; '
            || 'NOTIFY pgrst, ''reload config''; (postgres is the role InsForge''s PostgREST connects as; use yours). If '
            || 'PostgREST already has a pre-request function, call insforge.pre_request() from it. Direct connections use '
            || 'insforge.authenticate(), which sends the claims by itself. See docs/citus.md.', pg_catalog.current_database()),
           pg_catalog.jsonb_build_object('schema', r.schema_name, 'table', r.table_name, 'type', 'table',
                                         'citus_table_type', r.kind, 'policies', pg_catalog.to_jsonb(r.policies),
                                         'db_pre_request', pg_catalog.to_jsonb($1)),
           pg_catalog.format('citus_claims_not_propagated_%s_%s', r.schema_name, r.table_name)
      FROM reading r
    $q$ USING configured;
END
$fn$;
COMMENT ON FUNCTION insforge.lint_citus_claims_not_propagated() IS
'Advisor rule citus_claims_not_propagated (WARN): on a Citus coordinator, distributed and reference tables whose policies read claims while no pgrst.db_pre_request setting (pg_db_role_setting) names insforge.pre_request or a function calling it. One row per table; nothing without Citus.';

-- Whether a policy expression, marked by advisor_mark_uid(), reads the request's claims.
CREATE FUNCTION insforge.advisor_reads_claims(marked text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT marked IS NOT NULL AND (
           marked ~ '__(uid|authuid|jwt)__'
        OR marked ~ '\mrequesting_user_id\(\)'
        OR marked ~ '\mauth\.(role|email)\(\)'
        OR marked ~ '\minsforge\.(claim|claim_path|has_claim|role|email)\('
        OR marked ~ 'current_setting\(''request\.')
$$;
COMMENT ON FUNCTION insforge.advisor_reads_claims(text) IS
'Internal helper of insforge.advise(): true when a marked policy expression reads the request''s claims (a requesting_user_id(), auth.*(), insforge claim accessors, current_setting(''request. ...'')).';

-- Whether a pgrst.db_pre_request value names insforge.pre_request or a function whose body
-- calls it (PostgREST accepts "schema"."name", schema.name, or a bare name it looks up on
-- its search path; a bare name is resolved with the schemas PostgREST serves plus insforge).
CREATE FUNCTION insforge.advisor_pre_request_propagates(setting text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    v text := pg_catalog.btrim(coalesce(setting, ''), ' ');
    parts text[];
    fn oid;
BEGIN
    IF v = '' THEN
        RETURN false;
    END IF;
    BEGIN
        parts := pg_catalog.parse_ident(v);
    EXCEPTION WHEN OTHERS THEN
        RETURN false;
    END;
    IF pg_catalog.cardinality(parts) = 2 THEN
        fn := pg_catalog.to_regprocedure(pg_catalog.format('%I.%I()', parts[1], parts[2]));
    ELSIF pg_catalog.cardinality(parts) = 1 THEN
        SELECT p.oid INTO fn FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.proname = parts[1] AND p.pronargs = 0
           AND n.nspname::name = ANY (insforge.advisor_exposed_schemas() || 'insforge'::name)
         ORDER BY n.nspname = 'insforge' DESC LIMIT 1;
    END IF;
    IF fn IS NULL THEN
        RETURN false;
    END IF;
    RETURN fn = 'insforge.pre_request()'::pg_catalog.regprocedure
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.oid = fn
                      AND p.prosrc ~* '\minsforge\s*\.\s*"?pre_request"?\s*\(');
END
$fn$;
COMMENT ON FUNCTION insforge.advisor_pre_request_propagates(text) IS
'Internal helper of insforge.advise(): true when a pgrst.db_pre_request value names insforge.pre_request() or a function whose body calls it.';
