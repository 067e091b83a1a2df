#!/usr/bin/env bash
# Install test without Rust (a CI step): builds the PostgreSQL 15 .deb
# (scripts/package.sh), takes the development install (what `cargo pgrx install`
# put into the system PostgreSQL 15) out of the way, installs the package with
# docker/install-package.sh (exactly what docker/Dockerfile runs in InsForge's
# image), then runs the pg_regress transcripts and the identity, JWT and ledger
# integration tests plus the extension update paths with no cargo, rustc or
# cargo-pgrx on PATH. Afterwards it always restores the machine: the package is
# purged and the development install put back byte for byte.
#
# Usage: bash scripts/package_test.sh [--no-build]
#   --no-build  use the .deb already in dist/ (scripts/test.sh builds it first)
# Everything that touches /usr/lib/postgresql/15 and /usr/share/postgresql/15
# runs under `flock $INSFORGE_PG15_LOCK` when that variable is set (see common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

PKG=postgresql-15-insforge-integrations
LIBDIR=/usr/lib/postgresql/15/lib
EXTDIR=/usr/share/postgresql/15/extension
# The update-path tests among them prove the package carries an update script from
# every released version (they install the released versions' own scripts, which the
# package does not ship, for their duration: tools/pgcluster.py released_versions()).
PACKAGE_TESTS=("${PORTABLE_TESTS[@]}")

ext_files() {
  local f
  for f in "$LIBDIR/$EXT.so" "$EXTDIR/$EXT.control" "$EXTDIR/$EXT"--*.sql; do
    [ -e "$f" ] && echo "$f"
  done
  return 0
}

# PATH without any directory that holds cargo, rustc or cargo-pgrx.
path_without_rust() {
  local dir out="" IFS=:
  for dir in $PATH; do
    [ -n "$dir" ] || continue
    if [ -e "$dir/cargo" ] || [ -e "$dir/rustc" ] || [ -e "$dir/cargo-pgrx" ]; then
      case "$dir" in
        /usr/bin|/bin|/usr/local/bin)
          echo "package_test.sh: $dir holds cargo/rustc and other tools the tests need; cannot hide Rust" >&2
          return 1 ;;
      esac
      continue
    fi
    out=${out:+$out:}$dir
  done
  echo "$out"
}

# -- the part that owns the system PostgreSQL 15 (run under the lock) ----------------
STASH=""  # global: the EXIT trap runs after locked_part has returned
restore() {
  local rc=$? f stash=$STASH
  say "restore: purge $PKG, put the development install back"
  if dpkg -s "$PKG" >/dev/null 2>&1; then dpkg -P "$PKG" >/dev/null; fi
  if [ -n "$(ext_files)" ]; then
    echo "package_test.sh: extension files left after dpkg -P:" >&2
    ext_files >&2
    rc=1
  fi
  if [ -n "$stash" ] && [ -s "$stash/list" ]; then
    while IFS= read -r f; do
      mv "$stash/files/$(basename "$f")" "$f"
    done < "$stash/list"
    sed 's/^/  restored /' "$stash/list"
  fi
  [ -z "$stash" ] || rm -rf "$stash"
  exit $rc
}

locked_part() {
  local deb=$1 stash f
  stash=$(mktemp -d /tmp/insforge-devinstall.XXXXXX)
  STASH=$stash
  trap restore EXIT
  trap 'exit 130' INT TERM

  # A package left installed by an interrupted run goes first.
  if dpkg -s "$PKG" >/dev/null 2>&1; then
    say "purging $PKG left by an earlier run"
    dpkg -P "$PKG" >/dev/null
  fi
  say "moving the development install out of PostgreSQL 15 (to $stash)"
  mkdir -p "$stash/files"
  : > "$stash/list"
  while IFS= read -r f; do
    if dpkg -S "$f" >/dev/null 2>&1; then
      echo "package_test.sh: $f belongs to package $(dpkg -S "$f" | cut -d: -f1); not a development install" >&2
      exit 1
    fi
    mv "$f" "$stash/files/"
    echo "$f" >> "$stash/list"
  done < <(ext_files)
  sed 's/^/  moved /' "$stash/list"

  say "sh docker/install-package.sh $deb (the Dockerfile's install step)"
  sh docker/install-package.sh "$deb"
  while IFS= read -r f; do
    dpkg -S "$f" 2>/dev/null | grep -q "^$PKG: " || {
      echo "package_test.sh: $f is not from $PKG" >&2
      exit 1
    }
  done < <(ext_files)

  local nopath
  nopath=$(path_without_rust)
  say "tests against the package, without Rust: ${PACKAGE_TESTS[*]}"
  env -u CARGO -u CARGO_HOME -u RUSTUP_HOME -u PGRX_HOME -u RUSTC PATH="$nopath" \
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config bash -c '
      set -euo pipefail
      for tool in cargo rustc cargo-pgrx; do
        if command -v "$tool"; then echo "package_test.sh: $tool is still on PATH" >&2; exit 1; fi
        echo "command -v $tool: not found"
      done
      exec python3 -m pytest -q -p no:cacheprovider "$@"' _ "${PACKAGE_TESTS[@]}"
}

if [ "${1:-}" = --locked-part ]; then
  locked_part "$2"
  exit 0
fi

deb="dist/${PKG}_$(crate_version)_$(dpkg --print-architecture).deb"

# docker/Dockerfile (which cannot be built here: no Docker engine) must copy this
# very .deb and install it with this very script.
copied=$(sed -n 's#^COPY \(dist/[^ ]*\.deb\) .*#\1#p' docker/Dockerfile)
copied=${copied//'${PACKAGE_VERSION}'/$(crate_version)}
[ "$copied" = "$deb" ] || { echo "package_test.sh: docker/Dockerfile copies '$copied', not $deb" >&2; exit 1; }
grep -q '^RUN sh /tmp/insforge-integrations/install-package.sh /tmp/insforge-integrations/\*\.deb' docker/Dockerfile || {
  echo "package_test.sh: docker/Dockerfile does not install with docker/install-package.sh" >&2
  exit 1
}
if [ "${1:-}" != --no-build ]; then
  bash scripts/package.sh --pg 15
fi
[ -f "$deb" ] || { echo "package_test.sh: $deb not found (bash scripts/package.sh --pg 15)" >&2; exit 1; }
with_pg15_lock bash scripts/package_test.sh --locked-part "$deb"
