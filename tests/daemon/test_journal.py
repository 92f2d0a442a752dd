#!/usr/bin/python3
"""Logs reach the journal as structured entries (PRIORITY=, PIPELINE=, ERROR_DOMAIN=) when
stderr is the journal ($JOURNAL_STREAM names it), and plain stderr otherwise. The test runs
itself again in a private mount namespace with a tmpfs on /run, where it plays journald: it
binds /run/systemd/journal/socket and reads the native-protocol datagrams vitd sends.
Needs root and unshare; skipped otherwise."""
import os
import socket
import subprocess
import sys
import tempfile
import time

from vitdtest import SKIP, VITD, Config, VitdTestCase, main

JOURNAL_SOCKET = "/run/systemd/journal/socket"


def parse_native(datagram):
    """The journal native protocol: KEY=VALUE lines, or KEY\\n<le64 size>VALUE\\n."""
    fields, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            size = int.from_bytes(datagram[nl + 1:nl + 9], "little")
            v = datagram[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode(errors="replace")
    return fields


class Journal(VitdTestCase):
    def setUp(self):
        if os.geteuid() != 0:
            print("not root: skipping", file=sys.stderr)
            sys.exit(SKIP)
        if os.environ.get("VITD_TEST_JOURNAL_NS") == "1":
            super().setUp()

    def test_structured_fields_when_stderr_is_the_journal(self):
        if os.environ.get("VITD_TEST_JOURNAL_NS") != "1":
            inner = ("mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
                     "exec /usr/bin/python3 %s Journal.test_structured_fields_when_stderr_is_the_journal"
                     % __file__)
            r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                               env=dict(os.environ, VITD_TEST_JOURNAL_NS="1"), capture_output=True,
                               text=True, timeout=120)
            if r.returncode != 0 and "Ran " not in r.stderr:
                self.skipTest("cannot make a private mount namespace: " + r.stderr.strip())
            self.assertEqual(r.returncode, 0, r.stderr)
            return

        journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        journal.bind(JOURNAL_SOCKET)
        journal.settimeout(0.2)
        self.addCleanup(journal.close)
        self.config = Config("""
            pipelines:
              - name: door
                source: v4l2:/dev/vitd-test-no-such-camera
                model: @MODEL@
                restart: {policy: always, backoff-initial: 0.2, backoff-max: 0.2}
        """)
        self.addCleanup(self.config.close)
        # vitd's stderr is a file; $JOURNAL_STREAM names it, as systemd names its stream socket.
        log = tempfile.NamedTemporaryFile(prefix="vitd-stderr-", delete=False)
        self.addCleanup(os.unlink, log.name)
        st = os.fstat(log.fileno())
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address,
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        proc = subprocess.Popen([VITD, "--user", "--config", self.config.path],
                                stdout=log, stderr=log, env=env)
        entries = []
        try:
            end = time.monotonic() + 20
            while time.monotonic() < end and not any(e.get("PIPELINE") == "door" and
                                                     "ERROR_DOMAIN" in e for e in entries):
                try:
                    entries.append(parse_native(journal.recv(65536)))
                except socket.timeout:
                    pass
        finally:
            proc.terminate()
            proc.wait(15)
        errors = [e for e in entries if e.get("PIPELINE") == "door" and "ERROR_DOMAIN" in e]
        self.assertTrue(errors, entries)
        e = errors[0]
        self.assertEqual(e["PRIORITY"], "3")
        self.assertEqual(e["SYSLOG_IDENTIFIER"], "vitd")
        self.assertEqual(e["ERROR_DOMAIN"], "gst-resource-error-quark")
        self.assertIn("/dev/vitd-test-no-such-camera", e["MESSAGE"])
        with open(log.name, errors="replace") as f:
            self.assertNotIn("no-such-camera", f.read())  # went to the journal, not the stream


if __name__ == "__main__":
    main()
