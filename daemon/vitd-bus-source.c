/* vitd-bus-source.c — connecting to a bus, and a GSource that runs sd-bus on the GLib loop.
 *
 * sd-bus exposes what it waits for: sd_bus_get_fd(), sd_bus_get_events() (POLLIN, plus POLLOUT
 * while its write queue is not empty) and sd_bus_get_timeout() (an absolute CLOCK_MONOTONIC
 * deadline, 0 when it already has work). prepare() copies those into the poll record before each
 * iteration; dispatch() calls sd_bus_process() until it has nothing left, bounded so a flood of
 * incoming messages cannot starve the GStreamer bus watches on the same loop. */
#include "vitd-bus-source.h"

#include "vitd-log.h"

#define MAX_PROCESS_PER_DISPATCH 64

typedef struct {
    GSource source;
    sd_bus *bus;
    gpointer fd_tag;
    VitdBusLost on_lost;
    gpointer user_data;
} BusSource;

int vitd_bus_connect(gboolean user_bus, const char *description, sd_bus **ret)
{
    int r = user_bus ? sd_bus_open_user_with_description(ret, description)
                     : sd_bus_open_system_with_description(ret, description);
    if (r < 0)
        return vitd_log_errno(r, "Failed to connect to the %s bus",
                              user_bus ? "session" : "system");
    return 0;
}

static gboolean bus_source_prepare(GSource *source, gint *timeout)
{
    BusSource *s = (BusSource *)source;
    uint64_t deadline = UINT64_MAX;

    int events = sd_bus_get_events(s->bus);
    if (events >= 0)
        g_source_modify_unix_fd(source, s->fd_tag, (GIOCondition)events);

    *timeout = -1;
    if (sd_bus_get_timeout(s->bus, &deadline) < 0 || deadline == UINT64_MAX)
        return FALSE;
    gint64 now = g_get_monotonic_time();
    if ((gint64)deadline <= now) {
        *timeout = 0;
        return TRUE;
    }
    guint64 wait_ms = ((guint64)deadline - (guint64)now + 999) / 1000;
    *timeout = (gint)MIN(wait_ms, (guint64)G_MAXINT);
    return FALSE;
}

static gboolean bus_source_check(GSource *source)
{
    BusSource *s = (BusSource *)source;
    uint64_t deadline = UINT64_MAX;

    if (g_source_query_unix_fd(source, s->fd_tag) != 0)
        return TRUE;
    return sd_bus_get_timeout(s->bus, &deadline) >= 0 && deadline != UINT64_MAX &&
           (gint64)deadline <= g_get_monotonic_time();
}

static gboolean bus_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    BusSource *s = (BusSource *)source;

    for (int i = 0; i < MAX_PROCESS_PER_DISPATCH; i++) {
        int r = sd_bus_process(s->bus, NULL);
        if (r == 0)
            break;
        if (r < 0) {
            const char *desc = NULL;
            sd_bus_get_description(s->bus, &desc);
            vitd_log_errno(r, "D-Bus connection %s failed", desc ? desc : "?");
            if (s->on_lost)
                s->on_lost(s->bus, s->user_data);
            return G_SOURCE_REMOVE;
        }
    }
    return G_SOURCE_CONTINUE;
}

static void bus_source_finalize(GSource *source)
{
    BusSource *s = (BusSource *)source;
    s->bus = sd_bus_unref(s->bus);
}

static GSourceFuncs bus_source_funcs = {
    .prepare = bus_source_prepare,
    .check = bus_source_check,
    .dispatch = bus_source_dispatch,
    .finalize = bus_source_finalize,
};

guint vitd_bus_source_attach(sd_bus *bus, VitdBusLost on_lost, gpointer user_data)
{
    GSource *source = g_source_new(&bus_source_funcs, sizeof(BusSource));
    BusSource *s = (BusSource *)source;
    s->bus = sd_bus_ref(bus);
    s->on_lost = on_lost;
    s->user_data = user_data;
    s->fd_tag = g_source_add_unix_fd(source, sd_bus_get_fd(bus), G_IO_IN);
    g_source_set_name(source, "sd-bus");
    guint id = g_source_attach(source, NULL);
    g_source_unref(source);
    return id;
}

void vitd_bus_source_detach(guint id)
{
    GSource *source = id ? g_main_context_find_source_by_id(NULL, id) : NULL;
    if (source)
        g_source_destroy(source);
}
