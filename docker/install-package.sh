#!/bin/sh
# Installs the Debian package scripts/package.sh builds, then checks the result.
# The one install procedure: docker/Dockerfile runs it in InsForge's image and
# scripts/package_test.sh runs it on the test machine, so what CI tests is what the
# image does. POSIX sh, root, no network, no Rust.
# Usage: sh docker/install-package.sh postgresql-NN-insforge-integrations_VERSION_ARCH.deb
set -eu
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "install-package.sh: give exactly one .deb (got: $*); if dist/ holds several versions, pick one" >&2
  exit 2
fi
deb=$1
pkg=$(dpkg-deb --field "$deb" Package)
pg=$(echo "$pkg" | sed -n 's/^postgresql-\([0-9][0-9]*\)-insforge-integrations$/\1/p')
[ -n "$pg" ] || { echo "install-package.sh: $deb is not a postgresql-NN-insforge-integrations package" >&2; exit 2; }

# dpkg, not apt: the only dependency (postgresql-NN, plus libc6/libgcc-s1) is
# already installed wherever PostgreSQL NN runs from Debian or PGDG packages.
dpkg -i "$deb"

lib=/usr/lib/postgresql/$pg/lib/insforge_integrations.so
ext=/usr/share/postgresql/$pg/extension
control=$ext/insforge_integrations.control
for f in "$lib" "$control"; do
  [ -f "$f" ] || { echo "install-package.sh: $f missing after dpkg -i" >&2; exit 1; }
done
default=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$control")
[ -f "$ext/insforge_integrations--$default.sql" ] || {
  echo "install-package.sh: no install script for default_version '$default'" >&2
  exit 1
}
if ldd "$lib" | grep -q 'not found'; then
  ldd "$lib" >&2
  echo "install-package.sh: $lib needs libraries this system lacks" >&2
  exit 1
fi
# pg_config (postgresql-client-NN) agrees on where PostgreSQL NN looks.
if [ -x "/usr/lib/postgresql/$pg/bin/pg_config" ]; then
  [ "$("/usr/lib/postgresql/$pg/bin/pg_config" --pkglibdir)" = "/usr/lib/postgresql/$pg/lib" ] || {
    echo "install-package.sh: PostgreSQL $pg's pkglibdir is not /usr/lib/postgresql/$pg/lib" >&2
    exit 1
  }
fi
dpkg-query -W -f='installed ${Package} ${Version}: ${Status}\n' "$pkg"
for f in "$ext"/insforge_integrations*; do echo "  $f"; done
