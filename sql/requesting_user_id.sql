-- public.requesting_user_id(): the name every InsForge integration guide writes in
-- its policies (`using (user_id = requesting_user_id())`).
--
-- The native function is a member of the extension, so pg_dump leaves it to
-- CREATE EXTENSION and a restore recreates it. Policies depend on it, so DROP
-- EXTENSION must not take them along: the event trigger at the end of this file
-- first turns it back into an equivalent SQL helper that belongs to nobody (same
-- OID, so every policy keeps working), and only then does the extension go.
-- A database that already has the guide's SQL helper keeps it until
-- insforge.adopt_requesting_user_id() swaps its body in place.

CREATE FUNCTION insforge.native_requesting_user_id_installed() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_catalog.pg_proc p
         WHERE p.oid = pg_catalog.to_regprocedure('public.requesting_user_id()')
           AND p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'c')
           AND p.prosrc = 'insforge_requesting_user_id')
$$;
COMMENT ON FUNCTION insforge.native_requesting_user_id_installed() IS
'True when public.requesting_user_id() runs the native implementation.';

-- The comment release_requesting_user_id() leaves on the SQL helper it writes;
-- CREATE EXTENSION recognises it and switches back to native without a word.
CREATE FUNCTION insforge._released_marker() RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 'SQL helper left by insforge_integrations: nullif(request.jwt.claims ->> sub, ''''). CREATE EXTENSION insforge_integrations makes it native again.'::text $$;
REVOKE ALL ON FUNCTION insforge._released_marker() FROM PUBLIC;
COMMENT ON FUNCTION insforge._released_marker() IS
'Internal: the comment release_requesting_user_id() leaves on the SQL helper it writes, by which CREATE EXTENSION recognises it.';

CREATE FUNCTION insforge._requesting_user_id_is_member() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                      AND d.objid = pg_catalog.to_regprocedure('public.requesting_user_id()')
                      AND d.deptype = 'e' AND e.extname = 'insforge_integrations')
$$;
REVOKE ALL ON FUNCTION insforge._requesting_user_id_is_member() FROM PUBLIC;
COMMENT ON FUNCTION insforge._requesting_user_id_is_member() IS
'Internal: whether public.requesting_user_id() is a member of the extension.';

-- Makes the existing public.requesting_user_id() native, in place (same OID:
-- pg_policy rows keep pointing at it and are not rewritten), and a member.
CREATE FUNCTION insforge._make_native_in_place() RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF NOT insforge._requesting_user_id_is_member() THEN
        ALTER EXTENSION insforge_integrations ADD FUNCTION public.requesting_user_id();
    END IF;
    CREATE OR REPLACE FUNCTION public.requesting_user_id() RETURNS text
        LANGUAGE c STABLE PARALLEL SAFE
        AS 'MODULE_PATHNAME', 'insforge_requesting_user_id';
    COMMENT ON FUNCTION public.requesting_user_id() IS
        'Native insforge_integrations helper: nullif(request.jwt.claims ->> ''sub'', ''''). See insforge.requesting_user_id().';
END
$fn$;
REVOKE ALL ON FUNCTION insforge._make_native_in_place() FROM PUBLIC;
COMMENT ON FUNCTION insforge._make_native_in_place() IS
'Internal: makes the existing public.requesting_user_id() native in place (same OID) and a member. Not executable by any role; called by the operator''s adopt and by CREATE EXTENSION.';

-- The privileged part of insforge.adopt_requesting_user_id() (below): it defines a
-- C-language function and changes the extension's membership, which only the
-- extension's owner may do, so it runs as that owner (SECURITY DEFINER).
CREATE FUNCTION insforge._adopt_requesting_user_id(force boolean) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    fn oid := pg_catalog.to_regprocedure('public.requesting_user_id()');
    p record;
    body text;
BEGIN
    IF force IS NULL THEN
        RAISE EXCEPTION 'force must be true or false, not NULL' USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.to_regnamespace('public') IS NULL THEN
        RAISE EXCEPTION 'schema public does not exist'
            USING ERRCODE = '3F000',
                  HINT = 'InsForge policies call public.requesting_user_id(); create schema public first.';
    END IF;
    IF fn IS NULL THEN
        CREATE FUNCTION public.requesting_user_id() RETURNS text
            LANGUAGE c STABLE PARALLEL SAFE
            AS 'MODULE_PATHNAME', 'insforge_requesting_user_id';
        PERFORM insforge._make_native_in_place();
        RETURN 'created: public.requesting_user_id() runs the native implementation';
    END IF;
    IF insforge.native_requesting_user_id_installed() THEN
        IF NOT insforge._requesting_user_id_is_member() THEN
            ALTER EXTENSION insforge_integrations ADD FUNCTION public.requesting_user_id();
        END IF;
        RETURN 'unchanged: public.requesting_user_id() already runs the native implementation';
    END IF;
    SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid = fn;
    IF p.prorettype <> 'text'::regtype OR p.proretset OR p.prokind <> 'f' THEN
        RAISE EXCEPTION 'public.requesting_user_id() returns %, not a single text value; it cannot be swapped in place',
                pg_catalog.format_type(p.prorettype, NULL)
            USING ERRCODE = '55000',
                  HINT = 'Provider ids are text. Change the policies to compare text owner columns with requesting_user_id(), then drop the old function and run SELECT insforge.adopt_requesting_user_id();';
    END IF;
    -- The guide's helper, in the spellings people write it; anything else may
    -- mean something else, and swapping it silently would change who sees what.
    -- SQL-standard bodies (RETURN ..., BEGIN ATOMIC) keep no source text; deparse them.
    body := CASE WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(fn) ELSE p.prosrc END;
    body := pg_catalog.lower(pg_catalog.regexp_replace(coalesce(body, ''), '\s+', '', 'g'));
    body := pg_catalog.replace(pg_catalog.replace(body, 'pg_catalog.', ''), '::text', '');
    body := pg_catalog.regexp_replace(body, '\)as[a-z_]+\)', '))', 'g');
    body := pg_catalog.regexp_replace(body, '^beginatomic(.*);?end;?$', '\1');
    body := pg_catalog.regexp_replace(body, '^(select|return)', '');
    body := pg_catalog.regexp_replace(body, ';+$', '');
    IF NOT force AND body !~ ('^\(*(nullif\()?\(*('
            || '(\(selectauth\.jwt\(\)\))|(auth\.jwt\(\))'
            || '|(nullif\(current_setting\(''request\.jwt\.claims'',true\),''''\)::jsonb?)'
            || '|(current_setting\(''request\.jwt\.claims'',true\)::jsonb?)'
            || ')\)*->>''sub''\)*(,''''\))?\)*$') THEN
        RAISE EXCEPTION 'public.requesting_user_id() is not the InsForge guide''s helper; its body is: %',
                coalesce(pg_catalog.pg_get_function_sqlbody(fn), p.prosrc)
            USING ERRCODE = '55000',
                  HINT = 'The native helper returns nullif(request.jwt.claims ->> ''sub'', ''''). If that is what this function should return, run SELECT insforge.adopt_requesting_user_id(force => true);';
    END IF;
    PERFORM insforge._make_native_in_place();
    RETURN 'adopted: public.requesting_user_id() now runs the native implementation (same function, policies untouched)';
END
$fn$;
REVOKE ALL ON FUNCTION insforge._adopt_requesting_user_id(boolean) FROM PUBLIC;
COMMENT ON FUNCTION insforge._adopt_requesting_user_id(boolean) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of insforge.adopt_requesting_user_id().';

CREATE FUNCTION insforge.adopt_requesting_user_id(force boolean DEFAULT false) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    result text;
BEGIN
    PERFORM insforge._require_operator('insforge.adopt_requesting_user_id()');
    IF force IS NULL THEN
        RAISE EXCEPTION 'insforge.adopt_requesting_user_id(force): force must be true or false, not NULL'
            USING ERRCODE = '22023',
                  HINT = 'SELECT insforge.adopt_requesting_user_id(); adopts only the guide''s helper; force => true adopts any text helper. Nothing was changed.';
    END IF;
    -- On a Citus coordinator the workers change through _propagate_requesting_user_id()
    -- below, on connections of their own; Citus's propagation of this DDL would hold their
    -- locks meanwhile (sql/citus.sql), so it is off for this transaction.
    IF pg_catalog.current_setting('citus.enable_ddl_propagation', true) IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;
    result := insforge._adopt_requesting_user_id(force);
    -- The workers, which evaluate the policies of distributed tables, adopt theirs too
    -- (0 without Citus).
    PERFORM insforge._propagate_requesting_user_id(true, force);
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION insforge.adopt_requesting_user_id(boolean) IS
'Switches public.requesting_user_id() to the native implementation in place (same OID; no policy is dropped or altered). Creates it when missing; harmless to call again. force => true adopts a text helper that is not the guide''s; NULL raises 22023. On a Citus coordinator every worker adopts its own too (outside a transaction block only: 25001 inside one). Operators only (project_admin or a superuser).';

CREATE FUNCTION insforge._release_requesting_user_id() RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF NOT insforge.native_requesting_user_id_installed() THEN
        -- A member whose body is no longer native: on a Citus worker when the coordinator
        -- released its own during DROP EXTENSION (Citus sends the new body, not the
        -- membership). It must still leave the extension, or the drop takes its policies.
        IF insforge._requesting_user_id_is_member() THEN
            ALTER EXTENSION insforge_integrations DROP FUNCTION public.requesting_user_id();
            EXECUTE pg_catalog.format('COMMENT ON FUNCTION public.requesting_user_id() IS %L', insforge._released_marker());
            RETURN 'released: public.requesting_user_id() no longer belongs to the extension (its body was not native)';
        END IF;
        RETURN 'unchanged: public.requesting_user_id() does not run the native implementation';
    END IF;
    IF insforge._requesting_user_id_is_member() THEN
        ALTER EXTENSION insforge_integrations DROP FUNCTION public.requesting_user_id();
    END IF;
    CREATE OR REPLACE FUNCTION public.requesting_user_id() RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $sql$ SELECT nullif(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '') $sql$;
    EXECUTE pg_catalog.format('COMMENT ON FUNCTION public.requesting_user_id() IS %L', insforge._released_marker());
    RETURN 'released: public.requesting_user_id() is the SQL helper again (same function, policies untouched)';
END
$fn$;
REVOKE ALL ON FUNCTION insforge._release_requesting_user_id() FROM PUBLIC;
COMMENT ON FUNCTION insforge._release_requesting_user_id() IS
'Internal (SECURITY DEFINER, operators only): the privileged part of insforge.release_requesting_user_id(); also run by DROP EXTENSION''s event trigger.';

CREATE FUNCTION insforge.release_requesting_user_id() RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    result text;
BEGIN
    PERFORM insforge._require_operator('insforge.release_requesting_user_id()');
    -- On a Citus coordinator the workers change through _propagate_requesting_user_id()
    -- below, on connections of their own; Citus's propagation of this DDL would hold their
    -- locks meanwhile (sql/citus.sql), so it is off for this transaction.
    IF pg_catalog.current_setting('citus.enable_ddl_propagation', true) IS NOT NULL THEN
        PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    END IF;
    result := insforge._release_requesting_user_id();
    PERFORM insforge._propagate_requesting_user_id(false, false);
    RETURN result;
END
$fn$;
COMMENT ON FUNCTION insforge.release_requesting_user_id() IS
'Switches public.requesting_user_id() back to an equivalent SQL helper in place (same OID, policies untouched) that no longer belongs to the extension. DROP EXTENSION does this by itself. On a Citus coordinator every worker releases its own too (outside a transaction block only). Operators only (project_admin or a superuser).';

-- At CREATE EXTENSION time. Postgres raises client_min_messages to WARNING while
-- an extension script runs; the notices below are meant to be read, so they
-- lower it for themselves and restore it.
DO $do$
DECLARE
    level text := pg_catalog.current_setting('client_min_messages');
BEGIN
    IF pg_catalog.to_regnamespace('public') IS NULL THEN
        PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        RAISE NOTICE 'insforge_integrations: schema public does not exist, so public.requesting_user_id() was not created'
            USING HINT = 'Create schema public, then run SELECT insforge.adopt_requesting_user_id();';
    ELSIF pg_catalog.to_regprocedure('public.requesting_user_id()') IS NULL THEN
        -- Created here, so a member of the extension.
        CREATE FUNCTION public.requesting_user_id() RETURNS text
            LANGUAGE c STABLE PARALLEL SAFE
            AS 'MODULE_PATHNAME', 'insforge_requesting_user_id';
        COMMENT ON FUNCTION public.requesting_user_id() IS
            'Native insforge_integrations helper: nullif(request.jwt.claims ->> ''sub'', ''''). See insforge.requesting_user_id().';
    ELSIF pg_catalog.obj_description(pg_catalog.to_regprocedure('public.requesting_user_id()'), 'pg_proc')
          IS NOT DISTINCT FROM insforge._released_marker() THEN
        -- Our own helper, released by an earlier DROP EXTENSION: take it back, in place.
        PERFORM insforge._make_native_in_place();
    ELSE
        PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        RAISE NOTICE 'insforge_integrations: public.requesting_user_id() already exists and is not the native implementation; it was left as it is'
            USING HINT = 'To switch it (and every policy that calls it) to the native implementation in place, run: SELECT insforge.adopt_requesting_user_id();';
    END IF;
    PERFORM pg_catalog.set_config('client_min_messages', level, true);
END
$do$;

-- DROP EXTENSION must never take a user's policy with it. Before the drop runs,
-- hand public.requesting_user_id() back as an equivalent SQL helper that is no
-- longer a member. An event trigger cannot see which extension a DROP EXTENSION
-- names, so it reads the statement; releasing when in doubt is harmless.
CREATE FUNCTION insforge._release_before_drop() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF pg_catalog.current_query() ~* 'insforge_integrations'
       AND (insforge.native_requesting_user_id_installed() OR insforge._requesting_user_id_is_member()) THEN
        PERFORM insforge._release_requesting_user_id();
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION insforge._release_before_drop() FROM PUBLIC;
COMMENT ON FUNCTION insforge._release_before_drop() IS
'Internal (event trigger on DROP EXTENSION): hands public.requesting_user_id() back as an equivalent SQL helper first, so that no policy is dropped.';
CREATE EVENT TRIGGER insforge_release_requesting_user_id ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION insforge._release_before_drop();
