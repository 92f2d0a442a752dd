#!/usr/bin/python3
"""soak — N live pipelines through the real vitd for M minutes; did anything leak or get lost?

Starts a private dbus-daemon (session config) and the vitd of a build tree on it, with N raw
pipelines `videotestsrc is-live=true ! video/x-raw,...,framerate=F/1 ! vitclassify ! fakesink
sync=true` on a shipped model. One subscriber (this process, Gio) receives every Classification
signal and tracks `seq` per pipeline; every SAMPLE seconds it records vitd's RSS (/proc/PID/status
VmRSS) and each pipeline's FramesClassified, FramesDropped and EventsDropped.

At the end the pipelines are stopped (StopPipeline), the last signals drained, and it prints:
  - RSS growth after the warm-up: (last - first sample after WARMUP) / first, in %  (goal < 2 %)
  - frames/s per pipeline (FramesClassified over the measured span) and frames dropped under QoS
  - the seq check: per pipeline, signals received, gaps in seq, EventsDropped; the check passes when
    every gap is a drop vitd counted (gaps == EventsDropped; 0 and 0 is the goal)
and writes a PNG (RSS and frame rate over time) and a JSON of the samples beside it.

Not part of `meson test` (it runs for minutes). Usage, from the source tree after a build:
    /usr/bin/python3 tools/soak/soak.py [--build build] [--pipelines 8] [--fps 30] [--minutes 10]
        [--model models/fmnist-vit-tiny] [--png docs/soak.png]
Exit status 0 when the seq check passes and RSS growth is under --max-growth, 1 otherwise.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib

BUS_NAME = "org.vitd1"
PIPELINE_IFACE = "org.vitd1.Pipeline"


def pipeline_path(name):
    # Names here are [a-z0-9-]: sd_bus_path_encode escapes '-' and a leading digit.
    return "/org/vitd1/pipeline/" + "".join(
        c if c.isalpha() or (c.isdigit() and i > 0) else "_%02x" % ord(c)
        for i, c in enumerate(name))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


class Soak:
    def __init__(self, args):
        self.args = args
        self.names = ["soak-%d" % i for i in range(args.pipelines)]
        self.paths = {pipeline_path(n): n for n in self.names}
        self.received = {n: 0 for n in self.names}
        self.last_seq = {n: 0 for n in self.names}
        self.gaps = {n: 0 for n in self.names}
        self.disorder = {n: 0 for n in self.names}  # a seq that repeats or goes back
        self.samples = []

    # ---- set-up --------------------------------------------------------------------------------
    def start(self):
        a = self.args
        self.dir = tempfile.mkdtemp(prefix="vitd-soak-")
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1",
             "--address=unix:path=" + os.path.join(self.dir, "bus")],
            stdout=subprocess.PIPE, text=True)
        self.address = self.bus.stdout.readline().strip()
        os.mkdir(os.path.join(self.dir, "pipelines.d"))
        with open(os.path.join(self.dir, "vitd.yaml"), "w") as f:
            f.write("bus: session\npipelines-dir: pipelines.d\n")
        with open(os.path.join(self.dir, "pipelines.d", "soak.yaml"), "w") as f:
            f.write("pipelines:\n")
            for i, n in enumerate(self.names):
                f.write("  - name: %s\n    launch: >-\n      videotestsrc is-live=true pattern=%d"
                        " ! video/x-raw,width=%d,height=%d,framerate=%d/1"
                        " ! vitclassify model=%s top-k=%d threads=1 ! fakesink sync=true\n"
                        % (n, i % 20, a.width, a.height, a.fps, a.model, a.top_k))
        build = os.path.abspath(a.build)
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address,
                   GST_PLUGIN_PATH=os.path.join(build, "plugins", "gst"))
        env.pop("JOURNAL_STREAM", None)
        self.log = open(os.path.join(self.dir, "vitd.log"), "w")
        self.vitd = subprocess.Popen(
            [os.path.join(build, "daemon", "vitd"), "--user", "--config",
             os.path.join(self.dir, "vitd.yaml")], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
                 Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.conn = Gio.DBusConnection.new_for_address_sync(self.address, flags, None, None)
        self.conn.signal_subscribe(None, PIPELINE_IFACE, "Classification", None, None,
                                   Gio.DBusSignalFlags.NONE, self.on_signal)
        end = time.monotonic() + 30
        while not self.has_owner():
            if self.vitd.poll() is not None or time.monotonic() > end:
                raise RuntimeError("vitd did not start; log in %s" % self.log.name)
            time.sleep(0.1)

    def has_owner(self):
        return self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                   "org.freedesktop.DBus", "NameHasOwner",
                                   GLib.Variant("(s)", (BUS_NAME,)), None,
                                   Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]

    def stop(self):
        if self.vitd.poll() is None:
            self.vitd.send_signal(signal.SIGTERM)
            try:
                self.vitd.wait(30)
            except subprocess.TimeoutExpired:
                self.vitd.kill()
                self.vitd.wait()
        self.conn.close_sync(None)
        self.bus.terminate()
        self.bus.wait(10)
        self.log.close()
        if self.args.keep:
            print("kept %s (vitd.log)" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the subscriber ------------------------------------------------------------------------
    def on_signal(self, conn, sender, path, iface, member, params):
        name = self.paths.get(path)
        if name is None:
            return
        seq = params.get_child_value(0).get_uint64()
        last = self.last_seq[name]
        if seq <= last:
            self.disorder[name] += 1
        else:
            self.gaps[name] += seq - last - 1
            self.last_seq[name] = seq
        self.received[name] += 1

    def prop(self, name, prop):
        return self.conn.call_sync(BUS_NAME, pipeline_path(name), "org.freedesktop.DBus.Properties",
                                   "Get", GLib.Variant("(ss)", (PIPELINE_IFACE, prop)), None,
                                   Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]

    def sample(self):
        s = {"t": time.monotonic() - self.t0, "rss_kib": rss_kib(self.vitd.pid), "pipelines": {}}
        for n in self.names:
            s["pipelines"][n] = {k: self.prop(n, k) for k in
                                 ("FramesClassified", "FramesDropped", "EventsDropped", "State")}
            s["pipelines"][n]["received"] = self.received[n]
        self.samples.append(s)
        fc = sum(p["FramesClassified"] for p in s["pipelines"].values())
        print("t=%4.0f s  RSS %7.1f MiB  classified %8d  received %8d  gaps %d" %
              (s["t"], s["rss_kib"] / 1024, fc, sum(self.received.values()),
               sum(self.gaps.values())), flush=True)

    def run(self):
        ctx = GLib.MainContext.default()
        self.t0 = time.monotonic()
        end = self.t0 + self.args.minutes * 60
        next_sample = self.t0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                if self.vitd.poll() is not None:
                    raise RuntimeError("vitd exited with %s" % self.vitd.returncode)
                self.sample()
                next_sample += self.args.sample
                if now >= end:
                    break
            # Dispatch signals until the next sample is due.
            while time.monotonic() < next_sample:
                if not ctx.iteration(False):
                    time.sleep(0.002)
        # Stop every pipeline, then drain what is in flight: afterwards no seq can still come.
        for n in self.names:
            self.conn.call_sync(BUS_NAME, "/org/vitd1", "org.vitd1.Manager", "StopPipeline",
                                GLib.Variant("(s)", (n,)), None, Gio.DBusCallFlags.NONE, 10000, None)
        quiet_since, total = time.monotonic(), -1
        while time.monotonic() - quiet_since < 2.0:
            while ctx.iteration(False):
                pass
            if sum(self.received.values()) != total:
                total, quiet_since = sum(self.received.values()), time.monotonic()
            time.sleep(0.01)
        self.final = {n: {"EventsDropped": self.prop(n, "EventsDropped"),
                          "FramesClassified": self.prop(n, "FramesClassified"),
                          "FramesDropped": self.prop(n, "FramesDropped")} for n in self.names}

    # ---- the report ----------------------------------------------------------------------------
    def report(self):
        a = self.args
        warm = [s for s in self.samples if s["t"] >= a.warmup - 0.5]
        if len(warm) < 2:
            warm = self.samples[-2:]
        first, last = warm[0], warm[-1]
        growth = 100.0 * (last["rss_kib"] - first["rss_kib"]) / first["rss_kib"]
        peak = max(s["rss_kib"] for s in warm)
        span = last["t"] - first["t"]
        print("\n== vitd soak: %d pipelines x %d fps (%dx%d, videotestsrc is-live), %s, %.1f min =="
              % (a.pipelines, a.fps, a.width, a.height, os.path.basename(a.model.rstrip("/")),
                 self.samples[-1]["t"] / 60))
        print("RSS after %.0f s warm-up: %.1f MiB -> %.1f MiB at %.0f s (peak %.1f MiB): growth %+.2f %%"
              % (first["t"], first["rss_kib"] / 1024, last["rss_kib"] / 1024, last["t"], peak / 1024,
                 growth))
        ok = True
        print("%-8s %9s %9s %9s %9s %7s %7s %s" % ("pipeline", "frames/s", "classif.", "qos-drop",
                                                   "received", "gaps", "evdrop", "seq"))
        fps_all = []
        for n in self.names:
            fc = (last["pipelines"][n]["FramesClassified"] -
                  first["pipelines"][n]["FramesClassified"]) / span
            fps_all.append(fc)
            f = self.final[n]
            good = self.gaps[n] == f["EventsDropped"] and self.disorder[n] == 0 and \
                self.received[n] + self.gaps[n] == self.last_seq[n]
            ok = ok and good
            print("%-8s %9.1f %9d %9d %9d %7d %7d %s" % (
                n, fc, f["FramesClassified"], f["FramesDropped"], self.received[n], self.gaps[n],
                f["EventsDropped"], "ok" if good else "MISMATCH (disorder %d)" % self.disorder[n]))
        print("frames/s per pipeline: min %.1f, mean %.1f, max %.1f (target %d)" %
              (min(fps_all), sum(fps_all) / len(fps_all), max(fps_all), a.fps))
        print("seq check: %s — %d signals received, %d gaps, %d EventsDropped" % (
            "PASS" if ok else "FAIL", sum(self.received.values()), sum(self.gaps.values()),
            sum(f["EventsDropped"] for f in self.final.values())))
        self.summary = {"rss_growth_pct": growth, "fps": fps_all, "seq_ok": ok}
        return ok and growth < a.max_growth

    def plot(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        a = self.args
        t = [s["t"] / 60 for s in self.samples]
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
        ax1.plot(t, [s["rss_kib"] / 1024 for s in self.samples], marker=".", color="tab:red")
        ax1.axvline(a.warmup / 60, color="grey", linestyle=":", label="end of warm-up")
        ax1.set_ylabel("vitd RSS (MiB)")
        ax1.legend(loc="lower right")
        ax1.set_title("vitd soak: %d pipelines x %d fps, %s — RSS growth after warm-up %+.2f %%"
                      % (a.pipelines, a.fps, os.path.basename(a.model.rstrip("/")),
                         self.summary["rss_growth_pct"]))
        for n in self.names:
            fc = [s["pipelines"][n]["FramesClassified"] for s in self.samples]
            rate = [(fc[i] - fc[i - 1]) / (self.samples[i]["t"] - self.samples[i - 1]["t"])
                    for i in range(1, len(fc))]
            ax2.plot(t[1:], rate, linewidth=1, label=n)
        ax2.axhline(a.fps, color="grey", linestyle=":")
        ax2.set_ylabel("frames classified / s")
        ax2.set_xlabel("minutes")
        ax2.set_ylim(bottom=0)
        ax2.legend(ncol=4, fontsize="small", loc="lower right")
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(a.png)), exist_ok=True)
        fig.savefig(a.png, dpi=90)
        with open(os.path.splitext(a.png)[0] + ".json", "w") as f:
            json.dump({"args": vars(a), "samples": self.samples, "final": self.final,
                       "summary": self.summary}, f, indent=1)
        print("wrote %s and %s" % (a.png, os.path.splitext(a.png)[0] + ".json"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build", help="meson build folder (default: build)")
    p.add_argument("--pipelines", type=int, default=8)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--warmup", type=float, default=60, help="seconds before RSS growth is measured")
    p.add_argument("--sample", type=float, default=10, help="seconds between samples")
    p.add_argument("--model", default="models/fmnist-vit-tiny")
    p.add_argument("--png", default="docs/soak.png")
    p.add_argument("--max-growth", type=float, default=2.0, help="RSS growth in %% that fails")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (vitd.log)")
    args = p.parse_args()
    args.model = os.path.abspath(args.model)
    soak = Soak(args)
    soak.start()
    try:
        soak.run()
    finally:
        soak.stop()
    ok = soak.report()
    soak.plot()
    print("load: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
