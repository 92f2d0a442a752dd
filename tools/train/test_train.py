"""Self-tests of the training tools (unittest; a few seconds on one core):
  /usr/bin/python3 tools/train/test_train.py
They check what the runtime and the shipped numbers rely on: an exported folder loads back to the
same logits and agrees with tools/ref/vit.py, DVT's resize is the separable linear map its
docstring states, reuse starts at zero, thresholds pick the promised exit proportions, and the
test video has one 784-byte frame per label."""
import os
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cascade_eval  # noqa: E402
import dvt  # noqa: E402
import export  # noqa: E402
import model_folder  # noqa: E402
import vit_model  # noqa: E402

torch.set_num_threads(1)


def resize_matrix(g_up, g_dn):
    """The 1-D resize as a matrix, built from the docstring's rule, independently of dvt.py."""
    f = -(-g_dn // g_up)
    m = g_up * f
    r = torch.zeros(g_dn, g_up)
    for i in range(g_dn):
        s, e = (i * m) // g_dn, -(-((i + 1) * m) // g_dn)
        for c in range(s, e):
            r[i, c // f] += 1.0 / (e - s)
    return r


class ExportTest(unittest.TestCase):
    def test_vit_folder_round_trip_matches_reference(self):
        torch.manual_seed(0)
        m = vit_model.VisionTransformer(28, 7, 1, 32, 2, 2, 2.0).eval()
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.05 * torch.randn_like(p))
        self.assert_round_trip(m, {"architecture": "vit_fmnist_test", "model_args": m.args})

    def assert_round_trip(self, m, cfg):
        """m exported with cfg loads back (model_folder) and through tools/ref/vit.py to m's
        logits."""
        x = torch.randn(3, 1, 28, 28)
        with tempfile.TemporaryDirectory() as d:
            export.write_folder(d, m.state_dict(), cfg)
            back, _ = model_folder.load(d)
            ref = model_folder.load_reference_vit(d)
            with torch.no_grad():
                self.assertLess((back(x) - m(x)).abs().max().item(), 1e-6)
                self.assertLess((ref(x) - m(x)).abs().max().item(), 1e-5)


    def test_stem_vit_round_trip_and_mid_run_config(self):
        """A conv-tokenizer ViT exports, loads back and matches tools/ref/vit.py; a checkpoint
        exported mid-run (no stored config) gets in_chans and stem_chans from the stem."""
        torch.manual_seed(1)
        m = vit_model.VisionTransformer(28, 4, 1, 32, 2, 2, 2.0, stem_chans=8).eval()
        cfg = export.vit_config_from_state({"model": m.state_dict()}, num_heads=2)
        self.assertEqual(cfg["model_args"], {**m.args, "mlp_ratio": 2.0})
        self.assertEqual(cfg["model_args"]["stem_chans"], 8)
        self.assertEqual(cfg["model_args"]["in_chans"], 1)
        self.assert_round_trip(m, cfg)


class DVTTest(unittest.TestCase):
    def test_resize_grid_is_the_documented_linear_map(self):
        for g_up, g_dn in ((4, 7), (7, 14), (4, 14), (7, 7)):
            x = torch.randn(2, 3, g_up, g_up)
            r = resize_matrix(g_up, g_dn)
            want = r @ x @ r.T
            self.assertLess((dvt.resize_grid(x, g_dn) - want).abs().max().item(), 1e-5)

    def test_relation_resize_keeps_cls_apart(self):
        a = torch.randn(1, 2, 17, 17)
        out = dvt.resize_relation(a, 7)
        r = torch.kron(resize_matrix(4, 7), resize_matrix(4, 7))
        self.assertTrue(torch.equal(out[..., 0, 0], a[..., 0, 0]))
        self.assertLess((out[..., 0, 1:] - a[..., 0, 1:] @ r.T).abs().max().item(), 1e-5)
        self.assertLess((out[..., 1:, 0] - a[..., 1:, 0] @ r.T).abs().max().item(), 1e-5)
        self.assertLess((out[..., 1:, 1:] - r @ a[..., 1:, 1:] @ r.T).abs().max().item(), 1e-5)

    def test_fresh_reuse_paths_are_zero(self):
        args = [dict(patch_size=p, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0)
                for p in (7, 4)]
        m = dvt.DVTCascade(args)
        feats = torch.randn(2, 17, 32)
        logits = [torch.randn(2, 2, 17, 17) for _ in range(2)]
        self.assertEqual(m.exits[1].feature_reuse(feats, 7).abs().max().item(), 0.0)
        self.assertEqual(max(t.abs().max().item() for t in m.exits[1].relation_reuse(logits, 7)), 0.0)

    def test_reuse_changes_the_downstream_exit(self):
        args = [dict(patch_size=p, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0)
                for p in (7, 4)]
        m = dvt.DVTCascade(args).eval()
        x = torch.randn(2, 1, 28, 28)
        with torch.no_grad():
            before = m(x)[1]
            torch.nn.init.normal_(m.exits[1].relation_reuse.conv2.weight)
            self.assertGreater((m(x)[1] - before).abs().max().item(), 1e-4)


class ThresholdTest(unittest.TestCase):
    def test_last_exit_always_answers_and_ties_exit(self):
        probs = torch.tensor([[[0.9, 0.1], [0.5, 0.5]], [[0.2, 0.8], [0.6, 0.4]]])
        self.assertEqual(cascade_eval.exits_for(probs, [0.9, 0.0]).tolist(), [0, 1])
        self.assertEqual(cascade_eval.exits_for(probs, [1.1, 1.1]).tolist(), [1, 1])

    def test_budget_proportions(self):
        gen = torch.Generator().manual_seed(1)
        probs = torch.rand(3, 1000, 10, generator=gen).softmax(2)
        th = cascade_eval.budget_thresholds(probs, 0.5)
        counts = torch.bincount(cascade_eval.exits_for(probs, th), minlength=3).tolist()
        self.assertEqual(counts[0], int(1000 * 4 / 7))
        self.assertEqual(counts[1], int(1000 * 2 / 7))


class VideoTest(unittest.TestCase):
    def test_frames_and_labels(self):
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([sys.executable, os.path.join(HERE, "fmnist_video.py"), "--out", d,
                            "--count", "50"], check=True, capture_output=True)
            self.assertEqual(os.path.getsize(os.path.join(d, "fmnist-test.gray8")), 50 * 784)
            with open(os.path.join(d, "fmnist-test.labels")) as f:
                labels = [int(v) for v in f.read().split()]
            self.assertEqual(len(labels), 50)
            self.assertEqual(labels[:3], [9, 2, 1])  # the first test images: boot, pullover, trouser


if __name__ == "__main__":
    unittest.main()
