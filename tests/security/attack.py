"""Shared by the attack tests (SECURITY.md); each test file imports what it uses.

Every attack is planted the way InsForge lets a project do it: as project_admin, on a superuser's
connection after SET LOCAL ROLE project_admin (as_operator), or as a client through a
PostgREST-style request. The planted code is `public.attack(how)`: it records who ran it
(`public.attack_log`), and when that role is a superuser it makes project_admin a superuser;
whoever runs it also tries to copy the JWT key into the log. After each attack `assert_contained`
checks that project_admin is not a superuser, the planted code never ran as a superuser or as the
key's role, and the key was neither read nor changed.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from pgcluster import as_operator  # noqa: E402

KEY = "security-suite-jwt-secret-0123456789abcdef-0123456789abcdef"

PLANT = """
CREATE TABLE public.attack_log (at timestamptz DEFAULT clock_timestamp(), who text, how text, detail text);
GRANT INSERT, SELECT ON public.attack_log TO PUBLIC;
CREATE FUNCTION public.attack(how text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.attack_log(who, how) VALUES (current_user, how);
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE project_admin SUPERUSER';
    END IF;
    BEGIN
        INSERT INTO public.attack_log(who, how, detail) SELECT current_user, how || ': key', key FROM insforge.jwt_secret;
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION public.attack(text) TO PUBLIC;
CREATE FUNCTION public.attack_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.attack(TG_NAME || ' ' || TG_OP);
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def plant(conn):
    """project_admin's attack function and log (run on a superuser connection)."""
    with as_operator(conn):
        conn.execute(PLANT)


def store_key(conn):
    with as_operator(conn):
        conn.execute("SELECT insforge.set_jwt_secret(%s)", (KEY,))


def assert_contained(conn, key=KEY):
    """project_admin is not a superuser; the planted code never ran as a superuser or as the
    key's role, never read the key; the key is what it was. `conn` is a superuser's."""
    assert one(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = 'project_admin'") is False, \
        "project_admin became a superuser"
    privileged = conn.execute(
        "SELECT DISTINCT l.who, l.how FROM public.attack_log l JOIN pg_roles r ON r.rolname = l.who"
        " WHERE r.rolsuper OR r.rolname = 'insforge_integrations_secrets'").fetchall()
    assert privileged == [], f"planted code ran with more rights than project_admin: {privileged}"
    assert conn.execute("SELECT who, how FROM public.attack_log WHERE detail IS NOT NULL").fetchall() == [], \
        "the key was read"
    if key is not None:
        assert conn.execute("SELECT key FROM insforge.jwt_secret").fetchall() == [(key,)]


def ran(conn):
    """What the planted code recorded: [(who, how)]."""
    return conn.execute("SELECT who, how FROM public.attack_log ORDER BY at").fetchall()


@pytest.fixture
def attacked(cluster, db):
    """A fresh InsForge-like database with the extension (created by project_admin), the key
    stored, and project_admin's attack function planted; yields the database name and checks
    containment at the end."""
    with cluster.connect(db) as c:
        store_key(c)
        plant(c)
    yield db
    with cluster.connect(db) as c:
        assert_contained(c)
