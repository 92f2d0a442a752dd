#!/usr/bin/python3
"""A conv stem that disagrees with config.json is refused at open, in one line naming the
weights file and the tensor (and the config key): config says stem_chans but the tensors are
missing, the tensors are there but config says 0, another width, a stem that is not 3x3, a
weight without its bias. A config that does not mention stem_chans still runs (the stem is
found from the tensors). For a single ViT (model_args.stem_chans) and a DVT cascade
(model_args.exits[k].stem_chans).

  test_stem_errors.py VIT_INFER FIXTURES_DIR

Works on copies of the stem fixtures (exit 77 if they are absent).
"""
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from model_edits import edited_copy, run_model  # noqa: E402

VIT = "vit_fmnist_stem_train"       # stem_chans 32
DVT = "dvt_cascade_stem_mixed"      # exits' stems: 8, none, 12
failures = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + (f": {detail}" if detail and not cond else ""))
    if not cond:
        failures.append(what)


def drop(*names):
    def edit(t):
        for n in names:
            del t[n]
    return edit


def five_by_five(name):
    def edit(t):
        w = t[name]
        t[name] = np.resize(w, (w.shape[0], w.shape[1], 5, 5)).astype(np.float32)
    return edit


def set_vit_arg(value):
    def edit(cfg):
        if value is None:
            del cfg["model_args"]["stem_chans"]
        else:
            cfg["model_args"]["stem_chans"] = value
    return edit


def set_exit_arg(k, value):
    def edit(cfg):
        if value is None:
            cfg["model_args"]["exits"][k].pop("stem_chans", None)
        else:
            cfg["model_args"]["exits"][k]["stem_chans"] = value
    return edit


def refused(vit_infer, folder, what, *words):
    code, err, _ = run_model(vit_infer, folder)
    ok = code == 1 and "\n" not in err and all(w in err for w in words)
    check(ok, what, f"exit {code}, stderr {err!r}")


def runs_like(vit_infer, folder, src, what):
    code, err, out = run_model(vit_infer, folder)
    if code != 0:
        check(False, what, f"exit {code}, stderr {err!r}")
        return
    got, want = np.load(out), np.load(os.path.join(src, "logits.npy"))
    diff = float(np.abs(got - want).max())
    check(diff <= 1e-4 * float(np.abs(want).max()), what, f"max|diff| {diff:.3g}")


def main():
    vit_infer, fixtures = sys.argv[1], sys.argv[2]
    vit, dvt = os.path.join(fixtures, VIT), os.path.join(fixtures, DVT)
    if not (os.path.isdir(vit) and os.path.isdir(dvt)):
        print("SKIP: stem fixtures missing")
        return 77
    w, b = "patch_embed.stem.weight", "patch_embed.stem.bias"
    with tempfile.TemporaryDirectory() as tmp:
        def copy(src, name, **kw):
            return edited_copy(src, tmp, name, **kw)

        refused(vit_infer, copy(vit, "v1", edit_tensors=drop(w, b)),
                "ViT: config stem_chans 32, no stem tensors", "model.safetensors", w,
                "stem_chans")
        refused(vit_infer, copy(vit, "v2", edit_config=set_vit_arg(0)),
                "ViT: stem tensors, config stem_chans 0", "model.safetensors", w, "stem_chans")
        refused(vit_infer, copy(vit, "v3", edit_config=set_vit_arg(16)),
                "ViT: config stem_chans 16, tensor has 32", "model.safetensors", w, "32", "16")
        refused(vit_infer, copy(vit, "v4", edit_tensors=five_by_five(w)),
                "ViT: a 5x5 stem", "model.safetensors", w, "[32,1,5,5]")
        refused(vit_infer, copy(vit, "v5", edit_tensors=drop(b)),
                "ViT: stem weight without bias", "model.safetensors", b)
        refused(vit_infer, copy(vit, "v6", edit_tensors=drop(w)),
                "ViT: stem bias without weight", "model.safetensors", w)
        runs_like(vit_infer, copy(vit, "v7", edit_config=set_vit_arg(None)), vit,
                  "ViT: no stem_chans in config, stem found from the tensors")

        refused(vit_infer, copy(dvt, "d1", edit_config=set_exit_arg(1, 8)),
                "DVT: exit 1 config stem_chans 8, no stem tensors", "model.safetensors",
                "exits.1." + w, "exits[1].stem_chans")
        refused(vit_infer, copy(dvt, "d2", edit_config=set_exit_arg(0, 0)),
                "DVT: exit 0 stem tensors, config stem_chans 0", "model.safetensors",
                "exits.0." + w, "exits[0].stem_chans")
        refused(vit_infer, copy(dvt, "d3", edit_tensors=drop("exits.2." + w, "exits.2." + b)),
                "DVT: exit 2 config stem_chans 12, no stem tensors", "model.safetensors",
                "exits.2." + w)
        refused(vit_infer, copy(dvt, "d4", edit_config=set_exit_arg(2, 8)),
                "DVT: exit 2 config stem_chans 8, tensor has 12", "model.safetensors",
                "exits.2." + w, "12")
        runs_like(vit_infer, copy(dvt, "d5", edit_config=lambda c: [set_exit_arg(k, None)(c)
                                                                    for k in range(3)]), dvt,
                  "DVT: no stem_chans in config, stems found from the tensors")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
