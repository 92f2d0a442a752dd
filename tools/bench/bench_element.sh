#!/usr/bin/env bash
# bench_element.sh — throughput of the GStreamer element against the bare runtime, same model,
# same thread count, same run. Not a test: it prints numbers and ratios, asserts nothing.
#
#   tools/bench/bench_element.sh [-b BUILD] [-m MODEL] [-n FRAMES] [-t THREADS] [-r ROUNDS]
#                                [-s WIDTHxHEIGHT]
#
# Four programs, each timed as a process run of N frames minus a run of N/10 frames (which
# cancels process start, plugin registry, model load and warm-up):
#   bare-tensor  `vit-infer MODEL --bench N`: inference on a ready, normalised tensor.
#   bare-frame   `vit-infer MODEL FRAME.ppm --bench N`: what an application calling libvit does
#                per frame: preprocess the same WxH RGB frame (resize, crop, normalise) + infer.
#                FRAME.ppm is the first videotestsrc frame, rendered once before timing.
#   pipeline     `gst-launch-1.0 videotestsrc num-buffers=N ! video/x-raw,format=RGB,width=W,
#                height=H ! vitclassify model=MODEL threads=T ! fakesink sync=false`: frame
#                generation, mapping, preprocessing, inference, top-k, the meta and one bus
#                message per frame (all in the one streaming thread, plus the bus watch).
#   source       the same pipeline without vitclassify: what videotestsrc and fakesink cost.
# Rows printed per round and as medians over the rounds (ratio > 1: the pipeline side is faster):
#   (a) pipeline / bare-tensor       the issue's comparison; the pipeline also pays the source
#                                    and preprocessing, which bare-tensor does not.
#   (b) pipeline / bare-frame        same per-frame work except the source and GStreamer.
#   (c) element / bare-frame         element = pipeline minus source, per frame (one streaming
#                                    thread runs both, one after the other): the element's own
#                                    cost against an application doing the same work by hand.
# Each ratio is given for wall-clock throughput (frames/s) and for CPU time (frames per CPU second
# of the process, user + system of all threads), the latter the steadier on a loaded machine.
# Rounds run the four programs in turn, so load changes hit all of them alike.
#
# Defaults: the build tree in ./build, the DeiT-Tiny-shaped fixture (random weights, real size:
# 224x224, 12 blocks, 1000 classes), 200 frames, 1 thread, 7 rounds, 320x240 RGB frames.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build
model=
frames=200
threads=1
rounds=7
size=320x240
while getopts "b:m:n:t:r:s:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    m) model=$OPTARG ;;
    n) frames=$OPTARG ;;
    t) threads=$OPTARG ;;
    r) rounds=$OPTARG ;;
    s) size=$OPTARG ;;
    *) sed -n '2,31p' "$0"; exit 2 ;;
  esac
done
[ -d "$build" ] || { echo "bench_element: no build directory $build" >&2; exit 1; }
build=$(cd "$build" && pwd)
model=${model:-$build/tests/fixtures/deit_tiny_patch16_224}
width=${size%x*}
height=${size#*x}
infer=$build/plugins/vit/vit-infer
caps="video/x-raw,format=RGB,width=$width,height=$height,framerate=30/1"

# Both sides must run the same libvit: (re)build the tool and the plugin from this tree.
ninja -C "$build" plugins/vit/vit-infer plugins/gst/libgstvit.so >/dev/null
for f in "$infer" "$build/plugins/gst/libgstvit.so"; do
  [ -e "$f" ] || { echo "bench_element: $f missing; build first (meson compile -C $build)" >&2; exit 1; }
done
[ -e "$model" ] || { echo "bench_element: model $model missing (fixtures: meson compile -C $build)" >&2; exit 1; }

export GST_PLUGIN_PATH=$build/plugins/gst
export GST_REGISTRY=$build/bench-element-registry.bin
gst-inspect-1.0 vitclassify >/dev/null   # build the registry outside the timed runs

# The frame bare-frame preprocesses: videotestsrc's first frame as a binary PPM.
frame=$build/bench-element-frame.ppm
raw=$build/bench-element-frame.rgb
gst-launch-1.0 -q videotestsrc num-buffers=1 ! "$caps" ! filesink location="$raw"
[ "$(stat -c %s "$raw")" -eq $((width * height * 3)) ] ||
  { echo "bench_element: ${width}x${height} RGB rows are padded; pick a width that is a multiple of 4" >&2; exit 1; }
{ printf 'P6\n%d %d\n255\n' "$width" "$height"; cat "$raw"; } >"$frame"
rm -f "$raw"

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# "WALL CPU" seconds of one run of $2 frames of program $1; CPU = user + system time of all the
# process's threads.
run_seconds() {
  local TIMEFORMAT='%R %U %S' t
  case $1 in
    bare-tensor)
      t=$( { time "$infer" "$model" --bench "$2" --threads "$threads" >/dev/null; } 2>&1 ) ;;
    bare-frame)
      t=$( { time "$infer" "$model" "$frame" --bench "$2" --threads "$threads" >/dev/null; } 2>&1 ) ;;
    pipeline)
      t=$( { time gst-launch-1.0 -q videotestsrc num-buffers="$2" ! "$caps" \
               ! vitclassify model="$model" threads="$threads" ! fakesink sync=false \
               >/dev/null; } 2>&1 ) ;;
    source)
      t=$( { time gst-launch-1.0 -q videotestsrc num-buffers="$2" ! "$caps" \
               ! fakesink sync=false >/dev/null; } 2>&1 ) ;;
  esac
  set -- $t
  echo "$1 $(calc "$2 + $3")"
}

# "WALL_MS CPU_MS" per frame of program $1, from a short and a long run.
per_frame() {
  local sw sc lw lc
  read -r sw sc <<<"$(run_seconds "$1" "$short")"
  read -r lw lc <<<"$(run_seconds "$1" "$frames")"
  echo "$(calc "1000 * ($lw - $sw) / ($frames - $short)") $(calc "1000 * ($lc - $sc) / ($frames - $short)")"
}

short=$(( frames / 10 > 5 ? frames / 10 : 5 ))
declare -A col   # column name -> space-separated per-round values
add() { col[$1]="${col[$1]:-} $2"; }
med() { printf '%s\n' ${col[$1]} | median; }

echo "model: $model"
echo "threads: $threads, frames: $frames (minus a $short-frame run), input: ${width}x${height} RGB, rounds: $rounds"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s | %-35s | %-35s | %s\n' "" "ms/frame wall: tensor frame pipe src" \
  "ms/frame CPU: tensor frame pipe src" "ratios wall (a) (b) (c) | CPU (a) (b) (c)"
for ((r = 1; r <= rounds; r++)); do
  read -r tw tc <<<"$(per_frame bare-tensor)"
  read -r fw fc <<<"$(per_frame bare-frame)"
  read -r pw pc <<<"$(per_frame pipeline)"
  read -r sw sc <<<"$(per_frame source)"
  # Throughput ratio = bare time per frame / pipeline time per frame.
  aw=$(calc "$tw / $pw") bw=$(calc "$fw / $pw") cw=$(calc "$fw / ($pw - $sw)")
  ac=$(calc "$tc / $pc") bc=$(calc "$fc / $pc") cc=$(calc "$fc / ($pc - $sc)")
  for v in tw tc fw fc pw pc sw sc aw bw cw ac bc cc; do add "$v" "${!v}"; done
  printf 'round %d | %7.3f %7.3f %7.3f %7.3f | %7.3f %7.3f %7.3f %7.3f | %.3f %.3f %.3f | %.3f %.3f %.3f\n' \
    "$r" "$tw" "$fw" "$pw" "$sw" "$tc" "$fc" "$pc" "$sc" "$aw" "$bw" "$cw" "$ac" "$bc" "$cc"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "medians over $rounds rounds:"
printf '  ms/frame, wall: bare-tensor %.3f, bare-frame %.3f, pipeline %.3f, source alone %.3f\n' \
  "$(med tw)" "$(med fw)" "$(med pw)" "$(med sw)"
printf '  ms/frame, CPU:  bare-tensor %.3f, bare-frame %.3f, pipeline %.3f, source alone %.3f\n' \
  "$(med tc)" "$(med fc)" "$(med pc)" "$(med sc)"
printf '  (a) pipeline / bare-tensor throughput: wall %.3f, CPU %.3f\n' "$(med aw)" "$(med ac)"
printf '  (b) pipeline / bare-frame throughput:  wall %.3f, CPU %.3f\n' "$(med bw)" "$(med bc)"
printf '  (c) element (pipeline minus source) / bare-frame throughput: wall %.3f, CPU %.3f\n' \
  "$(med cw)" "$(med cc)"
