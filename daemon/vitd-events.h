/* vitd-events.h — the event connection: Classification signals on their own D-Bus connection,
 * and each pipeline's event stream state (seq, EventsDropped, publish policy), kept here by
 * pipeline name. */
#pragma once

#include <glib.h>
#include "vitd-bus-source.h"
#include "vitd-pipeline.h"

typedef struct _VitdEvents VitdEvents;

/* Opens the second connection to the system (or, with USER_BUS, the session) bus; ON_LOST is
 * called if it fails later. */
int vitd_events_open(gboolean user_bus, VitdBusLost on_lost, gpointer user_data, VitdEvents **ret);
void vitd_events_free(VitdEvents *ev);
/* Applies P's publish policy to C and, if it passes, emits Classification from P's object path
 * (or drops it and counts it in P's EventsDropped when the outgoing queue is full). Never
 * blocks. */
void vitd_events_publish(VitdEvents *ev, const VitdPipeline *p, const VitdClassification *c);
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
