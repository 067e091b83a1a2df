#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs the demo against a throwaway PostgreSQL 15
# cluster: InsForge's roles, a notes table with the guides' owner policies, and
# requests from users of every provider. Exits non-zero when anything is off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python3 tools/demo.py "$@"
