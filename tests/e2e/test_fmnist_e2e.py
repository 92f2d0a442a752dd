#!/usr/bin/python3
"""Fashion-MNIST end to end through vitd: the 10,000 test images as a raw GRAY8 video, through a
real vitd on a private session bus, counted back as D-Bus Classification signals.

For each model (the shipped fmnist-vit-tiny, and a cascade models/fmnist-dvt* when one is
shipped) the test asserts what an application developer relies on:
  - every frame gives exactly one signal: seq 1..N with no gap, frame numbers 0..N-1, PTS from
    the video's frame rate, EventsDropped 0, FramesSkipped (FramesDropped) 0;
  - the accuracy computed from the signals' top labels against the IDX labels is exactly
    vit-eval's on the same IDX images (same count of correct answers), and for a cascade the
    exit histogram of the signals is vit-eval's.

No signal can be missed: the client's match rule is installed on the bus before vitd is even
started, and the pipeline (restart: never) plays the file once. The video is played at a fixed
frame rate with the sink syncing to the clock, which keeps the signal rate within what a Python
subscriber on a busy 2-core machine drains; fakesink qos=false, so a late frame is classified
late rather than skipped.

Environment (tests/e2e/meson.build): what tests/daemon's vitdtest needs, plus E2E_VIDEO_DIR
(fmnist-test.gray8 / .labels from tools/train/fmnist_video.py), E2E_FRAMES (default 10000),
E2E_FRAMERATE (frames/s, default 1000) and FMNIST_DIR (the IDX files).
"""
import glob
import gzip
import json
import os
import struct
import subprocess
import sys
import unittest

from vitdtest import BUILD, PIPELINE_IFACE, SKIP, SOURCE, VitdTestCase, main, require_element

VIDEO_DIR = os.environ.get("E2E_VIDEO_DIR", "")
VIDEO = os.path.join(VIDEO_DIR, "fmnist-test.gray8")
VIDEO_LABELS = os.path.join(VIDEO_DIR, "fmnist-test.labels")
FRAMES = int(os.environ.get("E2E_FRAMES", "10000"))
FRAMERATE = int(os.environ.get("E2E_FRAMERATE", "1000"))
IDX_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
IDX_IMAGES = os.path.join(IDX_DIR, "t10k-images-idx3-ubyte.gz")
IDX_LABELS = os.path.join(IDX_DIR, "t10k-labels-idx1-ubyte.gz")
VIT_EVAL = os.path.join(BUILD, "plugins", "vit", "vit-eval")
BASELINE = os.path.join(SOURCE, "models", "fmnist-vit-tiny")
FRAME_BYTES = 28 * 28


def read_idx(path):
    """(dims, payload bytes) of a uint8 IDX file (gzip)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not a uint8 IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def label_names(model):
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    names = cfg.get("label_names")
    if names is None and os.path.exists(os.path.join(model, "labels.txt")):
        with open(os.path.join(model, "labels.txt")) as f:
            names = [line.rstrip("\n") for line in f if line.strip()]
    return names


def cascades():
    """Shipped cascade model folders (models/fmnist-dvt*), if any."""
    return sorted(os.path.dirname(p) for p in
                  glob.glob(os.path.join(SOURCE, "models", "fmnist-dvt*", "model.safetensors")))


class FashionMnistEndToEnd(VitdTestCase):
    @classmethod
    def setUpClass(cls):
        require_element()
        for path in (VIDEO, VIDEO_LABELS, IDX_IMAGES, IDX_LABELS, VIT_EVAL):
            if not os.path.exists(path):
                print("%s missing: skipping" % path, file=sys.stderr)
                sys.exit(SKIP)
        dims, cls.idx_labels = read_idx(IDX_LABELS)
        if not 0 < FRAMES <= dims[0]:
            raise ValueError("E2E_FRAMES must be in 1..%d" % dims[0])
        cls.idx_labels = list(cls.idx_labels[:FRAMES])

    def test_video_is_the_test_split(self):
        # The video and its labels file are the IDX test split, frame for frame, so the
        # accuracy of the stream and vit-eval's on the IDX files measure the same images.
        dims, images = read_idx(IDX_IMAGES)
        self.assertEqual(dims[1:], (28, 28))
        with open(VIDEO, "rb") as f:
            video = f.read()
        self.assertEqual(len(video), dims[0] * FRAME_BYTES)
        self.assertTrue(video == images, "fmnist-test.gray8 differs from the IDX images")
        with open(VIDEO_LABELS) as f:
            self.assertEqual([int(line) for line in f], list(read_idx(IDX_LABELS)[1]))

    def test_baseline_signals_match_vit_eval(self):
        self.check_model(BASELINE)

    def test_cascade_signals_match_vit_eval(self):
        models = cascades()
        if not models:
            self.skipTest("no cascade model (models/fmnist-dvt*) shipped yet")
        for model in models:
            with self.subTest(model=os.path.basename(model)):
                self.check_model(model)

    # ---- helpers ---------------------------------------------------------------------------

    def stream(self, model):
        """Plays the first FRAMES frames through a fresh vitd; returns (signals, properties)."""
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")
        launch = ("filesrc location=\"%s\" blocksize=%d num-buffers=%d"
                  " ! rawvideoparse format=gray8 width=28 height=28 framerate=%d/1"
                  " ! vitclassify model=\"%s\" top-k=1 threads=1"
                  " ! fakesink sync=true qos=false" % (VIDEO, FRAME_BYTES, FRAMES, FRAMERATE,
                                                        model))
        self.start_vitd("""
            pipelines:
              - name: fashion-mnist
                launch: %s
                restart: never
        """ % json.dumps(launch))
        c = self.client
        c.wait_for("fashion-mnist to finish",
                   lambda: c.get("fashion-mnist", "State") in ("finished", "failed"),
                   timeout=60 + 3 * FRAMES / FRAMERATE)
        props = c.get_all("fashion-mnist")
        self.assertEqual(props["State"], "finished", props["LastError"])
        c.wait_for("%d signals" % FRAMES,
                   lambda: len(c.classifications("fashion-mnist")) >= props["FramesClassified"],
                   timeout=30)
        c.pump(0.3)  # anything after the last one would be a duplicate
        return c.classifications("fashion-mnist"), props

    def vit_eval(self, model):
        r = subprocess.run([VIT_EVAL, model, "--images", IDX_IMAGES, "--labels", IDX_LABELS,
                            "--limit", str(FRAMES), "--json"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def check_model(self, model):
        names = label_names(model)
        self.assertEqual(len(names), 10, "%s: label names" % model)
        sigs, props = self.stream(model)

        # Every frame, once, in order, nothing dropped anywhere.
        self.assertEqual(props["FramesSeen"], FRAMES)
        self.assertEqual(props["FramesClassified"], FRAMES)
        self.assertEqual(props["FramesDropped"], 0)
        self.assertEqual(props["EventsDropped"], 0)
        self.assertEqual(props["Restarts"], 0)
        self.assertEqual(len(sigs), FRAMES)
        self.assertContiguous([s[0] for s in sigs])
        self.assertEqual([s[1] for s in sigs], list(range(FRAMES)), "frame numbers")
        self.assertEqual([s[2] for s in sigs],
                         [i * 1000000000 // FRAMERATE for i in range(FRAMES)], "PTS")

        # Accuracy from the signals' top labels, against the IDX labels.
        for s in sigs:
            self.assertEqual(len(s[4]), 1, "top-k=1 gives one label: %r" % (s,))
        top = [names.index(s[4][0][0]) for s in sigs]
        correct = sum(p == y for p, y in zip(top, self.idx_labels))
        exits = [s[5] for s in sigs]

        ev = self.vit_eval(model)
        self.assertEqual(ev["images"], FRAMES)
        print("%s: signals %d/%d correct (%.2f%%), vit-eval %d/%d; exits %s vs %s" %
              (os.path.basename(model), correct, FRAMES, 100.0 * correct / FRAMES,
               ev["correct"], ev["images"], [exits.count(k) for k in range(ev["exits"])],
               ev["exit_counts"]), file=sys.stderr)
        self.assertEqual(correct, ev["correct"], "accuracy through vitd differs from vit-eval")
        self.assertGreater(correct, FRAMES * 0.5, "a trained model does better than chance")

        # Which exit answered: the daemon's counters, the signals and vit-eval agree.
        histogram = [exits.count(k) for k in range(ev["exits"])]
        self.assertEqual(sum(histogram), FRAMES, "exit index out of range: %r" % set(exits))
        self.assertEqual(histogram, ev["exit_counts"])
        self.assertEqual(list(props["ExitCounts"])[:ev["exits"]], histogram)


if __name__ == "__main__":
    main()
