#!/usr/bin/python3
"""The MQTT sink against a real mosquitto: every event arrives with the seq, frame and labels of
its D-Bus signal; retained status and state, stats and Home Assistant discovery; the broker's
errors (wrong password, nothing listening) reach MqttLastError and the log without touching
the pipelines; a broker that never answers (a black hole) costs a timeout, not the shutdown;
a reload reconnects and delivers the spool; TLS with a test-made CA, client certificates, and
a server certificate that ca-file does not trust."""
import json
import os
import socket
import subprocess
import time

from mqtttest import MqttTestCase, free_port, mqtt_block
from vitdtest import PIPELINE_IFACE, TIMEOUT_SCALE, main, require_element

FINITE = """
    pipelines:
      - name: door
        launch: videotestsrc num-buffers=40 ! video/x-raw,width=64,height=64 ! vitclassify model=@MODEL@ top-k=3 ! fakesink
        restart: never
"""

LIVE = """
    pipelines:
      - name: cam
        launch: videotestsrc is-live=true ! video/x-raw,width=64,height=64,framerate=20/1 ! vitclassify model=@MODEL@ top-k=2 ! fakesink
"""


class Mqtt(MqttTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")

    def wait_finished(self, name, n):
        c = self.client
        c.wait_for(name + " finished", lambda: c.get(name, "State") == "finished", timeout=60)
        c.wait_for("%d signals" % n, lambda: len(c.classifications(name)) >= n, timeout=5)

    def test_n_frames_give_n_messages_like_the_signals(self):
        broker = self.broker()
        sub = self.subscriber(broker.port)
        self.start_vitd_mqtt(FINITE, mqtt_block(broker.port, self.spool,
                                                extra="  homeassistant: true\n"))
        self.wait_finished("door", 40)
        c = self.client
        c.wait_for("40 MQTT messages", lambda: len(sub.events("door")) >= 40, timeout=10)
        events = sub.events("door")
        self.assertEqual([e["seq"] for e in events], list(range(1, 41)), "order or gaps")
        signals = c.classifications("door")
        for e, (seq, frame, pts, realtime, labels, exit_, latency) in zip(events, signals):
            self.assertEqual(e["box"], "box-17")
            self.assertEqual((e["seq"], e["frame"], e["pts_ns"], e["realtime_us"]),
                             (seq, frame, pts, realtime))
            self.assertEqual([(l["label"], l["score"]) for l in e["labels"]], labels)
            self.assertEqual((e["exit"], e["latency_us"]), (exit_, latency))
        self.assertEqual(len({e["stream"] for e in events}), 1)

        c.wait_for("MqttState connected", lambda: c.get(None, "MqttState") == "connected")
        self.assertEqual(c.get(None, "MqttDropped"), 0)
        c.wait_for("spool emptied", lambda: c.get(None, "MqttSpooled") == 0)
        status = sub.get("vitd/box-17/status")
        self.assertEqual(status[-1][1], "online")
        # stats go out every second: the ones sent while the run went on count fewer frames
        def classified():
            stats = sub.get("vitd/box-17/stats")
            return stats and json.loads(stats[-1][1])["pipelines"]["door"]["frames_classified"]
        c.wait_for("stats after the run", lambda: classified() == 40, timeout=5)
        c.wait_for("state finished", lambda: any(
            json.loads(p)["State"] == "finished" for _, p, _ in sub.get("door/state")))
        ha = sub.get("homeassistant/sensor/box-17_door/config")
        self.assertTrue(ha, "no discovery config")
        config = json.loads(ha[-1][1])
        self.assertEqual(config["state_topic"], "vitd/box-17/pipeline/door/classification")
        self.assertEqual(config["availability_topic"], "vitd/box-17/status")

        self.assertEqual(self.vitd.stop(), 0)
        c.wait_for("the offline status", lambda: sub.get("vitd/box-17/status")[-1][1] == "offline",
                   timeout=5)

    def test_status_in_vitctl(self):
        broker = self.broker()
        self.start_vitd_mqtt(LIVE, mqtt_block(broker.port, self.spool))
        c = self.client
        c.wait_for("MqttState connected", lambda: c.get(None, "MqttState") == "connected")
        r = self.vitctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"MqttState: connected")
        self.assertRegex(r.stdout, r"MqttDropped: 0")

    def check_errors_leave_pipelines_alone(self, pattern):
        c = self.client
        c.wait_for("an MQTT error", lambda: c.get(None, "MqttLastError") != "", timeout=15)
        self.assertRegex(c.get(None, "MqttLastError"), pattern)
        self.assertNotEqual(c.get(None, "MqttState"), "connected")
        self.assertRegex(self.vitd.log(), "MQTT: .*" + pattern)
        n = len(c.classifications("cam"))
        c.wait_for("signals still flowing", lambda: len(c.classifications("cam")) >= n + 10)
        self.assertEqual(c.get("cam", "State"), "running")
        self.assertEqual(c.get("cam", "EventsDropped"), 0)

    def test_wrong_password_is_reported_and_pipelines_go_on(self):
        broker = self.broker(passwords={"u": "right"})
        pw = os.path.join(self.tmp, "mqtt.pass")
        with open(pw, "w") as f:
            f.write("wrong\n")
        self.start_vitd_mqtt(LIVE, mqtt_block(
            broker.port, self.spool, extra="  username: u\n  password-file: %s\n" % pw))
        self.check_errors_leave_pipelines_alone("not authori[sz]ed")

    def black_hole(self):
        """A port whose listening socket never accepts and whose accept queue is full, so
        the kernel drops further SYNs: a connect there never completes."""
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        port = hole.getsockname()[1]
        socks = [hole]
        for _ in range(2):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            socks.append(s)
        for s in socks:
            self.addCleanup(s.close)
        return port

    def test_black_hole_broker_times_out_and_stop_is_prompt(self):
        self.start_vitd_mqtt(LIVE, mqtt_block(self.black_hole(), self.spool))
        self.check_errors_leave_pipelines_alone("timed out.*no TCP connection")
        c = self.client
        # Stop while the next attempt waits for its SYN-ACK: the thread must not hold vitd.
        c.wait_for("a new attempt", lambda: c.get(None, "MqttState") == "connecting", timeout=5)
        start = time.monotonic()
        self.assertEqual(self.vitd.stop(timeout=10), 0)
        self.assertLess(time.monotonic() - start, 2.0 * TIMEOUT_SCALE, "SIGTERM took too long")
        self.assertNotRegex(self.vitd.log(), "leaving it behind")

    def test_unreachable_broker_then_reload_delivers_the_spool(self):
        broker = self.broker()
        closed = free_port()
        self.start_vitd_mqtt(LIVE, mqtt_block(closed, self.spool))
        self.check_errors_leave_pipelines_alone("Connection refused")
        c = self.client
        self.assertGreater(c.get(None, "MqttSpooled"), 0)
        # Reload with the right port: vitd reconnects and sends what it spooled, oldest first.
        sub = self.subscriber(broker.port)
        with open(self.config.path) as f:
            text = f.read()
        with open(self.config.path, "w") as f:
            f.write(text.replace(":%d\n" % closed, ":%d\n" % broker.port))
        c.manager("Reload")
        c.wait_for("MqttState connected", lambda: c.get(None, "MqttState") == "connected")
        n = len(c.classifications("cam"))
        c.wait_for("every signal on MQTT", lambda: len(sub.events("cam")) >= n, timeout=15)
        self.assertEveryEvent(sub.events("cam"))

    def make_certs(self, ca="ca", clients=()):
        """A CA named CA, a server certificate for 127.0.0.1 and client certificates (CN =
        each name in CLIENTS) signed by it: paths by role (ca, cert, key, NAME.cert, ...)."""
        d = self.tmp

        def ssl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        ssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "1",
            "-subj", "/CN=vitd test CA " + ca)

        def issue(name, cn, ext):
            ssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write(ext + "\n")
            ssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "1", "-extfile", name + ".ext")
        issue(ca + "-server", "127.0.0.1", "subjectAltName=IP:127.0.0.1")
        paths = {"ca": ca + ".pem", "cert": ca + "-server.pem", "key": ca + "-server.key"}
        for name in clients:
            issue(name, name, "extendedKeyUsage=clientAuth")
            paths[name + ".cert"], paths[name + ".key"] = name + ".pem", name + ".key"
        return {k: os.path.join(d, v) for k, v in paths.items()}

    def test_tls_with_a_private_ca(self):
        certs = self.make_certs()
        broker = self.broker(tls=certs)
        sub = self.subscriber(broker.port, tls_ca=certs["ca"])
        self.start_vitd_mqtt(FINITE, mqtt_block(broker.port, self.spool, scheme="mqtts",
                                                extra="  ca-file: %s\n" % certs["ca"]))
        self.wait_finished("door", 40)
        self.client.wait_for("40 messages over TLS", lambda: len(sub.events("door")) >= 40,
                             timeout=10)
        self.assertEqual([e["seq"] for e in sub.events("door")], list(range(1, 41)))

    def test_tls_client_certificate(self):
        certs = self.make_certs(clients=("box-17", "fleet"))
        broker = self.broker(tls=certs, client_certs=True)
        sub = self.subscriber(broker.port, tls_ca=certs["ca"],
                              tls_cert=(certs["fleet.cert"], certs["fleet.key"]))
        self.start_vitd_mqtt(FINITE, mqtt_block(
            broker.port, self.spool, scheme="mqtts",
            extra="  ca-file: %s\n  cert-file: %s\n  key-file: %s\n" % (
                certs["ca"], certs["box-17.cert"], certs["box-17.key"])))
        self.wait_finished("door", 40)
        self.client.wait_for("40 messages with a client certificate",
                             lambda: len(sub.events("door")) >= 40, timeout=10)
        self.assertEqual([e["seq"] for e in sub.events("door")], list(range(1, 41)))
        self.assertEqual(self.client.get(None, "MqttLastError"), "")

    def test_tls_without_the_required_client_certificate(self):
        certs = self.make_certs()
        broker = self.broker(tls=certs, client_certs=True)
        self.start_vitd_mqtt(LIVE, mqtt_block(broker.port, self.spool, scheme="mqtts",
                                              extra="  ca-file: %s\n" % certs["ca"]))
        self.check_errors_leave_pipelines_alone("certificate required|requires a client certificate")

    def test_tls_server_certificate_from_another_ca(self):
        certs = self.make_certs()
        other = self.make_certs(ca="other")
        broker = self.broker(tls=certs)
        self.start_vitd_mqtt(LIVE, mqtt_block(broker.port, self.spool, scheme="mqtts",
                                              extra="  ca-file: %s\n" % other["ca"]))
        self.check_errors_leave_pipelines_alone("certificate verify failed")


if __name__ == "__main__":
    main()
