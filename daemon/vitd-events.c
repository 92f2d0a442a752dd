/* vitd-events.c — the event stream (publish policy and seq, once per event) and its D-Bus sink,
 * which streams Classification signals without ever blocking. Other sinks (MQTT) are added by
 * vitd.c and get the same events with the same seq; see vitd-events.h for what seq means.
 *
 * Signals go out on a second bus connection, so method replies and PropertiesChanged on the
 * control connection never queue behind frames. sd-bus writes non-blockingly: what the socket
 * does not take stays in the connection's write queue, flushed from the main loop. When the bus
 * (or a subscriber, through it) is slow, that queue grows; past QUEUE_MAX messages new signals
 * are dropped and counted in the pipeline's EventsDropped instead of buffering without bound.
 * That count, the seq and the publish policy state of each pipeline live here, in a stream
 * record keyed by pipeline name, created by the first classification and forgotten when the
 * pipeline leaves the configuration.
 * `seq` is assigned once to every event that passes the publish policy, before the sinks see
 * it, so a D-Bus subscriber that sees seq jump finds the jump counted in EventsDropped (or lost
 * in the bus, when it is not).
 *
 * Because the signals' sender is this second connection (not the owner of org.vitd1), clients
 * match them by interface/path, or by sender=org.vitd1.Events, the name this connection owns. */
#include "vitd-events.h"

#include "vitd-log.h"
#include "vitd-names.h"
#include "vitd-publish.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include "vitd-bus-source.h"

#define QUEUE_MAX_DEFAULT 256
/* sd-bus asks the kernel for 8 MiB socket buffers: thousands of stale frames queued where vitd
 * cannot count them. Events are latest-wins, so the event socket gets a small buffer, scaled
 * with the queue bound (128 KiB for the default 256 messages, about as many signals again), and
 * the bound that matters is QUEUE_MAX, where drops are counted. */
#define SNDBUF_PER_QUEUED 512
#define SNDBUF_MAX (128 * 1024)

/* The event stream of one pipeline. */
typedef struct {
    char stream[17]; /* VitdEvent.stream */
    guint64 seq;     /* last emitted event's seq (first event is 1) */
    guint64 dropped; /* EventsDropped */
    VitdPublishState publish;
} EventsStream;

struct _VitdEvents {
    sd_bus *bus;
    guint source_id;
    uint64_t queue_max;
    GHashTable *streams; /* pipeline name -> EventsStream*, owned */
    struct {
        VitdEventSink func;
        gpointer data;
    } sinks[VITD_EVENTS_SINKS_MAX];
    guint n_sinks;
};

static void stream_free(gpointer data)
{
    EventsStream *s = data;
    vitd_publish_state_clear(&s->publish);
    g_free(s);
}

static EventsStream *stream_get(VitdEvents *ev, const VitdPipeline *p)
{
    const char *name = vitd_pipeline_get_name(p);
    EventsStream *s = g_hash_table_lookup(ev->streams, name);
    if (!s) {
        s = g_new0(EventsStream, 1);
        g_snprintf(s->stream, sizeof s->stream, "%08x%08x", g_random_int(), g_random_int());
        g_hash_table_insert(ev->streams, g_strdup(name), s);
    }
    return s;
}

static int on_name_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    const sd_bus_error *e = sd_bus_message_get_error(m);
    if (e)
        vitd_log_warning("Could not own %s (%s); Classification signals are still sent",
                         VITD_EVENTS_BUS_NAME, e->message);
    return 0;
}

int vitd_events_open(gboolean user_bus, VitdBusLost on_lost, gpointer user_data, VitdEvents **ret)
{
    sd_bus *bus = NULL;
    int r = vitd_bus_connect(user_bus, "vitd-events", &bus);
    if (r < 0)
        return r;
    VitdEvents *ev = g_new0(VitdEvents, 1);
    ev->bus = bus;
    ev->queue_max = QUEUE_MAX_DEFAULT;
    ev->streams = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stream_free);
    /* Tests shrink the bound (and with it the socket buffer) to provoke drops quickly. */
    const char *env = g_getenv("VITD_EVENTS_QUEUE_MAX");
    if (env && g_ascii_strtoull(env, NULL, 10) > 0)
        ev->queue_max = g_ascii_strtoull(env, NULL, 10);
    int sndbuf = ev->queue_max < SNDBUF_MAX / SNDBUF_PER_QUEUED
                     ? (int)ev->queue_max * SNDBUF_PER_QUEUED
                     : SNDBUF_MAX;
    if (setsockopt(sd_bus_get_fd(bus), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
        vitd_log_warning("Failed to shrink the event socket buffer: %s", g_strerror(errno));
    /* Not fatal: subscribers that match on interface and path get the signals either way. */
    r = sd_bus_request_name_async(bus, NULL, VITD_EVENTS_BUS_NAME, 0, on_name_reply, NULL);
    if (r < 0)
        vitd_log_errno(r, "Failed to request %s", VITD_EVENTS_BUS_NAME);
    ev->source_id = vitd_bus_source_attach(bus, on_lost, user_data);
    *ret = ev;
    return 0;
}

void vitd_events_free(VitdEvents *ev)
{
    if (!ev)
        return;
    vitd_bus_source_detach(ev->source_id);
    sd_bus_close_unref(ev->bus);
    g_hash_table_destroy(ev->streams);
    g_free(ev);
}

void vitd_events_flush(VitdEvents *ev, guint64 timeout_us)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_us;
    uint64_t queued = 0;
    while (sd_bus_get_n_queued_write(ev->bus, &queued) >= 0 && queued > 0) {
        gint64 now = g_get_monotonic_time();
        if (now >= end)
            break;
        if (sd_bus_process(ev->bus, NULL) > 0)
            continue;
        sd_bus_wait(ev->bus, (uint64_t)(end - now));
    }
}

void vitd_events_add_sink(VitdEvents *ev, VitdEventSink sink, gpointer user_data)
{
    g_return_if_fail(ev->n_sinks < VITD_EVENTS_SINKS_MAX);
    ev->sinks[ev->n_sinks].func = sink;
    ev->sinks[ev->n_sinks].data = user_data;
    ev->n_sinks++;
}

static int build_signal(VitdEvents *ev, const VitdPipeline *p, const VitdEvent *e,
                        sd_bus_message **ret)
{
    const VitdClassification *c = e->c;
    sd_bus_message *m = NULL;
    int r = sd_bus_message_new_signal(ev->bus, &m, vitd_pipeline_get_path(p),
                                      VITD_PIPELINE_INTERFACE, "Classification");
    if (r < 0)
        return r;
    r = sd_bus_message_append(m, "ttxt", (uint64_t)e->seq, (uint64_t)c->frame, (int64_t)c->pts_ns,
                              (uint64_t)e->realtime_us);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "(sd)");
    for (guint i = 0; r >= 0 && i < c->n_labels; i++)
        r = sd_bus_message_append(m, "(sd)", c->labels[i], c->scores[i]);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_append(m, "qu", (uint16_t)MIN(c->exit, G_MAXUINT16),
                                  (uint32_t)MIN(c->latency_us, (guint64)G_MAXUINT32));
    if (r < 0) {
        sd_bus_message_unref(m);
        return r;
    }
    *ret = m;
    return 0;
}

/* Queues the Classification signal of E unless the outgoing queue is full (-ENOBUFS). */
static int send_signal(VitdEvents *ev, const VitdPipeline *p, const VitdEvent *e)
{
    uint64_t queued = 0;
    int r = sd_bus_get_n_queued_write(ev->bus, &queued);
    if (r >= 0 && queued >= ev->queue_max)
        r = -ENOBUFS;
    sd_bus_message *m = NULL;
    if (r >= 0)
        r = build_signal(ev, p, e, &m);
    if (r >= 0) {
        r = sd_bus_send(ev->bus, m, NULL);
        sd_bus_message_unref(m);
    }
    return r;
}

void vitd_events_publish(VitdEvents *ev, VitdPipeline *p, const VitdClassification *c)
{
    const VpPipelineSpec *spec = vitd_pipeline_get_spec(p);
    const char *top = c->n_labels > 0 ? c->labels[0] : NULL;
    gint64 now = g_get_monotonic_time();
    EventsStream *s = stream_get(ev, p);

    if (!vitd_publish_should_emit(&s->publish, spec->publish, spec->max_rate, top, now))
        return;
    s->seq++;
    vitd_publish_note_emitted(&s->publish, top, now);
    VitdEvent e = {vitd_pipeline_get_name(p), s->stream, s->seq, (guint64)g_get_real_time(), c};
    int r = send_signal(ev, p, &e);
    if (r < 0)
        s->dropped++;
    if (r < 0 && r != -ENOBUFS) { /* not the queue bound: an event that cannot be sent at all */
        g_autofree char *message = g_strdup_printf(
            "Failed to emit Classification signals: %s (counted in EventsDropped)", g_strerror(-r));
        vitd_pipeline_set_event_error(p, message);
    } else if (r >= 0) {
        vitd_pipeline_set_event_error(p, NULL);
    }
    for (guint i = 0; i < ev->n_sinks; i++)
        ev->sinks[i].func(&e, ev->sinks[i].data);
}

void vitd_events_reset_policy(VitdEvents *ev, const VitdPipeline *p)
{
    EventsStream *s = g_hash_table_lookup(ev->streams, vitd_pipeline_get_name(p));
    if (s)
        vitd_publish_state_clear(&s->publish);
}

void vitd_events_forget(VitdEvents *ev, const VitdPipeline *p)
{
    g_hash_table_remove(ev->streams, vitd_pipeline_get_name(p));
}

guint64 vitd_events_get_dropped(const VitdEvents *ev, const VitdPipeline *p)
{
    const EventsStream *s = g_hash_table_lookup(ev->streams, vitd_pipeline_get_name(p));
    return s ? s->dropped : 0;
}
