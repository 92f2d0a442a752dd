#!/usr/bin/python3
"""The demo (build/conf/demo/run.sh, what tools/demo.sh ends with) as a user runs it: its config
validates, it plays the Fashion-MNIST video and shows answers beside true labels with a tally
that adds up, and conf/demo/fmnist-truth.py judges frames against the right labels.

Environment (tests/e2e/meson.build): VITD_BUILD_ROOT, VITD_SOURCE_ROOT, E2E_VIDEO_DIR,
GST_PLUGIN_PATH.
"""
import json
import os
import re
import subprocess
import sys
import unittest

BUILD = os.environ.get("VITD_BUILD_ROOT", "")
SOURCE = os.environ.get("VITD_SOURCE_ROOT", "")
VIDEO_DIR = os.environ.get("E2E_VIDEO_DIR", "")
DEMO = os.path.join(BUILD, "conf", "demo")
TRUTH = os.path.join(SOURCE, "conf", "demo", "fmnist-truth.py")


def event(pipeline, frame, label, score=0.9, exit_=0):
    return json.dumps({"pipeline": pipeline, "seq": frame + 1, "frame": frame, "pts_ns": 0,
                       "realtime_us": 0, "labels": [{"label": label, "score": score}],
                       "exit": exit_, "latency_us": 100})


class Demo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(VIDEO_DIR, "fmnist-test.labels")) as f:
            cls.truth = [int(line) for line in f]
        with open(os.path.join(VIDEO_DIR, "fmnist-test.json")) as f:
            cls.names = json.load(f)["label_names"]

    def test_config_validates_with_the_fashion_mnist_pipeline(self):
        r = subprocess.run([os.path.join(BUILD, "daemon", "vitd"), "--check", "--config",
                            os.path.join(DEMO, "vitd.yaml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(DEMO, "pipelines.d", "fashion-mnist.yaml")) as f:
            text = f.read()
        self.assertIn(os.path.join(VIDEO_DIR, "fmnist-test.gray8"), text)
        self.assertIn("models/fmnist-vit-tiny", text)

    def test_truth_script_judges_each_frame_against_its_label(self):
        right = self.names[self.truth[0]]
        wrong = self.names[(self.truth[1] + 1) % 10]
        lines = [event("fashion-mnist", 0, right), event("demo-ball", 0, wrong),
                 event("fashion-mnist", 1, wrong),
                 event("fashion-mnist-dvt", 1, self.names[self.truth[1]], exit_=2),
                 event("fashion-mnist-dvt", 0, wrong),
                 event("fashion-mnist-dvt", 2, right)]  # fashion-mnist never answers frame 2
        r = subprocess.run([sys.executable, TRUTH, VIDEO_DIR, "fashion-mnist",
                            "fashion-mnist-dvt"], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(len(out), 5, r.stdout)  # header, frames 1 and 0, two tallies
        self.assertRegex(out[0], r"^frame +true label +fashion-mnist +fashion-mnist-dvt$")
        self.assertRegex(out[1], r"^ +1 +%s +%s .* WRONG +%s +[\d.]+ @2 ok *$" % (
            re.escape(self.names[self.truth[1]]), re.escape(wrong),
            re.escape(self.names[self.truth[1]])))
        self.assertRegex(out[2], r"^ +0 +%s +%s +[\d.]+ @0 ok +%s .* WRONG *$" % (
            re.escape(right), re.escape(right), re.escape(wrong)))
        self.assertEqual(out[3], "fashion-mnist: 1 of 2 frames right (50%); exits @0: 2")
        self.assertEqual(out[4], "fashion-mnist-dvt: 1 of 2 frames right (50%); exits @0: 1, @2: 1")

    def test_truth_script_wraps_frame_numbers_of_a_looped_video(self):
        frame = len(self.truth) + 3
        r = subprocess.run([sys.executable, TRUTH, VIDEO_DIR, "fashion-mnist"],
                           input=event("fashion-mnist", frame, self.names[self.truth[3]]) + "\n",
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("fashion-mnist: 1 of 1 frames right", r.stdout)

    def test_run_sh_shows_answers_beside_true_labels(self):
        r = subprocess.run(["bash", os.path.join(DEMO, "run.sh")], capture_output=True,
                           text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertRegex(out, r"\nfashion-mnist +\w+ +/org/vitd1/pipeline/fashion_2dmnist\n")
        self.assertRegex(out, r"\ndemo-ball +\w+ +/org/vitd1/pipeline/demo_2dball\n")
        # One column per Fashion-MNIST pipeline (fashion-mnist, then fashion-mnist-dvt when
        # the cascade is shipped): label, score, @exit, verdict.
        header = re.search(r"^frame +true label +(fashion-mnist)( +fashion-mnist-dvt)?$", out, re.M)
        self.assertTrue(header, out)
        columns = 2 if header.group(2) else 1
        answer = r"  (.+?) +[\d.]+ @\d+ (ok|WRONG) *"
        rows = re.findall(r"^ *(\d+)  (.+?) *" + answer * columns + "$", out, re.M)
        self.assertTrue(rows, out)
        right = [0] * columns
        for row in rows:
            frame, true = int(row[0]), row[1]
            self.assertEqual(true, self.names[self.truth[frame]], "frame %d" % frame)
            for k in range(columns):
                predicted, verdict = row[2 + 2 * k], row[3 + 2 * k]
                self.assertEqual(verdict, "ok" if predicted == true else "WRONG", row)
                right[k] += verdict == "ok"
        for k, name in enumerate(["fashion-mnist", "fashion-mnist-dvt"][:columns]):
            self.assertIn("%s: %d of %d frames right" % (name, right[k], len(rows)), out)
        self.assertRegex(out, r"Name: fashion-mnist\n")
        self.assertRegex(out, r"EventsDropped: 0\n")
        self.assertRegex(out, r"LastError: \n")


if __name__ == "__main__":
    for path in (os.path.join(DEMO, "run.sh"), os.path.join(DEMO, "pipelines.d",
                                                             "fashion-mnist.yaml")):
        if not os.path.exists(path):
            print("%s missing: skipping" % path, file=sys.stderr)
            sys.exit(77)
    unittest.main(verbosity=2)
