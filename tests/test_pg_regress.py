"""Runs the pg_regress transcripts in tests/pg_regress against the throwaway cluster."""
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pgcluster import PG_CONFIG  # noqa: E402

HERE = Path(__file__).resolve().parent / "pg_regress"
TESTS = sorted(p.stem for p in (HERE / "sql").glob("*.sql"))


def pg_regress() -> Path:
    pgxs = subprocess.check_output([PG_CONFIG, "--pgxs"], text=True).strip()
    return Path(pgxs).parent.parent / "test" / "regress" / "pg_regress"


@pytest.mark.parametrize("name", TESTS)
def test_transcript(cluster, name):
    out = Path(tempfile.mkdtemp(prefix="regress-"))
    # --use-existing: pg_regress neither creates the cluster nor the database.
    cluster.create_database(f"regress_{name}", extension=False)
    proc = subprocess.run(
        [str(pg_regress()), "--use-existing", f"--host={cluster.base}", f"--port={cluster.port}", "--user=postgres",
         f"--inputdir={HERE}", f"--outputdir={out}", f"--bindir={cluster.bin}", f"--dbname=regress_{name}", name],
        capture_output=True, text=True)
    diffs = out / "regression.diffs"
    assert proc.returncode == 0, proc.stdout + (diffs.read_text() if diffs.exists() else proc.stderr)
