#!/usr/bin/python3
"""Cross-checks vit-infer against timm itself on the MetaFormer baselines and edge hybrids.

  PYTHONPATH=/path/to/timm check_timm_hybrids.py VIT_INFER [NAME[@SIZE]...] [--calibrate-bn]
                                                [--workdir DIR] [--keep]

For each timm architecture NAME (default: every one listed in NAMES): timm.create_model(NAME,
pretrained=False, num_classes=10) with random weights (re-drawn so every tensor, scales and
norm affines included, is far from its init), saves model.safetensors (the state dict, timm's
key names, F32) and config.json (architecture, num_classes, num_features, global_pool,
pretrained_cfg with input_size/interpolation/mean/std/crop_pct as timm publishes them), runs
`VIT_INFER FOLDER input.npy --logits out.npy` and compares with timm's float64 forward.
NAME@SIZE runs a model that takes any input size (fixed_input_size False, e.g. MobileViT) at
SIZE x SIZE instead of its pretrained_cfg size, which the config.json then states.
--calibrate-bn sets every BatchNorm's running statistics to those of a few random inputs
(drawn statistics leave the deep BatchNorm models' logits mostly made of biases: MobileViT's
move ~1% between two inputs, ~45% once calibrated, so an early-layer mistake shows far more).
Names in ALWAYS_CALIBRATE (EfficientFormerV2) are calibrated either way.
Prints `NAME max|diff| limit ok|FAIL` (limit = 1e-4 * max|logits|); exits 1 on any failure.
Needs timm (not part of the meson test suite, which uses tools/ref/).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ref import safetensors_io  # noqa: E402

NAMES = [
    "poolformerv2_s12", "poolformerv2_s24", "poolformerv2_s36", "poolformerv2_m36",
    "poolformerv2_m48",
    "convformer_s18", "convformer_s36", "convformer_m36", "convformer_b36",
    "caformer_s18", "caformer_s36", "caformer_m36", "caformer_b36",
    "efficientformer_l1", "levit_128s", "levit_128", "mobilevit_xxs", "mobilevit_xs",
    "mobilevit_s", "mobilevit_xxs@224",
    "efficientformerv2_s0", "efficientformerv2_s1", "efficientformerv2_s2", "efficientformerv2_l",
]
# Always calibrated: with drawn statistics their activations grow ~10x a stage (max |logit|
# 2.5e4 for s2, 8.5e5 for l) and timm's own float32 forward misses its float64 one by 1.6% / 9%.
ALWAYS_CALIBRATE = ("efficientformerv2_",)
PCFG_KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode",
             "num_classes", "first_conv", "classifier")


def randomize(model, seed):
    """N(0, 1/sqrt(fan_in)) weights, N(0, 0.05) biases, 1 + N(0, 0.1) for 1-D weights and
    scales, BatchNorm statistics drawn around (0, 1): logits differ by O(1) between classes."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if not p.is_floating_point():
                continue
            leaf = name.rsplit(".", 1)[-1]
            r = torch.randn(p.shape, generator=gen)
            if leaf == "running_var":
                new = 0.5 + torch.rand(p.shape, generator=gen)
            elif p.dim() >= 2 and "attention_bias" not in name and "pos" not in name:
                new = r / max(1.0, p[0].numel()) ** 0.5
            elif leaf in ("bias", "running_mean") or "attention_bias" in name:
                new = 0.05 * r if leaf != "running_mean" else 0.1 * r
            else:
                new = 1.0 + 0.1 * r
            p.copy_(new)


def calibrate_bn(model, input_size, seed, n=4):
    """Running mean / var of every BatchNorm = the statistics of n random inputs (one forward
    with only the BatchNorms in train mode, cumulative average; drop-path stays off, so this
    is deterministic), then eval mode again."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model(torch.randn((n, *input_size), generator=gen))
    model.eval()


def save_folder(model, name, folder, size=None):
    os.makedirs(folder, exist_ok=True)
    sd = {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
          for k, v in model.state_dict().items()}
    safetensors_io.save_file(sd, os.path.join(folder, "model.safetensors"), {"format": "pt"})
    pcfg = {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in model.pretrained_cfg.items() if k in PCFG_KEYS and v is not None}
    pcfg["num_classes"] = model.num_classes
    if size:
        pcfg["input_size"] = [pcfg["input_size"][0], size, size]
    cfg = {"architecture": name, "num_classes": model.num_classes,
           "num_features": model.num_features, "global_pool": "avg", "pretrained_cfg": pcfg}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return pcfg


def check(vit_infer, spec, workdir, seed, calibrate=False):
    import timm
    name, _, size = spec.partition("@")
    model = timm.create_model(name, pretrained=False, num_classes=10).eval()
    randomize(model, seed)
    if calibrate or name.startswith(ALWAYS_CALIBRATE):
        c = model.pretrained_cfg["input_size"][0]
        calibrate_bn(model, (c, int(size), int(size)) if size else
                     model.pretrained_cfg["input_size"], seed + 2)
    folder = os.path.join(workdir, spec)
    pcfg = save_folder(model, name, folder, int(size) if size else None)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((1, *pcfg["input_size"]), generator=gen)
    np.save(os.path.join(folder, "input.npy"), x[0].numpy())
    with torch.no_grad():
        ref = model.double()(x.double())[0].float().numpy()
    out = os.path.join(folder, "out.npy")
    p = subprocess.run([vit_infer, folder, os.path.join(folder, "input.npy"), "--logits", out],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, float(1e-4 * np.abs(ref).max()), p.stderr.strip()
    diff = float(np.abs(np.load(out) - ref).max())
    return diff, float(1e-4 * np.abs(ref).max()), ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vit_infer")
    ap.add_argument("names", nargs="*")
    ap.add_argument("--calibrate-bn", action="store_true",
                    help="BatchNorm statistics from random inputs instead of drawn ones")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true", help="keep the model folders")
    opts = ap.parse_args()
    torch.set_num_threads(1)
    workdir = opts.workdir or tempfile.mkdtemp(prefix="check_timm_hybrids.")
    failed = 0
    for i, name in enumerate(opts.names or NAMES):
        diff, limit, err = check(opts.vit_infer, name, workdir, 1000 + i, opts.calibrate_bn)
        ok = diff is not None and diff <= limit
        failed += not ok
        shown = f"{diff:.3g}" if diff is not None else "error"
        print(f"{name:24s} {shown:>10s} {limit:.3g} {'ok' if ok else 'FAIL'} {err}", flush=True)
        if not opts.keep:
            subprocess.run(["rm", "-rf", os.path.join(workdir, name)])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
