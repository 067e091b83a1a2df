#!/usr/bin/env bash
# Every benchmark, one table of ratios (baselines measured in the same run).
# Builds and installs a release first. Usage: bash scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --release
exec python3 benches/run_all.py "$@"
