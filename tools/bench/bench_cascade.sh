#!/usr/bin/env bash
# bench_cascade.sh — the DVT cascade against the single-exit baseline on the 10,000 Fashion-MNIST
# test images, with vit-eval, same run. Not a test: it prints numbers and ratios, asserts nothing.
#
#   tools/bench/bench_cascade.sh [-b BUILD] [-c CASCADE] [-B BASELINE] [-T THRESHOLD | -g GFLOPS]
#                                [-n IMAGES] [-t THREADS] [-r ROUNDS]
#
# Each round runs `vit-eval BASELINE` then `vit-eval CASCADE` (at the cascade's default
# thresholds from its config.json, or -T / -g) on the same IDX files, so machine load hits both
# alike. Accuracy, mean GFLOPs and the exit histogram are deterministic (checked equal across
# rounds); throughput is reported per round and as the median ratio cascade/baseline, in wall
# clock (frames/s) and in process CPU time (frames per CPU-second, the steadier one on a
# loaded machine).
#
# Defaults: build tree ./build, models/fmnist-dvt against models/fmnist-deit-p2, every test
# image, 1 thread, 3 rounds; images from Debian's dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build
cascade=models/fmnist-dvt
baseline=models/fmnist-deit-p2
policy=()
images=10000
threads=1
rounds=3
while getopts "b:c:B:T:g:n:t:r:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    c) cascade=$OPTARG ;;
    B) baseline=$OPTARG ;;
    T) policy=(--exit-threshold "$OPTARG") ;;
    g) policy=(--budget "$OPTARG") ;;
    n) images=$OPTARG ;;
    t) threads=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done

data=/usr/share/datasets/fashion-mnist
imgs=$data/t10k-images-idx3-ubyte.gz
lbls=$data/t10k-labels-idx1-ubyte.gz
eval_bin=$build/plugins/vit/vit-eval
for f in "$eval_bin" "$imgs" "$lbls" "$cascade/config.json" "$baseline/config.json"; do
  [ -e "$f" ] || { echo "bench_cascade: missing $f" >&2; exit 1; }
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--images "$imgs" --labels "$lbls" --limit "$images" --threads "$threads" --json)
echo "baseline: $eval_bin $baseline ${common[*]}"
echo "cascade:  $eval_bin $cascade ${common[*]} ${policy[*]}"
for r in $(seq 1 "$rounds"); do
  "$eval_bin" "$baseline" "${common[@]}" > "$out/baseline.$r.json"
  "$eval_bin" "$cascade" "${common[@]}" "${policy[@]}" > "$out/cascade.$r.json"
  echo "round $r/$rounds done" >&2
done

/usr/bin/python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = {name: [json.load(open(f"{out}/{name}.{r}.json")) for r in range(1, rounds + 1)]
        for name in ("baseline", "cascade")}
for name, rs in runs.items():
    first = rs[0]
    for key in ("correct", "exit_counts", "mean_gflops"):
        if any(r[key] != first[key] for r in rs):
            sys.exit(f"{name}: {key} differs between rounds")
    fps = [r["frames_per_second"] for r in rs]
    cpu = [r["frames_per_cpu_second"] for r in rs]
    th = " ".join(f"{t:.4g}" for t in first["exit_thresholds"])
    print(f"{name:8s} {first['model']}: accuracy {100 * first['accuracy']:.2f}% "
          f"({first['correct']}/{first['images']}), mean {first['mean_gflops']:.5f} GFLOPs, "
          f"exits {first['exit_counts']}" + (f" at thresholds {th}" if first["exits"] > 1 else ""))
    print(f"{'':8s} frames/s per round {[round(v, 1) for v in fps]} (median "
          f"{statistics.median(fps):.1f}); frames per CPU-second {[round(v, 1) for v in cpu]} "
          f"(median {statistics.median(cpu):.1f})")
b, c = runs["baseline"], runs["cascade"]
wall = [y["frames_per_second"] / x["frames_per_second"] for x, y in zip(b, c)]
cpu = [y["frames_per_cpu_second"] / x["frames_per_cpu_second"] for x, y in zip(b, c)]
print(f"accuracy cascade - baseline: {100 * (c[0]['accuracy'] - b[0]['accuracy']):+.2f} points")
print(f"GFLOPs ratio baseline/cascade: {b[0]['mean_gflops'] / c[0]['mean_gflops']:.2f}x")
print(f"throughput ratio cascade/baseline: wall {statistics.median(wall):.2f}x "
      f"(rounds {[round(v, 2) for v in wall]}), CPU time {statistics.median(cpu):.2f}x "
      f"(rounds {[round(v, 2) for v in cpu]})")
EOF
