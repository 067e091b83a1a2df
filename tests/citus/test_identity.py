"""Identity on Citus beyond the pre-request (docs/citus.md): the JWT key reaches every node
through one operator call; workers in verified mode trust only the bearer token the
pre-request sends them, verified with that key; insforge.authenticate() does the pre-request's
work by itself; adopting and releasing public.requesting_user_id() changes every node."""
import json
import time

import jwt
import psycopg
import pytest

from citus_helpers import GUIDE_HELPER, SECRET, headers_with, one, request, rows_of


def token(sub, key=SECRET, role="authenticated", **extra):
    payload = {"sub": sub, "role": role, "aud": "insforge-api", "iat": int(time.time()),
               "exp": int(time.time()) + 600, **extra}
    return jwt.encode(payload, key, algorithm="HS256")


def seen(cur, table):
    return sorted(cur.execute(f"SELECT user_id, id FROM {table}").fetchall())


def expected(user):
    return sorted((user, i) for i in rows_of(user))


def keys_on_nodes(citus):
    """The stored key of every node, read by the superuser (nobody else can)."""
    out = []
    for node in citus.nodes:
        with node.connect(citus.dbname) as c:
            out.append(one(c, "SELECT coalesce((SELECT key FROM insforge.jwt_secret), '')"))
    return out


@pytest.fixture
def verified_workers(citus):
    citus.set_worker_claims_source("verified")
    try:
        yield
    finally:
        citus.set_worker_claims_source("setting")


# -- the key ---------------------------------------------------------------------------------------------------

def test_one_operator_call_stores_the_key_on_every_node(citus):
    other = "another-project-secret-of-at-least-32-bytes-0123456789"
    try:
        with citus.operator() as op:
            op.execute("SELECT insforge.set_jwt_secret(%s)", (other,))
        assert keys_on_nodes(citus) == [other] * 3
        with citus.operator() as op:
            op.execute("SELECT insforge.set_jwt_secret(NULL)")
        assert keys_on_nodes(citus) == [""] * 3
        for node in citus.workers:
            with node.connect(citus.dbname) as c:
                assert one(c, "SELECT insforge.jwt_secret_configured()") is False
    finally:
        with citus.operator() as op:
            op.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
    assert keys_on_nodes(citus) == [SECRET] * 3


def test_the_key_call_refuses_a_transaction_block_and_changes_nothing(citus):
    with citus.connect() as c:
        with pytest.raises(psycopg.errors.ActiveSqlTransaction, match="2 workers"):
            with c.transaction():
                c.execute("SET LOCAL ROLE project_admin")
                c.execute("SELECT insforge.set_jwt_secret('yet-another-secret-of-at-least-32-bytes-xyz')")
    assert keys_on_nodes(citus) == [SECRET] * 3


def test_a_worker_down_is_named_and_the_coordinator_keeps_its_key(citus):
    other = "rotated-project-secret-of-at-least-32-bytes-0123456789"
    down = citus.workers[1]
    down.stop()
    try:
        with citus.operator() as op:
            with pytest.raises(psycopg.errors.ConnectionException, match=f"127.0.0.1:{down.port}") as e:
                op.execute("SELECT insforge.set_jwt_secret(%s)", (other,))
            assert other not in str(e.value)
    finally:
        down.start()
    assert keys_on_nodes(citus) == [SECRET, other, SECRET]  # the reachable worker has it: run it again
    with citus.operator() as op:
        op.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
    assert keys_on_nodes(citus) == [SECRET] * 3


def test_a_key_that_leaves_its_quotes_is_stored_as_written_on_every_node(citus):
    """The key reaches each worker inside a statement the coordinator writes as the extension's
    owner (insforge._propagate_jwt_secret): quoted there, so an operator's key that tries to end
    the literal and run SQL of its own is stored byte for byte and runs nothing, on any node."""
    evil = "x'); ALTER ROLE project_admin SUPERUSER; SELECT ('\\ -- and enough bytes for HS256"
    try:
        with citus.operator() as op:
            op.execute("SELECT insforge.set_jwt_secret(%s)", (evil,))
        assert keys_on_nodes(citus) == [evil] * 3
        for node in citus.nodes:
            with node.connect(citus.dbname) as c:
                assert one(c, "SELECT rolsuper FROM pg_roles WHERE rolname = 'project_admin'") is False
    finally:
        with citus.operator() as op:
            op.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
    assert keys_on_nodes(citus) == [SECRET] * 3


def test_clients_cannot_reach_the_propagation(citus):
    with citus.connect() as c:
        for role in ("anon", "authenticated"):
            with c.transaction(force_rollback=True):
                c.execute(f"SET LOCAL ROLE {role}")
                for fn in ("insforge._propagate_jwt_secret('x')", "insforge._propagate_requesting_user_id(true, false)",
                           "insforge._on_other_nodes('SELECT 1', 'x')"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        with c.transaction():
                            c.execute(f"SELECT {fn}")
        with c.transaction(force_rollback=True):  # the operator neither: superusers only
            c.execute("SET LOCAL ROLE project_admin")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute("SELECT insforge._on_other_nodes('SELECT 1', 'x')")


# -- verified workers ------------------------------------------------------------------------------------------

def test_verified_workers_trust_the_bearer_not_the_claims(citus, tables, verified_workers):
    table = tables["native"]
    with citus.connect() as conn:
        # PostgREST: claims from the verified token, and the token in the headers.
        for user in ("user_03", "user_10", "user_05"):
            with request(conn, user, headers=headers_with(token(user))) as cur:
                assert seen(cur, table) == expected(user)
                assert cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == len(rows_of(user))
                cur.execute(f"INSERT INTO {table} (id, user_id) VALUES (99990, %s)", (user,))
        # Claims without a bearer: the workers know nobody (fail closed).
        with request(conn, "user_03") as cur:
            assert seen(cur, table) == []
        # Claims that disagree with the bearer: the bearer wins on the workers.
        with request(conn, "user_03", headers=headers_with(token("user_10"))) as cur:
            assert seen(cur, table) == expected("user_10")


@pytest.mark.parametrize("case", ["wrong key", "expired", "garbage"])
def test_verified_workers_refuse_a_bad_bearer(citus, tables, verified_workers, case):
    bad = {"wrong key": token("user_03", key="not-the-project-secret-but-32-bytes-long!!"),
           "expired": token("user_03", exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
           "garbage": "not.a.token"}[case]
    with citus.connect() as conn:
        with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification):
            with request(conn, "user_03", headers=headers_with(bad)) as cur:
                seen(cur, tables["native"])


# -- authenticate() --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["setting", "verified"])
def test_authenticate_reaches_the_workers_by_itself(citus, tables, mode):
    if mode == "verified":
        citus.set_worker_claims_source("verified")
    try:
        with citus.connect() as conn:
            for user in ("user_10", "user_03"):
                tok = token(user)
                with conn.transaction(force_rollback=True):
                    conn.execute("SET LOCAL ROLE authenticator")
                    assert one(conn, "SELECT insforge.authenticate(%s)", tok) == user
                    assert one(conn, "SELECT current_user") == "authenticated"
                    for table in tables.values():
                        assert seen(conn, table) == expected(user), table
                    assert seen(conn, "notes_local") == expected(user)
                    conn.execute(f"INSERT INTO {tables['native']} (id, user_id) VALUES (99991, %s)", (user,))
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        with conn.transaction():
                            conn.execute(f"INSERT INTO {tables['native']} (id, user_id) VALUES (99992, 'user_00')")
                    headers = json.loads(one(conn, "SELECT current_setting('request.headers')"))
                    assert headers["authorization"] == "Bearer " + tok
    finally:
        if mode == "verified":
            citus.set_worker_claims_source("setting")


def test_authenticate_keeps_the_other_headers(citus, tables):
    with citus.connect() as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT set_config('request.headers', %s, true)", (json.dumps({"x-app": "demo"}),))
            conn.execute("SET LOCAL ROLE authenticator")
            conn.execute("SELECT insforge.authenticate(%s)", (token("user_03"),))
            headers = json.loads(one(conn, "SELECT current_setting('request.headers')"))
            assert headers["x-app"] == "demo" and headers["authorization"].startswith("Bearer ey")


# -- adopt and release on every node ---------------------------------------------------------------------------

def native_on_nodes(citus):
    out = []
    for node in citus.nodes:
        with node.connect(citus.dbname) as c:
            out.append(one(c, "SELECT insforge.native_requesting_user_id_installed()"))
    return out


def test_release_and_adopt_change_every_node(citus, tables):
    table = tables["adopted"]
    assert native_on_nodes(citus) == [True] * 3
    try:
        with citus.operator() as op:
            assert "released" in one(op, "SELECT insforge.release_requesting_user_id()")
        assert native_on_nodes(citus) == [False] * 3
        with citus.connect() as conn, request(conn, "user_10") as cur:  # the SQL helper: same rows
            assert seen(cur, table) == expected("user_10")
        with citus.connect() as c:
            with pytest.raises(psycopg.errors.ActiveSqlTransaction):
                with c.transaction():
                    c.execute("SET LOCAL ROLE project_admin")
                    c.execute("SELECT insforge.adopt_requesting_user_id()")
        assert native_on_nodes(citus) == [False] * 3
    finally:
        with citus.operator() as op:
            assert "adopted" in one(op, "SELECT insforge.adopt_requesting_user_id()")
    assert native_on_nodes(citus) == [True] * 3
    with citus.connect() as conn, request(conn, "user_10") as cur:
        assert seen(cur, table) == expected("user_10")


def test_drop_and_create_extension_keep_every_nodes_policies(citus):
    """DROP EXTENSION on the coordinator (Citus drops it on the workers) hands
    public.requesting_user_id() back as the SQL helper on every node, policies and shards
    untouched; CREATE EXTENSION and an adopt make it native everywhere again. In a database of
    its own, since the session's tables depend on the extension's functions."""
    db = "dropcycle"
    citus.create_database(db, before_extension=GUIDE_HELPER)
    try:
        with citus.operator(db) as op:
            op.execute("CREATE TABLE notes (id bigint, user_id text NOT NULL, PRIMARY KEY (user_id, id))")
            op.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY")
            op.execute("CREATE POLICY own ON notes FOR ALL TO authenticated USING (user_id = requesting_user_id())")
            op.execute("SELECT create_distributed_table('notes', 'user_id')")
            op.execute("INSERT INTO notes SELECT g, 'user_' || (g % 4) FROM generate_series(1, 40) g")
            assert "adopted" in one(op, "SELECT insforge.adopt_requesting_user_id()")

        def state():
            out = []
            for node in citus.nodes:
                with node.connect(db) as c:
                    out.append((one(c, "SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
                                       " WHERE p.oid = 'public.requesting_user_id()'::regprocedure"),
                                one(c, "SELECT count(*) FROM pg_policy WHERE polname = 'own'") > 0))
            return out

        assert state() == [("c", True)] * 3
        with citus.operator(db) as op:
            op.execute("DROP EXTENSION insforge_integrations")
        assert state() == [("sql", True)] * 3
        with citus.operator(db) as op:
            op.execute("CREATE EXTENSION insforge_integrations")
            op.execute("SELECT insforge.adopt_requesting_user_id()")
        assert state() == [("c", True)] * 3
        with citus.connect(dbname=db) as conn, request(conn, "user_2") as cur:
            assert sorted(r[0] for r in cur.execute("SELECT DISTINCT user_id FROM notes")) == ["user_2"]
            assert one(conn, "SELECT count(*) FROM notes") == 10
    finally:
        for node in citus.nodes:
            with node.connect() as c:
                c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
