#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine, skipping
# what is already there, then builds and installs the extension into the local
# PostgreSQL 15. Safe to run again. Usage: bash scripts/setup.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
say() { printf '\n== %s\n' "$*"; }

missing=""
for p in postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if ! cargo pgrx --version 2>/dev/null | grep -q '0\.18\.0'; then
  say "cargo install cargo-pgrx 0.18.0 (about 8 minutes on 2 cores)"
  cargo install cargo-pgrx --version 0.18.0 --locked
fi
if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  say "cargo pgrx init --pg15 $PG_CONFIG"
  cargo pgrx init --pg15 "$PG_CONFIG"
fi

if ! python3 -c 'import psycopg, pytest, jwt, cryptography, eth_account, x402.mechanisms.evm.exact' 2>/dev/null; then
  say "pip install -r tools/requirements.txt"
  python3 -m pip install -q -r tools/requirements.txt
fi

say "cargo pgrx install ${1:-} (into $("$PG_CONFIG" --pkglibdir))"
install_flags=(--pg-config "$PG_CONFIG")
[ "${1:-}" = "--release" ] && install_flags+=(--release)
[ -n "$SUDO" ] && install_flags+=(--sudo)
log=$(mktemp)
if ! cargo pgrx install "${install_flags[@]}" >"$log" 2>&1; then
  cat "$log"; rm -f "$log"
  echo "setup.sh: cargo pgrx install failed" >&2
  exit 1
fi
grep -E '^\s*(error|warning)|Finished|Installing' "$log" || true
rm -f "$log"
# cargo pgrx installs only the current version's install script and the update
# scripts (sql/<ext>--A--B.sql); the released versions' install scripts
# (sql/<ext>--X.Y.Z.sql) are installed here, so older versions stay installable.
extdir="$("$PG_CONFIG" --sharedir)/extension"
for f in sql/insforge_integrations--*.sql; do
  case "$(basename "$f")" in
    insforge_integrations--*--*) ;;
    *) $SUDO install -m 644 "$f" "$extdir/" ;;
  esac
done
test -f "$extdir/insforge_integrations.control"
