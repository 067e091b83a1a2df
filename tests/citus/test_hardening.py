"""The login problem, fenced (docs/citus.md, "Hardening"). Citus connects to the workers as the
request's role, so anon, authenticated and project_admin must be able to log in there; whoever
could log in to a worker as authenticated could then write any claims. The fence:

1. pg_hba.conf on every node accepts those roles only over TCP from the coordinator, with a
   password (scram-sha-256) that only the coordinator holds (pg_dist_authinfo, superuser-only):
   the socket refuses them, a connection without the password or with a wrong one fails;
2. the workers run with insforge_integrations.claims_source = verified: even with the password,
   claims written by hand identify nobody; only a bearer token signed with the project's key
   does, and it identifies its own subject only.

Here everything runs on one machine, so "from the coordinator" is 127.0.0.1 for every process:
layer 1 rests on the password, and the test plays the attacker who stole it for layer 2."""
import json
import time

import jwt
import psycopg
import pytest

from citus_helpers import SECRET, USERS, claims_of, headers_with, one, rows_of

VICTIM = "user_10"


def shards_on(citus, table, worker):
    with citus.connect() as c:
        return [r[0] for r in c.execute(
            "SELECT shard_name FROM citus_shards WHERE table_name = %s::regclass AND nodeport = %s ORDER BY 1",
            (table, citus.workers[worker].port)).fetchall()]


def victim_worker_of(citus, table, user):
    """The index of the worker holding user's shard of table."""
    with citus.connect() as c:
        port = one(c, "SELECT nodeport FROM citus_shards WHERE table_name = %s::regclass"
                      " AND shardid = get_shard_id_for_distribution_column(%s::regclass, %s::text)",
                   table, table, user)
    return [w.port for w in citus.workers].index(port)


def forged_read(conn, shard_tables, claims, headers=None):
    """What a direct worker session gets with hand-written claims from the worker's own shard
    tables, read by name."""
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('request.jwt.claims', %s, true), set_config('request.headers', %s, true)",
                     (json.dumps(claims), json.dumps(headers or {})))
        seen = set()
        for shard in shard_tables:
            seen |= {r[0] for r in conn.execute(f"SELECT user_id FROM {shard}").fetchall()}
        return seen


@pytest.mark.parametrize("role", ["authenticated", "anon", "project_admin"])
def test_the_socket_refuses_the_client_roles(citus, role):
    for node in citus.nodes:
        with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects connection"):
            psycopg.connect(node.conninfo(citus.dbname, role))


def test_tcp_needs_the_password_only_the_coordinator_holds(citus):
    with pytest.raises(psycopg.OperationalError, match="no password supplied|password authentication failed"):
        psycopg.connect(citus.worker_tcp_conninfo(0, "authenticated"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(citus.worker_tcp_conninfo(0, "authenticated", "guessed-password"))
    with citus.connect() as c:
        assert one(c, "SELECT count(*) FROM pg_dist_authinfo WHERE rolename IN ('anon', 'authenticated', 'project_admin')") == 3
        c.execute("SET ROLE authenticated")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT authinfo FROM pg_dist_authinfo")


def test_with_a_stolen_password_forged_claims_get_nothing_from_verified_workers(citus, tables):
    table = tables["native"]
    w = victim_worker_of(citus, table, VICTIM)
    shards = shards_on(citus, table, w)
    stolen = citus.passwords["authenticated"]
    with psycopg.connect(citus.worker_tcp_conninfo(w, "authenticated", stolen), autocommit=True) as attacker:
        # Without verified mode the password is the whole fence: forged claims are believed.
        assert VICTIM in forged_read(attacker, shards, claims_of(VICTIM))
        # The worker holds no client credentials for the other worker (pg_dist_authinfo stays
        # on the coordinator): a distributed query from here cannot fan out.
        with pytest.raises(psycopg.errors.ConnectionFailure, match="no password supplied"):
            attacker.execute(f"SELECT count(*) FROM {table}")
    citus.set_worker_claims_source("verified")
    try:
        with psycopg.connect(citus.worker_tcp_conninfo(w, "authenticated", stolen), autocommit=True) as attacker:
            assert one(attacker, "SHOW insforge_integrations.claims_source") == "verified"
            assert forged_read(attacker, shards, claims_of(VICTIM)) == set()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                attacker.execute("SET insforge_integrations.claims_source = setting")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                attacker.execute("SELECT set_config('insforge_integrations.verified_claims', %s, false)",
                                 (json.dumps(claims_of(VICTIM)),))
            forged = jwt.encode({"sub": VICTIM, "role": "authenticated", "exp": int(time.time()) + 600},
                                "the-attackers-own-key-of-at-least-32-bytes", algorithm="HS256")
            with pytest.raises(psycopg.errors.InvalidAuthorizationSpecification):
                forged_read(attacker, shards, claims_of(VICTIM), headers_with(forged))
            # A token the project really issued to the attacker: the attacker's own rows only.
            me = next(u for u in USERS if u != VICTIM and victim_worker_of(citus, table, u) == w)
            own = jwt.encode({"sub": me, "role": "authenticated", "exp": int(time.time()) + 600},
                             SECRET, algorithm="HS256")
            assert forged_read(attacker, shards, claims_of(VICTIM), headers_with(own)) == {me}
        # Through the coordinator, PostgREST's requests still work.
        with citus.connect() as conn:
            with conn.transaction(force_rollback=True):
                conn.execute("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
                             " set_config('request.headers', %s, true)",
                             (json.dumps(claims_of(VICTIM)), json.dumps(headers_with(jwt.encode(
                                 {"sub": VICTIM, "role": "authenticated", "exp": int(time.time()) + 600},
                                 SECRET, algorithm="HS256")))))
                conn.execute('select "insforge"."pre_request"()')
                assert one(conn, f"SELECT count(*) FROM {table}") == len(rows_of(VICTIM))
    finally:
        citus.set_worker_claims_source("setting")
