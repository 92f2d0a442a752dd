#!/usr/bin/python3
"""Model files changed on disk under a running vitd (issue 13):

  - truncated in place (`: > model.safetensors`) or overwritten in place (`cp` of another model)
    while their pipelines run: vitd stays up, every pipeline keeps streaming with a gapless seq
    (the weights are a private copy), D-Bus answers promptly (ANSWER_BOUND_S);
  - replaced atomically (rename) by a valid new model: Reload() restarts exactly the pipeline on
    it (Restarts +1 for it only) and it then classifies with the new weights;
  - replaced by an invalid model: Reload() is refused naming the model key's FILE:LINE:COL and
    the file, the pipeline keeps running on the old weights, nothing restarts.
"""
import json
import os
import shutil
import struct
import time

from gi.repository import Gio, GLib

from vitdtest import ANSWER_BOUND_S, MODEL, PIPELINE_IFACE, SOURCE, VitdTestCase, main, require_element


def biased_copy(src, dst, klass=0, bias=100.0):
    """Writes DST: the safetensors file SRC with head.bias[KLASS] raised by BIAS, so every frame
    is classified as KLASS with a score of ~1."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    n = struct.unpack("<Q", data[:8])[0]
    begin = 8 + n + json.loads(data[8:8 + n])["head.bias"]["data_offsets"][0] + 4 * klass
    value = struct.unpack("<f", data[begin:begin + 4])[0] + bias
    data[begin:begin + 4] = struct.pack("<f", value)
    with open(dst, "wb") as f:
        f.write(data)


class ModelFiles(VitdTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")

    def copy_model(self, name):
        path = os.path.join(self.tmp, name)
        shutil.copytree(MODEL, path)
        return path

    def start(self, names):
        self.tmp = os.path.join("/tmp", "vitd-model-files-%d" % os.getpid())
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.mkdir(self.tmp)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        models = {n: self.copy_model(n) for n in names}
        text = "pipelines:\n" + "".join(
            "  - name: %s\n    source: test:ball\n    model: %s\n" % (n, models[n]) for n in names)
        self.start_vitd(text)
        c = self.client
        for n in names:
            c.wait_for(n + " streaming", lambda n=n: len(c.classifications(n)) >= 3)
        return models

    def timed(self, what, fn, *args):
        start = time.monotonic()
        result = fn(*args)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, ANSWER_BOUND_S, "%s took %.2f s: the main loop is stalled" % (what, elapsed))
        return result

    def assert_streaming_gapless(self, names, more=5):
        c = self.client
        for n in names:
            count = len(c.classifications(n))
            c.wait_for(n + " still streaming", lambda n=n: len(c.classifications(n)) > count + more)
            self.assertContiguous([s[0] for s in c.classifications(n)])
            self.assertEqual(c.get(n, "State"), "running")

    def test_truncated_and_overwritten_in_place(self):
        models = self.start(["good", "truncated", "overwritten"])
        c = self.client
        other = os.path.join(SOURCE, "models", "fmnist-vit-p7", "model.safetensors")
        open(os.path.join(models["truncated"], "model.safetensors"), "w").close()  # : > file
        shutil.copyfile(other, os.path.join(models["overwritten"], "model.safetensors"))  # cp
        end = time.monotonic() + 3
        while time.monotonic() < end:
            self.assertIsNone(self.vitd.proc.poll(), "vitd died:\n" + self.vitd.log())
            self.timed("ListPipelines", c.pipelines)
            self.timed("Get State", c.get, "good", "State")
            c.pump(0.1)
        self.assert_streaming_gapless(["good", "truncated", "overwritten"])
        for n in ("good", "truncated", "overwritten"):
            self.assertEqual(c.get(n, "Restarts"), 0)
            self.assertEqual(c.get(n, "LastError"), "")

    def test_reload_restarts_exactly_the_pipeline_whose_model_changed(self):
        models = self.start(["a", "b"])
        c = self.client
        weights = os.path.join(models["a"], "model.safetensors")
        with open(os.path.join(models["a"], "config.json")) as f:
            label0 = json.load(f)["label_names"][0]
        before = {n: c.get(n, "Restarts") for n in ("a", "b")}
        self.assertFalse(all(s[4][0][0] == label0 for s in c.classifications("a")),
                         "the fixture already says class 0 for every frame")

        # An invalid new file: refused like a bad config, naming the file; nothing restarts.
        tmp = weights + ".new"
        with open(weights, "rb") as f:
            half = f.read()
        with open(tmp, "wb") as f:
            f.write(half[:len(half) // 2])
        os.rename(tmp, weights)
        with self.assertRaises(GLib.Error) as cm:
            c.manager("Reload")
        self.assertEqual(Gio.DBusError.get_remote_error(cm.exception),
                         "org.vitd1.Error.InvalidConfig")
        where = os.path.join(self.config.pipelines_dir, "pipelines.yaml") + ":4:5:"
        self.assertIn(where + " pipeline 'a': model " + models["a"], cm.exception.message)
        self.assertIn(weights + ":", cm.exception.message)
        self.assertIn(where, self.vitd.log())
        self.assertEqual({n: c.get(n, "Restarts") for n in ("a", "b")}, before)
        self.assert_streaming_gapless(["a", "b"])

        # A valid new file, replaced atomically: exactly "a" restarts, on the new weights.
        biased_copy(os.path.join(MODEL, "model.safetensors"), tmp)
        os.rename(tmp, weights)
        c.manager("Reload")
        c.wait_for("a restarted", lambda: c.get("a", "Restarts") == before["a"] + 1)
        self.assertEqual(c.get("b", "Restarts"), before["b"])
        # the cache must not hand the restarted run the old model: every frame is now class 0
        c.wait_for("a classifying with the new weights", lambda: all(
            s[4][0][0] == label0 and s[4][0][1] > 0.99 for s in c.classifications("a")[-3:]))
        self.assert_streaming_gapless(["b"])
        self.assertContiguous([s[0] for s in c.classifications("a")])

        # A second reload with nothing changed restarts nothing.
        c.manager("Reload")
        c.pump(1.0)
        self.assertEqual(c.get("a", "Restarts"), before["a"] + 1)
        self.assertEqual(c.get("b", "Restarts"), before["b"])


if __name__ == "__main__":
    main()
