#!/usr/bin/env bash
# Runs a command in a Debian 12 root made for cross-building vitd to another architecture:
#
#   bash tools/cross/root.sh ARCH [--bind DIR]... -- COMMAND [ARG...]     (as root; ARCH: arm64)
#
# Why a root: on Debian 12 libgstreamer-plugins-base1.0-dev:arm64 and :amd64 cannot be
# installed together (apt removes one for the other), and the machine's own build needs the
# amd64 one. The root is amd64 with ARCH as a foreign architecture and holds only the :ARCH
# -dev packages, Debian's cross toolchain (crossbuild-essential-ARCH), meson, dpkg-dev and
# lintian, and python3-torch + numpy (the test fixtures are computed on the build machine).
#
# It is made once with mmdebstrap from this machine's apt sources (about 1.2 GB to download)
# and cached as a tarball ($VITD_CROSS_CACHE, default /var/cache/vitd-test/bookworm-cross-ARCH.tar,
# beside test-install.sh's root), then unpacked into /var/tmp/vitd-cross-ARCH (again whenever the
# tarball is newer). Each run gets a mount namespace of its own (unshare), so nothing stays
# mounted afterwards: /proc, /sys, /dev, an empty /tmp, this source tree and every --bind DIR at
# their own paths (so meson build trees are valid inside and out), and this machine's
# qemu-CPU-static, through which the cross file's exe_wrapper runs ARCH programs (no
# binfmt_misc registration needed). COMMAND runs with a clean environment (PATH, HOME, LANG, and
# any VITD_* variable passed on) in the current directory, or the source tree if it is not bound.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${1:-}" != --in-namespace ]; then
  [ "$(id -u)" = 0 ] || { echo "cross-root: must run as root (chroot, mounts)" >&2; exit 2; }
  exec unshare --mount --propagation private -- "$0" --in-namespace "$@"
fi
shift
arch=${1:?usage: root.sh ARCH [--bind DIR]... -- COMMAND...}
shift
binds=("$src")
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case $1 in
    --bind) binds+=("$(realpath "$2")"); shift 2 ;;
    *) echo "cross-root: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "cross-root: no COMMAND" >&2; exit 2; }

cpu=$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_CPU 2>/dev/null)
qemu=/usr/bin/qemu-$cpu-static
[ -x "$qemu" ] || { echo "cross-root: $qemu missing (apt-get install qemu-user-static)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "cross-root: mmdebstrap missing" >&2; exit 2; }

# What vitd links, as :ARCH -dev packages (tools/setup-debian.sh lists the native ones), plus the
# GStreamer base plugins the element tests play.
target_pkgs=(pkgconf libopenblas-dev libjansson-dev libyaml-dev libsystemd-dev check libpng-dev
  libjpeg-dev libpango1.0-dev libcairo2-dev libglib2.0-dev libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev libmosquitto-dev zlib1g-dev gstreamer1.0-plugins-base)
build_pkgs=(crossbuild-essential-"$arch" gcc meson ninja-build pkgconf python3 python3-numpy
  python3-torch dpkg-dev lintian file)

cache=${VITD_CROSS_CACHE:-/var/cache/vitd-test/bookworm-cross-$arch.tar}
if [ ! -s "$cache" ]; then
  sources=/etc/apt/sources.list.d/debian.sources
  [ -f "$sources" ] || sources=/etc/apt/sources.list
  include=$(IFS=,; echo "${build_pkgs[*]}")
  for p in "${target_pkgs[@]}"; do include+=",$p:$arch"; done
  mkdir -p "$(dirname "$cache")"
  echo "cross-root: creating $cache (mmdebstrap, several minutes)" >&2
  mmdebstrap --quiet --variant=apt --architectures="amd64,$arch" --include="$include" \
    bookworm "$cache.tmp" "$sources" >&2
  mv "$cache.tmp" "$cache"
fi

root=/var/tmp/vitd-cross-$arch
if [ ! -f "$root/.unpacked" ] || [ "$cache" -nt "$root/.unpacked" ]; then
  echo "cross-root: unpacking $cache into $root" >&2
  rm -rf --one-file-system "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$cache"
  touch "$root/.unpacked"
fi

# This namespace's mounts; they go when the command ends.
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
touch "$root$qemu"
mount --bind "$qemu" "$root$qemu"
for d in "${binds[@]}"; do
  mkdir -p "$root$d"
  mount --rbind "$d" "$root$d"
done

cwd=$src
for d in "${binds[@]}"; do
  case $PWD/ in "$d"/*) cwd=$PWD ;; esac
done
env=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
while IFS= read -r v; do env+=("$v"); done < <(env | grep '^VITD_' || true)
exec chroot "$root" /usr/bin/env -i "${env[@]}" sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@"
