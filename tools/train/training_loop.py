"""The training loop shared by train_vit.py and train_dvt.py: seeded, AdamW with linear warm-up
and cosine decay, progress lines every --log-every batches and per epoch (train loss, val
accuracy, time), a checkpoint per epoch in --work-dir/NAME/ (last.pt, best.pt by validation
accuracy) so `--resume` continues an interrupted run where its last finished epoch ended.
"""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import torch

import fmnist


def add_common_args(p: argparse.ArgumentParser):
    p.add_argument("--name", required=True, help="run name: checkpoints in WORK_DIR/NAME/")
    p.add_argument("--work-dir", default="/var/tmp/vitd-train")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-5)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-steps", type=int, default=300)
    p.add_argument("--flip", action="store_true", help="random horizontal flips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=0,
                   help="progress line every N batches (default: 100, or a quarter epoch if shorter)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--bf16", action="store_true",
                   help="bfloat16 autocast for the training forward/backward (weights stay F32; "
                        "validation and export are F32): ~6x faster on CPUs with AVX512-BF16")
    p.add_argument("--max-train", type=int, default=0, help="use only N training images (smoke tests)")
    p.add_argument("--epoch-images", type=int, default=0,
                   help="images per epoch (a seeded random subset each epoch; default all): "
                        "shorter epochs checkpoint more often on a busy machine")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


@torch.no_grad()
def predict(model_fn, images_u8, batch=500):
    """Runs model_fn over uint8 images in batches; returns whatever model_fn returns, concatenated
    along dim 0 (a tensor or a list of tensors)."""
    outs = []
    for i in range(0, len(images_u8), batch):
        outs.append(model_fn(fmnist.normalise(images_u8[i:i + batch])))
    if isinstance(outs[0], (list, tuple)):
        return [torch.cat([o[k] for o in outs]) for k in range(len(outs[0]))]
    return torch.cat(outs)


def run(model, args, loss_fn, val_fn, params=None):
    """Trains model. loss_fn(model, x, y) -> scalar loss; val_fn(model, images_u8, labels) ->
    (score used to pick best.pt, text for the log). Returns the path of best.pt."""
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    run_dir = os.path.join(args.work_dir, args.name)
    os.makedirs(run_dir, exist_ok=True)
    xtr, ytr = fmnist.load_split("train")
    if args.max_train:
        xtr, ytr = xtr[:args.max_train], ytr[:args.max_train]
    xva, yva = fmnist.load_split("val")
    per_epoch = min(args.epoch_images or len(xtr), len(xtr))
    steps_per_epoch = per_epoch // args.batch_size
    total = steps_per_epoch * args.epochs
    log_every = args.log_every or max(1, min(100, steps_per_epoch // 4))
    params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2 and p.shape[0] > 1 and p.shape[1] > 1]
    no_decay = [p for p in params if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)

    def lr_at(step):
        if step < args.warmup_steps:
            return args.lr * (step + 1) / args.warmup_steps
        t = (step - args.warmup_steps) / max(1, total - args.warmup_steps)
        return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))

    start_epoch, best = 0, -1.0
    last_path, best_path = os.path.join(run_dir, "last.pt"), os.path.join(run_dir, "best.pt")
    if args.resume and os.path.exists(last_path):
        ck = torch.load(last_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start_epoch, best = ck["epoch"] + 1, ck["best"]
        torch.set_rng_state(ck["rng"])
        log(f"resumed {last_path}: next epoch {start_epoch + 1}, best val {best:.4f}")
    nparams = sum(p.numel() for p in model.parameters())
    log(f"{args.name}: {nparams} parameters ({len(params) and sum(p.numel() for p in params)} "
        f"trained), {len(xtr)} train / {len(xva)} val images, {per_epoch} per epoch, {steps_per_epoch} steps/epoch, "
        f"{args.epochs} epochs, threads {torch.get_num_threads()}"
        f"{', bf16 autocast' if args.bf16 else ''}")
    for epoch in range(start_epoch, args.epochs):
        model.train()
        t0, run_loss, seen = time.time(), 0.0, 0
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        order = torch.randperm(len(xtr), generator=g)
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for grp in opt.param_groups:
                grp["lr"] = lr_at(step)
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            x, y = fmnist.normalise(xtr[idx]), ytr[idx]
            if args.flip:
                flip = torch.rand(len(x), generator=g) < 0.5
                x[flip] = x[flip].flip(-1)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                loss = loss_fn(model, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            run_loss += loss.item() * len(y)
            seen += len(y)
            if (i + 1) % log_every == 0:
                el = time.time() - t0
                log(f"epoch {epoch + 1}/{args.epochs} batch {i + 1}/{steps_per_epoch} "
                    f"loss {run_loss / seen:.4f} lr {lr_at(step):.2e} "
                    f"{el:.0f}s (eta epoch {el / (i + 1) * (steps_per_epoch - i - 1):.0f}s)")
        train_time = time.time() - t0
        model.eval()
        # Under --bf16 the per-epoch validation (which picks best.pt) runs in bf16 too; the
        # exported model's numbers (eval.py, thresholds) are always computed in F32.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            score, text = val_fn(model, xva, yva)
        ck = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch,
              "best": max(best, score), "rng": torch.get_rng_state(), "val": score}
        if score > best:
            best = score
            torch.save({"model": model.state_dict(), "epoch": epoch, "val": score}, best_path)
        torch.save(ck, last_path + ".tmp")
        os.replace(last_path + ".tmp", last_path)
        log(f"EPOCH {epoch + 1}/{args.epochs} train loss {run_loss / seen:.4f} {text} "
            f"train {train_time:.0f}s total {time.time() - t0:.0f}s best {best:.4f}")
        sys.stdout.flush()
    return best_path
