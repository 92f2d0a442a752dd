#!/usr/bin/python3
"""Sources that vanish under a running pipeline, while two other pipelines stream.

- A video file deleted: pipeline `clip` plays a 2 s file in a loop (`restart: always`); the file is
  deleted, so the next run fails: `clip` backs off and retries, LastError names the file; put back,
  the file plays again (LastError cleared, the error kept in PreviousError).
- A camera that is unplugged: there is no v4l2loopback here, so the camera is a FIFO fed by a
  writer process (Ogg/Theora: a stream a pipe can carry and decodebin plays without seeking); the
  writer is killed and the FIFO removed, as udev removes /dev/videoN: `cam` backs off with
  LastError naming the device path and resumes once a new FIFO and writer appear.
In both, the other pipelines never pause (sampled every 0.5 s: running, Fps > 0, no restart)
and their seq stays gapless."""
import os
import shutil
import signal
import subprocess
import tempfile

from faulttest import Watch
from vitdtest import PIPELINE_IFACE, VitdTestCase, main, require_element

OTHERS = ["ball", "smpte"]
OTHER_PIPELINES = """
              - name: ball
                source: test:ball
                model: @MODEL@
                top-k: 1
              - name: smpte
                source: test:smpte
                model: @MODEL@
                top-k: 1
"""
CAPS = "video/x-raw,width=160,height=120,framerate=15/1"


class SourceVanishes(VitdTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        self.dir = tempfile.mkdtemp(prefix="vitd-fault-src-")
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")

    def seqs(self, name):
        return [s[0] for s in self.client.classifications(name)]

    def start_with(self, name, source):
        self.start_vitd("""
            pipelines:
              - name: %s
                source: %s
                model: @MODEL@
                top-k: 1
                realtime: false
                restart: {policy: always, backoff-initial: 0.3, backoff-max: 1}
        """ % (name, source) + OTHER_PIPELINES)
        c = self.client
        c.wait_for("%s streaming" % name, lambda: len(self.seqs(name)) >= 5, timeout=30)
        c.wait_for("the others streaming", lambda: all(len(self.seqs(n)) >= 5 for n in OTHERS))
        w = Watch(c, OTHERS)
        w.settle()
        return w

    def assert_others_untouched(self, w):
        w.assert_never_paused(self)
        for n in OTHERS:
            self.assertContiguous(self.seqs(n))
            self.assertEqual(self.client.get(n, "LastError"), "")

    def test_source_file_deleted(self):
        clip = os.path.join(self.dir, "door clip.avi")  # a space: the name must survive quoting
        subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=20", "pattern=ball",
                        "!", CAPS, "!", "jpegenc", "!", "avimux", "!", "filesink",
                        "location=" + clip], check=True, timeout=30)
        saved = clip + ".saved"
        shutil.copyfile(clip, saved)
        w = self.start_with("clip", clip)
        c = self.client
        w.wait_for("clip looping", lambda: c.get("clip", "Restarts") >= 1, timeout=30)
        self.assertEqual(c.get("clip", "LastError"), "")  # end-of-stream is no error

        os.unlink(clip)
        w.wait_for("an error naming the file", lambda: clip in c.get("clip", "LastError"),
                   timeout=30)
        failed_at = c.get("clip", "Restarts")
        w.wait_for("retries in backoff", lambda: c.get("clip", "Restarts") >= failed_at + 2,
                   timeout=30)
        self.assertIn(c.get("clip", "State"), ("backoff", "starting"))
        error = c.get("clip", "LastError")

        n = len(self.seqs("clip"))
        os.rename(saved, clip)
        w.wait_for("clip playing again", lambda: len(self.seqs("clip")) >= n + 5, timeout=30)
        w.wait_for("LastError cleared", lambda: c.get("clip", "LastError") == "")
        self.assertEqual(c.get("clip", "PreviousError"), error)
        self.assertContiguous(self.seqs("clip"))
        self.assert_others_untouched(w)

    def start_writer(self, fifo):
        """A camera: a live stream into FIFO. Ogg/Theora, because decodebin plays it from a
        pipe; multipart MJPEG never prerolls there (multipartdemux waits for more pads)."""
        if not os.path.exists(fifo):
            os.mkfifo(fifo)
        writer = subprocess.Popen(
            ["gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "pattern=snow", "!", CAPS,
             "!", "theoraenc", "!", "oggmux", "!", "filesink", "location=" + fifo],
            stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: writer.poll() is None and (writer.kill(), writer.wait()))
        return writer

    def test_camera_fifo_writer_vanishes(self):
        fifo = os.path.join(self.dir, "video0")
        writer = self.start_writer(fifo)
        w = self.start_with("cam", fifo)
        c = self.client
        self.assertEqual(c.get("cam", "State"), "running")

        # Unplugged: the stream stops mid-frame and the device node goes away.
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        os.unlink(fifo)
        w.wait_for("an error naming the device", lambda: fifo in c.get("cam", "LastError"),
                   timeout=30)
        failed_at = c.get("cam", "Restarts")
        w.wait_for("retries in backoff", lambda: c.get("cam", "Restarts") >= failed_at + 2,
                   timeout=30)
        self.assertIn(c.get("cam", "State"), ("backoff", "starting"))

        n = len(self.seqs("cam"))
        self.start_writer(fifo)  # plugged in again
        w.wait_for("cam streaming again", lambda: len(self.seqs("cam")) >= n + 5, timeout=30)
        w.wait_for("cam running", lambda: c.get("cam", "State") == "running")
        self.assertContiguous(self.seqs("cam"))
        self.assert_others_untouched(w)


if __name__ == "__main__":
    main()
