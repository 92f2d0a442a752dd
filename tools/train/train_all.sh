#!/usr/bin/env bash
# Trains every shipped Fashion-MNIST model, seeded and resumable, and exports them to models/.
# Each step is skipped once its run directory holds "done"; an interrupted step resumes from its
# last per-epoch checkpoint.
#   nohup bash tools/train/train_all.sh > /var/tmp/vitd-train/all.log 2>&1 &
# Every model tokenizes with a small conv stem (3x3 conv + ReLU, 32 channels) before its patch
# conv: the inductive bias that lets a 4-block, 64-wide ViT pass 90% on Fashion-MNIST in a few
# epochs on 2 CPU cores. Two branches run side by side:
#   baseline (14x14 tokens, 2 threads, from scratch, then two more cosine cycles) --+
#   p7 (4x4) -> tiny (7x7) -> cascade stage 1 (7x7 exit + reuse, warm from tiny) -> stage 2
#   (14x14 exit + reuse, warm-started from the baseline after its second cycle: the reuse paths
#   start at zero, so exit 2 begins as the baseline and fine-tuning teaches it to use exits
#   0-1; the third baseline cycle runs beside stage 2).
# The small branch runs at nice 10: the baseline is the critical path.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${WORK_DIR:-/var/tmp/vitd-train}
OUT=${OUT_DIR:-models}
PY=/usr/bin/python3
STEM=${STEM_CHANS:-32}
P7_EPOCHS=${P7_EPOCHS:-15}
TINY_EPOCHS=${TINY_EPOCHS:-12}
BASE_EPOCHS=${BASE_EPOCHS:-20}   # 27,500-image half epochs
BASE_FT_EPOCHS=${BASE_FT_EPOCHS:-6}  # 27,500-image half epochs
S1_EPOCHS=${S1_EPOCHS:-6}        # 27,500-image half epochs
S2_EPOCHS=${S2_EPOCHS:-2}        # 27,500-image half epochs
mkdir -p "$W" "$OUT"
# Threads that lose their core on a busy machine should sleep, not spin at OpenMP barriers.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

await() {  # await NAME: until another branch's step NAME is done
    until [ -f "$W/$1/done" ]; do sleep 10; done
}

step() {  # step NAME THREADS COMMAND...: run unless done, with --resume after a partial run
    local name=$1 threads=$2; shift 2
    local pidfile="$W/$name/pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "== $name: already running as pid $(cat "$pidfile"), waiting for it"
        while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 10; done
        sleep 5
    fi
    if [ -f "$W/$name/done" ]; then echo "== $name: done already"; return; fi
    local resume=""
    [ -f "$W/$name/last.pt" ] && resume=--resume
    echo "== $name: $* $resume (log $W/$name.log) $(date +%T)"
    mkdir -p "$W/$name"
    "$@" --name "$name" --work-dir "$W" --threads "$threads" $resume > "$W/$name.log" 2>&1 &
    echo $! > "$pidfile"
    wait $!
    touch "$W/$name/done"
    echo "== $name: finished $(date +%T)"
}

(
# Baseline: DeiT-style ViT at 14x14 tokens (patch 2 on 28x28), then a second, lower-LR cosine
# cycle warm-started from the first (the 14x14 model learns slowest of the three grids).
step fmnist-deit-p2 2 $PY tools/train/train_vit.py --patch-size 2 --stem-chans "$STEM" \
    --embed-dim 64 --depth 4 --num-heads 4 --mlp-ratio 4 --epochs "$BASE_EPOCHS" \
    --epoch-images 27500 --batch-size 128 --lr 1.5e-3 --warmup-steps 300 --flip --bf16 --seed 0 \
    --architecture deit_fmnist_d64_stem32_patch2_28
step fmnist-deit-p2-ft 2 $PY tools/train/train_vit.py --patch-size 2 --stem-chans "$STEM" \
    --embed-dim 64 --depth 4 --num-heads 4 --mlp-ratio 4 --epochs "$BASE_FT_EPOCHS" \
    --epoch-images 27500 --batch-size 128 --lr 4e-4 --warmup-steps 50 --flip --bf16 --seed 1 \
    --architecture deit_fmnist_d64_stem32_patch2_28 --init-from "$W/fmnist-deit-p2/best.pt"
# A third cycle, lower still (the shipped baseline: 89.81% test after the first cycle, 89.88%
# after the second, 90.11% after this one; each cycle's best.pt is picked on validation).
step fmnist-deit-p2-ft2 1 $PY tools/train/train_vit.py --patch-size 2 --stem-chans "$STEM" \
    --embed-dim 64 --depth 4 --num-heads 4 --mlp-ratio 4 --epochs "$BASE_FT_EPOCHS" \
    --epoch-images 27500 --batch-size 128 --lr 3e-4 --warmup-steps 50 --flip --bf16 --seed 2 \
    --architecture deit_fmnist_d64_stem32_patch2_28 \
    --init-from "$W/fmnist-deit-p2-ft/best.pt" --out "$OUT/fmnist-deit-p2"
) &
(
# 4x4 tokens: exit 0 of the cascade and the 4x4 single-exit model.
step fmnist-vit-p7 1 nice -n 10 $PY tools/train/train_vit.py --patch-size 7 --stem-chans "$STEM" \
    --embed-dim 64 --depth 4 --num-heads 4 --mlp-ratio 4 --epochs "$P7_EPOCHS" \
    --batch-size 128 --lr 1.5e-3 --warmup-steps 200 --flip --bf16 --seed 0 --out "$OUT/fmnist-vit-p7"
# 7x7 tokens: the demo model, the 7x7 single-exit model and exit 1's warm start.
step fmnist-vit-tiny 1 nice -n 10 $PY tools/train/train_vit.py --patch-size 4 --stem-chans "$STEM" \
    --embed-dim 64 --depth 4 --num-heads 4 --mlp-ratio 4 --epochs "$TINY_EPOCHS" \
    --batch-size 128 --lr 1.5e-3 --warmup-steps 200 --flip --bf16 --seed 0 --out "$OUT/fmnist-vit-tiny"
# Cascade stage 1: exit 1 (7x7) with reuse from the frozen exit 0.
step fmnist-dvt-s1 1 nice -n 10 $PY tools/train/train_dvt.py --stage 1 --stem-chans "$STEM" \
    --epochs "$S1_EPOCHS" --epoch-images 27500 --batch-size 128 --lr 5e-4 --warmup-steps 100 \
    --flip --bf16 --seed 0 --init-exit0 "$W/fmnist-vit-p7/best.pt" \
    --warm-exit "$W/fmnist-vit-tiny/best.pt"
await fmnist-deit-p2-ft
# Stage 2: exit 2 (14x14) with reuse from the frozen exits 0-1, warm from the baseline; then
# thresholds on the validation split and export.
step fmnist-dvt-s2 2 $PY tools/train/train_dvt.py --stage 2 --stem-chans "$STEM" \
    --epochs "$S2_EPOCHS" --epoch-images 27500 --batch-size 128 --lr 3e-4 --warmup-steps 50 \
    --flip --bf16 --seed 0 --init-cascade "$W/fmnist-dvt-s1/best.pt" \
    --warm-exit "$W/fmnist-deit-p2-ft/best.pt" --out "$OUT/fmnist-dvt"
) &
wait
echo "== all done $(date +%T)"
