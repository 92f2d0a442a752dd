#!/usr/bin/python3
"""A network camera that dies mid-stream and comes back: a real RTSP server (gst-rtsp-server,
RTP/JPEG on 127.0.0.1) feeds pipeline `cam` (`source: rtsp://...`); the server is SIGKILLed while
vitd streams from it, stays down for a while, and is started again on the same port.

What a user would notice, and what this asserts:
- `cam` leaves running, goes to backoff with a LastError, retries with backoff while the server
  is down, and is running and classifying again after the server is back (Restarts grew); its
  seq continues across the outage with no gap or repeat.
- the two other pipelines never pause: sampled every 0.5 s through the whole outage, they stay
  running with Fps > 0 and no restart, and their seq is gapless."""
from faulttest import RtspServer, Watch
from vitdtest import PIPELINE_IFACE, VitdTestCase, main, pipeline_path, require_element

OTHERS = ["ball", "smpte"]


class RtspOutage(VitdTestCase):
    def test_rtsp_server_killed_and_restarted(self):
        require_element()
        server = RtspServer()
        server.start()
        self.addCleanup(server.close)
        c = self.client
        c.subscribe(iface=PIPELINE_IFACE, member="Classification")
        c.subscribe(iface="org.freedesktop.DBus.Properties", member="PropertiesChanged",
                    path=pipeline_path("cam"))
        self.start_vitd("""
            pipelines:
              - name: cam
                source: %s
                model: @MODEL@
                top-k: 1
                restart: {policy: always, backoff-initial: 0.5, backoff-max: 1}
              - name: ball
                source: test:ball
                model: @MODEL@
                top-k: 1
              - name: smpte
                source: test:smpte
                model: @MODEL@
                top-k: 1
        """ % server.url)
        seqs = lambda n: [s[0] for s in c.classifications(n)]  # noqa: E731
        c.wait_for("cam streaming", lambda: len(seqs("cam")) >= 5, timeout=30)
        c.wait_for("the others streaming", lambda: all(len(seqs(n)) >= 5 for n in OTHERS))
        self.assertEqual(c.get("cam", "State"), "running")
        self.assertEqual(c.get("cam", "Restarts"), 0)

        w = Watch(c, OTHERS)
        w.settle()
        states_before = len(self.states())
        server.kill()
        w.wait_for("cam in backoff", lambda: "backoff" in self.states()[states_before:], timeout=30)
        self.assertNotEqual(c.get("cam", "LastError"), "")
        # Let it fail again while the server is down: the backoff goes on, the others stream.
        restarts_down = c.get("cam", "Restarts")
        w.wait_for("another failed retry", lambda: c.get("cam", "Restarts") > restarts_down
                   and c.get("cam", "State") == "backoff", timeout=30)
        n_down = len(seqs("cam"))
        server.start()  # back on the same port
        w.wait_for("cam classifying again", lambda: len(seqs("cam")) >= n_down + 5, timeout=30)
        w.wait_for("cam running", lambda: c.get("cam", "State") == "running")
        w.pump(1.0)

        after = self.states()[states_before:]
        self.assertIn("backoff", after)
        self.assertEqual(after[-1], "running", "state changes after the kill: %s" % after)
        self.assertGreaterEqual(c.get("cam", "Restarts"), 2)
        self.assertContiguous(seqs("cam"))  # seq spans the outage without gap or repeat
        w.assert_never_paused(self)
        for n in OTHERS:
            self.assertContiguous(seqs(n))
            self.assertEqual(c.get(n, "LastError"), "")

    def states(self):
        """Values of State in cam's PropertiesChanged signals, in order."""
        out = []
        for path, member, args in self.client.signals:
            if member == "PropertiesChanged" and "State" in args[1]:
                out.append(args[1]["State"])
        return out


if __name__ == "__main__":
    main()
