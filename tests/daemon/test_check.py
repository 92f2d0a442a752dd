#!/usr/bin/python3
"""vitd --check (exit 0 valid / 1 invalid, errors as FILE:LINE:COL), --version, and a config
that does not validate at start-up (vitd exits 1 naming the place)."""
import glob
import os
import subprocess
import unittest

from vitdtest import BUILD, HAVE_ELEMENT, MODEL, SOURCE, VITD, Config, main


def vitd(*args):
    return subprocess.run([VITD] + list(args), capture_output=True, text=True, timeout=60)


class Check(unittest.TestCase):
    def config(self, pipelines=None, bus="session"):
        c = Config(pipelines, bus=bus)
        self.addCleanup(c.close)
        return c

    def test_valid_empty_config(self):
        c = self.config()
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid, 0 pipelines", r.stdout)

    @unittest.skipUnless(HAVE_ELEMENT, "vitclassify plugin not built")
    def test_valid_pipelines(self):
        c = self.config("""
            pipelines:
              - name: cam
                source: test:ball
                model: @MODEL@
              - name: raw
                launch: videotestsrc ! vitclassify model=@MODEL@ ! fakesink
        """)
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid, 2 pipelines", r.stdout)

    def test_yaml_errors_name_file_line_column(self):
        c = self.config("""
            pipelines:
              - name: cam
                source: test:ball
                model: @MODEL@
                top-k: many
        """)
        path = os.path.join(c.pipelines_dir, "pipelines.yaml")
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, "^" + path + r":5:12: ")

    def test_syntax_error(self):
        c = self.config("pipelines:\n  - name: [unclosed\n")
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, os.path.join(c.pipelines_dir, "pipelines.yaml") + r":\d+:\d+: ")

    def test_unbuildable_launch_names_the_entry(self):
        c = self.config("""
            pipelines:
              - name: typo
                launch: videotestsrc ! no-such-element ! vitclassify model=@MODEL@ ! fakesink
        """)
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(os.path.join(c.pipelines_dir, "pipelines.yaml") + ":2:5: pipeline 'typo': ",
                      r.stderr)

    def test_shipped_configs_are_valid(self):
        r = vitd("--check", "--config", os.path.join(SOURCE, "conf", "vitd.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid, 0 pipelines", r.stdout)  # examples are not enabled by default
        if HAVE_ELEMENT:
            r = vitd("--check", "--config", os.path.join(BUILD, "conf", "demo", "vitd.yaml"))
            self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(HAVE_ELEMENT, "vitclassify plugin not built")
    def test_shipped_examples_are_valid_once_enabled(self):
        examples = glob.glob(os.path.join(SOURCE, "conf", "pipelines.d", "*.yaml.example"))
        self.assertTrue(examples)
        for example in examples:
            c = self.config()
            with open(example) as f:
                text = f.read().replace("/var/lib/vitd/models/deit_tiny_patch16_224", MODEL)
            with open(os.path.join(c.pipelines_dir, "example.yaml"), "w") as f:
                f.write(text)
            r = vitd("--check", "--config", c.path)
            self.assertEqual(r.returncode, 0, "%s: %s" % (example, r.stderr))

    def test_missing_config_file(self):
        r = vitd("--check", "--config", "/nonexistent/vitd.yaml")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/vitd.yaml", r.stderr)

    def test_invalid_config_at_startup_exits_1(self):
        c = self.config("pipelines:\n  - name: x\n    bogus: 1\n")
        r = vitd("--user", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("pipelines.yaml:3:5:", r.stderr)

    def test_version_and_usage(self):
        r = vitd("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^vitd \d+\.\d+\.\d+")
        r = vitd("--no-such-option")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--help", r.stderr)


if __name__ == "__main__":
    main()
