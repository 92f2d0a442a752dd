#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine (as root): install what is missing, build, then
# start vitd on a private session bus with the demo config (the Fashion-MNIST test images played
# as video through the shipped models, plus a test pattern) and show what a D-Bus client sees.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
# Reconfigure an existing tree too: the demo picks up models shipped since it was configured.
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null; else meson setup build; fi
meson compile -C build
echo "== vit-infer on the shipped model"
build/plugins/vit/vit-infer models/fmnist-vit-tiny --bench 20 --threads 1 | tail -n 1
exec build/conf/demo/run.sh
