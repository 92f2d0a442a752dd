#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): install what is missing,
# check that every C file follows .clang-format (unformatted C fails at once), then three
# sections, each run even when an earlier one failed:
#   1. normal suite     gcc, warnings as errors, every test meson knows (build/); arguments
#                       go to this `meson test`
#   2. sanitizer suite  the same under ASan + UBSan (build-asan/, tools/test-sanitize.sh)
#   3. fuzz smoke       every libFuzzer target of tests/fuzz for 30 s (build-fuzz/, clang,
#                       tools/fuzz.sh)
# VITD_TEST_SECTIONS="normal sanitize fuzz" (the default) picks sections.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-debian.sh
bash tools/check-format.sh

section() { printf '\n======== %s ========\n' "$*"; }
sections=${VITD_TEST_SECTIONS:-normal sanitize fuzz}
results=()
run() { # NAME COMMAND...: runs, records "NAME: ok|FAILED (Ns)"
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  results+=("$name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - start)) s")
  return 0
}

normal() {
  if [ -f build/build.ninja ]; then
    meson setup --reconfigure build -Dwerror=true >/dev/null
  else
    meson setup build -Dwerror=true
  fi
  meson compile -C build
  meson test -C build --print-errorlogs --num-processes 2 "$@"
}

for s in $sections; do
  case $s in
  normal) section "1. normal suite (build/)"; run "normal suite" normal "$@" ;;
  sanitize) section "2. sanitizer suite: ASan + UBSan (build-asan/)"
    run "sanitizer suite" bash tools/test-sanitize.sh ;;
  fuzz) section "3. fuzz smoke: 30 s per libFuzzer target (build-fuzz/)"
    run "fuzz smoke" bash tools/fuzz.sh 30 ;;
  *) echo "test.sh: unknown section $s" >&2; exit 2 ;;
  esac
done

section "summary"
printf '%s\n' "${results[@]}"
# The failed tests' names and last lines, last, where a truncated CI log still shows them.
python3 tools/test-failures.py build build-asan || true
for r in "${results[@]}"; do
  case $r in *FAILED*) exit 1 ;; esac
done
