#!/usr/bin/python3
"""ViT variants timm can produce, each checked end to end against a small PyTorch model
written here: no qkv bias, no class token (average pooling), `avg` pooling with and without
fc_norm, layer scale (ls1/ls2.gamma), a pre-norm (norm_pre), position embeddings without the
prefix (no_embed_class), a distilled pair of heads, a non-square image, 1 input channel, and
a CLIP-style model (LayerNorm eps 1e-5, tiny activations so the eps shows).

  test_vit_variants.py VIT_INFER

Every variant is written as model.safetensors + config.json with timm's keys, run through
`vit-infer MODEL input.npy --logits out.npy`, and must match within 1e-4 of the largest logit.
Exits 77 when Debian's python3-torch is not installed.
"""
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

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIP: python3-torch is not installed")
    sys.exit(77)

torch.set_num_threads(1)


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make(opts, gen):
    D, depth, H, hid, P = 24, 2, 3, 40, 4
    C, (ih, iw), K = opts.get("in_chans", 3), opts.get("img", (12, 16)), 5
    gh, gw = ih // P, iw // P
    prefix = int(opts.get("cls", True)) + int(opts.get("distilled", False))
    pos_rows = gh * gw + (0 if opts.get("no_embed_class") else prefix)

    def r(*shape, scale=0.3):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * scale

    # clip: tiny activations, so LayerNorm's eps (1e-5 for timm's CLIP ViTs) matters
    s0 = 1e-3 if opts.get("clip") else 1.0
    sd = {"patch_embed.proj.weight": r(D, C, P, P) * s0, "patch_embed.proj.bias": r(D) * s0,
          "pos_embed": r(1, pos_rows, D) * s0}
    if opts.get("cls", True):
        sd["cls_token"] = r(1, 1, D) * s0
    if opts.get("distilled"):
        sd["dist_token"] = r(1, 1, D)
    if opts.get("norm_pre"):
        sd["norm_pre.weight"], sd["norm_pre.bias"] = 1 + r(D), r(D)
    for i in range(depth):
        b = f"blocks.{i}."
        sd[b + "norm1.weight"], sd[b + "norm1.bias"] = 1 + r(D), r(D)
        sd[b + "attn.qkv.weight"] = r(3 * D, D)
        if opts.get("qkv_bias", True):
            sd[b + "attn.qkv.bias"] = r(3 * D)
        sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"] = r(D, D), r(D)
        sd[b + "norm2.weight"], sd[b + "norm2.bias"] = 1 + r(D), r(D)
        sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"] = r(hid, D), r(hid)
        sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"] = r(D, hid), r(D)
        if opts.get("layer_scale"):
            sd[b + "ls1.gamma"], sd[b + "ls2.gamma"] = r(D), r(D)
    if opts.get("fc_norm"):
        sd["fc_norm.weight"], sd["fc_norm.bias"] = 1 + r(D), r(D)
    else:
        sd["norm.weight"], sd["norm.bias"] = 1 + r(D), r(D)
    sd["head.weight"], sd["head.bias"] = r(K, D), r(K)
    if opts.get("distilled"):
        sd["head_dist.weight"], sd["head_dist.bias"] = r(K, D), r(K)
    dims = dict(D=D, depth=depth, H=H, P=P, C=C, ih=ih, iw=iw, prefix=prefix, K=K)
    return sd, dims


def forward(sd, d, opts, img):
    eps = 1e-5 if opts.get("clip") else 1e-6
    ln = lambda x, n: F.layer_norm(x, (d["D"],), sd[n + ".weight"], sd[n + ".bias"], eps)
    x = F.conv2d(img[None], sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"],
                 stride=d["P"]).flatten(2).transpose(1, 2)[0]
    prefix = [sd[k][0] for k in ("cls_token", "dist_token") if k in sd]
    if opts.get("no_embed_class"):
        x = torch.cat(prefix + [x + sd["pos_embed"][0]])
    else:
        x = torch.cat(prefix + [x]) + sd["pos_embed"][0]
    if "norm_pre.weight" in sd:
        x = ln(x, "norm_pre")
    D, H = d["D"], d["H"]
    for i in range(d["depth"]):
        b = f"blocks.{i}."
        qkv = F.linear(ln(x, b + "norm1"), sd[b + "attn.qkv.weight"], sd.get(b + "attn.qkv.bias"))
        q, k, v = qkv.reshape(-1, 3, H, D // H).permute(1, 2, 0, 3)
        a = torch.softmax(q @ k.transpose(-1, -2) * (D // H) ** -0.5, -1) @ v
        a = F.linear(a.transpose(0, 1).reshape(-1, D), sd[b + "attn.proj.weight"],
                     sd[b + "attn.proj.bias"])
        x = x + a * sd[b + "ls1.gamma"] if b + "ls1.gamma" in sd else x + a
        m = F.linear(F.gelu(F.linear(ln(x, b + "norm2"), sd[b + "mlp.fc1.weight"],
                                     sd[b + "mlp.fc1.bias"])),
                     sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"])
        x = x + m * sd[b + "ls2.gamma"] if b + "ls2.gamma" in sd else x + m
    if opts.get("pool") == "avg":
        if "norm.weight" in sd:
            x = ln(x, "norm")
        f = x[d["prefix"]:].mean(0)
        if "fc_norm.weight" in sd:
            f = ln(f, "fc_norm")
        return F.linear(f, sd["head.weight"], sd["head.bias"])
    x = ln(x, "norm")
    out = F.linear(x[0], sd["head.weight"], sd["head.bias"])
    if opts.get("distilled"):
        out = (out + F.linear(x[1], sd["head_dist.weight"], sd["head_dist.bias"])) / 2
    return out


VARIANTS = {
    "no_qkv_bias": dict(qkv_bias=False),
    "no_class_token_avg": dict(cls=False, pool="avg", fc_norm=True),
    "avg_fc_norm": dict(pool="avg", fc_norm=True),
    "avg_then_norm": dict(pool="avg"),
    "layer_scale": dict(layer_scale=True),
    "norm_pre": dict(norm_pre=True),
    "no_embed_class": dict(no_embed_class=True),
    "distilled": dict(distilled=True),
    "gray_square": dict(in_chans=1, img=(16, 16)),
    "clip_eps": dict(clip=True, norm_pre=True),
}


def main():
    vit_infer = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, opts) in enumerate(VARIANTS.items()):
            gen = torch.Generator().manual_seed(1000 + i)
            sd, d = make(opts, gen)
            img = torch.randn(d["C"], d["ih"], d["iw"], generator=gen, dtype=torch.float64)
            want = forward(sd, d, opts, img).numpy()
            folder = os.path.join(tmp, name)
            os.makedirs(folder)
            write_safetensors(os.path.join(folder, "model.safetensors"), sd)
            args = dict(num_heads=d["H"], img_size=[d["ih"], d["iw"]])
            if opts.get("no_embed_class"):
                args["no_embed_class"] = True
            arch = "vit_variant_clip_test" if opts.get("clip") else "vit_variant_test"
            config = {"architecture": arch, "num_classes": d["K"],
                      "global_pool": opts.get("pool", "token"), "model_args": args}
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(config, f)
            np.save(os.path.join(folder, "input.npy"), img.numpy().astype(np.float32))
            out = os.path.join(folder, "out.npy")
            p = subprocess.run([vit_infer, folder, os.path.join(folder, "input.npy"), "--logits",
                                out], capture_output=True, text=True, timeout=60 * SLOW)
            if p.returncode != 0:
                failures.append(f"{name}: vit-infer failed: {p.stderr.strip()}")
                print("FAIL", failures[-1])
                continue
            err = float(np.abs(np.load(out) - want).max())
            ok = err <= 1e-4 * float(np.abs(want).max())
            print(f"{'ok' if ok else 'FAIL':4s} {name}: max|diff| {err:.3g}")
            if not ok:
                failures.append(name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
