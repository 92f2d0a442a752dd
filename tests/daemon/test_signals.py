#!/usr/bin/python3
"""vitd end to end on a private session bus: frames in -> Classification signals out, the
Pipeline properties, the control methods, and vitctl."""
import json
import select
import subprocess
import time

from gi.repository import Gio, GLib

from vitdtest import (MANAGER_IFACE, MANAGER_PATH, PIPELINE_IFACE, MODEL, VitdTestCase, main, pipeline_path,
                      require_element)

LIVE = """
    pipelines:
      - name: live-cam
        source: test:ball
        model: @MODEL@
        top-k: 3
"""


def remote_error(e):
    return Gio.DBusError.get_remote_error(e)


class Signals(VitdTestCase):
    def test_n_frames_give_n_signals_with_contiguous_seq(self):
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")
        self.start_vitd("""
            pipelines:
              - name: count-me
                launch: videotestsrc num-buffers=40 ! video/x-raw,width=64,height=64 ! vitclassify model=@MODEL@ top-k=3 ! fakesink
                restart: never
        """)
        c = self.client
        c.wait_for("count-me to finish", lambda: c.get("count-me", "State") == "finished")
        c.sync_events()  # State comes from the control connection, signals from the other
        sigs = c.classifications("count-me")
        self.assertEqual(len(sigs), 40)
        self.assertContiguous([s[0] for s in sigs])
        self.assertEqual([s[1] for s in sigs], list(range(40)), "frame numbers")
        pts = [s[2] for s in sigs]
        self.assertEqual(pts, sorted(pts))
        for seq, frame, pts_ns, realtime_us, labels, exit_, latency_us in sigs:
            self.assertTrue(1 <= len(labels) <= 3, labels)
            scores = [score for _, score in labels]
            self.assertEqual(scores, sorted(scores, reverse=True))
            self.assertTrue(all(0.0 <= x <= 1.0 for x in scores), scores)
            self.assertGreater(realtime_us, 1.6e15)  # microseconds since 1970, after 2020
            self.assertEqual(exit_, 0)

        props = c.get_all("count-me")
        self.assertEqual(props["Name"], "count-me")
        self.assertEqual(props["State"], "finished")
        self.assertEqual(props["Model"], MODEL)
        self.assertIn("videotestsrc", props["Source"])
        self.assertEqual(props["FramesSeen"], 40)
        self.assertEqual(props["FramesClassified"], 40)
        self.assertEqual(props["FramesDropped"], 0)
        self.assertEqual(props["Restarts"], 0)
        self.assertEqual(props["LastError"], "")
        self.assertEqual(sum(props["ExitCounts"]), 40)
        self.assertEqual(props["EventsDropped"], 0)
        self.assertGreater(props["LatencyMs"], 0.0)

    def test_publish_policies_thin_the_stream(self):
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")
        self.start_vitd("""
            pipelines:
              - name: same-label
                launch: videotestsrc pattern=black num-buffers=30 ! video/x-raw,width=64,height=64 ! vitclassify model=@MODEL@ ! fakesink
                restart: never
                publish: on-change
              - name: rate-limited
                launch: videotestsrc num-buffers=100 ! video/x-raw,width=64,height=64 ! vitclassify model=@MODEL@ ! fakesink
                restart: never
                publish:
                  max-rate: 1
        """)
        c = self.client
        for name in ("same-label", "rate-limited"):
            c.wait_for(name + " finished", lambda n=name: c.get(n, "State") == "finished")
        c.sync_events()
        # A constant picture has one top label: on-change publishes it once.
        self.assertEqual(c.get("same-label", "FramesClassified"), 30)
        self.assertEqual([s[0] for s in c.classifications("same-label")], [1])
        # 100 frames as fast as possible, at most one signal per second: measured between the
        # signals' own wall-clock stamps (taken a moment after the policy's monotonic clock, so
        # 0.9 s), and a slow machine that takes more seconds rightly gets more signals.
        self.assertEqual(c.get("rate-limited", "FramesClassified"), 100)
        sigs = c.classifications("rate-limited")
        self.assertGreaterEqual(len(sigs), 1)
        stamps = [s[3] for s in sigs]
        self.assertTrue(all(b - a >= 900000 for a, b in zip(stamps, stamps[1:])),
                        "signals less than a second apart: %s" % stamps)
        self.assertContiguous([s[0] for s in sigs])
        self.assertEqual(c.get("rate-limited", "EventsDropped"), 0)  # thinning is not dropping

    def test_control_methods_and_properties_changed(self):
        require_element()
        self.start_vitd(LIVE)
        c = self.client
        c.wait_for("live-cam running", lambda: c.get("live-cam", "State") == "running")
        self.assertEqual(c.pipelines(), {"live-cam": ("running", pipeline_path("live-cam"))})
        self.assertRegex(c.get(None, "Version"), r"^\d+\.\d+")

        c.subscribe(iface="org.freedesktop.DBus.Properties", member="PropertiesChanged",
                    path=pipeline_path("live-cam"))
        c.manager("StopPipeline", "live-cam")
        self.assertEqual(c.get("live-cam", "State"), "stopped")
        c.wait_for("PropertiesChanged State=stopped", lambda: any(
            a[1].get("State") == "stopped" for _, m, a in c.signals if m == "PropertiesChanged"))
        c.manager("StartPipeline", "live-cam")
        c.wait_for("running again", lambda: c.get("live-cam", "State") == "running")
        c.manager("RestartPipeline", "live-cam")
        c.wait_for("running after restart", lambda: c.get("live-cam", "State") == "running")
        c.wait_for("frames counted", lambda: c.get("live-cam", "FramesSeen") > 0)
        c.wait_for("a frame rate", lambda: c.get("live-cam", "Fps") > 0)

        for method in ("StartPipeline", "StopPipeline", "RestartPipeline"):
            with self.assertRaises(GLib.Error) as cm:
                c.manager(method, "no-such-pipeline")
            self.assertEqual(remote_error(cm.exception), "org.vitd1.Error.NoSuchPipeline")
        with self.assertRaises(GLib.Error) as cm:
            c.get("no-such-pipeline", "State")
        self.assertEqual(remote_error(cm.exception), "org.freedesktop.DBus.Error.UnknownObject")

    def test_huge_pipeline_name_is_shortened_in_errors_and_logs(self):
        self.start_vitd("pipelines:\n")
        name = "n" * (10 * 1024 * 1024)
        with self.assertRaises(GLib.Error) as cm:
            self.client.call(MANAGER_PATH, MANAGER_IFACE, "StartPipeline",
                             GLib.Variant("(s)", (name,)), timeout_ms=30000)
        self.assertEqual(Gio.DBusError.get_remote_error(cm.exception),
                         "org.vitd1.Error.NoSuchPipeline")
        self.assertLess(len(cm.exception.message), 200)
        self.assertIn("n" * 64 + "\u2026", cm.exception.message)
        self.assertLess(len(self.vitd.log()), 100000)

    def test_introspection_lists_pipeline_objects(self):
        self.start_vitd(LIVE)
        xml = self.client.call("/org/vitd1/pipeline", "org.freedesktop.DBus.Introspectable",
                               "Introspect")[0]
        self.assertIn('<node name="live_2dcam"/>', xml)

    def test_vitctl(self):
        require_element()
        self.start_vitd(LIVE)
        c = self.client
        c.wait_for("live-cam running", lambda: c.get("live-cam", "State") == "running")

        r = self.vitctl("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"live-cam\s+running\s+/org/vitd1/pipeline/live_2dcam")

        r = self.vitctl("status", "live-cam")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"State: running")
        self.assertRegex(r.stdout, r"FramesSeen: \d+")

        r = self.vitctl("monitor", "live-cam", "--json", "--count", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        events = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(events), 3)
        self.assertEqual({e["pipeline"] for e in events}, {"live-cam"})
        self.assertEqual([e["seq"] for e in events],
                         list(range(events[0]["seq"], events[0]["seq"] + 3)))
        self.assertTrue(events[0]["labels"] and "label" in events[0]["labels"][0])

        r = self.vitctl("monitor", "--count", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^live-cam seq=\d+ frame=\d+ exit=0 ")

        r = self.vitctl("stop", "live-cam")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.get("live-cam", "State"), "stopped")
        r = self.vitctl("start", "live-cam")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.vitctl("restart", "live-cam")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.vitctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)

        r = self.vitctl("restart", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("No pipeline named 'nope'", r.stderr)
        r = self.vitctl("status", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("No pipeline named 'nope'", r.stderr)

    def test_gdbus_monitor_sees_classifications(self):
        require_element()
        self.start_vitd(LIVE)
        proc = subprocess.Popen(["gdbus", "monitor", "--address", self.bus.address, "--dest",
                                 "org.vitd1.Events", "--object-path", pipeline_path("live-cam")],
                                stdout=subprocess.PIPE, text=True)
        try:
            lines = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any("Classification" in l for l in lines):
                if select.select([proc.stdout], [], [], 1.0)[0]:
                    lines.append(proc.stdout.readline())
            self.assertTrue(any("org.vitd1.Pipeline.Classification" in l for l in lines), lines)
        finally:
            proc.terminate()
            proc.communicate(timeout=10)

    def test_vitctl_without_vitd(self):
        for args in (["list"], ["reload"], ["monitor"], ["status", "x"]):
            r = self.vitctl(*args)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("vitd is not running on the session bus", r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_sigterm_drains_and_exits_zero(self):
        # Right after start-up, while the live source may still be prerolling.
        vitd = self.start_vitd(LIVE)
        self.assertEqual(vitd.stop(timeout=15), 0)
        self.assertIn("Draining", vitd.log())

    def test_sigterm_drains_running_pipelines_by_end_of_stream(self):
        require_element()
        vitd = self.start_vitd(LIVE)
        c = self.client
        c.wait_for("live-cam running", lambda: c.get("live-cam", "State") == "running")
        self.assertEqual(vitd.stop(timeout=15), 0)
        self.assertIn("Draining", vitd.log())
        self.assertNotIn("did not drain in time", vitd.log())


if __name__ == "__main__":
    main()
