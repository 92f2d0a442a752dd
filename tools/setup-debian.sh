#!/usr/bin/env bash
# Installs, with apt-get, every Debian 12 package vitd needs to build, test and run its demo.
# Idempotent: packages already present are skipped, so a warm machine pays only a dpkg query.
set -euo pipefail

PACKAGES=(
  build-essential meson ninja-build pkg-config clang-format
  clang libclang-rt-14-dev
  libopenblas-dev libjansson-dev libyaml-dev libsystemd-dev check
  libpng-dev libjpeg-dev libpango1.0-dev libcairo2-dev fonts-dejavu-core
  dpkg-dev lintian mmdebstrap
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libglib2.0-dev libglib2.0-bin dbus dbus-daemon systemd
  python3-torch python3-numpy python3-dbus python3-gi python3-matplotlib
  dataset-fashion-mnist
  libmosquitto-dev mosquitto mosquitto-clients openssl python3-paho-mqtt
  gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good   # tests/faults: a real RTSP server
  mmdebstrap systemd-container                           # tools/boot/boot-test.sh
  qemu-user-static                                       # tools/cross: arm64 tests under qemu-user
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-debian: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
