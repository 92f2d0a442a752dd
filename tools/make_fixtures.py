#!/usr/bin/python3
"""Writes the numerical test fixtures: one folder per fixture under OUTDIR with
model.safetensors, config.json (timm layout; absent for single-file fixtures), input.npy
(float32 [C,H,W], already normalised) and logits.npy (float32 [num_classes], computed in float64
by the PyTorch reference in tools/ref/ from exactly the stored weights).

  make_fixtures.py OUTDIR [--stamp FILE] [--only NAME...] [--list]

Deterministic: every fixture is seeded from its name. Fixtures marked on_demand (real-size
models of the heavier families) are only written when named with --only, so the default build
stays well under a minute on 2 cores.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from ref import registry  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--stamp", help="file to touch when every fixture is written")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="write just these fixtures")
    ap.add_argument("--list", action="store_true", help="list fixture names and exit")
    ap.add_argument("--quiet", action="store_true")
    opts = ap.parse_args()

    if opts.list:
        for fx in registry.FIXTURES:
            print(f"{fx.name:40s} {fx.family:10s} {'on-demand' if fx.on_demand else 'default'}")
        return 0
    if not opts.outdir:
        ap.error("OUTDIR is required")
    torch.set_num_threads(1)
    by_name = {fx.name: fx for fx in registry.FIXTURES}
    if opts.only:
        unknown = [n for n in opts.only if n not in by_name]
        if unknown:
            ap.error(f"unknown fixture(s): {', '.join(unknown)} (see --list)")
        todo = [by_name[n] for n in opts.only]
    else:
        todo = [fx for fx in registry.FIXTURES if not fx.on_demand]
    os.makedirs(opts.outdir, exist_ok=True)
    for fx in todo:
        t0 = time.monotonic()
        _, logits = registry.write(opts.outdir, fx)
        if not opts.quiet:
            print(f"{fx.name}: {len(logits)} logits, range [{logits.min():.3f}, "
                  f"{logits.max():.3f}], argmax {int(logits.argmax())}, "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
    if opts.stamp:
        with open(opts.stamp, "w") as f:
            f.write("\n".join(fx.name for fx in todo) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
