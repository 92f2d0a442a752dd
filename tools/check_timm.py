#!/usr/bin/python3
"""Cross-check vit-infer against timm's own model code (not part of meson test: timm is absent).

For each architecture: timm.create_model(arch, pretrained=False, num_classes=N), weights
randomised discriminatively (tools/ref/common.randomize with the family's special rules, on
timm's own parameter names), the folder written as timm's save_for_hf writes it
(model.safetensors = model.state_dict() with timm's key names, config.json from timm's
_hub.save_config_for_hf when the timm copy has it), timm's eval forward on a random normalised
input, then `vit-infer FOLDER INPUT.npy --logits OUT.npy`. Prints per architecture
max|diff|, the limit 1e-4 * max|timm logits| and ok/FAIL; exits 1 on any FAIL.

    /usr/bin/python3 tools/check_timm.py --timm-src DIR --vit-infer BUILD/plugins/vit/vit-infer \
        [--out DIR] [--num-classes N] [ARCH[:key=value,...][@SIZE]...]

ARCH:key=value,... passes keyword arguments to timm.create_model (Python literals, e.g.
vit_small_patch16_224:qk_norm=True) and writes them to config.json's model_args, as
push_to_hf_hub(model_args=...) does. ARCH@SIZE builds the model with dynamic_img_size=True and
runs it (timm and vit-infer, whose config.json then says input_size SIZE) at SIZE x SIZE, so the
position embedding is resampled from the trained grid.
"""
import ast
import pathlib
import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref import common, safetensors_io  # noqa: E402
from ref import poolformer as ref_poolformer  # noqa: E402
from ref import pvt_v2 as ref_pvt_v2  # noqa: E402
from ref import swin as ref_swin  # noqa: E402
from ref import vit as ref_vit  # noqa: E402

DEFAULT_ARCHS = ["deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "poolformer_s12",
                 "pvt_v2_b0", "swin_tiny_patch4_window7_224"]
# timm's VisionTransformer variants (issue 16): DeiT III, CLIP (pre-norm, QuickGELU), DINOv2
# (registers, layer scale), SigLIP (attention-pool head), patch 32 / 8, avg pool without a class
# token, qk_norm (no registered plain-block name has it: passed as an argument), and a model run
# at another size than its position embedding's
VIT_ARCHS = ["deit3_small_patch16_224", "vit_base_patch16_clip_224",
             "vit_base_patch16_clip_quickgelu_224", "vit_small_patch14_reg4_dinov2",
             "vit_small_patch14_dinov2", "vit_base_patch16_siglip_224", "vit_base_patch32_224",
             "vit_small_patch8_224", "vit_medium_patch16_gap_256",
             "vit_small_patch16_224:qk_norm=True", "vit_small_patch16_224@288"]

# Family-specific random-init rules of the fixtures (they are keyed by timm's tensor names).
SPECIAL = [(("vit_", "deit_", "deit3_"), ref_vit.special_init),
           (("poolformer_",), ref_poolformer.special_init),
           (("pvt_v2_",), ref_pvt_v2.special_init),
           (("swin_",), ref_swin.special_init)]


def special_for(arch):
    for prefixes, fn in SPECIAL:
        if arch.startswith(prefixes):
            return fn
    return None


def parse_spec(spec):
    """ARCH[:k=v,...][@SIZE] -> (arch, kwargs, size or None)."""
    size = None
    if "@" in spec:
        spec, size = spec.rsplit("@", 1)
        size = int(size)
    arch, _, args = spec.partition(":")
    kwargs = {}
    for item in filter(None, args.split(",")):
        key, _, value = item.partition("=")
        kwargs[key] = ast.literal_eval(value)
    return arch, kwargs, size


def write_folder(timm, model, folder, model_args=None):
    """model.safetensors + config.json as timm's push_to_hf_hub / save_for_hf write them."""
    os.makedirs(folder, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    safetensors_io.save_file(tensors, os.path.join(folder, "model.safetensors"), {"format": "pt"})
    try:
        hub = importlib.import_module("timm.models._hub")
    except ImportError:
        hub = None
    save_cfg = getattr(hub, "save_config_for_hf", None) if hub else None
    cfg_path = os.path.join(folder, "config.json")
    if save_cfg is not None:
        save_cfg(model, pathlib.Path(cfg_path), model_args=model_args or None)
        how = "timm.models._hub.save_config_for_hf"
    else:  # the same layout, written here
        pcfg = {k: v for k, v in model.pretrained_cfg.items()
                if v is not None and k not in ("url", "file", "hf_hub_id", "hf_hub_filename",
                                               "source", "architecture")}
        cfg = {"architecture": model.pretrained_cfg["architecture"],
               "num_classes": model.num_classes, "num_features": model.num_features}
        gp = getattr(model, "global_pool", None)
        if isinstance(gp, str) and gp:
            cfg["global_pool"] = gp
        if model_args:
            cfg["model_args"] = model_args
        cfg["pretrained_cfg"] = pcfg
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
        how = "check_timm.py (save_config_for_hf layout)"
    with open(cfg_path) as f:
        return json.load(f), how


def check(timm, spec, args, outdir, seed):
    arch, kwargs, size = parse_spec(spec)
    build_kw = dict(kwargs, dynamic_img_size=True) if size else kwargs
    model = timm.create_model(arch, pretrained=False, num_classes=args.num_classes, **build_kw)
    model.eval()
    if size:  # the size the model runs at: what config.json's input_size says
        model.pretrained_cfg = dict(model.pretrained_cfg, input_size=(3, size, size))
    # randomize() fills every float buffer too; buffers that are not in the state dict
    # (swin's attn_mask: derived, never saved) must keep timm's values.
    saved = set(model.state_dict())
    derived = {k: b.clone() for k, b in model.named_buffers() if k not in saved}
    common.randomize(model, seed, special_for(arch))
    with torch.no_grad():
        for k, b in model.named_buffers():
            if k in derived:
                b.copy_(derived[k])
    folder = os.path.join(outdir, spec.replace(":", "_").replace("=", "-").replace(",", "_"))
    config, how = write_folder(timm, model, folder, build_kw)
    x = common.random_input(config, seed + 1)
    inp = os.path.join(folder, "input.npy")
    np.save(inp, x)
    with torch.no_grad():
        ref32 = model(torch.from_numpy(x)[None])[0].numpy()
        ref = model.double()(torch.from_numpy(x).double()[None])[0].numpy()
    out = os.path.join(folder, "vit-infer-logits.npy")
    run = subprocess.run([args.vit_infer, folder, inp, "--logits", out],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        print(f"{spec}: FAIL vit-infer exit {run.returncode}: {run.stderr.strip()}")
        return False
    got = np.load(out).astype(np.float64)
    if got.shape != ref.shape:
        print(f"{spec}: FAIL logits shape {got.shape}, timm {ref.shape}")
        return False
    diff = float(np.abs(got - ref).max())
    limit = 1e-4 * float(np.abs(ref).max())
    ok = diff <= limit
    spread = float(ref.max() - ref.min())
    print(f"{spec}: max|diff| {diff:.3e} limit {limit:.3e} {'ok' if ok else 'FAIL'}"
          f"  (timm fp32 vs fp64 {float(np.abs(ref32 - ref).max()):.1e}; logit spread {spread:.2f};"
          f" argmax timm {int(ref.argmax())} vit-infer {int(got.argmax())};"
          f" {len(model.state_dict())} tensors; config by {how})")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timm-src", required=True, help="directory holding the timm package")
    ap.add_argument("--vit-infer", required=True)
    ap.add_argument("--out", help="keep the model folders here (default: a temporary dir)")
    ap.add_argument("--num-classes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vit", action="store_true", help="also every ViT variant of VIT_ARCHS")
    ap.add_argument("archs", nargs="*")
    args = ap.parse_args()
    if not args.archs:
        args.archs = DEFAULT_ARCHS + (VIT_ARCHS if args.vit else [])
    torch.set_num_threads(1)
    sys.path.insert(0, os.path.abspath(args.timm_src))
    import timm  # noqa: E402  (from --timm-src)
    print(f"timm {getattr(timm, '__version__', '?')} from {os.path.dirname(timm.__file__)}")
    with tempfile.TemporaryDirectory() as tmp:
        outdir = args.out or tmp
        results = [check(timm, a, args, outdir, args.seed + i) for i, a in enumerate(args.archs)]
    print(f"{sum(results)}/{len(results)} ok")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
