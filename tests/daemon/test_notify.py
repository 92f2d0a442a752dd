#!/usr/bin/python3
"""sd_notify as systemd would see it (a datagram socket in $NOTIFY_SOCKET): READY and STATUS at
start, RELOADING=1 with MONOTONIC_USEC then READY on SIGHUP, STOPPING on SIGTERM, and WATCHDOG=1
only while frames flow."""
import os
import re
import signal
import socket
import tempfile
import time

from vitdtest import VitdTestCase, main, require_element

WATCHDOG_USEC = 600000  # vitd pings every 300 ms while healthy


class Notify(VitdTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        d = tempfile.mkdtemp(prefix="vitd-notify-")
        self.sock_path = os.path.join(d, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.setblocking(False)
        self.addCleanup(lambda: (self.sock.close(), os.unlink(self.sock_path), os.rmdir(d)))
        self.messages = []

    def collect(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.client.pump(0.05)
            try:
                while True:
                    self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                pass

    def wait_message(self, pattern, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in self.messages:
                if re.search(pattern, m, re.M):
                    return m
            self.collect(0.1)
        raise AssertionError("no notify message matching %r in %r" % (pattern, self.messages))

    def start(self, pipelines):
        self.start_vitd(pipelines, env={"NOTIFY_SOCKET": self.sock_path,
                                        "WATCHDOG_USEC": str(WATCHDOG_USEC)})

    def test_lifecycle_messages(self):
        self.start("""
            pipelines:
              - name: cam
                source: test:ball
                model: @MODEL@
        """)
        self.wait_message(r"^READY=1$")
        self.wait_message(r"^STATUS=.*pipelines")
        self.messages.clear()
        os.kill(self.vitd.proc.pid, signal.SIGHUP)
        reloading = self.wait_message(r"^RELOADING=1$")
        self.assertRegex(reloading, r"(?m)^MONOTONIC_USEC=\d+$")
        self.wait_message(r"^READY=1$")
        self.assertEqual(self.vitd.stop(), 0)
        self.collect(0.2)
        self.wait_message(r"^STOPPING=1$", timeout=1)

    def test_watchdog_only_while_frames_flow(self):
        self.start("""
            pipelines:
              - name: flowing
                source: test:ball
                model: @MODEL@
              - name: trickle
                launch: videotestsrc is-live=true ! video/x-raw,width=32,height=32,framerate=1/10 ! vitclassify model=@MODEL@ ! fakesink
        """)
        c = self.client
        c.wait_for("both running", lambda: c.get("flowing", "State") == "running")
        self.collect(2.0)
        self.assertTrue(any("WATCHDOG=1" in m for m in self.messages), "no ping while frames flow")

        # trickle is RUNNING but its next frame is 10 s away: no more pings after ~0.6 s.
        c.wait_for("trickle running", lambda: c.get("trickle", "State") == "running")
        self.collect(1.5)
        self.messages.clear()
        self.collect(2.0)
        self.assertFalse(any("WATCHDOG=1" in m for m in self.messages),
                         "pinged although a running pipeline moved no frame")

        c.manager("StopPipeline", "trickle")  # a stopped pipeline does not hold the watchdog
        self.messages.clear()
        self.collect(2.0)
        self.assertTrue(any("WATCHDOG=1" in m for m in self.messages))


if __name__ == "__main__":
    main()
