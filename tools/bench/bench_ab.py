#!/usr/bin/python3
"""A/B benchmark: the same model folders timed with two or more vit-infer builds, interleaved.

  tools/bench/bench_ab.py --build build --build build-native MODEL_DIR... [--threads T]
                          [--runs N] [--rounds R] [--precision P] [--env NAME=VALUE]

Each round runs `vit-infer MODEL_DIR --bench N --threads T --precision P` once per build,
rotating which build goes first, and reads `median_ms`, `median_cpu_ms` and `min_cpu_ms`.
Printed per model: the median over rounds of each build's wall and CPU ms, the fastest single
run's CPU ms over all rounds, and each build's ratio to the first (< 1: faster than the first
build). On a shared machine the CPU-time ratios with --threads 1 are the steadier figures (other
load only ever adds to a run, so the fastest run is the least disturbed one); `uptime` is
printed before and after. MODEL_DIR is a folder vit-infer opens
(e.g. .bench/deit_small_patch16_224, written by bench_peer.py). A build is a build directory or
BUILD_DIR:NAME=VALUE to run it with one environment variable set (VIT_GEMM=blas, ...).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def parse_build(spec):
    """(label, vit-infer path, extra environment) of a --build argument."""
    path, _, assign = spec.partition(":")
    env = {}
    if assign:
        name, _, value = assign.partition("=")
        env[name] = value
    return spec, os.path.join(path, "plugins", "vit", "vit-infer"), env


def time_once(exe, env, model, opts):
    cmd = [exe, model, "--bench", str(opts.runs), "--threads", str(opts.threads),
           "--precision", opts.precision]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    wall = float(re.search(r"^median_ms:\s*(\S+)", p.stdout, re.M).group(1))
    cpu = float(re.search(r"^median_cpu_ms:\s*(\S+)", p.stdout, re.M).group(1))
    low = re.search(r"^min_cpu_ms:\s*(\S+)", p.stdout, re.M)
    return wall, cpu, float(low.group(1)) if low else cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODEL_DIR")
    ap.add_argument("--build", action="append", required=True,
                    help="build directory (repeat; the first is the baseline), optionally :NAME=VALUE")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    opts = ap.parse_args()
    builds = [parse_build(b) for b in opts.build]
    for _, exe, _ in builds:
        if not os.access(exe, os.X_OK):
            ap.error(f"{exe} not found")
    print(f"before: {uptime()}")
    print(f"threads {opts.threads}, precision {opts.precision}, {opts.runs} runs x "
          f"{opts.rounds} rounds per build, interleaved")
    for model in opts.models:
        walls = [[] for _ in builds]
        cpus = [[] for _ in builds]
        lows = [[] for _ in builds]
        for r in range(opts.rounds):
            order = list(range(len(builds)))
            order = order[r % len(order):] + order[:r % len(order)]
            for i in order:
                wall, cpu, low = time_once(builds[i][1], builds[i][2], model, opts)
                walls[i].append(wall)
                cpus[i].append(cpu)
                lows[i].append(low)
        name = os.path.basename(os.path.normpath(model))
        base_wall, base_cpu = statistics.median(walls[0]), statistics.median(cpus[0])
        base_low = min(lows[0])
        for i, (label, _, _) in enumerate(builds):
            wall, cpu, low = statistics.median(walls[i]), statistics.median(cpus[i]), min(lows[i])
            print(f"{name:32s} {label:24s} wall {wall:8.3f} ms  cpu {cpu:8.3f} ms  "
                  f"fastest run cpu {low:8.3f} ms  wall/base {wall / base_wall:6.3f}  "
                  f"cpu/base {cpu / base_cpu:6.3f}  fastest/base {low / base_low:6.3f}",
                  flush=True)
    print(f"after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
