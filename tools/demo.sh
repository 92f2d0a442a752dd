#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine (as root): install what is missing, build, then
# classify with the runtime on the model shipped in models/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
[ -f build/build.ninja ] || meson setup build
meson compile -C build
echo "demo: not yet wired (runtime in progress)"
