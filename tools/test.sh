#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): install what is missing,
# check that every C file follows .clang-format, configure with warnings as errors, build, and
# run every test meson knows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
bash tools/check-format.sh   # unformatted C fails the suite before anything is built
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build -Dwerror=true >/dev/null
else
  meson setup build -Dwerror=true
fi
meson compile -C build
meson test -C build --print-errorlogs --num-processes 2 "$@"
