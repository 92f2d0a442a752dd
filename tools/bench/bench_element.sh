#!/usr/bin/env bash
# bench_element.sh — throughput of the GStreamer element against the bare runtime, same model,
# same thread count, same run. Not a test: it prints numbers and a ratio, asserts nothing.
#
#   tools/bench/bench_element.sh [-b BUILD] [-m MODEL] [-n FRAMES] [-t THREADS] [-r ROUNDS]
#                                [-s WIDTHxHEIGHT]
#
# Bare runtime: `vit-infer MODEL --bench N --threads T` (inference on a ready tensor; we take
#   its mean_ms, so fps = 1000 / mean_ms).
# Pipeline:     `videotestsrc num-buffers=N ! video/x-raw,format=RGB,width=W,height=H
#                ! vitclassify model=MODEL threads=T ! fakesink sync=false`
#   i.e. frame generation, mapping, the runtime's resize/crop/normalise, the meta and one bus
#   message per frame. Fixed costs (process start, plugin registry, model load, warm-up) are
#   cancelled by timing a short and a long run and dividing the frame difference by the time
#   difference.
# Rounds alternate bare and pipeline so machine load hits both alike; each round gives a ratio
# and the median ratio is reported. Two measures: wall clock (frames/s; vit-infer's mean_ms)
# and CPU time (frames per CPU second; vit-infer's median_cpu_ms against the pipeline
# process's user+system time), the second being the steadier one on a loaded machine.
#
# Defaults: the build tree in ./build, the DeiT-Tiny-shaped fixture (random weights, real size:
# 224x224, 12 blocks, 1000 classes), 200 frames, 1 thread, 5 rounds, 320x240 RGB frames.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build
model=
frames=200
threads=1
rounds=5
size=320x240
while getopts "b:m:n:t:r:s:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    m) model=$OPTARG ;;
    n) frames=$OPTARG ;;
    t) threads=$OPTARG ;;
    r) rounds=$OPTARG ;;
    s) size=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
[ -d "$build" ] || { echo "bench_element: no build directory $build" >&2; exit 1; }
build=$(cd "$build" && pwd)
model=${model:-$build/tests/fixtures/deit_tiny_patch16_224}
width=${size%x*}
height=${size#*x}
infer=$build/plugins/vit/vit-infer

# Both sides must run the same libvit: (re)build the tool and the plugin from this tree.
ninja -C "$build" plugins/vit/vit-infer plugins/gst/libgstvit.so >/dev/null
for f in "$infer" "$build/plugins/gst/libgstvit.so"; do
  [ -e "$f" ] || { echo "bench_element: $f missing; build first (meson compile -C $build)" >&2; exit 1; }
done
[ -e "$model" ] || { echo "bench_element: model $model missing (fixtures: meson compile -C $build)" >&2; exit 1; }

export GST_PLUGIN_PATH=$build/plugins/gst
export GST_REGISTRY=$build/bench-element-registry.bin
gst-inspect-1.0 vitclassify >/dev/null   # build the registry outside the timed runs

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# "WALL CPU" seconds of one pipeline run of $1 frames (CPU = user + system of all its threads).
pipeline_seconds() {
  local TIMEFORMAT='%R %U %S' t
  t=$( { time gst-launch-1.0 -q videotestsrc num-buffers="$1" \
           ! "video/x-raw,format=RGB,width=$width,height=$height,framerate=30/1" \
           ! vitclassify model="$model" threads="$threads" ! fakesink sync=false \
           >/dev/null; } 2>&1 )
  set -- $t
  echo "$1 $(calc "$2 + $3")"
}

short=$(( frames / 10 > 5 ? frames / 10 : 5 ))
wall_ratios=()
cpu_ratios=()
echo "model: $model"
echo "threads: $threads, frames: $frames, input: ${width}x${height} RGB, rounds: $rounds"
for ((r = 1; r <= rounds; r++)); do
  out=$("$infer" "$model" --bench "$frames" --threads "$threads")
  mean_ms=$(awk '/^mean_ms:/ {print $2}' <<<"$out")
  cpu_ms=$(awk '/^median_cpu_ms:/ {print $2}' <<<"$out")
  bare=$(calc "1000 / $mean_ms")
  read -r ts_wall ts_cpu <<<"$(pipeline_seconds "$short")"
  read -r tl_wall tl_cpu <<<"$(pipeline_seconds "$frames")"
  pipe=$(calc "($frames - $short) / ($tl_wall - $ts_wall)")
  wall_ratios+=("$(calc "$pipe / $bare")")
  line=$(printf 'round %d: wall: bare %.2f fps, pipeline %.2f fps, ratio %.3f' "$r" "$bare" \
    "$pipe" "${wall_ratios[-1]}")
  if [ -n "$cpu_ms" ]; then
    bare_cpu=$(calc "1000 / $cpu_ms")
    pipe_cpu=$(calc "($frames - $short) / ($tl_cpu - $ts_cpu)")
    cpu_ratios+=("$(calc "$pipe_cpu / $bare_cpu")")
    line+=$(printf ' | per CPU second: bare %.2f, pipeline %.2f, ratio %.3f' "$bare_cpu" \
      "$pipe_cpu" "${cpu_ratios[-1]}")
  fi
  echo "$line"
done
printf 'median wall-clock ratio (pipeline / bare): %.3f over %d rounds\n' \
  "$(printf '%s\n' "${wall_ratios[@]}" | median)" "$rounds"
if [ "${#cpu_ratios[@]}" -gt 0 ]; then
  printf 'median CPU-time ratio   (pipeline / bare): %.3f over %d rounds\n' \
    "$(printf '%s\n' "${cpu_ratios[@]}" | median)" "$rounds"
fi
