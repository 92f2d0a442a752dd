#!/usr/bin/python3
"""vitd --check (exit 0 valid / 1 invalid, errors as FILE:LINE:COL), --version, and a config
that does not validate at start-up (vitd exits 1 naming the place)."""
import glob
import json
import os
import shutil
import subprocess
import time
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

    def broken_models(self, c):
        """Copies of the test model, each broken the way a disk or an owner breaks them."""
        models = {}
        for kind in ("half", "random", "heads", "fifo"):
            d = os.path.join(c.dir, kind)
            shutil.copytree(MODEL, d)
            weights = os.path.join(d, "model.safetensors")
            if kind == "half":
                os.truncate(weights, os.path.getsize(weights) // 2)
            elif kind == "random":
                with open(weights, "wb") as f:
                    f.write(os.urandom(100000))
            elif kind == "heads":
                with open(os.path.join(d, "config.json")) as f:
                    cfg = json.load(f)
                cfg["model_args"]["num_heads"] = 5  # does not divide embed_dim 48
                with open(os.path.join(d, "config.json"), "w") as f:
                    json.dump(cfg, f)
            else:  # libvit reads labels.txt when config.json has no label_names
                with open(os.path.join(d, "config.json")) as f:
                    cfg = json.load(f)
                cfg.pop("label_names", None)
                with open(os.path.join(d, "config.json"), "w") as f:
                    json.dump(cfg, f)
                os.mkfifo(os.path.join(d, "labels.txt"))
            models[kind] = d
        return models

    @unittest.skipUnless(HAVE_ELEMENT, "vitclassify plugin not built")
    def test_every_problem_in_one_run(self):
        """A bad value, a duplicate name and an unbuildable launch: text, all in one run."""
        c = self.config("""
            pipelines:
              - name: cam
                source: test:ball
                model: @MODEL@
              - name: cam
                source: test:ball
                model: @MODEL@
                top-k: many
              - name: typo
                launch: videotestsrc ! no-such-element ! vitclassify model=@MODEL@ ! fakesink
        """)
        path = os.path.join(c.pipelines_dir, "pipelines.yaml")
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":8:12: 'top-k' must be", r.stderr)
        self.assertIn(path + ":5:5: duplicate pipeline name 'cam' (first defined at %s:2:5)" % path,
                      r.stderr)
        self.assertIn(path + ":9:5: pipeline 'typo': no element \"no-such-element\"", r.stderr)

    def test_broken_models_are_opened_and_reported(self):
        c = self.config()
        m = self.broken_models(c)
        path = c.write("pipelines.yaml", """
            pipelines:
              - name: half
                source: test:ball
                model: %(half)s
              - name: random
                source: test:ball
                model: %(random)s
              - name: heads
                source: test:ball
                model: %(heads)s
              - name: fifo
                source: test:ball
                model: %(fifo)s
              - name: same-half
                source: test:snow
                model: %(half)s
        """ % m)
        start = time.monotonic()
        r = vitd("--check", "--config", c.path)
        self.assertLess(time.monotonic() - start, 10, "a FIFO must not stall --check")
        self.assertEqual(r.returncode, 1)
        lines = r.stderr.splitlines()
        def line_at(where):
            found = [l for l in lines if l.startswith(path + where)]
            self.assertEqual(len(found), 1, "%s in:\n%s" % (where, r.stderr))
            return found[0]
        # At the `model:` key, with libvit's message naming the file (and tensor).
        self.assertRegex(line_at(":4:5: "), "half/model.safetensors: tensor .*out of range")
        self.assertIn("random/model.safetensors", line_at(":7:5: "))
        self.assertRegex(line_at(":10:5: "), "heads/config.json: 5 heads do not divide")
        self.assertIn("fifo/labels.txt: not a regular file (a FIFO)", line_at(":13:5: "))
        self.assertRegex(line_at(":16:5: "), "half/model.safetensors: tensor")

    def test_model_from_defaults_is_reported_in_vitd_yaml(self):
        c = self.config("""
            pipelines:
              - name: cam
                source: test:ball
        """)
        m = self.broken_models(c)
        with open(c.path, "a") as f:
            f.write("defaults:\n  model: %s\n" % m["heads"])
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(c.path + ":4:3: pipeline 'cam': model", r.stderr)
        self.assertIn("heads/config.json", r.stderr)

    @unittest.skipUnless(HAVE_ELEMENT, "vitclassify plugin not built")
    def test_labels_file_is_checked(self):
        c = self.config()
        short = os.path.join(c.dir, "short.txt")
        with open(short, "w") as f:
            f.write("cat\ndog\n")
        path = c.write("pipelines.yaml", """
            pipelines:
              - name: missing
                launch: videotestsrc ! vitclassify model=@MODEL@ labels=/nonexistent/labels.txt ! fakesink
              - name: short
                launch: videotestsrc ! vitclassify model=@MODEL@ labels=%s ! fakesink
        """ % short)
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":3:13: pipeline 'missing': labels: /nonexistent/labels.txt", r.stderr)
        self.assertIn(path + ":5:13: pipeline 'short': labels file %s has 2 labels" % short,
                      r.stderr)

    @unittest.skipUnless(HAVE_ELEMENT, "vitclassify plugin not built")
    def test_labels_must_be_utf8_without_nul(self):
        """Labels go out as D-Bus strings: a labels.txt in the model folder or a labels= file
        that is not UTF-8 or holds a NUL is refused at its line."""
        c = self.config()
        latin1 = os.path.join(c.dir, "latin1")
        shutil.copytree(MODEL, latin1)
        with open(os.path.join(latin1, "config.json")) as f:
            cfg = json.load(f)
        n = len(cfg.pop("label_names"))
        with open(os.path.join(latin1, "config.json"), "w") as f:
            json.dump(cfg, f)
        lines = [b"L%d" % i for i in range(n)]
        with open(os.path.join(latin1, "labels.txt"), "wb") as f:
            f.write(b"\n".join(lines[:2] + [b"caf\xe9"] + lines[3:]) + b"\n")
        nul = os.path.join(c.dir, "nul.txt")
        with open(nul, "wb") as f:
            f.write(b"\n".join(lines[:4] + [b"ba\x00g"] + lines[5:]) + b"\n")
        path = c.write("pipelines.yaml", """
            pipelines:
              - name: latin1
                source: test:ball
                model: %s
              - name: nul
                launch: videotestsrc ! vitclassify model=@MODEL@ labels=%s ! fakesink
        """ % (latin1, nul))
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":4:5: pipeline 'latin1': model %s: %s/labels.txt:3: label is not "
                      "valid UTF-8" % (latin1, latin1), r.stderr)
        self.assertIn(path + ":6:13: pipeline 'nul': labels: %s:5: label contains a NUL byte"
                      % nul, r.stderr)

    @unittest.skipUnless(HAVE_ELEMENT, "vitclassify plugin not built")
    def test_launch_allow_list(self):
        c = self.config("""
            pipelines:
              - name: leak
                launch: filesrc location=/etc/shadow ! vitclassify model=@MODEL@ ! fdsink
              - name: record
                launch: videotestsrc ! vitclassify model=@MODEL@ ! filesink location=/tmp/x
              - name: uri
                launch: videotestsrc ! vitclassify model=@MODEL@ ! file:///tmp/x
              - name: ok
                launch: filesrc location=/dev/null ! matroskademux ! jpegparse ! jpegdec ! videoconvert ! videoscale ! queue ! vitclassify model=@MODEL@ ! fakesink
        """)
        path = os.path.join(c.pipelines_dir, "pipelines.yaml")
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":3:13: 'launch': element 'fdsink' is not on vitd's allow-list",
                      r.stderr)
        self.assertIn(path + ":5:13: 'launch': element 'filesink' is not on vitd's allow-list",
                      r.stderr)
        self.assertIn(path + ":7:13: 'launch': the URI 'file:///tmp/x'", r.stderr)
        self.assertNotIn("'ok'", r.stderr)
        self.assertNotIn(":9:", r.stderr)
        # vitd.yaml may allow an element explicitly.
        c.remove("pipelines.yaml")
        c.write("pipelines.yaml", """
            pipelines:
              - name: record
                launch: videotestsrc ! vitclassify model=@MODEL@ ! filesink location=/tmp/x
        """)
        with open(c.path, "a") as f:
            f.write("launch-allow: [filesink]\n")
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_max_pipelines(self):
        entries = "".join("  - {name: p%d, source: test:ball, model: @MODEL@}\n" % i
                          for i in range(65))
        c = self.config("pipelines:\n" + entries)
        path = os.path.join(c.pipelines_dir, "pipelines.yaml")
        r = vitd("--check", "--config", c.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path + ":66:5: pipeline 'p64' is number 65 of 65; a configuration may hold "
                      "at most 64 pipelines (raise 'max-pipelines:' in " + c.path, r.stderr)
        with open(c.path, "a") as f:
            f.write("max-pipelines: 100\n")
        r = vitd("--check", "--config", c.path)
        self.assertNotIn("max-pipelines", r.stderr)
        with open(c.path, "w") as f:
            f.write("bus: session\nmax-pipelines: 2000\n")
        r = vitd("--check", "--config", c.path)
        self.assertIn("'max-pipelines' must be", r.stderr)

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
