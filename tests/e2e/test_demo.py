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
                 event("fashion-mnist", 1, wrong, exit_=2),
                 event("fashion-mnist-dvt", len(self.truth) + 2, self.names[self.truth[2]])]
        r = subprocess.run([sys.executable, TRUTH, VIDEO_DIR], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(len(out), 5, r.stdout)  # 3 frames (demo-ball ignored) + 2 tallies
        self.assertRegex(out[0], r"^fashion-mnist +frame +0 .* true %s +ok$" % re.escape(right))
        self.assertRegex(out[1], r"^fashion-mnist +frame +1 .*exit 2 .* WRONG$")
        self.assertRegex(out[2], r" ok$")  # frame numbers past the end wrap (the video loops)
        self.assertEqual(out[3], "fashion-mnist: 1 of 2 frames right (50%); exit 0: 1, exit 2: 1")
        self.assertEqual(out[4], "fashion-mnist-dvt: 1 of 1 frames right (100%); exit 0: 1")

    def test_run_sh_shows_answers_beside_true_labels(self):
        r = subprocess.run(["bash", os.path.join(DEMO, "run.sh")], capture_output=True,
                           text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertRegex(out, r"fashion-mnist +running +/org/vitd1/pipeline/fashion_2dmnist")
        self.assertRegex(out, r"demo-ball +running")
        frames = re.findall(r"^fashion-mnist +frame +(\d+) +(.+?) +[\d.]+ +exit \d+ +true (.+?) +"
                            r"(ok|WRONG)$", out, re.M)
        self.assertTrue(frames, out)
        for frame, predicted, true, verdict in frames:
            self.assertEqual(true, self.names[self.truth[int(frame)]], "frame %s" % frame)
            self.assertEqual(verdict, "ok" if predicted == true else "WRONG")
        right = sum(v == "ok" for *_, v in frames)
        self.assertIn("fashion-mnist: %d of %d frames right" % (right, len(frames)), out)
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
