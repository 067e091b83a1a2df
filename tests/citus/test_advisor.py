"""The advisor rule citus_claims_not_propagated on a Citus coordinator: a finding for each
distributed or reference table whose policies read claims, until PostgREST's in-database
configuration names insforge.pre_request (or a function calling it) as its pre-request."""
import pytest

from citus_helpers import create_notes


def rule(conn):
    return {r[0]: r for r in conn.execute(
        "SELECT metadata->>'table', level, detail, metadata FROM insforge.advise()"
        " WHERE name = 'citus_claims_not_propagated'").fetchall()}


@pytest.fixture(scope="module")
def advisor_tables(citus):
    with citus.operator() as op:
        op.execute("CREATE SCHEMA adv")
        op.execute("GRANT USAGE ON SCHEMA adv TO authenticated")
        create_notes(op, "adv.by_uid", "insforge.requesting_user_id()")
        create_notes(op, "adv.by_guide", "public.requesting_user_id()")
        op.execute("CREATE TABLE adv.plans (id int PRIMARY KEY, owner text)")
        op.execute("ALTER TABLE adv.plans ENABLE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY mine ON adv.plans FOR SELECT TO authenticated"
                   " USING (owner = current_setting('request.jwt.claims', true)::jsonb ->> 'sub')")
        op.execute("SELECT create_reference_table('adv.plans')")
        op.execute("CREATE TABLE adv.open_data (id int PRIMARY KEY, v text)")  # a policy without claims
        op.execute("ALTER TABLE adv.open_data ENABLE ROW LEVEL SECURITY")
        op.execute("CREATE POLICY everyone ON adv.open_data FOR SELECT USING (true)")
        op.execute("SELECT create_distributed_table('adv.open_data', 'id')")
        create_notes(op, "adv.local_notes", "insforge.requesting_user_id()", distribute=False)
    return ["by_uid", "by_guide", "plans"]


def test_a_finding_per_table_until_the_pre_request_is_configured(citus, advisor_tables):
    with citus.connect() as c:
        found = rule(c)
        assert set(found) >= set(advisor_tables)
        assert "open_data" not in found and "local_notes" not in found
        assert found["plans"][3]["citus_table_type"] == "reference"
        assert found["by_uid"][1] == "WARN" and "no role has pgrst.db_pre_request" in found["by_uid"][2]
        try:
            # Another pre-request that does not call ours: still a finding, naming it.
            c.execute("CREATE FUNCTION public.other_pre() RETURNS void LANGUAGE sql AS 'SELECT'")
            c.execute("ALTER ROLE authenticator SET pgrst.db_pre_request = 'public.other_pre'")
            assert "names public.other_pre" in rule(c)["by_uid"][2]
            # PostgREST's in-database configuration naming ours, for this database only.
            c.execute("ALTER ROLE authenticator RESET pgrst.db_pre_request")
            c.execute(f"ALTER ROLE authenticator IN DATABASE {citus.dbname} SET pgrst.db_pre_request = 'insforge.pre_request'")
            assert rule(c) == {}
            # A wrapper that calls it counts too.
            c.execute(f"ALTER ROLE authenticator IN DATABASE {citus.dbname} RESET pgrst.db_pre_request")
            c.execute("CREATE FUNCTION public.my_pre() RETURNS void LANGUAGE plpgsql AS"
                      " $$ BEGIN PERFORM insforge.pre_request(); END $$")
            c.execute("ALTER ROLE postgres SET pgrst.db_pre_request = '\"public\".\"my_pre\"'")
            assert rule(c) == {}
        finally:
            c.execute("ALTER ROLE authenticator RESET pgrst.db_pre_request")
            c.execute(f"ALTER ROLE authenticator IN DATABASE {citus.dbname} RESET pgrst.db_pre_request")
            c.execute("ALTER ROLE postgres RESET pgrst.db_pre_request")
            c.execute("DROP FUNCTION IF EXISTS public.other_pre(), public.my_pre()")
        assert set(rule(c)) >= set(advisor_tables)


def test_the_operator_runs_the_rule(citus, advisor_tables):
    with citus.operator() as op:
        assert set(rule(op)) >= set(advisor_tables)
