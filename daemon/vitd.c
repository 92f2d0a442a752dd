/* vitd.c — the video-analytics daemon: options, signals and the main loop.
 *
 *   vitd [--config FILE] [--user]   run (default config /etc/vitd/vitd.yaml)
 *   vitd --check [--config FILE]    validate the config and every pipeline description, print
 *                                   FILE:LINE:COL errors, exit 0 (valid) or 1
 *
 * SIGHUP reloads (what `systemctl reload vitd` sends); SIGTERM/SIGINT drain every pipeline
 * (end-of-stream, bounded wait) and exit 0. */
#include <errno.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "vitd-log.h"
#include "vitd-manager.h"

#define DEFAULT_CONFIG VITD_SYSCONFDIR "/vitd.yaml"
#define DRAIN_TIMEOUT_MS 5000

static gboolean on_sighup(gpointer data)
{
    g_autoptr(GError) err = NULL;
    vitd_log_info("SIGHUP: reloading");
    vitd_manager_reload(data, &err); /* errors are logged by the reload itself */
    return G_SOURCE_CONTINUE;
}

static gboolean on_sigterm(gpointer data)
{
    vitd_manager_drain(data, DRAIN_TIMEOUT_MS);
    return G_SOURCE_CONTINUE;
}

/* Validates CONFIG_PATH and builds (without starting) every pipeline it describes. */
static int check_config(const char *config_path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VpConfig) config = vp_config_load(config_path, &err);
    if (!config) {
        fprintf(stderr, "%s\n", err->message);
        return EXIT_FAILURE;
    }
    int ret = EXIT_SUCCESS;
    for (guint i = 0; i < config->pipelines->len; i++) {
        const VpPipelineSpec *spec = config->pipelines->pdata[i];
        g_autofree char *desc = vp_spec_to_launch(spec);
        g_autoptr(GError) perr = NULL;
        g_autoptr(GstElement) e =
            gst_parse_launch_full(desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &perr);
        if (!e) {
            fprintf(stderr, "%s:%d:%d: pipeline '%s': %s\n", spec->file, spec->line, spec->column,
                    spec->name, perr->message);
            ret = EXIT_FAILURE;
        }
    }
    if (ret == EXIT_SUCCESS)
        printf("%s: valid, %u pipelines\n", config_path, config->pipelines->len);
    return ret;
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

    VitdManager *m = vitd_manager_new(config_path, user_bus, &err);
    if (!m) {
        vitd_log_full(LOG_ERR, NULL, "vp-config-error", "Invalid configuration:\n%s", err->message);
        return EXIT_FAILURE;
    }
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGHUP, on_sighup, m);
    g_unix_signal_add(SIGTERM, on_sigterm, m);
    g_unix_signal_add(SIGINT, on_sigterm, m);

    int r = vitd_manager_start(m, loop);
    if (r >= 0)
        g_main_loop_run(loop);
    if (r >= 0 && m->failed)
        r = -ENOTCONN;
    vitd_manager_free(m);
    gst_deinit();
    if (r < 0)
        return EXIT_FAILURE;
    vitd_log_info("Stopped");
    return EXIT_SUCCESS;
}
