/* gstvitlateness.c — vitclassify's QoS decisions (gstvitlateness.h).
 *
 * Two ways a frame is late, both ending in "pass it through unclassified" rather than dropping
 * or queueing it:
 *  - downstream QoS: a sink that rendered a frame diff late at running time t sends
 *    (t, diff); frames up to t + diff can no longer be shown in time.
 *  - live sources: a frame is due at its running time plus the latency; one that reaches the
 *    element after that has waited behind slower inferences (in a queue, say). Skipping such
 *    frames drains the backlog at once, so it stays bounded by the latency. A frame that
 *    arrives in time but whose inference overruns is then reported by the sink's QoS, which
 *    covers the frames behind it.
 * Sinks that do not sync are given no latency, yet no frame can be expected before upstream
 * and inference are through, so the deadline uses the longer of the two latencies. */
#include "gstvitlateness.h"

void gst_vit_lateness_init(GstVitLateness *lateness)
{
    g_mutex_init(&lateness->lock);
    lateness->own_latency = 0;
    gst_vit_lateness_reset(lateness);
}

void gst_vit_lateness_clear(GstVitLateness *lateness)
{
    g_mutex_clear(&lateness->lock);
}

void gst_vit_lateness_reset(GstVitLateness *lateness)
{
    g_mutex_lock(&lateness->lock);
    lateness->qos_earliest = GST_CLOCK_TIME_NONE;
    lateness->upstream_known = FALSE;
    lateness->upstream_live = FALSE;
    lateness->upstream_min = 0;
    lateness->pipeline_latency = GST_CLOCK_TIME_NONE;
    g_mutex_unlock(&lateness->lock);
}

void gst_vit_lateness_flush(GstVitLateness *lateness)
{
    g_mutex_lock(&lateness->lock);
    lateness->qos_earliest = GST_CLOCK_TIME_NONE;
    g_mutex_unlock(&lateness->lock);
}

void gst_vit_lateness_set_own_latency(GstVitLateness *lateness, GstClockTime latency)
{
    g_mutex_lock(&lateness->lock);
    lateness->own_latency = latency;
    g_mutex_unlock(&lateness->lock);
}

void gst_vit_lateness_observe_event(GstVitLateness *lateness, GstEvent *event)
{
    if (GST_EVENT_TYPE(event) == GST_EVENT_QOS) {
        GstQOSType type;
        gdouble proportion;
        GstClockTimeDiff diff;
        GstClockTime timestamp;

        gst_event_parse_qos(event, &type, &proportion, &diff, &timestamp);
        g_mutex_lock(&lateness->lock);
        lateness->qos_earliest =
            diff > 0 && GST_CLOCK_TIME_IS_VALID(timestamp) ? timestamp + diff : GST_CLOCK_TIME_NONE;
        g_mutex_unlock(&lateness->lock);
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_LATENCY) {
        GstClockTime latency;

        gst_event_parse_latency(event, &latency);
        g_mutex_lock(&lateness->lock);
        lateness->pipeline_latency = latency;
        g_mutex_unlock(&lateness->lock);
    }
}

void gst_vit_lateness_store_upstream(GstVitLateness *lateness, GstQuery *query)
{
    gboolean live = FALSE;
    GstClockTime min = 0, max;

    if (query != NULL)
        gst_query_parse_latency(query, &live, &min, &max);
    g_mutex_lock(&lateness->lock);
    lateness->upstream_known = TRUE;
    lateness->upstream_live = live;
    lateness->upstream_min = GST_CLOCK_TIME_IS_VALID(min) ? min : 0;
    g_mutex_unlock(&lateness->lock);
}

gboolean gst_vit_lateness_upstream_known(GstVitLateness *lateness)
{
    gboolean known;

    g_mutex_lock(&lateness->lock);
    known = lateness->upstream_known;
    g_mutex_unlock(&lateness->lock);
    return known;
}

void gst_vit_lateness_add_own_latency(GstVitLateness *lateness, GstQuery *query)
{
    gboolean live;
    GstClockTime min, max, own;

    gst_query_parse_latency(query, &live, &min, &max);
    g_mutex_lock(&lateness->lock);
    own = lateness->own_latency;
    g_mutex_unlock(&lateness->lock);
    if (!live || own == 0)
        return;
    min += own;
    if (GST_CLOCK_TIME_IS_VALID(max))
        max += own;
    gst_query_set_latency(query, live, min, max);
}

gboolean gst_vit_lateness_is_late(GstVitLateness *lateness, GstClockTime running_time,
                                  GstClockTime now)
{
    GstClockTime deadline;
    gboolean late = FALSE;

    if (!GST_CLOCK_TIME_IS_VALID(running_time))
        return FALSE;

    g_mutex_lock(&lateness->lock);
    if (GST_CLOCK_TIME_IS_VALID(lateness->qos_earliest) && running_time <= lateness->qos_earliest)
        late = TRUE;
    if (!late && lateness->upstream_live && GST_CLOCK_TIME_IS_VALID(now)) {
        deadline = running_time + lateness->upstream_min + lateness->own_latency;
        if (GST_CLOCK_TIME_IS_VALID(lateness->pipeline_latency))
            deadline = MAX(deadline, running_time + lateness->pipeline_latency);
        late = now > deadline;
    }
    g_mutex_unlock(&lateness->lock);
    return late;
}
