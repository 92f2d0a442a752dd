/* settings.c — the per-pipeline settings (model, top-k, interval, early-exit, threads, publish,
 * restart, realtime, precision): their built-in defaults and how each is read from YAML.
 *
 * The same parser serves pipeline entries and vitd.yaml's `defaults:`; an entry starts from
 * the defaults' values and overrides what it sets. `restart:` and `publish:` merge field by
 * field, so `restart: never` in an entry keeps the backoff a `defaults:` mapping gave.
 */
#include <math.h>
#include <string.h>

#include "vit.h"
#include "vp-private.h"

#define MAX_TOP_K 100
#define MAX_BACKOFF_S 86400.0 /* a day: longer waits look like a unit mistake */
#define MAX_RATE 1000.0

const char *const vp_setting_keys[] = {
    "model",   "top-k",   "interval", "early-exit", "threads",
    "publish", "restart", "realtime", "precision",  NULL,
};
/* In vit_precision's order (vit.h). */
const char *const vp_precision_choices[] = {"fp32", "bf16", "auto", NULL};

static const char *const publish_choices[] = {"every-frame", "on-change", NULL};
static const char *const publish_keys[] = {"max-rate", NULL};
static const char *const restart_choices[] = {"always", "on-failure", "never", NULL};
static const char *const restart_keys[] = {"policy", "backoff-initial", "backoff-max", NULL};
static const char *const early_exit_choices[] = {"default", NULL};
static const char *const early_exit_keys[] = {"threshold", "budget-gflops", NULL};

void vp_settings_init(VpPipelineSpec *spec)
{
    g_free(spec->model);
    spec->model = NULL;
    spec->top_k = 5;
    spec->interval = 1;
    spec->early_exit = -1.0;
    spec->threads = 0;
    spec->publish = VP_PUBLISH_EVERY_FRAME;
    spec->max_rate = 0.0;
    spec->restart = VP_RESTART_ALWAYS;
    spec->backoff_initial_s = 1.0;
    spec->backoff_max_s = 60.0;
    spec->realtime = TRUE;
    spec->precision = VIT_PRECISION_FP32;
}

char *vp_resolve_path(const char *dir, const char *path)
{
    return g_canonicalize_filename(path, g_path_is_absolute(path) ? NULL : dir);
}

gboolean vp_model_check(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                        const char *model)
{
    if (g_file_test(model, G_FILE_TEST_IS_DIR)) {
        char *weights = g_build_filename(model, "model.safetensors", NULL);
        gboolean ok = g_file_test(weights, G_FILE_TEST_IS_REGULAR);
        g_free(weights);
        if (!ok)
            vp_yaml_error(file, errs, node, "model '%s' is a folder without model.safetensors",
                          model);
        return ok;
    }
    if (!g_file_test(model, G_FILE_TEST_EXISTS)) {
        vp_yaml_error(file, errs, node, "model '%s' does not exist", model);
        return FALSE;
    }
    if (!g_file_test(model, G_FILE_TEST_IS_REGULAR) || !g_str_has_suffix(model, ".safetensors")) {
        vp_yaml_error(file, errs, node,
                      "model '%s' is neither a model folder nor a .safetensors file", model);
        return FALSE;
    }
    return TRUE;
}

static void parse_model(VpYamlFile *file, VpErrors *errs, yaml_node_t *value, VpPipelineSpec *spec)
{
    const char *text;
    char *model;

    if (!vp_yaml_get_string(file, errs, "model", value, &text))
        return;
    model = vp_resolve_path(file->dir, text);
    if (!vp_model_check(file, errs, value, model)) {
        g_free(model);
        return;
    }
    g_free(spec->model);
    spec->model = model;
}

typedef struct {
    VpPipelineSpec *spec;
    gboolean has_setting;
} EarlyExitMapping;

static void early_exit_pair(VpYamlFile *file, VpErrors *errs, const char *key,
                            yaml_node_t *key_node, yaml_node_t *value, void *user_data)
{
    EarlyExitMapping *m = user_data;

    if (strcmp(key, "threshold") == 0) {
        m->has_setting = TRUE;
        vp_yaml_get_number(file, errs, "threshold", value, 0.0, FALSE, 1.0, &m->spec->early_exit);
    } else if (strcmp(key, "budget-gflops") == 0) {
        m->has_setting = TRUE;
        vp_yaml_get_number(file, errs, "budget-gflops", value, 0.0, FALSE, 10000.0,
                           &m->spec->exit_budget);
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, early_exit_keys);
    }
}

static void parse_early_exit(VpYamlFile *file, VpErrors *errs, yaml_node_t *value,
                             VpPipelineSpec *spec)
{
    const char *v = vp_yaml_scalar(value);
    int choice;

    if (value->type == YAML_MAPPING_NODE) {
        EarlyExitMapping m = {spec, FALSE};
        guint before = errs->count;
        spec->early_exit = -1.0;
        spec->exit_budget = 0.0;
        vp_yaml_mapping_foreach(file, errs, value, early_exit_pair, &m);
        if (!m.has_setting && errs->count == before)
            vp_yaml_error(file, errs, value,
                          "'early-exit' mapping needs a 'threshold' or a 'budget-gflops'");
        return;
    }
    spec->exit_budget = 0.0;
    if (v && strcmp(v, "default") == 0) {
        spec->early_exit = -1.0;
        return;
    }
    if (v && v[0] && (g_ascii_isdigit(v[0]) || v[0] == '.' || v[0] == '-' || v[0] == '+')) {
        vp_yaml_get_number(file, errs, "early-exit", value, 0.0, FALSE, 1.0, &spec->early_exit);
        return;
    }
    vp_yaml_get_choice(file, errs, "early-exit", value, early_exit_choices,
                       "a number in (0, 1] or a mapping {threshold: X}", &choice);
}

static void publish_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                         yaml_node_t *value, void *user_data)
{
    VpPipelineSpec *spec = user_data;

    if (strcmp(key, "max-rate") == 0) {
        if (vp_yaml_get_number(file, errs, "max-rate", value, 0.0, FALSE, MAX_RATE,
                               &spec->max_rate))
            spec->publish = VP_PUBLISH_MAX_RATE;
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, publish_keys);
    }
}

static void parse_publish(VpYamlFile *file, VpErrors *errs, yaml_node_t *value,
                          VpPipelineSpec *spec)
{
    int choice;

    if (value->type == YAML_MAPPING_NODE) {
        guint before = errs->count;
        VpPublishMode old = spec->publish;
        spec->publish = VP_PUBLISH_EVERY_FRAME;
        vp_yaml_mapping_foreach(file, errs, value, publish_pair, spec);
        if (spec->publish != VP_PUBLISH_MAX_RATE && errs->count == before)
            vp_yaml_error(file, errs, value, "'publish' mapping needs 'max-rate'");
        if (errs->count != before)
            spec->publish = old;
        return;
    }
    if (vp_yaml_get_choice(file, errs, "publish", value, publish_choices,
                           "or a mapping {max-rate: N}", &choice)) {
        spec->publish = choice == 0 ? VP_PUBLISH_EVERY_FRAME : VP_PUBLISH_ON_CHANGE;
        spec->max_rate = 0.0;
    }
}

static const VpRestartMode restart_modes[] = {VP_RESTART_ALWAYS, VP_RESTART_ON_FAILURE,
                                              VP_RESTART_NEVER};

static void restart_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                         yaml_node_t *value, void *user_data)
{
    VpPipelineSpec *spec = user_data;
    int choice;

    if (strcmp(key, "policy") == 0) {
        if (vp_yaml_get_choice(file, errs, "policy", value, restart_choices, NULL, &choice))
            spec->restart = restart_modes[choice];
    } else if (strcmp(key, "backoff-initial") == 0) {
        vp_yaml_get_number(file, errs, "backoff-initial", value, 0.0, FALSE, MAX_BACKOFF_S,
                           &spec->backoff_initial_s);
    } else if (strcmp(key, "backoff-max") == 0) {
        vp_yaml_get_number(file, errs, "backoff-max", value, 0.0, FALSE, MAX_BACKOFF_S,
                           &spec->backoff_max_s);
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, restart_keys);
    }
}

static void parse_restart(VpYamlFile *file, VpErrors *errs, yaml_node_t *value,
                          VpPipelineSpec *spec)
{
    int choice;

    if (value->type == YAML_MAPPING_NODE) {
        guint before = errs->count;
        vp_yaml_mapping_foreach(file, errs, value, restart_pair, spec);
        if (errs->count == before && spec->backoff_max_s < spec->backoff_initial_s)
            vp_yaml_error(file, errs, value,
                          "'backoff-max' (%g) must not be less than 'backoff-initial' (%g)",
                          spec->backoff_max_s, spec->backoff_initial_s);
        return;
    }
    if (vp_yaml_get_choice(file, errs, "restart", value, restart_choices,
                           "or a mapping {policy: ..., backoff-initial: S, backoff-max: S}",
                           &choice))
        spec->restart = restart_modes[choice];
}

guint vp_settings_parse(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                        VpPipelineSpec *spec)
{
    if (strcmp(key, "model") == 0) {
        parse_model(file, errs, value, spec);
        return VP_SET_MODEL;
    }
    if (strcmp(key, "top-k") == 0) {
        vp_yaml_get_int(file, errs, key, value, 1, MAX_TOP_K, &spec->top_k);
        return VP_SET_TOP_K;
    }
    if (strcmp(key, "interval") == 0) {
        vp_yaml_get_int(file, errs, key, value, 1, G_MAXINT, &spec->interval);
        return VP_SET_INTERVAL;
    }
    if (strcmp(key, "early-exit") == 0) {
        parse_early_exit(file, errs, value, spec);
        return VP_SET_EARLY_EXIT;
    }
    if (strcmp(key, "threads") == 0) {
        vp_yaml_get_int(file, errs, key, value, 0, VIT_MAX_THREADS, &spec->threads);
        return VP_SET_THREADS;
    }
    if (strcmp(key, "publish") == 0) {
        parse_publish(file, errs, value, spec);
        return VP_SET_PUBLISH;
    }
    if (strcmp(key, "restart") == 0) {
        parse_restart(file, errs, value, spec);
        return VP_SET_RESTART;
    }
    if (strcmp(key, "realtime") == 0) {
        vp_yaml_get_bool(file, errs, key, value, &spec->realtime);
        return VP_SET_REALTIME;
    }
    if (strcmp(key, "precision") == 0) {
        vp_yaml_get_choice(file, errs, key, value, vp_precision_choices, NULL, &spec->precision);
        return VP_SET_PRECISION;
    }
    return 0;
}
