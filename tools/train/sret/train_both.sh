#!/bin/sh
# Trains the Fashion-MNIST SReT twice, grouped then global (same network, same seed, same
# steps), one thread each at nice 19, and exports OUTDIR/fmnist-sret-{grouped,global}
# (default OUTDIR: models/). Checkpoints and logs in /var/tmp/vitd-sret/. Extra arguments go to
# both runs, e.g.  train_both.sh -o /var/tmp/vitd-sret/new --epochs 3
# The shipped models: the defaults (6 x 20000 images, lr 3e-3, no shift), run side by side:
#   sret_fmnist.py --variant grouped & sret_fmnist.py --variant global (nice 19, 1 thread each)
set -e
here=$(dirname "$0")
out=$here/../../../models
if [ "$1" = "-o" ]; then out=$2; shift 2; fi
mkdir -p /var/tmp/vitd-sret "$out"
for v in grouped global; do
    OMP_NUM_THREADS=1 nice -n 19 /usr/bin/python3 "$here/sret_fmnist.py" --variant "$v" \
        --out "$out/fmnist-sret-$v" "$@" 2>&1 | tee "/var/tmp/vitd-sret/$v.log"
done
