/* vitd-mqtt-sink.h — the MQTT event sink on the main loop: turns events, pipeline changes and a
 * stats timer into topics and payloads for the MQTT connection (vitd-mqtt), and starts, stops
 * or reconnects it as the `mqtt:` block of the configuration comes, goes or changes. */
#pragma once

#include "vitd-events.h"
#include "vitd-manager.h"
#include "vitd-mqtt.h"

typedef struct _VitdMqttSink VitdMqttSink;

/* A sink for M's pipelines (EventsDropped read from EV); CHANGED is called on the main loop
 * when MqttState or MqttLastError changed. MQTT stays disabled until vitd_mqtt_sink_apply. */
VitdMqttSink *vitd_mqtt_sink_new(VitdManager *m, VitdEvents *ev, VitdMqttChanged changed,
                                 gpointer user_data);
/* Stops the connection (see vitd_mqtt_free). Accepts NULL; returns NULL. */
VitdMqttSink *vitd_mqtt_sink_free(VitdMqttSink *s);
/* Applies the `mqtt:` settings CONFIG (NULL: MQTT off): at start and after each reload. */
void vitd_mqtt_sink_apply(VitdMqttSink *s, const VpMqttConfig *config);

/* A VitdEventSink (user data: the VitdMqttSink). */
void vitd_mqtt_sink_on_event(const VitdEvent *e, gpointer sink);
/* P's state changed or P was added: its retained state (and discovery config) is updated. */
void vitd_mqtt_sink_pipeline_changed(VitdMqttSink *s, VitdPipeline *p);
/* P left the configuration: its retained messages are deleted. */
void vitd_mqtt_sink_pipeline_removed(VitdMqttSink *s, VitdPipeline *p);

/* MqttState, MqttSpooled, MqttDropped, MqttLastError (state "disabled" when MQTT is off). */
void vitd_mqtt_sink_get_status(VitdMqttSink *s, VitdMqttStatus *ret);

/* The client id used when `client-id:` is not set: /etc/machine-id, else the host name. */
char *vitd_mqtt_default_client_id(void);
