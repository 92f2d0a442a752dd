#!/usr/bin/python3
"""How close is vit-infer's own preprocessing to timm's eval transform? (a diagnostic, not a test)

  tools/check_preprocess.py IMAGE... [--model DIR] [--vit-infer PATH]

For each image, runs `vit-infer MODEL IMAGE --logits` (the runtime resizes, crops and
normalises itself) and compares its logits with the reference ViT (tools/ref/vit.py, float64)
run on two reference tensors from tools/ref/preprocess.py: timm's eval transform (PIL,
antialiased bicubic a=-0.5, uint8) and plain tensor interpolation (bicubic a=-0.75, no
antialias). MODEL is a ViT/DeiT folder (default: the deit_tiny_patch16_224 fixture of the build).
Also prints how far the two reference tensors are from each other.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ref import preprocess, safetensors_io, vit  # noqa: E402


def load_vit(folder):
    cfg_path = os.path.join(folder, "config.json")
    tensors, meta = safetensors_io.load_file(os.path.join(folder, "model.safetensors"))
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            cfg = json.load(f)
    else:
        cfg = json.loads(meta["config"])
    model, _ = vit.build(cfg["architecture"], cfg["num_classes"], cfg.get("model_args"))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    return model.double().eval(), cfg


def logits(model, chw):
    with torch.no_grad():
        return model(torch.from_numpy(chw).double()[None])[0].numpy()


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def main():
    top = os.path.dirname(HERE)
    build = os.environ.get("VITD_BUILD", os.path.join(top, "build"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+")
    ap.add_argument("--model", default=os.path.join(build, "tests", "fixtures",
                                                     "deit_tiny_patch16_224"))
    ap.add_argument("--vit-infer", default=os.path.join(build, "plugins", "vit", "vit-infer"))
    opts = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_vit(opts.model)
    pcfg = cfg["pretrained_cfg"]
    print(f"model {opts.model}: input {pcfg['input_size']}, crop_pct {pcfg.get('crop_pct')}, "
          f"{pcfg.get('interpolation')}")
    with tempfile.TemporaryDirectory() as tmp:
        for path in opts.images:
            timm_x, interp_x = preprocess.timm_eval(path, pcfg), preprocess.torch_interp(path, pcfg)
            ref_timm, ref_interp = logits(model, timm_x), logits(model, interp_x)
            out = os.path.join(tmp, "out.npy")
            subprocess.run([opts.vit_infer, opts.model, path, "--logits", out], check=True,
                           capture_output=True)
            got = np.load(out).reshape(-1)
            print(f"{path}:\n"
                  f"  tensors: timm(PIL) vs interpolate max|diff| "
                  f"{np.abs(timm_x - interp_x).max():.3f} (normalised units)\n"
                  f"  logits:  vit-infer vs timm(PIL) {rel(got, ref_timm):.2e}, "
                  f"vs interpolate {rel(got, ref_interp):.2e}; "
                  f"timm(PIL) vs interpolate {rel(ref_interp, ref_timm):.2e}; top-1 "
                  f"vit-infer {int(got.argmax())}, timm {int(ref_timm.argmax())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
