#!/bin/sh
# gst_launch_messages.sh MODEL — the README's promise, run for real: 30 frames through
# `gst-launch-1.0 -m ... ! vitclassify ! fakesink` post exactly 30 vit-classification messages,
# numbered 0..29, and the run ends cleanly. GST_PLUGIN_PATH and GST_REGISTRY come from meson.
# Under ASan meson sets VIT_ASAN_PRELOAD: the runtime to preload into gst-launch-1.0 (which is
# not instrumented) so it can load the ASan-built plugin; only that process, not the shell tools.
set -eu
model=$1
launch() {
  if [ -n "${VIT_ASAN_PRELOAD:-}" ]; then
    LD_PRELOAD=$VIT_ASAN_PRELOAD gst-launch-1.0 "$@"
  else
    gst-launch-1.0 "$@"
  fi
}
out=$(launch -m videotestsrc num-buffers=30 \
        ! vitclassify model="$model" ! fakesink 2>&1) || {
  printf '%s\n' "$out"; echo "FAIL: gst-launch-1.0 exited with an error"; exit 1; }
n=$(printf '%s\n' "$out" | grep -c 'vit-classification, frame=(guint64)')
if [ "$n" -ne 30 ]; then
  printf '%s\n' "$out"; echo "FAIL: $n vit-classification messages, expected 30"; exit 1
fi
last=$(printf '%s\n' "$out" | grep -o 'vit-classification, frame=(guint64)[0-9]*' | tail -n 1)
[ "$last" = "vit-classification, frame=(guint64)29" ] || {
  echo "FAIL: last message is '$last'"; exit 1; }
printf '%s\n' "$out" | grep -q 'labels=(string)<' || { echo "FAIL: no labels field"; exit 1; }
echo "ok: 30 vit-classification messages"
