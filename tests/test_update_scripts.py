"""The update scripts are generated (tools/gen_update.py): each committed
sql/insforge_integrations--A--<current>.sql must be exactly what the generator makes from the
frozen install script of A, sql/update/A--<current>/ and the current install script (the
installed one, which the suite runs against)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_committed_update_scripts_are_generated_fresh():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_update.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
