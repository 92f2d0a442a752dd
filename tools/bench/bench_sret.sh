#!/usr/bin/env bash
# bench_sret.sh — what group attention buys in SReT-T: the [8,2][4,1][1,1] group schedule
# against the same network (same random weights) with global attention everywhere, at 224 and at
# 448 input (where attention dominates), in one run. Not a test: prints numbers, asserts nothing.
#
#   tools/bench/bench_sret.sh [-b BUILD] [-n RUNS] [-r ROUNDS] [-t THREADS] [-o MODELDIR]
#
# Models: tools/bench/sret_models.py writes MODELDIR/sret_tiny_{grouped,global}_{224,448}/
#   (tools/ref/sret.py, one seed; written once, reused). Each is first checked against its
#   float64 PyTorch logits (max|diff| <= 1e-4 * max|ref|), then timed.
# Timing: ROUNDS rounds, each running `vit-infer MODEL --bench RUNS --threads THREADS` on all
#   four models in turn, so machine load hits every model alike; per model the median over
#   rounds of vit-infer's median_ms (wall) and median_cpu_ms (process CPU time per run: the
#   steadier number on a shared machine with one thread). Ratio = global / grouped (> 1: the
#   grouped schedule is faster), taken per round (the two models of a round ran back to back)
#   and reported as the median of the rounds' ratios. GFLOPs are libvit's own count (2 per
#   multiply-add, attention at O(N^2/G)), printed by vit-infer.
#
# Defaults: build dir $VITD_BUILD or build/, 20 runs, 3 rounds, 1 thread,
# /var/tmp/vitd-sret/bench.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${VITD_BUILD:-build}
runs=20
rounds=3
threads=1
models=/var/tmp/vitd-sret/bench
while getopts "b:n:r:t:o:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    n) runs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    t) threads=$OPTARG ;;
    o) models=$OPTARG ;;
    *) sed -n '2,22p' "$0"; exit 2 ;;
  esac
done

ninja -C "$build" plugins/vit/vit-infer >/dev/null
infer=$build/plugins/vit/vit-infer
sizes="224 448"
variants="grouped global"

for size in $sizes; do
  if [ ! -f "$models/sret_tiny_global_$size/logits.npy" ] ||
     [ ! -f "$models/sret_tiny_grouped_$size/logits.npy" ]; then
    OMP_NUM_THREADS=1 nice -n 10 /usr/bin/python3 tools/bench/sret_models.py "$models" \
      --sizes "$size"
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for size in $sizes; do
  for v in $variants; do
    m=$models/sret_tiny_${v}_$size
    "$infer" "$m" "$m/input.npy" --logits "$tmp/out.npy" --threads "$threads" >/dev/null
    /usr/bin/python3 - "$m" "$tmp/out.npy" <<'EOF'
import sys
import numpy as np
m, out = sys.argv[1], sys.argv[2]
got, want = np.load(out), np.load(m + "/logits.npy")
err, scale = float(np.abs(got - want).max()), float(np.abs(want).max())
print(f"check {m}: max|diff| {err:.3g} (limit {1e-4 * scale:.3g})")
sys.exit(0 if err <= 1e-4 * scale else 1)
EOF
  done
done

echo "round size variant gflops median_ms median_cpu_ms" > "$tmp/results"
for r in $(seq 1 "$rounds"); do
  for size in $sizes; do
    for v in $variants; do
      "$infer" "$models/sret_tiny_${v}_$size" --bench "$runs" --threads "$threads" > "$tmp/run"
      g=$(awk '/^gflops:/ {print $2}' "$tmp/run")
      w=$(awk '/^median_ms:/ {print $2}' "$tmp/run")
      c=$(awk '/^median_cpu_ms:/ {print $2}' "$tmp/run")
      gemm=$(sed -n 's/^gemm: //p' "$tmp/run")
      echo "$r $size $v $g $w $c" >> "$tmp/results"
      echo "round $r: sret_tiny_${v}_$size  $g GFLOPs  median $w ms  (cpu $c ms)"
    done
  done
done

/usr/bin/python3 - "$tmp/results" "$runs" "$rounds" "$threads" "$gemm" <<'EOF'
import statistics
import sys
path, runs, rounds, threads, gemm = sys.argv[1:6]
rows = [l.split() for l in open(path).read().splitlines()[1:]]
print(f"\nSReT-T, random weights, vit-infer --bench {runs} --threads {threads}, "
      f"median of {rounds} rounds, GEMM: {gemm}")
print(f"{'input':>6} {'schedule':>18} {'GFLOPs':>7} {'wall ms':>9} {'cpu ms':>9}")
for size in sorted({r[1] for r in rows}, key=int):
    res = {}
    for v in ("grouped", "global"):
        sel = [r for r in rows if r[1] == size and r[2] == v]
        res[v] = (float(sel[0][3]), statistics.median(float(r[4]) for r in sel),
                  statistics.median(float(r[5]) for r in sel))
        label = "[8,2][4,1][1,1]" if v == "grouped" else "global everywhere"
        print(f"{size:>6} {label:>18} {res[v][0]:7.3f} {res[v][1]:9.2f} {res[v][2]:9.2f}")
    g = {r[0]: r for r in rows if r[1] == size and r[2] == "grouped"}
    a = {r[0]: r for r in rows if r[1] == size and r[2] == "global"}
    wall = statistics.median(float(a[k][4]) / float(g[k][4]) for k in g)
    cpu = statistics.median(float(a[k][5]) / float(g[k][5]) for k in g)
    print(f"{size:>6} {'global / grouped':>18} {res['global'][0] / res['grouped'][0]:7.2f}x "
          f"{wall:8.2f}x {cpu:8.2f}x   (median of per-round ratios)")
EOF
