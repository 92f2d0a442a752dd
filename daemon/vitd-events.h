/* vitd-events.h — the event stream: each pipeline's publish policy and seq, applied once, and the
 * fan-out of every emitted event to every sink: Classification signals on their own D-Bus
 * connection (always) and the sinks added with vitd_events_add_sink (MQTT).
 *
 * What seq means: the events of a pipeline that passed its publish policy are numbered from 1
 * with no gaps, once, for all sinks, so the same event has the same seq on D-Bus and on MQTT.
 * A sink that cannot take an event counts it: a D-Bus signal dropped at the outgoing queue's
 * bound is a gap in the signals' seq and is counted in the pipeline's EventsDropped; MQTT
 * counts what its bounds force out in MqttDropped. So a subscriber proves nothing was lost from
 * seq alone: no gap, or every gap accounted for. seq restarts at 1 when the stream starts again
 * (vitd restarted, or the pipeline left the configuration and came back); `stream` tells such
 * runs apart. */
#pragma once

#include <glib.h>
#include "vitd-bus-source.h"
#include "vitd-pipeline.h"

typedef struct _VitdEvents VitdEvents;

/* One emitted event, as every sink receives it (valid during the sink call only). */
typedef struct {
    const char *pipeline;
    const char *stream; /* 16 hex digits, random, new each time the pipeline's seq starts at 1 */
    guint64 seq;
    guint64 realtime_us; /* wall clock when the event was emitted (the same for all sinks) */
    const VitdClassification *c;
} VitdEvent;

typedef void (*VitdEventSink)(const VitdEvent *event, gpointer user_data);

#define VITD_EVENTS_SINKS_MAX 4

/* Opens the second connection to the system (or, with USER_BUS, the session) bus; ON_LOST is
 * called if it fails later. */
int vitd_events_open(gboolean user_bus, VitdBusLost on_lost, gpointer user_data, VitdEvents **ret);
void vitd_events_free(VitdEvents *ev);
/* Adds SINK (at most VITD_EVENTS_SINKS_MAX): it gets every event emitted from now on. */
void vitd_events_add_sink(VitdEvents *ev, VitdEventSink sink, gpointer user_data);
/* Applies P's publish policy to C and, if it passes, gives it the next seq and hands it to
 * every sink: the D-Bus signal from P's object path (dropped and counted in P's EventsDropped
 * when the outgoing queue is full; one that cannot be built or sent at all is counted too, and
 * shown in P's LastError until one goes out again) and the added sinks. Never blocks. */
void vitd_events_publish(VitdEvents *ev, VitdPipeline *p, const VitdClassification *c);
/* P's spec changed: its publish policy starts afresh (seq and EventsDropped go on). */
void vitd_events_reset_policy(VitdEvents *ev, const VitdPipeline *p);
/* P left the configuration: its stream state goes (a pipeline of that name added later starts
 * again at seq 1). */
void vitd_events_forget(VitdEvents *ev, const VitdPipeline *p);
/* Signals of P dropped so far (the EventsDropped property). */
guint64 vitd_events_get_dropped(const VitdEvents *ev, const VitdPipeline *p);
/* Writes out what is queued, waiting at most TIMEOUT_US (used at exit). */
void vitd_events_flush(VitdEvents *ev, guint64 timeout_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VitdEvents, vitd_events_free)
