#!/usr/bin/env bash
# Fails (exit 1) when any tracked C file differs from what clang-format 14 makes of it with the
# committed .clang-format, listing each such file and the first lines of the change. Called by
# tools/test.sh before the build, so CI refuses unformatted C. Fix with:
#   git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed" >&2; exit 1; }
bad=0
while IFS= read -r f; do
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then
    echo "check-format: $f is not formatted (clang-format -i $f):" >&2
    clang-format --style=file "$f" | diff -u "$f" - | sed -n '3,12p' >&2 || true
    bad=1
  fi
done < <(git ls-files '*.c' '*.h')
[ "$bad" -eq 0 ] && echo "check-format: every C file follows .clang-format"
exit "$bad"
