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
E2E_FRAMERATE (frames/s, default 500), E2E_EXIT_THRESHOLD (cascades; default: the model's)
and FMNIST_DIR (the IDX files).
"""
import glob
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from vitdtest import (BUILD, PIPELINE_IFACE, SKIP, SOURCE, Bus, Client, Config, Vitd, main,
                      require_element)

VIDEO_DIR = os.environ.get("E2E_VIDEO_DIR", "")
VIDEO = os.path.join(VIDEO_DIR, "fmnist-test.gray8")
VIDEO_LABELS = os.path.join(VIDEO_DIR, "fmnist-test.labels")
FRAMES = int(os.environ.get("E2E_FRAMES", "10000"))
FRAMERATE = int(os.environ.get("E2E_FRAMERATE", "500"))
EXIT_THRESHOLD = os.environ.get("E2E_EXIT_THRESHOLD")  # cascades: else the model's default
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
    """Shipped cascade model folders (models/fmnist-dvt*), if any; E2E_CASCADES (folders joined
    by ':') replaces them, e.g. to try the test on an untrained fixture cascade."""
    if os.environ.get("E2E_CASCADES"):
        return os.environ["E2E_CASCADES"].split(":")
    return sorted(os.path.dirname(p) for p in
                  glob.glob(os.path.join(SOURCE, "models", "fmnist-dvt*", "model.safetensors")))


class FashionMnistEndToEnd(unittest.TestCase):
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
                self.check_model(model, trained="E2E_CASCADES" not in os.environ)

    # ---- helpers ---------------------------------------------------------------------------

    def stream(self, model):
        """Plays the first FRAMES frames through a fresh private bus and vitd (one per model, so
        no signal of another run can mix in); returns (signals, pipeline properties)."""
        launch = ("filesrc location=\"%s\""
                  " ! rawvideoparse format=gray8 width=28 height=28 framerate=%d/1"
                  " ! vitclassify model=\"%s\" top-k=1 threads=1%s"
                  " ! fakesink sync=true qos=false" %
                  (self.video(), FRAMERATE, model,
                   " exit-threshold=" + EXIT_THRESHOLD if EXIT_THRESHOLD else ""))
        bus = Bus()
        client = config = vitd = None
        try:
            client = Client(bus.address)
            # Before vitd exists: the match rule is on the bus before the first signal can be.
            client.subscribe(iface=PIPELINE_IFACE, member="Classification")
            config = Config("""
                pipelines:
                  - name: fashion-mnist
                    launch: %s
                    restart: never
            """ % json.dumps(launch))
            start = time.monotonic()
            vitd = Vitd(bus, config)
            vitd.wait_ready(client)
            client.wait_for("fashion-mnist to finish", lambda: client.get(
                "fashion-mnist", "State") in ("finished", "failed"), timeout=240)
            props = client.get_all("fashion-mnist")
            self.assertEqual(props["State"], "finished", props["LastError"])
            # A subscriber that fell behind past the queue bound shows here, named, rather than as
            # a wait for signals that were never sent.
            self.assertEqual(props["EventsDropped"], 0)
            client.wait_for("%d signals" % props["FramesClassified"], lambda: len(
                client.classifications("fashion-mnist")) >= props["FramesClassified"], timeout=60)
            client.pump(0.3)  # anything after the last one would be a duplicate
            print("%s: %d frames at %d/s streamed in %.1f s" % (
                os.path.basename(model), FRAMES, FRAMERATE, time.monotonic() - start),
                file=sys.stderr)
            self.assertEqual(vitd.stop(), 0, "vitd exit status")
            return client.classifications("fashion-mnist"), props
        finally:
            for thing in (vitd, client, config, bus):
                if thing is not None:
                    thing.close()

    def video(self):
        """The video file of the first FRAMES frames (rawvideoparse pulls the whole file, so
        filesrc's num-buffers cannot shorten it: a shorter copy is written instead)."""
        if os.path.getsize(VIDEO) == FRAMES * FRAME_BYTES:
            return VIDEO
        fd, path = tempfile.mkstemp(prefix="fmnist-", suffix=".gray8")
        self.addCleanup(os.unlink, path)
        with open(VIDEO, "rb") as src, os.fdopen(fd, "wb") as dst:
            dst.write(src.read(FRAMES * FRAME_BYTES))
        return path

    def vit_eval_start(self, model):
        """vit-eval on the same images, run while vitd streams (results read by vit_eval_result)."""
        proc = subprocess.Popen([VIT_EVAL, model, "--images", IDX_IMAGES, "--labels", IDX_LABELS,
                                 "--limit", str(FRAMES), "--json"] +
                                (["--exit-threshold", EXIT_THRESHOLD] if EXIT_THRESHOLD else []),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        return proc

    def vit_eval_result(self, proc):
        out, err = proc.communicate(timeout=240)
        self.assertEqual(proc.returncode, 0, err)
        return json.loads(out)

    def check_model(self, model, trained=True):
        names = label_names(model)
        self.assertEqual(len(names), 10, "%s: label names" % model)
        evaluation = self.vit_eval_start(model)
        sigs, props = self.stream(model)

        # Every frame, once, in order, nothing dropped anywhere.
        self.assertEqual(props["FramesSeen"], FRAMES)
        self.assertEqual(props["FramesClassified"], FRAMES)
        self.assertEqual(props["FramesDropped"], 0)
        self.assertEqual(props["EventsDropped"], 0)
        self.assertEqual(props["Restarts"], 0)
        self.assertEqual(len(sigs), FRAMES)
        self.assertEqual([s[0] for s in sigs], list(range(1, FRAMES + 1)), "seq: gaps or repeats")
        self.assertEqual([s[1] for s in sigs], list(range(FRAMES)), "frame numbers")
        self.assertEqual([s[2] for s in sigs],
                         [i * 1000000000 // FRAMERATE for i in range(FRAMES)], "PTS")

        # Accuracy from the signals' top labels, against the IDX labels.
        for s in sigs:
            self.assertEqual(len(s[4]), 1, "top-k=1 gives one label: %r" % (s,))
        top = [names.index(s[4][0][0]) for s in sigs]
        correct = sum(p == y for p, y in zip(top, self.idx_labels))
        exits = [s[5] for s in sigs]

        ev = self.vit_eval_result(evaluation)
        self.assertEqual(ev["images"], FRAMES)
        print("%s: signals %d/%d correct (%.2f%%), vit-eval %d/%d; exits %s vs %s" %
              (os.path.basename(model), correct, FRAMES, 100.0 * correct / FRAMES,
               ev["correct"], ev["images"], [exits.count(k) for k in range(ev["exits"])],
               ev["exit_counts"]), file=sys.stderr)
        self.assertEqual(correct, ev["correct"], "accuracy through vitd differs from vit-eval")
        if trained:
            self.assertGreater(correct, FRAMES * 0.5, "a trained model does better than chance")

        # Which exit answered: the daemon's counters, the signals and vit-eval agree.
        histogram = [exits.count(k) for k in range(ev["exits"])]
        self.assertEqual(sum(histogram), FRAMES, "exit index out of range: %r" % set(exits))
        self.assertEqual(histogram, ev["exit_counts"])
        # (vitd's ExitCounts ends at the last exit that answered.)
        counts = list(props["ExitCounts"])
        self.assertEqual(counts + [0] * (len(histogram) - len(counts)), histogram, "ExitCounts")


if __name__ == "__main__":
    # `cascade` runs only the cascade test (its own meson test, skipped while no cascade is
    # shipped); `baseline` the others.
    if sys.argv[1:] == ["cascade"]:
        if not cascades():
            print("no cascade model (models/fmnist-dvt*) shipped yet: skipping", file=sys.stderr)
            sys.exit(SKIP)
        sys.argv[1:] = ["FashionMnistEndToEnd.test_cascade_signals_match_vit_eval"]
    elif sys.argv[1:] == ["baseline"]:
        sys.argv[1:] = ["FashionMnistEndToEnd.test_video_is_the_test_split",
                        "FashionMnistEndToEnd.test_baseline_signals_match_vit_eval"]
    main()
