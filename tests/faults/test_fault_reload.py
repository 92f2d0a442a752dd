#!/usr/bin/python3
"""Reloads that must be refused while pipelines stream (tests/daemon/test_reload.py covers an
unknown key and a truncated model in a new entry; these are the faults of a deployment):

- a pipeline file cut off mid-write (a YAML syntax error): Reload() fails with
  org.vitd1.Error.InvalidConfig naming FILE:LINE:COL, `vitctl reload` exits 1 with the same
  message, SIGHUP is refused the same way (logged);
- random bytes in the model.safetensors that the running pipelines use (a model owner's bad
  upload, replaced by rename as deployment tools do), with an edit to the YAML that would restart a
  pipeline: Reload() fails naming that file, and nothing restarts.
Throughout, the running set keeps streaming: sampled every 0.5 s (running, Fps > 0, no restart),
seq gapless, ListPipelines unchanged."""
import os
import shutil
import signal
import tempfile

from gi.repository import Gio, GLib

from faulttest import Watch
from vitdtest import MODEL, PIPELINE_IFACE, VitdTestCase, main, require_element

NAMES = ["door", "yard"]


class ReloadFaults(VitdTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        # A private copy of the model: this test breaks it.
        self.model = tempfile.mkdtemp(prefix="vitd-fault-model-")
        os.chmod(self.model, 0o755)
        self.addCleanup(shutil.rmtree, self.model, True)
        for f in os.listdir(MODEL):
            shutil.copy(os.path.join(MODEL, f), self.model)
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")
        self.start_vitd(self.pipelines(top_k=1))
        c = self.client
        for n in NAMES:
            c.wait_for(n + " streaming", lambda n=n: len(c.classifications(n)) >= 5)
        self.watch = Watch(c, NAMES)
        self.watch.settle()

    def pipelines(self, top_k):
        return """
            pipelines:
              - name: door
                source: test:ball
                model: %s
                top-k: %d
              - name: yard
                source: test:smpte
                model: %s
                top-k: 1
        """ % (self.model, top_k, self.model)

    def reload_error(self):
        with self.assertRaises(GLib.Error) as cm:
            self.client.manager("Reload")
        self.assertIn("org.vitd1.Error.InvalidConfig",
                      Gio.DBusError.get_remote_error(cm.exception))
        return cm.exception.message

    def assert_running_set_untouched(self):
        w, c = self.watch, self.client
        counts = {n: len(c.classifications(n)) for n in NAMES}
        w.wait_for("streaming after the refused reload",
                   lambda: all(len(c.classifications(n)) >= counts[n] + 10 for n in NAMES))
        w.pump(3.0)
        self.assertEqual(sorted(c.pipelines()), NAMES)
        w.assert_never_paused(self)
        for n in NAMES:
            self.assertContiguous([s[0] for s in c.classifications(n)])
            self.assertEqual(c.get(n, "LastError"), "")

    def test_yaml_cut_off_mid_write(self):
        with open(os.path.join(self.config.pipelines_dir, "pipelines.yaml")) as f:
            text = f.read()
        # What an editor or `cp` leaves when the disk fills: the file ends inside a flow mapping.
        bad = self.config.write("pipelines.yaml", text + "  - name: gate\n    restart: {policy: alw")
        message = self.reload_error()
        self.assertRegex(message, r"pipelines\.d/pipelines\.yaml:\d+:\d+: ")
        self.watch.pump(1.0)

        r = self.vitctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("pipelines.yaml", r.stderr)

        logged = self.vitd.log().count("pipelines.yaml:")
        os.kill(self.vitd.proc.pid, signal.SIGHUP)
        self.watch.wait_for("SIGHUP refused in the log",
                            lambda: self.vitd.log().count("pipelines.yaml:") > logged)
        self.assertTrue(os.path.exists(bad))
        self.assert_running_set_untouched()

    def test_random_bytes_in_the_running_model(self):
        weights = os.path.join(self.model, "model.safetensors")
        size = os.path.getsize(weights)
        with open(weights + ".new", "wb") as f:
            f.write(os.urandom(size))
        os.replace(weights + ".new", weights)
        # An edit that alone would restart `door`: the whole reload must be refused instead.
        self.config.write("pipelines.yaml", self.pipelines(top_k=2))
        message = self.reload_error()
        self.assertIn(weights, message)
        self.assertEqual(self.client.get("door", "Restarts"), 0)
        self.assert_running_set_untouched()


if __name__ == "__main__":
    main()
