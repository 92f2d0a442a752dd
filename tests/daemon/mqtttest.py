"""mqtttest — a private mosquitto broker and a paho subscriber for the MQTT sink's integration
tests (test_mqtt*.py), on top of vitdtest's private bus and real vitd.

Each Broker runs /usr/sbin/mosquitto on 127.0.0.1 with a free port and a generated config (and,
on request, a password file or a TLS listener made with openssl); it can be stopped and started
again on the same port. Subscribers use a persistent session (clean_session=False, QoS 1), so
what vitd publishes while they reconnect after a broker restart is queued for them, as a fleet
subscriber would set it up. Every wait is bounded.
"""
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

from vitdtest import VitdTestCase, Vitd, Config

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, up=True):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise AssertionError("port %d did not %s" % (port, "open" if up else "close"))


class Broker:
    """mosquitto on 127.0.0.1:PORT. PASSWORDS {user: password} turn anonymous access off;
    TLS (a dict of ca/cert/key paths) makes the listener TLS-only; with CLIENT_CERTS the broker
    requires a client certificate signed by that CA."""

    def __init__(self, port=None, passwords=None, tls=None, client_certs=False):
        self.dir = tempfile.mkdtemp(prefix="vitd-mqtt-broker-")
        self.port = port or free_port()
        # As root, mosquitto would switch to user mosquitto, who cannot read the test's files.
        lines = ["user " + getpass.getuser(), "listener %d 127.0.0.1" % self.port,
                 "persistence true",
                 "persistence_location %s/" % self.dir, "autosave_interval 1",
                 "autosave_on_changes true",
                 "max_queued_messages 0", "max_inflight_messages 0",
                 "log_dest file %s/broker.log" % self.dir, "log_type all"]
        if passwords:
            pwfile = os.path.join(self.dir, "passwd")
            open(pwfile, "w").close()
            for user, password in passwords.items():
                subprocess.run(["mosquitto_passwd", "-b", pwfile, user, password], check=True,
                               capture_output=True)
            lines += ["allow_anonymous false", "password_file " + pwfile]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += ["cafile " + tls["ca"], "certfile " + tls["cert"], "keyfile " + tls["key"]]
            if client_certs:
                lines += ["require_certificate true", "use_identity_as_username true"]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        wait_port(self.port, up=False)

    def log(self):
        try:
            with open(os.path.join(self.dir, "broker.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Subscriber:
    """A paho client subscribed to TOPIC at QoS 1 with a persistent session; messages are
    (topic, payload text, retain) in arrival order."""

    def __init__(self, port, topic="#", tls_ca=None, name=None, tls_cert=None):
        self.messages = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.topic = topic
        self.client = mqtt.Client(client_id=name or "test-sub-%d" % os.getpid(),
                                  clean_session=False)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca, certfile=tls_cert and tls_cert[0],
                                keyfile=tls_cert and tls_cert[1])
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda c, u, rc: self.connected.clear()
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError("the test subscriber could not connect to the broker")

    def _on_connect(self, client, userdata, flags, rc):
        if rc == 0:
            client.subscribe(self.topic, qos=1)
            time.sleep(0.1)  # let SUBACK come back before anyone publishes
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode(errors="replace"), msg.retain))

    def get(self, suffix):
        with self.lock:
            return [(t, p, r) for t, p, r in self.messages if t.endswith(suffix)]

    def events(self, pipeline=None):
        """The classification payloads (parsed), in arrival order."""
        out = []
        for t, p, _ in self.get("/classification"):
            e = json.loads(p)
            if pipeline is None or e["pipeline"] == pipeline:
                out.append(e)
        return out

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def mqtt_block(port, spool, scheme="mqtt", extra=""):
    return ("mqtt:\n  url: %s://127.0.0.1:%d\n  client-id: box-17\n  stats-interval: 1\n"
            "  spool: {path: %s, max-size: 1M}\n%s" % (scheme, port, spool, extra))


class MqttTestCase(VitdTestCase):
    """A VitdTestCase whose vitd.yaml gets an mqtt: block; a temp folder for spool and certs."""

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="vitd-mqtt-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "spool")

    def broker(self, **kwargs):
        b = Broker(**kwargs)
        self.addCleanup(b.close)
        return b

    def subscriber(self, port, **kwargs):
        s = Subscriber(port, **kwargs)
        self.addCleanup(s.close)
        return s

    def start_vitd_mqtt(self, pipelines, mqtt, wait=True):
        """Starts vitd with PIPELINES and the mqtt: block MQTT."""
        self.config = Config(pipelines)
        self.addCleanup(self.config.close)
        with open(self.config.path, "a") as f:
            f.write(mqtt)
        return self.restart_vitd(wait)

    def restart_vitd(self, wait=True):
        """A new vitd on the same config (and spool)."""
        self.vitd = Vitd(self.bus, self.config)
        self.addCleanup(self.vitd.close)
        if wait:
            self.vitd.wait_ready(self.client)
        return self.vitd

    def assertEveryEvent(self, events, first=1):
        """EVENTS (payloads of one stream, duplicates allowed) hold every seq from FIRST on."""
        seqs = sorted({e["seq"] for e in events})
        self.assertTrue(seqs, "no events")
        self.assertEqual(seqs, list(range(first, seqs[-1] + 1)), "seq has gaps: events lost")
