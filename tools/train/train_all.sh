#!/usr/bin/env bash
# Trains every shipped Fashion-MNIST model, seeded and resumable, and exports them to models/.
# Each step is skipped once its run directory holds "done"; an interrupted step resumes from its
# last per-epoch checkpoint. Independent steps run side by side, one thread each (on a busy
# machine one thread per process wastes nothing at OpenMP barriers; see the README section):
#   p7 (4x4 tokens)   -> baseline (14x14, warm-started from p7)
#   tiny (7x7 tokens) -> cascade stage 1 (7x7 exit) -> stage 2 (14x14 exit, warm from p7)
# The baseline and the cascade's 14x14 exit get the same start (the 4x4 model, resized) and the
# same number of 14x14 training images, so the comparison is like for like.
#   nohup nice -n 19 bash tools/train/train_all.sh > /var/tmp/vitd-train/all.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${WORK_DIR:-/var/tmp/vitd-train}
PY="nice -n 19 /usr/bin/python3"
T=${THREADS:-1}
# 14x14-token "epochs" are 11,000-image slices (1/5 of the training split) so a busy machine
# still checkpoints every few minutes. Defaults = the budgets of the shipped models (which were
# reached with stop-and-resume cosine restarts on a starved machine; see README).
TINY_EPOCHS=${TINY_EPOCHS:-5}
P7_EPOCHS=${P7_EPOCHS:-5}
BASE_EPOCHS=${BASE_EPOCHS:-5}
S1_EPOCHS=${S1_EPOCHS:-1}
S2_EPOCHS=${S2_EPOCHS:-4}
mkdir -p "$W"
# Threads that lose their core on a busy machine should sleep, not spin at OpenMP barriers.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

await() {  # await NAME: until another branch's step NAME is done
    until [ -f "$W/$1/done" ]; do sleep 10; done
}

step() {  # step NAME COMMAND...: run unless done, with --resume after a partial run
    local name=$1; shift
    local pidfile="$W/$name/pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "== $name: already running as pid $(cat "$pidfile"), waiting for it"
        while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 10; done
        sleep 5
    fi
    if [ -f "$W/$name/done" ]; then echo "== $name: done already"; return; fi
    local resume=""
    [ -f "$W/$name/last.pt" ] && resume=--resume
    echo "== $name: $* $resume (log $W/$name.log)"
    mkdir -p "$W/$name"
    "$@" --name "$name" --work-dir "$W" --threads "$T" $resume > "$W/$name.log" 2>&1 &
    echo $! > "$pidfile"
    wait $!
    touch "$W/$name/done"
    echo "== $name: finished $(date +%T)"
}

(
# 4x4 tokens: exit 0 of the cascade and the 4x4 single-exit model.
step fmnist-vit-p7 $PY tools/train/train_vit.py --patch-size 7 --embed-dim 64 --depth 4 \
    --num-heads 4 --mlp-ratio 4 --epochs "$P7_EPOCHS" --batch-size 128 --lr 1.5e-3 \
    --warmup-steps 200 --flip --seed 0 --out models/fmnist-vit-p7
# Baseline at 14x14 tokens: progressive resizing, warm-started from the 4x4 model
# (pos_embed resized bilinearly, the 7x7 patch kernel area-resized to 2x2).
step fmnist-deit-p2 $PY tools/train/train_vit.py --patch-size 2 --embed-dim 64 --depth 4 \
    --num-heads 4 --mlp-ratio 4 --epochs "$BASE_EPOCHS" --epoch-images 11000 --batch-size 128 \
    --lr 5e-4 --warmup-steps 100 --flip --seed 0 --architecture deit_fmnist_d64_patch2_28 \
    --init-from "$W/fmnist-vit-p7/best.pt" --out models/fmnist-deit-p2
) &
(
# The demo model: 7x7 tokens, also the 7x7 single-exit model and exit 1's warm start.
step fmnist-vit-tiny $PY tools/train/train_vit.py --patch-size 4 --embed-dim 64 --depth 4 \
    --num-heads 4 --mlp-ratio 4 --epochs "$TINY_EPOCHS" --batch-size 128 --lr 1.5e-3 \
    --warmup-steps 200 --flip --seed 0 --out models/fmnist-vit-tiny
await fmnist-vit-p7
# Cascade stage 1: exit 1 (7x7) with reuse from the frozen exit 0.
step fmnist-dvt-s1 $PY tools/train/train_dvt.py --stage 1 --epochs "$S1_EPOCHS" \
    --epoch-images 27500 --batch-size 128 --lr 5e-4 --warmup-steps 100 --flip --seed 0 \
    --init-exit0 "$W/fmnist-vit-p7/best.pt" --warm-exit "$W/fmnist-vit-tiny/best.pt"
# Stage 2: exit 2 (14x14) with reuse from the frozen exits 0-1, then thresholds + export.
step fmnist-dvt-s2 $PY tools/train/train_dvt.py --stage 2 --epochs "$S2_EPOCHS" \
    --epoch-images 8000 --batch-size 128 --lr 5e-4 --warmup-steps 10 --flip --seed 0 \
    --init-cascade "$W/fmnist-dvt-s1/best.pt" --warm-exit "$W/fmnist-vit-p7/best.pt" \
    --out models/fmnist-dvt
) &
wait
echo "== all done $(date +%T)"
