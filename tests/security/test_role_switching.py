"""Switching roles and the operator's own functions. InsForge's PostgREST and backend connect as
the bootstrap superuser, so a session may SET ROLE to anyone: authenticate() must only ever take on
a client role, whatever jwt_roles says. And the remaining small attacks of the security issue."""
import time

import jwt as pyjwt
import psycopg
import pytest
from attack import KEY, assert_contained, attacked, one  # noqa: F401  (attacked: a fixture)
from pgcluster import as_operator


def token(role):
    return pyjwt.encode({"sub": "x", "role": role, "exp": int(time.time()) + 600}, KEY, algorithm="HS256")


@pytest.mark.parametrize("role", ["postgres", "insforge_integrations_secrets_like", "creator", "files"])
def test_authenticate_never_switches_to_a_privileged_role(cluster, attacked, role):
    db = attacked
    with cluster.connect(db) as c:
        c.execute("DROP ROLE IF EXISTS creator; CREATE ROLE creator NOLOGIN CREATEROLE")
        c.execute("DROP ROLE IF EXISTS files; CREATE ROLE files NOLOGIN IN ROLE pg_read_server_files")
        c.execute("DROP ROLE IF EXISTS insforge_integrations_secrets_like; CREATE ROLE insforge_integrations_secrets_like SUPERUSER NOLOGIN")
        c.execute(f'ALTER DATABASE "{db}" SET insforge_integrations.jwt_roles = %s' % repr(f"anon,authenticated,{role}").replace('"', "'"))
    try:
        # a superuser's session with project_admin's role, as InsForge runs a project's SQL
        with cluster.connect(db) as c:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"refuses to switch to role {role}"):
                with as_operator(c):
                    c.execute("SELECT insforge.authenticate(%s)", (token(role),))
            with c.transaction():
                assert one(c, "SELECT insforge.authenticate(%s)", token("authenticated")) == "x"
                assert one(c, "SELECT current_user") == "authenticated"
    finally:
        with cluster.connect(db) as c:
            c.execute(f'ALTER DATABASE "{db}" RESET insforge_integrations.jwt_roles')
            c.execute("DROP ROLE creator; DROP ROLE files; DROP ROLE insforge_integrations_secrets_like")


def test_adopt_with_null_force_is_an_error(cluster, db):
    with cluster.connect(db) as c:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="force must be true or false"):
            with as_operator(c):
                c.execute("SELECT insforge.adopt_requesting_user_id(NULL)")


@pytest.mark.parametrize("role", ["pg_execute_server_program", "pg_write_server_files", "anon", "authenticator"])
def test_grant_operator_refuses_predefined_and_client_roles(cluster, db, role):
    with cluster.connect(db) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with as_operator(c):
                c.execute("SELECT insforge.grant_operator(%s)", (role,))


def test_placeholder_keys_are_refused_and_not_echoed(cluster, db):
    with cluster.connect(db) as c:
        for key in ("<the JWT secret>", "your-jwt-secret-goes-here-0123456789abcdef", "too-short-secret"):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="npx @insforge/cli secrets get JWT_SECRET") as err:
                with as_operator(c):
                    c.execute("SELECT insforge.set_jwt_secret(%s)", (key,))
            assert key not in str(err.value)
        assert one(c, "SELECT insforge.jwt_secret_configured()") is False


SECRET_READERS = ["insforge_integrations_secrets", "pg_read_all_data", "pg_database_owner", "reader", "secrets_heir"]


@pytest.fixture
def reader_roles(cluster, attacked):
    with cluster.connect(attacked) as c:
        c.execute("DROP ROLE IF EXISTS reader; CREATE ROLE reader NOLOGIN IN ROLE pg_read_all_data")
        c.execute("DROP ROLE IF EXISTS secrets_heir; CREATE ROLE secrets_heir NOLOGIN IN ROLE insforge_integrations_secrets")
    yield attacked
    with cluster.connect(attacked) as c:
        c.execute(f'ALTER DATABASE "{attacked}" RESET insforge_integrations.jwt_roles')
        c.execute("DROP ROLE reader; DROP ROLE secrets_heir")


@pytest.mark.parametrize("role", SECRET_READERS)
def test_the_operator_cannot_list_a_role_that_reads_the_key(cluster, reader_roles, role):
    """The operator may add client roles to jwt_roles (set_setting) and then act as them; a role
    that reads the key (the secrets role, a role with its privileges, pg_read_all_data and its
    members, any predefined role) is refused there, and act_as() refuses it even when a
    superuser's setting lists it."""
    db = reader_roles
    with cluster.connect(db) as c:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="jwt_roles lists client roles only"):
            with as_operator(c):
                c.execute("SELECT insforge.set_setting('jwt_roles', %s)", (f"anon,authenticated,{role}",))
        c.execute(f"ALTER DATABASE \"{db}\" SET insforge_integrations.jwt_roles = 'anon,authenticated,{role}'")
    with cluster.connect(db) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"refuses to switch to role {role}"):
            with as_operator(c):
                c.execute("SELECT insforge.act_as(%s::jsonb)", (f'{{"sub": "x", "role": "{role}"}}',))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"refuses to switch to role {role}"):
            with as_operator(c):
                c.execute("SELECT insforge.authenticate(%s)", (token(role),))
        # the operator still cannot read the key
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with as_operator(c):
                c.execute("SELECT * FROM insforge.jwt_secret")
