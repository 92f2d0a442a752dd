#!/usr/bin/python3
"""vit-infer's command line as a user meets it: help, usage errors, one-line errors with a
non-zero status for bad models and inputs (including truncated images), top-k labels for the
same picture given as PPM, PNG and JPEG, logits from .npy, the benchmark's last line, and
--precision (a bad value is a usage error; bf16 where AVX512-BF16 is off, here forced with
VIT_GEMM=avx2, is a one-line error naming the feature, and auto falls back to fp32).

  test_vit_infer.py VIT_INFER FIXTURES_DIR

Uses the vit_small_test fixture (exit 77 if the fixtures are absent).
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

# Subprocess timeouts are multiplied by VITD_TIMEOUT_MULTIPLIER (tools/cross/test.sh sets it:
# under qemu-user the programs run many times slower).
SLOW = float(os.environ.get("VITD_TIMEOUT_MULTIPLIER", "1"))

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, env=None):
    return subprocess.run([VIT_INFER, *args], capture_output=True, text=True, timeout=60 * SLOW,
                          env=env)


def one_line_error(p):
    return p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1 and p.stdout == ""


def write_ppm(path, img):
    h, w, _ = img.shape
    with open(path, "wb") as f:
        f.write(b"P6\n# test image\n%d %d\n255\n" % (w, h) + img.tobytes())


def main():
    model = os.path.join(FIXTURES, "vit_small_test")
    if not os.path.isdir(model):
        print("SKIP: no vit_small_test fixture")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        p = run("--help")
        check(p.returncode == 0 and "Usage: vit-infer" in p.stdout, "--help prints usage")
        p = run()
        check(p.returncode == 2 and one_line_error(p), "no arguments: exit 2, one line")
        p = run(model, "--top-k", "zero", "x.png")
        check(p.returncode == 2, "bad --top-k: exit 2")
        p = run(os.path.join(tmp, "nope"), "x.png")
        check(one_line_error(p) and "nope" in p.stderr, "missing model: one line naming it")

        rng = np.random.default_rng(3)
        img = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
        ppm = os.path.join(tmp, "img.ppm")
        write_ppm(ppm, img)
        outputs = {}
        p = run(model, ppm, "--top-k", "3")
        lines = p.stdout.strip().splitlines()
        check(p.returncode == 0 and len(lines) == 3, "PPM: three top-k lines")
        probs = [float(l.split()[0]) for l in lines] if len(lines) == 3 else [0, 0, 0]
        check(probs == sorted(probs, reverse=True), "top-k in descending probability")
        outputs["ppm"] = p.stdout
        try:
            from PIL import Image
            png, jpg = os.path.join(tmp, "img.png"), os.path.join(tmp, "img.jpg")
            Image.fromarray(img).save(png)
            Image.fromarray(img).save(jpg, quality=95)
            p = run(model, png, "--top-k", "3")
            check(p.returncode == 0 and p.stdout == outputs["ppm"], "PNG gives the PPM's answer")
            p = run(model, jpg, "--top-k", "3")
            check(p.returncode == 0 and len(p.stdout.splitlines()) == 3, "JPEG classifies")
            for name in (png, jpg):
                data = open(name, "rb").read()
                bad = name + ".truncated" + os.path.splitext(name)[1]
                open(bad, "wb").write(data[: len(data) // 3])
                p = run(model, bad)
                check(one_line_error(p), f"truncated {os.path.splitext(name)[1]}: one-line error")
        except ImportError:
            print("note: python3-pil missing, PNG/JPEG cases not run")
        gray = os.path.join(tmp, "img.pgm")
        with open(gray, "wb") as f:
            f.write(b"P5 50 40 255\n" + img[:, :, 0].tobytes())
        p = run(model, gray)
        check(p.returncode == 0 and len(p.stdout.splitlines()) == 5, "PGM: five lines by default")
        junk = os.path.join(tmp, "junk.png")
        open(junk, "wb").write(b"not an image at all")
        p = run(model, junk)
        check(one_line_error(p) and "junk.png" in p.stderr, "unknown image format: one line")
        short_ppm = os.path.join(tmp, "short.ppm")
        open(short_ppm, "wb").write(b"P6\n50 40\n255\n" + img.tobytes()[:100])
        p = run(model, short_ppm)
        check(one_line_error(p), "truncated PPM: one-line error")

        bad_npy = os.path.join(tmp, "bad.npy")
        np.save(bad_npy, np.zeros((3, 7, 7), np.float32))
        p = run(model, bad_npy, "--logits", os.path.join(tmp, "o.npy"))
        check(one_line_error(p) and "bad.npy" in p.stderr, "wrong input shape: one line")
        out = os.path.join(tmp, "logits.npy")
        p = run(model, os.path.join(model, "input.npy"), "--logits", out)
        check(p.returncode == 0 and np.load(out).shape == (10,), "logits written as [10]")

        p = run(model, "--bench", "3", "--threads", "2")
        last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        check(p.returncode == 0 and re.fullmatch(r"median_ms: [0-9.]+", last) is not None,
              "--bench: last line is median_ms")

        p = run(model, "--bench", "1", "--precision", "fp16")
        check(p.returncode == 2 and "--precision" in p.stderr, "bad --precision: exit 2")
        no_bf16 = dict(os.environ, VIT_GEMM="avx2")
        p = run(model, "--bench", "1", "--precision", "bf16", env=no_bf16)
        check(p.returncode == 1 and one_line_error(p) and "AVX512-BF16" in p.stderr,
              "bf16 without AVX512-BF16: exit 1, one line naming the feature")
        p = run(model, "--bench", "1", "--precision", "auto", env=no_bf16)
        check(p.returncode == 0 and "precision: fp32" in p.stdout, "auto without bf16: fp32")
    return 1 if failures else 0


if __name__ == "__main__":
    VIT_INFER, FIXTURES = sys.argv[1], sys.argv[2]
    sys.exit(main())
