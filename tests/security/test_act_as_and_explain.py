"""insforge.act_as() and insforge.explain_access(): no new way up (SECURITY.md, "Acting as a client").

project_admin plants code wherever explain_access() might run it: in policies, column defaults,
domain checks, casts, operators, odd identifiers; then the explanation is asked for by
project_admin (as InsForge runs a project's SQL) and by a superuser. The planted code must run
as the client only (never as the caller, never as a superuser), change nothing, and the key
must stay unread (assert_contained). act_as() must only ever take on a client role and leave
nothing behind its transaction."""
import json
import time

import jwt as pyjwt
import psycopg
import pytest
from attack import KEY, assert_contained, attacked, one, ran  # noqa: F401  (attacked: a fixture)
from pgcluster import as_operator

CLAIMS = json.dumps({"sub": "user_1", "role": "authenticated"})

# Functions that say who runs them, without writing anything (a write would fail in
# explain_access()'s read-only subtransaction anyway).
SPIES = """
CREATE FUNCTION public.spy(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'spy % ran as %', what, current_user;
    RETURN true;
END $$;
CREATE FUNCTION public.is_superuser() RETURNS boolean LANGUAGE sql AS
    $$ SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user $$;
CREATE FUNCTION public.can_read_key() RETURNS boolean LANGUAGE sql AS
    $$ SELECT pg_catalog.has_table_privilege('insforge.jwt_secret', 'SELECT') $$;
GRANT EXECUTE ON FUNCTION public.spy(text), public.is_superuser(), public.can_read_key() TO PUBLIC;
"""


def notices(conn):
    seen = []
    conn.add_notice_handler(lambda d: seen.append(d.message_primary))
    return seen


def explain(conn, sql, *args, operator=True):
    if operator:
        with as_operator(conn):
            return conn.execute(sql, args or None).fetchall()
    return conn.execute(sql, args or None).fetchall()


def verdict(rows):
    return rows[-1]


@pytest.fixture
def planted(cluster, attacked):
    """The attacked database with a table whose policies call the attack and the spies."""
    db = attacked
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute(SPIES)
            c.execute("""
                CREATE TABLE public.t (id int PRIMARY KEY, owner text NOT NULL DEFAULT public.attack('default'), body text);
                INSERT INTO public.t VALUES (1, 'user_1', 'a'), (2, 'user_2', 'b');
                ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;
                CREATE POLICY by_attack ON public.t FOR ALL TO authenticated USING (public.attack('policy'))
                    WITH CHECK (public.attack('check'));
                CREATE POLICY by_spy ON public.t FOR SELECT TO authenticated USING (public.spy('policy'));
                CREATE POLICY as_superuser ON public.t FOR SELECT TO authenticated USING (public.is_superuser());
                CREATE POLICY reads_key ON public.t FOR SELECT TO authenticated USING (public.can_read_key());
                CREATE POLICY owner_inserts ON public.t FOR INSERT TO authenticated WITH CHECK (owner = requesting_user_id());""")
    return db


@pytest.mark.parametrize("caller", ["project_admin", "superuser"])
@pytest.mark.parametrize("command,key,new_row", [
    ("SELECT", None, None), ("SELECT", '{"id": 1}', None), ("UPDATE", '{"id": 1}', '{"owner": "x"}'),
    ("INSERT", None, '{"id": 3}'), ("DELETE", None, None)])
def test_planted_policy_code_runs_only_as_the_client(cluster, planted, caller, command, key, new_row):
    with cluster.connect(planted) as c:
        seen = notices(c)
        rows = explain(c, "SELECT kind, name, result, rows, detail FROM insforge.explain_access('public.t', %s, %s, %s, %s)",
                       CLAIMS, command, key, new_row, operator=caller == "project_admin")
        results = {(k, n): r for k, n, r, _, _ in rows if k in ("USING", "WITH CHECK")}
        # The attack tried to write its log and was stopped by the read-only subtransaction.
        assert all(r == "error" for (k, n), r in results.items() if n == "by_attack"), rows
        assert any("tries to write (25006" in d for _, n, _, _, d in rows if n == "by_attack")
        if command in ("SELECT", "UPDATE", "DELETE"):
            # Run as the client: not a superuser, no access to the key.
            assert results[("USING", "as_superuser")] == "fail"
            assert results[("USING", "reads_key")] == "fail"
        assert {m for m in seen if m.startswith("spy")} <= {"spy policy ran as authenticated"}
        if command == "SELECT":
            assert "spy policy ran as authenticated" in seen
        # Nothing was written, nothing is left, the session is the caller's again.
        assert ran(c) == []
        assert one(c, "SELECT current_user") == "postgres"
        assert c.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'insforge_explain%'").fetchone() == (0,)
        assert one(c, "SELECT count(*) FROM public.t") == 2
        assert_contained(c)


def test_a_default_that_escalates_runs_as_the_client(cluster, planted):
    with cluster.connect(planted) as c:
        rows = explain(c, "SELECT kind, name, result, detail FROM insforge.explain_access('public.t', %s, 'INSERT',"
                          " new_row => '{\"id\": 5}')", CLAIMS, operator=False)
        (default,) = [r for r in rows if r[0] == "default"]
        assert default[1:3] == ("owner", "error") and "25006" in default[3]
        assert ran(c) == []
        assert_contained(c)


@pytest.mark.parametrize("caller", ["project_admin", "superuser"])
def test_no_cast_domain_check_or_operator_of_the_project_runs_as_the_caller(cluster, attacked, caller):
    """Keys, row values and common values are read as the caller: only output functions and
    built-in comparisons, never a cast, a domain's check or an operator the project defined."""
    db = attacked
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("""
                CREATE DOMAIN public.evil_id AS integer CHECK (public.attack('domain check'));
                CREATE TYPE public.evil AS (owner text, n int);
                CREATE FUNCTION public.evil_text(public.evil) RETURNS text LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.attack('cast to text'); RETURN 'x'; END $$;
                CREATE FUNCTION public.evil_json(public.evil) RETURNS json LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.attack('cast to json'); RETURN '{}'; END $$;
                CREATE FUNCTION public.evil_jsonb(public.evil) RETURNS jsonb LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.attack('cast to jsonb'); RETURN '{}'; END $$;
                CREATE CAST (public.evil AS text) WITH FUNCTION public.evil_text(public.evil) AS IMPLICIT;
                CREATE CAST (public.evil AS json) WITH FUNCTION public.evil_json(public.evil) AS IMPLICIT;
                CREATE CAST (public.evil AS jsonb) WITH FUNCTION public.evil_jsonb(public.evil) AS IMPLICIT;
                -- to_jsonb()/row_to_json() call a user type's cast to json (enums, ranges), and ::text its cast to text
                CREATE TYPE public.mood AS ENUM ('happy', 'sad');
                CREATE FUNCTION public.mood_json(public.mood) RETURNS json LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.attack('enum cast to json'); RETURN '{}'; END $$;
                CREATE FUNCTION public.mood_text(public.mood) RETURNS text LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.attack('enum cast to text'); RETURN 'x'; END $$;
                CREATE CAST (public.mood AS json) WITH FUNCTION public.mood_json(public.mood);
                CREATE CAST (public.mood AS text) WITH FUNCTION public.mood_text(public.mood);
                CREATE FUNCTION public.evil_eq(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM public.attack('operator'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
                CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.evil_eq);
                CREATE TABLE public.v (id public.evil_id PRIMARY KEY, who public.evil, owner text, feeling public.mood);
                INSERT INTO public.v VALUES (1, ROW('user_1', 1), 'user_1', 'happy'), (2, ROW('user_2', 2), 'user_2', 'sad');
                ALTER TABLE public.v ENABLE ROW LEVEL SECURITY;
                CREATE POLICY mine ON public.v FOR SELECT TO authenticated USING (owner = requesting_user_id());
                CREATE POLICY moody ON public.v FOR SELECT TO authenticated USING (feeling = 'happy' AND owner = requesting_user_id());
                CREATE TABLE public.w (who public.evil PRIMARY KEY, owner text);
                INSERT INTO public.w VALUES (ROW('user_1', 1), 'user_1');
                ALTER TABLE public.w ENABLE ROW LEVEL SECURITY;
                CREATE POLICY mine ON public.w FOR SELECT TO authenticated USING (owner = requesting_user_id());""")
            c.execute("DELETE FROM public.attack_log")  # the INSERTs above checked the domain as project_admin
        nobody = json.dumps({"sub": "user_9", "role": "authenticated"})
        for sql, args in [
            ("SELECT * FROM insforge.explain_access('public.v', %s, row_key => '{\"id\": 1}')", (CLAIMS,)),
            ("SELECT * FROM insforge.explain_access('public.v', %s)", (nobody,)),  # common values of owner
            ("SELECT * FROM insforge.explain_access('public.v', %s, row_key => '{\"feeling\": \"sad\"}')", (CLAIMS,)),
            ("SELECT * FROM insforge.explain_access('public.w', %s, row_key => '{\"who\": \"(user_1,1)\"}')", (CLAIMS,)),
        ]:
            rows = explain(c, sql, *args, operator=caller == "project_admin")
            assert verdict(rows)[3] in ("allowed", "denied"), rows
        assert ran(c) == [], "the project's code ran as the caller"
        assert_contained(c)


def test_a_policy_that_switches_roles_stops_the_explanation(cluster, attacked):
    """In InsForge the session user is a superuser, so Postgres lets code in a policy SET ROLE to
    anyone (as it would in any request). explain_access() stops at the first evaluation after
    which the role is not the client's, and the subtransaction takes the switch with it."""
    db = attacked
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute("""
                CREATE FUNCTION public.become(r text) RETURNS boolean LANGUAGE plpgsql AS
                    $$ BEGIN PERFORM pg_catalog.set_config('role', r, true); RETURN true; END $$;
                GRANT EXECUTE ON FUNCTION public.become(text) TO PUBLIC;
                CREATE TABLE public.s (id int PRIMARY KEY);
                INSERT INTO public.s VALUES (1);
                ALTER TABLE public.s ENABLE ROW LEVEL SECURITY;
                CREATE POLICY up ON public.s FOR SELECT TO authenticated USING (public.become('project_admin'));""")
        for operator in (True, False):
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match="stopped: a policy function changed the role to project_admin"):
                explain(c, "SELECT * FROM insforge.explain_access('public.s', %s)", CLAIMS, operator=operator)
            assert one(c, "SELECT current_user") == "postgres"
        assert_contained(c)


def test_identifiers_are_quoted_everywhere(cluster, attacked):
    db = attacked
    with cluster.connect(db) as c:
        with as_operator(c):
            c.execute('''
                CREATE TABLE public."we""ird; DROP TABLE public.attack_log; --" (
                    "id'); DROP TABLE public.attack_log; --" int PRIMARY KEY,
                    "own""er" text DEFAULT requesting_user_id());
                INSERT INTO public."we""ird; DROP TABLE public.attack_log; --" VALUES (1, 'user_1');
                ALTER TABLE public."we""ird; DROP TABLE public.attack_log; --" ENABLE ROW LEVEL SECURITY;
                CREATE POLICY "p'; DROP TABLE public.attack_log; --" ON public."we""ird; DROP TABLE public.attack_log; --"
                    TO authenticated USING ("own""er" = requesting_user_id());''')
        table = '''public."we""ird; DROP TABLE public.attack_log; --"'''
        key = json.dumps({"id'); DROP TABLE public.attack_log; --": 1})
        for command, k, new in [("SELECT", None, None), ("SELECT", key, None), ("UPDATE", key, '{"own\\"er": "x"}'),
                                ("INSERT", None, key), ("DELETE", key, None)]:
            rows = explain(c, "SELECT * FROM insforge.explain_access(%s, %s, %s, %s, %s)", table, CLAIMS, command, k, new)
            assert verdict(rows)[3] in ("allowed", "denied"), rows
        assert one(c, "SELECT to_regclass('public.attack_log') IS NOT NULL")
        rows = explain(c, "SELECT * FROM insforge.explain_access(%s, %s)", table, CLAIMS)
        assert verdict(rows)[3] == "allowed" and verdict(rows)[4] == 1
        assert_contained(c)


# -- act_as --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["postgres", "creator", "replicator", "files", "programs", "insforge_integrations_secrets"])
def test_act_as_never_takes_on_a_privileged_role(cluster, attacked, role):
    db = attacked
    with cluster.connect(db) as c:
        c.execute("DROP ROLE IF EXISTS creator; CREATE ROLE creator NOLOGIN CREATEROLE")
        c.execute("DROP ROLE IF EXISTS replicator; CREATE ROLE replicator NOLOGIN REPLICATION")
        c.execute("DROP ROLE IF EXISTS files; CREATE ROLE files NOLOGIN IN ROLE pg_read_server_files")
        c.execute("DROP ROLE IF EXISTS programs; CREATE ROLE programs NOLOGIN IN ROLE pg_execute_server_program")
        # even when a superuser lists it among the client roles
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_roles = '
                  f"'anon,authenticated,postgres,creator,replicator,files,programs'")
    try:
        with cluster.connect(db) as c:
            claims = json.dumps({"sub": "x", "role": role})
            for sql in ("SELECT insforge.act_as(%s::jsonb)", "SELECT count(*) FROM insforge.explain_access('public.attack_log', %s::jsonb)"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"refuses to switch to role {role}"):
                    with as_operator(c):
                        c.execute(sql, (claims,))
                assert one(c, "SELECT current_user") == "postgres"
            assert_contained(c)
    finally:
        with cluster.connect(db) as c:
            c.execute(f'ALTER DATABASE "{db}" RESET insforge_integrations.jwt_roles')
            c.execute("DROP ROLE creator; DROP ROLE replicator; DROP ROLE files; DROP ROLE programs")


def test_act_as_takes_on_only_client_roles_or_the_callers_own(cluster, attacked):
    db = attacked
    with cluster.connect(db) as c:
        c.execute("DROP ROLE IF EXISTS explain_app_reader; CREATE ROLE explain_app_reader NOLOGIN; GRANT SELECT ON public.attack_log TO explain_app_reader")
        try:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="it is not a client role"):
                with as_operator(c):
                    c.execute("SELECT insforge.act_as('{\"role\": \"explain_app_reader\"}')")
            # the key's role: never a client's, whoever asks
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="the extension's own role for its secrets"):
                with as_operator(c):
                    c.execute("SELECT insforge.act_as('{\"role\": \"insforge_integrations_secrets\"}')")
            # project_admin acting as itself adds nothing; a superuser has every role's privileges
            with as_operator(c):
                c.execute("SELECT insforge.act_as('{\"role\": \"project_admin\"}')")
                assert one(c, "SELECT current_user") == "project_admin"
            with c.transaction():
                c.execute("SELECT insforge.act_as('{\"role\": \"explain_app_reader\"}')")
                assert one(c, "SELECT current_user") == "explain_app_reader"
        finally:
            c.execute("REVOKE ALL ON public.attack_log FROM explain_app_reader; DROP ROLE explain_app_reader")
        assert_contained(c)


def test_act_as_from_claims_is_never_verified(cluster, attacked):
    """Verified mode trusts only tokens signed with the stored key: the operator's hand-written
    claims must not become a verified identity."""
    db = attacked
    with cluster.connect(db) as c:
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.claims_source = verified')
    try:
        with cluster.connect(db) as c:
            with as_operator(c):
                c.execute("SELECT insforge.act_as(%s::jsonb)", (CLAIMS,))
                assert c.execute("SELECT current_setting('insforge_integrations.verified_claims'),"
                                 " requesting_user_id()").fetchone() == ("", None)
            tok = pyjwt.encode({"sub": "user_1", "role": "authenticated", "exp": int(time.time()) + 60}, KEY, algorithm="HS256")
            with as_operator(c):
                assert one(c, "SELECT insforge.act_as(token => %s)", tok) == "user_1"
                assert json.loads(one(c, "SELECT current_setting('insforge_integrations.verified_claims')"))["sub"] == "user_1"
            # nothing outlives the transaction
            assert c.execute("SELECT current_user, current_setting('insforge_integrations.verified_claims'),"
                             " current_setting('request.headers'), requesting_user_id()").fetchone() \
                == ("postgres", "", "", None)
            # clients may not set it themselves
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with c.transaction():
                    c.execute("SET LOCAL ROLE project_admin")
                    c.execute("SELECT set_config('insforge_integrations.verified_claims', %s, true)", (CLAIMS,))
            assert_contained(c)
    finally:
        with cluster.connect(db) as c:
            c.execute(f'ALTER DATABASE "{db}" RESET insforge_integrations.claims_source')


def test_clients_reach_neither_function_through_postgrest(cluster, attacked):
    db = attacked
    with cluster.connect(db, user="authenticator") as c:
        for role in ("anon", "authenticated"):
            for sql in ("SELECT insforge.act_as('{\"role\": \"project_admin\"}')",
                        "SELECT * FROM insforge.explain_access('public.attack_log')",
                        "SELECT insforge._act_as('{\"role\": \"project_admin\"}', NULL)",
                        "SELECT insforge._explain_literal('x')"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with c.transaction():
                        c.execute("SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                                  (role, json.dumps({"role": role, "sub": "x"})))
                        c.execute(sql)
    with cluster.connect(db) as c:
        assert_contained(c)
