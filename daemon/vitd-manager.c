/* vitd-manager.c — owns the config and the set of supervised pipelines.
 *
 * Reload is all-or-nothing: the new config is read and validated (vitd_validate_load: YAML,
 * pipeline descriptions, the launch: allow-list, every model and labels file opened as the
 * runtime would) in a worker thread, so a slow or blocking file never stalls the main loop; if
 * anything is wrong nothing changes. Reloads asked for while one runs wait and share the next
 * run, which reads the files again. A valid config is applied as a diff by pipeline name: removed
 * pipelines stop, new ones start, and pipelines whose spec differs (vp_pipeline_spec_equal) or
 * whose model or labels files changed on disk since their run began (the identity of the files,
 * vitd_validate_files_stamp, as validated now against as taken when the run started) restart;
 * the rest keep running untouched and are re-pointed at the equal spec of the new config
 * before the old one is freed. Each step is told to the listeners (vitd.c wires the D-Bus surface
 * and the event stream to them), so the manager needs neither.
 *
 * A once-a-second timer refreshes counters and Fps and lets supervision catch stalled runs; the
 * watchdog is fed only while no running pipeline has stalled longer than the watchdog period. */
#include "vitd-manager.h"

#include "vitd-log.h"
#include "vitd-notify.h"
#include "vitd-validate.h"

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
    /* Reloads: the callers the running validation will answer, and those that wait for the next
     * one (each a Waiter). reload_token is shared with the worker and cleared by free. */
    GSList *reload_waiters, *reload_next;
    struct ReloadToken *reload_token;
};

typedef struct {
    VitdReloadDone done;
    gpointer user_data;
} Waiter;

/* Lets a worker's result find the manager, or learn it is gone. */
typedef struct ReloadToken {
    VitdManager *m; /* NULL once the manager was freed */
} ReloadToken;

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
    if (m->reload_token)
        m->reload_token->m = NULL; /* the worker's result is dropped */
    g_slist_free_full(m->reload_waiters, g_free);
    g_slist_free_full(m->reload_next, g_free);
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
    vitd_pipeline_set_launch_allow(p, (const char *const *)m->config->launch_allow);
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

/* What a reload's worker validated: the config and the identity of each pipeline's files. */
typedef struct {
    VpConfig *config;
    GHashTable *stamps; /* pipeline name -> vitd_validate_files_stamp() */
} Validated;

static void validated_free(Validated *v)
{
    vp_config_free(v->config);
    g_hash_table_unref(v->stamps);
    g_free(v);
}

/* TRUE when P runs on model or labels files that changed since its run began (and validated
 * now, as STAMP): replaced, rewritten or truncated. */
static gboolean files_changed(VitdPipeline *p, const char *stamp)
{
    const char *was = vitd_pipeline_get_files_stamp(p);
    return was && stamp && strcmp(was, stamp) != 0;
}

/* Applies the validated CONFIG (owned) as a diff against the running set. */
static void reload_apply(VitdManager *m, VpConfig *config, GHashTable *stamps)
{
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
            vitd_pipeline_set_launch_allow(p, (const char *const *)config->launch_allow);
            if (files_changed(p, g_hash_table_lookup(stamps, spec->name))) {
                vitd_pipeline_restart_for_files(p);
                changed++;
            }
        } else {
            vitd_log_full(LOG_INFO, spec->name, NULL, "configuration changed, restarting");
            vitd_pipeline_set_spec(p, spec);
            vitd_pipeline_set_launch_allow(p, (const char *const *)config->launch_allow);
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
}

static void reload_start(VitdManager *m);

/* Answers every waiter of the finished run; ERROR NULL on success. */
static void reload_answer(GSList *waiters, const GError *error)
{
    for (GSList *l = waiters; l; l = l->next) {
        Waiter *w = l->data;
        if (w->done)
            w->done(error, w->user_data);
    }
    g_slist_free_full(waiters, g_free);
}

static void reload_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancel)
{
    GError *error = NULL;
    Validated *v = g_new0(Validated, 1);
    v->stamps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    v->config = vitd_validate_load(task_data, v->stamps, &error);
    if (v->config) {
        g_task_return_pointer(task, v, (GDestroyNotify)validated_free);
    } else {
        validated_free(v);
        g_task_return_error(task, error);
    }
}

/* On the main loop: the worker validated (or rejected) the config. */
static void reload_finished(GObject *source, GAsyncResult *result, gpointer data)
{
    ReloadToken *token = data;
    VitdManager *m = token->m;
    g_autoptr(GError) err = NULL;
    Validated *v = g_task_propagate_pointer(G_TASK(result), &err);

    g_free(token);
    if (!m) { /* the manager is gone (shutdown) */
        if (v)
            validated_free(v);
        return;
    }
    m->reload_token = NULL;
    GSList *waiters = g_steal_pointer(&m->reload_waiters);
    if (v && m->draining) {
        validated_free(g_steal_pointer(&v));
        g_set_error_literal(&err, G_IO_ERROR, G_IO_ERROR_BUSY, "vitd is shutting down");
    }
    if (v) {
        reload_apply(m, g_steal_pointer(&v->config), v->stamps);
        validated_free(v);
    } else if (!m->draining) {
        vitd_log_full(LOG_ERR, NULL, "vp-config-error",
                      "Reload rejected, keeping the running configuration:\n%s", err->message);
        vitd_notify_ready("Reload rejected: invalid configuration");
    }
    reload_answer(waiters, err);
    if (m->reload_next && !m->draining)
        reload_start(m);
}

static void reload_start(VitdManager *m)
{
    m->reload_waiters = g_steal_pointer(&m->reload_next);
    m->reload_token = g_new0(ReloadToken, 1);
    m->reload_token->m = m;
    vitd_notify_reloading();
    g_autoptr(GTask) task = g_task_new(NULL, NULL, reload_finished, m->reload_token);
    g_task_set_task_data(task, g_strdup(m->config_path), g_free);
    g_task_run_in_thread(task, reload_thread);
}

void vitd_manager_reload(VitdManager *m, VitdReloadDone done, gpointer user_data)
{
    if (m->draining) {
        g_autoptr(GError) err =
            g_error_new_literal(G_IO_ERROR, G_IO_ERROR_BUSY, "vitd is shutting down");
        if (done)
            done(err, user_data);
        return;
    }
    Waiter *w = g_new0(Waiter, 1);
    w->done = done;
    w->user_data = user_data;
    m->reload_next = g_slist_append(m->reload_next, w);
    if (!m->reload_token)
        reload_start(m);
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
