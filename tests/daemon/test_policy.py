#!/usr/bin/python3
"""The shipped system-bus policy (conf/org.vitd1.conf) and vitd's own credential check, on a
private dbus-daemon with a system-bus configuration. An unprivileged caller (uid nobody, via
setpriv) may list, introspect, read properties and receive signals, but control methods are
refused: by the policy, and by vitd itself where a permissive bus lets the call through.
Needs root (to run as nobody); skipped otherwise."""
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap

from vitdtest import (PERMISSIVE_BUS_CONFIG, SKIP, SOURCE, SYSTEM_BUS_CONFIG, VITCTL, Bus, Client,
                      Config, Vitd, VitdTestCase, main)

TEST_GID = 47321  # the vitd group inside the test's private /etc/group

# Run as nobody: performs calls on the bus at argv[1] and prints one JSON object of outcomes.
UNPRIVILEGED_CLIENT = r'''
import json, sys
from gi.repository import Gio, GLib
flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)
got = []
conn.signal_subscribe(None, "org.vitd1.Manager", "PipelineAdded", None, None,
                      Gio.DBusSignalFlags.NONE, lambda *a: got.append(a[5].unpack()))
def call(dest, path, iface, method, args=None):
    try:
        conn.call_sync(dest, path, iface, method, args, None, Gio.DBusCallFlags.NONE, 5000, None)
        return "ok"
    except GLib.Error as e:
        return Gio.DBusError.get_remote_error(e) + ": " + e.message
res = {
  "ListPipelines": call("org.vitd1", "/org/vitd1", "org.vitd1.Manager", "ListPipelines"),
  "Version": call("org.vitd1", "/org/vitd1", "org.freedesktop.DBus.Properties", "Get",
                  GLib.Variant("(ss)", ("org.vitd1.Manager", "Version"))),
  "Introspect": call("org.vitd1", "/org/vitd1", "org.freedesktop.DBus.Introspectable", "Introspect"),
  "Ping": call("org.vitd1", "/org/vitd1", "org.freedesktop.DBus.Peer", "Ping"),
  "Reload": call("org.vitd1", "/org/vitd1", "org.vitd1.Manager", "Reload"),
  "StopPipeline": call("org.vitd1", "/org/vitd1", "org.vitd1.Manager", "StopPipeline",
                       GLib.Variant("(s)", ("x",))),
  "RequestName": call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "RequestName", GLib.Variant("(su)", ("org.vitd1", 4))),
}
if len(sys.argv) > 2:   # wait for a PipelineAdded the test triggers as root
    print("ready", flush=True)
    ctx = GLib.MainContext.default()
    import time
    end = time.monotonic() + 10
    while not got and time.monotonic() < end:
        ctx.iteration(False) or time.sleep(0.01)
    res["PipelineAdded"] = [list(a) for a in got]
print(json.dumps(res), flush=True)
'''


class Policy(VitdTestCase):
    def setUp(self):
        if os.geteuid() != 0:
            print("not root: cannot run a client as nobody; skipping", file=sys.stderr)
            sys.exit(SKIP)
        # No session bus needed: these tests build their own system-style buses.
        script = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
        script.write(UNPRIVILEGED_CLIENT)
        script.close()
        os.chmod(script.name, 0o644)
        self.script = script.name
        self.addCleanup(os.unlink, script.name)

    def system_bus(self, template, extra=""):
        bus = Bus(template, extra=extra)
        self.addCleanup(bus.close)
        return bus

    def start_system_vitd(self, bus):
        self.config = Config(None, bus="system")
        self.addCleanup(self.config.close)
        self.vitd = Vitd(bus, self.config, user=False)
        self.addCleanup(self.vitd.close)
        root = Client(bus.address)
        self.addCleanup(root.close)
        self.vitd.wait_ready(root)
        return root

    def as_nobody(self, address, *extra):
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
               "/usr/bin/python3", self.script, address] + list(extra)
        env = dict(os.environ, HOME="/tmp")
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)

    def test_shipped_policy_is_deny_by_default(self):
        policy = os.path.join(SOURCE, "conf", "org.vitd1.conf")
        # vitd runs as root in this test, so root may own the name (the real unit uses user vitd).
        bus = self.system_bus(SYSTEM_BUS_CONFIG, extra='<policy user="root"><allow own_prefix="org.vitd1"/>'
                              '</policy><include>%s</include>' % policy)
        root = self.start_system_vitd(bus)
        root.manager("Reload")  # root may control
        self.assertEqual(root.pipelines(), {})

        proc = self.as_nobody(bus.address, "wait-signal")
        self.assertEqual(proc.stdout.readline().strip(), "ready")
        self.config.write("p.yaml", """
            pipelines:
              - name: added-later
                source: test:ball
                model: @MODEL@
        """)
        root.manager("Reload")
        out, _ = proc.communicate(timeout=30)
        res = json.loads(out)
        for allowed in ("ListPipelines", "Version", "Introspect", "Ping"):
            self.assertEqual(res[allowed], "ok", allowed)
        for denied in ("Reload", "StopPipeline", "RequestName"):
            self.assertTrue(res[denied].startswith("org.freedesktop.DBus.Error.AccessDenied"),
                            "%s: %s" % (denied, res[denied]))
        self.assertEqual(res["PipelineAdded"], [["added-later", "/org/vitd1/pipeline/added_2dlater"]])

        # vitctl as nobody: reading works, control fails with one clear line.
        env = dict(os.environ, HOME="/tmp", DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", VITCTL]
        r = subprocess.run(nobody + ["list"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("added-later", r.stdout)
        r = subprocess.run(nobody + ["restart", "added-later"], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "vitctl: added-later: access denied (root or group vitd only)\n")

    def test_vitd_checks_credentials_behind_a_permissive_bus(self):
        bus = self.system_bus(PERMISSIVE_BUS_CONFIG)
        self.start_system_vitd(bus)
        proc = self.as_nobody(bus.address)
        out, _ = proc.communicate(timeout=30)
        res = json.loads(out)
        self.assertEqual(res["ListPipelines"], "ok")
        for denied in ("Reload", "StopPipeline"):
            self.assertTrue(res[denied].startswith("org.freedesktop.DBus.Error.AccessDenied"),
                            res[denied])
            self.assertIn("only allowed for root and members of group vitd", res[denied])

    def test_refused_calls_are_logged_rate_limited(self):
        """A caller refused in a loop gets one log line per second, with a count of the rest."""
        bus = self.system_bus(PERMISSIVE_BUS_CONFIG)
        self.start_system_vitd(bus)
        flood = textwrap.dedent(r'''
            import sys, time
            from gi.repository import Gio, GLib
            flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                     Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
            conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)
            def reload():
                try:
                    conn.call_sync("org.vitd1", "/org/vitd1", "org.vitd1.Manager", "Reload", None,
                                   None, Gio.DBusCallFlags.NONE, 5000, None)
                except GLib.Error:
                    pass
            start = time.monotonic()
            for _ in range(200):
                reload()
            print(time.monotonic() - start)  # how long the flood took
            time.sleep(1.2)
            reload()
        ''')
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
               "/usr/bin/python3", "-c", flood, bus.address]
        out = subprocess.run(cmd, env=dict(os.environ, HOME="/tmp"), timeout=60, check=True,
                             capture_output=True, text=True).stdout
        flood_s = float(out.split()[0])
        refused = [l for l in self.vitd.log().splitlines() if "Refused Reload" in l]
        self.assertGreaterEqual(len(refused), 2, self.vitd.log())
        # One line as the flood starts, at most one more per second it lasted (under a second
        # on an idle machine, longer on a loaded one), one after the pause.
        self.assertLessEqual(len(refused), int(flood_s) + 3,
                             "refusals are not rate-limited (the flood took %.1f s):\n" % flood_s +
                             "\n".join(refused[:10]))
        self.assertIn("uid 65534", refused[0])
        self.assertRegex(refused[-1], r"and \d+ more refused calls")
        total = len(refused) + sum(int(n) for n in re.findall(r"and (\d+) more", "\n".join(refused)))
        self.assertEqual(total, 201)

    def test_group_vitd_members_may_control(self):
        """Runs itself again in a private mount namespace where /etc/group has a vitd group with
        nobody in it, so no real group is created on the machine."""
        if os.environ.get("VITD_TEST_GROUP_NS") != "1":
            group = tempfile.NamedTemporaryFile("w", suffix=".group", delete=False)
            with open("/etc/group") as f:
                group.write(f.read().rstrip("\n") + "\nvitd:x:%d:nobody\n" % TEST_GID)
            group.close()
            os.chmod(group.name, 0o644)
            self.addCleanup(os.unlink, group.name)
            inner = ("mount --bind %s /etc/group && exec /usr/bin/python3 %s "
                     "Policy.test_group_vitd_members_may_control" % (group.name, __file__))
            try:
                r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                                   env=dict(os.environ, VITD_TEST_GROUP_NS="1"), capture_output=True,
                                   text=True, timeout=120)
            except FileNotFoundError:
                self.skipTest("no unshare")
            if "mount" in r.stderr and r.returncode != 0 and "Ran " not in r.stderr:
                self.skipTest("cannot make a private mount namespace: " + r.stderr.strip())
            self.assertEqual(r.returncode, 0, r.stderr)
            return

        policy = os.path.join(SOURCE, "conf", "org.vitd1.conf")
        for bus in (self.system_bus(SYSTEM_BUS_CONFIG, extra='<policy user="root"><allow own_prefix='
                                    '"org.vitd1"/></policy><include>%s</include>' % policy),
                    self.system_bus(PERMISSIVE_BUS_CONFIG)):
            self.start_system_vitd(bus)
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=%d" % TEST_GID,
                   "/usr/bin/python3", self.script, bus.address]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                                 env=dict(os.environ, HOME="/tmp")).stdout
            res = json.loads(out)
            self.assertEqual(res["Reload"], "ok")
            # Past the policy and vitd's own check: the pipeline is what is missing.
            self.assertTrue(res["StopPipeline"].startswith("org.vitd1.Error.NoSuchPipeline"),
                            res["StopPipeline"])


if __name__ == "__main__":
    main()
