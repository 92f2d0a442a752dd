#!/bin/bash
# bench_streams.sh — N vitclassify streams in one process on one shared model: aggregate
# frames/s and the memory each extra stream costs, for N = 1, 2, 4.
#
#   bash tools/bench/bench_streams.sh [-b BUILD] [-m MODEL] [-f FRAMES] [-p fp32|bf16|auto]
#                                     [-t THREADS]
#
# One gst-launch-1.0 runs N branches `videotestsrc ! GRAY8 28x28 ! vitclassify ! fakesink`
# (post-messages off, sync off: as fast as inference goes); every vitclassify names the same
# model, so the process holds one copy of it (and one bf16 copy). Threads per stream: -t, else
# the element's own rule for threads=0, max(1, cores / vitclassify elements in the process), so
# the cores are never oversubscribed. Set-up (plugin and model load, warm-up) is timed separately
# with 1 frame per stream and subtracted: frames/s = N * (FRAMES - 1) / (t(FRAMES) - t(1)).
# RSS is the peak resident size of the process (/usr/bin/time), and "per extra stream" is
# (RSS(N) - RSS(1)) / (N - 1). Prints `uptime` first: on a loaded machine the figures say so.
set -euo pipefail
build=build
root=$(cd "$(dirname "$0")/../.." && pwd)
model=$root/models/fmnist-deit-p2
frames=2000
precision=fp32
threads=0
while getopts "b:m:f:p:t:" opt; do
    case $opt in
    b) build=$OPTARG ;;
    m) model=$OPTARG ;;
    f) frames=$OPTARG ;;
    p) precision=$OPTARG ;;
    t) threads=$OPTARG ;;
    *) exit 2 ;;
    esac
done
export GST_PLUGIN_PATH=$build/plugins/gst
launch() { # N FRAMES -> "seconds max_rss_kb"
    local desc="" i
    for ((i = 0; i < $1; i++)); do
        desc+=" videotestsrc num-buffers=$2 pattern=snow ! video/x-raw,format=GRAY8,width=28,height=28"
        desc+=" ! vitclassify model=\"$model\" threads=$threads precision=$precision post-messages=false"
        desc+=" ! fakesink sync=false"
    done
    local t0 t1 out
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    out=$( { /usr/bin/time -f 'RSS %M' gst-launch-1.0 -q $desc >/dev/null; } 2>&1)
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc -l) $(echo "$out" | awk '/^RSS/ {print $2}')"
}
echo "load: $(uptime)"
echo "model: $model, precision $precision, threads per stream: ${threads/#0/auto (0)}, $(nproc) cores"
printf '%8s %14s %12s %22s\n' streams frames/s "RSS (MB)" "RSS per extra stream"
rss1=
for n in 1 2 4; do
    read -r setup _ < <(launch "$n" 1)
    read -r secs rss < <(launch "$n" "$frames")
    fps=$(echo "$n * ($frames - 1) / ($secs - $setup)" | bc -l)
    [ -n "$rss1" ] || rss1=$rss
    extra=-
    [ "$n" -eq 1 ] || extra=$(printf '%.1f MB' "$(echo "($rss - $rss1) / ($n - 1) / 1024" | bc -l)")
    printf '%8d %14.1f %12.1f %22s\n' "$n" "$fps" "$(echo "$rss / 1024" | bc -l)" "$extra"
done
