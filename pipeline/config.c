/* config.c — vitd.yaml (`bus:`, `pipelines-dir:`, `defaults:`, `launch-allow:`,
 * `max-pipelines:`; `mqtt:` is read by mqtt_config.c) and the all-or-nothing load of a whole
 * configuration: the daemon file, then every *.yaml of the pipelines folder in name order.
 *
 * Every file is read even after one fails, so one run of `vitd --check` lists every problem.
 * Pipeline names are unique across files; entries are returned sorted by name.
 */
#include <string.h>

#include "vp-private.h"

#define DEFAULT_PIPELINES_DIR "/etc/vitd/pipelines.d"

static const char *const config_keys[] = {"bus",          "pipelines-dir", "defaults", "mqtt",
                                          "launch-allow", "max-pipelines", NULL};
static const char *const bus_choices[] = {"system", "session", NULL};

typedef struct {
    VpConfig *config;
    VpPipelineSpec *defaults;
    const yaml_node_t *dir_node;
    gboolean dir_known; /* FALSE when vitd.yaml could not say where the pipelines are */
} ConfigState;

static void defaults_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                          yaml_node_t *value, void *user_data)
{
    VpPipelineSpec *defaults = user_data;

    if (strcmp(key, "name") == 0 || strcmp(key, "source") == 0 || strcmp(key, "launch") == 0) {
        vp_yaml_error(file, errs, key_node,
                      "'%s' cannot have a default: it belongs to each pipeline", key);
        return;
    }
    guint bit = vp_settings_parse(file, errs, key, value, defaults);
    if (bit == 0)
        vp_yaml_unknown_key(file, errs, key_node, key, vp_setting_keys);
    if (bit == VP_SET_MODEL) {
        g_free(defaults->model_at);
        defaults->model_at = g_strdup_printf("%s:%d:%d", file->path, vp_yaml_line(key_node),
                                             vp_yaml_column(key_node));
    }
}

/* `launch-allow: [filesink, ...]`: element names added to the allow-list of launch_allow.c. */
static void parse_launch_allow(VpYamlFile *file, VpErrors *errs, yaml_node_t *value,
                               VpConfig *config)
{
    GPtrArray *names;

    if (vp_yaml_is_null(value))
        return;
    if (value->type != YAML_SEQUENCE_NODE) {
        vp_yaml_error(file, errs, value, "'launch-allow' must be a list of element names, got %s",
                      vp_yaml_kind(value));
        return;
    }
    names = g_ptr_array_new();
    for (yaml_node_item_t *item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++) {
        yaml_node_t *node = vp_yaml_node(file, *item);
        const char *name;
        if (!node || !vp_yaml_get_string(file, errs, "launch-allow", node, &name))
            continue;
        gboolean ok = strlen(name) <= 64 && g_ascii_isalpha(name[0]);
        for (const char *c = name; ok && *c; c++)
            ok = g_ascii_isalnum(*c) || *c == '-' || *c == '_';
        if (ok)
            g_ptr_array_add(names, g_strdup(name));
        else
            vp_yaml_error(file, errs, node, "'launch-allow' entries must be element names");
    }
    g_ptr_array_add(names, NULL);
    g_strfreev(config->launch_allow);
    config->launch_allow = (char **)g_ptr_array_free(names, FALSE);
}

static void config_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                        yaml_node_t *value, void *user_data)
{
    ConfigState *st = user_data;
    const char *text;
    int choice;

    if (strcmp(key, "bus") == 0) {
        if (vp_yaml_get_choice(file, errs, key, value, bus_choices, NULL, &choice))
            st->config->bus = choice == 0 ? VP_BUS_SYSTEM : VP_BUS_SESSION;
    } else if (strcmp(key, "pipelines-dir") == 0) {
        if (vp_yaml_get_string(file, errs, key, value, &text)) {
            g_free(st->config->pipelines_dir);
            st->config->pipelines_dir = vp_resolve_path(file->dir, text);
            st->dir_node = value;
        } else {
            st->dir_known = FALSE;
        }
    } else if (strcmp(key, "defaults") == 0) {
        if (value->type == YAML_MAPPING_NODE)
            vp_yaml_mapping_foreach(file, errs, value, defaults_pair, st->defaults);
        else if (!vp_yaml_is_null(value))
            vp_yaml_error(file, errs, value, "'defaults' must be a mapping, got %s",
                          vp_yaml_kind(value));
    } else if (strcmp(key, "mqtt") == 0) {
        vp_mqtt_config_free(st->config->mqtt);
        st->config->mqtt = vp_mqtt_config_parse(file, errs, value);
    } else if (strcmp(key, "launch-allow") == 0) {
        parse_launch_allow(file, errs, value, st->config);
    } else if (strcmp(key, "max-pipelines") == 0) {
        vp_yaml_get_int(file, errs, key, value, 1, VP_MAX_PIPELINES_LIMIT,
                        &st->config->max_pipelines);
    } else if (strcmp(key, "pipelines") == 0) {
        vp_yaml_error(file, errs, key_node,
                      "'pipelines' belong in *.yaml files of the pipelines directory, not in "
                      "vitd.yaml");
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, config_keys);
    }
}

/* Reads vitd.yaml into ST. Unless it is unreadable or malformed (st->dir_known FALSE), the
 * pipelines folder is known afterwards, and its files are worth reading for more errors. */
static void parse_config_file(const char *path, ConfigState *st, VpErrors *errs)
{
    VpYamlFile file;
    yaml_node_t *root;

    st->dir_known = vp_yaml_file_load(&file, path, errs);
    /* Default: pipelines.d beside the config file (/etc/vitd/pipelines.d for the usual one). */
    g_free(st->config->pipelines_dir);
    st->config->pipelines_dir = g_build_filename(file.dir, "pipelines.d", NULL);
    if (!st->dir_known) {
        vp_yaml_file_clear(&file);
        return;
    }

    root = vp_yaml_root(&file);
    if (root && root->type == YAML_MAPPING_NODE) {
        vp_yaml_mapping_foreach(&file, errs, root, config_pair, st);
    } else if (root && !vp_yaml_is_null(root)) {
        vp_yaml_error(&file, errs, root, "the top level must be a mapping, got %s",
                      vp_yaml_kind(root));
        st->dir_known = FALSE;
    }
    if (!st->dir_known) {
        vp_yaml_file_clear(&file);
        return;
    }
    if (!g_file_test(st->config->pipelines_dir, G_FILE_TEST_IS_DIR)) {
        if (st->dir_node)
            vp_yaml_error(&file, errs, st->dir_node, "pipelines directory '%s' does not exist",
                          st->config->pipelines_dir);
        else
            vp_errors_add(errs, VP_CONFIG_ERROR_IO, path, 0, 0,
                          "pipelines directory '%s' does not exist (set 'pipelines-dir:')",
                          st->config->pipelines_dir);
    }
    vp_yaml_file_clear(&file);
}

static int compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int compare_specs(gconstpointer a, gconstpointer b)
{
    const VpPipelineSpec *x = *(const VpPipelineSpec *const *)a;
    const VpPipelineSpec *y = *(const VpPipelineSpec *const *)b;
    return strcmp(x->name, y->name);
}

/* Every *.yaml (not hidden) of DIR in name order; NULL with an error when DIR can't be read. */
static GPtrArray *list_pipeline_files(const char *dir, const char *reported_by, VpErrors *errs)
{
    GError *error = NULL;
    GDir *d = g_dir_open(dir, 0, &error);
    GPtrArray *files;
    const char *name;

    if (!d) {
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, reported_by, 0, 0,
                      "cannot read pipelines directory: %s", error->message);
        g_error_free(error);
        return NULL;
    }
    files = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(d)))
        if (name[0] != '.' && g_str_has_suffix(name, ".yaml"))
            g_ptr_array_add(files, g_strdup(name));
    g_dir_close(d);
    g_ptr_array_sort(files, compare_names);
    return files;
}

/* Reports the first pipeline past `max-pipelines:` (in file order) and drops the rest. */
static void check_pipeline_count(VpConfig *config, VpErrors *errs)
{
    const VpPipelineSpec *over;

    if (config->pipelines->len <= (guint)config->max_pipelines)
        return;
    over = g_ptr_array_index(config->pipelines, config->max_pipelines);
    vp_errors_add(errs, VP_CONFIG_ERROR_INVALID, over->file, over->line, over->column,
                  "pipeline '%s' is number %u of %u; a configuration may hold at most %d "
                  "pipelines (raise 'max-pipelines:' in %s, up to %d)",
                  over->name, config->max_pipelines + 1, config->pipelines->len,
                  config->max_pipelines, config->config_file ? config->config_file : "vitd.yaml",
                  VP_MAX_PIPELINES_LIMIT);
    g_ptr_array_set_size(config->pipelines, (guint)config->max_pipelines);
}

/* Loads everything it can into a new config; problems go to ERRS. */
static VpConfig *config_read(const char *config_file, VpErrors *errs)
{
    VpConfig *config = g_new0(VpConfig, 1);
    ConfigState st = {config, g_new0(VpPipelineSpec, 1), NULL, TRUE};
    GPtrArray *files = NULL;
    VpFileContext ctx = {st.defaults, NULL,
                         g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)};

    config->max_pipelines = VP_MAX_PIPELINES_DEFAULT;
    config->bus = VP_BUS_SYSTEM;
    config->pipelines_dir = g_strdup(DEFAULT_PIPELINES_DIR);
    config->pipelines = g_ptr_array_new_with_free_func((GDestroyNotify)vp_pipeline_spec_free);
    vp_settings_init(st.defaults);

    if (config_file) {
        config->config_file = g_strdup(config_file);
        parse_config_file(config_file, &st, errs);
    }
    ctx.launch_allow = (const char *const *)config->launch_allow;
    if (st.dir_known && g_file_test(config->pipelines_dir, G_FILE_TEST_IS_DIR))
        files = list_pipeline_files(config->pipelines_dir,
                                    config_file ? config_file : config->pipelines_dir, errs);
    else if (!config_file)
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, config->pipelines_dir, 0, 0,
                      "pipelines directory does not exist");
    for (guint i = 0; files && i < files->len; i++) {
        char *path = g_build_filename(config->pipelines_dir, g_ptr_array_index(files, i), NULL);
        vp_pipelines_file_parse(path, &ctx, config->pipelines, errs);
        g_free(path);
    }
    if (files)
        g_ptr_array_free(files, TRUE);
    g_hash_table_destroy(ctx.names);
    vp_pipeline_spec_free(st.defaults);
    check_pipeline_count(config, errs);
    g_ptr_array_sort(config->pipelines, compare_specs);
    return config;
}

VpConfig *vp_config_load(const char *config_file, GError **error)
{
    VpErrors errs;
    VpConfig *config;

    vp_errors_init(&errs);
    config = config_read(config_file, &errs);
    if (vp_errors_take(&errs, error)) {
        vp_config_free(config);
        config = NULL;
    }
    vp_errors_clear(&errs);
    return config;
}

VpConfig *vp_config_load_partial(const char *config_file, GError **error)
{
    VpErrors errs;
    VpConfig *config;

    vp_errors_init(&errs);
    config = config_read(config_file, &errs);
    vp_errors_take(&errs, error);
    vp_errors_clear(&errs);
    return config;
}

void vp_config_free(VpConfig *config)
{
    if (!config)
        return;
    g_free(config->config_file);
    g_free(config->pipelines_dir);
    vp_mqtt_config_free(config->mqtt);
    g_strfreev(config->launch_allow);
    if (config->pipelines)
        g_ptr_array_free(config->pipelines, TRUE);
    g_free(config);
}

const VpPipelineSpec *vp_config_find(const VpConfig *config, const char *name)
{
    g_return_val_if_fail(config != NULL && name != NULL, NULL);
    for (guint i = 0; i < config->pipelines->len; i++) {
        const VpPipelineSpec *spec = g_ptr_array_index(config->pipelines, i);
        if (strcmp(spec->name, name) == 0)
            return spec;
    }
    return NULL;
}
