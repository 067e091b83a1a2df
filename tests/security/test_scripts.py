"""Attack class 3: hijacking the install and update scripts, which run as the bootstrap superuser
when project_admin runs CREATE/ALTER EXTENSION through InsForge's hook (the CVE-2022-2625
family). project_admin has CREATE on the database, so it can make schema `insforge` (or `x402`)
before the extension does and fill it; the scripts refuse (42501, naming the schema) and change
nothing. An installation carries no older version's scripts, so project_admin cannot make the
superuser run a script written before these rules either."""
import uuid

import psycopg
import pytest
from attack import PLANT, one, ran
from pgcluster import as_operator, released_versions

SQUAT_OVERLOAD = """
CREATE SCHEMA insforge;
CREATE FUNCTION insforge._grant_operator(role text, grant_it boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.attack('overload'); RETURN 'hijacked'; END $$;
CREATE FUNCTION insforge.native_requesting_user_id_installed() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.attack('look-alike'); RETURN true; END $$;
"""


@pytest.fixture
def bare(cluster):
    """An InsForge-like database without the extension, with project_admin's attack planted."""
    name = "s_" + uuid.uuid4().hex[:12]
    cluster.create_database(name, extension=False)
    with cluster.connect(name) as c:
        with as_operator(c):
            c.execute(PLANT)
    yield name
    with cluster.connect(name) as c:
        assert one(c, "SELECT rolsuper FROM pg_roles WHERE rolname = 'project_admin'") is False
        assert [w for w, _ in ran(c) if w != "project_admin"] == []
    with cluster.connect() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_extension_as_project_admin(c):
    with as_operator(c):
        c.execute("CREATE EXTENSION insforge_integrations")


def assert_not_installed(c):
    assert one(c, "SELECT count(*) FROM pg_extension WHERE extname = 'insforge_integrations'") == 0
    assert one(c, "SELECT to_regnamespace('x402') IS NULL")


@pytest.mark.parametrize("squat", ["overload", "empty", "x402"])
def test_create_extension_refuses_a_squatted_schema(cluster, bare, squat):
    with cluster.connect(bare) as c:
        with as_operator(c):
            c.execute({"overload": SQUAT_OVERLOAD, "empty": "CREATE SCHEMA insforge",
                       "x402": "CREATE SCHEMA x402; CREATE FUNCTION x402.decode_header(text) RETURNS jsonb"
                               " LANGUAGE sql AS $$ SELECT '{}'::jsonb WHERE public.attack('x402') $$"}[squat])
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as err:
            create_extension_as_project_admin(c)
        schema = "x402" if squat == "x402" else "insforge"
        assert f"schema {schema}" in str(err.value), err.value
        assert "Nothing was changed" in (err.value.diag.message_hint or "")
        assert one(c, "SELECT count(*) FROM pg_extension WHERE extname = 'insforge_integrations'") == 0
        assert ran(c) == []


def test_a_foreign_object_in_a_superusers_schema_is_refused_too(cluster, bare):
    with cluster.connect(bare) as c:
        c.execute("CREATE SCHEMA insforge; CREATE TABLE insforge.leftover (x int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"holds objects .*table insforge\.leftover"):
            create_extension_as_project_admin(c)
        c.execute("DROP SCHEMA insforge CASCADE")
        create_extension_as_project_admin(c)  # a clean database installs
        assert one(c, "SELECT count(*) FROM x402.assets") >= 2


def test_after_install_project_admin_cannot_touch_the_extensions_schemas(cluster, bare):
    with cluster.connect(bare) as c:
        create_extension_as_project_admin(c)
        for sql in ("ALTER SCHEMA insforge RENAME TO mine", "ALTER SCHEMA x402 RENAME TO mine",
                    "CREATE FUNCTION insforge.native_requesting_user_id_installed2() RETURNS boolean"
                    " LANGUAGE sql AS $$ SELECT true $$",
                    "CREATE TABLE x402.mine (x int)", "ALTER FUNCTION insforge._jwt_key() OWNER TO project_admin",
                    "CREATE TRIGGER t BEFORE INSERT ON x402.assets FOR EACH ROW EXECUTE FUNCTION public.attack_trigger()",
                    "CREATE EVENT TRIGGER mine ON ddl_command_start EXECUTE FUNCTION public.attack_trigger()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                with as_operator(c):
                    c.execute(sql)


def test_temporary_objects_do_not_shadow_the_scripts_tables(cluster, bare):
    """A temporary table is searched first for unqualified names; the scripts pin pg_temp last."""
    with cluster.connect(bare) as c:
        with c.transaction():
            c.execute("SET LOCAL ROLE project_admin")
            c.execute("CREATE TEMP TABLE assets (network text, asset text, eip712_name text, eip712_version text,"
                      " decimals int, symbol text, builtin boolean)")
            c.execute("CREATE TEMP TABLE jwt_secret (singleton boolean, key text, updated_at timestamptz)")
            c.execute("CREATE EXTENSION insforge_integrations")
            assert one(c, "SELECT count(*) FROM pg_temp.assets") == 0
            assert one(c, "SELECT count(*) FROM x402.assets") >= 2


def test_an_installation_carries_no_older_version(cluster, bare):
    with cluster.connect(bare) as c:
        for version in ("0.1.0", "0.2.0"):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="no installation script"):
                with as_operator(c):
                    c.execute(f"CREATE EXTENSION insforge_integrations VERSION '{version}'")
        create_extension_as_project_admin(c)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="no update path"):
            with as_operator(c):
                c.execute("ALTER EXTENSION insforge_integrations UPDATE TO '0.2.0'")
        assert_not_installed_version = one(c, "SELECT extversion FROM pg_extension WHERE extname = 'insforge_integrations'")
        assert assert_not_installed_version == "0.3.0"


def test_an_update_refuses_a_squatted_installation(cluster, bare):
    """A 0.2.0 database whose schema insforge was project_admin's before the install (0.2.0 reused
    it): the update, run through the hook, refuses and changes nothing."""
    with cluster.connect(bare) as c:
        with as_operator(c):
            c.execute("CREATE SCHEMA insforge")
        with released_versions():
            c.execute("CREATE EXTENSION insforge_integrations VERSION '0.2.0'")  # a superuser, before 0.3.0
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema insforge belongs to project_admin"):
                with as_operator(c):
                    c.execute("ALTER EXTENSION insforge_integrations UPDATE")
        assert one(c, "SELECT extversion FROM pg_extension WHERE extname = 'insforge_integrations'") == "0.2.0"
