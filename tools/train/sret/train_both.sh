#!/bin/sh
# Trains the Fashion-MNIST SReT twice, grouped then global (same network, same seed, same
# steps), one thread each at nice 19, and exports models/fmnist-sret-{grouped,global}.
# Logs and checkpoints in /var/tmp/vitd-sret/. Extra arguments go to both runs.
set -e
here=$(dirname "$0")
mkdir -p /var/tmp/vitd-sret
for v in grouped global; do
    OMP_NUM_THREADS=1 nice -n 19 /usr/bin/python3 "$here/sret_fmnist.py" --variant "$v" "$@" \
        2>&1 | tee /var/tmp/vitd-sret/$v.log
done
