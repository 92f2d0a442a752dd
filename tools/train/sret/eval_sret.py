#!/usr/bin/python3
"""Fashion-MNIST test accuracy and frames/s of the shipped SReT models through the C runtime:
grouped attention against global attention, in one run.

  eval_sret.py [--build BUILD | --vit-eval PATH] [--rounds 3] [--threads 1] [MODEL...]
  (default models: models/fmnist-sret-grouped models/fmnist-sret-global)

Each round runs `vit-eval MODEL --images t10k --labels t10k --threads T --json` (every test
image through vit_session_classify as a GRAY8 frame, preprocessing included, as the element
feeds frames) on every model in turn, so machine load hits them alike. Reported per model:
accuracy (identical every round), GFLOPs per frame (libvit's count), frames/s by wall clock
(vit-eval's own number) and frames per CPU second (images / the child's user+system time: the
steadier number on a shared machine with one thread), medians over rounds; then the ratios
global / grouped. Also checks that the C runtime's accuracy equals the PyTorch test accuracy
recorded in config.json "training" by sret_fmnist.py (exit status 1 if not; meson test runs
it that way with --rounds 1 --vit-eval, and it exits 77 when the data set is not installed).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DATA = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def run_eval(vit_eval, model, threads):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    images = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
    labels = os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")
    p = subprocess.run([vit_eval, model, "--images", images, "--labels", labels,
                        "--threads", str(threads), "--json"],
                       capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r = json.loads(p.stdout)
    r["cpu_seconds"] = cpu
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--build", default=os.environ.get("VITD_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vit-eval", help="this vit-eval binary (no build step)")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")):
        print(f"SKIP: no Fashion-MNIST test set in {DATA}")
        return 77
    models = a.models or [os.path.join(ROOT, "models", f"fmnist-sret-{v}")
                          for v in ("grouped", "global")]
    vit_eval = a.vit_eval
    if not vit_eval:
        subprocess.run(["ninja", "-C", a.build, "plugins/vit/vit-eval"], check=True,
                       stdout=subprocess.DEVNULL)
        vit_eval = os.path.join(a.build, "plugins", "vit", "vit-eval")
    runs = {m: [] for m in models}
    for r in range(a.rounds):
        for m in models:
            res = run_eval(vit_eval, m, a.threads)
            runs[m].append(res)
            print(f"round {r + 1}: {os.path.basename(m)}: accuracy {res['accuracy']:.4f}, "
                  f"{res['frames_per_second']:.0f} frames/s wall, "
                  f"{res['images'] / res['cpu_seconds']:.0f} frames/CPU-s", flush=True)
    print(f"\nFashion-MNIST test set (10,000 images), vit-eval --threads {a.threads}, "
          f"median of {a.rounds} rounds")
    print(f"{'model':>22} {'accuracy':>9} {'torch acc':>9} {'GFLOPs':>8} {'frames/s':>9} "
          f"{'frames/CPU-s':>12}")
    summary, ok = {}, True
    for m in models:
        rs = runs[m]
        with open(os.path.join(m, "config.json")) as f:
            torch_acc = json.load(f).get("training", {}).get("test_acc")
        fps = statistics.median(x["frames_per_second"] for x in rs)
        cfps = statistics.median(x["images"] / x["cpu_seconds"] for x in rs)
        acc = rs[0]["accuracy"]
        summary[m] = (acc, rs[0]["mean_gflops"], fps, cfps)
        if torch_acc is not None and abs(acc - torch_acc) > 0.002:
            ok = False
        shown = "-" if torch_acc is None else f"{torch_acc:.4f}"
        print(f"{os.path.basename(m):>22} {acc:9.4f} {shown:>9} "
              f"{rs[0]['mean_gflops']:8.5f} {fps:9.0f} {cfps:12.0f}")
    if len(models) == 2:
        g, b = summary[models[0]], summary[models[1]]
        print(f"{'second / first':>22} {b[0] - g[0]:+9.4f} {'':>9} {b[1] / g[1]:7.2f}x "
              f"{b[2] / g[2]:8.2f}x {b[3] / g[3]:11.2f}x")
    if not ok:
        print("WARNING: the C runtime's accuracy differs from the PyTorch test accuracy in "
              "config.json by more than 0.2%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
