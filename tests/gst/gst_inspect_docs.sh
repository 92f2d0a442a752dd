#!/usr/bin/env bash
# gst-inspect-1.0 is the manual: vitclassify's description names every field of the
# vit-classification message (as spelled in vitclassify-names.h, passed as $1) and shows example
# pipelines; `qos` defaults to true because late frames are skipped; vitoverlay documents its
# text size properties.
# Under ASan meson sets VIT_ASAN_PRELOAD, the runtime gst-inspect-1.0 (not instrumented) needs
# preloaded to load the ASan-built plugin (as in gst_launch_messages.sh); its own exit-time
# leaks are not ours to check, the element tests check the plugin's.
set -euo pipefail
names_h=$1
inspect() {
  if [ -n "${VIT_ASAN_PRELOAD:-}" ]; then
    LD_PRELOAD=$VIT_ASAN_PRELOAD ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" gst-inspect-1.0 "$@"
  else
    gst-inspect-1.0 "$@"
  fi
}
doc=$(inspect vitclassify)
description=$(printf '%s\n' "$doc" | sed -n '/Description/,/Author/p')
fail=0
for field in $(sed -n 's/^#define VIT_CLASSIFICATION_FIELD_[A-Z_]* "\([a-z-]*\)".*/\1/p' "$names_h"); do
  if ! printf '%s\n' "$description" | grep -q "^ *$field ("; then
    echo "gst-inspect-1.0 vitclassify: message field '$field' is not documented"; fail=1
  fi
done
printf '%s\n' "$description" | grep -q 'vit-classification' || { echo "message name missing"; fail=1; }
printf '%s\n' "$description" | grep -q 'gst-launch-1.0 .*vitclassify' || { echo "no example pipeline"; fail=1; }
printf '%s\n' "$doc" | grep -A2 '^  qos ' | grep -q 'Default: true' || { echo "qos does not default to true"; fail=1; }
overlay=$(inspect vitoverlay)
for prop in font-size font-desc scale position hold; do
  printf '%s\n' "$overlay" | grep -q "^  $prop " || { echo "vitoverlay: no property $prop"; fail=1; }
done
[ "$fail" = 0 ] && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; exit 1; }
