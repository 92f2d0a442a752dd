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
# Rounds alternate bare and pipeline so machine load hits both alike. Reported: the best round
# of each (the least disturbed on a shared machine) and the median of the per-round ratios.
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

now_ns() { date +%s%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# Seconds for one pipeline run of $1 frames.
pipeline_seconds() {
  local t0 t1
  t0=$(now_ns)
  gst-launch-1.0 -q videotestsrc num-buffers="$1" \
    ! "video/x-raw,format=RGB,width=$width,height=$height,framerate=30/1" \
    ! vitclassify model="$model" threads="$threads" ! fakesink sync=false >/dev/null
  t1=$(now_ns)
  calc "($t1 - $t0) / 1000000000"
}

short=$(( frames / 10 > 5 ? frames / 10 : 5 ))
best_bare=0
best_pipe=0
ratios=()
echo "model: $model"
echo "threads: $threads, frames: $frames, input: ${width}x${height} RGB, rounds: $rounds"
for ((r = 1; r <= rounds; r++)); do
  mean_ms=$("$infer" "$model" --bench "$frames" --threads "$threads" | awk '/^mean_ms:/ {print $2}')
  bare=$(calc "1000 / $mean_ms")
  ts=$(pipeline_seconds "$short")
  tl=$(pipeline_seconds "$frames")
  pipe=$(calc "($frames - $short) / ($tl - $ts)")
  ratios+=("$(calc "$pipe / $bare")")
  printf 'round %d: bare %.2f fps (mean %.3f ms), pipeline %.2f fps, ratio %.3f\n' "$r" "$bare" \
    "$mean_ms" "$pipe" "${ratios[-1]}"
  best_bare=$(calc "($bare > $best_bare) ? $bare : $best_bare")
  best_pipe=$(calc "($pipe > $best_pipe) ? $pipe : $best_pipe")
done
printf 'bare runtime:  %.2f frames/s\n' "$best_bare"
printf 'pipeline:      %.2f frames/s\n' "$best_pipe"
median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END {
  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
printf 'ratio:         %.3f (best pipeline / best bare)\n' "$(calc "$best_pipe / $best_bare")"
printf 'median ratio:  %.3f (of %d paired rounds)\n' "$median" "$rounds"
