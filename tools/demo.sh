#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine (as root): install what is missing, build, then
# start vitd on a private session bus with the demo config (the shipped Fashion-MNIST model on
# built-in test sources) and show what a D-Bus client sees through vitctl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
[ -f build/build.ninja ] || meson setup build
meson compile -C build
echo "== vit-infer on the shipped model"
build/plugins/vit/vit-infer models/fmnist-vit-tiny --bench 20 --threads 1 | tail -n 1
exec build/conf/demo/run.sh
