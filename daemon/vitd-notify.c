/* vitd-notify.c — talks to the service manager. All calls are no-ops outside systemd
 * ($NOTIFY_SOCKET unset). The watchdog is fed from the main loop, and only when the caller's
 * health check says frames flow, so a wedged main loop or a stalled pipeline that supervision
 * cannot recover lets systemd restart the service. */
#include "vitd-notify.h"

#include <time.h>
#include <systemd/sd-daemon.h>

void vitd_notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void vitd_notify_status(const char *status)
{
    sd_notifyf(0, "STATUS=%s", status);
}

void vitd_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long usec =
        (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
    sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=%llu", usec);
}

void vitd_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=Draining pipelines");
}

typedef struct {
    VitdWatchdogHealthy healthy;
    gpointer user_data;
} Watchdog;

static gboolean watchdog_tick(gpointer data)
{
    Watchdog *w = data;
    if (w->healthy(w->user_data))
        sd_notify(0, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

guint vitd_notify_watchdog_start(VitdWatchdogHealthy healthy, gpointer user_data, guint64 *ret_usec)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    Watchdog *w = g_new0(Watchdog, 1);
    w->healthy = healthy;
    w->user_data = user_data;
    if (ret_usec)
        *ret_usec = usec;
    guint interval_ms = (guint)MAX(usec / 2000, 1);
    return g_timeout_add_full(G_PRIORITY_DEFAULT, interval_ms, watchdog_tick, w, g_free);
}
