/* vitd-events.h — the event connection: Classification signals on their own D-Bus connection. */
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
 * (or drops it and counts P->events_dropped when the outgoing queue is full). Never blocks. */
void vitd_events_publish(VitdEvents *ev, VitdPipeline *p, const VitdClassification *c);
/* P's spec changed: its publish policy starts afresh (seq and EventsDropped go on). */
void vitd_events_reset_policy(VitdEvents *ev, VitdPipeline *p);
/* Writes out what is queued, waiting at most TIMEOUT_US (used at exit). */
void vitd_events_flush(VitdEvents *ev, guint64 timeout_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VitdEvents, vitd_events_free)
