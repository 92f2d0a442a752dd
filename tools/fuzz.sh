#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [TARGET...] — builds the libFuzzer targets of tests/fuzz in build-fuzz
# (clang, ASan + UBSan, -fsanitize=fuzzer-no-link on every file so coverage reaches inside
# libvit and libvitpipeline) and runs each TARGET (default: all) for SECONDS (default 30).
#
# Each target runs on build-fuzz/corpus/<target> (kept between runs; new inputs land there)
# seeded from tests/fuzz/corpus/<target> and tests/fuzz/crashers/<target>, which are only read.
# A finding stops the run with the input saved under build-fuzz/artifacts/<target>/; copy it to
# tests/fuzz/crashers/<target>/ so `meson test` replays it from then on. Extra libFuzzer flags
# come from $FUZZ_FLAGS (e.g. FUZZ_FLAGS=-runs=10000000 for a long run bounded by executions).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors model-config labels pipelines-file launch-text)

if [ ! -f build-fuzz/build.ninja ]; then
  # No -Werror here: clang warns where gcc (the -Werror build) does not.
  CC=clang meson setup build-fuzz -Dfuzz=true -Dwerror=false -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined' >/dev/null
fi
meson compile -C build-fuzz fuzzers

# Scratch files in RAM where there is some; sanitizer reports are findings.
[ -d /dev/shm ] && export TMPDIR=/dev/shm
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t artifacts=build-fuzz/artifacts/$t
  log=build-fuzz/fuzz-$t.log
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $t for ${seconds}s ($log)"
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  if build-fuzz/tests/fuzz/fuzz-"$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} \
      "$work" tests/fuzz/corpus/"$t" tests/fuzz/crashers/"$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $t ok: $runs executions, corpus $(find "$work" -type f | wc -l) files"
  else
    status=1
    echo "fuzz: $t FAILED; the input is in $artifacts/ — add it to tests/fuzz/crashers/$t/"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 || tail -20 "$log"
  fi
done
exit $status
