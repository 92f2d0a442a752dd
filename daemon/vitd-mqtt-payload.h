/* vitd-mqtt-payload.h — the JSON payloads vitd publishes over MQTT (the table in README.md,
 * "MQTT"): classification events, pipeline state, stats, Home Assistant discovery. All return
 * newly allocated compact JSON text. */
#pragma once

#include <glib.h>
#include "vitd-events.h"
#include "vitd-mqtt.h"
#include "vitd-pipeline.h"

/* The fields of `vitctl monitor --json` plus "box" (the client id) and "stream". */
char *vitd_mqtt_payload_event(const VitdEvent *e, const char *box);
/* The org.vitd1.Pipeline properties of P, by their D-Bus names. */
char *vitd_mqtt_payload_state(VitdPipeline *p, guint64 events_dropped);
/* {"box", "realtime_us", "mqtt": {...}, "pipelines": {NAME: {fps, latency_ms, ...}}}. */
char *vitd_mqtt_payload_stats(const char *box, GPtrArray *pipelines, VitdEvents *ev,
                              const VitdMqttStatus *status);
/* The discovery config of pipeline NAME as a Home Assistant sensor whose state is the top label;
 * BASE is "<prefix>/<box>". */
char *vitd_mqtt_payload_ha_config(const char *box, const char *name, const char *base);
/* "homeassistant/sensor/<box>_<name>/config", with characters Home Assistant does not take in
 * an object id replaced by '_'. */
char *vitd_mqtt_ha_config_topic(const char *box, const char *name);
