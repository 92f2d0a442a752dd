"""Plots test accuracy against GFLOPs per image for the DVT cascade (a curve over exit
thresholds, plus the validation-chosen budget points) and the single-exit models, like the DVT
paper's figure, to models/<cascade>/accuracy_vs_gflops.png (matplotlib, Agg), and prints the
numbers behind every point.

  /usr/bin/python3 tools/train/plot.py --cascade models/fmnist-dvt \
      --single models/fmnist-vit-p7 models/fmnist-vit-tiny models/fmnist-deit-p2
"""
import argparse
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cascade_eval  # noqa: E402
import eval as model_eval  # noqa: E402
import fmnist  # noqa: E402
import model_folder  # noqa: E402

THRESHOLDS = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99,
              0.995, 0.999, 1.01]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cascade", required=True)
    p.add_argument("--single", nargs="*", default=[])
    p.add_argument("--out", default="", help="PNG path (default CASCADE/accuracy_vs_gflops.png)")
    a = p.parse_args()
    torch.set_num_threads(2)
    x, y = fmnist.load_split("test")
    model, cfg = model_folder.load(a.cascade)
    probs, g = model_eval.exit_probs(model, cfg, x)
    k = probs.shape[0]
    curve = []
    for t in THRESHOLDS:
        r = cascade_eval.evaluate(probs, y, g, [t] * (k - 1) + [0.0])
        curve.append((r["mean_gflops"], 100 * r["accuracy"], t, r["exit_counts"]))
        print(f"cascade T={t:<6} test acc {100 * r['accuracy']:.2f}%  "
              f"{r['mean_gflops']:.4f} GFLOPs  exits {r['exit_counts']}")
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    ax.plot([c[0] for c in curve], [c[1] for c in curve], "o-", color="tab:blue", ms=3,
            label="DVT cascade (one threshold T for all exits)")
    budgets = []
    for b in cfg.get("budgets", []):
        r = cascade_eval.evaluate(probs, y, g, b["thresholds"])
        budgets.append((r["mean_gflops"], 100 * r["accuracy"]))
        print(f"cascade budget q={b['q']:<5} test acc {100 * r['accuracy']:.2f}%  "
              f"{r['mean_gflops']:.4f} GFLOPs  exits {r['exit_counts']}")
    if budgets:
        ax.plot([b[0] for b in budgets], [b[1] for b in budgets], "s", color="tab:green",
                ms=5, label="cascade, budget thresholds (pi_k ~ q^k, chosen on val)")
    t = cfg.get("exit_threshold")
    if t is not None:
        r = cascade_eval.evaluate(probs, y, g, [t] * (k - 1) + [0.0])
        ax.plot([r["mean_gflops"]], [100 * r["accuracy"]], "*", color="tab:red", ms=12,
                label=f"shipped default T={t}")
    for i in range(k):
        acc = 100 * (probs[i].argmax(1) == y).double().mean().item()
        print(f"cascade exit {i} alone (with upstream exits) test acc {acc:.2f}%  {g[i]:.4f} GFLOPs")
    for folder in a.single:
        m, c = model_folder.load(folder)
        pr, gs = model_eval.exit_probs(m, c, x)
        acc = 100 * (pr[0].argmax(1) == y).double().mean().item()
        grid = c["model_args"]["img_size"] // c["model_args"]["patch_size"]
        ax.plot([gs[0]], [acc], "^", ms=8, label=f"{os.path.basename(folder)} ({grid}x{grid} tokens)")
        print(f"single {folder}: test acc {acc:.2f}%  {gs[0]:.4f} GFLOPs")
    ax.set_xlabel("GFLOPs per image (mean over the 10,000 test images)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST: DVT cascade vs single-exit ViTs")
    ax.grid(alpha=0.3)
    ax.margins(y=0.08)
    ax.legend(fontsize=8, loc="center right")
    out = a.out or os.path.join(a.cascade, "accuracy_vs_gflops.png")
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
