#!/usr/bin/python3
"""The MQTT sink against a real mosquitto: every event arrives with the seq, frame and labels of
its D-Bus signal; retained status and state, stats and Home Assistant discovery; the broker's
errors (wrong password, nothing listening) reach MqttLastError and the log without touching
the pipelines; a reload reconnects and delivers the spool; TLS with a test-made CA."""
import json
import os
import subprocess

from mqtttest import MqttTestCase, free_port, mqtt_block
from vitdtest import PIPELINE_IFACE, main, require_element

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
        c.pump(0.3)
        self.assertEqual(sub.get("vitd/box-17/status")[-1][1], "offline")

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

    def make_certs(self):
        d = self.tmp

        def ssl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=vitd test CA")
        ssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext")
        return {k: os.path.join(d, v) for k, v in
                (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}

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


if __name__ == "__main__":
    main()
