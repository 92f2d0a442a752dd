"""Trains the DVT cascade (dvt.py) on Fashion-MNIST stage by stage and exports it with
validation-chosen thresholds.

Recipe (compute-bounded, 2 shared CPU cores): exit 0 (4x4 tokens) is a plain ViT trained by
train_vit.py; it is copied in unchanged. Stage k (k >= 1) trains exit k together with its
feature- and relationship-reuse modules while exits < k stay frozen (their forward runs under
no_grad, so a stage costs about one single-exit training). Exit k is warm-started from a
single ViT (--warm-exit; of another grid it is resized first, as train_vit.py --init-from does),
the reuse paths start as zero (dvt.py), so training begins near the single-exit model.

  train_dvt.py --name dvt-s1 --stage 1 --init-exit0 EXIT0/best.pt --warm-exit TINY/best.pt
  train_dvt.py --name dvt-s2 --stage 2 --init-cascade dvt-s1/best.pt --warm-exit TINY/best.pt \
      --out models/fmnist-dvt
  train_dvt.py --name dvt-s2 --export-only --out models/fmnist-dvt   # thresholds + export
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cascade_eval  # noqa: E402
import dvt  # noqa: E402
import export  # noqa: E402
import fmnist  # noqa: E402
import train_vit  # noqa: E402
import training_loop  # noqa: E402
import vit_model  # noqa: E402

BUDGET_QS = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0]
SWEEP = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 1.01]


def warm_exit_state(src, ex, exit_arg):
    """Single-ViT state dict -> exit ex's tensors; ctx columns/channels keep their init. A ViT
    of another grid is first resized like train_vit.py --init-from does (pos_embed bilinear,
    patch kernel by area)."""
    if src["patch_embed.proj.weight"].shape[-1] != exit_arg["patch_size"]:
        plain = vit_model.VisionTransformer(**exit_arg)
        src = train_vit.adapt_state(src, plain)
    dst = ex.state_dict()
    out = dict(dst)
    for k, v in src.items():
        if k not in dst:
            raise ValueError(f"warm start: {k} has no place in the exit")
        t = dst[k].clone()
        if t.shape == v.shape:
            t = v
        elif k.endswith("norm2.weight") or k.endswith("norm2.bias"):
            t[:v.shape[0]] = v
        elif k.endswith("mlp.fc1.weight"):
            t[:, :v.shape[1]] = v
        else:
            raise ValueError(f"warm start: tensor {k}: {tuple(v.shape)} vs {tuple(t.shape)}")
        out[k] = t
    return out


def exit_args_from(a):
    args = [dict(img_size=28, patch_size=p, in_chans=1, embed_dim=d, depth=a.depth,
                 num_heads=a.num_heads, mlp_ratio=a.mlp_ratio)
            for p, d in zip(a.patches, a.dims)]
    if a.stem_chans:
        for x in args:
            x["stem_chans"] = a.stem_chans
    return args


def all_probs(model, images):
    outs = training_loop.predict(lambda x: [o.softmax(1) for o in model(x)], images)
    return torch.stack(outs)


def choose_thresholds(model, exit_args, slack):
    """Validation sweep: single-threshold curve, budget thresholds per q, and the default T:
    the cheapest swept T whose val accuracy is within `slack` of the best swept accuracy (an
    early exit can beat a weaker last exit, so the last exit alone is not the reference)."""
    xv, yv = fmnist.load_split("val")
    probs = all_probs(model, xv)
    g = dvt.cumulative_gflops(exit_args)
    k = len(exit_args)
    last_acc = (probs[-1].argmax(1) == yv).double().mean().item()
    sweep = []
    for t in SWEEP:
        r = cascade_eval.evaluate(probs, yv, g, [t] * (k - 1) + [0.0])
        sweep.append({"threshold": t, "val_accuracy": round(r["accuracy"], 5),
                      "val_mean_gflops": round(r["mean_gflops"], 6),
                      "val_exit_counts": r["exit_counts"]})
    best = max(s["val_accuracy"] for s in sweep)
    ok = [s for s in sweep if s["val_accuracy"] >= best - slack]
    default = min(ok, key=lambda s: s["val_mean_gflops"])
    budgets = []
    for q in BUDGET_QS:
        th = cascade_eval.budget_thresholds(probs, q)
        r = cascade_eval.evaluate(probs, yv, g, th)
        budgets.append({"q": q, "thresholds": [round(t, 6) for t in th],
                        "val_accuracy": round(r["accuracy"], 5),
                        "val_mean_gflops": round(r["mean_gflops"], 6),
                        "val_exit_counts": r["exit_counts"]})
    return default, sweep, budgets, last_acc


def finalize(model, ck, exit_args, out, slack, training_info):
    default, sweep, budgets, last_acc = choose_thresholds(model, exit_args, slack)
    t = default["threshold"]
    cfg = {"architecture": "dvt_cascade", "num_classes": 10,
           "model_args": {"exits": exit_args, "ctx_hidden": dvt.CTX_HIDDEN,
                          "ctx_dim": dvt.CTX_DIM, "ln_eps": 1e-6,
                          "resize": "nearest x ceil(g_dn/g_up), then adaptive average pool"},
           "exit_gflops": [round(v, 6) for v in dvt.cumulative_gflops(exit_args)],
           "exit_threshold": t, "exit_thresholds": [t] * (len(exit_args) - 1) + [0.0],
           "threshold_sweep": sweep, "budgets": budgets,
           "training": {**training_info, "val_acc_last_exit": last_acc,
                        "checkpoint_epoch": ck.get("epoch", -1) + 1,
                        "threshold_rule": f"cheapest swept T with val acc >= the best swept "
                                          f"T's val acc - {slack}"}}
    export.write_folder(out, ck["model"], cfg)
    training_loop.log(f"exported cascade to {out}: default threshold {t} "
                      f"(val acc {default['val_accuracy']:.4f}, "
                      f"{default['val_mean_gflops']:.4f} GFLOPs, exits "
                      f"{default['val_exit_counts']}); last exit alone val {last_acc:.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    training_loop.add_common_args(p)
    p.add_argument("--stage", type=int, default=1, help="exit index trained in this run")
    p.add_argument("--patches", type=int, nargs="+", default=[7, 4, 2])
    p.add_argument("--dims", type=int, nargs="+", default=[64, 64, 64])
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=float, default=4.0)
    p.add_argument("--stem-chans", type=int, default=0, help="conv tokenizer width of every exit")
    p.add_argument("--init-exit0", default="", help="single-ViT checkpoint for exit 0")
    p.add_argument("--init-cascade", default="", help="previous stage's cascade checkpoint")
    p.add_argument("--warm-exit", default="", help="single-ViT checkpoint to warm the trained exit")
    p.add_argument("--export-only", action="store_true")
    p.add_argument("--slack", type=float, default=0.003)
    p.add_argument("--out", default="")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    exit_args = exit_args_from(a)
    model = dvt.DVTCascade(exit_args)
    info = {"command": " ".join(sys.argv), "epochs": a.epochs, "batch_size": a.batch_size,
            "lr": a.lr, "seed": a.seed, "stage": a.stage}
    if a.export_only:
        ck = torch.load(os.path.join(a.work_dir, a.name, "best.pt"))
        model.load_state_dict(ck["model"])
        finalize(model.eval(), ck, exit_args, a.out, a.slack, ck.get("training", info))
        return
    k = a.stage
    if not a.resume:
        if a.init_cascade:
            sd = torch.load(a.init_cascade)["model"]
            own = model.state_dict()
            keep = tuple(f"exits.{i}." for i in range(k))  # the frozen, already trained exits
            model.load_state_dict({**own, **{n: v for n, v in sd.items() if n.startswith(keep)}})
        if a.init_exit0:
            model.exits[0].load_state_dict(torch.load(a.init_exit0)["model"])
        if a.warm_exit:
            ex = model.exits[k]
            ex.load_state_dict(warm_exit_state(torch.load(a.warm_exit)["model"], ex, exit_args[k]))
    for i, ex in enumerate(model.exits):
        ex.requires_grad_(i == k)

    def forward_k(m, x):
        with torch.no_grad():
            feats = logits = None
            for ex in m.exits[:k]:
                _, feats, logits = ex(x, feats, logits)
        return m.exits[k](x, feats, logits)[0]

    def loss_fn(m, x, y):
        return F.cross_entropy(forward_k(m, x), y)

    def val_fn(m, x, y):
        pred = training_loop.predict(lambda t: forward_k(m, t), x).argmax(1)
        acc = (pred == y).float().mean().item()
        return acc, f"val acc exit {k} {acc:.4f}"

    best = training_loop.run(model, a, loss_fn, val_fn, params=model.exits[k].parameters())
    ck = torch.load(best)
    ck["training"] = {**info, "val_acc_exit": ck["val"]}
    torch.save(ck, best)
    if a.out:
        model.load_state_dict(ck["model"])
        finalize(model.eval(), ck, exit_args, a.out, a.slack, ck["training"])


if __name__ == "__main__":
    main()
