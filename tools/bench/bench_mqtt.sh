#!/usr/bin/env bash
# bench_mqtt.sh — the MQTT sink under load: K simulated pipelines through a real vitd into a real
# mosquitto on loopback. Not a test: it prints numbers, asserts nothing.
#
#   tools/bench/bench_mqtt.sh [-b BUILD] [-m MODEL] [-f FPS] [-w WARMUP_S] [-s SECONDS] K...
#
# For each K: a private session dbus-daemon (as tests/daemon/vitdtest.py does), mosquitto on a
# free loopback port, and vitd with K pipelines `videotestsrc is-live=true ! 28x28 at FPS !
# vitclassify top-k=3 threads=1 ! fakesink` (so K x FPS events/s are offered) and an mqtt: block
# (QoS 1, spool in a temp folder). bench_mqtt_sub.py subscribes at QoS 1 and, after WARMUP_S,
# measures SECONDS: events/s received, end-to-end latency p50/p99 (receive time minus the
# payload's realtime_us), payload size, seq gaps, and vitd's CPU (whole process: inference,
# D-Bus and MQTT; and the two MQTT threads alone) per 1,000 events/s.
#
# Defaults: ./build, models/fmnist-vit-tiny, 100 fps per pipeline, 5 s warm-up, 20 s measured.
# The machine load (`uptime`) is printed before and after: on a shared machine, say so.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$(pwd)

build=build
model=models/fmnist-vit-tiny
fps=100
warmup=5
seconds=20
while getopts "b:m:f:w:s:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    m) model=$OPTARG ;;
    f) fps=$OPTARG ;;
    w) warmup=$OPTARG ;;
    s) seconds=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- 1 4 8
build=$(cd "$build" && pwd)
model=$(cd "$model" && pwd)
[ -x "$build/daemon/vitd" ] || { echo "bench_mqtt: no $build/daemon/vitd (meson compile)" >&2; exit 1; }
export GST_PLUGIN_PATH=$build/plugins/gst

tmp=$(mktemp -d /tmp/vitd-bench-mqtt-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench_mqtt: port $1 did not open" >&2
  return 1
}

# Runs one K; writes the subscriber's JSON line to $tmp/k$1.json.
run_k() {
  local k=$1 dir=$tmp/k$1 port
  mkdir -p "$dir/pipelines.d"
  port=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\n' \
    "$port" >"$dir/mosquitto.conf"
  mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
  dbus-daemon --session --nofork --print-address=1 --address="unix:path=$dir/bus" \
    >"$dir/bus.addr" 2>"$dir/bus.log" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$dir/bus.addr" ] && break; sleep 0.1; done

  cat >"$dir/vitd.yaml" <<EOF
bus: session
mqtt:
  url: mqtt://127.0.0.1:$port
  client-id: bench
  stats-interval: 0
  spool: {path: $dir/spool, max-size: 64M}
EOF
  {
    echo "pipelines:"
    for i in $(seq "$k"); do
      echo "  - name: p$i"
      echo "    launch: videotestsrc is-live=true pattern=ball ! video/x-raw,width=28,height=28,framerate=$fps/1 ! vitclassify model=\"$model\" top-k=3 threads=1 ! fakesink sync=false"
    done
  } >"$dir/pipelines.d/bench.yaml"

  DBUS_SESSION_BUS_ADDRESS=$(head -1 "$dir/bus.addr") "$build/daemon/vitd" --user \
    --config "$dir/vitd.yaml" >"$dir/vitd.log" 2>&1 &
  local vitd=$!
  pids+=($vitd)
  /usr/bin/python3 "$src/tools/bench/bench_mqtt_sub.py" --port "$port" --pid "$vitd" \
    --warmup "$warmup" --seconds "$seconds" --label "K=$k offered=$((k * fps))/s" >"$tmp/k$k.json"
  kill -TERM "$vitd"
  wait "$vitd" || echo "bench_mqtt: vitd exited with $?" >&2
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
}

echo "# bench_mqtt: $(nproc) cores; load before: $(uptime)"
echo "# model $model, $fps fps per pipeline, warm-up ${warmup} s, measured ${seconds} s"
results=()
for k in "$@"; do
  run_k "$k"
  cat "$tmp/k$k.json"
  results+=("$(cat "$tmp/k$k.json")")
done
echo "# load after: $(uptime)"
printf '%s\n' "${results[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print("| pipelines (offered) | events/s | latency p50 / p99 ms | payload B | seq gaps | vitd CPU % | per 1k ev/s | MQTT threads % | per 1k ev/s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |" % (
        r["label"], r["events_per_s"], r["latency_ms_p50"], r["latency_ms_p99"],
        r["payload_bytes"], r["seq_gaps"], r["vitd_cpu_pct"], r["vitd_cpu_pct_per_1k_ev_s"],
        r["mqtt_threads_cpu_pct"], r["mqtt_threads_cpu_pct_per_1k_ev_s"]))
'
