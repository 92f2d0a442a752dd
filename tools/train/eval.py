"""Test accuracy of an exported model folder through the PyTorch reference (the numbers the C
runtime's vit-eval must reproduce). For cascades: every exit alone, and the cascade at the
config's default threshold (or --exit-threshold T, same T for every exit), with mean GFLOPs and
the exit histogram.

  /usr/bin/python3 tools/train/eval.py models/fmnist-vit-tiny [--split test] [--json]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cascade_eval  # noqa: E402
import dvt  # noqa: E402
import fmnist  # noqa: E402
import model_folder  # noqa: E402
import training_loop  # noqa: E402
import vit_model  # noqa: E402


def exit_probs(model, cfg, images):
    """Returns ([K, N, C] softmax probabilities, cumulative GFLOPs per exit)."""
    if cfg["architecture"] == "dvt_cascade":
        outs = training_loop.predict(lambda x: [o.softmax(1) for o in model(x)], images)
        return torch.stack(outs), dvt.cumulative_gflops(cfg["model_args"]["exits"])
    probs = training_loop.predict(lambda x: model(x).softmax(1), images)
    return probs.unsqueeze(0), [2 * vit_model.vit_macs(**cfg["model_args"]) / 1e9]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--split", default="test", choices=["test", "val"])
    p.add_argument("--exit-threshold", type=float, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, cfg = model_folder.load(a.model)
    x, y = fmnist.load_split(a.split)
    t0 = time.time()
    probs, gflops = exit_probs(model, cfg, x)
    secs = time.time() - t0
    k = probs.shape[0]
    if cfg["architecture"] != "dvt_cascade":  # cross-check against tools/ref/vit.py
        ref = model_folder.load_reference_vit(a.model)
        xs = fmnist.normalise(x[:200])
        with torch.no_grad():
            diff = (ref(xs) - model(xs)).abs().max().item()
        if diff > 1e-4:
            sys.exit(f"{a.model}: tools/ref/vit.py disagrees with tools/train (max |dlogit| {diff})")
    t = a.exit_threshold if a.exit_threshold is not None else cfg.get("exit_threshold", 1.0)
    res = cascade_eval.evaluate(probs, y, gflops, [t] * (k - 1) + [0.0])
    res.update({"model": a.model, "architecture": cfg["architecture"], "split": a.split,
                "images": len(y), "exit_threshold": t if k > 1 else None,
                "exit_gflops": gflops,
                "exit_accuracy": [(probs[i].argmax(1) == y).double().mean().item()
                                  for i in range(k)],
                "pytorch_seconds_all_exits": round(secs, 2)})
    if a.json:
        print(json.dumps(res))
        return
    print(f"{a.model} ({cfg['architecture']}) on {a.split}: {len(y)} images")
    for i in range(k):
        print(f"  exit {i}: accuracy {100 * res['exit_accuracy'][i]:.2f}%  "
              f"cumulative {gflops[i]:.4f} GFLOPs")
    if k > 1:
        print(f"  cascade at threshold {t}: accuracy {100 * res['accuracy']:.2f}%  "
              f"mean {res['mean_gflops']:.4f} GFLOPs  exits {res['exit_counts']}")
    else:
        print(f"  accuracy {100 * res['accuracy']:.2f}%")


if __name__ == "__main__":
    main()
