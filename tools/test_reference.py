#!/usr/bin/python3
"""Self-test of the references and fixtures (run by `meson test`, suite "tools").

What a runtime author relies on, checked here:
  - safetensors_io writes files a strict reader accepts (8-byte aligned header, contiguous
    aligned data, F32/F16/BF16/I64) and round-trips values; BF16 rounds to nearest even;
  - fixtures are byte-for-byte deterministic;
  - the ViT files are self-consistent: an independent numpy forward pass over the FILES
    (model.safetensors + config.json / __metadata__) reproduces logits.npy;
  - every small fixture is discriminative: logits differ across classes, and the classic
    runtime mistakes (wrong norm eps, tanh GELU, count_include_pad=True, ignoring a stored
    SReT permutation, trusting a stored Swin index) move the logits far past the 1e-4 tolerance.
"""
import json
import os
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ref import registry, safetensors_io as st  # noqa: E402

TOL = 1e-4  # the runtime's acceptance tolerance, relative to the largest |logit|
SMALL = [fx for fx in registry.FIXTURES if fx.num_classes == 10]
_TMP = tempfile.TemporaryDirectory(prefix="vitd-ref-test-")
_BUILT = {}


def rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(b).max())


def fixture(name):
    """(folder, model with the stored weights loaded, logits) for a registry fixture."""
    if name not in _BUILT:
        fx = next(f for f in registry.FIXTURES if f.name == name)
        model, logits = registry.write(_TMP.name, fx)
        _BUILT[name] = (os.path.join(_TMP.name, name), model, logits)
    return _BUILT[name]


def run(model, folder):
    x = torch.from_numpy(np.load(os.path.join(folder, "input.npy"))).double()[None]
    with torch.no_grad():
        return model.double().eval()(x)[0].numpy()


class SafetensorsIO(unittest.TestCase):
    def test_roundtrip_and_layout(self):
        path = os.path.join(_TMP.name, "rt.safetensors")
        a = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
        idx = np.array([3, 1, 2, 0], dtype=np.int64)
        st.save_file({"b.f16": a, "a.idx": idx, "c": np.float32([1.5]),
                      "n": np.array(7, dtype=np.int64)}, path, {"k": "v"}, float_dtype="F16")
        blob = pathlib.Path(path).read_bytes()
        n = int.from_bytes(blob[:8], "little")
        self.assertEqual((8 + n) % 8, 0, "data must start 8-byte aligned")
        header = json.loads(blob[8:8 + n])
        self.assertEqual(header["__metadata__"], {"k": "v"})
        self.assertEqual(header["a.idx"]["dtype"], "I64")
        self.assertEqual(header["b.f16"]["dtype"], "F16")
        self.assertEqual(header["a.idx"]["data_offsets"], [0, 32])  # 8-byte tensors first
        self.assertEqual(header["n"]["shape"], [])  # a scalar stays 0-d
        got, meta = st.load_file(path)
        np.testing.assert_array_equal(got["a.idx"], idx)
        np.testing.assert_array_equal(got["b.f16"], a.astype(np.float16))
        self.assertEqual(got["n"].shape, ())
        self.assertEqual(int(got["n"]), 7)
        self.assertEqual(meta, {"k": "v"})

    def test_bf16_round_to_nearest_even(self):
        vals = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 3.0e38], dtype=np.float32)
        bits = st.f32_to_bf16_bits(vals)
        self.assertEqual([hex(b) for b in bits],
                         ["0x3f80", "0x3f80", "0x3f82", "0xc020", "0x7f62"])
        path = os.path.join(_TMP.name, "bf.safetensors")
        st.save_file({"w": vals}, path, float_dtype="BF16")
        got, _ = st.load_file(path)
        np.testing.assert_array_equal(got["w"], st.round_to(vals, "BF16"))

    def test_truncated_file_rejected(self):
        path = os.path.join(_TMP.name, "tr.safetensors")
        st.save_file({"w": np.ones((4, 4), np.float32)}, path)
        blob = pathlib.Path(path).read_bytes()
        pathlib.Path(path).write_bytes(blob[:-4])
        with self.assertRaises(ValueError):
            st.load_file(path)


class Determinism(unittest.TestCase):
    def test_fixture_bytes_repeat(self):
        fx = next(f for f in registry.FIXTURES if f.name == "sret_test")
        outs = []
        for i in range(2):
            d = os.path.join(_TMP.name, f"det{i}")
            registry.write(d, fx)
            outs.append([pathlib.Path(d, fx.name, f).read_bytes()
                         for f in ("model.safetensors", "config.json", "logits.npy")])
        self.assertEqual(outs[0], outs[1])


def numpy_vit(folder):
    """Independent float64 ViT forward over the files alone (no torch, no ref.vit)."""
    path = os.path.join(folder, "model.safetensors")
    if not os.path.exists(path):
        path = os.path.join(folder, "model-single.safetensors")
    w, meta = st.load_file(path)
    cfg_path = os.path.join(folder, "config.json")
    cfg = json.loads(pathlib.Path(cfg_path).read_text() if os.path.exists(cfg_path)
                     else meta["config"])
    w = {k: v.astype(np.float64) for k, v in w.items()}
    a = cfg["model_args"]
    p, c, heads = a["patch_size"], a["embed_dim"], a["num_heads"]
    x = np.load(os.path.join(folder, "input.npy")).astype(np.float64)
    ch, hh, ww = x.shape
    g = hh // p
    patches = x.reshape(ch, g, p, g, p).transpose(1, 3, 0, 2, 4).reshape(g * g, -1)
    t = patches @ w["patch_embed.proj.weight"].reshape(c, -1).T + w["patch_embed.proj.bias"]
    prefix = [w[k][0] for k in ("cls_token", "dist_token") if k in w]
    t = np.concatenate(prefix + [t]) + w["pos_embed"][0]

    def ln(v, name):
        m = v.mean(-1, keepdims=True)
        var = ((v - m) ** 2).mean(-1, keepdims=True)
        return (v - m) / np.sqrt(var + 1e-6) * w[name + ".weight"] + w[name + ".bias"]

    def lin(v, name):
        return v @ w[name + ".weight"].T + w[name + ".bias"]

    from math import erf, sqrt
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))))
    d = c // heads
    for i in range(a["depth"]):
        b = f"blocks.{i}."
        qkv = lin(ln(t, b + "norm1"), b + "attn.qkv").reshape(len(t), 3, heads, d)
        out = np.empty((len(t), c))
        for h in range(heads):
            s = qkv[:, 0, h] @ qkv[:, 1, h].T * d ** -0.5
            s = np.exp(s - s.max(-1, keepdims=True))
            out[:, h * d:(h + 1) * d] = (s / s.sum(-1, keepdims=True)) @ qkv[:, 2, h]
        t = t + lin(out, b + "attn.proj")
        t = t + lin(gelu(lin(ln(t, b + "norm2"), b + "mlp.fc1")), b + "mlp.fc2")
    if cfg.get("global_pool") == "avg":
        return lin(ln(t[len(prefix):].mean(0), "fc_norm"), "head")
    t = ln(t, "norm")
    if "head_dist.weight" in w:
        return (lin(t[0], "head") + lin(t[1], "head_dist")) / 2
    return lin(t[0], "head")


class FilesSelfConsistent(unittest.TestCase):
    def test_numpy_vit_reproduces_logits(self):
        for name in ("vit_small_test", "vit_gray_test", "vit_f16_test", "vit_bf16_test",
                     "vit_single_file",
                     "vit_single_file_path", "vit_avgpool_test"):
            folder, _, logits = fixture(name)
            with self.subTest(name):
                self.assertLess(rel(numpy_vit(folder), logits), 1e-6)


class Discriminative(unittest.TestCase):
    def test_logits_spread(self):
        for fx in SMALL:
            _, _, logits = fixture(fx.name)
            with self.subTest(fx.name):
                self.assertGreater(float(logits.std()), 0.2)

    def test_wrong_eps_is_caught(self):
        norms = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)
        for fx in SMALL:
            folder, model, logits = fixture(fx.name)
            for factor in (10.0, 0.1):
                mods = [m for m in model.modules() if isinstance(m, norms)]
                for m in mods:
                    m.eps *= factor
                got = run(model, folder)
                for m in mods:
                    m.eps /= factor
                with self.subTest(fx.name, eps_factor=factor):
                    self.assertGreater(rel(got, logits), 10 * TOL)
            self.assertLess(rel(run(model, folder), logits), 1e-6)

    def test_tanh_gelu_is_caught(self):
        # The two GELUs differ by < 5e-4 anywhere, so the effect on logits is small by nature
        # (1e-4 to 3e-4): required per family, from its most sensitive small fixture.
        exact = F.gelu
        best = {}
        try:
            F.gelu = lambda x, approximate="none": exact(x, approximate="tanh")
            for fx in SMALL:
                if fx.family in ("hat_net", "transcnn", "metaformer_v2", "levit",
                                 "mobilevit"):  # no GELU
                    continue
                folder, model, logits = fixture(fx.name)
                best[fx.family] = max(best.get(fx.family, 0.0), rel(run(model, folder), logits))
        finally:
            F.gelu = exact
        for fam, err in best.items():
            with self.subTest(fam):
                self.assertGreater(err, TOL)

    def test_count_include_pad_is_caught(self):
        for name in ("poolformer_test_timm", "poolformer_test_official"):
            folder, model, logits = fixture(name)
            pools = [m for m in model.modules() if isinstance(m, nn.AvgPool2d)]
            for m in pools:
                m.count_include_pad = True
            got = run(model, folder)
            for m in pools:
                m.count_include_pad = False
            with self.subTest(name):
                self.assertGreater(rel(got, logits), 10 * TOL)


class FamilySpecifics(unittest.TestCase):
    def test_sret_shared_blocks_and_perms(self):
        folder, model, logits = fixture("sret_test")
        w, _ = st.load_file(os.path.join(folder, "model.safetensors"))
        # stage 0: depth 4, 2 unique blocks: entries 0/2 and 4/6 share weights
        for a, b in ((0, 2), (4, 6)):
            keys = [k for k in w if k.startswith(f"transformers.0.blocks.{a}.")]
            self.assertTrue(keys)
            for k in keys:
                np.testing.assert_array_equal(
                    w[k], w[k.replace(f"blocks.{a}.", f"blocks.{b}.", 1)])
        perms = sorted(k for k in w if k.endswith(".perm"))
        self.assertEqual(perms, ["transformers.0.blocks.2.attn.perm",
                                 "transformers.0.blocks.6.attn.perm"])
        for k in perms:
            self.assertEqual(w[k].dtype, np.int64)
            np.testing.assert_array_equal(np.sort(w[k]), np.arange(64))
        holders = list(model.transformers[0].perms.values())
        saved = [(h.perm.clone(), h.inverse.clone()) for h in holders]
        for h in holders:
            h.set(torch.arange(h.perm.numel()))
        got = run(model, folder)
        for h, (p, _) in zip(holders, saved):
            h.set(p)
        self.assertGreater(rel(got, logits), 10 * TOL)

    def test_swin_block_matches_dense_attention(self):
        """The shifted-window block equals attention over ALL tokens of the rolled grid where
        pairs in different windows are excluded, pairs from different regions get -100, and
        the bias comes from (dh, dw) directly: no partition/reverse reshapes involved."""
        _, model, _ = fixture("swin_test")
        for blk in model.layers[0].blocks:
            ws, s = blk.ws, blk.shift
            n, c = blk.grid, blk.norm1.normalized_shape[0]
            heads, hd = blk.attn.heads, blk.attn.hd
            x = torch.randn(1, n, n, c, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
            with torch.no_grad():
                want = blk.double()(x)
                y = torch.roll(blk.norm1(x), (-s, -s), (1, 2)).reshape(n * n, c)
                qkv = blk.attn.qkv(y).reshape(n * n, 3, heads, hd)
                r = torch.arange(n).repeat_interleave(n)
                col = torch.arange(n).repeat(n)
                win = (r // ws) * (n // ws) + col // ws

                def region(v):  # slices [0,-ws), [-ws,-s), [-s,end) of the rolled grid
                    return (v >= n - ws).long() + (v >= n - s).long() if s else 0 * v
                reg = region(r) * 3 + region(col)
                table = blk.attn.relative_position_bias_table
                dh = (r[:, None] % ws) - (r[None, :] % ws) + ws - 1
                dw = (col[:, None] % ws) - (col[None, :] % ws) + ws - 1
                idx = dh * (2 * ws - 1) + dw
                out = torch.empty(n * n, heads, hd, dtype=torch.float64)
                for h in range(heads):
                    logit = qkv[:, 0, h] @ qkv[:, 1, h].T * hd ** -0.5 + table[idx, h]
                    logit = logit + torch.where(reg[:, None] != reg[None, :], -100.0, 0.0)
                    logit = logit.masked_fill(win[:, None] != win[None, :], float("-inf"))
                    out[:, h] = logit.softmax(-1) @ qkv[:, 2, h]
                y = blk.attn.proj(out.reshape(n * n, c)).reshape(1, n, n, c)
                h1 = x + torch.roll(y, (s, s), (1, 2))
                got = h1 + blk.mlp(blk.norm2(h1))
            with self.subTest(shift=s):
                self.assertLess(float((got - want).abs().max()), 1e-10)

    def test_swin_mask_matters(self):
        from ref import swin
        folder, model, logits = fixture("swin_test")
        orig = swin.shift_mask
        try:
            swin.shift_mask = lambda h, w, ws, s: torch.zeros((h // ws) * (w // ws), ws * ws,
                                                              ws * ws)
            got = run(model, folder)
        finally:
            swin.shift_mask = orig
        self.assertGreater(rel(got, logits), 10 * TOL)

    def test_hat_net_unused_proj_norm_matters(self):
        """Applying the stored-but-unused proj_norm (an easy mistake) must fail the fixture."""
        folder, model, logits = fixture("hat_net_test")
        blocks = [b for stage in model.blocks for b in stage]
        for b in blocks:
            b.attn.proj_orig = b.attn.proj
            b.attn.proj = nn.Sequential(b.attn.proj_orig, b.attn.proj_norm)
        got = run(model, folder)
        for b in blocks:
            b.attn.proj = b.attn.proj_orig
            del b.attn.proj_orig
        self.assertGreater(rel(got, logits), 10 * TOL)
        self.assertLess(rel(run(model, folder), logits), 1e-6)

    def test_swin_index_rebuilt(self):
        from ref import swin
        for name, bogus in (("swin_test", False), ("swin_bogus_index_test", True)):
            folder, _, _ = fixture(name)
            w, _ = st.load_file(os.path.join(folder, "model.safetensors"))
            idx = {k: v for k, v in w.items() if k.endswith("relative_position_index")}
            self.assertTrue(idx)
            for k, v in idx.items():
                ws = int(round(v.shape[0] ** 0.5))
                same = np.array_equal(v, swin.relative_position_index(ws).numpy())
                with self.subTest(k):
                    self.assertEqual(same, not bogus)


def tearDownModule():
    _TMP.cleanup()


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main(verbosity=2)
