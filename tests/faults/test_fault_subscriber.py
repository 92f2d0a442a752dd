#!/usr/bin/python3
"""A subscriber that stops reading: a separate process subscribed to every Classification signal
is SIGSTOPped for 20 s (it reads nothing from its socket), while three pipelines stream, one of
them fast (200 frames/s offered).

What a user would notice, and what this asserts:
- no pipeline pauses: sampled every 0.5 s through the 20 s, each is running with Fps > 0 and no
  restart; frames classified per second before and during are printed for the log;
- the control API stays live: ListPipelines and property reads answer promptly each
  (ANSWER_BOUND_S), and so do the StopPipeline calls after it;
- nothing is lost without being counted: for every pipeline, the gaps in seq that the reading
  client saw equal EventsDropped, and the stuck subscriber, once it reads again, gets exactly the
  seqs the reading client got (dbus-daemon holds its backlog, up to max_outgoing_bytes; vitd
  drops and counts only what its own connection to the bus cannot take)."""
import os
import signal
import subprocess
import sys
import threading
import time

from faulttest import HERE, Watch
from vitdtest import (ANSWER_BOUND_S, PIPELINE_IFACE, VitdTestCase, main, pipeline_path,
                      require_element)

NAMES = ["ball", "fast", "smpte"]
STUCK_S = 20.0


class StuckSubscriber(VitdTestCase):
    def start_subscriber(self):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "subscriber.py"),
                                 self.bus.address], stdout=subprocess.PIPE, text=True)

        def cleanup():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
        self.addCleanup(cleanup)
        self.assertEqual(proc.stdout.readline().strip(), "ready")
        self.stuck_seen = {pipeline_path(n): [] for n in NAMES}

        def read():
            for line in proc.stdout:
                path, seq = line.split()
                if path in self.stuck_seen:
                    self.stuck_seen[path].append(int(seq))
        threading.Thread(target=read, daemon=True).start()
        return proc

    def timed(self, what, fn, *args):
        start = time.monotonic()
        result = fn(*args)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, ANSWER_BOUND_S,
                        "%s took %.2f s with a stuck subscriber" % (what, elapsed))
        return result

    def classified(self):
        return {n: self.client.get(n, "FramesClassified") for n in NAMES}

    def test_subscriber_stops_reading_for_20_s(self):
        require_element()
        c = self.client
        c.subscribe(iface=PIPELINE_IFACE, member="Classification")
        self.start_vitd("""
            pipelines:
              - name: fast
                launch: videotestsrc is-live=true ! video/x-raw,width=32,height=32,framerate=200/1 ! vitclassify model=@MODEL@ top-k=1 ! fakesink sync=true
              - name: ball
                source: test:ball
                model: @MODEL@
                top-k: 1
              - name: smpte
                source: test:smpte
                model: @MODEL@
                top-k: 1
        """)
        seqs = lambda n: [s[0] for s in c.classifications(n)]  # noqa: E731
        c.wait_for("every pipeline streaming", lambda: all(len(seqs(n)) >= 5 for n in NAMES))
        stuck = self.start_subscriber()
        c.wait_for("the subscriber receiving",
                   lambda: all(len(v) >= 3 for v in self.stuck_seen.values()))

        w = Watch(c, NAMES)
        w.settle()
        t0, before = time.monotonic(), self.classified()
        w.pump(3.0)
        t1, mid = time.monotonic(), self.classified()

        stuck.send_signal(signal.SIGSTOP)
        end = time.monotonic() + STUCK_S
        while time.monotonic() < end:
            self.timed("ListPipelines", c.pipelines)
            self.timed("GetAll fast", c.get_all, "fast")
            w.pump(0.5)
        t2, after = time.monotonic(), self.classified()
        stuck.send_signal(signal.SIGCONT)
        w.assert_never_paused(self)
        for n in NAMES:
            print("%s: %.1f frames/s classified before, %.1f while the subscriber was stuck" % (
                n, (mid[n] - before[n]) / (t1 - t0), (after[n] - mid[n]) / (t2 - t1)))

        # Stop the pipelines so that no seq can still come, then let both subscribers catch up:
        # the reading client has every signal once the event connection answers a Ping.
        for n in NAMES:
            self.timed("StopPipeline", c.manager, "StopPipeline", n)
        c.sync_events()
        final = {n: seqs(n)[-1] for n in NAMES}
        c.wait_for("the stuck subscriber caught up", lambda: all(
            self.stuck_seen[pipeline_path(n)] and self.stuck_seen[pipeline_path(n)][-1] >= final[n]
            for n in NAMES), timeout=30)
        for n in NAMES:
            got = seqs(n)
            self.assertEqual(got, sorted(set(got)), "%s: seq repeats or goes back" % n)
            gaps = got[-1] - len(got)  # seq starts at 1
            self.assertEqual(gaps, c.get(n, "EventsDropped"), "%s: gaps in seq != EventsDropped" % n)
            # The stuck subscriber, from its first signal on, saw exactly what the reading client
            # saw: its backlog waited in the bus, nothing was lost for it alone.
            late = self.stuck_seen[pipeline_path(n)]
            self.assertEqual(late, [s for s in got if s >= late[0]],
                             "%s: the stuck subscriber missed signals the reader got" % n)


if __name__ == "__main__":
    main()
