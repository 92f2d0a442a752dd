/* vitd.c — the video-analytics daemon: options, signals and the main loop.
 *
 *   vitd [--config FILE] [--user]   run (default config /etc/vitd/vitd.yaml)
 *   vitd --check [--config FILE]    validate the config and every pipeline description, print
 *                                   FILE:LINE:COL errors, exit 0 (valid) or 1
 *
 * SIGHUP reloads (what `systemctl reload vitd` sends); SIGTERM/SIGINT drain every pipeline
 * (end-of-stream, bounded wait) and exit 0.
 *
 * This is where the pieces meet: the manager (config and pipelines), the control connection
 * (vitd-bus), the event stream (vitd-events, which feeds D-Bus and every added sink) and the
 * MQTT sink (vitd-mqtt-sink) know nothing of each other's callers; the listeners below carry
 * the manager's news to them. */
#include <errno.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "vitd-bus.h"
#include "vitd-events.h"
#include "vitd-log.h"
#include "vitd-manager.h"
#include "vitd-mqtt-sink.h"
#include "vitd-state-thread.h"
#include "vitd-validate.h"

#define DEFAULT_CONFIG VITD_SYSCONFDIR "/vitd.yaml"
#define DRAIN_TIMEOUT_MS 5000
#define EVENTS_FLUSH_US (500 * 1000)

static gboolean on_sighup(gpointer data)
{
    vitd_log_info("SIGHUP: reloading");
    vitd_manager_reload(data, NULL, NULL); /* errors are logged by the reload itself */
    return G_SOURCE_CONTINUE;
}

static gboolean on_sigterm(gpointer data)
{
    vitd_manager_drain(data, DRAIN_TIMEOUT_MS);
    return G_SOURCE_CONTINUE;
}

typedef struct {
    VitdManager *manager;
    VitdBus *bus;
    VitdEvents *events;
    VitdMqttSink *mqtt;
    GMainLoop *loop;
    gboolean failed; /* a bus connection was lost: exit non-zero so systemd restarts */
} Daemon;

static void bus_on_added(VitdPipeline *p, gpointer data)
{
    vitd_bus_emit_pipeline_added(data, p);
}

static void bus_on_removed(VitdPipeline *p, gpointer data)
{
    vitd_bus_emit_pipeline_removed(data, p);
}

static void bus_on_changed(VitdPipeline *p, gpointer data)
{
    vitd_bus_emit_pipeline_changed(data, p);
}

static const VitdManagerListener bus_listener = {
    .added = bus_on_added,
    .removed = bus_on_removed,
    .changed = bus_on_changed,
};

static void events_on_removed(VitdPipeline *p, gpointer data)
{
    vitd_events_forget(data, p);
}

static void events_on_reconfigured(VitdPipeline *p, gpointer data)
{
    vitd_events_reset_policy(data, p);
}

static void events_on_classified(VitdPipeline *p, const VitdClassification *c, gpointer data)
{
    vitd_events_publish(data, p, c);
}

static const VitdManagerListener events_listener = {
    .removed = events_on_removed,
    .reconfigured = events_on_reconfigured,
    .classified = events_on_classified,
};

static void mqtt_on_added(VitdPipeline *p, gpointer data)
{
    vitd_mqtt_sink_pipeline_changed(data, p);
}

static void mqtt_on_removed(VitdPipeline *p, gpointer data)
{
    vitd_mqtt_sink_pipeline_removed(data, p);
}

static void mqtt_on_reloaded(const VpConfig *config, gpointer data)
{
    vitd_mqtt_sink_apply(data, config->mqtt);
}

/* Events reach MQTT through the event stream (vitd_events_add_sink), not from here. */
static const VitdManagerListener mqtt_listener = {
    .added = mqtt_on_added,
    .removed = mqtt_on_removed,
    .changed = mqtt_on_added,
    .reloaded = mqtt_on_reloaded,
};

static void on_mqtt_changed(gpointer data)
{
    Daemon *d = data;
    if (d->bus)
        vitd_bus_emit_mqtt_changed(d->bus);
}

/* Without its bus vitd is of no use to anyone: exit with an error and let systemd restart it. */
static void on_bus_lost(sd_bus *bus, gpointer data)
{
    Daemon *d = data;
    vitd_log_error("Lost the D-Bus connection, exiting");
    d->failed = TRUE;
    g_main_loop_quit(d->loop);
}

/* Opens both connections, wires them to the manager and starts the pipelines. Returns a
 * negative errno (already logged) on failure. */
static int daemon_start(Daemon *d)
{
    gboolean user_bus = vitd_manager_uses_session_bus(d->manager);
    int r = vitd_bus_open(d->manager, user_bus, on_bus_lost, d, &d->bus);
    if (r < 0)
        return r;
    r = vitd_events_open(user_bus, on_bus_lost, d, &d->events);
    if (r < 0)
        return r;
    vitd_bus_set_events(d->bus, d->events);
    d->mqtt = vitd_mqtt_sink_new(d->manager, d->events, on_mqtt_changed, d);
    vitd_bus_set_mqtt(d->bus, d->mqtt);
    vitd_events_add_sink(d->events, vitd_mqtt_sink_on_event, d->mqtt);
    vitd_manager_add_listener(d->manager, &bus_listener, d->bus);
    vitd_manager_add_listener(d->manager, &events_listener, d->events);
    vitd_manager_add_listener(d->manager, &mqtt_listener, d->mqtt);
    vitd_manager_start(d->manager, d->loop);
    /* After the pipelines exist, so their retained state goes out with the first connection. */
    vitd_mqtt_sink_apply(d->mqtt, vitd_manager_get_config(d->manager)->mqtt);
    return 0;
}

/* Pipelines first (their last events still go out), then MQTT (spools what is queued), then the
 * event and control connections. */
static void daemon_stop(Daemon *d)
{
    g_clear_pointer(&d->manager, vitd_manager_free);
    if (d->bus)
        vitd_bus_set_mqtt(d->bus, NULL);
    d->mqtt = vitd_mqtt_sink_free(d->mqtt);
    if (d->events)
        vitd_events_flush(d->events, EVENTS_FLUSH_US);
    g_clear_pointer(&d->events, vitd_events_free);
    d->bus = vitd_bus_free(d->bus);
}

/* Runs the daemon on CONFIG_PATH until it drained or lost a bus; returns the exit status. */
static int daemon_run(const char *config_path, gboolean user_bus)
{
    g_autoptr(GError) err = NULL;
    Daemon d = {.manager = vitd_manager_new(config_path, user_bus, &err)};
    if (!d.manager) {
        vitd_log_full(LOG_ERR, NULL, "vp-config-error", "Invalid configuration:\n%s", err->message);
        return EXIT_FAILURE;
    }
    d.loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGHUP, on_sighup, d.manager);
    g_unix_signal_add(SIGTERM, on_sigterm, d.manager);
    g_unix_signal_add(SIGINT, on_sigterm, d.manager);
    int r = daemon_start(&d);
    if (r >= 0)
        g_main_loop_run(d.loop);
    if (r >= 0 && d.failed)
        r = -ENOTCONN;
    daemon_stop(&d);
    g_main_loop_unref(d.loop);
    return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Validates CONFIG_PATH in one pass: the YAML of every file, then every entry that passed it
 * (descriptions built without starting, launch: elements, models and labels opened as the
 * runtime would). Prints every problem as FILE:LINE:COL. */
static int check_config(const char *config_path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VpConfig) config = vp_config_load_partial(config_path, &err);
    g_autoptr(GString) problems = g_string_new(err ? err->message : "");
    if (config)
        vitd_validate_config(config, problems, NULL);
    if (problems->len > 0) {
        fprintf(stderr, "%s\n", problems->str);
        return EXIT_FAILURE;
    }
    printf("%s: valid, %u pipelines\n", config_path, config->pipelines->len);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean user_bus = FALSE, check = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
         "Configuration file (default " DEFAULT_CONFIG ")", "FILE"},
        {"user", 0, 0, G_OPTION_ARG_NONE, &user_bus,
         "Use the session bus instead of the system bus (development)", NULL},
        {"check", 0, 0, G_OPTION_ARG_NONE, &check,
         "Validate the configuration, print FILE:LINE:COL errors and exit 0 or 1", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GError) err = NULL;

    setlocale(LC_ALL, "");
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- vision-transformer video analytics daemon");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, "Signals: SIGHUP reloads the configuration; SIGTERM "
                                          "drains the pipelines and exits.");
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "vitd: %s (try --help)\n", err->message);
        return 2;
    }
    if (version) {
        printf("vitd %s\n", VITD_VERSION);
        return EXIT_SUCCESS;
    }
    if (!config_path)
        config_path = g_strdup(DEFAULT_CONFIG);

    gst_init(NULL, NULL);
    vitd_log_init();
    if (check)
        return check_config(config_path);

    int ret = daemon_run(config_path, user_bus);
    /* A start thread stuck in a state change (a model file that never opens) still uses
     * GStreamer: then leave it to the process exit. */
    vitd_state_wait_jobs(2 * G_USEC_PER_SEC);
    if (vitd_state_jobs_pending() == 0)
        gst_deinit();
    if (ret == EXIT_SUCCESS)
        vitd_log_info("Stopped");
    return ret;
}
