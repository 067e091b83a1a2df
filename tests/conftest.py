"""One throwaway PostgreSQL 15 cluster for the whole test session (see tools/pgcluster.py).

The extension must already be installed into that PostgreSQL (scripts/test.sh does it).
"""
import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pgcluster import Cluster  # noqa: E402

# tests/citus/ needs a PostgreSQL with Citus and starts three servers: it runs in the Citus
# lane only (scripts/citus.sh sets INSFORGE_CITUS_TESTS=1), never in `pytest tests/`.
collect_ignore = [] if os.environ.get("INSFORGE_CITUS_TESTS") == "1" else ["citus"]

# One user per provider, with the id shapes the guides produce (shared/INSFORGE.md).
PROVIDER_USERS = {
    "clerk": "user_2xPnG8KxVQrT5mZbN3aHcLdE9fJ",
    "auth0": "auth0|64b1f0c2e4a7d9b3c5e6f708",
    "auth0_google": "google-oauth2|109876543210987654321",
    "workos": "user_01HZX3K5M7N9P1Q3R5S7T9V1W3",
    "kinde": "kp_0123456789abcdef0123456789abcdef",
    "stytch": "user-test-8b6a1f5e-2c3d-4e5f-9a0b-1c2d3e4f5a6b",
    "better_auth": "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
    "insforge": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}


def claims_for(sub, **extra):
    c = {"sub": sub, "role": "authenticated", "aud": "insforge-api", "exp": 4102444800}
    c.update(extra)
    return c


@pytest.fixture(scope="session")
def cluster():
    c = Cluster(settings={"max_worker_processes": "8", "max_parallel_workers": "4"})
    c.start()
    try:
        yield c
    finally:
        c.cleanup()


@pytest.fixture
def db(cluster):
    """A fresh InsForge-shaped database with the extension installed; yields its name."""
    name = "t_" + uuid.uuid4().hex[:12]
    cluster.create_database(name)
    yield name
    with cluster.connect() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
