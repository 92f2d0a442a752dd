/* gstvitlateness.h — when vitclassify passes a frame through unclassified because it is late.
 *
 * Collects what the pipeline says about time — downstream QoS events, the latency the sinks
 * were given, what upstream answered to a latency query — plus the element's own inference
 * time, and decides per frame. Thread-safe: events and queries arrive on other threads than
 * the frames. */
#ifndef GST_VIT_LATENESS_H
#define GST_VIT_LATENESS_H

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
    GMutex lock;
    GstClockTime qos_earliest; /* running time before which frames are lost, or NONE */
    gboolean upstream_known;   /* upstream's latency has been asked (or told) */
    gboolean upstream_live;
    GstClockTime upstream_min;     /* upstream's minimum latency */
    GstClockTime pipeline_latency; /* from the LATENCY event, or NONE */
    GstClockTime own_latency;      /* inference time, reported on top of upstream's */
} GstVitLateness;

void gst_vit_lateness_init(GstVitLateness *lateness);
void gst_vit_lateness_clear(GstVitLateness *lateness);
/* Forgets everything learnt about the pipeline (a new start); keeps the own latency. */
void gst_vit_lateness_reset(GstVitLateness *lateness);
/* A flushing seek or a new stream: earlier QoS reports no longer apply. */
void gst_vit_lateness_flush(GstVitLateness *lateness);

void gst_vit_lateness_set_own_latency(GstVitLateness *lateness, GstClockTime latency);
/* QOS and LATENCY events travelling upstream through the element; others are ignored. */
void gst_vit_lateness_observe_event(GstVitLateness *lateness, GstEvent *event);
/* Upstream's answer to a latency QUERY, or NULL when nobody answered (not live). */
void gst_vit_lateness_store_upstream(GstVitLateness *lateness, GstQuery *query);
gboolean gst_vit_lateness_upstream_known(GstVitLateness *lateness);
/* Adds the own latency to an answered latency QUERY when the source is live. */
void gst_vit_lateness_add_own_latency(GstVitLateness *lateness, GstQuery *query);

/* TRUE when the frame at RUNNING_TIME should not be classified: a QoS event said frames up to
 * a later running time are lost, or the source is live and NOW (the pipeline's current running
 * time; GST_CLOCK_TIME_NONE when not playing) is already past the frame's deadline, running
 * time plus the longer of the pipeline latency and upstream's plus the own latency. */
gboolean gst_vit_lateness_is_late(GstVitLateness *lateness, GstClockTime running_time,
                                  GstClockTime now);

G_END_DECLS

#endif /* GST_VIT_LATENESS_H */
