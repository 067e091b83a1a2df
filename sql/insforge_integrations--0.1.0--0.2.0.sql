-- insforge_integrations 0.1.0 -> 0.2.0 (ALTER EXTENSION insforge_integrations UPDATE).
--
-- Every SQL change since 0.1.0 is here, in the same commit as the change itself; a
-- database updated by this script has exactly the catalog of a fresh 0.2.0 install
-- (tests/integration/test_upgrade.py compares them object by object).
--
-- What changes:
--   1. settings renamed from insforge.* to insforge_integrations.* (carried over);
--   2. the operator (project_admin) runs every administrative function: each is now a
--      public entry point that checks its caller, over a SECURITY DEFINER function
--      executable by the operator only (sql/operator.sql);
--   3. the advisor: three rules for InsForge's API pipeline (better_auth_tables_exposed,
--      policy_reads_unforwarded_claim, validation_needs_unforwarded_claims), InsForge's own
--      notion of exposed schemas, and texts that name the operator.
-- Nothing here touches user data: policies, the ledger, the stored key and
-- public.requesting_user_id() stay as they are.


-- 1. Settings: 0.1.0 named them insforge.*, a prefix that belongs to InsForge (its
-- insforge_pg_utils and insforge.internal_schemas); since 0.2.0 they are
-- insforge_integrations.* and only that prefix is reserved. The library is shared by
-- every database of the cluster, so from the moment 0.2.0's library is installed every
-- database reads the new names. Database and role settings (ALTER DATABASE/ROLE ... SET,
-- in the cluster-wide pg_db_role_setting) are carried over to the new names here, for
-- every database and role. Settings in configuration files cannot be changed from SQL:
-- if one of the old names is set there without its new name beside it (same value), the
-- update refuses (55000) and changes nothing, because carrying on would silently drop
-- the setting (insforge.strict = on would become off).
DO $settings$
DECLARE
    names text[] := ARRAY['jwt_audience', 'jwt_issuers', 'jwt_roles', 'jwt_leeway', 'jwt_providers', 'strict',
                          'claims_source'];
    r record;
    problems text;
    statements text[] := '{}';
    stmt text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = %L in %s line %s', f.name, f.setting, f.sourcefile, f.sourceline),
                                 '; ' ORDER BY f.sourcefile, f.sourceline)
      INTO problems
      FROM pg_catalog.pg_file_settings f
     WHERE f.name IN (SELECT 'insforge.' || n FROM pg_catalog.unnest(names) n)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_file_settings g
                        WHERE g.name = 'insforge_integrations.' || pg_catalog.substr(f.name, 10)
                          AND g.setting IS NOT DISTINCT FROM f.setting);
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'insforge_integrations 0.2.0 renamed its settings from insforge.* to insforge_integrations.*, and a configuration file still sets the old names: %', problems
            USING ERRCODE = '55000',
                  HINT = 'In that file, rename each setting (insforge.strict -> insforge_integrations.strict, ...), run SELECT pg_reload_conf(); and run ALTER EXTENSION insforge_integrations UPDATE again. Nothing was changed.';
    END IF;

    FOR r IN
        SELECT d.setdatabase, d.setrole, db.datname, ro.rolname,
               pg_catalog.split_part(c, '=', 1) AS old_name,
               'insforge_integrations.' || pg_catalog.substr(pg_catalog.split_part(c, '=', 1), 10) AS new_name,
               pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1) AS value,
               (SELECT pg_catalog.substr(c2, pg_catalog.strpos(c2, '=') + 1)
                  FROM pg_catalog.unnest(d.setconfig) c2
                 WHERE pg_catalog.split_part(c2, '=', 1)
                       = 'insforge_integrations.' || pg_catalog.substr(pg_catalog.split_part(c, '=', 1), 10)) AS existing
          FROM pg_catalog.pg_db_role_setting d
          CROSS JOIN LATERAL pg_catalog.unnest(d.setconfig) c
          LEFT JOIN pg_catalog.pg_database db ON db.oid = d.setdatabase
          LEFT JOIN pg_catalog.pg_roles ro ON ro.oid = d.setrole
         WHERE pg_catalog.split_part(c, '=', 1) IN (SELECT 'insforge.' || n FROM pg_catalog.unnest(names) n)
         ORDER BY d.setdatabase, d.setrole, c
    LOOP
        IF r.existing IS NOT NULL AND r.existing <> r.value THEN
            problems := coalesce(problems || '; ', '')
                || pg_catalog.format('%s = %L but %s = %L (%s)', r.old_name, r.value, r.new_name, r.existing,
                                     CASE WHEN r.setrole = 0 THEN 'database ' || r.datname
                                          WHEN r.setdatabase = 0 THEN 'role ' || r.rolname
                                          ELSE 'role ' || r.rolname || ' in database ' || r.datname END);
            CONTINUE;
        END IF;
        stmt := CASE WHEN r.setrole = 0 THEN pg_catalog.format('ALTER DATABASE %I', r.datname)
                     WHEN r.setdatabase = 0 THEN pg_catalog.format('ALTER ROLE %I', r.rolname)
                     ELSE pg_catalog.format('ALTER ROLE %I IN DATABASE %I', r.rolname, r.datname) END;
        IF r.existing IS NULL THEN
            statements := statements || pg_catalog.format('%s SET %s = %L', stmt, r.new_name, r.value);
        END IF;
        statements := statements || pg_catalog.format('%s RESET %s', stmt, r.old_name);
    END LOOP;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'insforge_integrations 0.2.0 renamed its settings to insforge_integrations.*, and both names are set with different values: %', problems
            USING ERRCODE = '55000',
                  HINT = 'Decide which value is right, keep it under the new name, RESET the old one, and run ALTER EXTENSION insforge_integrations UPDATE again. Nothing was changed.';
    END IF;
    FOREACH stmt IN ARRAY statements LOOP
        EXECUTE stmt;
    END LOOP;
    IF pg_catalog.cardinality(statements) > 0 THEN
        PERFORM pg_catalog.set_config('client_min_messages', 'notice', true);
        RAISE NOTICE 'insforge_integrations: settings carried over to their new names: %',
            pg_catalog.array_to_string(statements, '; ');
    END IF;
END
$settings$;


-- 2. The operator (sql/operator.sql).

CREATE FUNCTION insforge._operator_privileges() RETURNS TABLE(object_type text, object text, privileges text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    VALUES ('FUNCTION', 'insforge._adopt_requesting_user_id(boolean)', 'EXECUTE'),
           ('FUNCTION', 'insforge._release_requesting_user_id()', 'EXECUTE'),
           ('FUNCTION', 'insforge._set_jwt_secret(text)', 'EXECUTE'),
           ('FUNCTION', 'insforge._grant_operator(regrole,boolean)', 'EXECUTE'),
           ('FUNCTION', 'insforge.lint_jwt_secret_exposed()', 'EXECUTE'),
           ('FUNCTION', 'x402._install_ledger(regrole)', 'EXECUTE'),
           ('FUNCTION', 'x402._enable_realtime(text)', 'EXECUTE'),
           ('FUNCTION', 'x402.record_settlement(jsonb,jsonb,jsonb,text,text)', 'EXECUTE'),
           ('TABLE', 'x402.assets', 'INSERT, UPDATE, DELETE')
$$;
COMMENT ON FUNCTION insforge._operator_privileges() IS
'Internal: the privileges that make a role an operator of insforge_integrations (granted to project_admin at CREATE EXTENSION, and by insforge.grant_operator()).';

CREATE FUNCTION insforge._require_operator(what text, privileged regprocedure) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF NOT pg_catalog.has_function_privilege(privileged, 'EXECUTE') THEN
        RAISE EXCEPTION '% may be run only by the operator: project_admin or a superuser (current role: %)',
                what, current_user
            USING ERRCODE = '42501',
                  HINT = 'Run it as project_admin, as InsForge runs a project''s SQL (SET LOCAL ROLE project_admin), or as a superuser. '
                      || 'To make another role an operator: SELECT insforge.grant_operator(''that_role'');';
    END IF;
END
$fn$;
COMMENT ON FUNCTION insforge._require_operator(text, regprocedure) IS
'Internal: raises 42501 naming the operator role unless the caller may execute the given privileged function.';

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
    PERFORM insforge._require_operator('insforge.grant_operator()', 'insforge._grant_operator(regrole,boolean)');
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
    PERFORM insforge._require_operator('insforge.revoke_operator()', 'insforge._grant_operator(regrole,boolean)');
    RETURN insforge._grant_operator(role, false);
END
$fn$;
COMMENT ON FUNCTION insforge.revoke_operator(regrole) IS
'Takes the operator privileges of the extension away from a role. Superusers stay operators. Operators only (project_admin or a superuser).';

-- public.requesting_user_id(): adopt and release (sql/requesting_user_id.sql).

CREATE FUNCTION insforge._adopt_requesting_user_id(force boolean) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    fn oid := pg_catalog.to_regprocedure('public.requesting_user_id()');
    p record;
    body text;
BEGIN
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

-- 0.1.0 revoked EXECUTE from PUBLIC; the entry point is for everyone (it checks its caller), so it is
-- made anew with default privileges, as a fresh install has it.
DROP FUNCTION insforge.adopt_requesting_user_id(boolean);
CREATE FUNCTION insforge.adopt_requesting_user_id(force boolean DEFAULT false) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.adopt_requesting_user_id()', 'insforge._adopt_requesting_user_id(boolean)');
    RETURN insforge._adopt_requesting_user_id(force);
END
$fn$;
COMMENT ON FUNCTION insforge.adopt_requesting_user_id(boolean) IS
'Switches public.requesting_user_id() to the native implementation in place (same OID; no policy is dropped or altered). Creates it when missing; harmless to call again. Operators only (project_admin or a superuser).';

CREATE FUNCTION insforge._release_requesting_user_id() RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF NOT insforge.native_requesting_user_id_installed() THEN
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

-- 0.1.0 revoked EXECUTE from PUBLIC; the entry point is for everyone (it checks its caller), so it is
-- made anew with default privileges, as a fresh install has it.
DROP FUNCTION insforge.release_requesting_user_id();
CREATE FUNCTION insforge.release_requesting_user_id() RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.release_requesting_user_id()', 'insforge._release_requesting_user_id()');
    RETURN insforge._release_requesting_user_id();
END
$fn$;
COMMENT ON FUNCTION insforge.release_requesting_user_id() IS
'Switches public.requesting_user_id() back to an equivalent SQL helper in place (same OID, policies untouched) that no longer belongs to the extension. DROP EXTENSION does this by itself. Operators only (project_admin or a superuser).';

CREATE OR REPLACE FUNCTION insforge._release_before_drop() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF pg_catalog.current_query() ~* 'insforge_integrations'
       AND insforge.native_requesting_user_id_installed() THEN
        PERFORM insforge._release_requesting_user_id();
    END IF;
END
$fn$;

-- The JWT key (sql/jwt.sql, src/sql_jwt.rs): the C function keeps its symbol
-- (set_jwt_secret_wrapper) under the internal name; the public name becomes the
-- operator's entry point.
CREATE FUNCTION insforge._set_jwt_secret(key text) RETURNS void
    LANGUAGE c VOLATILE SECURITY DEFINER PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'set_jwt_secret_wrapper';
REVOKE ALL ON FUNCTION insforge._set_jwt_secret(text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._set_jwt_secret(text) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of insforge.set_jwt_secret(); validates the key and writes insforge.jwt_secret.';

CREATE OR REPLACE FUNCTION insforge.set_jwt_secret(key text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('insforge.set_jwt_secret()', 'insforge._set_jwt_secret(text)');
    PERFORM insforge._set_jwt_secret(key);
END
$fn$;
COMMENT ON FUNCTION insforge.set_jwt_secret(text) IS
'Stores the JWT verification key of this database: an HMAC secret, a PEM public key, a JWK or a JWKS (PostgREST''s jwt-secret vocabulary; 22023 when malformed). NULL removes it. Operators only (project_admin or a superuser; 42501 for everyone else). No role can read it back.';

-- The ledger and realtime (sql/x402.sql).

CREATE FUNCTION x402._install_ledger(owner regrole) RETURNS regclass
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    bad text;
    r text;
BEGIN
    IF owner IS NULL OR NOT (pg_catalog.has_function_privilege(owner, 'x402._install_ledger(regrole)', 'EXECUTE')
                             OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner)) THEN
        RAISE EXCEPTION 'the ledger''s owner must be an operator of insforge_integrations (project_admin or a superuser), not %', owner
            USING ERRCODE = '42501';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        CREATE TABLE public.x402_payments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            payer_address text NOT NULL,
            endpoint text,
            amount numeric(78,0) NOT NULL,
            tx_hash text NOT NULL,
            chain text NOT NULL DEFAULT 'xlayer',
            status text NOT NULL DEFAULT 'settled',
            response_summary text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE public.x402_payments IS
            'x402 settlements, one row per on-chain transaction; written by x402.record_settlement() (insforge_integrations).';
        EXECUTE pg_catalog.format('ALTER TABLE public.x402_payments OWNER TO %s', owner);
    END IF;

    -- A guide-made table: check what would break before changing anything.
    SELECT pg_catalog.string_agg(id::text || ' (' || coalesce(amount::text, 'NULL') || ')', ', ') INTO bad
      FROM (SELECT id, amount FROM public.x402_payments
             WHERE amount IS NULL OR amount::text !~ '^[0-9]+$' LIMIT 5) b;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.amount holds values that are not whole numbers in the token''s smallest unit: %', bad
            USING ERRCODE = '22023',
                  HINT = 'Amounts are uint256 integers (USDG: 1000000 = 1 USDG). Fix those rows, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    SELECT pg_catalog.string_agg(coalesce(tx_hash, 'NULL'), ', ') INTO bad
      FROM (SELECT tx_hash FROM public.x402_payments WHERE tx_hash IS NULL OR tx_hash !~ '^0x[0-9a-fA-F]{64}$' LIMIT 5) b;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.tx_hash holds values that are not transaction hashes (0x + 64 hex digits): %', bad
            USING ERRCODE = '22023', HINT = 'Fix those rows, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    SELECT pg_catalog.string_agg(h, ', ') INTO bad
      FROM (SELECT lower(tx_hash) AS h FROM public.x402_payments GROUP BY 1 HAVING count(*) > 1 LIMIT 5) d;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments records these transactions more than once: %', bad
            USING ERRCODE = '23505',
                  HINT = 'One settlement is one row. Resolve the duplicates, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;

    ALTER TABLE public.x402_payments
        ADD COLUMN IF NOT EXISTS network text,
        ADD COLUMN IF NOT EXISTS asset text,
        ADD COLUMN IF NOT EXISTS pay_to text,
        ADD COLUMN IF NOT EXISTS nonce text,
        ADD COLUMN IF NOT EXISTS dispute_reason text,
        ADD COLUMN IF NOT EXISTS payload jsonb,
        ADD COLUMN IF NOT EXISTS requirements jsonb,
        ADD COLUMN IF NOT EXISTS settlement jsonb;
    IF (SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute
         WHERE attrelid = 'public.x402_payments'::regclass AND attname = 'amount') <> 'numeric(78,0)' THEN
        ALTER TABLE public.x402_payments ALTER COLUMN amount TYPE numeric(78,0) USING amount::text::numeric(78,0);
    END IF;
    UPDATE public.x402_payments SET tx_hash = lower(tx_hash) WHERE tx_hash <> lower(tx_hash);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                    WHERE i.indrelid = 'public.x402_payments'::regclass AND i.indisunique AND i.indpred IS NULL
                      AND i.indnkeyatts = 1 AND i.indexprs IS NULL
                      AND i.indkey[0] = (SELECT attnum FROM pg_catalog.pg_attribute
                                          WHERE attrelid = 'public.x402_payments'::regclass AND attname = 'tx_hash')) THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_key UNIQUE (tx_hash);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_tx_hash_format') THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_format CHECK (tx_hash ~ '^0x[0-9a-f]{64}$');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_amount_nonnegative') THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_amount_nonnegative CHECK (amount >= 0);
    END IF;

    -- Clients read (the guide's public-read policy); only the service role and
    -- x402.record_settlement() write.
    ALTER TABLE public.x402_payments ENABLE ROW LEVEL SECURITY;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.x402_payments FROM PUBLIC;
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.x402_payments FROM %I', r);
            EXECUTE pg_catalog.format('GRANT SELECT ON public.x402_payments TO %I', r);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = 'public.x402_payments'::regclass AND polcmd IN ('r', '*')
                      AND polroles = '{0}') THEN
        CREATE POLICY x402_payments_public_read ON public.x402_payments FOR SELECT USING (true);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'project_admin') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.x402_payments TO project_admin;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = 'public.x402_payments'::regclass
                          AND p.polcmd = '*' AND (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'project_admin') = ANY (p.polroles)) THEN
            CREATE POLICY project_admin_policy ON public.x402_payments FOR ALL TO project_admin USING (true) WITH CHECK (true);
        END IF;
    END IF;
    RETURN 'public.x402_payments'::regclass;
END
$fn$;
REVOKE ALL ON FUNCTION x402._install_ledger(regrole) FROM PUBLIC;
COMMENT ON FUNCTION x402._install_ledger(regrole) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of x402.install_ledger().';

-- 0.1.0 revoked EXECUTE from PUBLIC; the entry point is for everyone (it checks its caller), so it is
-- made anew with default privileges, as a fresh install has it.
DROP FUNCTION x402.install_ledger();
CREATE FUNCTION x402.install_ledger() RETURNS regclass
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('x402.install_ledger()', 'x402._install_ledger(regrole)');
    RETURN x402._install_ledger(current_user::regrole);
END
$fn$;
COMMENT ON FUNCTION x402.install_ledger() IS
'Creates public.x402_payments (owned by the caller), or upgrades a guide-made one in place keeping its rows (amount to numeric(78,0), unique lower-case tx_hash, the extra columns, RLS with public read, writes for project_admin only). Idempotent. The table is user data: pg_dump dumps it and DROP EXTENSION never removes it. Operators only (project_admin or a superuser).';

CREATE FUNCTION x402._enable_realtime(channel text) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF pg_catalog.to_regprocedure('realtime.publish(text,text,jsonb)') IS NULL THEN
        RAISE EXCEPTION 'realtime.publish(text, text, jsonb) does not exist'
            USING ERRCODE = '42883',
                  HINT = 'x402.enable_realtime() publishes through InsForge''s realtime schema; run it in an InsForge database.';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    IF channel IS NULL OR channel = '' THEN
        RAISE EXCEPTION 'channel must be a non-empty name' USING ERRCODE = '22023';
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE OR REPLACE TRIGGER x402_payments_realtime AFTER INSERT ON public.x402_payments
             FOR EACH ROW EXECUTE FUNCTION x402.publish_payment(%L)', channel);
    IF pg_catalog.to_regclass('realtime.channels') IS NOT NULL THEN
        EXECUTE 'INSERT INTO realtime.channels (pattern, description, enabled)
                 SELECT $1, $2, true WHERE NOT EXISTS (SELECT 1 FROM realtime.channels WHERE pattern = $1)'
            USING channel, 'x402 settlements (insforge_integrations)';
    END IF;
    RETURN pg_catalog.format('public.x402_payments publishes INSERT_x402_payments on channel %s', channel);
END
$fn$;
REVOKE ALL ON FUNCTION x402._enable_realtime(text) FROM PUBLIC;
COMMENT ON FUNCTION x402._enable_realtime(text) IS
'Internal (SECURITY DEFINER, operators only): the privileged part of x402.enable_realtime().';

-- 0.1.0 revoked EXECUTE from PUBLIC; the entry point is for everyone (it checks its caller), so it is
-- made anew with default privileges, as a fresh install has it.
DROP FUNCTION x402.enable_realtime(text);
CREATE FUNCTION x402.enable_realtime(channel text DEFAULT 'x402_payments') RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    PERFORM insforge._require_operator('x402.enable_realtime()', 'x402._enable_realtime(text)');
    RETURN x402._enable_realtime(channel);
END
$fn$;
COMMENT ON FUNCTION x402.enable_realtime(text) IS
'Adds a trigger that publishes each new ledger row through realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}), as the InsForge x402 guide does, and registers the channel in realtime.channels when that table exists. Operators only (project_admin or a superuser).';

-- 3. The advisor (sql/advisor/).

CREATE OR REPLACE FUNCTION insforge.advisor_exposed_schemas() RETURNS name[]
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

CREATE FUNCTION insforge.lint_policy_reads_unforwarded_claim()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH reads AS (
        SELECT p.*,
               ARRAY(SELECT DISTINCT k
                       FROM pg_catalog.unnest(coalesce(insforge.advisor_claims_read(p.qual), '{}')
                                              || coalesce(insforge.advisor_claims_read(p.with_check), '{}')) k
                      WHERE k NOT IN ('sub', 'email', 'role', 'iat', 'exp')
                      ORDER BY k) AS claims
          FROM insforge.advisor_policies() p
    )
    SELECT 'policy_reads_unforwarded_claim',
           'Policy reads a claim InsForge''s API does not forward',
           'WARN',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects policies that read a JWT claim other than sub, email, role, iat and exp. InsForge''s API re-mints every '
           || 'user token before it reaches PostgREST with only those claims, so through the API such a claim is NULL and the '
           || 'policy matches nothing. Direct PostgREST access and direct connections that verify the token with '
           || 'insforge.authenticate() keep the whole token.',
           pg_catalog.format('Policy %I on %I.%I (FOR %s) reads %s %s; through InsForge''s API only sub, email, role, iat '
                             || 'and exp reach request.jwt.claims, so there %s NULL and the policy denies. Direct '
                             || 'connections using insforge.authenticate() and direct PostgREST access keep the whole token.',
                             r.policy_name, r.schema_name, r.table_name, r.command,
                             CASE WHEN pg_catalog.cardinality(r.claims) = 1 THEN 'claim' ELSE 'claims' END,
                             (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(k), ', ') FROM pg_catalog.unnest(r.claims) k),
                             CASE WHEN pg_catalog.cardinality(r.claims) = 1 THEN 'it is' ELSE 'they are' END),
           'Look the value up from the requesting user instead, e.g. a membership table keyed by requesting_user_id(): '
           || 'USING (org_id IN (SELECT org_id FROM public.memberships WHERE user_id = requesting_user_id())). '
           || 'Keep the claim only for requests that carry the whole token (insforge.authenticate() on a direct connection).',
           pg_catalog.jsonb_build_object('schema', r.schema_name, 'table', r.table_name, 'type', 'policy',
                                         'policy', r.policy_name, 'command', r.command, 'claims', r.claims),
           pg_catalog.format('policy_reads_unforwarded_claim_%s_%s_%s', r.schema_name, r.table_name, r.policy_name)
      FROM reads r
     WHERE pg_catalog.cardinality(r.claims) > 0
$$;
COMMENT ON FUNCTION insforge.lint_policy_reads_unforwarded_claim() IS
'Advisor rule policy_reads_unforwarded_claim (WARN): policies reading a claim other than sub, email, role, iat, exp, which InsForge''s API does not forward. One row per policy.';

CREATE FUNCTION insforge.lint_validation_needs_unforwarded_claims()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    WITH stored AS (
        SELECT pg_catalog.split_part(c, '=', 1) AS setting,
               nullif(pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1), '') AS value,
               CASE WHEN d.setrole = 0 THEN pg_catalog.format('database %I', db.datname)
                    WHEN d.setdatabase = 0 THEN pg_catalog.format('role %I', r.rolname)
                    ELSE pg_catalog.format('role %I in database %I', r.rolname, db.datname) END AS source,
               pg_catalog.format('%s RESET %s',
                                 CASE WHEN d.setrole = 0 THEN pg_catalog.format('ALTER DATABASE %I', db.datname)
                                      WHEN d.setdatabase = 0 THEN pg_catalog.format('ALTER ROLE %I', r.rolname)
                                      ELSE pg_catalog.format('ALTER ROLE %I IN DATABASE %I', r.rolname, db.datname) END,
                                 pg_catalog.split_part(c, '=', 1)) AS reset
          FROM pg_catalog.pg_db_role_setting d
          CROSS JOIN LATERAL pg_catalog.unnest(d.setconfig) c
          LEFT JOIN pg_catalog.pg_database db ON db.oid = d.setdatabase
          LEFT JOIN pg_catalog.pg_roles r ON r.oid = d.setrole
         WHERE pg_catalog.split_part(c, '=', 1) IN ('insforge_integrations.jwt_audience', 'insforge_integrations.jwt_issuers')
           AND d.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
    ), configured AS (
        SELECT * FROM stored WHERE value IS NOT NULL
        UNION ALL
        -- The session's value, when no database or role setting above explains it
        -- (postgresql.conf, SET, a role setting of the login role).
        SELECT x.setting, v.value, 'this session', pg_catalog.format('RESET %s', x.setting)
          FROM (VALUES ('insforge_integrations.jwt_audience'), ('insforge_integrations.jwt_issuers')) x(setting)
          CROSS JOIN LATERAL (SELECT nullif(pg_catalog.current_setting(x.setting, true), '') AS value) v
         WHERE v.value IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM stored s WHERE s.setting = x.setting AND s.value = v.value)
    ), summary AS (
        SELECT pg_catalog.string_agg(pg_catalog.format('%s = %L (%s)', c.setting, c.value, c.source), '; '
                                     ORDER BY c.setting, c.source) AS text,
               pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('setting', c.setting, 'value', c.value, 'where', c.source)
                                    ORDER BY c.setting, c.source) AS settings,
               pg_catalog.string_agg(DISTINCT c.reset || ';', ' ') AS resets
          FROM configured c
        HAVING pg_catalog.count(*) > 0
    )
    SELECT 'validation_needs_unforwarded_claims',
           'Audience or issuer validation is configured, but InsForge''s tokens carry neither',
           'INFO',
           'EXTERNAL',
           ARRAY['CORRECTNESS'],
           'Detects audience or issuer validation (insforge_integrations.jwt_audience, jwt_issuers). InsForge''s API re-mints '
           || 'every user token for PostgREST with only sub, email, role, iat and exp, so requests through the API carry no aud '
           || 'and no iss: validation reports audience/issuer for each of them, and strict mode refuses them all (28000). '
           || 'These settings fit direct connections that verify a provider''s own token with insforge.authenticate().',
           pg_catalog.format('Configured: %s.%s', s.text,
                             CASE WHEN coalesce(pg_catalog.current_setting('insforge_integrations.strict', true), 'off') = 'on'
                                  THEN ' insforge_integrations.strict is on, so every request through InsForge''s API fails.'
                                  ELSE '' END),
           'If requests come through InsForge''s API, remove the setting: ' || s.resets
           || ' Keep it only where every request carries the provider''s own token (insforge.authenticate()).',
           pg_catalog.jsonb_build_object('type', 'setting', 'settings', s.settings,
                                         'strict', coalesce(pg_catalog.current_setting('insforge_integrations.strict', true), 'off')),
           'validation_needs_unforwarded_claims'
      FROM summary s
$$;
COMMENT ON FUNCTION insforge.lint_validation_needs_unforwarded_claims() IS
'Advisor rule validation_needs_unforwarded_claims (INFO): audience or issuer validation is configured, but tokens minted by InsForge''s API carry neither aud nor iss. One row.';

CREATE OR REPLACE FUNCTION insforge.advise()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    secret_rule text;
BEGIN
    IF pg_catalog.has_function_privilege('insforge.lint_jwt_secret_exposed()', 'EXECUTE') THEN
        secret_rule := 'SELECT * FROM insforge.lint_jwt_secret_exposed()';
    ELSE
        secret_rule := $q$
        SELECT 'jwt_secret_exposed'::text, 'JWT secret check skipped'::text, 'INFO'::text, 'INTERNAL'::text,
               ARRAY['SECURITY']::text[],
               'The jwt_secret_exposed rule reads the JWT key, so only roles granted EXECUTE on insforge.lint_jwt_secret_exposed() run it.'::text,
               pg_catalog.format('Role %I may not execute insforge.lint_jwt_secret_exposed(); the JWT secret was not looked for.', current_user),
               'Run insforge.advise() as project_admin or a superuser, or make the role an operator: SELECT insforge.grant_operator(''the_role'');'::text,
               pg_catalog.jsonb_build_object('type', 'skipped', 'role', current_user::text),
               'jwt_secret_exposed_skipped'::text
        $q$;
    END IF;
    RETURN QUERY EXECUTE
           'SELECT * FROM ('
        || ' SELECT * FROM insforge.lint_auth_uid_in_policy()'
        || ' UNION ALL SELECT * FROM insforge.lint_uuid_owner_column()'
        || ' UNION ALL SELECT * FROM insforge.lint_owner_column_without_default()'
        || ' UNION ALL SELECT * FROM insforge.lint_rls_disabled_with_owner_column()'
        || ' UNION ALL SELECT * FROM insforge.lint_rls_enabled_no_policy()'
        || ' UNION ALL SELECT * FROM insforge.lint_policy_without_role()'
        || ' UNION ALL SELECT * FROM insforge.lint_sql_requesting_user_id()'
        || ' UNION ALL ' || secret_rule
        || ' UNION ALL SELECT * FROM insforge.lint_x402_tx_hash_not_unique()'
        || ' UNION ALL SELECT * FROM insforge.lint_x402_ledger_writable_by_clients()'
        || ' UNION ALL SELECT * FROM insforge.lint_security_definer_search_path()'
        || ' UNION ALL SELECT * FROM insforge.lint_better_auth_tables_exposed()'
        || ' UNION ALL SELECT * FROM insforge.lint_policy_reads_unforwarded_claim()'
        || ' UNION ALL SELECT * FROM insforge.lint_validation_needs_unforwarded_claims()'
        || ') f ORDER BY CASE f.level WHEN ''ERROR'' THEN 0 WHEN ''WARN'' THEN 1 ELSE 2 END, f.name, f.cache_key';
END
$fn$;
COMMENT ON FUNCTION insforge.advise() IS
'Integration-mistake advisor: one row per finding (name, title, level, facing, categories, description, detail, remediation, metadata, cache_key), ERROR first, then WARN, then INFO. Rules: auth_uid_in_policy, uuid_owner_column, owner_column_without_default, rls_disabled_with_owner_column, rls_enabled_no_policy, policy_without_role, sql_requesting_user_id, jwt_secret_exposed, x402_tx_hash_not_unique, x402_ledger_writable_by_clients, security_definer_search_path, better_auth_tables_exposed, policy_reads_unforwarded_claim, validation_needs_unforwarded_claims.';

CREATE OR REPLACE FUNCTION insforge.lint_sql_requesting_user_id()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'sql_requesting_user_id',
           'requesting_user_id() is still the SQL helper',
           'WARN',
           'INTERNAL',
           ARRAY['PERFORMANCE'],
           'Detects a public.requesting_user_id() that is still the integration guides'' SQL helper rather than the '
           || 'extension''s native function. The SQL helper parses the claims JSON once per row; the native one once per request.',
           pg_catalog.format('public.requesting_user_id() is LANGUAGE %s returning %s; %s policies call it.',
                             l.lanname, pg_catalog.format_type(p.prorettype, NULL), dep.n),
           CASE WHEN p.prorettype = 'pg_catalog.text'::pg_catalog.regtype
                THEN 'SELECT insforge.adopt_requesting_user_id();  -- as project_admin or a superuser; swaps the body in place, policies untouched'
                ELSE 'It returns ' || pg_catalog.format_type(p.prorettype, NULL) || ', not text, so it cannot be adopted in place: '
                     || 'change the policies to compare text owner columns, drop the function, then SELECT insforge.adopt_requesting_user_id();' END,
           pg_catalog.jsonb_build_object('schema', 'public', 'type', 'function', 'function', 'requesting_user_id()',
                                         'language', l.lanname, 'returns', pg_catalog.format_type(p.prorettype, NULL),
                                         'policies', dep.n),
           'sql_requesting_user_id_public_requesting_user_id'
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      CROSS JOIN LATERAL (SELECT pg_catalog.count(DISTINCT d.objid) AS n FROM pg_catalog.pg_depend d
                           WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid = p.oid
                             AND d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass) dep
     WHERE p.oid = pg_catalog.to_regprocedure('public.requesting_user_id()')
       AND NOT insforge.native_requesting_user_id_installed()
$$;
COMMENT ON FUNCTION insforge.lint_sql_requesting_user_id() IS
'Advisor rule sql_requesting_user_id (WARN): public.requesting_user_id() is still the SQL helper; SELECT insforge.adopt_requesting_user_id(); switches it to the native function in place.';

-- Last, as at CREATE EXTENSION (sql/operator.sql): the operator privileges for
-- project_admin, when the role exists (0.1.0 granted it record_settlement and
-- lint_jwt_secret_exposed already; granting again changes nothing).
DO $do$
BEGIN
    IF pg_catalog.to_regrole('project_admin') IS NOT NULL THEN
        PERFORM insforge._grant_operator('project_admin', true);
    END IF;
END
$do$;
