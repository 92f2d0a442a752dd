/* vitd-bus.c — the whole control D-Bus surface, as two static vtables.
 *
 * org.vitd1.Manager (/org/vitd1): ListPipelines, Reload, Start/Stop/RestartPipeline,
 * PipelineAdded/PipelineRemoved, Version, and the MQTT sink's MqttState, MqttSpooled,
 * MqttDropped, MqttLastError. org.vitd1.Pipeline: one fallback vtable under
 * /org/vitd1/pipeline whose find callback decodes the path to a pipeline name, so objects appear
 * and vanish with the config without registering anything per pipeline. The Classification
 * signal is declared here for introspection but sent by vitd-events on its own connection.
 *
 * State, LastError, PreviousError and Restarts emit PropertiesChanged; the counters change every
 * frame and are read on demand (EmitsChangedSignal=false). Control methods check the caller's
 * credentials (root, group vitd, or on the session bus the daemon's own uid) on top of the bus
 * policy; refused calls are logged, at most one line per second with a count of the others, so
 * a caller in a loop cannot flood the journal. Names from callers are shortened in errors and
 * logs (vitd_name_shorten). Reload answers when the worker that validates the new config is
 * done, never blocking the connection meanwhile.
 *
 * This file calls into the manager (list, find, reload, start/stop); the manager never calls
 * back here: PipelineAdded/Removed and PropertiesChanged are sent by the vitd_bus_emit_*
 * functions, which vitd.c registers as a manager listener. */
#include "vitd-bus.h"

#include "vitd-bus-source.h"
#include "vitd-log.h"
#include "vitd-names.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _VitdBus {
    sd_bus *bus;
    guint source_id;
    VitdManager *manager;
    VitdEvents *events; /* for EventsDropped; NULL until set */
    VitdMqttSink *mqtt; /* for the Mqtt* properties; NULL until set */
    gboolean user_bus;
    gint64 refused_logged_us; /* when the last refusal was logged */
    guint refused_unlogged;   /* refusals since then that were not */
};

#define REFUSED_LOG_INTERVAL_US G_USEC_PER_SEC

/* Logs a refused control call, rate-limited. */
static void log_refused(VitdBus *b, sd_bus_message *msg, uid_t uid, gboolean known)
{
    gint64 now = g_get_monotonic_time();
    if (b->refused_logged_us && now - b->refused_logged_us < REFUSED_LOG_INTERVAL_US) {
        b->refused_unlogged++;
        return;
    }
    g_autofree char *more =
        b->refused_unlogged
            ? g_strdup_printf(" (and %u more refused calls in the last %.1f s, "
                              "not logged)",
                              b->refused_unlogged, (double)(now - b->refused_logged_us) / 1e6)
            : g_strdup("");
    g_autofree char *who =
        known ? g_strdup_printf("uid %u", (unsigned)uid) : g_strdup("unknown uid");
    vitd_log_full(LOG_WARNING, NULL, "vitd-access-denied",
                  "Refused %s from %s (%s): only root and group %s may control vitd%s",
                  sd_bus_message_get_member(msg), sd_bus_message_get_sender(msg), who,
                  VITD_CONTROL_GROUP, more);
    b->refused_logged_us = now;
    b->refused_unlogged = 0;
}

/* ---- access control ---- */

static gboolean uid_in_group(uid_t uid, gid_t gid)
{
    struct passwd *pw = getpwuid(uid);
    if (!pw)
        return FALSE;
    int n = 64;
    g_autofree gid_t *groups = g_new(gid_t, n);
    if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) {
        groups = g_renew(gid_t, groups, n);
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
            return FALSE;
    }
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return TRUE;
    return FALSE;
}

static gboolean creds_in_group(sd_bus_creds *creds, uid_t uid, gid_t gid)
{
    gid_t egid;
    const gid_t *gids = NULL;
    if (sd_bus_creds_get_egid(creds, &egid) >= 0 && egid == gid)
        return TRUE;
    int n = sd_bus_creds_get_supplementary_gids(creds, &gids);
    if (n >= 0) {
        for (int i = 0; i < n; i++)
            if (gids[i] == gid)
                return TRUE;
        return FALSE;
    }
    return uid_in_group(uid, gid); /* the bus did not tell: use the group database */
}

static int check_control_access(VitdBus *b, sd_bus_message *msg, sd_bus_error *error)
{
    sd_bus_creds *creds = NULL;
    uid_t uid = 0;
    gboolean allowed = FALSE, known = FALSE;

    int r = sd_bus_query_sender_creds(msg,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID | SD_BUS_CREDS_PID |
                                          SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS |
                                          SD_BUS_CREDS_AUGMENT,
                                      &creds);
    if (r >= 0 &&
        (sd_bus_creds_get_euid(creds, &uid) >= 0 || sd_bus_creds_get_uid(creds, &uid) >= 0)) {
        known = TRUE;
        struct group *gr = getgrnam(VITD_CONTROL_GROUP);
        allowed = uid == 0 || (b->user_bus && uid == geteuid()) ||
                  (gr && creds_in_group(creds, uid, gr->gr_gid));
    }
    sd_bus_creds_unref(creds);
    if (allowed)
        return 0;
    log_refused(b, msg, uid, known);
    return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                             "%s is only allowed for root and members of group %s",
                             sd_bus_message_get_member(msg), VITD_CONTROL_GROUP);
}

/* ---- org.vitd1.Manager ---- */

static int method_list_pipelines(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
    VitdBus *b = userdata;
    sd_bus_message *reply = NULL;
    g_autoptr(GPtrArray) list = vitd_manager_list(b->manager);

    int r = sd_bus_message_new_method_return(msg, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(sso)");
    for (guint i = 0; r >= 0 && i < list->len; i++) {
        VitdPipeline *p = list->pdata[i];
        r = sd_bus_message_append(reply, "(sso)", vitd_pipeline_get_name(p),
                                  vitd_pipeline_state_to_string(vitd_pipeline_get_state(p)),
                                  vitd_pipeline_get_path(p));
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

/* The answer to a Reload call, once the manager is done (MSG holds a reference). */
static void reload_done(const GError *err, gpointer data)
{
    sd_bus_message *msg = data;
    if (!err)
        sd_bus_reply_method_return(msg, NULL);
    else if (err->domain == VP_CONFIG_ERROR)
        sd_bus_reply_method_error(
            msg, &SD_BUS_ERROR_MAKE_CONST(VITD_ERROR_INVALID_CONFIG, err->message));
    else
        sd_bus_reply_method_error(msg, &SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_FAILED, err->message));
    sd_bus_message_unref(msg);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
    VitdBus *b = userdata;

    int r = check_control_access(b, msg, error);
    if (r < 0)
        return r;
    if (vitd_manager_is_draining(b->manager))
        return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "vitd is shutting down");
    vitd_manager_reload(b->manager, reload_done, sd_bus_message_ref(msg));
    return 1; /* answered by reload_done */
}

typedef void (*PipelineAction)(VitdPipeline *p);

static int control_pipeline(sd_bus_message *msg, VitdBus *b, PipelineAction action,
                            sd_bus_error *error)
{
    const char *name = NULL;
    int r = check_control_access(b, msg, error);
    if (r < 0)
        return r;
    r = sd_bus_message_read(msg, "s", &name);
    if (r < 0)
        return r;
    VitdPipeline *p = vitd_manager_find(b->manager, name);
    if (!p) {
        g_autofree char *shown = vitd_name_shorten(name);
        return sd_bus_error_setf(error, VITD_ERROR_NO_SUCH_PIPELINE, "No pipeline named '%s'",
                                 shown ? shown : "?");
    }
    vitd_log_full(LOG_NOTICE, vitd_pipeline_get_name(p), NULL, "%s requested over D-Bus",
                  sd_bus_message_get_member(msg));
    action(p);
    return sd_bus_reply_method_return(msg, NULL);
}

static int method_start_pipeline(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
    return control_pipeline(msg, userdata, vitd_pipeline_start, error);
}

static int method_stop_pipeline(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
    return control_pipeline(msg, userdata, vitd_pipeline_stop, error);
}

static int method_restart_pipeline(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
    /* Start resets the backoff and relaunches from any state. */
    return control_pipeline(msg, userdata, vitd_pipeline_start, error);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error)
{
    return sd_bus_message_append(reply, "s", VITD_VERSION);
}

/* MqttState, MqttLastError (s) and MqttSpooled, MqttDropped (t). */
static int property_get_mqtt(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error)
{
    VitdBus *b = userdata;
    VitdMqttStatus st = {VITD_MQTT_DISABLED, 0, 0, NULL};
    if (b->mqtt)
        vitd_mqtt_sink_get_status(b->mqtt, &st);
    int r;
    if (strcmp(property, "MqttState") == 0)
        r = sd_bus_message_append(reply, "s", vitd_mqtt_state_to_string(st.state));
    else if (strcmp(property, "MqttLastError") == 0)
        r = sd_bus_message_append(reply, "s", st.last_error ? st.last_error : "");
    else
        r = sd_bus_message_append(
            reply, "t", (uint64_t)(strcmp(property, "MqttSpooled") == 0 ? st.spooled : st.dropped));
    vitd_mqtt_status_clear(&st);
    return r;
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("MqttState", "s", property_get_mqtt, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("MqttSpooled", "t", property_get_mqtt, 0, 0),
    SD_BUS_PROPERTY("MqttDropped", "t", property_get_mqtt, 0, 0),
    SD_BUS_PROPERTY("MqttLastError", "s", property_get_mqtt, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_METHOD_WITH_NAMES("ListPipelines", "", SD_BUS_PARAM(), "a(sso)", SD_BUS_PARAM(pipelines),
                             method_list_pipelines, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Reload", "", "", method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("StartPipeline", "s", SD_BUS_PARAM(name), "", SD_BUS_PARAM(),
                             method_start_pipeline, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("StopPipeline", "s", SD_BUS_PARAM(name), "", SD_BUS_PARAM(),
                             method_stop_pipeline, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_NAMES("RestartPipeline", "s", SD_BUS_PARAM(name), "", SD_BUS_PARAM(),
                             method_restart_pipeline, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_NAMES("PipelineAdded", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
    SD_BUS_SIGNAL_WITH_NAMES("PipelineRemoved", "so", SD_BUS_PARAM(name) SD_BUS_PARAM(path), 0),
    SD_BUS_VTABLE_END,
};

/* ---- org.vitd1.Pipeline ---- */

/* The pipeline whose object PATH is, or NULL. The fallback vtable's userdata is the VitdBus
 * (EventsDropped needs the event stream), so the getters look the pipeline up here. */
static VitdPipeline *pipeline_at(VitdBus *b, const char *path)
{
    char *name = vitd_pipeline_name_from_path(path);
    if (!name)
        return NULL;
    VitdPipeline *p = vitd_manager_find(b->manager, name);
    free(name);
    return p;
}

static const char *pipeline_source(const VpPipelineSpec *spec)
{
    return spec->source ? spec->source : spec->launch ? spec->launch : "";
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error)
{
    VitdPipeline *p = pipeline_at(userdata, path);
    if (!p)
        return -ENOENT;
    const VpPipelineSpec *spec = vitd_pipeline_get_spec(p);
    const char *v = "";
    if (strcmp(property, "Name") == 0)
        v = vitd_pipeline_get_name(p);
    else if (strcmp(property, "State") == 0)
        v = vitd_pipeline_state_to_string(vitd_pipeline_get_state(p));
    else if (strcmp(property, "Model") == 0)
        v = spec->model ? spec->model : "";
    else if (strcmp(property, "Source") == 0)
        v = pipeline_source(spec);
    else if (strcmp(property, "LastError") == 0)
        v = vitd_pipeline_get_last_error(p);
    else if (strcmp(property, "PreviousError") == 0)
        v = vitd_pipeline_get_previous_error(p);
    return sd_bus_message_append(reply, "s", v);
}

static int property_get_counter(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error)
{
    VitdBus *b = userdata;
    VitdPipeline *p = pipeline_at(b, path);
    if (!p)
        return -ENOENT;
    VitdPipelineCounters c = vitd_pipeline_get_counters(p);
    guint64 v = 0;
    if (strcmp(property, "FramesSeen") == 0)
        v = c.frames_seen;
    else if (strcmp(property, "FramesClassified") == 0)
        v = c.frames_classified;
    else if (strcmp(property, "FramesDropped") == 0)
        v = c.frames_dropped;
    else if (strcmp(property, "EventsDropped") == 0 && b->events)
        v = vitd_events_get_dropped(b->events, p);
    return sd_bus_message_append(reply, "t", (uint64_t)v);
}

static int property_get_double(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error)
{
    VitdPipeline *p = pipeline_at(userdata, path);
    if (!p)
        return -ENOENT;
    VitdPipelineCounters c = vitd_pipeline_get_counters(p);
    return sd_bus_message_append(reply, "d", strcmp(property, "Fps") == 0 ? c.fps : c.latency_ms);
}

static int property_get_restarts(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error)
{
    VitdPipeline *p = pipeline_at(userdata, path);
    if (!p)
        return -ENOENT;
    return sd_bus_message_append(reply, "u", (uint32_t)vitd_pipeline_get_restarts(p));
}

static int property_get_exit_counts(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error)
{
    VitdPipeline *p = pipeline_at(userdata, path);
    if (!p)
        return -ENOENT;
    guint n = 0;
    const guint64 *counts = vitd_pipeline_get_exit_counts(p, &n);
    return sd_bus_message_append_array(reply, 't', counts, n * sizeof(guint64));
}

static const sd_bus_vtable pipeline_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Model", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Source", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("FramesSeen", "t", property_get_counter, 0, 0),
    SD_BUS_PROPERTY("FramesClassified", "t", property_get_counter, 0, 0),
    SD_BUS_PROPERTY("FramesDropped", "t", property_get_counter, 0, 0),
    SD_BUS_PROPERTY("Restarts", "u", property_get_restarts, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastError", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("PreviousError", "s", property_get_string, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Fps", "d", property_get_double, 0, 0),
    SD_BUS_PROPERTY("LatencyMs", "d", property_get_double, 0, 0),
    SD_BUS_PROPERTY("ExitCounts", "at", property_get_exit_counts, 0, 0),
    SD_BUS_PROPERTY("EventsDropped", "t", property_get_counter, 0, 0),
    SD_BUS_SIGNAL_WITH_NAMES("Classification", "ttxta(sd)qu",
                             SD_BUS_PARAM(seq) SD_BUS_PARAM(frame) SD_BUS_PARAM(pts_ns)
                                 SD_BUS_PARAM(realtime_us) SD_BUS_PARAM(labels) SD_BUS_PARAM(exit)
                                     SD_BUS_PARAM(latency_us),
                             0),
    SD_BUS_VTABLE_END,
};

static int pipeline_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                         void **found, sd_bus_error *error)
{
    if (!pipeline_at(userdata, path))
        return 0;
    *found = userdata;
    return 1;
}

static int pipeline_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                              sd_bus_error *error)
{
    VitdBus *b = userdata;
    g_autoptr(GPtrArray) list = vitd_manager_list(b->manager);
    char **v = calloc(list->len + 1, sizeof(char *));
    if (!v)
        return -ENOMEM;
    for (guint i = 0; i < list->len; i++) {
        v[i] = strdup(vitd_pipeline_get_path(list->pdata[i]));
        if (!v[i]) {
            for (guint j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return -ENOMEM;
        }
    }
    *nodes = v;
    return 1;
}

static int bus_register(VitdBus *b)
{
    int r = sd_bus_add_object_vtable(b->bus, NULL, VITD_MANAGER_PATH, VITD_MANAGER_INTERFACE,
                                     manager_vtable, b);
    if (r < 0)
        return vitd_log_errno(r, "Failed to register %s", VITD_MANAGER_INTERFACE);
    r = sd_bus_add_fallback_vtable(b->bus, NULL, VITD_PIPELINE_PATH_PREFIX, VITD_PIPELINE_INTERFACE,
                                   pipeline_vtable, pipeline_find, b);
    if (r < 0)
        return vitd_log_errno(r, "Failed to register %s", VITD_PIPELINE_INTERFACE);
    r = sd_bus_add_node_enumerator(b->bus, NULL, VITD_PIPELINE_PATH_PREFIX, pipeline_enumerate, b);
    if (r < 0)
        return vitd_log_errno(r, "Failed to register the pipeline enumerator");
    return 0;
}

static int bus_request_name(VitdBus *b)
{
    const char *which = b->user_bus ? "session" : "system";
    int r = sd_bus_request_name(b->bus, VITD_BUS_NAME, 0);
    if (r == -EEXIST)
        return vitd_log_errno(r, "%s is already owned on the %s bus (is vitd already running?)",
                              VITD_BUS_NAME, which);
    if (r < 0)
        return vitd_log_errno(r,
                              "Failed to own %s on the %s bus (the bus policy lets only "
                              "user vitd own it)",
                              VITD_BUS_NAME, which);
    return 0;
}

int vitd_bus_open(VitdManager *m, gboolean user_bus, VitdBusLost on_lost, gpointer user_data,
                  VitdBus **ret)
{
    VitdBus *b = g_new0(VitdBus, 1);
    b->manager = m;
    b->user_bus = user_bus;
    int r = vitd_bus_connect(user_bus, "vitd-control", &b->bus);
    if (r >= 0)
        r = bus_register(b);
    if (r >= 0) {
        b->source_id = vitd_bus_source_attach(b->bus, on_lost, user_data);
        r = bus_request_name(b);
    }
    if (r < 0) {
        vitd_bus_free(b);
        return r;
    }
    *ret = b;
    return 0;
}

VitdBus *vitd_bus_free(VitdBus *b)
{
    if (!b)
        return NULL;
    vitd_bus_source_detach(b->source_id);
    if (b->bus) {
        sd_bus_flush(b->bus);
        sd_bus_close_unref(b->bus);
    }
    g_free(b);
    return NULL;
}

void vitd_bus_set_events(VitdBus *b, VitdEvents *ev)
{
    b->events = ev;
}

void vitd_bus_set_mqtt(VitdBus *b, VitdMqttSink *s)
{
    b->mqtt = s;
}

void vitd_bus_emit_mqtt_changed(VitdBus *b)
{
    sd_bus_emit_properties_changed(b->bus, VITD_MANAGER_PATH, VITD_MANAGER_INTERFACE, "MqttState",
                                   "MqttLastError", NULL);
}

void vitd_bus_emit_pipeline_changed(VitdBus *b, VitdPipeline *p)
{
    sd_bus_emit_properties_changed(b->bus, vitd_pipeline_get_path(p), VITD_PIPELINE_INTERFACE,
                                   "State", "LastError", "PreviousError", "Restarts", "Model",
                                   "Source", NULL);
}

void vitd_bus_emit_pipeline_added(VitdBus *b, VitdPipeline *p)
{
    sd_bus_emit_signal(b->bus, VITD_MANAGER_PATH, VITD_MANAGER_INTERFACE, "PipelineAdded", "so",
                       vitd_pipeline_get_name(p), vitd_pipeline_get_path(p));
}

void vitd_bus_emit_pipeline_removed(VitdBus *b, VitdPipeline *p)
{
    sd_bus_emit_signal(b->bus, VITD_MANAGER_PATH, VITD_MANAGER_INTERFACE, "PipelineRemoved", "so",
                       vitd_pipeline_get_name(p), vitd_pipeline_get_path(p));
}
