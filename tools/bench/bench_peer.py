#!/usr/bin/python3
"""Peer benchmark: vitd's vit-infer against ONNX Runtime (CPU EP, from npm onnxruntime-node) on
the SAME random weights, measured interleaved in one run.

  tools/bench/bench_peer.py MODELNAME... [--threads T] [--runs N] [--rounds R] [--build DIR]
                            [--model-args JSON] [--name NAME] [--workdir DIR] [--ort-only]
                            [--precision fp32|bf16|auto]

MODELNAME is a fixture name from tools/ref/registry.py (e.g. vit_small_test) or an
architecture name of a family with a reference (deit_tiny_patch16_224, poolformer_s12, ...).
Steps: write the model folder (model.safetensors + config.json + input.npy + logits.npy) and
model.onnx (torch.onnx.export, opset 14, exact-erf GELU) under WORKDIR/NAME; check that both
runtimes reproduce the reference logits; then R rounds of `vit-infer MODEL --bench N --threads
T` and `node ort_run.js model.onnx --runs N --threads T`, alternating which goes first. Each
prints `median_ms: X` on its last line; the result is the median over rounds of each, and the
ratio vitd/ORT (< 1 means vitd is faster). Both also report the median per-run CPU time
(median_cpu_ms), and its ratio is printed too: with --threads 1 on a loaded machine it is the
steadier comparison, as time spent preempted does not count. The fastest single run's CPU time
of each side over all rounds (min_cpu_ms) gives a third ratio, "fastest": other load only ever
adds to a run (cache and memory contention, clock changes), so it is the least disturbed one. Several MODELNAMEs end with a summary table; a
model vit-infer cannot run (family not supported yet) is timed with ORT alone.

--precision is vit-infer's (ORT stays fp32); in bf16 the logits check allows 5e-2.
Build dir: --build, else $VITD_BUILD, else build/ at the top of the repository.
Needs `npm install --ignore-scripts` in tools/bench/ once (package.json is committed).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tools"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ref import common, registry  # noqa: E402


# `@real`: one real-size architecture per family, the set the foundation issue's table reports
REAL = ["deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "poolformer_s12",
        "pvt_v2_b0", "swin_tiny_patch4_window7_224", "sret_tiny", "hat_net_tiny",
        "transcnn_tiny", "poolformerv2_s12", "convformer_s18", "caformer_s18",
        "efficientformer_l1", "levit_128s", "mobilevit_xxs", "efficientformerv2_s0"]


def resolve(name, model_args):
    """Returns a registry.Fixture for a fixture name or an architecture name."""
    for fx in registry.FIXTURES:
        if fx.name == name:
            if model_args:
                fx = registry.Fixture(**{**fx.__dict__,
                                         "model_args": {**fx.model_args, **model_args}})
            return fx
    fam = registry.family_of_architecture(name)
    return registry.Fixture(name, fam, name, 1000, dict(model_args or {}))


def write_model(fx, workdir):
    """Writes the model folder WORKDIR/<fx.name> and its model.onnx; returns (.onnx path,
    GFLOPs of one forward)."""
    model, _ = registry.write(workdir, fx)
    outdir = os.path.join(workdir, fx.name)
    model.float().eval()
    c, h, w = np.load(os.path.join(outdir, "input.npy")).shape
    gflops = common.count_gflops(model, (c, h, w))
    onnx_path = os.path.join(outdir, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, c, h, w), onnx_path, opset_version=14,
                          input_names=["input"], output_names=["logits"],
                          do_constant_folding=True)
    return onnx_path, gflops


def last_median(text, what):
    """(median_ms from the last line, median_cpu_ms and min_cpu_ms from any line or None)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    m = re.match(r"median_ms:\s*([0-9.eE+-]+)", lines[-1]) if lines else None
    if not m:
        raise RuntimeError(f"{what}: no 'median_ms:' on its last line:\n{text}")
    cpu = re.search(r"^median_cpu_ms:\s*([0-9.eE+-]+)", text, re.M)
    low = re.search(r"^min_cpu_ms:\s*([0-9.eE+-]+)", text, re.M)
    return (float(m.group(1)), float(cpu.group(1)) if cpu else None,
            float(low.group(1)) if low else None)


def least(xs):
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def run(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return p.stdout


def rel_err(path, ref):
    got = np.load(path).reshape(-1)
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def bench_one(name, opts):
    """Writes, checks and times one model; returns a summary row (dict)."""
    fx = resolve(name, opts.model_args)
    if opts.name:  # a folder of its own (the seed follows the name)
        fx = registry.Fixture(**{**fx.__dict__, "name": opts.name})
    outdir = os.path.join(opts.workdir, fx.name)
    onnx_path, gflops = write_model(fx, opts.workdir)
    ref = np.load(os.path.join(outdir, "logits.npy"))
    inp = os.path.join(outdir, "input.npy")
    node = ["node", os.path.join(HERE, "ort_run.js")]
    vit_infer = os.path.join(opts.build, "plugins", "vit", "vit-infer")
    have_vit = not opts.ort_only and os.access(vit_infer, os.X_OK)
    if not opts.ort_only and not have_vit:
        print(f"bench: {vit_infer} not found (build first, or --build DIR); ORT only")

    print(f"{fx.name}: model {outdir}, {gflops:.3f} GFLOPs (torch profiler count)")
    out = os.path.join(outdir, "ort_logits.npy")
    run(node + [onnx_path, "--runs", "1", "--warmup", "0", "--input", inp, "--logits", out],
        "ort_run")
    print(f"check: ORT logits vs reference, max abs err / max |logit| = {rel_err(out, ref):.2e}")
    err = None
    if have_vit:
        out = os.path.join(outdir, "vit_logits.npy")
        try:
            run([vit_infer, outdir, inp, "--logits", out, "--precision", opts.precision],
                "vit-infer")
            err = rel_err(out, ref)
            tol = 1e-4 if opts.precision == "fp32" else 5e-2
            print(f"check: vit-infer ({opts.precision}) logits vs reference = {err:.2e}"
                  f"{'' if err <= tol else f'  (MISMATCH: above {tol:g})'}")
        except RuntimeError as e:
            print(f"check: vit-infer cannot run it, timing ORT only: {str(e).splitlines()[-1]}")
            have_vit = False

    vit_ms, ort_ms, vit_cpu, ort_cpu, vit_low, ort_low = [], [], [], [], [], []
    for r in range(opts.rounds):
        order = ["vit", "ort"] if r % 2 == 0 else ["ort", "vit"]
        for who in order:
            if who == "vit" and have_vit:
                try:
                    wall, cpu, low = last_median(
                        run([vit_infer, outdir, "--bench", str(opts.runs), "--threads",
                             str(opts.threads), "--precision", opts.precision], "vit-infer"),
                        "vit-infer")
                    vit_ms.append(wall)
                    vit_cpu.append(cpu)
                    vit_low.append(low)
                except RuntimeError as e:
                    print(f"vit-infer --bench failed, timing ORT only: {e}")
                    have_vit, vit_ms, vit_cpu = False, [], []
            elif who == "ort":
                wall, cpu, low = last_median(run(node + [onnx_path, "--runs", str(opts.runs),
                                                         "--threads", str(opts.threads)],
                                                 "ort_run"), "ort_run")
                ort_ms.append(wall)
                ort_cpu.append(cpu)
                ort_low.append(low)
        print(f"round {r + 1}: " + (f"vitd {vit_ms[-1]:.3f} ms  " if vit_ms else "")
              + f"ort {ort_ms[-1]:.3f} ms", flush=True)
    row = {"name": fx.name, "gflops": gflops, "ort": med(ort_ms), "vit": med(vit_ms),
           "ort_cpu": med(ort_cpu), "vit_cpu": med(vit_cpu), "err": err,
           "ort_low": least(ort_low), "vit_low": least(vit_low)}
    print(f"model: {fx.name}  gflops: {gflops:.3f}  threads: {opts.threads}  runs: {opts.runs}"
          f"  rounds: {opts.rounds}")
    print(f"ort_median_ms: {row['ort']:.3f}")
    if row["ort_cpu"] is not None:
        print(f"ort_median_cpu_ms: {row['ort_cpu']:.3f}")
    if row["vit"] is not None:
        print(f"vitd_median_ms: {row['vit']:.3f}")
        if row["vit_cpu"] is not None:
            print(f"vitd_median_cpu_ms: {row['vit_cpu']:.3f}")
        if row["vit_cpu"] is not None and row["ort_cpu"] is not None:
            print(f"ratio vitd/ort (cpu time): {row['vit_cpu'] / row['ort_cpu']:.3f}")
        if row["vit_low"] is not None and row["ort_low"] is not None:
            print(f"vitd_fastest_cpu_ms: {row['vit_low']:.3f}\nort_fastest_cpu_ms: "
                  f"{row['ort_low']:.3f}\nratio vitd/ort (fastest run, cpu time): "
                  f"{row['vit_low'] / row['ort_low']:.3f}")
        print(f"ratio vitd/ort: {row['vit'] / row['ort']:.3f}")
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODELNAME",
                    help="architecture or fixture names; @real = one real-size model per family")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.environ.get("VITD_BUILD", os.path.join(TOP, "build")))
    ap.add_argument("--model-args", type=json.loads, default=None,
                    help='JSON object merged into model_args, e.g. \'{"img_size": 448}\'')
    ap.add_argument("--name", help="folder name under WORKDIR (default: MODELNAME); also seeds")
    ap.add_argument("--workdir", default=os.path.join(TOP, ".bench"))
    ap.add_argument("--ort-only", action="store_true", help="skip vit-infer")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                    help="vit-infer's --precision (ORT runs fp32)")
    opts = ap.parse_args()
    if opts.name and len(opts.models) > 1:
        ap.error("--name needs a single MODELNAME")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        print("bench: onnxruntime-node is not installed; run once:\n"
              f"  (cd {os.path.relpath(HERE)} && npm install --ignore-scripts)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    models = [m for name in opts.models for m in (REAL if name == "@real" else [name])]
    rows = []
    for name in models:
        rows.append(bench_one(name, opts))
        print(flush=True)
    if len(rows) > 1:
        def f(v, fmt="9.3f"):
            return format(v, fmt) if v is not None else f"{'-':>9s}"

        def ratio(a, b):
            return f(a / b) if a is not None and b is not None else f(None)

        print(f"{'model':36s} {'GFLOPs':>8s} {'vitd ms':>9s} {'ORT ms':>9s} {'vitd/ORT':>9s}"
              f" {'vitd cpu':>9s} {'ORT cpu':>9s} {'cpu ratio':>9s} {'fastest':>9s}"
              f" {'max err':>9s}")
        for r in rows:
            print(f"{r['name']:36s} {r['gflops']:8.3f} {f(r['vit'])} {f(r['ort'])}"
                  f" {ratio(r['vit'], r['ort'])} {f(r['vit_cpu'])} {f(r['ort_cpu'])}"
                  f" {ratio(r['vit_cpu'], r['ort_cpu'])} {ratio(r['vit_low'], r['ort_low'])}"
                  f" {f(r['err'], '9.1e')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
