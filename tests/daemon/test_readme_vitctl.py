#!/usr/bin/python3
"""The vitctl error table of README.md (daemon section) must be what vitctl prints: each row's
command is run in its situation (no vitd on the bus, no such pipeline, no system bus at all) and
stderr must be exactly the documented line. The access-denied row needs a non-root caller on a
system-policy bus: test_policy.py asserts that same line."""
import os
import re
import subprocess

from vitdtest import SOURCE, VITCTL, VitdTestCase, main


def readme_rows():
    text = open(os.path.join(SOURCE, "README.md"), encoding="utf-8").read()
    section = text[text.index("<!-- BEGIN daemon -->"):text.index("<!-- END daemon -->")]
    rows = []
    for line in section.splitlines():
        m = re.match(r"^\| `(vitctl [^`]*)` \| ([^|]+) \| `(vitctl: [^`]*)` \|$", line)
        if m:
            rows.append((m.group(1).split()[1:], m.group(2).strip(), m.group(3)))
    return rows


class ReadmeVitctl(VitdTestCase):
    def run_vitctl(self, args, system_bus):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=system_bus)
        return subprocess.run([VITCTL] + args, env=env, capture_output=True, text=True, timeout=30)

    def test_readme_errors_are_what_vitctl_prints(self):
        rows = readme_rows()
        self.assertGreaterEqual(len(rows), 4, "README's vitctl error table not found")
        # The private bus plays the system bus: first without vitd, then with one.
        situations = {"vitd is not running": self.bus.address,
                      "no system bus": "unix:path=/nonexistent/vitd-test-no-bus"}
        checked = 0
        for args, when, expected in rows:
            if when.startswith("not root"):
                continue  # test_policy.py
            if when in situations:
                r = self.run_vitctl(args, situations[when])
                self.assertEqual((r.returncode, r.stderr), (1, expected + "\n"), when)
                checked += 1
        self.start_vitd("""
            pipelines:
              - name: door
                source: test:ball
                model: @MODEL@
        """)
        for args, when, expected in rows:
            if when.startswith("no pipeline"):
                r = self.run_vitctl(args, self.bus.address)
                self.assertEqual((r.returncode, r.stderr), (1, expected + "\n"), when)
                checked += 1
        self.assertEqual(checked, len(rows) - 1, "a README row this test does not know how to run")


if __name__ == "__main__":
    main()
