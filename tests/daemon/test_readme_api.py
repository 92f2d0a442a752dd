#!/usr/bin/python3
"""The D-Bus API table of README.md (daemon section) must list exactly what `busctl introspect`
shows on a running vitd: every org.vitd1.* method, signal and property with its signature."""
import os
import re
import subprocess
import xml.etree.ElementTree as ET

from vitdtest import SOURCE, VitdTestCase, main, pipeline_path


def readme_rows():
    text = open(os.path.join(SOURCE, "README.md"), encoding="utf-8").read()
    section = text[text.index("<!-- BEGIN daemon -->"):text.index("<!-- END daemon -->")]
    rows = set()
    for line in section.splitlines():
        m = re.match(r"^\| `(org\.vitd1\.\w+)` \| `(\w+)` \| (method|signal|property) \| `([^`]*)` \|",
                     line)
        if m:
            rows.add(m.groups())
    return rows


def introspected_rows(xml):
    rows = set()
    for iface in ET.fromstring(xml).findall("interface"):
        name = iface.get("name")
        if not name.startswith("org.vitd1."):
            continue
        for m in iface.findall("method"):
            ins = "".join(a.get("type") for a in m.findall("arg") if a.get("direction", "in") == "in")
            outs = "".join(a.get("type") for a in m.findall("arg") if a.get("direction") == "out")
            rows.add((name, m.get("name"), "method", "(%s) -> (%s)" % (ins, outs)))
        for s in iface.findall("signal"):
            rows.add((name, s.get("name"), "signal",
                      "(%s)" % "".join(a.get("type") for a in s.findall("arg"))))
        for p in iface.findall("property"):
            rows.add((name, p.get("name"), "property", p.get("type")))
    return rows


class ReadmeApi(VitdTestCase):
    def test_readme_table_matches_busctl_introspect(self):
        self.start_vitd("""
            pipelines:
              - name: any
                source: test:ball
                model: @MODEL@
        """)
        live = set()
        for path in ("/org/vitd1", pipeline_path("any")):
            r = subprocess.run(["busctl", "--address=" + self.bus.address, "introspect", "--xml-interface",
                                "org.vitd1", path], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            live |= introspected_rows(r.stdout)
        documented = readme_rows()
        self.assertGreater(len(live), 20)
        self.assertEqual(sorted(documented - live), [], "in README but not on the bus")
        self.assertEqual(sorted(live - documented), [], "on the bus but not in README")


if __name__ == "__main__":
    main()
