#!/usr/bin/python3
"""bench_mqtt_sub.py — the measuring side of bench_mqtt.sh: a paho subscriber (QoS 1) on
vitd's classification topics plus /proc samples of vitd, over a warm-up and a measured window.

  bench_mqtt_sub.py --port P --pid PID [--warmup S] [--seconds S] [--label TEXT]

Prints one JSON line: events/s received in the window, end-to-end latency p50/p99/max (receive
wall clock minus the payload's realtime_us, which vitd stamps when the event leaves the
pipeline: queue, spool, network thread, broker and this client), mean payload bytes, seq gaps
per (pipeline, stream) over the whole run, and vitd's CPU (utime+stime of the process, and of
its MQTT threads alone) in % of one core and per 1,000 events/s.
"""
import argparse
import json
import os
import threading
import time

import paho.mqtt.client as mqtt

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path):
    """utime + stime of a /proc stat file, in seconds (the comm field may hold spaces)."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mqtt_threads_cpu(pid):
    total = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().startswith("vitd-mqtt"):
                    total += cpu_seconds("/proc/%d/task/%s/stat" % (pid, tid))
        except OSError:
            pass
    return total


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Collector:
    def __init__(self):
        self.lock = threading.Lock()
        self.window = None  # (start, end) wall clock, seconds
        self.latencies_us, self.sizes = [], []
        self.last_seq = {}
        self.gaps = self.received = 0
        self.connected = threading.Event()

    def on_connect(self, client, userdata, flags, rc):
        client.subscribe("+/+/pipeline/+/classification", qos=1)
        self.connected.set()

    def on_message(self, client, userdata, msg):
        now = time.time()
        e = json.loads(msg.payload)
        with self.lock:
            self.received += 1
            key = (e["pipeline"], e["stream"])
            last = self.last_seq.get(key)
            if last is not None and e["seq"] > last + 1:
                self.gaps += e["seq"] - last - 1
            self.last_seq[key] = max(e["seq"], last or 0)
            if self.window and self.window[0] <= now < self.window[1]:
                self.latencies_us.append(now * 1e6 - e["realtime_us"])
                self.sizes.append(len(msg.payload))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--label", default="")
    args = ap.parse_args()

    c = Collector()
    client = mqtt.Client(client_id="bench-sub-%d" % os.getpid(), clean_session=True)
    client.on_connect, client.on_message = c.on_connect, c.on_message
    client.connect("127.0.0.1", args.port, keepalive=30)
    client.loop_start()
    if not c.connected.wait(10):
        raise SystemExit("bench_mqtt_sub: cannot connect to the broker")
    time.sleep(args.warmup)
    cpu0, mq0, t0 = cpu_seconds("/proc/%d/stat" % args.pid), mqtt_threads_cpu(args.pid), time.time()
    with c.lock:
        c.window = (t0, t0 + args.seconds)
    time.sleep(args.seconds)
    cpu1, mq1, t1 = cpu_seconds("/proc/%d/stat" % args.pid), mqtt_threads_cpu(args.pid), time.time()
    time.sleep(1.0)  # let the window's last messages arrive
    client.loop_stop()
    client.disconnect()

    with c.lock:
        lat = sorted(c.latencies_us)
        n = len(lat)
        rate = n / (t1 - t0)
        cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
        mqtt_pct = 100 * (mq1 - mq0) / (t1 - t0)
        print(json.dumps({
            "label": args.label,
            "events_per_s": round(rate, 1),
            "latency_ms_p50": round(percentile(lat, 0.50) / 1000, 2),
            "latency_ms_p99": round(percentile(lat, 0.99) / 1000, 2),
            "latency_ms_max": round(lat[-1] / 1000, 2) if lat else None,
            "payload_bytes": round(sum(c.sizes) / n) if n else None,
            "seq_gaps": c.gaps,
            "vitd_cpu_pct": round(cpu_pct, 1),
            "vitd_cpu_pct_per_1k_ev_s": round(cpu_pct / (rate / 1000), 1) if rate else None,
            "mqtt_threads_cpu_pct": round(mqtt_pct, 1),
            "mqtt_threads_cpu_pct_per_1k_ev_s": round(mqtt_pct / (rate / 1000), 1) if rate else None,
        }))


if __name__ == "__main__":
    main()
