/* vitd-events.c — streams Classification signals without ever blocking.
 *
 * Signals go out on a second bus connection, so method replies and PropertiesChanged on the
 * control connection never queue behind frames. sd-bus writes non-blockingly: what the socket
 * does not take stays in the connection's write queue, flushed from the main loop. When the bus
 * (or a subscriber, through it) is slow, that queue grows; past QUEUE_MAX messages new signals
 * are dropped and counted in the pipeline's EventsDropped instead of buffering without bound.
 * `seq` is assigned only to signals that were actually queued, so it has no gaps: a subscriber
 * that sees seq jump knows it lost signals in the bus, not in vitd.
 *
 * Because the signals' sender is this second connection (not the owner of org.vitd1), clients
 * match them by interface/path, or by sender=org.vitd1.Events, the name this connection owns. */
#include "vitd-events.h"

#include "vitd-log.h"
#include "vitd-names.h"

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

struct _VitdEvents {
    sd_bus *bus;
    guint source_id;
    uint64_t queue_max;
    gboolean warned;
};

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

static int build_signal(VitdEvents *ev, const VitdPipeline *p, const VitdClassification *c,
                        guint64 seq, sd_bus_message **ret)
{
    sd_bus_message *m = NULL;
    int r =
        sd_bus_message_new_signal(ev->bus, &m, p->path, VITD_PIPELINE_INTERFACE, "Classification");
    if (r < 0)
        return r;
    r = sd_bus_message_append(m, "ttxt", (uint64_t)seq, (uint64_t)c->frame, (int64_t)c->pts_ns,
                              (uint64_t)g_get_real_time());
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

void vitd_events_publish(VitdEvents *ev, VitdPipeline *p, const VitdClassification *c)
{
    const char *top = c->n_labels > 0 ? c->labels[0] : NULL;
    gint64 now = g_get_monotonic_time();

    if (!vitd_publish_should_emit(&p->publish, p->spec->publish, p->spec->max_rate, top, now))
        return;

    uint64_t queued = 0;
    int r = sd_bus_get_n_queued_write(ev->bus, &queued);
    if (r >= 0 && queued >= ev->queue_max)
        r = -ENOBUFS;
    sd_bus_message *m = NULL;
    if (r >= 0)
        r = build_signal(ev, p, c, p->seq + 1, &m);
    if (r >= 0) {
        r = sd_bus_send(ev->bus, m, NULL);
        sd_bus_message_unref(m);
    }
    if (r < 0) {
        p->events_dropped++;
        if (r != -ENOBUFS && !ev->warned) {
            ev->warned = TRUE;
            vitd_log_full(LOG_WARNING, p->name, NULL, "Failed to emit Classification: %s",
                          g_strerror(-r));
        }
        return;
    }
    p->seq++;
    vitd_publish_note_emitted(&p->publish, top, now);
}

void vitd_events_reset_policy(VitdEvents *ev, VitdPipeline *p)
{
    vitd_publish_state_clear(&p->publish);
}
