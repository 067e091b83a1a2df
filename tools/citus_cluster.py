"""A throwaway Citus cluster on this machine: a coordinator and two workers, configured like an
InsForge project database (see ../shared/INSFORGE.md and docs/citus.md).

Every node is a tools/pgcluster.Cluster of the PostgreSQL that $PG_CONFIG names (scripts/citus.sh
builds Citus into it), listening on 127.0.0.1 and on a Unix socket of its own:

  coordinator  port P (default $INSFORGE_TEST_PORT, else 55610)
  worker 1     port P + 1
  worker 2     port P + 2

Each node preloads `citus` first, then pgcrypto and insforge_test_utils (the test stand-in for
InsForge's insforge_pg_utils: project_admin's CREATE EXTENSION runs as the bootstrap superuser),
and has InsForge's insforge.* settings. The database (`insforge` by default) gets InsForge's
roles and helpers (tools/fixtures/insforge_base.sql: anon, authenticated and project_admin
NOLOGIN, authenticator LOGIN) on the coordinator, from where Citus propagates them, and the
extension is created on the coordinator by project_admin through the hook; Citus propagates it.

The login hardening of docs/citus.md, on by default (`hardened=True`):
  * anon, authenticated and project_admin get LOGIN with a password (Citus connects to the
    workers as the current role, so NOLOGIN makes every distributed query fail);
  * the coordinator keeps those passwords in pg_dist_authinfo (superuser-only), which Citus uses
    for its connections to the workers;
  * every node's pg_hba.conf rejects those roles on the Unix socket and accepts them over TCP
    from the coordinator's address only with scram-sha-256 (on one machine that address is
    127.0.0.1 for everyone, so the password is what tells the coordinator apart here);
  * `verified_workers=True` also sets insforge_integrations.claims_source = verified on the
    workers (ALTER SYSTEM): claims written by hand on a worker identify nobody, only a bearer
    token that verifies with the stored key does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from pgcluster import FIXTURES, PG_CONFIG, Cluster, as_operator

CLIENT_ROLES = ("anon", "authenticated", "project_admin")


def citus_installed(pg_config: str = PG_CONFIG) -> bool:
    """Whether Citus (citus.so and its control file) is installed into that PostgreSQL."""
    try:
        libdir = subprocess.check_output([pg_config, "--pkglibdir"], text=True).strip()
        sharedir = subprocess.check_output([pg_config, "--sharedir"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return (Path(libdir) / "citus.so").exists() and (Path(sharedir) / "extension" / "citus.control").exists()


def hba_text(hardened: bool) -> str:
    """pg_hba.conf of every node. The superuser connects over the socket and, for Citus's own
    node-to-node connections, over 127.0.0.1 (a real deployment uses certificates or a password
    there too). Hardened: the client roles only over TCP with scram-sha-256."""
    roles = ",".join(CLIENT_ROLES)
    lines = [
        "# TYPE  DATABASE  USER      ADDRESS        METHOD",
        "local   all       postgres                 trust",
        "host    all       postgres  127.0.0.1/32   trust",
    ]
    if hardened:
        lines += [
            f"local   all       {roles}                 reject",
            f"host    all       {roles}  127.0.0.1/32   scram-sha-256",
            f"host    all       {roles}  all            reject",
        ]
    lines += [
        "local   all       all                      trust",
        "host    all       all       127.0.0.1/32   trust",
    ]
    return "\n".join(lines) + "\n"


class CitusCluster:
    def __init__(self, base: str | None = None, port: int | None = None, workers: int = 2,
                 hardened: bool = True, verified_workers: bool = False, dbname: str = "insforge",
                 settings: dict | None = None, shard_count: int = 32, before_extension: str | None = None):
        self.base = Path(base or tempfile.mkdtemp(prefix="insforge-citus-"))
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)  # the servers run as the postgres OS user
        self.port = port or int(os.environ.get("INSFORGE_TEST_PORT", "55610"))
        self.dbname = dbname
        self.hardened = hardened
        self.verified_workers = verified_workers
        self.shard_count = shard_count
        # SQL run by project_admin on the coordinator before CREATE EXTENSION (e.g. the guide's
        # SQL helper public.requesting_user_id(), which the extension then leaves alone).
        self.before_extension = before_extension
        # One password per client role, for pg_dist_authinfo; a test that plays the attacker who
        # stole one reads it from here.
        self.passwords = {r: secrets.token_urlsafe(24) for r in CLIENT_ROLES}
        common = {
            "shared_preload_libraries": "'citus,pgcrypto,insforge_test_utils'",
            "listen_addresses": "'127.0.0.1'",
            "max_connections": "200",
            "max_prepared_transactions": "100",
            "shared_buffers": "256MB",
            "citus.local_hostname": "'127.0.0.1'",
            # Node-to-node connections on one machine: no TLS handshake per connection.
            "citus.node_conninfo": "'sslmode=disable'",
            "citus.shard_count": str(shard_count),
            "password_encryption": "'scram-sha-256'",
        }
        common.update(settings or {})
        hba = hba_text(hardened)
        self.coordinator = Cluster(base=str(self.base / "coordinator"), port=self.port, settings=dict(common), hba=hba)
        self.workers = [
            Cluster(base=str(self.base / f"worker{i + 1}"), port=self.port + 1 + i, settings=dict(common), hba=hba)
            for i in range(workers)
        ]

    @property
    def nodes(self) -> list[Cluster]:
        return [self.coordinator, *self.workers]

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "CitusCluster":
        for node in self.nodes:
            try:
                node.start()
            except subprocess.CalledProcessError as e:
                raise RuntimeError(f"node on port {node.port} did not start:\n{node.log_tail()}") from e
        self._create_database()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def cleanup(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def restart_worker(self, i: int, mode: str = "fast") -> None:
        """Stops worker i (0-based) and starts it again."""
        w = self.workers[i]
        w.stop(mode)
        w.start()

    def _create_database(self) -> None:
        self.create_database(self.dbname, self.before_extension)
        if self.verified_workers:
            self.set_worker_claims_source("verified")

    def create_database(self, dbname: str, before_extension: str | None = None) -> None:
        """A database on every node with Citus, the workers registered, InsForge's roles and
        helpers, the hardening's pg_dist_authinfo rows (roles and passwords are cluster-wide),
        and the extension created by project_admin on the coordinator."""
        for node in self.nodes:
            with node.connect() as c:
                c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
                c.execute(f'CREATE DATABASE "{dbname}" TEMPLATE template0')
            with node.connect(dbname) as c:
                c.execute("CREATE EXTENSION citus")
        with self.coordinator.connect(dbname) as c:
            c.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", (self.port,))
            for w in self.workers:
                c.execute("SELECT citus_add_node('127.0.0.1', %s)", (w.port,))
            # InsForge's roles and helpers; Citus propagates roles, schemas and functions.
            c.execute((FIXTURES / "insforge_base.sql").read_text())
            if self.hardened:
                for role, password in self.passwords.items():
                    c.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
                    c.execute("INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, %s, %s)",
                              (role, f"password={password}"))
            else:
                for role in CLIENT_ROLES:
                    c.execute(f'ALTER ROLE "{role}" LOGIN')
            if before_extension:
                with as_operator(c):
                    c.execute(before_extension)
            with as_operator(c):
                c.execute("CREATE EXTENSION insforge_integrations")

    def set_worker_claims_source(self, value: str) -> None:
        """insforge_integrations.claims_source on every worker (ALTER SYSTEM + reload): the
        platform operator's setting, not propagated by Citus."""
        for w in self.workers:
            with w.connect(self.dbname) as c:
                c.execute("LOAD 'insforge_integrations'")  # defines the setting in this backend
                c.execute(f"ALTER SYSTEM SET insforge_integrations.claims_source = '{value}'")
                c.execute("SELECT pg_reload_conf()")
        time.sleep(0.3)

    # -- connections -----------------------------------------------------------
    def connect(self, user: str = "postgres", autocommit: bool = True, dbname: str | None = None,
                **kw) -> psycopg.Connection:
        """A connection to the coordinator's database."""
        return self.coordinator.connect(dbname or self.dbname, user, autocommit=autocommit, **kw)

    def worker_tcp_conninfo(self, i: int, user: str, password: str | None = None) -> str:
        info = f"host=127.0.0.1 port={self.workers[i].port} dbname={self.dbname} user={user} sslmode=disable"
        if password is not None:
            info += f" password={password}"
        return info

    @contextlib.contextmanager
    def operator(self, dbname: str | None = None):
        """A coordinator connection running as project_admin for the block (InsForge's dashboard:
        session-level SET ROLE on the superuser's connection, claims {"role": "project_admin"})."""
        with self.connect(dbname=dbname) as c:
            c.execute("SET ROLE project_admin")
            c.execute("SELECT set_config('request.jwt.claims', %s, false)", (json.dumps({"role": "project_admin"}),))
            yield c


def main() -> None:
    """python3 tools/citus_cluster.py: starts a cluster, prints how to reach it, waits for Ctrl-C."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--verified-workers", action="store_true")
    args = ap.parse_args()
    cluster = CitusCluster(port=args.port, verified_workers=args.verified_workers).start()
    print(f"coordinator: psql -h {cluster.coordinator.base} -p {cluster.port} -U postgres {cluster.dbname}")
    for i, w in enumerate(cluster.workers):
        print(f"worker {i + 1}: psql -h {w.base} -p {w.port} -U postgres {cluster.dbname}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    main()
