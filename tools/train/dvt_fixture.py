"""Writes numerical fixtures for the C runtime from the training code itself: random cascades
(dvt.DVTCascade) whose reuse paths are all non-zero (a freshly initialised cascade has zero
reuse outputs, which would hide bugs), and single ViTs (vit_model.VisionTransformer, here the
conv-stem models), exported by export.write_folder exactly as a trained model is, in the same
layout as tools/make_fixtures.py: OUTDIR/NAME/{model.safetensors, config.json,
input.npy (float32 [1,28,28], normalised), logits.npy (last exit, float32 [10]),
exit_logits.npy (float32 [K,10], every exit, computed in float64 from the stored weights),
expected_exits.json ({"decisions": [{"threshold": T, "exit": k, "class": c, "prob": p}, ...]}:
which exit answers at thresholds 0.01 either side of each confidence (never at a tie), the same
T for every exit, the last always answers)}. A single ViT gets model.safetensors, config.json
(with "gflops" from vit_model.vit_macs, unrounded), input.npy and logits.npy; its logits are
also computed by tools/ref/vit.py from the written folder, and the two must agree.

  /usr/bin/python3 tools/train/dvt_fixture.py OUTDIR
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import dvt  # noqa: E402
import export  # noqa: E402
from ref import common  # noqa: E402

# name -> (exits, seed); seeds fixed per name so adding a fixture changes no other
FIXTURES = {
    # the shipped shape: three exits, 4x4 / 7x7 / 14x14 tokens, same width
    "dvt_cascade_fmnist_shape": ([dict(patch_size=p, embed_dim=64, depth=4, num_heads=4,
                                       mlp_ratio=4.0) for p in (7, 4, 2)], 1000),
    # uneven exits: widths, depths and heads all differ between exits (generality)
    "dvt_cascade_uneven": ([dict(patch_size=7, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0),
                            dict(patch_size=4, embed_dim=48, depth=3, num_heads=3, mlp_ratio=3.0),
                            dict(patch_size=2, embed_dim=40, depth=2, num_heads=4, mlp_ratio=2.0)],
                           1001),
    # the shape being trained now: every exit tokenizes with a 32-channel conv stem
    "dvt_cascade_fmnist_stem": ([dict(patch_size=p, embed_dim=64, depth=4, num_heads=4,
                                      mlp_ratio=4.0, stem_chans=32) for p in (7, 4, 2)], 1002),
    # stems of different widths, and an exit without one, in one cascade
    "dvt_cascade_stem_mixed": ([dict(patch_size=7, embed_dim=32, depth=2, num_heads=2,
                                     mlp_ratio=2.0, stem_chans=8),
                                dict(patch_size=4, embed_dim=48, depth=2, num_heads=3,
                                     mlp_ratio=3.0),
                                dict(patch_size=2, embed_dim=40, depth=2, num_heads=4,
                                     mlp_ratio=2.0, stem_chans=12)], 1003),
}

# Single ViTs of vit_model.py: name -> (architecture, VisionTransformer args, seed)
VIT_FIXTURES = {
    # the trained deit_fmnist_d64_stem32_patch2_28, two blocks instead of its depth
    "vit_fmnist_stem_train": ("deit_fmnist_d64_stem32_patch2_28",
                              dict(img_size=28, patch_size=2, in_chans=1, embed_dim=64, depth=2,
                                   num_heads=4, mlp_ratio=4.0, stem_chans=32), 2000),
    # patch 7 (4x4 tokens) over a narrow 5-channel stem
    "vit_fmnist_stem_p7_train": ("vit_fmnist_d32_stem5_patch7_28",
                                 dict(img_size=28, patch_size=7, in_chans=1, embed_dim=32, depth=2,
                                      num_heads=2, mlp_ratio=2.0, stem_chans=5), 2001),
}


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm1.weight", "norm2.weight", "norm.weight")):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.ndim == 1 or name.endswith(("cls_token", "pos_embed")):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def write(outdir, name, exits, seed):
    args = [dict(img_size=28, in_chans=1, **e) for e in exits]
    model = dvt.DVTCascade(args)
    randomise(model, torch.Generator().manual_seed(seed))
    folder = os.path.join(outdir, name)
    cfg = {"architecture": "dvt_cascade", "num_classes": 10,
           "model_args": {"exits": args, "ctx_hidden": dvt.CTX_HIDDEN, "ctx_dim": dvt.CTX_DIM,
                          "ln_eps": 1e-6},
           "exit_gflops": dvt.cumulative_gflops(args), "exit_threshold": 0.9}
    export.write_folder(folder, model.state_dict(), cfg)
    with open(os.path.join(folder, "config.json")) as f:
        full = json.load(f)
    x = common.random_input(full, seed + 1)
    m = model.double().eval()
    with torch.no_grad():
        outs = m(torch.from_numpy(x).double().unsqueeze(0))
    exit_logits = torch.cat(outs).float().numpy()
    np.save(os.path.join(folder, "input.npy"), x)
    np.save(os.path.join(folder, "exit_logits.npy"), exit_logits)
    np.save(os.path.join(folder, "logits.npy"), exit_logits[-1])
    probs = torch.from_numpy(exit_logits).double().softmax(1)
    conf = probs.max(1).values.tolist()
    decisions = []
    for t in sorted(set([0.0, 1.01] + [round(c - 0.01, 4) for c in conf[:-1]] +
                        [round(c + 0.01, 4) for c in conf[:-1]])):
        k = next((i for i, c in enumerate(conf[:-1]) if c >= t), len(conf) - 1)
        decisions.append({"threshold": t, "exit": k, "class": int(probs[k].argmax()),
                          "prob": round(conf[k], 6)})
    with open(os.path.join(folder, "expected_exits.json"), "w") as f:
        json.dump({"decisions": decisions}, f, indent=1)
        f.write("\n")
    return exit_logits


def write_vit(outdir, name, architecture, args, seed):
    """A vit_model.VisionTransformer fixture; returns its float64 logits as float32 [10]."""
    import vit_model
    import model_folder
    model = vit_model.VisionTransformer(num_classes=10, **args)
    randomise(model, torch.Generator().manual_seed(seed))
    folder = os.path.join(outdir, name)
    cfg = {"architecture": architecture, "num_classes": 10, "model_args": model.args,
           "gflops": 2 * vit_model.vit_macs(**model.args) / 1e9}
    export.write_folder(folder, model.state_dict(), cfg)
    with open(os.path.join(folder, "config.json")) as f:
        full = json.load(f)
    x = common.random_input(full, seed + 1)
    xt = torch.from_numpy(x).double().unsqueeze(0)
    with torch.no_grad():
        logits = model.double().eval()(xt)[0]
        ref = model_folder.load_reference_vit(folder).double()(xt)[0]
    err = float((ref - logits).abs().max() / logits.abs().max())
    if err > 1e-9:
        raise AssertionError(f"{name}: tools/ref/vit.py disagrees with vit_model.py ({err:.3g})")
    np.save(os.path.join(folder, "input.npy"), x)
    np.save(os.path.join(folder, "logits.npy"), logits.float().numpy())
    return logits.float().numpy()


def write_all(outdir, quiet=True):
    """Every fixture of this file; returns their names."""
    names = []
    for name, (exits, seed) in sorted(FIXTURES.items()):
        lg = write(outdir, name, exits, seed)
        names.append(name)
        if not quiet:
            probs = torch.from_numpy(lg).softmax(1).max(1).values.numpy().round(3).tolist()
            print(f"{name}: DVT cascade (tools/train/dvt_fixture.py), exit argmax "
                  f"{lg.argmax(1).tolist()}, max prob {probs}", flush=True)
    for name, (arch, args, seed) in sorted(VIT_FIXTURES.items()):
        lg = write_vit(outdir, name, arch, args, seed)
        names.append(name)
        if not quiet:
            print(f"{name}: vit_model.py ViT (tools/train/dvt_fixture.py), argmax "
                  f"{int(lg.argmax())}, range [{lg.min():.3f}, {lg.max():.3f}]", flush=True)
    return names


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("outdir")
    a = p.parse_args()
    torch.set_num_threads(1)
    write_all(a.outdir, quiet=False)


if __name__ == "__main__":
    main()
