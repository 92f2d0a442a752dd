/* vitd-manager.h — the daemon's state: the current config, its pipelines, reload and drain.
 * Internal to vitd. The manager knows nothing of D-Bus: what others must hear about (pipelines
 * added, removed, changed, classifications) goes to the listeners vitd.c registers. */
#pragma once

#include <glib.h>
#include "vitd-pipeline.h"
#include "vitpipeline.h"

typedef struct _VitdManager VitdManager;

/* What the manager tells its listeners. Every member may be NULL; all run on the main loop. */
typedef struct {
    /* A reload added P (the pipelines of the first config are not announced). */
    void (*added)(VitdPipeline *p, gpointer user_data);
    /* A reload removed P; it is stopped and freed after this returns. */
    void (*removed)(VitdPipeline *p, gpointer user_data);
    /* State, LastError or Restarts of P changed. */
    void (*changed)(VitdPipeline *p, gpointer user_data);
    /* A reload changed P's spec; P restarts after this returns. */
    void (*reconfigured)(VitdPipeline *p, gpointer user_data);
    /* P posted a classification. */
    void (*classified)(VitdPipeline *p, const VitdClassification *c, gpointer user_data);
    /* A reload succeeded; CONFIG is the new configuration (daemon-wide settings such as mqtt:). */
    void (*reloaded)(const VpConfig *config, gpointer user_data);
} VitdManagerListener;

/* Loads CONFIG_PATH (errors in ERROR, FILE:LINE:COL per line). USER_BUS forces the session bus. */
VitdManager *vitd_manager_new(const char *config_path, gboolean user_bus, GError **error);
/* Stops and frees every pipeline, then M. Accepts NULL. */
void vitd_manager_free(VitdManager *m);
/* Adds LISTENER (static storage) with USER_DATA; at most VITD_MANAGER_LISTENERS_MAX. */
void vitd_manager_add_listener(VitdManager *m, const VitdManagerListener *listener,
                               gpointer user_data);
/* TRUE when the session bus is to be used (--user or `bus: session` in the config). */
gboolean vitd_manager_uses_session_bus(const VitdManager *m);
/* Starts every pipeline and the periodic timers, and tells the service manager READY; LOOP is
 * quit when a drain completes. */
void vitd_manager_start(VitdManager *m, GMainLoop *loop);
/* How a reload ended: ERROR NULL when the new config was applied; else why it was rejected
 * (VP_CONFIG_ERROR: FILE:LINE:COL lines) and nothing changed. Called on the main loop. */
typedef void (*VitdReloadDone)(const GError *error, gpointer user_data);
/* Re-reads and validates the config in a worker thread (models opened as the runtime would, so
 * this may take a while and never blocks the main loop), then, on the main loop: on error keeps
 * everything; on success stops removed pipelines, starts added ones and restarts only those
 * whose spec changed. DONE (may be NULL; errors are logged anyway) is called once with the
 * outcome, possibly before this returns. */
void vitd_manager_reload(VitdManager *m, VitdReloadDone done, gpointer user_data);
/* Sends end-of-stream to every pipeline and quits the loop once all drained or after TIMEOUT_MS. */
void vitd_manager_drain(VitdManager *m, guint timeout_ms);
/* TRUE once a drain began (shutdown). */
gboolean vitd_manager_is_draining(const VitdManager *m);

VitdPipeline *vitd_manager_find(VitdManager *m, const char *name);
/* The configuration running now (replaced by each successful reload). */
const VpConfig *vitd_manager_get_config(const VitdManager *m);
/* Pipelines in name order (the array does not own them). */
GPtrArray *vitd_manager_list(VitdManager *m);

#define VITD_MANAGER_LISTENERS_MAX 4
