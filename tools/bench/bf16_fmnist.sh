#!/bin/bash
# bf16_fmnist.sh — Fashion-MNIST test top-1 of every shipped model (models/*) with
# `vit-eval --precision fp32` and `--precision bf16`, and the difference in points.
#
#   bash tools/bench/bf16_fmnist.sh [-b BUILD] [-n LIMIT]
#
# Uses the 10,000 test images of Debian's dataset-fashion-mnist. Accuracies only: the frames/s
# vit-eval also prints depend on the machine's load and are not compared here.
set -euo pipefail
build=build
limit=
while getopts "b:n:" opt; do
    case $opt in
    b) build=$OPTARG ;;
    n) limit="--limit $OPTARG" ;;
    *) exit 2 ;;
    esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
data=/usr/share/datasets/fashion-mnist
eval=$build/plugins/vit/vit-eval
accuracy() { # MODEL PRECISION -> "correct images"
    # shellcheck disable=SC2086
    "$eval" "$1" --images $data/t10k-images-idx3-ubyte.gz --labels $data/t10k-labels-idx1-ubyte.gz \
        --threads 1 --precision "$2" --json $limit |
        /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["correct"], j["images"], j["precision"])'
}
printf '%-22s %10s %10s %8s\n' model fp32 bf16 delta
for m in "$root"/models/*/; do
    m=${m%/}
    read -r c32 n32 p32 < <(accuracy "$m" fp32)
    read -r c16 n16 p16 < <(accuracy "$m" bf16)
    [ "$p16" = bf16 ] || { echo "$(basename "$m"): bf16 did not run ($p16)"; exit 1; }
    awk -v m="$(basename "$m")" -v a="$c32" -v b="$c16" -v n="$n32" 'BEGIN {
        printf "%-22s %9.2f%% %9.2f%% %+7.2f\n", m, 100*a/n, 100*b/n, 100*(b-a)/n }'
done
