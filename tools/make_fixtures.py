#!/usr/bin/python3
"""Writes the numerical test fixtures: one folder per fixture under OUTDIR with
model.safetensors, config.json (timm layout; absent for single-file fixtures), input.npy
(float32 [C,H,W], already normalised) and logits.npy (float32 [num_classes], computed in float64
by the PyTorch reference in tools/ref/ from exactly the stored weights).

  make_fixtures.py OUTDIR [--stamp FILE] [--only NAME...] [--all] [--list]

Deterministic: every fixture is seeded from its name. Fixtures marked on_demand (real-size
models of the heavier families) are only written when named with --only (or with --all), so
the default build stays well under a minute on 2 cores.

The default set also includes the fixtures of tools/train/dvt_fixture.py, computed by the
training code itself (DVT cascades, same folder layout plus exit_logits.npy, and conv-stem
ViTs of vit_model.py) when that file is present. A failure there is reported on stderr and
does not stop the fixtures of tools/ref.
"""
import argparse
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from ref import registry  # noqa: E402


def write_train_fixtures(outdir, quiet):
    """Runs tools/train/dvt_fixture.py's writer (the same fixtures its own main() writes)."""
    if not os.path.exists(os.path.join(HERE, "train", "dvt_fixture.py")):
        return []
    sys.path.insert(0, os.path.join(HERE, "train"))
    try:
        import dvt_fixture
        return dvt_fixture.write_all(outdir, quiet)
    except Exception:  # noqa: BLE001 - another component's code must not break ours
        print("make_fixtures: tools/train/dvt_fixture.py failed, DVT fixtures skipped:",
              file=sys.stderr)
        traceback.print_exc()
        return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--stamp", help="file to touch when every fixture is written")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="write just these fixtures")
    ap.add_argument("--all", action="store_true", help="also the on-demand fixtures")
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
        todo = [fx for fx in registry.FIXTURES if opts.all or not fx.on_demand]
    os.makedirs(opts.outdir, exist_ok=True)
    for fx in todo:
        t0 = time.monotonic()
        _, logits = registry.write(opts.outdir, fx)
        if not opts.quiet:
            print(f"{fx.name}: {len(logits)} logits, range [{logits.min():.3f}, "
                  f"{logits.max():.3f}], argmax {int(logits.argmax())}, "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
    names = [fx.name for fx in todo]
    if not opts.only:
        names += write_train_fixtures(opts.outdir, opts.quiet)
    if opts.stamp:
        with open(opts.stamp, "w") as f:
            f.write("\n".join(names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
