#!/usr/bin/python3
"""Trains a small SReT-style model on Fashion-MNIST, with group attention or with global
attention everywhere (the same network otherwise), and exports it as a libvit model folder.

  sret_fmnist.py --variant grouped|global [--epochs 6] [--epoch-images 20000] [--shift 0]
                 [--out DIR]

The network is tools/ref/sret.py's SReT (official key names, the fixed stored permutation of
each recursive pass) shrunk for 28x28x1 input: the stem's three 3x3 convs use strides [2,1,1]
(28 -> 14x14 = 196 tokens) instead of [2,2,2], written as model_args.stem_strides, which libvit
reads (default [2,2,2]). Stages: 14x14 -> 7x7 -> 4x4 tokens, dims 16/32/64, depths [2,2,2]: one
unique block per stage, run twice, an NLL layer after every pass.
  grouped: groups1 [7,7,1], groups2 [2,1,1] (14x14 in 7 groups of two rows, then 2 permuted
           groups; 7x7 in 7 one-row groups, then global; 4x4 global)
  global:  groups1 = groups2 = [1,1,1]
The permutations are drawn once (sret.randomize_perms, seed 0) and kept fixed during training,
exactly as libvit applies them at inference.

Runs on one thread (torch.set_num_threads(1)); a checkpoint per epoch in
/var/tmp/vitd-sret/<variant>.pt (--resume continues from it). Validation: the last 5,000 training
images (tools/train/fmnist.py's split); the test accuracy of the final model (official 10,000
test images) goes into config.json "training" with the PyTorch GFLOPs count. Also writes
check_input.npy / check_logits.npy (one test image, float64 logits) into the checkpoint folder
so the C runtime's output on the exported weights can be verified.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(TOOLS, "train"))

import fmnist  # noqa: E402
from ref import common, sret  # noqa: E402

ARCH = "sret_fmnist"
BASE = dict(in_chans=1, base_dims=[8, 8, 8], heads=[2, 4, 8], depth=[2, 2, 2],
            recursive_num=[1, 1, 1], mlp_ratio=2.0, np_mlp_ratio=1)
VARIANTS = {
    "grouped": dict(groups1=[7, 7, 1], groups2=[2, 1, 1]),
    "global": dict(groups1=[1, 1, 1], groups2=[1, 1, 1]),
}
STEM_STRIDES = [2, 1, 1]
IMG = 28


def build(variant):
    """The reference SReT built for a 14x14 token grid, its stem strides then set to [2,1,1]."""
    args = dict(BASE, **VARIANTS[variant])
    # the reference sizes everything for three stride-2 convs: 112 -> 14x14 tokens
    model = sret.SReT(10, img_size=112, **args)
    for i, s in enumerate(STEM_STRIDES):
        getattr(model.patch_embed, f"conv{i + 1}").stride = (s, s)
    sret.randomize_perms(model, 0)
    args.update(img_size=IMG, stem_strides=STEM_STRIDES)
    return model, args


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def augment(x, gen, shift):
    """Random horizontal flip, and a random shift of up to `shift` pixels (background fill)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    if not shift:
        return x
    dy, dx = torch.randint(-shift, shift + 1, (2,), generator=gen).tolist()
    x = F.pad(x, (shift,) * 4, value=float(-fmnist.MEAN / fmnist.STD))
    return torch.roll(x, (dy, dx), (2, 3))[:, :, shift:shift + IMG, shift:shift + IMG]


@torch.no_grad()
def accuracy(model, images, labels, batch=500):
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        logits = model(fmnist.normalise(images[i:i + batch]))
        correct += (logits.argmax(1) == labels[i:i + batch]).sum().item()
    model.train()
    return correct / len(images)


def export(model, args, out, info):
    tensors = common.state_dict_for_file(model, "F32", sret.skip_keys(model))
    tensors.update(sret.extra_tensors(model, args))  # re-draws the same seed-0 permutations
    cfg = sret.config_for(ARCH, 10, args, label_names=fmnist.LABEL_NAMES, mean=[fmnist.MEAN],
                          std=[fmnist.STD], crop_pct=1.0)
    cfg["model_args"]["stem_strides"] = STEM_STRIDES
    cfg["pretrained_cfg"].update(fmnist.pretrained_cfg())
    cfg["training"] = info
    common.write_model_folder(out, tensors, cfg)
    log(f"exported {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup-steps", type=int, default=200)
    ap.add_argument("--shift", type=int, default=0, help="random shift augmentation, pixels")
    ap.add_argument("--max-train", type=int, default=0, help="only N training images (smoke)")
    ap.add_argument("--epoch-images", type=int, default=20000,
                    help="images per epoch: a seeded random subset of the training split")
    ap.add_argument("--work-dir", default="/var/tmp/vitd-sret")
    ap.add_argument("--out", help="model folder (default models/fmnist-sret-VARIANT)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    out = a.out or os.path.join(os.path.dirname(TOOLS), "models", f"fmnist-sret-{a.variant}")
    os.makedirs(a.work_dir, exist_ok=True)
    ckpt = os.path.join(a.work_dir, f"{a.variant}.pt")

    model, args = build(a.variant)
    xtr, ytr = fmnist.load_split("train")
    xva, yva = fmnist.load_split("val")
    xte, yte = fmnist.load_split("test")
    if a.max_train:
        xtr, ytr = xtr[:a.max_train], ytr[:a.max_train]
    steps_per_epoch = min(len(xtr), a.epoch_images or len(xtr)) // a.batch_size
    total = steps_per_epoch * a.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    start_epoch, train_seconds, history = 0, 0.0, []
    if a.resume and os.path.exists(ckpt):
        ck = torch.load(ckpt)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start_epoch, train_seconds, history = ck["epoch"], ck["train_seconds"], ck["history"]
        log(f"resumed {ckpt} after epoch {start_epoch}")
    nparams = sum(p.numel() for p in model.parameters())
    log(f"{a.variant}: {nparams} parameters, {steps_per_epoch} steps/epoch, {a.epochs} epochs")
    gen = torch.Generator().manual_seed(a.seed + 1)
    model.train()
    for epoch in range(start_epoch, a.epochs):
        t0 = time.monotonic()
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(a.seed + epoch))
        loss_sum = 0.0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            lr = a.lr * min(1.0, (step + 1) / a.warmup_steps) * \
                0.5 * (1 + math.cos(math.pi * step / total))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = order[i * a.batch_size:(i + 1) * a.batch_size]
            x = augment(fmnist.normalise(xtr[idx]), gen, a.shift)
            loss = F.cross_entropy(model(x), ytr[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            if (i + 1) % 100 == 0:
                log(f"epoch {epoch + 1} step {i + 1}/{steps_per_epoch} "
                    f"loss {loss_sum / (i + 1):.4f} lr {lr:.2e}")
        train_seconds += time.monotonic() - t0
        val = accuracy(model, xva, yva)
        history.append(dict(epoch=epoch + 1, loss=round(loss_sum / steps_per_epoch, 4),
                            val_acc=round(val, 4)))
        log(f"epoch {epoch + 1}: loss {loss_sum / steps_per_epoch:.4f} val_acc {val:.4f} "
            f"({train_seconds:.0f} s training so far)")
        torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), epoch=epoch + 1,
                        train_seconds=train_seconds, history=history, args=args), ckpt)

    test = accuracy(model, xte, yte)
    model.eval()
    # GFLOPs as torch's profiler counts them (same convention as tools/ref's fixtures)
    gflops = common.count_gflops(model, (1, IMG, IMG))
    recipe = {k: getattr(a, k) for k in ("epochs", "epoch_images", "batch_size", "lr",
                                         "weight_decay", "warmup_steps", "shift", "seed")}
    info = dict(variant=a.variant, recipe=recipe, test_acc=round(test, 4),
                val_acc=history[-1]["val_acc"] if history else None,
                train_seconds=round(train_seconds), torch_gflops=round(gflops, 5),
                parameters=nparams, history=history)
    log(f"{a.variant}: test accuracy {test:.4f}, {gflops:.4f} GFLOPs (torch count)")
    export(model, args, out, info)
    # one test image and its float64 logits, to check the C runtime on these exact weights
    x = fmnist.normalise(xte[:1])[0].numpy()
    np.save(os.path.join(a.work_dir, f"{a.variant}_check_input.npy"), x)
    np.save(os.path.join(a.work_dir, f"{a.variant}_check_logits.npy"),
            common.reference_logits(model, x))
    with open(os.path.join(a.work_dir, f"{a.variant}_result.json"), "w") as f:
        json.dump(info, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
