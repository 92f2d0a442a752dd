/* vitd-notify.h — the sd_notify protocol: readiness, status, reload, stop and watchdog. */
#pragma once

#include <glib.h>

void vitd_notify_ready(const char *status);
void vitd_notify_status(const char *status);
/* RELOADING=1 with MONOTONIC_USEC (systemd >= 253 wants it; 252 ignores it). */
void vitd_notify_reloading(void);
void vitd_notify_stopping(void);

/* Returns TRUE when WATCHDOG=1 may be sent: the daemon's work is progressing. */
typedef gboolean (*VitdWatchdogHealthy)(gpointer user_data);
/* When the service manager asked for a watchdog (WATCHDOG_USEC), pings at half its period, but
 * only while HEALTHY returns TRUE. Returns the GSource id, or 0 when no watchdog is wanted. */
guint vitd_notify_watchdog_start(VitdWatchdogHealthy healthy, gpointer user_data,
                                 guint64 *ret_usec);
