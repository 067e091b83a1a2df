-- insforge.explain_access(): why a client sees, or may change, what it does.
--
-- Given a table, a request (claims or a token, as insforge.act_as() takes them) and a
-- command, it answers the way PostgreSQL decides, one readable row per check: the
-- request, the table's RLS state, the privilege, each policy (whether it applies; each
-- USING and WITH CHECK result; the claim values it read), and one verdict line with the
-- reason. Docs: docs/explain.md.
--
-- How it evaluates (SECURITY.md, "Acting as a client"):
--   * as its caller, it reads only catalogs and the table (what the caller may read
--     anyway), converting values to text with their output functions only (format('%s')),
--     never with a cast or a domain check, so none of the project's code runs with the
--     caller's rights;
--   * the policies' code runs as the client only: inside a subtransaction that is always
--     rolled back, after SET LOCAL transaction_read_only = on, having switched with
--     insforge._act_as() (the role rules of insforge.act_as()). The table's rows reach the
--     client's query through a temporary view owned by the caller (a view reads its base
--     table with its owner's rights, so the table's own policies are not applied to that
--     read), while every policy expression, and every table a policy's subquery reads, is
--     planned and run as the client, under the client's privileges and the other tables'
--     RLS. The view, the grant on it and everything the policies did vanish with the
--     subtransaction;
--   * after each evaluation it checks that the role is still the client's (a policy
--     function that switches roles stops the explanation, 42501).
--
-- Policy expressions are deparsed with search_path pinned to pg_catalog, pg_temp (every
-- function outside pg_catalog printed schema-qualified, as pg_dump prints them) and
-- evaluated under the same path. Which PostgreSQL rules it follows
-- (src/backend/rewrite/rowsecurity.c):
--   * RLS applies unless it is disabled on the table, the role has BYPASSRLS, or the role
--     has the owner's privileges and RLS is not forced;
--   * a policy applies when it is for PUBLIC or a role whose privileges the role has, and
--     for the command or ALL;
--   * existing rows (SELECT, UPDATE, DELETE): (any permissive USING) AND (every
--     restrictive USING), per command; no permissive policy admits nothing;
--   * UPDATE and DELETE also need the SELECT policies when they read columns (a WHERE or
--     RETURNING: PostgREST's PATCH and DELETE with filters do), and UPDATE checks the new
--     row against the SELECT policies too;
--   * new rows (INSERT, UPDATE): each policy's WITH CHECK, or its USING when it has none;
--     INSERT ... RETURNING also checks the SELECT policies (reported, not in the verdict);
--   * NULL counts as false.

-- Internal: the text of one evaluation query (built before the switch to the client,
-- who may not execute this function). Evaluation columns are insforge_explain_<i>, one
-- per distinct (side, expression): side 'old' reads the existing rows through the
-- temporary view (alias: the table's name, as pg_get_expr printed it), side 'new' reads
-- the new row, jsonb_populate_record() of the table's row type from $1 (INSERT: the
-- new row; UPDATE: the existing row merged with $1). The query returns one bigint[]:
-- the rows in scope, then per evaluation column the rows for which it is true, then
-- per extra condition (a boolean expression over the columns) the rows meeting it.
-- With `just`, only that column (and no extra conditions).
--
-- The rows are grouped by their columns' values first (at most 3^n groups: true, false,
-- NULL), and the counts are sums over the groups: one hash lookup per row instead of one
-- filter per count, which keeps an explanation near the cost of the SELECT it explains.
CREATE FUNCTION insforge._explain_query(cmd text, view_name text, qualname text, rel_alias text, keycond text,
                                        eval_on text[], eval_expr text[], extra text[], just integer)
    RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    old_list text;
    new_list text;
    cols text;
    counts text;
    source text;
    where_clause text := CASE WHEN coalesce(keycond, '') = '' THEN '' ELSE ' WHERE ' || keycond END;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('(%s) AS %I', x.e, 'insforge_explain_' || x.i), ', ' ORDER BY x.i)
             FILTER (WHERE x.o = 'old'),
           pg_catalog.string_agg(pg_catalog.format('(%s) AS %I', x.e, 'insforge_explain_' || x.i), ', ' ORDER BY x.i)
             FILTER (WHERE x.o = 'new'),
           pg_catalog.string_agg(pg_catalog.format('%I', 'insforge_explain_' || x.i), ', ' ORDER BY x.i),
           pg_catalog.string_agg(pg_catalog.format(', pg_catalog.sum(insforge_explain_n) FILTER (WHERE %I IS TRUE)', 'insforge_explain_' || x.i), '' ORDER BY x.i)
      INTO old_list, new_list, cols, counts
      FROM ROWS FROM (pg_catalog.unnest(eval_on), pg_catalog.unnest(eval_expr)) WITH ORDINALITY AS x(o, e, i)
     WHERE just IS NULL OR x.i = just;
    IF just IS NULL THEN
        counts := coalesce(counts, '') || coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(', pg_catalog.sum(insforge_explain_n) FILTER (WHERE %s)', c), '' ORDER BY n)
                                                      FROM pg_catalog.unnest(extra) WITH ORDINALITY AS y(c, n)), '');
    END IF;
    IF cmd = 'INSERT' THEN
        source := pg_catalog.format('SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, $1) AS %s OFFSET 0',
                                    coalesce(new_list, '1 AS insforge_explain_new'), qualname, rel_alias);
    ELSIF cmd = 'UPDATE' THEN
        source := pg_catalog.format(
            'SELECT * FROM (SELECT %s, pg_catalog.to_jsonb(%s) AS insforge_explain_row FROM pg_temp.%s AS %s%s OFFSET 0) insforge_explain_old'
            || ' CROSS JOIN LATERAL (SELECT %s FROM pg_catalog.jsonb_populate_record(NULL::%s, insforge_explain_old.insforge_explain_row || $1) AS %s OFFSET 0) insforge_explain_new',
            coalesce(old_list, '1 AS insforge_explain_o'), rel_alias, pg_catalog.quote_ident(view_name), rel_alias, where_clause,
            coalesce(new_list, '1 AS insforge_explain_n'), qualname, rel_alias);
    ELSE
        source := pg_catalog.format('SELECT %s FROM pg_temp.%s AS %s%s OFFSET 0',
                                    coalesce(old_list, '1 AS insforge_explain_o'), pg_catalog.quote_ident(view_name), rel_alias, where_clause);
    END IF;
    RETURN pg_catalog.format(
        'SELECT ARRAY(SELECT coalesce(u.x, 0)::pg_catalog.int8 FROM pg_catalog.unnest(s.a) WITH ORDINALITY AS u(x, n) ORDER BY u.n)'
        || ' FROM (SELECT ARRAY[pg_catalog.sum(insforge_explain_n)%s] AS a'
        || ' FROM (SELECT %s pg_catalog.count(*) AS insforge_explain_n FROM (%s) insforge_explain_rows%s) insforge_explain_groups) s',
        coalesce(counts, ''), CASE WHEN cols IS NULL THEN '' ELSE cols || ',' END, source,
        CASE WHEN cols IS NULL THEN '' ELSE ' GROUP BY ' || cols END);
END
$fn$;
REVOKE ALL ON FUNCTION insforge._explain_query(text, text, text, text, text, text[], text[], text[], integer) FROM PUBLIC;
COMMENT ON FUNCTION insforge._explain_query(text, text, text, text, text, text[], text[], text[], integer) IS
'Internal (insforge.explain_access()): the text of the query that evaluates the policy expressions over the rows in scope and counts, per expression and per combined condition, the rows for which it holds.';

-- Internal: a value for a message: 'quoted', NULL, at most 60 characters.
CREATE FUNCTION insforge._explain_literal(v text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN v IS NULL THEN 'NULL'
                WHEN pg_catalog.length(v) > 60 THEN pg_catalog.quote_literal(pg_catalog.left(v, 57) || '...')
                ELSE pg_catalog.quote_literal(v) END
$$;
REVOKE ALL ON FUNCTION insforge._explain_literal(text) FROM PUBLIC;
COMMENT ON FUNCTION insforge._explain_literal(text) IS
'Internal (insforge.explain_access()): a value as a message shows it (quoted, NULL, at most 60 characters).';

-- Internal: the words for one check: {"reason": why it failed, in the verdict's terms;
-- "detail": the check's row}. `check` is one of explain_access()'s checks (policy, kind,
-- on, groups, permissive, expr, fallback, label, selectcheck, cols, claims, uidcol,
-- uidfn); `admitted` the rows (keyed: 0 or 1) for which it held, `total` the rows in
-- scope, `err` its error; `row_values` the row it was evaluated on (column -> text), when
-- one row; `uid` what requesting_user_id() returns for the client; `seen` the claims the
-- client's identity functions see.
CREATE FUNCTION insforge._explain_check(chk jsonb, cmd text, keyed boolean, admitted bigint, total bigint, err text,
                                        row_values jsonb, uid text, seen jsonb)
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    pol text := pg_catalog.quote_ident(chk ->> 'policy');
    one_row boolean := keyed OR (chk ->> 'on' = 'new' AND cmd = 'INSERT');
    groups text[] := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(chk -> 'groups'));
    role_note text := '';
    clause text;
    outcome text;
    vals text;
    claim_vals text;
    reason text;
BEGIN
    IF chk ->> 'on' = 'old' AND cmd <> 'SELECT' THEN
        role_note := CASE WHEN groups = ARRAY[cmd, 'SELECT'] THEN pg_catalog.format(' (as the %s and the SELECT policy)', cmd)
                          WHEN groups = ARRAY['SELECT'] THEN pg_catalog.format(' (as a SELECT policy: the %s reads the row)', cmd)
                          ELSE '' END;
    ELSIF coalesce((chk ->> 'selectcheck')::boolean, false) THEN
        role_note := CASE WHEN cmd = 'INSERT'
                          THEN ' (a SELECT policy, checked on the new row only with RETURNING: .select(), Prefer: return=representation)'
                          ELSE pg_catalog.format(' (a SELECT policy, checked on the new row: the %s reads columns)', cmd) END;
    END IF;
    clause := CASE WHEN chk ->> 'expr' IS NULL THEN 'has no USING expression'
                   WHEN coalesce((chk ->> 'selectcheck')::boolean, false) THEN 'USING ' || (chk ->> 'expr')
                   WHEN chk ->> 'kind' = 'USING' THEN 'USING ' || (chk ->> 'expr')
                   WHEN (chk ->> 'fallback')::boolean THEN 'WITH CHECK (its USING, as it has none) ' || (chk ->> 'expr')
                   ELSE 'WITH CHECK ' || (chk ->> 'expr') END;
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = %s', pg_catalog.quote_ident(c), insforge._explain_literal(row_values ->> c)), ', ')
      INTO vals
      FROM pg_catalog.jsonb_array_elements_text(chk -> 'cols') c;
    SELECT pg_catalog.string_agg(pg_catalog.format('%s = %s', k,
               CASE WHEN seen IS NULL OR NOT seen ? k THEN 'NULL (absent)' ELSE insforge._explain_literal(seen ->> k) END), ', ')
      INTO claim_vals
      FROM pg_catalog.jsonb_array_elements_text(chk -> 'claims') k
     WHERE k <> 'sub' OR chk ->> 'uidcol' IS NULL;
    IF chk ->> 'expr' IS NULL THEN
        outcome := CASE WHEN (chk ->> 'permissive')::boolean THEN ': it grants nothing here' ELSE ': it restricts nothing here' END;
        reason := pol || ' has no USING expression';
    ELSIF err LIKE '25006:%' THEN
        outcome := ' tries to write (' || err || '): explain_access() evaluates policies read-only, so it cannot tell the result';
        reason := pg_catalog.format('%s tries to write (%s), which explain_access() does not let a policy do', pol, err);
    ELSIF err IS NOT NULL THEN
        outcome := ' raises ' || err;
        reason := pg_catalog.format('%s raises %s', pol, err);
    ELSIF admitted IS NULL THEN
        outcome := ': not evaluated';
    ELSIF one_row THEN
        outcome := CASE WHEN admitted > 0 THEN ' is true' ELSE ' is false' END
                   || CASE WHEN vals IS NOT NULL AND row_values IS NOT NULL THEN ' for ' || vals ELSE '' END;
    ELSE
        outcome := pg_catalog.format(' admits %s of %s rows', admitted, total);
    END IF;
    IF reason IS NULL THEN
        IF chk ->> 'uidcol' IS NOT NULL THEN
            reason := CASE WHEN one_row AND row_values IS NOT NULL
                           THEN pg_catalog.format('%s compares %s %s with %s = %s', pol, pg_catalog.quote_ident(chk ->> 'uidcol'),
                                                  insforge._explain_literal(row_values ->> (chk ->> 'uidcol')), chk ->> 'uidfn',
                                                  insforge._explain_literal(uid))
                           ELSE pg_catalog.format('%s compares %s with %s = %s', pol, pg_catalog.quote_ident(chk ->> 'uidcol'), chk ->> 'uidfn',
                                                  insforge._explain_literal(uid)) END;
        ELSIF one_row THEN
            reason := pol || ' is false' || CASE WHEN vals IS NOT NULL AND row_values IS NOT NULL THEN ' for ' || vals ELSE '' END;
        ELSE
            reason := pol || ' admits no row';
        END IF;
        IF claim_vals IS NOT NULL THEN
            reason := reason || ' (claims: ' || claim_vals || ')';
        END IF;
    END IF;
    RETURN pg_catalog.jsonb_build_object('reason', reason,
        'detail', (chk ->> 'label') || ': ' || clause || outcome
                  || CASE WHEN claim_vals IS NOT NULL AND chk ->> 'expr' IS NOT NULL THEN '; claims read: ' || claim_vals ELSE '' END
                  || CASE WHEN chk ->> 'uidcol' IS NOT NULL AND chk ->> 'expr' IS NOT NULL
                          THEN pg_catalog.format('; %s = %s', chk ->> 'uidfn', insforge._explain_literal(uid)) ELSE '' END
                  || role_note);
END
$fn$;
REVOKE ALL ON FUNCTION insforge._explain_check(jsonb, text, boolean, bigint, bigint, text, jsonb, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION insforge._explain_check(jsonb, text, boolean, bigint, bigint, text, jsonb, text, jsonb) IS
'Internal (insforge.explain_access()): the detail line of one policy check and the reason it gives when it fails.';

-- Internal: why a side ('old' rows, 'new' row) of one group (the command's policies, or
-- SELECT's) admits nothing: no permissive policy applies, none passed, or a restrictive
-- one failed. `checks` carry their "reason" and "passed" (explain_access()'s checks after
-- evaluation); `counts` the rows each "<side>:<group>:perm|full" condition admitted.
CREATE FUNCTION insforge._explain_denial(side text, grp text, role name, checks jsonb, counts jsonb, keyed boolean)
    RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    mine jsonb;
    perm_reasons text;
    restr_reasons text;
    for_others text;
BEGIN
    SELECT coalesce(pg_catalog.jsonb_agg(c), '[]') INTO mine
      FROM pg_catalog.jsonb_array_elements(checks) c
     WHERE c ->> 'on' = side AND c -> 'groups' ? grp;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(mine) c
                    WHERE (c ->> 'permissive')::boolean AND c ->> 'expr' IS NOT NULL) THEN
        -- Policies that are not for this role (explain_access() passes them with "why": "role").
        SELECT pg_catalog.string_agg(DISTINCT c ->> 'roles', ', ') INTO for_others
          FROM pg_catalog.jsonb_array_elements(checks) c
         WHERE c ->> 'why' = 'role' AND c ->> 'forcmd' IN (grp, 'ALL') AND (c ->> 'permissive')::boolean;
        RETURN pg_catalog.format('no permissive %s policy applies to %s', grp, pg_catalog.quote_ident(role))
               || CASE WHEN for_others IS NOT NULL THEN pg_catalog.format(' (they are for %s)', for_others) ELSE '' END;
    END IF;
    IF coalesce((counts ->> (side || ':' || grp || ':perm'))::bigint, 0) = 0 THEN
        SELECT pg_catalog.string_agg(c ->> 'reason', '; ') INTO perm_reasons
          FROM pg_catalog.jsonb_array_elements(mine) c
         WHERE (c ->> 'permissive')::boolean AND c ->> 'expr' IS NOT NULL;
        RETURN pg_catalog.format('no permissive %s policy %s: %s', grp,
                                 CASE WHEN keyed OR side = 'new' THEN 'passed' ELSE 'admits a row' END, perm_reasons);
    END IF;
    SELECT pg_catalog.string_agg(c ->> 'reason', '; ') INTO restr_reasons
      FROM pg_catalog.jsonb_array_elements(mine) c
     WHERE NOT (c ->> 'permissive')::boolean AND c ->> 'expr' IS NOT NULL AND (c ->> 'passed')::boolean IS NOT TRUE;
    IF restr_reasons IS NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c ->> 'policy'), ', ') INTO restr_reasons
          FROM pg_catalog.jsonb_array_elements(mine) c
         WHERE NOT (c ->> 'permissive')::boolean AND c ->> 'expr' IS NOT NULL;
        RETURN pg_catalog.format('the restrictive %s policies (%s) reject every row the permissive ones admit', grp, restr_reasons);
    END IF;
    RETURN pg_catalog.format('a restrictive %s policy failed: %s', grp, restr_reasons);
END
$fn$;
REVOKE ALL ON FUNCTION insforge._explain_denial(text, text, name, jsonb, jsonb, boolean) FROM PUBLIC;
COMMENT ON FUNCTION insforge._explain_denial(text, text, name, jsonb, jsonb, boolean) IS
'Internal (insforge.explain_access()): why one command''s policies (or SELECT''s) admit nothing on the existing rows or the new row.';

-- Internal: the verdict of insforge.explain_access(): (outcome, verdict), outcome one of
-- allowed, denied, error, not found. `checks` carry "reason", "passed", "admitted" and
-- "error" after evaluation; `counts` the rows each "<side>:<group>:perm|full" condition
-- admitted; `reach` the rows (or new row) the command reaches, `pass` those it completes
-- (UPDATE: whose new version passes; INSERT: with RETURNING).
CREATE FUNCTION insforge._explain_verdict(cmd text, qualname text, relname text, role name, rls boolean, why_not text,
                                          priv boolean, sel_priv boolean, keyed boolean, found_rows bigint, keytext text,
                                          total bigint, reach bigint, pass bigint, checks jsonb, counts jsonb,
                                          real_count bigint, real_error text, failed boolean,
                                          OUT outcome text, OUT verdict text)
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    errs text;
    blocker text;
    passing text;
    g text;
    violation text := pg_catalog.format('42501, new row violates row-level security policy for table "%s"', relname);
    who text := coalesce(pg_catalog.quote_ident(role), 'NULL');
BEGIN
    IF keyed AND coalesce(found_rows, 0) = 0 THEN
        outcome := 'not found';
        verdict := pg_catalog.format('no row of %s has %s (as %s sees the table)', qualname, keytext, pg_catalog.quote_ident(current_user));
        RETURN;
    END IF;
    IF NOT priv THEN
        outcome := 'denied';
        verdict := pg_catalog.format('%s lacks %s on %s: the %s fails (42501, permission denied for table %s) before any policy',
                                     who, cmd, qualname, cmd, relname);
        RETURN;
    END IF;
    IF NOT sel_priv THEN
        outcome := 'denied';
        verdict := pg_catalog.format('%s lacks SELECT on %s: %s with a WHERE or RETURNING (PostgREST''s filters) fails (42501, permission denied for table %s)',
                                     who, qualname, CASE cmd WHEN 'UPDATE' THEN 'an UPDATE' ELSE 'a DELETE' END, relname);
        RETURN;
    END IF;
    IF NOT rls THEN
        outcome := 'allowed';
        verdict := CASE WHEN cmd = 'INSERT' THEN 'the new row is accepted'
                        WHEN keyed AND cmd = 'SELECT' THEN 'the row is visible'
                        WHEN keyed THEN pg_catalog.format('the %s reaches the row', cmd)
                        WHEN cmd = 'SELECT' THEN pg_catalog.format('%s sees every row (%s)', who, total)
                        ELSE pg_catalog.format('the %s reaches every row (%s)', cmd, total) END
                   || ': no policy applies, as ' || why_not;
        RETURN;
    END IF;
    IF failed THEN
        SELECT pg_catalog.string_agg(c ->> 'reason', '; ') INTO errs
          FROM pg_catalog.jsonb_array_elements(checks) c WHERE (c ->> 'error')::boolean;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(checks) c
                        WHERE (c ->> 'error')::boolean AND c ->> 'reason' NOT LIKE '% tries to write (25006:%') THEN
            outcome := 'error';
            verdict := pg_catalog.format('explain_access() cannot tell: %s', errs);
        ELSIF cmd = 'SELECT' AND real_error IS NOT NULL THEN
            outcome := 'error';
            verdict := pg_catalog.format('the SELECT fails with %s (%s)', real_error, errs);
        ELSIF cmd = 'SELECT' AND real_count IS NOT NULL THEN
            outcome := CASE WHEN real_count > 0 THEN 'allowed' ELSE 'denied' END;
            verdict := pg_catalog.format('PostgreSQL returns %s %s without an error, but %s: whether the error surfaces depends on the order PostgreSQL evaluates the policies in for each row',
                                         real_count, CASE WHEN real_count = 1 THEN 'row' ELSE 'rows' END, errs);
        ELSE
            outcome := 'error';
            verdict := pg_catalog.format('the %s fails, or may fail (PostgreSQL stops at the first permissive policy that passes): %s', cmd, errs);
        END IF;
        RETURN;
    END IF;
    IF cmd = 'INSERT' THEN
        IF coalesce(reach, 0) = 0 THEN
            outcome := 'denied';
            verdict := 'the INSERT fails (' || violation || '): '
                       || insforge._explain_denial('new', 'INSERT', role, checks, counts, true);
        ELSE
            outcome := 'allowed';
            SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c ->> 'policy') || ' passes', ', ') INTO passing
              FROM pg_catalog.jsonb_array_elements(checks) c
             WHERE c -> 'groups' ? 'INSERT' AND (c ->> 'permissive')::boolean AND (c ->> 'passed')::boolean;
            verdict := 'the new row is accepted: ' || coalesce(passing, 'every policy passes')
                       || CASE WHEN coalesce(pass, 0) = 0
                               THEN '; but with RETURNING (.select(), Prefer: return=representation) it fails (' || violation || '): '
                                    || insforge._explain_denial('new', 'SELECT', role, checks, counts, true)
                               ELSE '; with RETURNING too' END;
        END IF;
        RETURN;
    END IF;
    IF coalesce(reach, 0) = 0 THEN
        FOREACH g IN ARRAY CASE WHEN cmd = 'SELECT' THEN ARRAY['SELECT'] ELSE ARRAY[cmd, 'SELECT'] END LOOP
            IF coalesce((counts ->> ('old:' || g || ':full'))::bigint, 0) = 0 THEN
                blocker := g;
                EXIT;
            END IF;
        END LOOP;
        outcome := 'denied';
        verdict := CASE WHEN blocker IS NOT NULL THEN insforge._explain_denial('old', blocker, role, checks, counts, keyed)
                        ELSE pg_catalog.format('the %s policies and the SELECT policies admit different rows, and none admits a row both do', cmd) END;
        verdict := CASE WHEN cmd = 'SELECT' AND keyed THEN verdict
                        WHEN cmd = 'SELECT' THEN pg_catalog.format('%s sees 0 of %s rows: %s', who, total, verdict)
                        ELSE pg_catalog.format('the %s %s nothing, without an error: %s', cmd,
                                               CASE cmd WHEN 'UPDATE' THEN 'changes' ELSE 'deletes' END, verdict) END;
        IF keyed AND cmd = 'SELECT' AND coalesce(real_count, 0) > 0 THEN
            verdict := verdict || pg_catalog.format(' (but PostgreSQL, asked directly, returns %s rows: a policy''s result changed between evaluations)', real_count);
        END IF;
        RETURN;
    END IF;
    IF cmd = 'UPDATE' AND coalesce(pass, 0) < reach THEN
        FOREACH g IN ARRAY ARRAY['UPDATE', 'SELECT'] LOOP
            IF coalesce((counts ->> ('new:' || g || ':full'))::bigint, 0) < reach THEN
                blocker := g;
                EXIT;
            END IF;
        END LOOP;
        outcome := 'denied';
        verdict := CASE WHEN keyed THEN 'the UPDATE reaches the row but fails (' || violation || ')'
                        ELSE pg_catalog.format('the UPDATE fails (%s): %s of the %s rows it reaches would not pass', violation, reach - pass, reach) END
                   || ': ' || insforge._explain_denial('new', coalesce(blocker, 'UPDATE'), role, checks, counts, true);
        RETURN;
    END IF;
    outcome := 'allowed';
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c ->> 'policy')
                                 || CASE WHEN keyed THEN ' passes' ELSE ' admits ' || (c ->> 'admitted') END, ', ')
      INTO passing
      FROM pg_catalog.jsonb_array_elements(checks) c
     WHERE c ->> 'on' = 'old' AND c -> 'groups' ? cmd AND (c ->> 'permissive')::boolean AND (c ->> 'passed')::boolean;
    -- Restrictive policies that narrowed what the permissive ones admit.
    IF NOT keyed AND coalesce((counts ->> ('old:' || cmd || ':full'))::bigint, 0)
                     < coalesce((counts ->> ('old:' || cmd || ':perm'))::bigint, 0) THEN
        SELECT passing || pg_catalog.format('; the restrictive %s %s', pg_catalog.string_agg(pg_catalog.quote_ident(c ->> 'policy'), ', '),
                                            CASE WHEN pg_catalog.count(*) = 1 THEN 'leaves ' ELSE 'leave ' END
                                            || (counts ->> ('old:' || cmd || ':full')))
          INTO passing
          FROM pg_catalog.jsonb_array_elements(checks) c
         WHERE c ->> 'on' = 'old' AND c -> 'groups' ? cmd AND NOT (c ->> 'permissive')::boolean AND c ->> 'expr' IS NOT NULL;
    END IF;
    verdict := CASE WHEN cmd = 'SELECT' AND keyed THEN 'the row is visible: ' || passing
                    WHEN cmd = 'SELECT' THEN pg_catalog.format('%s sees %s of %s rows: %s', who, reach, total, passing)
                    WHEN keyed THEN pg_catalog.format('the %s %s the row: %s', cmd,
                                                      CASE cmd WHEN 'UPDATE' THEN 'changes' ELSE 'deletes' END, passing)
                    ELSE pg_catalog.format('the %s %s %s of %s rows: %s', cmd,
                                           CASE cmd WHEN 'UPDATE' THEN 'changes' ELSE 'deletes' END, reach, total, passing) END;

    IF keyed AND cmd = 'SELECT' AND real_count IS NOT NULL AND (real_count > 0) <> (outcome = 'allowed') THEN
        verdict := verdict || pg_catalog.format(' (but PostgreSQL, asked directly, returns %s rows: a policy''s result changed between evaluations)', real_count);
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION insforge._explain_verdict(text, text, text, name, boolean, text, boolean, boolean, boolean, bigint, text, bigint, bigint, bigint, jsonb, jsonb, bigint, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION insforge._explain_verdict(text, text, text, name, boolean, text, boolean, boolean, boolean, bigint, text, bigint, bigint, bigint, jsonb, jsonb, bigint, text, boolean) IS
'Internal (insforge.explain_access()): the verdict line, allowed, denied, error or not found, with its reason.';

CREATE FUNCTION insforge.explain_access(
    target regclass,
    claims jsonb DEFAULT NULL,
    command text DEFAULT 'SELECT',
    row_key jsonb DEFAULT NULL,
    new_row jsonb DEFAULT NULL,
    token text DEFAULT NULL)
    RETURNS TABLE(kind text, name text, applies boolean, result text, rows bigint, claims_read jsonb, detail text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
#variable_conflict use_column
DECLARE
    v_cmd text := pg_catalog.upper(pg_catalog.btrim(command));
    v_polcmd "char";
    v_rel record;
    v_qualname text;
    v_alias text;
    v_col record;
    v_key text;
    v_keycond text := '';
    v_keytext text := '';
    v_found bigint;
    v_row jsonb;               -- the keyed row, column -> text output
    v_newdisp jsonb;           -- the new row as the messages show it
    v_total bigint;            -- the rows in scope
    v_caller_rls boolean;
    v_acting jsonb;            -- the claims insforge._act_as() set (with the role)
    v_role name;
    v_role_oid oid;
    v_seen jsonb;              -- insforge.jwt() as the client sees it
    v_uid text;
    v_uid_error text;
    v_verified_mode boolean;
    v_bypass boolean;
    v_owns boolean;
    v_rls boolean;             -- RLS applies to this request
    v_why_not text;
    v_priv boolean;
    v_sel_priv boolean;
    v_pol record;
    v_label text;
    v_checks jsonb := '[]';
    v_others jsonb := '[]';
    v_c jsonb;
    v_i integer;
    v_n integer;
    v_groups text[];
    v_old_groups text[];
    v_new_groups text[];
    v_side text;
    v_grp text;
    v_marked text;
    v_eval_on text[] := '{}';
    v_eval_expr text[] := '{}';
    v_neval integer;
    v_idx integer;
    v_perm text;
    v_restr text;
    v_slot text[] := '{}';
    v_slot_sql text[] := '{}';
    v_reach_sql text;
    v_pass_sql text;
    v_sql_all text;
    v_sql_each text[];
    v_sql_count text;
    v_sql_real text;
    v_param jsonb;
    v_res bigint[];
    v_counts jsonb;
    v_true bigint[];
    v_err text[];
    v_reach bigint;
    v_pass bigint;
    v_failed boolean := false;
    v_real bigint;
    v_real_error text;
    v_needed text[] := '{}';
    v_defaults jsonb := '{}';
    v_default_rows jsonb := '[]';
    v_d record;
    v_val jsonb;
    v_vname text;
    v_texts jsonb;
    v_outcome text;
    v_verdict text;
    v_mcv text;
BEGIN
    PERFORM insforge._require_operator('insforge.explain_access()');

    -- 1. The arguments (22023, 42P01, 42501), before anything runs.
    IF target IS NULL THEN
        RAISE EXCEPTION 'insforge.explain_access(): target must be a table, not NULL' USING ERRCODE = '22023';
    END IF;
    IF v_cmd IS NULL OR v_cmd NOT IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE') THEN
        RAISE EXCEPTION 'insforge.explain_access(): unknown command %', coalesce(pg_catalog.quote_literal(command), 'NULL')
            USING ERRCODE = '22023', HINT = 'command is one of SELECT, INSERT, UPDATE, DELETE.';
    END IF;
    v_polcmd := CASE v_cmd WHEN 'SELECT' THEN 'r' WHEN 'INSERT' THEN 'a' WHEN 'UPDATE' THEN 'w' ELSE 'd' END;
    SELECT c.oid, n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relowner
      INTO v_rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insforge.explain_access(): relation with OID % does not exist', target::oid USING ERRCODE = '42P01';
    END IF;
    v_qualname := pg_catalog.format('%I.%I', v_rel.nspname, v_rel.relname);
    v_alias := pg_catalog.quote_ident(v_rel.relname);
    IF v_rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'insforge.explain_access(): % is not a table (row-level security applies to tables)', v_qualname
            USING ERRCODE = '22023', HINT = 'Explain the tables it reads.';
    END IF;
    IF row_key IS NOT NULL THEN
        IF v_cmd = 'INSERT' THEN
            RAISE EXCEPTION 'insforge.explain_access(): INSERT takes new_row, not row_key' USING ERRCODE = '22023';
        END IF;
        IF pg_catalog.jsonb_typeof(row_key) <> 'object' OR row_key = '{}' THEN
            RAISE EXCEPTION 'insforge.explain_access(): row_key must be a JSON object of column values, e.g. {"id": 42}'
                USING ERRCODE = '22023';
        END IF;
    END IF;
    IF new_row IS NOT NULL THEN
        IF v_cmd IN ('SELECT', 'DELETE') THEN
            RAISE EXCEPTION 'insforge.explain_access(): % takes no new_row (INSERT and UPDATE write one)', v_cmd USING ERRCODE = '22023';
        END IF;
        IF pg_catalog.jsonb_typeof(new_row) <> 'object' THEN
            RAISE EXCEPTION 'insforge.explain_access(): new_row must be a JSON object of column values' USING ERRCODE = '22023';
        END IF;
    END IF;
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(coalesce(row_key, '{}') || coalesce(new_row, '{}')) k LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = target AND a.attname = v_key AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'insforge.explain_access(): % has no column %', v_qualname, pg_catalog.quote_ident(v_key)
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF NOT pg_catalog.has_table_privilege(target, 'SELECT') THEN
        RAISE EXCEPTION 'insforge.explain_access() reads % as its caller, and % may not read it', v_qualname, current_user
            USING ERRCODE = '42501', HINT = 'Run it as project_admin or as the table''s owner.';
    END IF;

    -- 2. The request: the role and claims insforge._act_as() sets, and what the identity
    --    functions then see, in a subtransaction rolled back at once. Its errors (42501,
    --    42704, 22023, 28000 for a token that fails verification) reach the caller.
    BEGIN
        v_acting := insforge._act_as(claims, token);
        v_role := current_user;
        v_seen := insforge.jwt();
        BEGIN
            v_uid := insforge.requesting_user_id();
        EXCEPTION WHEN OTHERS THEN
            v_uid_error := pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE);
        END;
        RAISE EXCEPTION USING ERRCODE = 'IFX00';
    EXCEPTION WHEN SQLSTATE 'IFX00' THEN
        NULL;
    END;
    v_role_oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = v_role);
    v_verified_mode := coalesce(pg_catalog.current_setting('insforge_integrations.claims_source', true), '') = 'verified';

    -- 3. Whether RLS applies to the request, and the privileges.
    v_bypass := (SELECT r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.oid = v_role_oid);
    v_owns := pg_catalog.pg_has_role(v_role_oid, v_rel.relowner, 'USAGE');
    IF NOT v_rel.relrowsecurity THEN
        v_why_not := pg_catalog.format('RLS is disabled on %s', v_qualname);
    ELSIF v_bypass THEN
        v_why_not := pg_catalog.format('%I has BYPASSRLS', v_role);
    ELSIF v_owns AND NOT v_rel.relforcerowsecurity THEN
        v_why_not := pg_catalog.format('%I owns %s (has its owner''s privileges) and RLS is not forced', v_role, v_qualname);
    END IF;
    v_rls := v_why_not IS NULL;
    v_priv := pg_catalog.has_table_privilege(v_role_oid, target, v_cmd);
    v_sel_priv := v_cmd NOT IN ('UPDATE', 'DELETE') OR pg_catalog.has_table_privilege(v_role_oid, target, 'SELECT');
    v_caller_rls := pg_catalog.row_security_active(target);

    -- 4. The keyed row, read as the caller. Key values are compared as the column's base
    --    type when that is a built-in scalar type or an enum (input functions are C), and
    --    as the column's text output otherwise: no cast or domain check of the project's
    --    runs with the caller's rights. Values are shown by their output functions.
    IF row_key IS NOT NULL THEN
        FOR v_col IN
            SELECT a.attname, k.value AS val, b.oid AS base, b.typtype, b.typelem, e.typtype AS elemtype
              FROM pg_catalog.jsonb_each(row_key) k
              JOIN pg_catalog.pg_attribute a ON a.attrelid = target AND a.attname = k.key
              CROSS JOIN LATERAL (
                    WITH RECURSIVE t(oid, depth) AS (
                        SELECT a.atttypid, 0
                        UNION ALL
                        SELECT ty.typbasetype, t.depth + 1 FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
                         WHERE ty.typtype = 'd' AND t.depth < 32)
                    SELECT ty.oid, ty.typtype, ty.typelem FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid
                     WHERE ty.typtype <> 'd' LIMIT 1) b
              LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typelem <> 0
             ORDER BY a.attnum
        LOOP
            v_keycond := v_keycond || CASE WHEN v_keycond = '' THEN '' ELSE ' AND ' END
                || CASE WHEN pg_catalog.jsonb_typeof(v_col.val) = 'null'
                        THEN pg_catalog.format('%s.%I IS NULL', v_alias, v_col.attname)
                        WHEN v_col.typtype IN ('b', 'e') AND v_col.base < 16384
                             AND (v_col.typelem = 0 OR v_col.elemtype IN ('b', 'e'))
                        THEN pg_catalog.format('%s.%I = %L::%s', v_alias, v_col.attname, v_col.val #>> '{}',
                                               pg_catalog.format_type(v_col.base, NULL))
                        ELSE pg_catalog.format('pg_catalog.format(''%%s'', %s.%I) = %L', v_alias, v_col.attname, v_col.val #>> '{}')
                   END;
            v_keytext := v_keytext || CASE WHEN v_keytext = '' THEN '' ELSE ', ' END
                || pg_catalog.format('%I = %s', v_col.attname,
                                     CASE WHEN pg_catalog.jsonb_typeof(v_col.val) = 'null' THEN 'NULL'
                                          ELSE pg_catalog.quote_literal(v_col.val #>> '{}') END);
        END LOOP;
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM (SELECT 1 FROM %s AS %s WHERE %s LIMIT 2) x',
                                  v_qualname, v_alias, v_keycond) INTO v_found;
        IF v_found > 1 THEN
            RAISE EXCEPTION 'insforge.explain_access(): row_key (%) matches more than one row of %', v_keytext, v_qualname
                USING ERRCODE = '22023', HINT = 'Give the row''s primary key.';
        END IF;
        IF v_found = 1 THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.jsonb_build_object(%s) FROM %s AS %s WHERE %s',
                       (SELECT pg_catalog.string_agg(pg_catalog.format(
                                   '%L, CASE WHEN %s.%I IS NULL THEN NULL ELSE pg_catalog.format(''%%s'', %s.%I) END',
                                   a.attname, v_alias, a.attname, v_alias, a.attname), ', ' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped),
                       v_qualname, v_alias, v_keycond)
               INTO v_row;
        END IF;
    END IF;
    -- The new row as messages show it: the row with new_row's values (INSERT: defaults added below).
    v_newdisp := coalesce(v_row, '{}') || coalesce((SELECT pg_catalog.jsonb_object_agg(k, v #>> '{}')
                                                      FROM pg_catalog.jsonb_each(new_row) x(k, v)), '{}');

    -- 5. The checks: every policy on the table, and what it contributes to this command:
    --    USING on the existing rows (the command's and, for UPDATE and DELETE, SELECT's),
    --    and on the new row its WITH CHECK (or USING) and SELECT's USING.
    v_old_groups := CASE v_cmd WHEN 'SELECT' THEN ARRAY['SELECT'] WHEN 'INSERT' THEN '{}'::text[] ELSE ARRAY[v_cmd, 'SELECT'] END;
    v_new_groups := CASE v_cmd WHEN 'INSERT' THEN ARRAY['INSERT', 'SELECT'] WHEN 'UPDATE' THEN ARRAY['UPDATE', 'SELECT']
                               ELSE '{}'::text[] END;
    FOR v_pol IN
        SELECT p.polname::text AS polname, p.polcmd, p.polpermissive,
               pg_catalog.regexp_replace(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '\s+', ' ', 'g') AS qual,
               pg_catalog.regexp_replace(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '\s+', ' ', 'g') AS wcheck,
               (0::oid = ANY (p.polroles) OR EXISTS (
                    SELECT 1 FROM pg_catalog.unnest(p.polroles) x
                     WHERE x <> 0 AND pg_catalog.pg_has_role(v_role_oid, x, 'USAGE'))) AS for_role,
               pg_catalog.array_to_string(ARRAY(
                    SELECT CASE WHEN x = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x)) END
                      FROM pg_catalog.unnest(p.polroles) x ORDER BY 1), ', ') AS roles,
               CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                             WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS forcmd,
               ARRAY(SELECT a.attname::text
                       FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = p.polrelid AND a.attnum > 0 AND EXISTS (
                            SELECT 1 FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = p.oid
                               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                               AND d.refobjid = p.polrelid AND d.refobjsubid = a.attnum)
                      ORDER BY a.attnum) AS cols
          FROM pg_catalog.pg_policy p
         WHERE p.polrelid = target
         ORDER BY p.polname
    LOOP
        v_label := pg_catalog.format('%s, FOR %s TO %s', CASE WHEN v_pol.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                                     v_pol.forcmd, v_pol.roles);
        IF NOT v_rls THEN
            v_others := v_others || pg_catalog.jsonb_build_object('policy', v_pol.polname, 'why', 'rls',
                'detail', pg_catalog.format('%s: not applied, as %s', v_label, v_why_not));
            CONTINUE;
        ELSIF NOT v_pol.for_role THEN
            v_others := v_others || pg_catalog.jsonb_build_object('policy', v_pol.polname, 'why', 'role',
                'forcmd', v_pol.forcmd, 'roles', v_pol.roles, 'permissive', v_pol.polpermissive,
                'detail', pg_catalog.format('%s: not for %I (it is not %s and has not its privileges)', v_label, v_role, v_pol.roles));
            CONTINUE;
        ELSIF v_pol.polcmd NOT IN ('*', v_polcmd) AND NOT (v_pol.polcmd = 'r' AND v_cmd <> 'SELECT') THEN
            v_others := v_others || pg_catalog.jsonb_build_object('policy', v_pol.polname, 'why', 'command',
                'detail', pg_catalog.format('%s: not for %s', v_label, v_cmd));
            CONTINUE;
        END IF;
        v_groups := ARRAY(SELECT g FROM pg_catalog.unnest(v_old_groups) g
                           WHERE (g = v_cmd AND v_pol.polcmd IN ('*', v_polcmd)) OR (g = 'SELECT' AND v_pol.polcmd IN ('*', 'r')));
        IF v_cmd <> 'INSERT' THEN
            v_checks := v_checks || pg_catalog.jsonb_build_object(
                'policy', v_pol.polname, 'kind', 'USING', 'on', 'old', 'groups', pg_catalog.to_jsonb(v_groups),
                'permissive', v_pol.polpermissive, 'expr', v_pol.qual, 'fallback', false, 'label', v_label,
                'cols', pg_catalog.to_jsonb(v_pol.cols));
        END IF;
        IF v_cmd IN ('INSERT', 'UPDATE') AND v_pol.polcmd IN ('*', v_polcmd) THEN
            v_checks := v_checks || pg_catalog.jsonb_build_object(
                'policy', v_pol.polname, 'kind', 'WITH CHECK', 'on', 'new', 'groups', pg_catalog.jsonb_build_array(v_cmd),
                'permissive', v_pol.polpermissive, 'expr', coalesce(v_pol.wcheck, v_pol.qual),
                'fallback', v_pol.wcheck IS NULL AND v_pol.qual IS NOT NULL, 'label', v_label,
                'cols', pg_catalog.to_jsonb(v_pol.cols));
        END IF;
        IF v_cmd IN ('INSERT', 'UPDATE') AND v_pol.polcmd IN ('*', 'r') THEN
            v_checks := v_checks || pg_catalog.jsonb_build_object(
                'policy', v_pol.polname, 'kind', 'WITH CHECK', 'on', 'new', 'groups', '["SELECT"]'::jsonb,
                'permissive', v_pol.polpermissive, 'expr', v_pol.qual, 'fallback', false, 'label', v_label,
                'selectcheck', true, 'cols', pg_catalog.to_jsonb(v_pol.cols));
        END IF;
    END LOOP;

    -- Per check: its evaluation column (one per distinct side and expression), the claims
    -- it reads and the column it compares with the requesting user (the advisor's readings
    -- of the expression, sql/advisor/common.sql).
    v_n := pg_catalog.jsonb_array_length(v_checks);
    FOR v_i IN 0 .. v_n - 1 LOOP
        v_c := v_checks -> v_i;
        CONTINUE WHEN v_c ->> 'expr' IS NULL;
        v_idx := NULL;
        FOR v_neval IN 1 .. coalesce(pg_catalog.array_length(v_eval_expr, 1), 0) LOOP
            IF v_eval_on[v_neval] = v_c ->> 'on' AND v_eval_expr[v_neval] = v_c ->> 'expr' THEN
                v_idx := v_neval;
            END IF;
        END LOOP;
        IF v_idx IS NULL THEN
            v_eval_on := v_eval_on || (v_c ->> 'on');
            v_eval_expr := v_eval_expr || (v_c ->> 'expr');
            v_idx := pg_catalog.array_length(v_eval_expr, 1);
        END IF;
        v_marked := insforge.advisor_mark_uid(v_c ->> 'expr');
        v_c := v_c || pg_catalog.jsonb_build_object(
            'col', v_idx,
            'claims', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT k FROM pg_catalog.unnest(
                          coalesce(insforge.advisor_claims_read(v_c ->> 'expr'), '{}')
                          || CASE WHEN v_marked ~ '__(uid|authuid)__' THEN ARRAY['sub'] ELSE '{}'::text[] END) k ORDER BY 1)),
            -- the owner column, when the whole expression is `column = requesting user` (casts and
            -- parentheses aside): then a failure is that comparison, and its values say why
            'uidcol', (SELECT c FROM pg_catalog.jsonb_array_elements_text(v_c -> 'cols') c
                        WHERE insforge.advisor_uid_comparison(v_marked, pg_catalog.quote_ident(c), '{__uid__,__authuid__}') IS NOT NULL
                          AND pg_catalog.regexp_replace(pg_catalog.regexp_replace(v_marked, '::[a-z ]+', '', 'g'), '[()[:space:]]', '', 'g')
                              IN (SELECT pg_catalog.regexp_replace(x, '[()[:space:]]', '', 'g')
                                    FROM pg_catalog.unnest(ARRAY[pg_catalog.quote_ident(c) || '=__uid__', '__uid__=' || pg_catalog.quote_ident(c),
                                                                 pg_catalog.quote_ident(c) || '=__authuid__', '__authuid__=' || pg_catalog.quote_ident(c)]) x)
                        LIMIT 1),
            'uidfn', CASE WHEN v_marked ~ '__authuid__' AND v_marked !~ '__uid__' THEN 'auth.uid()'
                          WHEN (v_c ->> 'expr') ~ 'requesting_user_id\(\)' THEN 'requesting_user_id()'
                          ELSE 'the subject (sub)' END);
        IF v_cmd = 'INSERT' THEN
            v_needed := v_needed || ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v_c -> 'cols'));
        END IF;
        v_checks := pg_catalog.jsonb_set(v_checks, ARRAY[v_i::text], v_c);
    END LOOP;
    v_neval := coalesce(pg_catalog.array_length(v_eval_expr, 1), 0);

    -- The combined decision per side and group, as PostgreSQL forms it: (any permissive)
    -- AND (every restrictive); no permissive policy: false.
    FOREACH v_side IN ARRAY ARRAY['old', 'new'] LOOP
        FOREACH v_grp IN ARRAY CASE v_side WHEN 'old' THEN v_old_groups ELSE v_new_groups END LOOP
            SELECT coalesce(pg_catalog.string_agg(DISTINCT pg_catalog.format('%I IS TRUE', 'insforge_explain_' || (c ->> 'col')), ' OR ')
                                FILTER (WHERE (c ->> 'permissive')::boolean), 'false'),
                   coalesce(pg_catalog.string_agg(DISTINCT pg_catalog.format('%I IS TRUE', 'insforge_explain_' || (c ->> 'col')), ' AND ')
                                FILTER (WHERE NOT (c ->> 'permissive')::boolean), 'true')
              INTO v_perm, v_restr
              FROM pg_catalog.jsonb_array_elements(v_checks) c
             WHERE c ->> 'on' = v_side AND c ? 'col' AND c -> 'groups' ? v_grp;
            v_slot := v_slot || ARRAY[v_side || ':' || v_grp || ':perm', v_side || ':' || v_grp || ':full'];
            v_slot_sql := v_slot_sql || ARRAY['(' || v_perm || ')', '((' || v_perm || ') AND ' || v_restr || ')'];
        END LOOP;
    END LOOP;
    IF v_cmd = 'INSERT' THEN
        v_reach_sql := v_slot_sql[pg_catalog.array_position(v_slot, 'new:INSERT:full')];
        v_pass_sql := '(' || v_reach_sql || ' AND ' || v_slot_sql[pg_catalog.array_position(v_slot, 'new:SELECT:full')] || ')';
    ELSE
        v_reach_sql := '(' || (SELECT pg_catalog.string_agg(v_slot_sql[pg_catalog.array_position(v_slot, 'old:' || g || ':full')], ' AND ')
                                 FROM pg_catalog.unnest(v_old_groups) g) || ')';
        v_pass_sql := CASE WHEN v_cmd = 'UPDATE'
                           THEN '(' || v_reach_sql || ' AND ' || (SELECT pg_catalog.string_agg(v_slot_sql[pg_catalog.array_position(v_slot, 'new:' || g || ':full')], ' AND ')
                                                                  FROM pg_catalog.unnest(v_new_groups) g) || ')'
                           ELSE v_reach_sql END;
    END IF;
    -- The query texts, built now: the client may not execute insforge._explain_query().
    v_vname := 'insforge_explain_' || pg_catalog.pg_backend_pid()::text || '_' || (pg_catalog.random() * 1e9)::bigint::text;
    v_sql_all := insforge._explain_query(v_cmd, v_vname, v_qualname, v_alias, v_keycond, v_eval_on, v_eval_expr,
                                         v_slot_sql || ARRAY[v_reach_sql, v_pass_sql], NULL);
    v_sql_each := ARRAY(SELECT insforge._explain_query(v_cmd, v_vname, v_qualname, v_alias, v_keycond, v_eval_on, v_eval_expr, '{}', i)
                          FROM pg_catalog.generate_series(1, v_neval) i ORDER BY i);
    v_sql_real := pg_catalog.format('SELECT pg_catalog.count(*) FROM %s AS %s%s', v_qualname, v_alias,
                                    CASE WHEN v_keycond = '' THEN '' ELSE ' WHERE ' || v_keycond END);

    -- INSERT: the defaults of the columns the checks read and new_row leaves out.
    IF v_cmd = 'INSERT' AND v_rls THEN
        FOR v_d IN
            SELECT a.attname::text AS attname, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS expr,
                   a.attidentity <> '' AS ident, a.attgenerated <> '' AS gen
              FROM pg_catalog.pg_attribute a
              LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
               AND a.attname = ANY (v_needed) AND NOT (coalesce(new_row, '{}') ? a.attname)
             ORDER BY a.attnum
        LOOP
            v_default_rows := v_default_rows || pg_catalog.jsonb_build_object(
                'column', v_d.attname, 'expr', v_d.expr, 'identity', v_d.ident, 'generated', v_d.gen);
        END LOOP;
    END IF;

    -- 6. Evaluation, as the client, in a subtransaction that is always rolled back.
    v_true := pg_catalog.array_fill(NULL::bigint, ARRAY[v_neval]);
    v_err := pg_catalog.array_fill(NULL::text, ARRAY[v_neval]);
    IF NOT v_rls THEN
        IF row_key IS NULL AND v_cmd <> 'INSERT' THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s', v_qualname) INTO v_total;
        END IF;
    ELSE
        BEGIN
            IF v_cmd <> 'INSERT' THEN
                IF pg_catalog.current_setting('transaction_read_only')::boolean THEN
                    RAISE EXCEPTION 'insforge.explain_access() cannot run in a read-only transaction or on a standby'
                        USING ERRCODE = '25006',
                              HINT = 'It reads the table through a temporary view that it creates and rolls back; run it in a read-write transaction on the primary.';
                END IF;
                EXECUTE pg_catalog.format('CREATE VIEW pg_temp.%I AS SELECT * FROM %s', v_vname, v_qualname);
                EXECUTE pg_catalog.format('GRANT SELECT ON pg_temp.%I TO %I', v_vname, v_role);
            END IF;
            PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
            PERFORM insforge._act_as(claims, token);

            -- INSERT: the defaults, evaluated as the client.
            FOR v_i IN 0 .. pg_catalog.jsonb_array_length(v_default_rows) - 1 LOOP
                v_c := v_default_rows -> v_i;
                IF (v_c ->> 'identity')::boolean THEN
                    v_c := v_c || '{"result": "skipped", "note": "an identity column: its value comes from a sequence, which explain_access() does not draw"}';
                ELSIF (v_c ->> 'generated')::boolean THEN
                    v_c := v_c || '{"result": "skipped", "note": "a generated column, computed from the others: not evaluated"}';
                ELSIF v_c ->> 'expr' IS NULL THEN
                    v_c := v_c || '{"result": "info", "note": "no value given and no default: NULL"}';
                ELSE
                    BEGIN
                        EXECUTE 'SELECT pg_catalog.to_jsonb(' || (v_c ->> 'expr') || ')' INTO v_val;
                        v_defaults := v_defaults || pg_catalog.jsonb_build_object(v_c ->> 'column', v_val);
                        v_c := v_c || pg_catalog.jsonb_build_object('result', 'info', 'value', v_val);
                    EXCEPTION WHEN OTHERS THEN
                        v_c := v_c || pg_catalog.jsonb_build_object('result', 'error',
                            'note', pg_catalog.format('%s (SQLSTATE %s)', SQLERRM, SQLSTATE));
                    END;
                    IF current_user <> v_role THEN
                        RAISE EXCEPTION 'insforge.explain_access() stopped: the default of column % changed the role to %',
                            v_c ->> 'column', current_user USING ERRCODE = '42501';
                    END IF;
                END IF;
                v_default_rows := pg_catalog.jsonb_set(v_default_rows, ARRAY[v_i::text], v_c);
            END LOOP;
            v_param := CASE WHEN v_cmd = 'INSERT' THEN v_defaults || coalesce(new_row, '{}') ELSE coalesce(new_row, '{}') END;

            BEGIN
                EXECUTE v_sql_all INTO v_res USING v_param;
            EXCEPTION WHEN OTHERS THEN
                v_failed := true;
            END;
            IF current_user <> v_role THEN
                RAISE EXCEPTION 'insforge.explain_access() stopped: a policy function changed the role to %', current_user
                    USING ERRCODE = '42501';
            END IF;
            IF v_failed THEN
                -- One expression at a time, to say which fails and how.
                FOR v_i IN 1 .. v_neval LOOP
                    BEGIN
                        EXECUTE v_sql_each[v_i] INTO v_res USING v_param;
                        v_total := v_res[1];
                        v_true[v_i] := v_res[2];
                    EXCEPTION WHEN OTHERS THEN
                        v_err[v_i] := pg_catalog.format('%s: %s', SQLSTATE, SQLERRM);
                    END;
                    IF current_user <> v_role THEN
                        RAISE EXCEPTION 'insforge.explain_access() stopped: a policy function changed the role to %', current_user
                            USING ERRCODE = '42501';
                    END IF;
                END LOOP;
                v_res := NULL;
            ELSE
                v_total := v_res[1];
                v_true := v_res[2 : 1 + v_neval];
            END IF;

            -- SELECT: PostgreSQL's own answer when it is cheap (one row) or needed (an error).
            IF v_cmd = 'SELECT' AND (row_key IS NOT NULL OR v_failed) AND v_priv AND coalesce(v_found, 1) = 1 THEN
                BEGIN
                    EXECUTE v_sql_real INTO v_real;
                EXCEPTION WHEN OTHERS THEN
                    v_real_error := pg_catalog.format('%s: %s', SQLSTATE, SQLERRM);
                END;
                IF current_user <> v_role THEN
                    RAISE EXCEPTION 'insforge.explain_access() stopped: a policy function changed the role to %', current_user
                        USING ERRCODE = '42501';
                END IF;
            END IF;
            RAISE EXCEPTION USING ERRCODE = 'IFX00';
        EXCEPTION WHEN SQLSTATE 'IFX00' THEN
            NULL;
        END;
    END IF;
    IF row_key IS NOT NULL THEN
        v_total := coalesce(v_found, 0);
    ELSIF v_cmd = 'INSERT' THEN
        v_total := 1;
    END IF;
    IF v_cmd = 'INSERT' THEN
        v_newdisp := (SELECT pg_catalog.jsonb_object_agg(k, v #>> '{}') FROM pg_catalog.jsonb_each(v_defaults || coalesce(new_row, '{}')) x(k, v));
    END IF;
    IF v_res IS NOT NULL THEN
        v_counts := (SELECT pg_catalog.jsonb_object_agg(v_slot[i], v_res[1 + v_neval + i])
                       FROM pg_catalog.generate_series(1, pg_catalog.array_length(v_slot, 1)) i);
        v_reach := v_res[pg_catalog.array_length(v_res, 1) - 1];
        v_pass := v_res[pg_catalog.array_length(v_res, 1)];
    END IF;

    -- 7. The rows: the request, the table, the privileges, defaults, policies, the verdict.
    RETURN QUERY SELECT 'request'::text, v_role::text, NULL::boolean, 'info'::text, NULL::bigint, v_acting,
        pg_catalog.format('%s; role %I; %s',
            CASE WHEN token IS NOT NULL THEN 'a token, verified with the stored key'
                 WHEN claims IS NULL THEN 'no token: an anonymous request, as PostgREST runs one'
                 ELSE 'claims given by hand (not verified)' END,
            v_role,
            CASE WHEN v_verified_mode AND token IS NULL AND claims IS NOT NULL
                      THEN 'insforge_integrations.claims_source is verified, so claims given by hand give no identity: requesting_user_id() is NULL (pass the user''s token to explain a verified request)'
                 WHEN v_uid_error IS NOT NULL THEN 'requesting_user_id() raises ' || v_uid_error
                 ELSE 'requesting_user_id() = ' || insforge._explain_literal(v_uid) END);

    RETURN QUERY SELECT 'table'::text, v_qualname, NULL::boolean, 'info'::text,
        CASE WHEN row_key IS NULL AND v_cmd <> 'INSERT' THEN v_total END, NULL::jsonb,
        pg_catalog.format('RLS %s; owner %I; %s%s',
            CASE WHEN NOT v_rel.relrowsecurity THEN 'disabled'
                 WHEN v_rel.relforcerowsecurity THEN 'enabled and forced' ELSE 'enabled, not forced' END,
            pg_catalog.pg_get_userbyid(v_rel.relowner),
            CASE WHEN v_rls THEN pg_catalog.format('policies apply to %I (%s)', v_role,
                                     CASE WHEN v_owns THEN 'it has the owner''s privileges, but RLS is forced'
                                          ELSE 'not the owner, no BYPASSRLS' END)
                 ELSE 'no policy applies: ' || v_why_not END,
            CASE WHEN row_key IS NOT NULL AND v_found = 1 THEN pg_catalog.format('; the row with %s', v_keytext)
                 WHEN row_key IS NOT NULL THEN pg_catalog.format('; no row has %s', v_keytext)
                 WHEN v_caller_rls AND v_cmd <> 'INSERT'
                 THEN pg_catalog.format('; %I is itself subject to RLS on it, so the counts cover only the rows %I sees', current_user, current_user)
                 ELSE '' END);

    RETURN QUERY SELECT 'privilege'::text, v_cmd, NULL::boolean, CASE WHEN v_priv THEN 'pass' ELSE 'fail' END, NULL::bigint, NULL::jsonb,
        CASE WHEN v_priv THEN pg_catalog.format('%I holds %s on %s', v_role, v_cmd, v_qualname)
             WHEN pg_catalog.has_any_column_privilege(v_role_oid, target, v_cmd)
             THEN pg_catalog.format('%I holds %s on some columns of %s only: %s', v_role, v_cmd, v_qualname,
                      (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
                         FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
                          AND pg_catalog.has_column_privilege(v_role_oid, target, a.attnum, v_cmd)))
             ELSE pg_catalog.format('%I lacks %s on %s', v_role, v_cmd, v_qualname) END;
    IF v_cmd IN ('UPDATE', 'DELETE') THEN
        RETURN QUERY SELECT 'privilege'::text, 'SELECT'::text, NULL::boolean, CASE WHEN v_sel_priv THEN 'pass' ELSE 'fail' END,
            NULL::bigint, NULL::jsonb,
            pg_catalog.format('%I %s SELECT on %s (%s reads columns when it has a WHERE or RETURNING, as PostgREST''s filters do)',
                              v_role, CASE WHEN v_sel_priv THEN 'holds' ELSE 'lacks' END, v_qualname, CASE v_cmd WHEN 'UPDATE' THEN 'an UPDATE' ELSE 'a DELETE' END);
    END IF;

    FOR v_i IN 0 .. pg_catalog.jsonb_array_length(v_default_rows) - 1 LOOP
        v_c := v_default_rows -> v_i;
        RETURN QUERY SELECT 'default'::text, v_c ->> 'column', NULL::boolean, v_c ->> 'result', NULL::bigint, NULL::jsonb,
            CASE WHEN v_c ? 'value' THEN pg_catalog.format('not in new_row: its default %s gives %s', v_c ->> 'expr', insforge._explain_literal(v_c -> 'value' #>> '{}'))
                 WHEN v_c ->> 'result' = 'error' THEN pg_catalog.format('not in new_row: its default %s raises %s', v_c ->> 'expr', v_c ->> 'note')
                 ELSE 'not in new_row: ' || (v_c ->> 'note') END;
    END LOOP;

    FOR v_i IN 0 .. pg_catalog.jsonb_array_length(v_checks) - 1 LOOP
        v_c := v_checks -> v_i;
        v_idx := (v_c ->> 'col')::integer;
        v_texts := insforge._explain_check(v_c, v_cmd, row_key IS NOT NULL,
                                           CASE WHEN v_idx IS NOT NULL THEN v_true[v_idx] END, v_total,
                                           CASE WHEN v_idx IS NOT NULL THEN v_err[v_idx] END,
                                           CASE WHEN v_c ->> 'on' = 'new' THEN v_newdisp ELSE v_row END, v_uid, v_seen);
        v_c := v_c || pg_catalog.jsonb_build_object(
            'reason', v_texts ->> 'reason',
            'error', v_idx IS NOT NULL AND v_err[v_idx] IS NOT NULL,
            'admitted', CASE WHEN v_idx IS NOT NULL THEN v_true[v_idx] END,
            'passed', CASE WHEN v_idx IS NOT NULL AND v_err[v_idx] IS NULL THEN v_true[v_idx] > 0 END);
        v_checks := pg_catalog.jsonb_set(v_checks, ARRAY[v_i::text], v_c);
        RETURN QUERY SELECT v_c ->> 'kind', v_c ->> 'policy', true,
            CASE WHEN v_idx IS NULL THEN 'n/a'
                 WHEN v_err[v_idx] IS NOT NULL THEN 'error'
                 WHEN v_true[v_idx] IS NULL THEN NULL
                 WHEN v_true[v_idx] > 0 THEN 'pass' ELSE 'fail' END,
            CASE WHEN row_key IS NULL AND v_cmd <> 'INSERT' THEN v_true[v_idx] END,
            (SELECT pg_catalog.jsonb_object_agg(k, coalesce(v_seen -> k, 'null'::jsonb))
               FROM pg_catalog.jsonb_array_elements_text(v_c -> 'claims') k),
            v_texts ->> 'detail';
    END LOOP;
    FOR v_i IN 0 .. pg_catalog.jsonb_array_length(v_others) - 1 LOOP
        RETURN QUERY SELECT 'policy'::text, v_others -> v_i ->> 'policy', false, NULL::text, NULL::bigint, NULL::jsonb,
            v_others -> v_i ->> 'detail';
    END LOOP;

    SELECT x.outcome, x.verdict INTO v_outcome, v_verdict
      FROM insforge._explain_verdict(v_cmd, v_qualname, v_rel.relname, v_role, v_rls, v_why_not, v_priv, v_sel_priv,
                                     row_key IS NOT NULL, v_found, v_keytext, v_total, v_reach, v_pass,
                                     v_checks || v_others, v_counts, v_real, v_real_error, v_failed) x;
    -- When a requesting-user comparison admits no row: the values the rows do hold.
    IF row_key IS NULL AND v_cmd <> 'INSERT' AND v_outcome = 'denied' AND v_rls AND v_priv AND coalesce(v_total, 0) > 0 THEN
        SELECT c ->> 'uidcol' INTO v_key
          FROM pg_catalog.jsonb_array_elements(v_checks) c
         WHERE c ->> 'uidcol' IS NOT NULL AND (c ->> 'permissive')::boolean AND c ->> 'on' = 'old'
           AND coalesce((c ->> 'admitted')::bigint, 0) = 0
         LIMIT 1;
        IF v_key IS NOT NULL THEN
            EXECUTE pg_catalog.format(
                'SELECT pg_catalog.string_agg(pg_catalog.format(''%%s (%%s)'', insforge._explain_literal(v), n), '', '' ORDER BY n DESC, v)'
                || ' FROM (SELECT CASE WHEN %2$s.%1$I IS NULL THEN NULL ELSE pg_catalog.format(''%%s'', %2$s.%1$I) END AS v,'
                || ' pg_catalog.count(*) AS n FROM %3$s AS %2$s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3) x', v_key, v_alias, v_qualname)
               INTO v_mcv;
            v_verdict := v_verdict || pg_catalog.format(' (no row has %I = %s; the most common values: %s)',
                                                        v_key, insforge._explain_literal(v_uid), v_mcv);
        END IF;
    END IF;
    RETURN QUERY SELECT 'verdict'::text, v_cmd, NULL::boolean, v_outcome,
        CASE WHEN row_key IS NULL AND v_cmd <> 'INSERT' THEN CASE WHEN v_rls THEN v_reach ELSE v_total END END,
        NULL::jsonb, v_verdict;
END
$fn$;
COMMENT ON FUNCTION insforge.explain_access(regclass, jsonb, text, jsonb, jsonb, text) IS
'Why a client sees, or may change, what it does: for a table, a request (claims, or a token verified with the stored key; neither: anonymous) and a command (SELECT, INSERT, UPDATE, DELETE), optionally one row (row_key) or a proposed new row (new_row), one row per check: the request, RLS enabled and forced, the privilege, each policy (whether it applies; each USING and WITH CHECK result, or without a row how many rows it admits; the claims it read) and the verdict with its reason. Policies run as the client in a subtransaction rolled back (read-only); nothing is written. Operators only (42501).';
