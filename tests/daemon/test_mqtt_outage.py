#!/usr/bin/python3
"""The MQTT sink loses nothing across outages: the broker killed mid-stream and restarted;
vitd SIGKILLed while the broker is down and started again (its spool is delivered); and when
the spool's bound is reached, the oldest events go, each counted in MqttDropped, the newest
arrive."""
import signal
import time

from mqtttest import MqttTestCase, mqtt_block
from vitdtest import PIPELINE_IFACE, main, require_element

LIVE = """
    pipelines:
      - name: cam
        launch: videotestsrc is-live=true ! video/x-raw,width=64,height=64,framerate=20/1 ! vitclassify model=@MODEL@ top-k=2 ! fakesink
"""


class Outage(MqttTestCase):
    def setUp(self):
        super().setUp()
        require_element()
        self.client.subscribe(iface=PIPELINE_IFACE, member="Classification")

    def signals(self):
        return self.client.classifications("cam")

    def wait_signals(self, n, timeout=30):
        self.client.wait_for("%d signals" % n, lambda: len(self.signals()) >= n, timeout)

    def test_broker_killed_and_restarted_mid_stream(self):
        broker = self.broker()
        sub = self.subscriber(broker.port)
        self.start_vitd_mqtt(LIVE, mqtt_block(broker.port, self.spool))
        c = self.client
        self.wait_signals(10)
        broker.stop(signal.SIGKILL)
        c.wait_for("MqttState disconnected", lambda: c.get(None, "MqttState") != "connected")
        n = len(self.signals())
        c.pump(6.0)
        self.assertGreater(len(self.signals()), n + 10, "the pipeline stalled without a broker")
        self.assertGreater(c.get(None, "MqttSpooled"), 0)
        broker.start()
        c.wait_for("MqttState connected", lambda: c.get(None, "MqttState") == "connected",
                   timeout=20)
        last = self.signals()[-1][0]
        c.wait_for("seq %d on MQTT" % last,
                   lambda: any(e["seq"] >= last for e in sub.events("cam")), timeout=20)
        self.assertEveryEvent(sub.events("cam"))
        self.assertEqual(c.get(None, "MqttDropped"), 0)
        self.assertRegex(c.get(None, "MqttLastError"), "lost the connection|refused")

    def test_vitd_killed_while_the_broker_is_down(self):
        broker = self.broker()
        sub = self.subscriber(broker.port)
        self.start_vitd_mqtt(LIVE, mqtt_block(broker.port, self.spool))
        c = self.client
        self.wait_signals(5)
        broker.stop()
        c.wait_for("MqttState disconnected", lambda: c.get(None, "MqttState") != "connected")
        n = len(self.signals())
        self.wait_signals(n + 20)
        time.sleep(0.2)
        first_run = list(self.signals())  # every one of them is written to the spool by now
        self.vitd.proc.send_signal(signal.SIGKILL)
        self.vitd.proc.wait(10)

        broker.start()
        self.restart_vitd()
        newest = first_run[-1][0]
        by_time = {s[3]: s[0] for s in first_run}  # realtime_us -> seq, the same on both sinks

        def delivered():
            return [e for e in sub.events("cam") if e["realtime_us"] in by_time]
        c.wait_for("the first run's events", lambda: any(e["seq"] >= newest for e in delivered()),
                   timeout=20)
        runs = {e["stream"] for e in delivered()}
        self.assertEqual(len(runs), 1)
        first = [e for e in sub.events("cam") if e["stream"] in runs]
        self.assertEveryEvent(first)
        for e in delivered():
            self.assertEqual(by_time[e["realtime_us"]], e["seq"])
        self.assertRegex(self.vitd.log(), r"MQTT: \d+ events in the spool")

    def test_spool_bound_drops_oldest_and_counts(self):
        broker = self.broker()
        sub = self.subscriber(broker.port)  # its session outlives the broker's restart
        broker.stop()  # nothing listens on the port until the end of the test
        self.start_vitd_mqtt(LIVE, mqtt_block(broker.port, self.spool).replace(
            "max-size: 1M", "max-size: 16K"))
        c = self.client
        c.wait_for("drops at the spool bound", lambda: c.get(None, "MqttDropped") > 0, timeout=40)
        self.wait_signals(len(self.signals()) + 5)
        dropped, spooled = c.get(None, "MqttDropped"), c.get(None, "MqttSpooled")
        # The spool counts an event before its D-Bus signal reaches this client: let the signals
        # catch up with what the two counters had seen (a count past what was emitted never
        # arrives, and the wait fails).
        self.wait_signals(dropped + spooled)
        emitted = self.signals()[-1][0]
        self.assertLess(spooled, emitted)
        self.assertLessEqual(dropped + spooled, emitted)
        self.assertGreaterEqual(dropped + spooled, emitted - 25)  # the last second's events

        broker.start()
        c.wait_for("MqttState connected", lambda: c.get(None, "MqttState") == "connected",
                   timeout=20)
        last = self.signals()[-1][0]
        c.wait_for("seq %d on MQTT" % last,
                   lambda: any(e["seq"] >= last for e in sub.events("cam")), timeout=20)
        seqs = sorted({e["seq"] for e in sub.events("cam")})
        self.assertGreater(seqs[0], 1, "the oldest events should have been dropped")
        self.assertEqual(seqs, list(range(seqs[0], seqs[-1] + 1)), "the newest are gapless")
        # Exact: every seq that never arrived is counted in MqttDropped, and nothing else is.
        missing = set(range(1, seqs[-1] + 1)) - set(seqs)
        self.assertEqual(c.get(None, "MqttDropped"), len(missing))


if __name__ == "__main__":
    main()
