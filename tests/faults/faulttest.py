"""faulttest — what the fault tests share on top of tests/daemon/vitdtest.py.

- Watch: samples, while a test waits for something else, every pipeline it names (Fps, State,
  Restarts, FramesClassified) every 0.5 s, so a test can assert that the pipelines a fault must
  not touch never paused, instead of looking only before and after.
- RtspServer: tests/faults/rtsp_server.py in a subprocess on a free loopback port, killable and
  restartable on the same port.
- free_port(): a TCP port on 127.0.0.1 that nothing listens on right now.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    def __init__(self, port=None, fps=15):
        self.port = port or free_port()
        self.fps = fps
        self.proc = None
        self.url = "rtsp://127.0.0.1:%d/cam" % self.port

    def start(self, timeout=20.0):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "rtsp_server.py"),
                                      str(self.port), str(self.fps)], stdout=subprocess.PIPE,
                                     text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""  # "ready", or "" if it died
        if line.strip() != "ready":
            raise AssertionError("RTSP server did not start on port %d in %.0f s" %
                                 (self.port, timeout))

    def kill(self):
        """SIGKILL: no RTSP TEARDOWN, no goodbye, as when a camera loses power."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc:
            self.proc.stdout.close()

    close = kill


class Watch:
    """Samples the properties of NAMES through CLIENT at most every PERIOD seconds whenever
    tick() is called (wrap a wait condition: `lambda: w.tick() or cond()`)."""

    def __init__(self, client, names, period=0.5):
        self.client, self.names, self.period = client, names, period
        self.samples = []  # (t, name, Fps, State, Restarts, FramesClassified)
        self.next = 0.0

    def tick(self):
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.period
            for n in self.names:
                p = self.client.get_all(n)
                self.samples.append((now, n, p["Fps"], p["State"], p["Restarts"],
                                     p["FramesClassified"]))
        return False

    def settle(self, timeout=20.0):
        """Waits (not sampling) until every pipeline reports Fps > 0: Fps is computed over the
        last second, so it reads 0 for a moment after a start."""
        self.client.wait_for("Fps > 0 in %s" % ", ".join(self.names), lambda: all(
            self.client.get(n, "Fps") > 0 for n in self.names), timeout)

    def wait_for(self, what, cond, timeout=20.0):
        self.client.wait_for(what, lambda: self.tick() or cond(), timeout)

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick()
            self.client.pump(0.05)

    def assert_never_paused(self, test, min_span=3.0):
        """Every sample: state running, no restart, Fps > 0; FramesClassified always grows.
        A fault that passed quickly (a fast machine) leaves few samples: the watch first goes on
        sampling until it spans MIN_SPAN seconds, so every check looks at a real window."""
        if self.samples:
            self.pump(max(0.0, self.samples[0][0] + min_span - time.monotonic()))
        self.tick()
        test.assertGreater(len(self.samples), 4 * len(self.names), "too few samples")
        for n in self.names:
            rows = [s for s in self.samples if s[1] == n]
            for t, _, fps, state, restarts, _ in rows:
                test.assertEqual(state, "running", "%s left running" % n)
                test.assertEqual(restarts, 0, "%s restarted" % n)
                test.assertGreater(fps, 0.0, "%s: Fps 0 at t=%.1f s (a pause)" %
                                   (n, t - self.samples[0][0]))
            classified = [s[5] for s in rows]
            test.assertGreater(classified[-1], classified[0], "%s classified nothing" % n)
