/* vitctl.c — command-line client of vitd over D-Bus.
 *
 *   vitctl [--user] list | status [NAME] | monitor [NAME] [--json] [--count N]
 *                 | reload | start NAME | stop NAME | restart NAME
 *
 * Errors are one line on stderr and exit status 1, worded as README.md shows them (checked by
 * tests/daemon/test_readme_vitctl.py): vitd not running (org.vitd1 has no owner), access denied
 * (control methods need root or group vitd), No pipeline named 'x', invalid config, no system
 * bus (suggesting --user). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "vitd-names.h"

static bool arg_user, arg_json;
static uint64_t arg_count;

/* Prints the one-line error README.md promises for E (or R) of a call about WHAT, naming
 * PIPELINE when it does not exist, and returns the exit status. */
static int fail(const sd_bus_error *e, int r, const char *what, const char *pipeline)
{
    if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
        fprintf(stderr, "vitctl: vitd is not running on the %s bus (%s has no owner)\n",
                arg_user ? "session" : "system", VITD_BUS_NAME);
    else if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED))
        fprintf(stderr, "vitctl: %s: access denied (root or group %s only)\n", what,
                VITD_CONTROL_GROUP);
    else if (pipeline != NULL &&
             sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE,
                                    VITD_ERROR_NO_SUCH_PIPELINE))
        fprintf(stderr, "vitctl: No pipeline named '%s'\n", pipeline);
    else if (sd_bus_error_is_set(e))
        fprintf(stderr, "vitctl: %s: %s\n", what, e->message);
    else
        fprintf(stderr, "vitctl: %s: %s\n", what, strerror(-r));
    return EXIT_FAILURE;
}

static int cmd_list(sd_bus *bus)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    const char *name, *state, *path;

    int r = sd_bus_call_method(bus, VITD_BUS_NAME, VITD_MANAGER_PATH, VITD_MANAGER_INTERFACE,
                               "ListPipelines", &e, &reply, "");
    if (r < 0) {
        r = fail(&e, r, "list", NULL);
        sd_bus_error_free(&e);
        return r;
    }
    printf("%-24s %-10s %s\n", "NAME", "STATE", "OBJECT");
    sd_bus_message_enter_container(reply, 'a', "(sso)");
    while (sd_bus_message_read(reply, "(sso)", &name, &state, &path) > 0)
        printf("%-24s %-10s %s\n", name, state, path);
    sd_bus_message_unref(reply);
    return EXIT_SUCCESS;
}

static void print_property(const char *name, sd_bus_message *m)
{
    char type;
    const char *contents = NULL;
    sd_bus_message_peek_type(m, &type, &contents);
    sd_bus_message_enter_container(m, 'v', contents);
    const char *s;
    uint64_t t;
    uint32_t u;
    double d;
    printf("%18s: ", name);
    if (strcmp(contents, "s") == 0 && sd_bus_message_read(m, "s", &s) > 0)
        printf("%s", s);
    else if (strcmp(contents, "t") == 0 && sd_bus_message_read(m, "t", &t) > 0)
        printf("%" PRIu64, t);
    else if (strcmp(contents, "u") == 0 && sd_bus_message_read(m, "u", &u) > 0)
        printf("%" PRIu32, u);
    else if (strcmp(contents, "d") == 0 && sd_bus_message_read(m, "d", &d) > 0)
        printf("%.2f", d);
    else if (strcmp(contents, "at") == 0) {
        const void *data = NULL;
        size_t size = 0;
        sd_bus_message_read_array(m, 't', &data, &size);
        const uint64_t *v = data;
        for (size_t i = 0; i < size / sizeof(uint64_t); i++)
            printf("%sexit %zu: %" PRIu64, i ? ", " : "", i, v[i]);
    } else
        sd_bus_message_skip(m, contents);
    printf("\n");
    sd_bus_message_exit_container(m);
}

/* Without PIPELINE: the daemon's properties (Version and the MQTT sink's Mqtt*). */
static int cmd_status(sd_bus *bus, const char *pipeline)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    char *path = pipeline ? vitd_pipeline_path(pipeline) : strdup(VITD_MANAGER_PATH);
    const char *name;

    int r = path ? sd_bus_call_method(bus, VITD_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                      "GetAll", &e, &reply, "s",
                                      pipeline ? VITD_PIPELINE_INTERFACE : VITD_MANAGER_INTERFACE)
                 : -ENOMEM;
    free(path);
    if (r < 0) {
        r = fail(&e, r, pipeline ? pipeline : "status", pipeline);
        sd_bus_error_free(&e);
        return r;
    }
    sd_bus_message_enter_container(reply, 'a', "{sv}");
    while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
        sd_bus_message_read(reply, "s", &name);
        print_property(name, reply);
        sd_bus_message_exit_container(reply);
    }
    sd_bus_message_unref(reply);
    return EXIT_SUCCESS;
}

static int call_control(sd_bus *bus, const char *method, const char *pipeline)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r = pipeline ? sd_bus_call_method(bus, VITD_BUS_NAME, VITD_MANAGER_PATH,
                                          VITD_MANAGER_INTERFACE, method, &e, NULL, "s", pipeline)
                     : sd_bus_call_method(bus, VITD_BUS_NAME, VITD_MANAGER_PATH,
                                          VITD_MANAGER_INTERFACE, method, &e, NULL, "");
    if (r < 0) {
        r = fail(&e, r, pipeline ? pipeline : method, pipeline);
        sd_bus_error_free(&e);
        return r;
    }
    return EXIT_SUCCESS;
}

typedef struct {
    uint64_t seen;
    int status;
    bool done;
} Monitor;

static void print_event(const char *pipeline, uint64_t seq, uint64_t frame, int64_t pts,
                        uint64_t realtime, json_t *labels, uint16_t exit_idx, uint32_t latency)
{
    if (arg_json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:O, s:i, s:I}", "pipeline", pipeline,
                              "seq", (json_int_t)seq, "frame", (json_int_t)frame, "pts_ns",
                              (json_int_t)pts, "realtime_us", (json_int_t)realtime, "labels",
                              labels, "exit", (int)exit_idx, "latency_us", (json_int_t)latency);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%s seq=%" PRIu64 " frame=%" PRIu64 " exit=%u latency=%.1fms", pipeline, seq, frame,
               exit_idx, latency / 1000.0);
        size_t i;
        json_t *l;
        json_array_foreach(labels, i, l)
            printf(" %s=%.3f", json_string_value(json_object_get(l, "label")),
                   json_real_value(json_object_get(l, "score")));
        printf("\n");
    }
    fflush(stdout);
}

static int on_classification(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Monitor *mon = userdata;
    uint64_t seq, frame, realtime;
    int64_t pts;
    uint16_t exit_idx;
    uint32_t latency;
    const char *label;
    double score;

    char *pipeline = vitd_pipeline_name_from_path(sd_bus_message_get_path(m));
    if (!pipeline || sd_bus_message_read(m, "ttxt", &seq, &frame, &pts, &realtime) < 0 ||
        sd_bus_message_enter_container(m, 'a', "(sd)") < 0) {
        free(pipeline);
        return 0;
    }
    json_t *labels = json_array();
    while (sd_bus_message_read(m, "(sd)", &label, &score) > 0)
        json_array_append_new(labels, json_pack("{s:s, s:f}", "label", label, "score", score));
    sd_bus_message_exit_container(m);
    if (sd_bus_message_read(m, "qu", &exit_idx, &latency) >= 0)
        print_event(pipeline, seq, frame, pts, realtime, labels, exit_idx, latency);
    json_decref(labels);
    free(pipeline);
    if (arg_count && ++mon->seen >= arg_count)
        mon->done = true;
    return 0;
}

static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Monitor *mon = userdata;
    const char *name, *old_owner, *new_owner;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 &&
        strcmp(name, VITD_BUS_NAME) == 0 && !*new_owner) {
        fprintf(stderr, "vitctl: vitd left the bus\n");
        mon->status = EXIT_FAILURE;
        mon->done = true;
    }
    return 0;
}

static int cmd_monitor(sd_bus *bus, const char *pipeline)
{
    Monitor mon = {0, EXIT_SUCCESS, false};
    sd_bus_error e = SD_BUS_ERROR_NULL;
    char *path = pipeline ? vitd_pipeline_path(pipeline) : NULL;
    char match[512];

    /* Fail clearly now rather than wait forever for a daemon that is not there. */
    int r = sd_bus_call_method(bus, VITD_BUS_NAME, VITD_MANAGER_PATH, "org.freedesktop.DBus.Peer",
                               "Ping", &e, NULL, "");
    if (r < 0) {
        free(path);
        r = fail(&e, r, "monitor", NULL);
        sd_bus_error_free(&e);
        return r;
    }
    /* Signals come from vitd's event connection, so match on interface and path, not sender. */
    if (path)
        snprintf(match, sizeof match,
                 "type='signal',interface='%s',member='Classification',path='%s'",
                 VITD_PIPELINE_INTERFACE, path);
    else
        snprintf(match, sizeof match,
                 "type='signal',interface='%s',member='Classification',"
                 "path_namespace='%s'",
                 VITD_PIPELINE_INTERFACE, VITD_PIPELINE_PATH_PREFIX);
    free(path);
    r = sd_bus_add_match(bus, NULL, match, on_classification, &mon);
    if (r >= 0)
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, &mon);
    if (r < 0)
        return fail(&e, r, "monitor", NULL);
    while (!mon.done) {
        r = sd_bus_process(bus, NULL);
        if (r == -ECONNRESET || r == -ENOTCONN) {
            fprintf(stderr, "vitctl: disconnected from the bus\n");
            return EXIT_FAILURE;
        }
        if (r < 0)
            return fail(&e, r, "monitor", NULL);
        if (r > 0)
            continue;
        r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR)
            break;
    }
    return mon.status;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: vitctl [--user] COMMAND\n"
               "Commands:\n"
               "  list                         pipelines with their state and object path\n"
               "  status [NAME]                properties of one pipeline, or without NAME of\n"
               "                               vitd itself (version, MQTT state and counters)\n"
               "  monitor [NAME] [--json] [--count N]\n"
               "                               print Classification signals as they arrive\n"
               "                               (--json: one JSON object per line)\n"
               "  reload                       re-read the configuration\n"
               "  start|stop|restart NAME      control one pipeline\n"
               "Options:\n"
               "  --user      talk to vitd on the session bus\n"
               "  --help      this text\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"user", no_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "hn:", options, NULL)) >= 0) {
        switch (c) {
        case 'u':
            arg_user = true;
            break;
        case 'j':
            arg_json = true;
            break;
        case 'n':
            arg_count = strtoull(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool needs_name =
        strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 || strcmp(cmd, "restart") == 0;
    if (needs_name && !arg) {
        fprintf(stderr, "vitctl: %s needs a pipeline name\n", cmd);
        return 2;
    }

    sd_bus *bus = NULL;
    int r = arg_user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
    if (r < 0) {
        fprintf(stderr, "vitctl: cannot connect to the %s bus: %s%s\n",
                arg_user ? "session" : "system", strerror(-r),
                arg_user ? ""
                         : " (no system bus here? for a vitd on your session bus: vitctl --user)");
        return EXIT_FAILURE;
    }
    int ret;
    if (strcmp(cmd, "list") == 0)
        ret = cmd_list(bus);
    else if (strcmp(cmd, "status") == 0)
        ret = cmd_status(bus, arg);
    else if (strcmp(cmd, "monitor") == 0)
        ret = cmd_monitor(bus, arg);
    else if (strcmp(cmd, "reload") == 0)
        ret = call_control(bus, "Reload", NULL);
    else if (strcmp(cmd, "start") == 0)
        ret = call_control(bus, "StartPipeline", arg);
    else if (strcmp(cmd, "stop") == 0)
        ret = call_control(bus, "StopPipeline", arg);
    else if (strcmp(cmd, "restart") == 0)
        ret = call_control(bus, "RestartPipeline", arg);
    else {
        fprintf(stderr, "vitctl: unknown command '%s'\n", cmd);
        usage(stderr);
        ret = 2;
    }
    sd_bus_flush_close_unref(bus);
    return ret;
}
