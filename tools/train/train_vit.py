"""Trains a single timm-keyed ViT on Fashion-MNIST and exports it to a model folder.

The shipped demo model (models/fmnist-vit-tiny, 7x7 tokens):
  nice -n 19 /usr/bin/python3 tools/train/train_vit.py --name fmnist-vit-tiny \
      --patch-size 4 --embed-dim 64 --depth 4 --num-heads 4 --mlp-ratio 4 --epochs 6 \
      --out models/fmnist-vit-tiny
--init-from CKPT warm-starts from another ViT checkpoint (e.g. 7x7 -> 14x14): blocks are copied,
pos_embed is resized bilinearly, the patch kernel is resized by area averaging (x area ratio).
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import training_loop  # noqa: E402
import vit_model  # noqa: E402


def adapt_state(src, model):
    """Maps a ViT state dict onto model's shapes (grid and patch size may differ)."""
    dst = model.state_dict()
    out = {}
    for k, v in src.items():
        if k not in dst:
            continue
        t = dst[k]
        if k == "pos_embed" and v.shape != t.shape:
            gs, gd = int((v.shape[1] - 1) ** 0.5), int((t.shape[1] - 1) ** 0.5)
            grid = v[:, 1:].reshape(1, gs, gs, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(gd, gd), mode="bilinear", align_corners=False)
            v = torch.cat([v[:, :1], grid.permute(0, 2, 3, 1).reshape(1, gd * gd, -1)], 1)
        elif k == "patch_embed.proj.weight" and v.shape != t.shape:
            ks, kd = v.shape[-1], t.shape[-1]
            v = F.interpolate(v, size=(kd, kd), mode="area") * (ks * ks) / (kd * kd)
        if v.shape != t.shape:
            raise ValueError(f"warm start: tensor {k}: {tuple(v.shape)} vs {tuple(t.shape)}")
        out[k] = v
    missing = set(dst) - set(out)
    if missing:
        raise ValueError(f"warm start: missing tensors {sorted(missing)}")
    return out


def val_fn(model, x, y):
    acc = (training_loop.predict(model, x).argmax(1) == y).float().mean().item()
    return acc, f"val acc {acc:.4f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    training_loop.add_common_args(p)
    p.add_argument("--patch-size", type=int, default=4)
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=float, default=4.0)
    p.add_argument("--stem-chans", type=int, default=0,
                   help="conv tokenizer: 3x3 conv + ReLU to N channels before the patch conv")
    p.add_argument("--architecture", default="", help="config.json name (default from shape)")
    p.add_argument("--init-from", default="", help="warm-start checkpoint (.pt)")
    p.add_argument("--out", default="", help="model folder to export best.pt to at the end")
    a = p.parse_args()
    model = vit_model.VisionTransformer(28, a.patch_size, 1, a.embed_dim, a.depth,
                                        a.num_heads, a.mlp_ratio, stem_chans=a.stem_chans)
    if a.init_from and not a.resume:
        model.load_state_dict(adapt_state(torch.load(a.init_from)["model"], model))
        training_loop.log(f"warm start from {a.init_from}")
    stem = f"_stem{a.stem_chans}" if a.stem_chans else ""
    arch = a.architecture or f"vit_fmnist_d{a.embed_dim}{stem}_patch{a.patch_size}_28"
    macs = vit_model.vit_macs(**model.args)
    config = {"architecture": arch, "num_classes": 10, "model_args": model.args,
              "gflops": round(2 * macs / 1e9, 6),
              "training": {"command": " ".join(sys.argv), "epochs": a.epochs,
                           "batch_size": a.batch_size, "lr": a.lr, "seed": a.seed,
                           "init_from": a.init_from or None}}

    def loss_fn(m, x, y):
        return F.cross_entropy(m(x), y)

    best = training_loop.run(model, a, loss_fn, val_fn)
    ck = torch.load(best)
    ck["config"] = {**config, "training": {**config["training"], "val_acc": ck["val"]}}
    torch.save(ck, best)
    if a.out:
        export.write_folder(a.out, ck["model"], {**ck["config"], "training": {
            **ck["config"]["training"], "checkpoint_epoch": ck["epoch"] + 1}})
        training_loop.log(f"exported {best} (epoch {ck['epoch'] + 1}) to {a.out}")


if __name__ == "__main__":
    main()
