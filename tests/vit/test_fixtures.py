#!/usr/bin/python3
"""vit-infer against the PyTorch reference on every fixture folder.

  test_fixtures.py VIT_INFER FIXTURES_DIR

For each FIXTURES_DIR/NAME holding input.npy and logits.npy: runs
`vit-infer MODEL input.npy --logits OUT.npy` (MODEL is the folder, or NAME/model-single.safetensors
when that is what the fixture holds) and requires max|out - expected| <= 1e-4 * max|expected|
(for a cascade: the logits of the exit that answers at the config's thresholds).
Fixtures of families libvit does not implement yet are reported and skipped (vit-infer exits 3
with "unknown architecture"); a vit_*/deit_* fixture may never be skipped. Exits 77 (skip) only
when the fixtures directory does not exist.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# Subprocess timeouts are multiplied by VITD_TIMEOUT_MULTIPLIER (tools/cross/test.sh sets it:
# under qemu-user the programs run many times slower).
SLOW = float(os.environ.get("VITD_TIMEOUT_MULTIPLIER", "1"))

UNSUPPORTED_EXIT = 3


def fixture_model(path):
    single = os.path.join(path, "model-single.safetensors")
    return single if os.path.exists(single) else path


def architecture(path):
    cfg = os.path.join(path, "config.json")
    if os.path.exists(cfg):
        with open(cfg) as f:
            return json.load(f).get("architecture", "?")
    return "?"


def expected_logits(path):
    """logits.npy; for a cascade (exit_logits.npy [K, classes]) the logits of the exit that
    answers at the model's default thresholds (config exit_thresholds, else exit_threshold):
    the first whose top softmax probability reaches its threshold, else the last."""
    want = np.load(os.path.join(path, "logits.npy"))
    exits = os.path.join(path, "exit_logits.npy")
    if not os.path.exists(exits):
        return want
    lg = np.load(exits).astype(np.float64)
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    th = cfg.get("exit_thresholds") or [cfg.get("exit_threshold", 1.0)] * len(lg)
    p = np.exp(lg - lg.max(1, keepdims=True))
    conf = (p / p.sum(1, keepdims=True)).max(1)
    k = next((i for i in range(len(lg) - 1) if conf[i] >= th[i]), len(lg) - 1)
    return lg[k].astype(np.float32)


def main():
    vit_infer, fixtures = sys.argv[1], sys.argv[2]
    if not os.path.isdir(fixtures):
        print(f"SKIP: no fixtures directory {fixtures}")
        return 77
    names = sorted(n for n in os.listdir(fixtures)
                   if os.path.exists(os.path.join(fixtures, n, "logits.npy")))
    failures, checked, skipped = [], 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = os.path.join(fixtures, name)
            out = os.path.join(tmp, name + ".npy")
            proc = subprocess.run([vit_infer, fixture_model(path), os.path.join(path, "input.npy"),
                                   "--logits", out, "--threads", "2"],
                                  capture_output=True, text=True, timeout=120 * SLOW)
            arch = architecture(path)
            if proc.returncode == UNSUPPORTED_EXIT and not arch.startswith(("vit_", "deit_")):
                skipped.append(f"{name} ({arch})")
                continue
            if proc.returncode != 0:
                failures.append(f"{name}: vit-infer exit {proc.returncode}: {proc.stderr.strip()}")
                continue
            got, want = np.load(out), expected_logits(path)
            if got.shape != want.shape:
                failures.append(f"{name}: logits shape {got.shape}, expected {want.shape}")
                continue
            err = float(np.abs(got - want).max())
            scale = float(np.abs(want).max())
            status = "ok" if err <= 1e-4 * scale else "FAIL"
            print(f"{status:4s} {name}: max|diff| {err:.3g} (limit {1e-4 * scale:.3g})")
            checked += 1
            if status != "ok":
                failures.append(f"{name}: max|diff| {err:.3g} > 1e-4 * {scale:.3g}")
    for s in skipped:
        print(f"skip {s}: architecture not implemented in libvit yet")
    for f in failures:
        print("FAIL", f)
    if checked == 0 and not failures:
        print("FAIL: no fixture was checked")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
