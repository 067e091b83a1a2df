-- Rule policy_reads_unforwarded_claim: a policy reads a claim that InsForge's API
-- never forwards. InsForge's backend verifies the user's token and re-mints a
-- 5-minute token with only sub, email and role (plus iat and exp) for PostgREST,
-- so through the records and rpc API request.jwt.claims holds nothing else: a
-- policy on org_id, permissions, aud, iss, azp, app_metadata, ... reads NULL there
-- and denies every row, silently. Direct PostgREST access and direct connections
-- using insforge.authenticate() keep the whole token, which is why the rule is a
-- WARN. Claims are found by advisor_claims_read() (literal keys of auth.jwt(),
-- insforge.jwt(), request.jwt.claims, insforge.claim/claim_path/has_claim).
-- See docs/identity.md ("What reaches Postgres").
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
