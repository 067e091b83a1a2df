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


def main() -> int:
    """python3 tests/test_pg_regress.py [--accept] [NAME ...]: runs transcripts on a throwaway
    cluster and prints the differences; --accept writes the results as the new expected output
    (read the diff first: the transcript is documentation)."""
    import argparse
    import shutil

    from pgcluster import Cluster

    ap = argparse.ArgumentParser()
    ap.add_argument("--accept", action="store_true")
    ap.add_argument("names", nargs="*", default=TESTS)
    args = ap.parse_args()
    cluster = Cluster(port=55498)
    cluster.start()
    failed = 0
    try:
        for name in args.names:
            out = Path(tempfile.mkdtemp(prefix="regress-"))
            cluster.create_database(f"regress_{name}", extension=False)
            proc = subprocess.run(
                [str(pg_regress()), "--use-existing", f"--host={cluster.base}", f"--port={cluster.port}",
                 "--user=postgres", f"--inputdir={HERE}", f"--outputdir={out}", f"--bindir={cluster.bin}",
                 f"--dbname=regress_{name}", name], capture_output=True, text=True)
            diffs = out / "regression.diffs"
            if proc.returncode == 0:
                print(f"{name}: ok")
                continue
            failed += 1
            print(diffs.read_text() if diffs.exists() else proc.stdout + proc.stderr)
            if args.accept:
                shutil.copy(out / "results" / f"{name}.out", HERE / "expected" / f"{name}.out")
                print(f"{name}: accepted")
    finally:
        cluster.cleanup()
    return 1 if failed and not args.accept else 0


if __name__ == "__main__":
    sys.exit(main())
