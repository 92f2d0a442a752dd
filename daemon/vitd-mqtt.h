/* vitd-mqtt.h — the MQTT connection of vitd: a bounded queue filled by the main thread, a spool
 * thread that writes events to the disk spool (vitd-spool), and a network thread that owns the
 * libmosquitto client and publishes the spool in order at QoS 1. Knows topics and payloads only
 * as strings; vitd-mqtt-sink builds them. Nothing here blocks the caller. */
#pragma once

#include <glib.h>
#include "vitpipeline.h"

typedef enum {
    VITD_MQTT_DISABLED,
    VITD_MQTT_CONNECTING,
    VITD_MQTT_CONNECTED,
    VITD_MQTT_DISCONNECTED,
} VitdMqttState;

const char *vitd_mqtt_state_to_string(VitdMqttState state);

typedef struct {
    VitdMqttState state;
    guint64 spooled;  /* events not yet acknowledged by the broker (queued or in the spool) */
    guint64 dropped;  /* events lost to a bound: queue full, spool full, spool write errors */
    char *last_error; /* "" when none yet */
} VitdMqttStatus;

void vitd_mqtt_status_clear(VitdMqttStatus *status);

typedef struct _VitdMqtt VitdMqtt;

/* Called on the main loop when the state or the last error changed. */
typedef void (*VitdMqttChanged)(gpointer user_data);

/* Starts the threads for CONFIG (client_id filled in); STATUS_TOPIC gets "online" (retained)
 * on each connection and is the last will ("offline"). Returns a negative errno, logged, when
 * the spool cannot be opened. */
int vitd_mqtt_new(const VpMqttConfig *config, const char *status_topic, VitdMqttChanged changed,
                  gpointer user_data, VitdMqtt **ret);
/* Spools what is queued, delivers what it can for 0.7 s, publishes "offline", disconnects and
 * joins the threads (within about a second: connecting never blocks). Accepts NULL; returns
 * NULL. */
VitdMqtt *vitd_mqtt_free(VitdMqtt *m);
/* Connects again with CONFIG (the spool settings take effect at the next start). */
void vitd_mqtt_reconfigure(VitdMqtt *m, const VpMqttConfig *config);

/* An event: spooled, delivered at least once and in order. */
void vitd_mqtt_publish_event(VitdMqtt *m, const char *topic, const char *payload);
/* Current state (retained): sent now if connected and again on every connection. An empty
 * PAYLOAD deletes the retained message and forgets the topic. */
void vitd_mqtt_publish_retained(VitdMqtt *m, const char *topic, const char *payload);
/* Best effort (QoS 0, not spooled), dropped while disconnected: periodic stats. */
void vitd_mqtt_publish_volatile(VitdMqtt *m, const char *topic, const char *payload);

void vitd_mqtt_get_status(VitdMqtt *m, VitdMqttStatus *ret);
