"""The Citus lane's tests (scripts/citus.sh): one cluster of a coordinator and two workers for the
whole session (tools/citus_cluster.py), hardened as docs/citus.md says, with the guide's SQL
helper public.requesting_user_id() in place before CREATE EXTENSION (as in a project that
followed a guide first).

Collected only when INSFORGE_CITUS_TESTS=1 (tests/conftest.py), and skipped, with the reason,
when Citus is not installed into $PG_CONFIG's PostgreSQL. At the end the terminal summary prints
the matrix of query shapes by identity function."""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from citus_cluster import CitusCluster, citus_installed  # noqa: E402
from pgcluster import PG_CONFIG  # noqa: E402

from citus_helpers import GUIDE_HELPER, POLICY_FUNCTIONS, SECRET, create_notes  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if citus_installed():
        return
    skip = pytest.mark.skip(reason=f"Citus is not installed into {PG_CONFIG} (bash scripts/citus.sh builds it)")
    for item in items:
        if "citus" in Path(str(item.fspath)).parts:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def citus():
    c = CitusCluster(before_extension=GUIDE_HELPER)
    c.start()
    try:
        with c.operator() as op:
            op.execute("SELECT insforge.set_jwt_secret(%s)", (SECRET,))
        yield c
    finally:
        c.cleanup()


# -- the matrix in the terminal summary --------------------------------------------------------------------
MATRIX: dict[tuple[str, str], str] = {}


def pytest_runtest_logreport(report):
    m = re.search(r"::test_shape\[([^\]-]+)-([^\]]+)\]$", report.nodeid)
    if not m:
        return
    key = (m.group(2), m.group(1))  # (shape, function)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        MATRIX[key] = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}[report.outcome]


def pytest_terminal_summary(terminalreporter):
    if not MATRIX:
        return
    shapes = list(dict.fromkeys(s for s, _ in MATRIX))
    functions = list(dict.fromkeys(f for _, f in MATRIX))
    tr = terminalreporter
    tr.section("Citus: query shape x identity function (exactly the user's rows, no leak)")
    width = max(len(s) for s in shapes) + 2
    tr.write_line("".ljust(width) + "".join(f.ljust(12) for f in functions))
    for s in shapes:
        tr.write_line(s.ljust(width) + "".join(MATRIX.get((s, f), "-").ljust(12) for f in functions))


# The test tables (citus_helpers.POLICY_FUNCTIONS), created once.
@pytest.fixture(scope="session")
def tables(citus):
    """{function name: table}; the tables are the operator's (project_admin), as in InsForge."""
    with citus.operator() as op:
        op.execute("CREATE SCHEMA guide")
        op.execute("GRANT USAGE ON SCHEMA guide TO anon, authenticated")
        op.execute("CREATE FUNCTION guide.requesting_user_id() RETURNS text LANGUAGE sql STABLE"
                   " AS $$ SELECT auth.jwt() ->> 'sub' $$")
        out = {}
        for name, function in POLICY_FUNCTIONS.items():
            create_notes(op, f"notes_{name}", function)
            out[name] = f"notes_{name}"
        create_notes(op, "notes_local", POLICY_FUNCTIONS["native"], distribute=False)
        # The guide's helper was there before CREATE EXTENSION, so it is still SQL; adopting
        # it is the operator's call (outside a transaction block on Citus).
        assert "adopted" in op.execute("SELECT insforge.adopt_requesting_user_id()").fetchone()[0]
    return out
