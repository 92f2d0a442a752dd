#!/usr/bin/python3
"""A model file that never opens must not stall vitd: with labels.txt a FIFO in the model folder
of one pipeline (libvit refuses it without opening it; before it did, the element blocked in
open()), D-Bus keeps answering promptly (ANSWER_BOUND_S), the
other pipeline keeps streaming without a gap in seq, a restart of the stuck pipeline and a
reload return promptly, and SIGTERM exits well within the unit's TimeoutStopSec (20 s)."""
import json
import os
import shutil
import time

from gi.repository import GLib

from vitdtest import ANSWER_BOUND_S, MODEL, PIPELINE_IFACE, VitdTestCase, main, require_element


class Stall(VitdTestCase):
    def timed(self, what, fn, *args):
        start = time.monotonic()
        try:
            result = fn(*args)
        except GLib.Error as e:
            result = e
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, ANSWER_BOUND_S, "%s took %.2f s: the main loop is stalled" % (what, elapsed))
        return result

    def test_fifo_labels_does_not_stall_the_daemon(self):
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")
        stuck = os.path.join("/tmp",
                             "vitd-stall-%d" % os.getpid())
        shutil.rmtree(stuck, ignore_errors=True)
        shutil.copytree(MODEL, stuck)
        self.addCleanup(shutil.rmtree, stuck, True)
        # Without label_names in config.json, libvit reads labels.txt, a FIFO: refused, not opened.
        with open(os.path.join(stuck, "config.json")) as f:
            cfg = json.load(f)
        cfg.pop("label_names", None)
        with open(os.path.join(stuck, "config.json"), "w") as f:
            json.dump(cfg, f)
        os.mkfifo(os.path.join(stuck, "labels.txt"))
        self.start_vitd("""
            pipelines:
              - name: good
                source: test:ball
                model: @MODEL@
              - name: stuck
                source: test:smpte
                model: %s
        """ % stuck)
        c = self.client
        c.wait_for("good streaming", lambda: len(c.classifications("good")) >= 3)

        end = time.monotonic() + 4
        while time.monotonic() < end:
            self.timed("ListPipelines", c.pipelines)
            # libvit and the element's cache refuse the FIFO unopened (vit_model_stamp), so the
            # run fails fast and backs off; before, the open blocked and it stayed "starting"
            self.assertIn(self.timed("Get State", c.get, "stuck", "State"),
                          ("starting", "backoff"))
            c.pump(0.1)
        self.assertIn("labels.txt: not a regular file", c.get("stuck", "LastError"))
        # Restarting the stuck pipeline abandons the blocked run; a reload validates off the
        # main loop and refuses the FIFO by name.
        self.timed("RestartPipeline", c.manager, "RestartPipeline", "stuck")
        err = self.timed("Reload", c.manager, "Reload")
        self.assertIsInstance(err, GLib.Error)
        self.assertIn("labels.txt: not a regular file (a FIFO)", err.message)
        n = len(c.classifications("good"))
        c.wait_for("good still streaming", lambda: len(c.classifications("good")) > n + 3)
        self.assertContiguous([s[0] for s in c.classifications("good")])

        start = time.monotonic()
        self.assertEqual(self.vitd.stop(timeout=20), 0)
        self.assertLess(time.monotonic() - start, 10)


if __name__ == "__main__":
    main()
