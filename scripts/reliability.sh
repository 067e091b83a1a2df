#!/usr/bin/env bash
# The long reliability run: a pgbench load on the settlement ledger with repeats and
# deliberate conflicts (57,000 transactions, about a minute here), then about a minute of psycopg
# load with 6 kill -9 crash cycles (one every ~10 s), then the settlement journal under pgbench
# (begin, settle / fail / second transaction / app died, retries, then reconciliation), on a throwaway
# PostgreSQL 15 cluster (fsync=on, Unix socket, port 55459). Prints the numbers; exit 1 on any
# lost row, duplicate or undocumented error. Then the short versions of every reliability test
# (concurrency, crashes, dump/restore and update paths, hot standby: ports 55455-55458).
#
#   bash scripts/reliability.sh                  # the defaults below
#   HASHES=100000 CRASH_CYCLES=30 bash scripts/reliability.sh     # longer
# The first run signs the HASHES payments with eth-account (pure Python, a minute or two on
# 2 cores) and caches them in /tmp/insforge-reliability-cache.
#
# The extension must be installed first (bash scripts/setup.sh, or
# cargo pgrx install --pg-config /usr/lib/postgresql/15/bin/pg_config).
set -euo pipefail
cd "$(dirname "$0")/.."

CRASH_CYCLES=${CRASH_CYCLES:-6}
CRASH_EVERY=${CRASH_EVERY:-10}
HASHES=${HASHES:-30000}
CLIENTS=${CLIENTS:-4}
WORKERS=${WORKERS:-4}
JSON=${JSON:-/tmp/insforge-reliability.json}

printf '== long run: benches/settlement_load.py\n'
python3 benches/settlement_load.py --crash-cycles "$CRASH_CYCLES" \
    --crash-every "$CRASH_EVERY" --hashes "$HASHES" --clients "$CLIENTS" --workers "$WORKERS" --json "$JSON"

if [ "${SKIP_PYTEST:-0}" != 1 ]; then
    printf '\n== short versions: pytest tests/integration/test_reliability.py\n'
    python3 -m pytest tests/integration/test_reliability.py -q -p no:cacheprovider -rxX
fi
