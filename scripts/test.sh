#!/usr/bin/env bash
# Every test suite: formatting and lints, the pure core's unit tests, then the
# extension against a throwaway PostgreSQL 15 cluster (integration tests and
# pg_regress transcripts). Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

printf '\n== cargo fmt --check, cargo clippy -D warnings\n'
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings

printf '\n== cargo test -p insforge_core (pure Rust, no Postgres)\n'
cargo test -p insforge_core -q

printf '\n== pytest tests/ (integration + pg_regress, throwaway cluster)\n'
python3 -m pytest tests/ -q -p no:cacheprovider
