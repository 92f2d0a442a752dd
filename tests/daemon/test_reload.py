#!/usr/bin/python3
"""Reload (D-Bus Reload() and SIGHUP): a config that does not validate is rejected whole with
FILE:LINE:COL and the running set stays; a valid one restarts only the pipelines that changed."""
import os
import shutil
import signal

from gi.repository import Gio, GLib

from vitdtest import MODEL, MANAGER_IFACE, PIPELINE_IFACE, VitdTestCase, main, pipeline_path, require_element

PIPELINES = """
    pipelines:
      - name: keep
        source: test:ball
        model: @MODEL@
      - name: change
        source: test:smpte
        model: @MODEL@
        top-k: 3
      - name: drop
        source: test:snow
        model: @MODEL@
"""

BROKEN = """
    pipelines:
      - name: extra
        colour: red
        source: test:ball
        model: @MODEL@
"""


class Reload(VitdTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")
        self.client.subscribe(iface=MANAGER_IFACE)
        self.start_vitd(PIPELINES)
        c = self.client
        for name in ("keep", "change", "drop"):
            c.wait_for(name + " streaming", lambda n=name: len(c.classifications(n)) >= 5)

    def frames(self, name):
        return [s[1] for s in self.client.classifications(name)]

    def assert_unchanged_set(self):
        c = self.client
        self.assertEqual(sorted(c.pipelines()), ["change", "drop", "keep"])
        for name in ("keep", "change", "drop"):
            self.assertEqual(c.get(name, "Restarts"), 0)
            self.assertEqual(c.get(name, "State"), "running")

    def test_broken_yaml_is_rejected_with_location_and_nothing_changes(self):
        c = self.client
        path = self.config.write("broken.yaml", BROKEN)
        before = len(c.classifications("keep"))
        with self.assertRaises(GLib.Error) as cm:
            c.manager("Reload")
        self.assertEqual(Gio.DBusError.get_remote_error(cm.exception),
                         "org.vitd1.Error.InvalidConfig")
        self.assertIn(path + ":3:5:", cm.exception.message)
        self.assert_unchanged_set()
        c.wait_for("keep still streaming", lambda: len(c.classifications("keep")) > before + 5)
        self.assertContiguous([s[0] for s in c.classifications("keep")])

        # The same through SIGHUP: logged, nothing changes.
        os.kill(self.vitd.proc.pid, signal.SIGHUP)
        c.wait_for("the error in the log", lambda: self.vitd.log().count(path + ":3:5:") >= 2)
        self.assert_unchanged_set()

        # vitctl reload prints the error and fails.
        r = self.vitctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":3:5:", r.stderr)

    def test_invalid_model_is_rejected_like_a_bad_config(self):
        """YAML that validates but names a model libvit cannot open (truncated to half): the
        reload is rejected with the `model:` key's FILE:LINE:COL and libvit's message, and the
        running set stays."""
        c = self.client
        half = os.path.join(self.config.dir, "half")
        shutil.copytree(MODEL, half)
        weights = os.path.join(half, "model.safetensors")
        os.truncate(weights, os.path.getsize(weights) // 2)
        path = self.config.write("half.yaml", """
            pipelines:
              - name: extra
                source: test:ball
                model: %s
        """ % half)
        with self.assertRaises(GLib.Error) as cm:
            c.manager("Reload")
        self.assertEqual(Gio.DBusError.get_remote_error(cm.exception),
                         "org.vitd1.Error.InvalidConfig")
        self.assertIn(path + ":4:5: pipeline 'extra': model " + half, cm.exception.message)
        self.assertIn("half/model.safetensors: tensor", cm.exception.message)
        self.assert_unchanged_set()
        self.assertIn(path + ":4:5:", self.vitd.log())

    def test_valid_reload_restarts_only_what_changed(self):
        c = self.client
        self.config.remove("pipelines.yaml")
        self.config.write("pipelines.yaml", PIPELINES.replace("top-k: 3", "top-k: 2")
                          .replace("- name: drop", "- name: added"))
        keep_last = max(self.frames("keep"))
        change_last = max(self.frames("change"))
        n_change = len(self.frames("change"))
        c.manager("Reload")

        c.wait_for("PipelineAdded", lambda: [a for _, m, a in c.signals if m == "PipelineAdded"])
        c.wait_for("PipelineRemoved", lambda: [a for _, m, a in c.signals if m == "PipelineRemoved"])
        added = [a for _, m, a in c.signals if m == "PipelineAdded"]
        removed = [a for _, m, a in c.signals if m == "PipelineRemoved"]
        self.assertEqual(added, [("added", pipeline_path("added"))])
        self.assertEqual(removed, [("drop", pipeline_path("drop"))])
        self.assertEqual(sorted(c.pipelines()), ["added", "change", "keep"])

        c.wait_for("change restarted and streaming", lambda: len(self.frames("change")) > n_change + 3)
        c.wait_for("added streaming", lambda: len(self.frames("added")) >= 3)
        # A restarted pipeline counts frames from 0 again; one left alone keeps counting.
        self.assertLess(min(self.frames("change")[n_change:]), change_last)
        keep_after = [f for f in self.frames("keep") if f > keep_last]
        self.assertTrue(keep_after, "keep stopped streaming")
        self.assertEqual(self.frames("keep"), sorted(self.frames("keep")), "keep was restarted")
        self.assertContiguous([s[0] for s in c.classifications("keep")])
        self.assertContiguous([s[0] for s in c.classifications("change")])
        self.assertEqual(c.get("change", "Source"), "test:smpte")
        with self.assertRaises(GLib.Error):
            c.get("drop", "State")


if __name__ == "__main__":
    main()
