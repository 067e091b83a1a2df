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
--      notion of exposed schemas, and texts that name the operator;
--   4. x402: verify_payment() as the official SDK's facilitator decides (check order, reason
--      strings, a validBefore margin); the settlement journal (begin_settlement, pending and failed rows, one live row
--      per authorization, a second transaction for it disputed, unreconciled(), the
--      x402_unreconciled_settlements rule), stats() with pending and failed; record_settlement()
--      and begin_settlement() in C (src/sql_x402.rs: a new settlement that agrees, or a new
--      intent, is one INSERT), the other cases in x402._record_settlement() and
--      x402._begin_settlement();
--   5. the ledger itself (user data, public.x402_payments), when install_ledger() made it:
--      upgraded in place as x402.install_ledger() does, refusing (23505/22023, nothing
--      changed) when its rows cannot carry the new rules.
-- Policies, the stored key and public.requesting_user_id() stay as they are; the ledger's
-- rows too (item 5 adds columns, constraints and indexes around them).


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
           ('FUNCTION', 'x402.begin_settlement(jsonb,jsonb,text)', 'EXECUTE'),
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

-- x402 (sql/x402.sql, src/sql_x402.rs): the journal.
ALTER TYPE x402.payment ADD ATTRIBUTE failure_reason text, ADD ATTRIBUTE completed_at timestamptz;
-- verify_payment() agrees with the official x402 SDK's facilitator (src/sql_x402.rs): its check
-- order and reason strings, and the 6 s validBefore margin as a fourth argument. A new
-- signature, so the function is made anew; 0.1.0's symbol verify_payment_wrapper stays in the
-- library (with the default margin) for databases not updated yet.
DROP FUNCTION x402.verify_payment(jsonb, jsonb, timestamptz);
CREATE FUNCTION x402.verify_payment(payload jsonb, requirements jsonb DEFAULT NULL, at timestamptz DEFAULT now(),
                                    valid_before_margin interval DEFAULT '6 seconds') RETURNS jsonb
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'verify_payment_with_margin_wrapper';

CREATE OR REPLACE FUNCTION x402._nonce_recorded(p_network text, p_asset text, p_payer text, p_nonce text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off  -- its plan is kept for the session: the nonce index, however small the ledger was
    AS $fn$
BEGIN
    -- No ledger yet, or a guide-made one not yet upgraded by x402.install_ledger():
    -- nothing is recorded in the shape this check reads. (No EXCEPTION block: that
    -- would be a subtransaction, which parallel workers may not start.)
    IF (SELECT count(*) FROM pg_catalog.pg_attribute
         WHERE attrelid = pg_catalog.to_regclass('public.x402_payments')
           AND attname IN ('network', 'asset', 'payer_address', 'nonce', 'status') AND NOT attisdropped) < 5 THEN
        RETURN false;
    END IF;
    -- Recorded means settled, disputed or pending (an intent: /settle may be under
    -- way); a failed settlement left the nonce unused on chain. Static SQL: planned
    -- once per session (replanned by the plan cache after DDL), and only reached once
    -- the columns exist.
    RETURN EXISTS (SELECT 1 FROM public.x402_payments
                    WHERE nonce = lower(p_nonce) AND network = p_network AND lower(asset) = lower(p_asset)
                      AND lower(payer_address) = lower(p_payer) AND status <> 'failed');
END
$fn$;

CREATE FUNCTION x402._install_ledger(owner regrole) RETURNS regclass
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET client_min_messages = warning  -- not the "already exists, skipping" NOTICEs of a second run
    AS $fn$
DECLARE
    bad text;
    r text;
BEGIN
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        IF owner IS NULL OR NOT (pg_catalog.has_function_privilege(owner, 'x402._install_ledger(regrole)', 'EXECUTE')
                                 OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner)) THEN
            RAISE EXCEPTION 'the ledger''s owner must be an operator of insforge_integrations (project_admin or a superuser), not %', owner
                USING ERRCODE = '42501';
        END IF;
        CREATE TABLE public.x402_payments (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            payer_address text NOT NULL,
            endpoint text,
            amount numeric(78,0) NOT NULL,
            tx_hash text,
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
    SELECT pg_catalog.string_agg(DISTINCT coalesce(status, 'NULL'), ', ') INTO bad
      FROM public.x402_payments WHERE status IS NULL OR status NOT IN ('pending', 'settled', 'disputed', 'failed');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'public.x402_payments.status holds values other than pending, settled, disputed and failed: %', bad
            USING ERRCODE = '22023',
                  HINT = 'Map them to one of those four, then run SELECT x402.install_ledger(); again. Nothing was changed.';
    END IF;
    -- One signed authorization (network, asset, payer, nonce) can settle once on chain;
    -- 0.1.0 could record it under two transaction hashes as two settled payments.
    IF (SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = 'public.x402_payments'::regclass
           AND attname IN ('network', 'asset', 'nonce') AND NOT attisdropped) = 3 THEN
        EXECUTE $q$
            SELECT pg_catalog.string_agg(pg_catalog.format('nonce %s of %s on %s: %s', nonce, payer_address, network, txs), '; ')
              FROM (SELECT network, lower(asset), payer_address, nonce,
                           pg_catalog.string_agg(tx_hash, ', ' ORDER BY created_at, tx_hash) AS txs
                      FROM public.x402_payments
                     WHERE status IN ('pending', 'settled') AND nonce IS NOT NULL AND network IS NOT NULL
                     GROUP BY network, lower(asset), payer_address, nonce HAVING count(*) > 1 LIMIT 5) d $q$
            INTO bad;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'public.x402_payments records one authorization as settled more than once (on chain only one transaction can have used it): %', bad
                USING ERRCODE = '23505',
                      HINT = 'Look the transactions up; mark every one but the real one disputed, e.g. UPDATE public.x402_payments SET status = ''disputed'', dispute_reason = ''nonce reuse'' WHERE tx_hash = ''0x...''; then run SELECT x402.install_ledger(); again. Nothing was changed.';
        END IF;
    END IF;

    ALTER TABLE public.x402_payments
        ADD COLUMN IF NOT EXISTS network text,
        ADD COLUMN IF NOT EXISTS asset text,
        ADD COLUMN IF NOT EXISTS pay_to text,
        ADD COLUMN IF NOT EXISTS nonce text,
        ADD COLUMN IF NOT EXISTS dispute_reason text,
        ADD COLUMN IF NOT EXISTS payload jsonb,
        ADD COLUMN IF NOT EXISTS requirements jsonb,
        ADD COLUMN IF NOT EXISTS settlement jsonb,
        ADD COLUMN IF NOT EXISTS failure_reason text,
        ADD COLUMN IF NOT EXISTS completed_at timestamptz;
    -- A pending intent (begin_settlement) has no transaction yet, nor may a failed settlement.
    ALTER TABLE public.x402_payments ALTER COLUMN tx_hash DROP NOT NULL;
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
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                    WHERE conrelid = 'public.x402_payments'::regclass AND conname = 'x402_payments_status') THEN
        ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_status
            CHECK (status IN ('pending', 'settled', 'disputed', 'failed') AND (tx_hash IS NOT NULL OR status IN ('pending', 'failed')));
    END IF;
    -- At most one live row (pending or settled) per authorization; every lookup by nonce indexed.
    CREATE UNIQUE INDEX IF NOT EXISTS x402_payments_authorization_key
        ON public.x402_payments (network, lower(asset), lower(payer_address), nonce) WHERE status IN ('pending', 'settled');
    CREATE INDEX IF NOT EXISTS x402_payments_nonce ON public.x402_payments (nonce);
    CREATE INDEX IF NOT EXISTS x402_payments_pending ON public.x402_payments (created_at) WHERE status = 'pending';

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

CREATE FUNCTION x402._same_settlement(r x402.payment, f jsonb) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    IF (lower(r.payer_address), r.amount::text, r.network, lower(r.asset), lower(r.pay_to), r.nonce)
       IS DISTINCT FROM
       (lower(f ->> 'payer_address'), f ->> 'amount', f ->> 'network', lower(f ->> 'asset'), lower(f ->> 'pay_to'), f ->> 'nonce')
       OR (r.status = 'failed') IS DISTINCT FROM (f ->> 'status' = 'failed') THEN
        RAISE EXCEPTION 'transaction % is already recorded with different facts', f ->> 'tx_hash'
            USING ERRCODE = '23505',
                  DETAIL = pg_catalog.format('recorded: %s, payer %s, amount %s, pay_to %s, network %s, asset %s, nonce %s; given: %s, payer %s, amount %s, pay_to %s, network %s, asset %s, nonce %s',
                                             r.status, r.payer_address, r.amount, r.pay_to, r.network, r.asset, r.nonce,
                                             f ->> 'status', f ->> 'payer_address', f ->> 'amount', f ->> 'pay_to',
                                             f ->> 'network', f ->> 'asset', f ->> 'nonce'),
                  HINT = 'A transaction hash identifies one settlement. Nothing was changed.';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION x402._same_settlement(x402.payment, jsonb) FROM PUBLIC;

-- Everything record_settlement() does but the common case (src/sql_x402.rs: a settlement
-- that agrees, new for the ledger, is one INSERT there). f: x402._settlement_facts().
CREATE FUNCTION x402._record_settlement(payload jsonb, requirements jsonb, settlement jsonb,
                                        endpoint text, response_summary text, f jsonb)
    RETURNS x402.payment
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    r x402.payment;
    v_status text;
    v_reason text;
    first_tx text;
    attempt int := 0;
BEGIN
    -- Only record_settlement() calls it, with facts it has just derived; a direct call by the
    -- extension's owner with anything else writes nothing.
    IF pg_catalog.jsonb_typeof(f) IS DISTINCT FROM 'object' OR f ->> 'payer_address' IS NULL
       OR coalesce(f ->> 'status', '') NOT IN ('settled', 'disputed', 'failed')
       OR (f ->> 'amount') IS NOT DISTINCT FROM NULL OR (f ->> 'amount') !~ '^[0-9]{1,78}$'
       OR (f ->> 'tx_hash') !~ '^0x[0-9a-f]{64}$'
       OR (f ->> 'tx_hash' IS NULL AND f ->> 'status' <> 'failed') THEN
        RAISE EXCEPTION 'x402._record_settlement: f is not what x402._settlement_facts() gives: %', f
            USING ERRCODE = '22023', HINT = 'Call x402.record_settlement(payload, requirements, settlement). Nothing was written.';
    END IF;
    LOOP
        attempt := attempt + 1;
        v_status := f ->> 'status';
        v_reason := f ->> 'dispute_reason';
        -- 1. This transaction is recorded already: a retry, or a twin that committed first.
        IF f ->> 'tx_hash' IS NOT NULL THEN
            SELECT p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r FROM public.x402_payments p WHERE p.tx_hash = f ->> 'tx_hash';
            IF FOUND THEN
                PERFORM x402._same_settlement(r, f);
                RETURN r;
            END IF;
        END IF;
        -- 2. The authorization is recorded under another transaction: on chain only one of
        --    them can have used it, so this one is disputed (and never counted as revenue).
        IF v_status <> 'failed' AND f ->> 'nonce' IS NOT NULL THEN
            SELECT p.tx_hash INTO first_tx FROM public.x402_payments p
             WHERE p.nonce = f ->> 'nonce' AND p.network = f ->> 'network' AND lower(p.asset) = lower(f ->> 'asset')
               AND lower(p.payer_address) = lower(f ->> 'payer_address') AND p.tx_hash IS NOT NULL
               AND p.status IN ('settled', 'disputed')
             ORDER BY p.created_at, p.tx_hash LIMIT 1;
            IF FOUND THEN
                v_status := 'disputed';
                v_reason := concat_ws('; ', v_reason, pg_catalog.format(
                    'authorization (nonce %s) already recorded under transaction %s: on chain only one of them can have used it',
                    f ->> 'nonce', first_tx));
            END IF;
        END IF;
        -- 3. Complete the intent begin_settlement() wrote, exactly once.
        IF f ->> 'nonce' IS NOT NULL THEN
            UPDATE public.x402_payments p
               SET tx_hash = f ->> 'tx_hash', status = v_status, dispute_reason = v_reason,
                   failure_reason = f ->> 'failure_reason', payer_address = f ->> 'payer_address',
                   amount = (f ->> 'amount')::numeric, pay_to = f ->> 'pay_to', chain = coalesce(f ->> 'chain', p.chain),
                   endpoint = coalesce($4, p.endpoint), response_summary = coalesce($5, p.response_summary),
                   payload = $1, requirements = $2, settlement = $3, completed_at = pg_catalog.now()
             WHERE p.nonce = f ->> 'nonce' AND p.network = f ->> 'network' AND lower(p.asset) = lower(f ->> 'asset')
               AND lower(p.payer_address) = lower(f ->> 'payer_address') AND p.status = 'pending'
            RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r;
            IF FOUND THEN
                RETURN r;
            END IF;
        END IF;
        -- 4. No intent: the row is new.
        INSERT INTO public.x402_payments AS p
            (payer_address, endpoint, amount, tx_hash, chain, status, response_summary, network, asset, pay_to, nonce,
             dispute_reason, failure_reason, payload, requirements, settlement, completed_at)
        VALUES (f ->> 'payer_address', $4, (f ->> 'amount')::numeric, f ->> 'tx_hash', coalesce(f ->> 'chain', 'xlayer'),
                v_status, $5, f ->> 'network', f ->> 'asset', f ->> 'pay_to', f ->> 'nonce',
                v_reason, f ->> 'failure_reason', $1, $2, $3, pg_catalog.now())
        ON CONFLICT DO NOTHING
        RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r;
        IF FOUND THEN
            RETURN r;
        END IF;
        -- 5. A concurrent twin (same transaction, or the same authorization) committed first:
        --    look again with what it wrote.
        IF attempt >= 3 THEN
            RAISE EXCEPTION 'could not record transaction % after % attempts: concurrent writers keep changing its authorization''s rows',
                    f ->> 'tx_hash', attempt
                USING ERRCODE = '40001', HINT = 'Retry the call; nothing was written.';
        END IF;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION x402._record_settlement(jsonb, jsonb, jsonb, text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._record_settlement(jsonb, jsonb, jsonb, text, text, jsonb) IS
'Internal (record_settlement, which alone may run it): a retry or twin of a recorded transaction, a pending intent to complete, a second transaction for an authorization, a disputed or failed answer. f: the facts x402._settlement_facts() gives.';

CREATE OR REPLACE FUNCTION x402.record_settlement(payload jsonb, requirements jsonb, settlement jsonb,
                                       endpoint text DEFAULT NULL, response_summary text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- Every lookup it makes has an index (tx_hash, nonce); its plans are kept for the
    -- session, and a ledger analyzed while nearly empty must not leave them scanning it.
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'record_settlement_wrapper';
COMMENT ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) IS
'Records the facilitator''s answer to /settle exactly once and returns the row: completes the pending intent of begin_settlement() for this authorization, or writes a new row. settled when payload, requirements and answer agree; disputed (with the reason) when money moved but something disagrees, or the authorization is already recorded under another transaction; failed (with the facilitator''s reason) for success = false. The same answer again returns the existing row; the same tx hash with other facts raises 23505 and changes nothing. No payer, or success without a tx hash: 22023, nothing written. Operators only (project_admin: the service key).';
REVOKE ALL ON FUNCTION x402.record_settlement(jsonb, jsonb, jsonb, text, text) FROM PUBLIC;

-- Everything begin_settlement() does but the common case (src/sql_x402.rs: an authorization
-- the ledger has no live row for is one INSERT there). f: the facts begin_settlement() derived.
CREATE FUNCTION x402._begin_settlement(payload jsonb, requirements jsonb, endpoint text, f jsonb)
    RETURNS x402.payment
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    r x402.payment;
BEGIN
    -- Only begin_settlement() calls it, with facts it has just derived; a direct call by the
    -- extension's owner with anything else writes nothing.
    IF pg_catalog.jsonb_typeof(f) IS DISTINCT FROM 'object'
       OR f ->> 'payer_address' IS NULL OR f ->> 'network' IS NULL OR f ->> 'asset' IS NULL
       OR f ->> 'pay_to' IS NULL OR f ->> 'nonce' IS NULL
       OR (f ->> 'amount') IS NOT DISTINCT FROM NULL OR (f ->> 'amount') !~ '^[0-9]{1,78}$' THEN
        RAISE EXCEPTION 'x402._begin_settlement: f is not the facts begin_settlement() derives: %', f
            USING ERRCODE = '22023', HINT = 'Call x402.begin_settlement(payload, requirements). Nothing was written.';
    END IF;
    -- begin_settlement's INSERT has just met a live row of this authorization: look for it
    -- first, and write the intent only if it has gone since (a concurrent writer).
    FOR attempt IN 1..3 LOOP
        -- The authorization has a live row: its pending intent (a retry of begin) or its
        -- settlement (already paid: do not /settle again). Either way, that row.
        SELECT p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r FROM public.x402_payments p
         WHERE p.nonce = f ->> 'nonce' AND p.network = f ->> 'network' AND lower(p.asset) = lower(f ->> 'asset')
           AND lower(p.payer_address) = lower(f ->> 'payer_address') AND p.status IN ('pending', 'settled');
        IF FOUND THEN
            RETURN r;
        END IF;
        INSERT INTO public.x402_payments AS p
            (payer_address, endpoint, amount, chain, status, network, asset, pay_to, nonce, payload, requirements)
        VALUES (f ->> 'payer_address', $3, (f ->> 'amount')::numeric, f ->> 'chain', 'pending', f ->> 'network',
                f ->> 'asset', f ->> 'pay_to', f ->> 'nonce', $1, $2)
        ON CONFLICT DO NOTHING
        RETURNING p.id, p.payer_address, p.endpoint, p.amount, p.tx_hash, p.chain, p.status, p.response_summary, p.created_at, p.network, p.asset, p.pay_to, p.nonce, p.dispute_reason, p.payload, p.requirements, p.settlement, p.failure_reason, p.completed_at INTO r;
        IF FOUND THEN
            RETURN r;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'could not write the intent for nonce % after 3 attempts: concurrent writers keep changing its rows', f ->> 'nonce'
        USING ERRCODE = '40001', HINT = 'Retry the call; nothing was written.';
END
$fn$;
REVOKE ALL ON FUNCTION x402._begin_settlement(jsonb, jsonb, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION x402._begin_settlement(jsonb, jsonb, text, jsonb) IS
'Internal (begin_settlement, which alone may run it): an authorization that already has a live row (a retried begin, or already settled), or a concurrent twin. f: the facts begin_settlement() derived.';

CREATE FUNCTION x402.begin_settlement(payload jsonb, requirements jsonb, endpoint text DEFAULT NULL)
    RETURNS x402.payment
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off  -- as record_settlement: its kept plans use the ledger's indexes
    AS 'MODULE_PATHNAME', 'begin_settlement_wrapper';
COMMENT ON FUNCTION x402.begin_settlement(jsonb, jsonb, text) IS
'Writes the intent to settle a payment before calling the facilitator''s /settle: a pending row keyed by the authorization (network, asset, payer, nonce), so that a settlement is never unaccounted even if the app dies before record_settlement(). Returns the row; when the authorization already has a pending or settled row, returns that one instead (status settled: it is paid, do not settle again). Malformed payload or requirements: 22023, nothing written. Operators only (project_admin: the service key).';
REVOKE ALL ON FUNCTION x402.begin_settlement(jsonb, jsonb, text) FROM PUBLIC;

CREATE FUNCTION x402._explorer_address_url(network text, address text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE network
               WHEN 'eip155:196' THEN 'https://www.oklink.com/xlayer/address/'
               WHEN 'eip155:1952' THEN 'https://www.oklink.com/xlayer-test/address/'
               WHEN 'eip155:8453' THEN 'https://basescan.org/address/'
               WHEN 'eip155:84532' THEN 'https://sepolia.basescan.org/address/'
               WHEN 'eip155:1' THEN 'https://etherscan.io/address/'
               WHEN 'eip155:11155111' THEN 'https://sepolia.etherscan.io/address/'
           END || address
$$;

CREATE FUNCTION x402.unreconciled(older_than interval DEFAULT '5 minutes')
    RETURNS TABLE (id uuid, created_at timestamptz, age interval, endpoint text, network text, asset text,
                   payer_address text, nonce text, amount numeric, pay_to text, valid_before timestamptz,
                   settleable boolean, look_up text, explorer text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
#variable_conflict use_column
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT p.id, p.created_at, pg_catalog.now() - p.created_at, p.endpoint, p.network, p.asset, p.payer_address,
               p.nonce, p.amount, p.pay_to, vb.t, vb.t IS NULL OR vb.t > pg_catalog.now(),
               pg_catalog.format('authorizationState(%s, %s) on token %s (%s): true means the authorization was used, '
                                 || 'so find its transaction (AuthorizationUsed/Transfer from %s) and record it with '
                                 || 'x402.record_settlement(); false %s',
                                 p.payer_address, p.nonce, p.asset, p.network, p.payer_address,
                                 CASE WHEN vb.t IS NOT NULL AND vb.t <= pg_catalog.now()
                                      THEN 'means it never settled and no longer can (validBefore passed): record the facilitator''s failure with x402.record_settlement(payload, requirements, ''{"success": false, "errorReason": "..."}'')'
                                      ELSE 'means it has not settled yet; ask the facilitator about the /settle call' END),
               x402._explorer_address_url(p.network, p.payer_address)
          FROM public.x402_payments p
          CROSS JOIN LATERAL (SELECT CASE WHEN p.payload #>> '{payload,authorization,validBefore}' ~ '^[0-9]{1,15}$'
                                          THEN pg_catalog.to_timestamp((p.payload #>> '{payload,authorization,validBefore}')::double precision)
                                     END AS t) vb
         WHERE p.status = 'pending' AND pg_catalog.now() - p.created_at >= $1  -- (no overflow for any interval)
         ORDER BY p.created_at $q$ USING older_than;
END
$fn$;
COMMENT ON FUNCTION x402.unreconciled(interval) IS
'Pending settlements (begin_settlement() without a record_settlement() since) older than the given interval, oldest first, with what to look up on chain or at the facilitator (authorizationState(payer, nonce) on the token, the explorer) and whether the authorization can still settle (validBefore). Readable by whoever may read the ledger.';

-- stats() gains the pending and failed columns: a new result type, so the function is made anew.
DROP FUNCTION x402.stats(timestamptz);
CREATE FUNCTION x402.stats(since timestamptz DEFAULT NULL)
    RETURNS TABLE (endpoint text, network text, asset text, symbol text, requests bigint, settled bigint,
                   disputed bigint, revenue numeric, revenue_tokens numeric, latest_payment timestamptz,
                   pending bigint, failed bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
#variable_conflict use_column
BEGIN
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RAISE EXCEPTION 'public.x402_payments does not exist'
            USING ERRCODE = '42P01', HINT = 'Run SELECT x402.install_ledger(); once.';
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT CASE WHEN GROUPING(p.endpoint) = 0 THEN coalesce(p.endpoint, '') END, p.network, p.asset, a.symbol, count(*),
               count(*) FILTER (WHERE p.status = 'settled'), count(*) FILTER (WHERE p.status = 'disputed'),
               coalesce(sum(p.amount) FILTER (WHERE p.status = 'settled'), 0)::numeric,
               trim_scale(coalesce(sum(p.amount) FILTER (WHERE p.status = 'settled'), 0) / (10::numeric ^ coalesce(a.decimals, 0))),
               max(p.created_at) FILTER (WHERE p.status = 'settled'),
               count(*) FILTER (WHERE p.status = 'pending'), count(*) FILTER (WHERE p.status = 'failed')
          FROM public.x402_payments p
          LEFT JOIN x402.assets a ON a.network = p.network AND a.asset = lower(p.asset)
         WHERE $1 IS NULL OR p.created_at >= $1
         GROUP BY GROUPING SETS ((p.network, p.asset, a.symbol, a.decimals),
                                 (p.endpoint, p.network, p.asset, a.symbol, a.decimals))
         ORDER BY 1 NULLS FIRST, 2, 3 $q$ USING since;
END
$fn$;
COMMENT ON FUNCTION x402.stats(timestamptz) IS
'Dashboard numbers from public.x402_payments since a time (NULL: all): one row per network and asset with endpoint NULL (the totals), then one per endpoint ('''''' for rows recorded without one). requests counts every row (attempts); revenue counts settled rows only (never pending, failed or disputed ones, such as a second transaction for one authorization), in the smallest unit and in token units (x402.assets decimals); latest_payment is the newest settled row.';

CREATE OR REPLACE FUNCTION x402.publish_payment() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $fn$
BEGIN
    -- A payment is published once, when it is recorded: inserted as settled or disputed,
    -- or a pending intent (or a failed attempt) completed as one. Intents and failures
    -- are not payments.
    IF NEW.status IN ('settled', 'disputed')
       AND (TG_OP = 'INSERT' OR OLD.status IS NULL OR OLD.status NOT IN ('settled', 'disputed')) THEN
        PERFORM realtime.publish(TG_ARGV[0], 'INSERT_' || TG_TABLE_NAME,
                                 pg_catalog.jsonb_build_object('new', pg_catalog.to_jsonb(NEW)));
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION x402.publish_payment() IS
'Trigger: publishes each ledger row through InsForge''s realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}) once, when it is recorded as settled or disputed (inserted so, or completed from a pending intent).';

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
        'CREATE OR REPLACE TRIGGER x402_payments_realtime AFTER INSERT OR UPDATE OF status ON public.x402_payments
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
'Adds a trigger that publishes each recorded payment through realtime.publish(channel, ''INSERT_x402_payments'', {"new": row}), as the InsForge x402 guide does (once, when a row is recorded as settled or disputed, also when it completes a pending intent), and registers the channel in realtime.channels when that table exists. Operators only (project_admin or a superuser).';

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

CREATE FUNCTION insforge.lint_x402_unreconciled_settlements()
    RETURNS TABLE(name text, title text, level text, facing text, categories text[], description text,
                  detail text, remediation text, metadata jsonb, cache_key text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    n bigint;
    oldest timestamptz;
    expired bigint;
BEGIN
    -- No ledger, one without the journal's columns, or one the caller may not read: nothing to look at.
    IF pg_catalog.to_regclass('public.x402_payments') IS NULL THEN
        RETURN;
    END IF;
    IF (SELECT count(*) FROM pg_catalog.pg_attribute
         WHERE attrelid = pg_catalog.to_regclass('public.x402_payments')
           AND attname IN ('status', 'payload', 'created_at') AND NOT attisdropped) < 3
       OR NOT pg_catalog.has_table_privilege(pg_catalog.to_regclass('public.x402_payments'), 'SELECT') THEN
        RETURN;
    END IF;
    EXECUTE $q$
        SELECT count(*), min(p.created_at), count(*) FILTER (WHERE vb.t <= pg_catalog.now())
          FROM public.x402_payments p
          CROSS JOIN LATERAL (SELECT CASE WHEN p.payload #>> '{payload,authorization,validBefore}' ~ '^[0-9]{1,15}$'
                                          THEN pg_catalog.to_timestamp((p.payload #>> '{payload,authorization,validBefore}')::double precision)
                                     END AS t) vb
         WHERE p.status = 'pending'
           AND (vb.t <= pg_catalog.now() OR p.created_at < pg_catalog.now() - interval '1 hour') $q$
        INTO n, oldest, expired;
    IF n = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT
        'x402_unreconciled_settlements'::text,
        'Settlements begun but never recorded'::text,
        'WARN'::text,
        'INTERNAL'::text,
        ARRAY['CORRECTNESS']::text[],
        ('Detects pending rows in the settlement journal: x402.begin_settlement() wrote the intent before /settle and '
         || 'x402.record_settlement() never completed it. The facilitator may have moved the money anyway; until the row '
         || 'is reconciled the payment is unaccounted. Stale: the authorization''s validBefore has passed (its outcome on '
         || 'chain is final) or the intent is older than an hour.')::text,
        pg_catalog.format('public.x402_payments has %s stale pending settlement%s (%s past validBefore), the oldest begun %s ago.',
                          n, CASE WHEN n = 1 THEN '' ELSE 's' END, expired,
                          pg_catalog.date_trunc('second', pg_catalog.now() - oldest)),
        ('SELECT * FROM x402.unreconciled(''0 seconds'');  -- then look each authorization up (look_up, explorer) and '
         || 'record the facilitator''s answer with x402.record_settlement(payload, requirements, answer)')::text,
        pg_catalog.jsonb_build_object('schema', 'public', 'table', 'x402_payments', 'type', 'table', 'pending', n,
                                      'past_valid_before', expired, 'oldest', oldest),
        'x402_unreconciled_settlements_public_x402_payments'::text;
END
$fn$;
COMMENT ON FUNCTION insforge.lint_x402_unreconciled_settlements() IS
'Advisor rule x402_unreconciled_settlements (WARN): pending settlement intents whose authorization can no longer settle, or older than an hour, that record_settlement() never completed. One row.';

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
        || ' UNION ALL SELECT * FROM insforge.lint_x402_unreconciled_settlements()'
        || ') f ORDER BY CASE f.level WHEN ''ERROR'' THEN 0 WHEN ''WARN'' THEN 1 ELSE 2 END, f.name, f.cache_key';
END
$fn$;
COMMENT ON FUNCTION insforge.advise() IS
'Integration-mistake advisor: one row per finding (name, title, level, facing, categories, description, detail, remediation, metadata, cache_key), ERROR first, then WARN, then INFO. Rules: auth_uid_in_policy, uuid_owner_column, owner_column_without_default, rls_disabled_with_owner_column, rls_enabled_no_policy, policy_without_role, sql_requesting_user_id, jwt_secret_exposed, x402_tx_hash_not_unique, x402_ledger_writable_by_clients, security_definer_search_path, better_auth_tables_exposed, policy_reads_unforwarded_claim, validation_needs_unforwarded_claims, x402_unreconciled_settlements.';

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

-- 5. The ledger (user data), when x402.install_ledger() made or upgraded it: the journal's
-- columns, constraints and indexes, exactly as install_ledger() now adds them (it refuses,
-- and with it this update, when rows cannot carry them: an authorization recorded as settled
-- under two transactions (23505), or a status the journal does not know (22023)). A realtime
-- trigger from enable_realtime() also fires on the status change that completes an intent.
DO $ledger$
DECLARE
    trigger_def text;
BEGIN
    IF pg_catalog.to_regclass('public.x402_payments') IS NOT NULL
       AND (SELECT count(*) FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass('public.x402_payments')
               AND attname IN ('network', 'asset', 'nonce', 'payload') AND NOT attisdropped) = 4 THEN
        PERFORM x402._install_ledger(NULL);
        SELECT pg_catalog.pg_get_triggerdef(t.oid) INTO trigger_def FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = 'public.x402_payments'::regclass AND t.tgname = 'x402_payments_realtime';
        IF trigger_def IS NOT NULL AND trigger_def !~ 'UPDATE OF status' THEN
            EXECUTE pg_catalog.regexp_replace(
                pg_catalog.regexp_replace(trigger_def, '^CREATE TRIGGER', 'CREATE OR REPLACE TRIGGER'),
                'AFTER INSERT ON', 'AFTER INSERT OR UPDATE OF status ON');
        END IF;
    END IF;
END
$ledger$;

-- Comments on the functions pgrx generates (sql/comments.sql): 0.1.0 had none.
COMMENT ON FUNCTION insforge.verify_jwt(text, text, text, text) IS
'Returns the claims of a JWT whose signature verifies (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384, EdDSA) with key: an HMAC secret, a PEM public key, a JWK or a JWKS (kid picks the key). Checks exp/nbf with insforge_integrations.jwt_leeway against the transaction start, and audience/issuer when given or configured. Every failed check raises 28000 naming it; a malformed key 22023.';
COMMENT ON FUNCTION insforge.validate_claims(jsonb) IS
'The problems found in the claims under the insforge_integrations.jwt_* settings, in this order: missing_sub, expired, not_yet_valid, audience, issuer, role, provider_mismatch. Empty when none.';
COMMENT ON FUNCTION insforge.claims_valid() IS
'True when the current request has claims and they pass validation (cached per request).';
COMMENT ON FUNCTION insforge.require_valid_claims() IS
'Raises 28000 naming the first problem when the current request has no claims or they fail validation.';
COMMENT ON FUNCTION insforge.auth_provider(jsonb) IS
'The identity provider behind the claims (NULL: the current request''s): clerk, auth0, workos, kinde, stytch, better_auth, insforge, or NULL. A classification by issuer and sub shape, not an authentication.';
COMMENT ON FUNCTION insforge.token_verification_count() IS
'Diagnostic: how many bearer tokens this backend has verified in insforge_integrations.claims_source = verified mode (a per-row policy verifies once per token).';
COMMENT ON FUNCTION insforge.authenticate(text) IS
'For direct connections: verifies the token with the stored key, validates its claims, then for the rest of the transaction sets request.jwt.claims and the role from the role claim (only roles in insforge_integrations.jwt_roles; Postgres''s SET ROLE rules apply), as PostgREST would. Returns the subject. 25P01 outside a transaction block.';
COMMENT ON FUNCTION x402.decode_header(text) IS
'Decodes a PAYMENT-SIGNATURE, X-PAYMENT, PAYMENT-REQUIRED or PAYMENT-RESPONSE header value: standard or URL-safe base64, padded or not, of a JSON object. Anything else raises 22023.';
COMMENT ON FUNCTION x402.encode_header(jsonb) IS
'Encodes a JSON object as a header value: standard padded base64 of compact JSON (round-trips with decode_header).';
COMMENT ON FUNCTION x402.domain_separator(text, text, numeric, text) IS
'The EIP-712 domain separator of EIP712Domain(string name,string version,uint256 chainId,address verifyingContract): 32 bytes.';
COMMENT ON FUNCTION x402.checksum_address(text) IS
'The EIP-55 checksummed form of an address; 22023 for a malformed address or a mixed-case one whose checksum is wrong.';
COMMENT ON FUNCTION x402.recover_payer(jsonb, jsonb) IS
'The checksummed address that signed the payload''s EIP-3009 TransferWithAuthorization under the requirements'' EIP-712 domain (NULL requirements: the v2 payload''s accepted). v 27/28 or 0/1; high-s signatures are refused (22023).';
COMMENT ON FUNCTION x402.verify_payment(jsonb, jsonb, timestamptz, interval) IS
'Checks a payment as the official x402 SDK''s facilitator /verify does, before any network call: {"isValid", "invalidReason", "invalidMessage", "payer"}, with the SDK''s check order and reason strings, validBefore at least valid_before_margin (6 s) ahead. Additions the SDK sees only on chain: invalid_exact_evm_payload_eip712_domain_mismatch (x402.assets registers another EIP-712 domain) and invalid_exact_evm_nonce_already_used (the ledger holds the nonce).';
COMMENT ON FUNCTION x402._settlement_facts(jsonb, jsonb, jsonb) IS
'Internal (record_settlement): the normalized facts of a facilitator''s answer (settled, disputed with the reasons, or failed with the facilitator''s reason). 22023 when there is nothing to record.';

-- Comments on the internal functions (0.1.0 had none on some).
COMMENT ON FUNCTION insforge._released_marker() IS
'Internal: the comment release_requesting_user_id() leaves on the SQL helper it writes, by which CREATE EXTENSION recognises it.';
COMMENT ON FUNCTION insforge._requesting_user_id_is_member() IS
'Internal: whether public.requesting_user_id() is a member of the extension.';
COMMENT ON FUNCTION insforge._make_native_in_place() IS
'Internal: makes the existing public.requesting_user_id() native in place (same OID) and a member. Not executable by any role; called by the operator''s adopt and by CREATE EXTENSION.';
COMMENT ON FUNCTION insforge._release_before_drop() IS
'Internal (event trigger on DROP EXTENSION): hands public.requesting_user_id() back as an equivalent SQL helper first, so that no policy is dropped.';
COMMENT ON FUNCTION x402._nonce_recorded(text, text, text, text) IS
'Internal (verify_payment): whether the ledger holds this payer''s nonce for this asset (pending, settled or disputed). Discloses nothing but that boolean.';
COMMENT ON FUNCTION x402._same_settlement(x402.payment, jsonb) IS
'Internal (record_settlement): raises 23505 when a transaction already recorded is given with other facts.';
COMMENT ON FUNCTION x402._explorer_address_url(text, text) IS
'Internal (unreconciled): the block explorer page of an address, for the networks the extension knows (NULL for others).';

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
