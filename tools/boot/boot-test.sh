#!/bin/bash
# boot-test.sh — vitd under a real systemd boot: a Debian 12 root made with mmdebstrap from the
# host's own apt sources, vitd built from this tree and `meson install`ed into it, booted with
# `systemd-nspawn -b`. Inside, tools/boot/inside.sh runs as a oneshot unit once multi-user.target
# is up and checks what an integrator relies on:
#   systemctl start vitd reaches READY (Type=notify); busctl sees org.vitd1, ListPipelines and
#   Classification signals from a videotestsrc pipeline; root may Reload, an unprivileged user is
#   refused by the bus policy and, with the policy opened, by vitd itself; kill -9 is followed by a
#   restart; a stalled pipeline stops the watchdog (WatchdogSec=5s drop-in) and systemd restarts
#   vitd; `systemd-analyze security vitd` <= 2.0; SIGTERM stops it.
# then powers off. The result is the last line, "RESULT passed=N failed=M"; exit 0 iff M = 0.
#
# Usage (as root; needs mmdebstrap, systemd-container, network to the Debian mirror the first time):
#   tools/boot/boot-test.sh [--work DIR] [--fresh-root]
# DIR (default /var/tmp/vitd-boot) holds base.tar (the Debian root, ~400 MB, made once, ~10 min),
# build/ (a release build with --prefix=/usr, -Dtests=false) and root/ (unpacked afresh each run).
# A run on a built tree takes ~1.5 min (unpacking the root, booting, the watchdog check).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=/var/tmp/vitd-boot
FRESH=0
while [ $# -gt 0 ]; do
    case $1 in
        --work) WORK=$2; shift 2 ;;
        --fresh-root) FRESH=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "boot-test: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "boot-test: must run as root" >&2; exit 2; }
for t in mmdebstrap systemd-nspawn meson; do
    command -v $t > /dev/null || { echo "boot-test: $t is missing (tools/setup-debian.sh)" >&2; exit 2; }
done
mkdir -p "$WORK"
ROOT=$WORK/root

# The runtime packages of vitd, plus what the checks use (busctl is in systemd; runuser in util-linux).
PACKAGES=systemd,systemd-sysv,dbus,libpam-systemd,procps,gstreamer1.0-plugins-base,gstreamer1.0-plugins-good,libopenblas0,libyaml-0-2,libjansson4,libsystemd0,libmosquitto1
if [ $FRESH = 1 ] || [ ! -s "$WORK/base.tar" ]; then
    # The same archive as the host: every apt source file of the host is a mirror argument.
    mirrors=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -s "$f" ] && grep -qv '^\s*\(#\|$\)' "$f" && mirrors+=("$f")
    done
    echo "boot-test: mmdebstrap bookworm from ${mirrors[*]}"
    mmdebstrap --variant=minbase --include="$PACKAGES" bookworm "$WORK/base.tar.new" "${mirrors[@]}"
    mv "$WORK/base.tar.new" "$WORK/base.tar"
fi

echo "boot-test: building vitd (release, --prefix=/usr) in $WORK/build"
[ -f "$WORK/build/build.ninja" ] ||
    meson setup "$WORK/build" "$SRC" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
        -Dbuildtype=release -Dtests=false -Dnative=false
meson compile -C "$WORK/build"

rm -rf "$ROOT"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$WORK/base.tar"
meson install -C "$WORK/build" --destdir "$ROOT" --no-rebuild --quiet
# Models are not installed by meson: ship the smallest one where the unit may read it.
mkdir -p "$ROOT/usr/share/vitd/models"
cp -r "$SRC/models/fmnist-vit-tiny" "$ROOT/usr/share/vitd/models/"
cat > "$ROOT/etc/vitd/pipelines.d/ball.yaml" <<'YAML'
pipelines:
  - name: ball
    source: test:ball
    model: /usr/share/vitd/models/fmnist-vit-tiny
    top-k: 1
YAML
install -m 0755 "$SRC/tools/boot/inside.sh" "$ROOT/usr/local/sbin/vitd-boot-test"
cat > "$ROOT/etc/systemd/system/vitd-boot-test.service" <<'UNIT'
[Unit]
Description=vitd boot test (tools/boot/inside.sh)
After=multi-user.target dbus.service systemd-sysusers.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vitd-boot-test
StandardOutput=journal+console
[Install]
WantedBy=default.target
UNIT
chroot "$ROOT" /bin/sh -ec '
    systemctl enable vitd-boot-test.service
    useradd --create-home alice           # an unprivileged user (not in group vitd)
    systemctl mask getty@tty1.service console-getty.service  # no login prompt on the console'

echo "boot-test: booting $ROOT with systemd-nspawn -b"
# --register=no --keep-unit: no machined needed on the host (sandboxes and CI runners have none).
# The checks write their lines to /var/log/vitd-boot-test.log in the root (a piped console shows
# little), printed here once the machine is off.
timeout 600 systemd-nspawn -D "$ROOT" --register=no --keep-unit --private-network -b \
    --console=pipe > "$WORK/boot.log" 2>&1 || true
cat "$ROOT/var/log/vitd-boot-test.log" 2>/dev/null || true
result=$(grep -h '^vitd-boot-test: RESULT' "$ROOT/var/log/vitd-boot-test.log" 2>/dev/null || true)
echo "boot-test: ${result:-no RESULT line (see $WORK/boot.log)}; console log in $WORK/boot.log," \
     "vitd's journal in $ROOT/var/log/vitd-boot-test.journal"
case $result in *failed=0) exit 0 ;; *) exit 1 ;; esac
