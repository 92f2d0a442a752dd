#!/usr/bin/env bash
# Builds vitd_VERSION_ARCH.deb from this source tree with Debian's own tools: meson (prefix
# /usr, Debian's build flags), a DESTDIR install, dpkg-shlibdeps for Depends:, dpkg-deb --build,
# then lintian (failing on errors).
#
#   bash tools/package/build-deb.sh [amd64|arm64|all] [OUTDIR]    (OUTDIR default: build-deb/)
#
# ARCH defaults to this machine's (amd64); `all` builds amd64, then arm64. arm64 is cross-built
# with Debian's cross toolchain and tools/cross/arm64.ini. On a Debian 12 amd64 host that runs
# in the cached root of tools/cross/root.sh (as root; made once, about 10 minutes), because
# libgstreamer-plugins-base1.0-dev cannot be installed for amd64 and arm64 at once; where the
# :arm64 -dev packages are installed (as in that root) it runs directly.
#
# The build tree OUTDIR/ARCH/build is kept between runs (incremental); OUTDIR/ARCH/root is the
# package's file tree, laid anew each run. Prints the .deb's path last.
set -euo pipefail
arch=${1:-$(dpkg --print-architecture)}
src=$(cd "$(dirname "$0")/../.." && pwd)
pkgdir=$src/tools/package
outdir=$(mkdir -p "${2:-$src/build-deb}" && cd "${2:-$src/build-deb}" && pwd)
work=$outdir/$arch
build=$work/build
root=$work/root

# The changelog's date and commit, from git here (the cross root has no git).
export VITD_SOURCE_DATE=${VITD_SOURCE_DATE:-$(git -C "$src" log -1 --format=%aD 2>/dev/null || date -R)}
export VITD_SOURCE_COMMIT=${VITD_SOURCE_COMMIT:-$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo 'a source tree')}

if [ "$arch" = all ]; then
  bash "$0" "$(dpkg --print-architecture)" "$outdir"
  exec bash "$0" arm64 "$outdir"
fi
if [ "$arch" != "$(dpkg --print-architecture)" ] &&
  ! dpkg-query -W -f='${db:Status-Status}' "libgstreamer-plugins-base1.0-dev:$arch" 2>/dev/null |
  grep -qx installed; then
  echo "build-deb: cross-building for $arch in tools/cross/root.sh's Debian 12 root" >&2
  exec bash "$src/tools/cross/root.sh" "$arch" --bind "$outdir" -- \
    bash "$src/tools/package/build-deb.sh" "$arch" "$outdir"
fi

cross=()
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  cross=(--cross-file "$src/tools/cross/$arch.ini")
fi
# Debian's hardening and optimisation flags for the target (-O2 -g, stack protector, relro,
# fortify); libvit adds its own -O3 for the kernels.
eval "$(DEB_HOST_ARCH=$arch DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"

# libdir: the multiarch path, where GStreamer looks for plugins (meson picks it itself only
# for native builds).
multiarch=$(dpkg-architecture -a"$arch" -qDEB_HOST_MULTIARCH 2>/dev/null)
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" "${cross[@]}" --prefix=/usr --libdir="lib/$multiarch" \
    --sysconfdir=/etc --localstatedir=/var --buildtype=plain -Dtests=false -Dnative=false \
    -Dwerror=false
fi
meson compile -C "$build"
rm -rf "$root"
DESTDIR=$root meson install -C "$build" --no-rebuild --quiet

version=$(meson introspect --projectinfo "$build" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')-1

# Debian 12 keeps units under /lib (the /usr merge is not yet dpkg's business).
if [ -d "$root/usr/lib/systemd/system" ]; then
  mkdir -p "$root/lib/systemd"
  mv "$root/usr/lib/systemd/system" "$root/lib/systemd/system"
  rmdir --ignore-fail-on-non-empty "$root/usr/lib/systemd"
fi

# Strip ELF files (debug info stays in the build tree), with the target's strip.
strip=strip
[ "${#cross[@]}" -gt 0 ] && strip=$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_TYPE 2>/dev/null)-strip
find "$root" -type f \( -perm -u+x -o -name '*.so' \) -print0 | while IFS= read -r -d '' f; do
  if head -c4 "$f" | grep -q ELF; then
    "$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$f"
  fi
done
find "$root" -type f -name '*.a' -exec "$strip" --strip-debug --enable-deterministic-archives {} +
find "$root" -type f -name '*.so' -exec chmod 0644 {} + # loaded, not run
# Manual pages compressed, as Debian ships them.
find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +

# Documentation Debian requires beside the README meson installs.
doc=$root/usr/share/doc/vitd
install -m 0644 "$pkgdir/copyright" "$doc/copyright"
printf 'vitd (%s) bookworm; urgency=medium\n\n  * Built by tools/package/build-deb.sh from %s.\n\n -- vitd developers <vitd@example.org>  %s\n' \
  "$version" "$VITD_SOURCE_COMMIT" "$VITD_SOURCE_DATE" |
  gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

# Control area: maintainer scripts, every file under /etc as a conffile, md5sums.
mkdir -p "$root/DEBIAN"
install -m 0755 "$pkgdir/postinst" "$pkgdir/prerm" "$pkgdir/postrm" "$root/DEBIAN/"
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"

# Depends: the shared libraries the ELF files link (dpkg-shlibdeps needs a debian/control to
# read, so it runs in a scratch directory), plus what is used without being linked.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/debian"
printf 'Source: vitd\n\nPackage: vitd\nArchitecture: any\n' >"$scratch/debian/control"
mapfile -t elves < <(find "$root" -path "$root/DEBIAN" -prune -o -type f -print |
  while read -r f; do head -c4 "$f" | grep -q ELF && echo "$f"; done)
shlibs=$(cd "$scratch" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O -e"${elves[@]}" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
depends="$shlibs, systemd, dbus, gstreamer1.0-plugins-base"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
  -e "s|@DEPENDS@|$depends|" "$pkgdir/control.in" >"$root/DEBIAN/control"

deb=$outdir/vitd_${version}_$arch.deb
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
lintian --fail-on error "$deb" >&2 || {
  echo "build-deb: lintian found errors in $deb" >&2
  exit 1
}
echo "$deb"
