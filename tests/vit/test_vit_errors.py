#!/usr/bin/python3
"""What a person sees when a ViT checkpoint is not one libvit runs (issue 16): one line on
stderr and exit 3 (unsupported) or 1 (bad input), naming what is wrong.

- an unknown architecture names the closest supported pattern and --list-architectures;
- `vit-infer --list-architectures` prints every family's patterns;
- a known timm family libvit lacks (EVA-02) and a ViT feature it lacks (SwiGLU, RoPE names,
  a norm inside the MLP) are named;
- a misspelt model_args key is an error that suggests the right one;
- a feature extractor (num_classes 0, no head) says so.

  test_vit_errors.py VIT_INFER FIXTURES_DIR

Works on copies of the small fixtures (exit 77 if they are absent).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model_edits import edited_copy, run_model  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def expect(vit_infer, folder, code, *words):
    got, err, _ = run_model(vit_infer, folder)
    check(got == code and "\n" not in err and all(w in err for w in words),
          f"{os.path.basename(folder)}: exit {got} (want {code}), {err!r} names {words}")


def set_key(key, value):
    def edit(cfg):
        cfg[key] = value
    return edit


def set_arg(key, value):
    def edit(cfg):
        cfg.setdefault("model_args", {})[key] = value
    return edit


def main():
    vit_infer, fixtures = sys.argv[1], sys.argv[2]
    src = os.path.join(fixtures, "vit_small_test")
    if not os.path.isdir(src):
        print("SKIP: fixtures missing")
        return 77
    listing = subprocess.run([vit_infer, "--list-architectures"], capture_output=True, text=True)
    lines = listing.stdout.splitlines()
    check(listing.returncode == 0 and any(l.startswith("vit: ") and "deit3_*" in l for l in lines)
          and any(l.startswith("swin:") for l in lines),
          f"--list-architectures lists every family's patterns: {lines}")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("typo_arch", None, set_key("architecture", "poolformr_s12"), 3,
             ("unknown architecture", "poolformr_s12", "poolformer_*", "--list-architectures")),
            ("eva02", None, set_key("architecture", "eva02_base_patch14_224"), 3,
             ("EVA-02", "not supported")),
            ("mobilevitv2", None, set_key("architecture", "mobilevitv2_050"), 3,
             ("MobileViT v2", "not supported")),
            ("levit_conv", None, set_key("architecture", "levit_conv_128s"), 3,
             ("LeViT with convolutional weights", "levit_* checkpoint", "not supported")),
            ("rope_name", None, set_key("architecture", "vit_base_patch16_rope_reg1_gap_256"), 3,
             ("RoPE", "not supported")),
            ("depht", None, set_arg("depht", 2), 1,
             ("config.json", "depht", "did you mean \"depth\"")),
            ("scale_mlp_norm", lambda t: t.update({"blocks.0.mlp.norm.weight": np.ones(48, np.float32),
                                                  "blocks.0.mlp.norm.bias": np.zeros(48, np.float32)}),
             None, 3, ("blocks.0.mlp.norm.weight", "not supported")),
            ("swiglu", lambda t: t.update({"blocks.0.mlp.fc1_g.weight": np.ones((8, 48), np.float32)}),
             None, 3, ("SwiGLU", "not supported")),
            ("feature_extractor", lambda t: [t.pop("head.weight"), t.pop("head.bias")],
             set_key("num_classes", 0), 3, ("num_classes is 0", "feature extractor")),
            ("global_pool_prr", None, set_key("global_pool", "prr"), 3, ("global_pool", "prr")),
        ]
        for name, et, ec, code, words in cases:
            expect(vit_infer, edited_copy(src, tmp, name, et, ec), code, *words)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
