/* vitd-manager.c — owns the config and the set of supervised pipelines.
 *
 * Reload is all-or-nothing: vp_config_load() either returns a complete valid config or errors, in
 * which case nothing changes. A valid config is applied as a diff by pipeline name: removed
 * pipelines stop, new ones start, and pipelines whose spec differs (vp_pipeline_spec_equal)
 * restart; the rest keep running untouched and are re-pointed at the equal spec of the new config
 * before the old one is freed. Each step is told to the listeners (vitd.c wires the D-Bus surface
 * and the event stream to them), so the manager needs neither.
 *
 * A once-a-second timer refreshes counters and Fps and lets supervision catch stalled runs; the
 * watchdog is fed only while no running pipeline has stalled longer than the watchdog period. */
#include "vitd-manager.h"

#include "vitd-log.h"
#include "vitd-notify.h"

#include <gio/gio.h>

struct _VitdManager {
    char *config_path;
    gboolean user_bus;     /* session bus: --user or `bus: session` */
    VpConfig *config;      /* current, valid config; pipelines point into it */
    GHashTable *pipelines; /* name -> VitdPipeline*, owned */
    struct {
        const VitdManagerListener *cb;
        gpointer data;
    } listeners[VITD_MANAGER_LISTENERS_MAX];
    guint n_listeners;
    GMainLoop *loop;
    guint poll_timer, watchdog_timer;
    guint64 watchdog_usec;
    gboolean draining;
    guint draining_left, drain_timer;
    char *status; /* last STATUS= sent by the periodic update */
};

/* Calls EVENT(args..., user data) of every listener that has it. */
#define NOTIFY(m, event, ...)                                                                      \
    for (guint i_ = 0; i_ < (m)->n_listeners; i_++) {                                              \
        if ((m)->listeners[i_].cb->event)                                                          \
            (m)->listeners[i_].cb->event(__VA_ARGS__, (m)->listeners[i_].data);                    \
    }

void vitd_manager_add_listener(VitdManager *m, const VitdManagerListener *listener,
                               gpointer user_data)
{
    g_return_if_fail(m->n_listeners < VITD_MANAGER_LISTENERS_MAX);
    m->listeners[m->n_listeners].cb = listener;
    m->listeners[m->n_listeners].data = user_data;
    m->n_listeners++;
}

gboolean vitd_manager_uses_session_bus(const VitdManager *m)
{
    return m->user_bus;
}

gboolean vitd_manager_is_draining(const VitdManager *m)
{
    return m->draining;
}

static void on_pipeline_changed(VitdPipeline *p, gpointer data)
{
    NOTIFY((VitdManager *)data, changed, p);
}

static void on_pipeline_classified(VitdPipeline *p, const VitdClassification *c, gpointer data)
{
    NOTIFY((VitdManager *)data, classified, p, c);
}

static void drain_finish(VitdManager *m)
{
    if (m->drain_timer) {
        g_source_remove(m->drain_timer);
        m->drain_timer = 0;
    }
    if (m->loop)
        g_main_loop_quit(m->loop);
}

static void on_pipeline_drained(VitdPipeline *p, gpointer data)
{
    VitdManager *m = data;
    if (m->draining && m->draining_left > 0 && --m->draining_left == 0)
        drain_finish(m);
}

static const VitdPipelineCallbacks pipeline_callbacks = {
    .changed = on_pipeline_changed,
    .classified = on_pipeline_classified,
    .drained = on_pipeline_drained,
};

static int compare_by_name(gconstpointer a, gconstpointer b)
{
    const VitdPipeline *pa = *(VitdPipeline *const *)a, *pb = *(VitdPipeline *const *)b;
    return strcmp(vitd_pipeline_get_name(pa), vitd_pipeline_get_name(pb));
}

GPtrArray *vitd_manager_list(VitdManager *m)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, m->pipelines);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(list, value);
    g_ptr_array_sort(list, compare_by_name);
    return list;
}

VitdPipeline *vitd_manager_find(VitdManager *m, const char *name)
{
    return g_hash_table_lookup(m->pipelines, name);
}

const VpConfig *vitd_manager_get_config(const VitdManager *m)
{
    return m->config;
}

static void update_status(VitdManager *m)
{
    guint running = 0, total = g_hash_table_size(m->pipelines);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, m->pipelines);
    while (g_hash_table_iter_next(&it, NULL, &value))
        running += vitd_pipeline_get_state(value) == VITD_PIPELINE_RUNNING;
    g_autofree char *status = g_strdup_printf("%u of %u pipelines running", running, total);
    if (g_strcmp0(status, m->status) != 0) {
        vitd_notify_status(status);
        g_free(m->status);
        m->status = g_steal_pointer(&status);
    }
}

static gboolean poll_tick(gpointer data)
{
    VitdManager *m = data;
    gint64 now = g_get_monotonic_time();
    g_autoptr(GPtrArray) list = vitd_manager_list(m);
    for (guint i = 0; i < list->len; i++)
        vitd_pipeline_poll(list->pdata[i], now);
    update_status(m);
    return G_SOURCE_CONTINUE;
}

static gboolean watchdog_healthy(gpointer data)
{
    VitdManager *m = data;
    gint64 now = g_get_monotonic_time();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, m->pipelines);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (vitd_pipeline_is_stalled(value, now, (gint64)m->watchdog_usec))
            return FALSE;
    return TRUE;
}

VitdManager *vitd_manager_new(const char *config_path, gboolean user_bus, GError **error)
{
    VpConfig *config = vp_config_load(config_path, error);
    if (!config)
        return NULL;
    VitdManager *m = g_new0(VitdManager, 1);
    m->config_path = g_strdup(config_path);
    m->config = config;
    m->user_bus = user_bus || config->bus == VP_BUS_SESSION;
    m->pipelines =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)vitd_pipeline_free);
    return m;
}

void vitd_manager_free(VitdManager *m)
{
    if (!m)
        return;
    if (m->poll_timer)
        g_source_remove(m->poll_timer);
    if (m->watchdog_timer)
        g_source_remove(m->watchdog_timer);
    if (m->drain_timer)
        g_source_remove(m->drain_timer);
    g_hash_table_destroy(m->pipelines); /* stops every pipeline */
    vp_config_free(m->config);
    g_free(m->status);
    g_free(m->config_path);
    g_free(m);
}

/* Creates, publishes and starts the pipeline of SPEC. */
static void add_pipeline(VitdManager *m, const VpPipelineSpec *spec, gboolean announce)
{
    VitdPipeline *p = vitd_pipeline_new(spec, &pipeline_callbacks, m);
    if (!p) {
        vitd_log_full(LOG_ERR, spec->name, NULL, "Out of memory");
        return;
    }
    g_hash_table_insert(m->pipelines, (gpointer)vitd_pipeline_get_name(p), p);
    if (announce)
        NOTIFY(m, added, p);
    vitd_pipeline_start(p);
}

void vitd_manager_start(VitdManager *m, GMainLoop *loop)
{
    m->loop = loop;
    for (guint i = 0; i < m->config->pipelines->len; i++)
        add_pipeline(m, m->config->pipelines->pdata[i], FALSE);
    m->poll_timer = g_timeout_add_seconds(1, poll_tick, m);
    m->watchdog_timer = vitd_notify_watchdog_start(watchdog_healthy, m, &m->watchdog_usec);
    vitd_log_info("vitd %s on the %s bus, %u pipelines from %s", VITD_VERSION,
                  m->user_bus ? "session" : "system", m->config->pipelines->len, m->config_path);
    g_autofree char *status = g_strdup_printf("%u pipelines configured", m->config->pipelines->len);
    vitd_notify_ready(status);
}

gboolean vitd_manager_reload(VitdManager *m, GError **error)
{
    if (m->draining) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_BUSY, "vitd is shutting down");
        return FALSE;
    }
    vitd_notify_reloading();
    g_autoptr(GError) err = NULL;
    VpConfig *config = vp_config_load(m->config_path, &err);
    if (!config) {
        vitd_log_full(LOG_ERR, NULL, "vp-config-error",
                      "Reload rejected, keeping the running "
                      "configuration:\n%s",
                      err->message);
        vitd_notify_ready("Reload rejected: invalid configuration");
        g_propagate_error(error, g_steal_pointer(&err));
        return FALSE;
    }
    if ((config->bus == VP_BUS_SESSION) != (m->config->bus == VP_BUS_SESSION))
        vitd_log_warning("The bus setting changed; it takes effect when vitd restarts");

    /* Removed pipelines go first, while the old config their specs live in is still valid. */
    g_autoptr(GPtrArray) old = vitd_manager_list(m);
    guint removed = 0, added = 0, changed = 0;
    for (guint i = 0; i < old->len; i++) {
        VitdPipeline *p = old->pdata[i];
        const char *name = vitd_pipeline_get_name(p);
        if (vp_config_find(config, name))
            continue;
        vitd_log_full(LOG_INFO, name, NULL, "removed from the configuration");
        vitd_pipeline_stop(p);
        NOTIFY(m, removed, p);
        g_hash_table_remove(m->pipelines, name);
        removed++;
    }
    for (guint i = 0; i < config->pipelines->len; i++) {
        const VpPipelineSpec *spec = config->pipelines->pdata[i];
        VitdPipeline *p = vitd_manager_find(m, spec->name);
        if (!p) {
            add_pipeline(m, spec, TRUE);
            added++;
        } else if (vp_pipeline_spec_equal(vitd_pipeline_get_spec(p), spec)) {
            vitd_pipeline_set_spec(p, spec);
        } else {
            vitd_log_full(LOG_INFO, spec->name, NULL, "configuration changed, restarting");
            vitd_pipeline_set_spec(p, spec);
            NOTIFY(m, reconfigured, p);
            vitd_pipeline_start(p);
            changed++;
        }
    }
    vp_config_free(m->config);
    m->config = config;
    NOTIFY(m, reloaded, config);
    vitd_log_info("Reloaded %s: %u added, %u removed, %u restarted", m->config_path, added, removed,
                  changed);
    g_autofree char *status =
        g_strdup_printf("Reloaded: %u added, %u removed, %u restarted", added, removed, changed);
    vitd_notify_ready(status);
    return TRUE;
}

static gboolean drain_timeout(gpointer data)
{
    VitdManager *m = data;
    m->drain_timer = 0;
    vitd_log_warning("%u pipelines did not drain in time, stopping them", m->draining_left);
    drain_finish(m);
    return G_SOURCE_REMOVE;
}

void vitd_manager_drain(VitdManager *m, guint timeout_ms)
{
    if (m->draining)
        return;
    m->draining = TRUE;
    vitd_notify_stopping();
    vitd_log_info("Draining pipelines");
    g_autoptr(GPtrArray) list = vitd_manager_list(m);
    for (guint i = 0; i < list->len; i++)
        if (vitd_pipeline_drain(list->pdata[i]))
            m->draining_left++;
    if (m->draining_left == 0)
        drain_finish(m);
    else
        m->drain_timer = g_timeout_add(timeout_ms, drain_timeout, m);
}
