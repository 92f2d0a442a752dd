/* vitd-bus.h — the D-Bus surface of vitd on the control connection: org.vitd1.Manager at
 * /org/vitd1 and org.vitd1.Pipeline at /org/vitd1/pipeline/<encoded name>. It reads and drives
 * the manager; the manager reaches it only through the listener vitd.c wires up. */
#pragma once

#include <systemd/sd-bus.h>
#include "vitd-bus-source.h"
#include "vitd-events.h"
#include "vitd-manager.h"
#include "vitd-mqtt-sink.h"

typedef struct _VitdBus VitdBus;

/* Connects to the session (USER_BUS) or system bus, publishes the objects of M and owns
 * org.vitd1; ON_LOST is called if the connection fails later. Returns a negative errno (already
 * logged) on failure. */
int vitd_bus_open(VitdManager *m, gboolean user_bus, VitdBusLost on_lost, gpointer user_data,
                  VitdBus **ret);
/* Flushes what is queued and closes the connection. Accepts NULL; returns NULL. */
VitdBus *vitd_bus_free(VitdBus *b);
/* EventsDropped is read from EV (0 until this is called). */
void vitd_bus_set_events(VitdBus *b, VitdEvents *ev);
/* MqttState, MqttSpooled, MqttDropped and MqttLastError are read from S ("disabled" until this
 * is called). */
void vitd_bus_set_mqtt(VitdBus *b, VitdMqttSink *s);
/* PropertiesChanged for MqttState and MqttLastError. */
void vitd_bus_emit_mqtt_changed(VitdBus *b);
/* PropertiesChanged for the properties of P that emit it (State, LastError, Restarts, Model,
 * Source). */
void vitd_bus_emit_pipeline_changed(VitdBus *b, VitdPipeline *p);
void vitd_bus_emit_pipeline_added(VitdBus *b, VitdPipeline *p);
void vitd_bus_emit_pipeline_removed(VitdBus *b, VitdPipeline *p);
