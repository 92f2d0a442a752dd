#!/bin/sh
# vitd_rss.sh — resident memory of a real vitd running two pipelines on one model.
#
#   tools/bench/vitd_rss.sh BUILD_DIR MODEL [PLUGIN_DIR]
#
# Starts a private session bus and `vitd --user` with two test-source pipelines on MODEL, lets
# them stream for 8 s, and prints VmRSS, RssAnon and RssFile of vitd (/proc/PID/status) and the
# size of the weights. PLUGIN_DIR (default BUILD_DIR/plugins/gst) selects the vitclassify
# build, so an older plugin can be measured under the same vitd.
set -eu
build=$(realpath "$1")
model=$(realpath "$2")
plugins=$(realpath "${3:-$build/plugins/gst}")
tmp=$(mktemp -d)
trap 'kill $vitd $bus 2>/dev/null; rm -rf "$tmp"' EXIT

mkdir "$tmp/pipelines.d"
printf 'bus: session\npipelines-dir: pipelines.d\n' >"$tmp/vitd.yaml"
cat >"$tmp/pipelines.d/two.yaml" <<EOF
pipelines:
  - name: one
    source: test:ball
    model: $model
  - name: two
    source: test:smpte
    model: $model
EOF
dbus-daemon --session --nofork --print-address=3 3>"$tmp/address" &
bus=$!
while [ ! -s "$tmp/address" ]; do sleep 0.1; done
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/address") GST_PLUGIN_PATH="$plugins" \
    GST_REGISTRY="$tmp/registry.bin" "$build/daemon/vitd" --user --config "$tmp/vitd.yaml" \
    >"$tmp/log" 2>&1 &
vitd=$!
sleep 8
grep -q "frames flow\|running\|starting" "$tmp/log" || { cat "$tmp/log"; exit 1; }
echo "model: $model ($(du -k "$model/model.safetensors" | cut -f1) KiB of weights)"
echo "plugin: $plugins"
grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$vitd/status"
