#!/usr/bin/env bash
# bench_element.sh — throughput of the GStreamer element against the bare runtime, same model,
# same thread count, same run. Not a test: it prints numbers and a ratio, asserts nothing.
#
#   tools/bench/bench_element.sh [-b BUILD] [-m MODEL] [-n FRAMES] [-t THREADS] [-r ROUNDS]
#                                [-s WIDTHxHEIGHT]
#
# Both sides are timed the same way: a process run of N frames minus a run of N/10 frames,
# which cancels process start, plugin registry, model load and warm-up.
# Bare runtime: `vit-infer MODEL --bench N --threads T` (inference on a ready tensor).
# Pipeline:     `videotestsrc num-buffers=N ! video/x-raw,format=RGB,width=W,height=H
#                ! vitclassify model=MODEL threads=T ! fakesink sync=false`
#   i.e. frame generation, mapping, the runtime's resize/crop/normalise, the meta and one bus
#   message per frame.
# Rounds alternate bare and pipeline so machine load hits both alike; each round gives a ratio
# and the median ratio is reported, for wall-clock throughput (frames/s) and for CPU time
# (frames per CPU second of the process), the second being the steadier on a loaded machine.
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

# "WALL CPU" seconds of one run of $2 frames of $1 (bare | pipeline); CPU = user + system time
# of all the process's threads.
run_seconds() {
  local TIMEFORMAT='%R %U %S' t
  if [ "$1" = bare ]; then
    t=$( { time "$infer" "$model" --bench "$2" --threads "$threads" >/dev/null; } 2>&1 )
  else
    t=$( { time gst-launch-1.0 -q videotestsrc num-buffers="$2" \
             ! "video/x-raw,format=RGB,width=$width,height=$height,framerate=30/1" \
             ! vitclassify model="$model" threads="$threads" ! fakesink sync=false \
             >/dev/null; } 2>&1 )
  fi
  set -- $t
  echo "$1 $(calc "$2 + $3")"
}

# "FPS_WALL FPS_CPU" of $1: frames per second and per CPU second, from a short and a long run
# (their difference cancels process start, model load and warm-up).
throughput() {
  local sw sc lw lc
  read -r sw sc <<<"$(run_seconds "$1" "$short")"
  read -r lw lc <<<"$(run_seconds "$1" "$frames")"
  echo "$(calc "($frames - $short) / ($lw - $sw)") $(calc "($frames - $short) / ($lc - $sc)")"
}

short=$(( frames / 10 > 5 ? frames / 10 : 5 ))
wall_ratios=()
cpu_ratios=()
echo "model: $model"
echo "threads: $threads, frames: $frames (minus a $short-frame run), input: ${width}x${height} RGB, rounds: $rounds"
for ((r = 1; r <= rounds; r++)); do
  read -r bare_wall bare_cpu <<<"$(throughput bare)"
  read -r pipe_wall pipe_cpu <<<"$(throughput pipeline)"
  wall_ratios+=("$(calc "$pipe_wall / $bare_wall")")
  cpu_ratios+=("$(calc "$pipe_cpu / $bare_cpu")")
  printf 'round %d: frames/s bare %.2f, pipeline %.2f, ratio %.3f | frames per CPU second bare %.2f, pipeline %.2f, ratio %.3f\n' \
    "$r" "$bare_wall" "$pipe_wall" "${wall_ratios[-1]}" "$bare_cpu" "$pipe_cpu" "${cpu_ratios[-1]}"
done
printf 'median wall-clock ratio (pipeline / bare): %.3f over %d rounds\n' \
  "$(printf '%s\n' "${wall_ratios[@]}" | median)" "$rounds"
printf 'median CPU-time ratio   (pipeline / bare): %.3f over %d rounds\n' \
  "$(printf '%s\n' "${cpu_ratios[@]}" | median)" "$rounds"
