#!/usr/bin/env bash
# Cross-builds vitd for arm64 with its tests and runs the libvit and pipeline unit tests under
# qemu-user, then times DeiT-Tiny (random weights, the build's deit_tiny_patch16_224 fixture)
# with vit-infer under qemu as a smoke figure: emulated, so no measure of a real arm64 CPU.
#
#   bash tools/cross/test.sh [arm64] [BUILDDIR]       (as root; BUILDDIR default build-arm64/)
#
# On a Debian 12 amd64 host this runs in the cached root of tools/cross/root.sh (see there;
# made once, about 10 minutes); where the :arm64 -dev packages are installed it runs directly.
# BUILDDIR is kept between runs. Suites: VITD_CROSS_SUITES (default "vit pipeline"; the
# element tests are "gst"). Every timeout (meson's, Check's per test case, the test scripts'
# for the programs they run) is multiplied by VITD_TIMEOUT_MULTIPLIER (default 10): qemu-user
# runs arm64 floating-point code one to two orders of magnitude slower than the host runs its own.
set -euo pipefail
arch=${1:-arm64}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(mkdir -p "${2:-$src/build-$arch}" && cd "${2:-$src/build-$arch}" && pwd)

if ! dpkg-query -W -f='${db:Status-Status}' "libgstreamer-plugins-base1.0-dev:$arch" 2>/dev/null |
  grep -qx installed; then
  exec bash "$src/tools/cross/root.sh" "$arch" --bind "$build" -- \
    bash "$src/tools/cross/test.sh" "$arch" "$build"
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" --cross-file "$src/tools/cross/$arch.ini" -Dnative=false
fi
meson compile -C "$build"

read -ra suites <<<"${VITD_CROSS_SUITES:-vit pipeline}"
suite_args=()
for s in "${suites[@]}"; do suite_args+=(--suite "$s"); done
export VITD_TIMEOUT_MULTIPLIER=${VITD_TIMEOUT_MULTIPLIER:-10}
export CK_TIMEOUT_MULTIPLIER=$VITD_TIMEOUT_MULTIPLIER
status=0
meson test -C "$build" --no-rebuild --print-errorlogs "${suite_args[@]}" \
  --timeout-multiplier "$VITD_TIMEOUT_MULTIPLIER" || status=$?

echo "== DeiT-Tiny under qemu-user (emulated; a smoke figure only)"
for threads in 1 2; do
  qemu-"$(dpkg-architecture -a"$arch" -qDEB_HOST_GNU_CPU 2>/dev/null)"-static \
    "$build/plugins/vit/vit-infer" "$build/tests/fixtures/deit_tiny_patch16_224" \
    --bench 5 --threads "$threads" | grep -E '^(threads|gemm|gflops|median_cpu_ms|median_ms):' |
    paste -sd' '
done
exit "$status"
