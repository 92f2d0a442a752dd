#!/usr/bin/env bash
# Installs a vitd .deb into a fresh Debian 12 root with apt, as a user would, and runs it there:
#
#   bash tools/package/test-install.sh build-deb/vitd_0.1.0-1_amd64.deb
#
# The root is `mmdebstrap --variant=apt bookworm` from this machine's configured archive
# (/etc/apt/sources.list.d/debian.sources), cached as a tarball ($VITD_ROOT_CACHE, default
# /var/cache/vitd-test/bookworm-apt.tar) so later runs unpack it in seconds. Inside (chroot):
# `apt-get install ./vitd.deb` (Depends: resolved from the archive, maintainer scripts run),
# the vitd user exists, the plugin loads, `vitd --check` accepts the shipped configuration and a
# pipeline on a shipped model, the installed demo runs, and `apt-get purge` removes it cleanly.
# About 2-4 minutes with the cache (most of it apt installing GStreamer's dependencies).
set -euo pipefail
deb=$(realpath "$1")
cache=${VITD_ROOT_CACHE:-/var/cache/vitd-test/bookworm-apt.tar}
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list

if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  echo "== creating the cached Debian 12 root $cache"
  mmdebstrap --quiet --variant=apt --format=tar bookworm "$cache.tmp" "$sources"
  mv "$cache.tmp" "$cache"
fi

root=$(mktemp -d /tmp/vitd-root.XXXXXX)
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$cache"
for fs in proc sys dev; do
  mount --rbind "/$fs" "$root/$fs" && mounted+=("$root/$fs")
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/vitd.deb"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== apt-get install ./vitd.deb"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends /vitd.deb >"$root/apt.log" 2>&1 ||
  { cat "$root/apt.log"; exit 1; }
tail -n 3 "$root/apt.log"

echo "== installed"
in_root sh -euxc '
  getent passwd vitd
  test -f /usr/share/doc/vitd/README.md
  test -f /usr/share/vitd/models/fmnist-vit-tiny/model.safetensors
  test -f /usr/share/dbus-1/system.d/org.vitd1.conf
  systemctl cat vitd.service >/dev/null 2>&1 || test -f /lib/systemd/system/vitd.service
  ! systemctl is-enabled vitd.service 2>/dev/null
  vitctl --help >/dev/null
'
echo "== vitd --check (shipped config, then a pipeline on a shipped model)"
in_root vitd --check
in_root sh -euc 'cat >/etc/vitd/pipelines.d/ball.yaml <<EOT
pipelines:
  - name: ball
    source: test:ball
    model: /usr/share/vitd/models/fmnist-vit-tiny
EOT
vitd --check'
echo "== vit-infer on a shipped model"
in_root vit-infer /usr/share/vitd/models/fmnist-vit-tiny --bench 5 --threads 1 | tail -n 1
echo "== the installed demo"
in_root timeout 60 /usr/share/vitd/demo/run.sh
echo "== vitctl without a system bus"
in_root vitctl list 2>&1 | tee "$root/vitctl.txt" || true
grep -q -- "--user" "$root/vitctl.txt"
echo "== apt-get purge vitd"
in_root apt-get purge -y -qq vitd >/dev/null
in_root sh -euc 'test ! -e /usr/bin/vitd && test ! -e /etc/vitd/vitd.yaml'
echo "install test: 1 passed, 0 failed"
