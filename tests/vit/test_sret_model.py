#!/usr/bin/python3
"""SReT model files that must be refused, and the ones that must give the same answer.

  test_sret_model.py VIT_INFER FIXTURES_DIR TOOLS_DIR

Starts from the sret_test fixture (tools/ref/sret.py's key layout) and writes damaged copies:
a shared block whose second copy differs (the error names both tensors), a missing stored
permutation, a permutation with a repeated entry, a permutation stored as int32 (accepted, same
logits), and a stem_strides model_arg the weights do not fit. Also checks that the same input
always gives the same logits (the permutation is fixed, unlike the official code's randperm) and
that 1 and 3 threads agree. Then the cost: the GFLOPs libvit reports for sret_tiny (and for the
same weights with global attention everywhere) equal an independent count from the config, in
which attention costs O(N^2/G). Exits 77 when the fixture is missing.
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


def run(vit_infer, model, x, out, threads=1):
    return subprocess.run([vit_infer, model, x, "--logits", out, "--threads", str(threads)],
                          capture_output=True, text=True, timeout=60 * SLOW)


def gflops(vit_infer, model):
    p = subprocess.run([vit_infer, model, "--bench", "1"], capture_output=True, text=True,
                       timeout=120 * SLOW)
    for line in p.stdout.splitlines():
        if line.startswith("gflops:"):
            return float(line.split()[1])
    raise RuntimeError(f"{model}: no gflops line: {p.stderr.strip()}")


def count_gflops(cfg, weights):
    """2 x multiply-adds: stem convs, blocks (qkv, q k^T and attn v inside groups of N/G, proj,
    MLP), NLL layers, depthwise downsampling, head."""
    a = cfg["model_args"]
    size = a["img_size"]
    half = lambda n: (n - 1) // 2 + 1  # noqa: E731
    macs, h, cin = 0, size, a["in_chans"]
    for i in (1, 2, 3):
        w = weights[f"patch_embed.conv{i}.weight"]
        h = half(h)
        macs += h * h * w.shape[0] * cin * 9
        cin = w.shape[0]
    for s, depth in enumerate(a["depth"]):
        C, N = a["base_dims"][s] * a["heads"][s], h * h
        hid, nph = int(C * a["mlp_ratio"]), int(C * a["np_mlp_ratio"])
        for i in range(2 * depth):
            if i % 2:
                macs += 2 * N * C * nph
                continue
            G = a["groups2"][s] if (i + 2) % 4 == 0 else a["groups1"][s]
            macs += N * C * 3 * C + 2 * N * (N // G) * C + N * C * C + 2 * N * C * hid
        if s + 1 < len(a["depth"]):
            h = half(h)
            macs += h * h * 2 * C * 9
    C = a["base_dims"][-1] * a["heads"][-1]
    macs += C * cfg["num_classes"]
    return 2e-9 * macs


def main():
    vit_infer, fixtures, tools = sys.argv[1:4]
    sys.path.insert(0, tools)
    from ref import safetensors_io as sio
    src = os.path.join(fixtures, "sret_test")
    if not os.path.exists(os.path.join(src, "logits.npy")):
        print("SKIP: no sret_test fixture")
        return 77
    x = os.path.join(src, "input.npy")
    want = np.load(os.path.join(src, "logits.npy"))
    tensors, meta = sio.load_file(os.path.join(src, "model.safetensors"))
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        def variant(name, edit_tensors=None, edit_config=None):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            t = {k: v.copy() for k, v in tensors.items()}
            if edit_tensors:
                edit_tensors(t)
            sio.save_file(t, os.path.join(d, "model.safetensors"), meta)
            with open(os.path.join(src, "config.json")) as f:
                cfg = json.load(f)
            if edit_config:
                edit_config(cfg)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f)
            return d

        out = os.path.join(tmp, "out.npy")
        logits = []
        for threads in (1, 1, 3):
            p = run(vit_infer, src, x, out, threads)
            check(p.returncode == 0, f"sret_test runs with {threads} thread(s)")
            logits.append(np.load(out) if p.returncode == 0 else None)
        if all(l is not None for l in logits):
            check(np.array_equal(logits[0], logits[1]), "the same input gives identical logits")
            check(np.abs(logits[0] - logits[2]).max() <= 1e-5 * np.abs(want).max(),
                  "1 and 3 threads agree")

        perm_key = "transformers.0.blocks.2.attn.perm"
        check(perm_key in tensors, f"fixture stores {perm_key}")

        def differ(t):
            t["transformers.0.blocks.2.attn.qkv.weight"][0, 0] += 0.5
        p = run(vit_infer, variant("shared_differs", differ), x, out)
        check(p.returncode == 1 and "transformers.0.blocks.0.attn.qkv.weight" in p.stderr and
              "transformers.0.blocks.2.attn.qkv.weight" in p.stderr,
              f"differing shared copies are refused naming both tensors: {p.stderr.strip()}")

        def no_coef(t):
            t["transformers.0.blocks.2.coefficient3.bias"][0] += 0.25
        p = run(vit_infer, variant("coef_differs", no_coef), x, out)
        check(p.returncode == 1 and "coefficient3.bias" in p.stderr,
              f"differing shared coefficients are refused: {p.stderr.strip()}")

        p = run(vit_infer, variant("no_perm", lambda t: t.pop(perm_key)), x, out)
        check(p.returncode == 1 and perm_key in p.stderr and "missing" in p.stderr,
              f"a missing permutation is refused: {p.stderr.strip()}")

        def repeat(t):
            t[perm_key][1] = t[perm_key][0]
        p = run(vit_infer, variant("bad_perm", repeat), x, out)
        check(p.returncode == 1 and "not a permutation" in p.stderr,
              f"a repeated permutation entry is refused: {p.stderr.strip()}")

        def as_i32(t):
            t[perm_key] = t[perm_key].astype(np.int32)
        p = run(vit_infer, variant("perm_i32", as_i32), x, out)
        ok = p.returncode == 0 and np.abs(np.load(out) - want).max() <= 1e-4 * np.abs(want).max()
        check(ok, f"an int32 permutation gives the reference logits {p.stderr.strip()}")

        def shuffled(t):
            t[perm_key] = np.roll(t[perm_key], 5)
        p = run(vit_infer, variant("other_perm", shuffled), x, out)
        ok = p.returncode == 0 and np.abs(np.load(out) - want).max() > 1e-3
        check(ok, "another stored permutation changes the logits (it is really used)")

        def strides(cfg):
            cfg["model_args"]["stem_strides"] = [2, 2, 1]
        p = run(vit_infer, variant("strides", edit_config=strides), x, out)
        check(p.returncode == 1 and "pos_embed" in p.stderr,
              f"stem_strides the weights do not fit are refused: {p.stderr.strip()}")

        tiny = os.path.join(fixtures, "sret_tiny")
        if os.path.exists(os.path.join(tiny, "config.json")):
            with open(os.path.join(tiny, "config.json")) as f:
                cfg = json.load(f)
            tw, tmeta = sio.load_file(os.path.join(tiny, "model.safetensors"))
            got, want_g = gflops(vit_infer, tiny), count_gflops(cfg, tw)
            check(abs(got - want_g) <= 1e-3 + 1e-3 * want_g,
                  f"sret_tiny: libvit counts {got} GFLOPs, the config gives {want_g:.4f}")
            glob = os.path.join(tmp, "tiny_global")
            os.makedirs(glob)
            sio.save_file({k: v for k, v in tw.items() if not k.endswith(".attn.perm")},
                          os.path.join(glob, "model.safetensors"), tmeta)
            n = len(cfg["model_args"]["depth"])
            cfg["model_args"].update(groups1=[1] * n, groups2=[1] * n)
            with open(os.path.join(glob, "config.json"), "w") as f:
                json.dump(cfg, f)
            got2, want2 = gflops(vit_infer, glob), count_gflops(cfg, tw)
            check(abs(got2 - want2) <= 1e-3 + 1e-3 * want2 and got2 > got + 0.4,
                  f"sret_tiny with global attention: {got2} GFLOPs, the config gives "
                  f"{want2:.4f} (grouped: {got})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
