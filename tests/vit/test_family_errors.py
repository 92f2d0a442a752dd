#!/usr/bin/python3
"""The hierarchical families (PoolFormer, PVT v2, Swin, HAT-Net, TransCNN, MobileViT,
EfficientFormerV2) refuse a model that does not match its description, with one line naming the
file and the tensor or config key:
a missing tensor, a tensor the family would not use (exit 3, an unsupported variant), a tensor of the wrong shape, model_args
depths that disagree with the weights; and a stored Swin relative_position_index is ignored
(not an unused-tensor error).

  test_family_errors.py VIT_INFER FIXTURES_DIR

Works on copies of the small fixtures (exit 77 if the fixtures are absent).
"""
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from model_edits import edited_copy, run_model  # noqa: E402

# fixture -> a tensor every model of the family needs
CASES = {
    "poolformer_test_timm": "stages.1.blocks.0.mlp.fc2.bias",
    "poolformer_test_official": "network.2.0.mlp.fc1.bias",
    "pvt_v2_test": "stages.0.blocks.0.attn.sr.weight",
    "swin_test": "layers.1.downsample.reduction.weight",
    "hat_net_test": "blocks.1.0.attn.grid_norm.weight",
    "transcnn_test": "ds2.norm2.running_var",
    "mobilevit_test": "stages.2.1.transformer.0.attn.qkv.bias",
    "efficientformerv2_test": "stages.3.downsample.attn.v_local.bn.running_var",
}

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def one_line_naming(code, err, *words):
    return code == 1 and "\n" not in err and all(w in err for w in words)


def main():
    vit_infer, fixtures = sys.argv[1], sys.argv[2]
    if not all(os.path.isdir(os.path.join(fixtures, f)) for f in CASES):
        print("SKIP: fixtures missing")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        for fx, needed in CASES.items():
            src = os.path.join(fixtures, fx)
            code, err, _ = run_model(vit_infer, edited_copy(src, tmp, fx + "_ok"))
            check(code == 0, f"{fx}: the unedited copy runs ({err})")

            d = edited_copy(src, tmp, fx + "_missing", lambda t: t.pop(needed))
            code, err, _ = run_model(vit_infer, d)
            check(one_line_naming(code, err, "model.safetensors", needed),
                  f"{fx}: missing {needed}: exit {code}, {err!r}")

            d = edited_copy(src, tmp, fx + "_stray",
                            lambda t: t.update({"stray.weight": np.zeros(4, np.float32)}))
            code, err, _ = run_model(vit_infer, d)
            check(code == 3 and "\n" not in err and "stray.weight" in err,
                  f"{fx}: unused tensor (exit 3, unsupported): {err!r}")

            def widen(t):
                t[needed] = np.zeros((t[needed].shape[0] + 1,) + t[needed].shape[1:], np.float32)

            d = edited_copy(src, tmp, fx + "_shape", widen)
            code, err, _ = run_model(vit_infer, d)
            check(code == 1 and "\n" not in err and "tensor" in err,
                  f"{fx}: wrong shape of {needed}: {err!r}")

            def deeper(cfg):
                cfg["model_args"]["depths"][0] += 1

            d = edited_copy(src, tmp, fx + "_depths", edit_config=deeper)
            code, err, _ = run_model(vit_infer, d)
            check(one_line_naming(code, err, "config.json", "model_args.depths"),
                  f"{fx}: model_args.depths disagrees: {err!r}")

        # Swin: a stored index buffer is read by nobody and is not an error; logits unchanged
        src = os.path.join(fixtures, "swin_test")
        d = edited_copy(src, tmp, "swin_index", lambda t: t.update(
            {"layers.0.blocks.0.attn.relative_position_index": np.zeros((49, 49), np.int64)}))
        code, err, _ = run_model(vit_infer, d)
        same = code == 0 and np.allclose(np.load(os.path.join(d, "out.npy")),
                                         np.load(os.path.join(src, "logits.npy")), atol=1e-4)
        check(same, f"swin_test with a zeroed relative_position_index buffer: {err!r}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
