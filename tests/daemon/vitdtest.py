"""vitdtest — shared harness of the vitd integration tests.

Starts a private dbus-daemon (session config, or a generated system-style config), writes
temporary vitd configs, runs the real vitd against them, and talks to it over D-Bus with Gio
(python3-gi). Every wait is bounded; a test that cannot finish fails instead of hanging.

Environment (set by tests/daemon/meson.build): VITD_BUILD_ROOT, VITD_SOURCE_ROOT, VITD_TEST_MODEL
(a model folder), VITD_HAVE_ELEMENT=1 when the vitclassify plugin is built (GST_PLUGIN_PATH set).
VITD_TEST_TIMEOUT_SCALE (tools/test-sanitize.sh: 3) stretches every wait for slow builds.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from gi.repository import Gio, GLib

TIMEOUT_SCALE = float(os.environ.get("VITD_TEST_TIMEOUT_SCALE", "1"))
# Liveness: a control call answers within 2.5 s (stretched like every wait for slow builds). A
# stalled main loop (a blocking open(), a join on a stuck thread) answers never or after many
# seconds; 1 s was seen exceeded (1.14 s) by plain scheduling with 2 tests x 3 pipelines on 2 cores.
ANSWER_BOUND_S = 2.5 * TIMEOUT_SCALE

BUILD = os.environ.get("VITD_BUILD_ROOT", "")
SOURCE = os.environ.get("VITD_SOURCE_ROOT", "")
MODEL = os.environ.get("VITD_TEST_MODEL", "")
VITD = os.path.join(BUILD, "daemon", "vitd")
VITCTL = os.path.join(BUILD, "daemon", "vitctl")
HAVE_ELEMENT = os.environ.get("VITD_HAVE_ELEMENT") == "1"

BUS_NAME = "org.vitd1"
EVENTS_BUS_NAME = "org.vitd1.Events"  # vitd's event connection, which sends Classification
MANAGER_PATH = "/org/vitd1"
MANAGER_IFACE = "org.vitd1.Manager"
PIPELINE_IFACE = "org.vitd1.Pipeline"

SKIP = 77  # meson's "skipped" exit status


def require_element():
    if not HAVE_ELEMENT:
        print("vitclassify plugin not built: skipping", file=sys.stderr)
        sys.exit(SKIP)


def pipeline_path(name):
    """sd_bus_path_encode: every byte outside [A-Za-z0-9] (and a leading digit) as _XX."""
    out = []
    for i, ch in enumerate(name.encode()):
        c = chr(ch)
        if c.isascii() and (c.isalpha() or (c.isdigit() and i > 0)):
            out.append(c)
        else:
            out.append("_%02x" % ch)
    return "/org/vitd1/pipeline/" + "".join(out)


def bus_config(default_policy):
    """A system-type bus config template (placeholders {socket} and {extra}, filled by Bus) whose
    default policy context holds the rules DEFAULT_POLICY."""
    return """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
""" + textwrap.indent(textwrap.dedent(default_policy).strip(), "    ") + """
  </policy>
  {extra}
</busconfig>
"""


SYSTEM_BUS_CONFIG = bus_config("""
    <!-- the defaults of Debian's /usr/share/dbus-1/system.conf -->
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
""")

PERMISSIVE_BUS_CONFIG = bus_config("""
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_type="*"/>
""")


class Bus:
    """A private dbus-daemon: the session config, or CONFIG (a template with {socket})."""

    def __init__(self, config=None, extra=""):
        self.dir = tempfile.mkdtemp(prefix="vitd-bus-")
        os.chmod(self.dir, 0o755)  # an unprivileged test client must reach the socket
        if config is None:
            args = ["--session", "--address=unix:path=" + os.path.join(self.dir, "bus")]
        else:
            path = os.path.join(self.dir, "bus.conf")
            with open(path, "w") as f:
                f.write(config.format(socket=os.path.join(self.dir, "bus"), extra=extra))
            args = ["--config-file=" + path]
        self.proc = subprocess.Popen(["dbus-daemon", "--nofork", "--print-address=1"] + args,
                                     stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Config:
    """A temporary vitd.yaml with a pipelines.d folder."""

    def __init__(self, pipelines=None, bus="session"):
        self.dir = tempfile.mkdtemp(prefix="vitd-conf-")
        os.chmod(self.dir, 0o755)
        self.pipelines_dir = os.path.join(self.dir, "pipelines.d")
        os.mkdir(self.pipelines_dir)
        self.path = os.path.join(self.dir, "vitd.yaml")
        with open(self.path, "w") as f:
            f.write("bus: %s\npipelines-dir: pipelines.d\n" % bus)
        if pipelines is not None:
            self.write("pipelines.yaml", pipelines)

    def write(self, name, text):
        path = os.path.join(self.pipelines_dir, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip("\n").replace("@MODEL@", MODEL))
        return path

    def remove(self, name):
        os.unlink(os.path.join(self.pipelines_dir, name))

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """A D-Bus client on ADDRESS (Gio), with bounded waits that run the main context."""

    def __init__(self, address):
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                 Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        self.signals = []  # (path, member, args) in arrival order
        self._subs = []

    def close(self):
        for s in self._subs:
            self.conn.signal_unsubscribe(s)
        if not self.conn.is_closed():
            self.conn.close_sync(None)

    def call(self, path, iface, method, args=None, timeout_ms=10000):
        reply = self.conn.call_sync(BUS_NAME, path, iface, method, args, None,
                                    Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return reply.unpack()

    def manager(self, method, *args):
        sig = "(" + "s" * len(args) + ")"
        return self.call(MANAGER_PATH, MANAGER_IFACE, method,
                         GLib.Variant(sig, args) if args else None)

    def get(self, name, prop):
        path = pipeline_path(name) if name else MANAGER_PATH
        iface = PIPELINE_IFACE if name else MANAGER_IFACE
        return self.call(path, "org.freedesktop.DBus.Properties", "Get",
                         GLib.Variant("(ss)", (iface, prop)))[0]

    def get_all(self, name):
        return self.call(pipeline_path(name), "org.freedesktop.DBus.Properties", "GetAll",
                         GLib.Variant("(s)", (PIPELINE_IFACE,)))[0]

    def pipelines(self):
        return {n: (s, p) for n, s, p in self.manager("ListPipelines")[0]}

    def has_owner(self):
        return self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "NameHasOwner",
                                   GLib.Variant("(s)", (BUS_NAME,)), None,
                                   Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]

    def subscribe(self, iface=None, member=None, path=None, sender=None):
        """Records matching signals in self.signals (no sender filter: events come from vitd's
        second connection)."""
        def on_signal(conn, sender_name, obj_path, iface_name, member_name, params):
            self.signals.append((obj_path, member_name, params.unpack()))
        self._subs.append(self.conn.signal_subscribe(sender, iface, member, path, None,
                                                     Gio.DBusSignalFlags.NONE, on_signal))
        self.pump(0.05)  # let AddMatch reach the bus

    def sync_events(self, timeout_ms=10000):
        """Returns once every signal vitd's event connection sent before it answered a Ping has
        been dispatched here (the answer queues behind them, and the bus keeps one sender's
        messages in order): after a pipeline stopped or finished, every signal it sent, with no
        quiet period guessed on a busy machine."""
        self.conn.call_sync(EVENTS_BUS_NAME, "/", "org.freedesktop.DBus.Peer", "Ping", None,
                            None, Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        # GDBus queued those signals on this context before it saw the answer.
        self._drain(GLib.MainContext.default(), 100000)

    def classifications(self, name):
        path = pipeline_path(name)
        return [a for p, m, a in self.signals if m == "Classification" and p == path]

    def pump(self, seconds):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ctx.iteration(False) or time.sleep(0.005)

    @staticmethod
    def _drain(ctx, limit=2000):
        # Bounded: under a flood of signals the context is never empty.
        for _ in range(limit):
            if not ctx.iteration(False):
                break

    def wait_for(self, what, cond, timeout=20.0):
        """Runs the main context until COND() is true; fails the test after TIMEOUT seconds."""
        ctx = GLib.MainContext.default()
        timeout *= TIMEOUT_SCALE
        end = time.monotonic() + timeout
        while True:
            try:
                if cond():
                    return
            except GLib.Error:
                pass
            if time.monotonic() > end:
                raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
            self._drain(ctx)
            time.sleep(0.01)


class Vitd:
    """The real vitd on BUS with CONFIG; stderr is kept in self.log()."""

    def __init__(self, bus, config, user=True, env=None):
        self.logfile = tempfile.NamedTemporaryFile(prefix="vitd-log-", suffix=".txt", delete=False)
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        e["DBUS_SESSION_BUS_ADDRESS" if user else "DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        e.update(env or {})
        args = [VITD, "--config", config.path] + (["--user"] if user else [])
        self.proc = subprocess.Popen(args, stdout=self.logfile, stderr=subprocess.STDOUT, env=e)

    def wait_ready(self, client, timeout=20.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("vitd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            return client.has_owner()
        client.wait_for("vitd to own org.vitd1", ready, timeout)

    def log(self):
        with open(self.logfile.name, errors="replace") as f:
            return f.read()

    def stop(self, timeout=15.0):
        """SIGTERM; returns the exit status (fails if vitd does not exit in TIMEOUT s)."""
        timeout *= TIMEOUT_SCALE
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vitd did not exit within %.0f s of SIGTERM" % timeout)
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # Always on stderr: meson shows it for failing tests (it names pipeline and error).
        sys.stderr.write("---- vitd log ----\n" + self.log())
        os.unlink(self.logfile.name)


class VitdTestCase(unittest.TestCase):
    """Per test: a private session bus, a client on it, and helpers to run vitd."""

    def setUp(self):
        self.bus = Bus()
        self.addCleanup(self.bus.close)
        self.client = Client(self.bus.address)
        self.addCleanup(self.client.close)

    def start_vitd(self, pipelines, env=None, wait=True):
        self.config = Config(pipelines)
        self.addCleanup(self.config.close)
        self.vitd = Vitd(self.bus, self.config, env=env)
        self.addCleanup(self.vitd.close)
        if wait:
            self.vitd.wait_ready(self.client)
        return self.vitd

    def vitctl(self, *args, timeout=20):
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        return subprocess.run([VITCTL, "--user"] + list(args), env=env, capture_output=True,
                              text=True, timeout=timeout)

    def assertContiguous(self, seqs, first=1):
        self.assertEqual(list(seqs), list(range(first, first + len(seqs))),
                         "Classification seq has gaps or repeats")


def main():
    if not os.path.exists(VITD):
        print("vitd not built: skipping", file=sys.stderr)
        sys.exit(SKIP)
    unittest.main(verbosity=2)
