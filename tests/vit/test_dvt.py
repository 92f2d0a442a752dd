#!/usr/bin/python3
"""vit-eval end to end on IDX files written at test time, against the PyTorch cascade.

  test_dvt.py VIT_EVAL FIXTURES_DIR TOOLS_DIR VIT_INFER

Images: the dvt_cascade_fmnist_shape fixture's input turned back into 8-bit pixels, plus
shifted, flipped, inverted and random variants. tools/train's PyTorch cascade (float64) gives
every exit's probabilities on exactly those pixels; the labels are its answers at a middle
threshold with every third one deliberately wrong. At several thresholds (and a budget of an
edited config) vit-eval --json must report the same number of correct answers, the same exit
histogram and the mean GFLOPs those exits cost, for .gz and plain IDX alike. Also: a single-exit
model gives a one-bin histogram, and bad input is a one-line error with the right exit status.
Last, a cascade with uneven grids (7x7 -> 4x4 -> 9x9) checks every exit's logits via vit-infer.
Exits 77 (skip) when the fixtures are missing.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

# Subprocess timeouts are multiplied by VITD_TIMEOUT_MULTIPLIER (tools/cross/test.sh sets it:
# under qemu-user the programs run many times slower).
SLOW = float(os.environ.get("VITD_TIMEOUT_MULTIPLIER", "1"))

FIXTURE = "dvt_cascade_fmnist_shape"


def write_idx(path, array):
    data = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    data += b"".join(struct.pack(">I", d) for d in array.shape) + array.astype(np.uint8).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def make_images(x, mean, std, count, rng):
    """uint8 [count, 28, 28]: the fixture input as pixels, then variants of it, then noise."""
    base = np.clip(np.rint((x[0] * std + mean) * 255.0), 0, 255).astype(np.uint8)
    out = [base, base[:, ::-1], base[::-1], 255 - base]
    for s in range(1, 6):
        out += [np.roll(base, s, 0), np.roll(base, -s, 1)]
    while len(out) < count:
        out.append(rng.integers(0, 256, size=base.shape, dtype=np.uint8))
    return np.stack(out[:count])


def exit_probs(tools, folder, images, mean, std):
    """[K, N, C] float64 softmax of every exit of the PyTorch cascade."""
    sys.path.insert(0, os.path.join(tools, "train"))
    import torch
    import model_folder
    torch.set_num_threads(1)
    model, _ = model_folder.load(folder)
    x = (torch.from_numpy(images).double() / 255.0 - mean) / std
    with torch.no_grad():
        outs = model.double()(x.unsqueeze(1))
    return np.stack([o.softmax(1).numpy() for o in outs])


def answers(probs, thresholds):
    """(answering exit, its class) per image, as the runtime decides."""
    conf, pred = probs.max(2), probs.argmax(2)
    k_last = probs.shape[0] - 1
    exits = np.array([next((k for k in range(k_last) if conf[k, i] >= thresholds[k]), k_last)
                      for i in range(probs.shape[1])])
    return exits, pred[exits, np.arange(probs.shape[1])]


def expected(probs, labels, gflops, thresholds):
    exits, classes = answers(probs, thresholds)
    return {"correct": int((classes == labels).sum()),
            "exit_counts": np.bincount(exits, minlength=probs.shape[0]).tolist(),
            "mean_gflops": float(np.mean(np.asarray(gflops)[exits]))}


def safe_threshold(conf, t):
    """t moved off any confidence within 1e-4 (float32 vs float64 could decide either way)."""
    while np.any(np.abs(conf - t) < 1e-4):
        t += 3e-4
    return t


def run_eval(vit_eval, model, images, labels, *extra):
    proc = subprocess.run([vit_eval, model, "--images", images, "--labels", labels, "--json",
                           "--threads", "2", *extra], capture_output=True, text=True,
                          timeout=120 * SLOW)
    if proc.returncode != 0:
        raise AssertionError(f"vit-eval {' '.join(extra)} exit {proc.returncode}: {proc.stderr}")
    return json.loads(proc.stdout)


def check(failures, name, got, want, gflops):
    problems = []
    if got["correct"] != want["correct"]:
        problems.append(f"correct {got['correct']} != {want['correct']}")
    if got["exit_counts"] != want["exit_counts"]:
        problems.append(f"exits {got['exit_counts']} != {want['exit_counts']}")
    if abs(got["mean_gflops"] - want["mean_gflops"]) > 1e-9 * max(gflops):
        problems.append(f"mean GFLOPs {got['mean_gflops']} != {want['mean_gflops']}")
    if abs(got["accuracy"] - got["correct"] / got["images"]) > 1e-12:
        problems.append("accuracy is not correct / images")
    if not got["frames_per_second"] > 0:
        problems.append("frames_per_second not positive")
    print(f"{'ok' if not problems else 'FAIL'} {name}: {got['correct']}/{got['images']} correct, "
          f"exits {got['exit_counts']}, {got['mean_gflops']:.6f} GFLOPs")
    failures += [f"{name}: {p}" for p in problems]


def cascade_checks(vit_eval, fixtures, tools, tmp, failures):
    folder = os.path.abspath(os.path.join(fixtures, FIXTURE))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    mean, std = cfg["pretrained_cfg"]["mean"][0], cfg["pretrained_cfg"]["std"][0]
    rng = np.random.default_rng(7)
    images = make_images(np.load(os.path.join(folder, "input.npy")), mean, std, 60, rng)
    probs = exit_probs(tools, folder, images, mean, std)
    k = probs.shape[0]
    gflops = cfg["exit_gflops"]
    conf = probs.max(2)
    mid = safe_threshold(conf, float(np.median(conf[0])))
    labels = answers(probs, [mid] * (k - 1) + [0.0])[1]
    labels[::3] = (labels[::3] + 1) % 10
    paths = {}
    for ext in ("", ".gz"):
        paths[ext] = (os.path.join(tmp, "images.idx" + ext), os.path.join(tmp, "labels.idx" + ext))
        write_idx(paths[ext][0], images)
        write_idx(paths[ext][1], labels)
    default = cfg.get("exit_threshold", 1.0)
    cases = [("default", [], safe_threshold(conf, default)), ("T=0", ["--exit-threshold", "0"], 0.0),
             (f"T={mid:.4f}", ["--exit-threshold", repr(mid)], mid),
             ("T=1.5", ["--exit-threshold", "1.5"], 1.5)]
    for name, extra, t in cases:
        want = expected(probs, labels, gflops, [t] * (k - 1) + [0.0])
        for ext, (im, lb) in paths.items():
            got = run_eval(vit_eval, folder, im, lb, *extra)
            check(failures, f"{name} idx{ext}", got, want, gflops)
            if got["exit_gflops"] != [float(g) for g in got["exit_gflops"]] or \
                    max(abs(a - b) for a, b in zip(got["exit_gflops"], gflops)) > 1e-9:
                failures.append(f"{name}: exit_gflops {got['exit_gflops']} != config {gflops}")
    # --limit
    got = run_eval(vit_eval, folder, *paths[".gz"], "--limit", "10")
    if got["images"] != 10 or sum(got["exit_counts"]) != 10:
        failures.append(f"--limit 10: {got['images']} images, exits {got['exit_counts']}")
    # budget mode on an edited config: the budget whose cost is the largest not above the target
    budget_dir = os.path.join(tmp, "budget-model")
    os.mkdir(budget_dir)
    os.symlink(os.path.join(folder, "model.safetensors"),
               os.path.join(budget_dir, "model.safetensors"))
    budgets = [[1.5, 1.5, 0.0], [mid, mid, 0.0], [0.0, 0.0, 0.0]]
    cfg["budgets"] = [{"thresholds": t, "val_mean_gflops": expected(probs, labels, gflops, t)[
        "mean_gflops"]} for t in budgets]
    with open(os.path.join(budget_dir, "config.json"), "w") as f:
        json.dump(cfg, f)
    target = cfg["budgets"][1]["val_mean_gflops"] + 1e-7
    got = run_eval(vit_eval, budget_dir, *paths[""], "--budget", repr(target))
    check(failures, f"--budget {target:.6f}", got, expected(probs, labels, gflops, budgets[1]),
          gflops)
    if (got["budget"] or {}).get("index") != 1:
        failures.append(f"--budget {target}: budget {got['budget']}, expected index 1")
    return paths


def single_exit_checks(vit_eval, fixtures, paths, failures):
    model = os.path.join(fixtures, "vit_gray_test")
    if not os.path.isdir(model):
        return
    got = run_eval(vit_eval, model, *paths[""])
    print(f"single exit: exits {got['exit_counts']}, {got['mean_gflops']:.6f} GFLOPs")
    if got["exits"] != 1 or got["exit_counts"] != [got["images"]] or \
            abs(got["mean_gflops"] - got["exit_gflops"][0]) > 1e-12:
        failures.append(f"single-exit model: {got}")


def error_checks(vit_eval, fixtures, paths, tmp, failures):
    model = os.path.join(fixtures, FIXTURE)
    images, labels = paths[""]
    truncated = os.path.join(tmp, "truncated.idx")
    with open(images, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:1000])
    short_labels = os.path.join(tmp, "short-labels.idx")
    write_idx(short_labels, np.zeros(5, dtype=np.uint8))
    cases = [
        ([model, "--images", truncated, "--labels", labels], 1, "truncated.idx"),
        ([model, "--images", images, "--labels", short_labels], 1, "short-labels.idx"),
        ([model, "--images", images, "--labels", labels, "--budget", "0.1"], 1, "budgets"),
        ([model, "--images", images, "--labels", labels, "--budget", "0.1",
          "--exit-threshold", "0.5"], 2, "exclude"),
        ([model, "--images", images], 2, "--labels"),
        ([os.path.join(tmp, "nowhere"), "--images", images, "--labels", labels], 1, "nowhere"),
    ]
    for args, status, word in cases:
        proc = subprocess.run([vit_eval, *args], capture_output=True, text=True, timeout=60 * SLOW)
        lines = proc.stderr.strip().splitlines()
        ok = proc.returncode == status and lines and word in lines[0] and not proc.stdout
        print(f"{'ok' if ok else 'FAIL'} error {word}: exit {proc.returncode}: {proc.stderr.strip()}")
        if not ok:
            failures.append(f"{args}: exit {proc.returncode} (want {status}), stderr "
                            f"{proc.stderr.strip()!r} (want {word!r})")


def odd_grid_checks(vit_infer, tools, tmp, failures):
    """A cascade whose grids shrink, then grow by a non-integer factor (7x7 -> 4x4 -> 9x9, the
    last from a patch that does not divide 28): resize()'s pooling and up-sampling beyond the
    shipped 4 -> 7 -> 14. Random weights with non-zero reuse paths (dvt_fixture.randomise);
    each exit's logits, forced by config.json exit_thresholds, against float64 PyTorch."""
    sys.path.insert(0, os.path.join(tools, "train"))
    sys.path.insert(0, tools)
    import torch
    import dvt
    import dvt_fixture
    import export
    args = [dict(img_size=28, in_chans=1, patch_size=p, embed_dim=d, depth=2, num_heads=h,
                 mlp_ratio=2.0) for p, d, h in ((4, 32, 2), (7, 24, 3), (3, 32, 4))]
    model = dvt.DVTCascade(args)
    dvt_fixture.randomise(model, torch.Generator().manual_seed(5))
    folder = os.path.join(tmp, "odd-grids")
    cfg = {"architecture": "dvt_cascade", "num_classes": 10,
           "model_args": {"exits": args, "ctx_hidden": dvt.CTX_HIDDEN, "ctx_dim": dvt.CTX_DIM}}
    export.write_folder(folder, model.state_dict(), cfg)
    x = np.random.default_rng(3).standard_normal((1, 28, 28)).astype(np.float32)
    np.save(os.path.join(tmp, "odd-input.npy"), x)
    with torch.no_grad():
        want = [o[0].numpy() for o in model.double().eval()(torch.from_numpy(x).double()[None])]
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    for k in range(3):
        cfg["exit_thresholds"] = [2.0] * k + [0.0] * (3 - k)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f)
        for threads in ("1", "2"):
            out = os.path.join(tmp, "odd-logits.npy")
            proc = subprocess.run([vit_infer, folder, os.path.join(tmp, "odd-input.npy"),
                                   "--logits", out, "--threads", threads],
                                  capture_output=True, text=True, timeout=60 * SLOW)
            if proc.returncode != 0:
                failures.append(f"odd grids exit {k}: vit-infer: {proc.stderr.strip()}")
                continue
            err = float(np.abs(np.load(out) - want[k]).max())
            ok = err <= 1e-4 * float(np.abs(want[k]).max())
            print(f"{'ok' if ok else 'FAIL'} odd grids 7->4->9, exit {k}, {threads} thread(s): "
                  f"max|diff| {err:.3g}")
            if not ok:
                failures.append(f"odd grids exit {k} ({threads} threads): max|diff| {err:.3g}")


def main():
    vit_eval, fixtures, tools, vit_infer = sys.argv[1:5]
    if not os.path.exists(os.path.join(fixtures, FIXTURE, "exit_logits.npy")):
        print(f"SKIP: no {FIXTURE} fixture in {fixtures}")
        return 77
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = cascade_checks(vit_eval, fixtures, tools, tmp, failures)
        single_exit_checks(vit_eval, fixtures, paths, failures)
        error_checks(vit_eval, fixtures, paths, tmp, failures)
        odd_grid_checks(vit_infer, tools, tmp, failures)
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
