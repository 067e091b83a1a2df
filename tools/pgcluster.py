"""A throwaway PostgreSQL 15 cluster for the demo, the tests and the benchmarks.

Postgres refuses to run as root, so when we are root every server process
(initdb, postgres, pg_ctl, pg_regress's psql is fine either way) runs as the
`postgres` OS user through sudo. The cluster listens only on a Unix socket in
its own directory (no TCP), so nothing outside this machine can reach it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
FIXTURES = ROOT / "tools" / "fixtures"
TEST_UTILS = ROOT / "tests" / "insforge_pg_utils_stub"

# The lines InsForge's deploy/docker-init/db/postgresql.conf adds (see ../shared/INSFORGE.md),
# with our test stand-in for its preloaded insforge_pg_utils: insforge_test_utils lets
# project_admin run CREATE/ALTER/DROP EXTENSION as the bootstrap superuser and defines
# insforge.extension_grant_role, insforge.policy_grant_role and insforge.policy_grant_tables;
# insforge.internal_schemas stays a plain placeholder, as in InsForge. (pg_cron and http are
# not installed here; pgcrypto is.)
INSFORGE_CONF = {
    "shared_preload_libraries": "'pgcrypto,insforge_test_utils'",
    "insforge.policy_grant_role": "'project_admin'",
    "insforge.extension_grant_role": "'project_admin'",
    "insforge.policy_grant_tables": "'storage.objects,realtime.channels,realtime.messages,"
                                    "payments.stripe_checkout_sessions,payments.stripe_customer_portal_sessions,"
                                    "payments.razorpay_orders,payments.razorpay_subscriptions'",
    "insforge.internal_schemas": "'ai,auth,compute,deployments,email,functions,memory,payments,realtime,"
                                 "schedules,storage,system'",
}


def install_test_utils(pg_config: str = PG_CONFIG) -> None:
    """Builds tests/insforge_pg_utils_stub with PGXS (in a scratch copy) and installs it into
    that PostgreSQL, when the installed library is missing or older than its source."""
    libdir = Path(subprocess.check_output([pg_config, "--pkglibdir"], text=True).strip())
    installed = libdir / "insforge_test_utils.so"
    source = TEST_UTILS / "insforge_test_utils.c"
    if installed.exists() and installed.stat().st_mtime >= source.stat().st_mtime:
        return
    with tempfile.TemporaryDirectory(prefix="insforge-test-utils-") as tmp:
        for f in ("insforge_test_utils.c", "Makefile"):
            shutil.copy(TEST_UTILS / f, tmp)
        make = ["make", "-s", "-C", tmp, f"PG_CONFIG={pg_config}", "with_llvm=no"]
        subprocess.run(make, check=True, stdout=subprocess.DEVNULL)
        sudo = [] if os.access(libdir, os.W_OK) else ["sudo"]
        subprocess.run(sudo + make + ["install"], check=True, stdout=subprocess.DEVNULL)


EXT = "insforge_integrations"


def crate_version() -> str:
    import re
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'^\[package\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S).group(1)


def frozen_scripts() -> list[Path]:
    """The released versions' own scripts in sql/ that an installation does not carry
    (scripts/common.sh, prune_unshipped_scripts): older install scripts, and update
    scripts between released versions."""
    current = crate_version()
    out = []
    for f in sorted((ROOT / "sql").glob(f"{EXT}--*.sql")):
        versions = f.name[len(EXT) + 2:-4].split("--")
        if versions[-1] != current:
            out.append(f)
    return out


@contextlib.contextmanager
def released_versions(pg_config: str = PG_CONFIG):
    """For the duration of the block, the released versions' frozen scripts sit in that
    PostgreSQL's extension directory, so that a test can CREATE EXTENSION ... VERSION
    '0.1.0' (or '0.2.0') and update from there. Removed afterwards: an installation never
    carries them (SECURITY.md, "Scripts")."""
    extdir = Path(subprocess.check_output([pg_config, "--sharedir"], text=True).strip()) / "extension"
    sudo = [] if os.access(extdir, os.W_OK) else ["sudo"]
    placed = []
    try:
        for f in frozen_scripts():
            target = extdir / f.name
            if not target.exists():
                subprocess.run(sudo + ["install", "-m", "0644", str(f), str(target)], check=True)
                placed.append(target)
        yield
    finally:
        if placed:
            subprocess.run(sudo + ["rm", "-f"] + [str(t) for t in placed], check=True)


def bindir() -> Path:
    return Path(subprocess.check_output([PG_CONFIG, "--bindir"], text=True).strip())


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["sudo", "-u", "postgres", "--"] + cmd
    return cmd


class Cluster:
    """initdb + postgres in a fresh directory; stop() removes nothing, cleanup() does."""

    def __init__(self, base: str | None = None, port: int | None = None, settings: dict | None = None,
                 insforge: bool = True, hba: str | None = None):
        self.base = Path(base or tempfile.mkdtemp(prefix="insforge-pg-"))
        self.data = self.base / "data"
        self.port = port or int(os.environ.get("INSFORGE_TEST_PORT", "55439"))
        self.settings = {
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.base}'",
            "fsync": "off",
            "max_connections": "60",
            "shared_buffers": "256MB",
        }
        self.settings.update(settings or {})
        # Configured like InsForge's cluster (INSFORGE_CONF, in postgresql.conf itself) unless asked not to.
        self.insforge = insforge
        # pg_hba.conf's whole text, written after initdb (default: initdb's, trust for everyone).
        self.hba = hba
        self.bin = bindir()

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "Cluster":
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                              "-E", "UTF8", "--locale=C"]),
                check=True, stdout=subprocess.DEVNULL)
            if self.insforge:
                install_test_utils()
                with open(self.data / "postgresql.conf", "a") as f:
                    f.write("\n# InsForge (deploy/docker-init/db/postgresql.conf), with the test stand-in for insforge_pg_utils\n")
                    for k, v in INSFORGE_CONF.items():
                        if k not in self.settings:
                            f.write(f"{k} = {v}\n")
            with open(self.data / "postgresql.auto.conf", "a") as f:
                for k, v in self.settings.items():
                    f.write(f"{k} = {v}\n")
            if self.hba is not None:
                (self.data / "pg_hba.conf").write_text(self.hba)
        subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", f"-p {self.port}",
                          "-l", str(self.base / "server.log"), "-w", "-t", "60", "start"]),
            check=True, stdout=subprocess.DEVNULL)
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join((self.base / "server.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # -- connections -----------------------------------------------------------
    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.base} port={self.port} dbname={dbname} user={user}"

    def connect(self, dbname: str = "postgres", user: str = "postgres", autocommit: bool = True,
                **kw) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname, user), autocommit=autocommit, **kw)

    def psql(self, dbname: str, sql: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.base),
                               "-p", str(self.port), "-U", "postgres", "-d", dbname, *extra],
                              input=sql, text=True, capture_output=True)

    def create_database(self, name: str, insforge: bool = True, extension: bool = True) -> None:
        """A database shaped like an InsForge project (roles, auth.jwt(), ...), optionally with the
        extension, created the way InsForge creates it: by project_admin (SET ROLE on a superuser's
        connection), which the cluster's insforge_test_utils runs as the bootstrap superuser."""
        with self.connect() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        with self.connect(name) as c:
            if insforge:
                c.execute((FIXTURES / "insforge_base.sql").read_text())
            if extension:
                with as_operator(c):
                    c.execute("CREATE EXTENSION insforge_integrations")


@contextlib.contextmanager
def as_operator(conn: psycopg.Connection):
    """Runs the block the way InsForge runs a project's SQL: in a transaction on the superuser's
    connection, after SET LOCAL ROLE project_admin and the claims InsForge sets for it (when the
    cluster is InsForge-like and the role exists; otherwise as the superuser)."""
    with conn.transaction():
        if conn.execute("select to_regrole('project_admin') is not null"
                        " and current_setting('insforge.extension_grant_role', true) is not null").fetchone()[0]:
            conn.execute("SET LOCAL ROLE project_admin")
            conn.execute("select set_config('request.jwt.claims', '{\"role\":\"project_admin\"}', true)")
        yield conn


@contextlib.contextmanager
def postgrest_request(conn: psycopg.Connection, claims: dict | str | None, role: str | None = None,
                      method: str = "GET", path: str = "/notes", token: str | None = None):
    """One request the way PostgREST 12 runs it: a transaction whose first statement
    sets role, request.jwt.claims, request.method, request.path and request.headers
    transaction-locally (with `authorization: Bearer <token>` when a token is given).
    Yields a cursor; commits when the block ends without error."""
    if isinstance(claims, dict):
        role = role or claims.get("role")
        claims_text = json.dumps(claims)
    else:
        claims_text = claims
    role = role or "anon"
    headers = {"accept": "application/json", "host": "localhost:3000"}
    if token is not None:
        headers["authorization"] = "Bearer " + token
    with conn.transaction():
        cur = conn.cursor()
        cur.execute(
            "select set_config('search_path', 'public', true), set_config('role', %s, true),"
            " set_config('request.jwt.claims', %s, true), set_config('request.method', %s, true),"
            " set_config('request.path', %s, true), set_config('request.headers', %s, true),"
            " set_config('request.cookies', '{}', true)",
            (role, claims_text if claims_text is not None else "", method, path, json.dumps(headers)))
        yield cur


@contextlib.contextmanager
def backend_request(conn: psycopg.Connection, claims: dict, role: str = "authenticated"):
    """One request the way InsForge's own backend runs it: SET LOCAL ROLE, then
    set_config('request.jwt.claims', ..., true)."""
    with conn.transaction():
        cur = conn.cursor()
        cur.execute(f'SET LOCAL ROLE "{role}"')
        cur.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        yield cur


def wait_ready(cluster: Cluster, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with cluster.connect():
                return
        except psycopg.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
