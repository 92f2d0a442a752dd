#!/usr/bin/python3
"""Writes the random-weight SReT-T model folders bench_sret.sh times: the same weights with the
[8,2][4,1][1,1] group schedule (grouped) and with global attention everywhere (global), at 224
and at 448 input.

  sret_models.py OUTDIR [--sizes 224 448]   ->  OUTDIR/sret_tiny_{grouped,global}_{SIZE}/

Weights come from tools/ref/sret.py + common.randomize with one seed, so the two variants of a
size differ only in model_args.groups1/groups2 (and the grouped one's stored permutations).
Each folder also gets input.npy and the float64 reference logits.npy, so the benchmark can check
that vit-infer computes the right thing before timing it.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402

from ref import common, sret  # noqa: E402

VARIANTS = {"grouped": dict(groups1=[8, 4, 1], groups2=[2, 1, 1]),
            "global": dict(groups1=[1, 1, 1], groups2=[1, 1, 1])}


def write(outdir, variant, size, seed=5):
    model, args = sret.build("sret_tiny", 1000, dict(img_size=size, **VARIANTS[variant]))
    common.randomize(model, seed, sret.special_init)
    config = sret.config_for("sret_tiny", 1000, args)
    name = os.path.join(outdir, f"sret_tiny_{variant}_{size}")
    common.write_fixture(name, model, config, seed, skip=sret.skip_keys(model),
                         extra_tensors=sret.extra_tensors(model, args))
    print(f"{name}: {common.count_gflops(model, (3, size, size)):.3f} GFLOPs (torch count)",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    a = ap.parse_args()
    torch.set_num_threads(1)
    for size in a.sizes:
        for variant in VARIANTS:
            write(a.outdir, variant, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
