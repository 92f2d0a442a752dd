/* vitd-manager.h — the daemon's state: the current config, its pipelines, the bus connections,
 * reload and drain. Internal to vitd. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>
#include "vitd-events.h"
#include "vitd-pipeline.h"
#include "vitpipeline.h"

typedef struct _VitdManager {
    char *config_path;
    gboolean user_bus;     /* session bus: --user or `bus: session` */
    VpConfig *config;      /* current, valid config; pipelines point into it */
    GHashTable *pipelines; /* name -> VitdPipeline*, owned */
    sd_bus *bus;           /* control connection, owns org.vitd1 */
    guint bus_source;
    VitdEvents *events; /* event connection */
    GMainLoop *loop;
    guint poll_timer, watchdog_timer;
    guint64 watchdog_usec;
    gboolean draining;
    gboolean failed; /* a bus connection was lost: exit non-zero so systemd restarts */
    guint draining_left, drain_timer;
    char *status; /* last STATUS= sent by the periodic update */
} VitdManager;

/* Loads CONFIG_PATH (errors in ERROR, FILE:LINE:COL per line). USER_BUS forces the session bus. */
VitdManager *vitd_manager_new(const char *config_path, gboolean user_bus, GError **error);
void vitd_manager_free(VitdManager *m);
/* Connects to the bus, publishes the objects, owns org.vitd1 and starts every pipeline.
 * Returns a negative errno (already logged) on failure. */
int vitd_manager_start(VitdManager *m, GMainLoop *loop);
/* Re-reads the config. On error keeps everything and returns FALSE with ERROR set; on success
 * stops removed pipelines, starts added ones and restarts only those whose spec changed. */
gboolean vitd_manager_reload(VitdManager *m, GError **error);
/* Sends end-of-stream to every pipeline and quits the loop once all drained or after TIMEOUT_MS. */
void vitd_manager_drain(VitdManager *m, guint timeout_ms);

VitdPipeline *vitd_manager_find(VitdManager *m, const char *name);
/* Pipelines in name order (the array does not own them). */
GPtrArray *vitd_manager_list(VitdManager *m);
