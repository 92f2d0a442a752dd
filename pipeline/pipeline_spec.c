/* pipeline_spec.c — pipeline files: a top-level mapping holding exactly `pipelines:`, a list of
 * entries, each validated into a VpPipelineSpec; plus free, copy and equality of specs.
 *
 * An entry is either structured (`source:` + `model:` + settings) or raw (`launch:` text with
 * one vitclassify). Every problem of every entry is reported, each at its own line and
 * column; an entry with any problem is dropped, and the file then fails as a whole.
 */
#include <string.h>

#include "vitclassify-names.h"
#include "vp-private.h"

#define MAX_NAME 64

static const char *const top_keys[] = {"pipelines", NULL};
static const char *const entry_keys[] = {
    "name",    "source",  "launch",  "model",    "top-k",     "interval", "early-exit",
    "threads", "publish", "restart", "realtime", "precision", NULL,
};

typedef struct {
    VpPipelineSpec *spec;
    guint set;                      /* VP_SET_ bits written in this entry */
    const yaml_node_t *set_keys[9]; /* key node of each bit, by bit index */
    const yaml_node_t *launch_node;
    gboolean has_source, has_name;
    const VpFileContext *ctx;
} Entry;

/* "FILE:LINE:COL" of NODE, for errors the daemon reports later (VpPipelineSpec.model_at). */
static char *node_at(VpYamlFile *file, const yaml_node_t *node)
{
    return g_strdup_printf("%s:%d:%d", file->path, vp_yaml_line(node), vp_yaml_column(node));
}

static gboolean name_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > MAX_NAME)
        return FALSE;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(name[i]) && name[i] != '-' && name[i] != '_')
            return FALSE;
    return TRUE;
}

static void parse_name(VpYamlFile *file, VpErrors *errs, yaml_node_t *value, Entry *e)
{
    const char *name;
    char *shown;

    e->has_name = TRUE;
    if (!vp_yaml_get_string(file, errs, "name", value, &name))
        return;
    if (!name_is_valid(name)) {
        shown = vp_yaml_show(value);
        vp_yaml_error(file, errs, value,
                      "'name' must be 1 to %d letters, digits, '-' or '_', got %s", MAX_NAME,
                      shown);
        g_free(shown);
        return;
    }
    e->spec->name = g_strdup(name);
}

static void entry_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                       yaml_node_t *value, void *user_data)
{
    Entry *e = user_data;
    const char *text;
    guint bit;

    if (strcmp(key, "name") == 0) {
        parse_name(file, errs, value, e);
    } else if (strcmp(key, "source") == 0) {
        e->has_source = TRUE;
        if (vp_yaml_get_string(file, errs, key, value, &text))
            e->spec->source = vp_source_normalise(file, errs, value, text);
    } else if (strcmp(key, "launch") == 0) {
        e->launch_node = value;
        if (vp_yaml_get_string(file, errs, key, value, &text))
            e->spec->launch = g_strstrip(g_strdup(text));
    } else if ((bit = vp_settings_parse(file, errs, key, value, e->spec)) != 0) {
        e->set |= bit;
        e->set_keys[g_bit_nth_lsf(bit, -1)] = key_node;
        if (bit == VP_SET_MODEL) {
            g_free(e->spec->model_at);
            e->spec->model_at = node_at(file, key_node);
        }
    } else {
        vp_yaml_unknown_key(file, errs, key_node, key, entry_keys);
    }
}

/* A launch: entry takes its model from the text and needs exactly one vitclassify named vit
 * (or unnamed: vp_spec_to_launch names it). */
static void check_launch(VpYamlFile *file, VpErrors *errs, Entry *e)
{
    VpLaunchScan scan;

    for (int bit = 0; bit < 8; bit++) {
        const yaml_node_t *key = e->set_keys[bit];
        if ((e->set & VP_SET_STRUCTURED_ONLY & (1u << bit)) && key)
            vp_yaml_error(file, errs, key,
                          "'%s' does not apply to a 'launch' entry (set it as a property of "
                          "vitclassify in the launch text)",
                          vp_yaml_scalar(key));
    }
    /* Structured-only defaults must not make launch specs differ. */
    VpPublishMode publish = e->spec->publish;
    double max_rate = e->spec->max_rate;
    VpRestartMode restart = e->spec->restart;
    double initial = e->spec->backoff_initial_s, max = e->spec->backoff_max_s;
    vp_settings_init(e->spec);
    g_clear_pointer(&e->spec->model_at, g_free);
    e->spec->publish = publish;
    e->spec->max_rate = max_rate;
    e->spec->restart = restart;
    e->spec->backoff_initial_s = initial;
    e->spec->backoff_max_s = max;

    vp_launch_scan(e->spec->launch, &scan);
    vp_launch_check_elements(file, errs, e->launch_node, &scan, e->ctx->launch_allow);
    if (scan.labels && scan.labels[0])
        e->spec->labels = vp_resolve_path(file->dir, scan.labels);
    if (scan.n_vitclassify == 0) {
        vp_yaml_error(file, errs, e->launch_node, "'launch' must contain a vitclassify element");
    } else if (scan.n_vitclassify > 1) {
        vp_yaml_error(file, errs, e->launch_node,
                      "'launch' has %d vitclassify elements; vitd supports exactly one per "
                      "pipeline",
                      scan.n_vitclassify);
    } else if (scan.name && strcmp(scan.name, VIT_CLASSIFY_ELEMENT_NAME) != 0) {
        vp_yaml_error(file, errs, e->launch_node,
                      "'launch': vitclassify is named '%s', but vitd finds it by the name "
                      "'" VIT_CLASSIFY_ELEMENT_NAME "' (use name=" VIT_CLASSIFY_ELEMENT_NAME
                      " or leave the name out)",
                      scan.name);
    } else if (!scan.model || !scan.model[0]) {
        vp_yaml_error(file, errs, e->launch_node, "'launch': vitclassify has no model= property");
    } else {
        char *model = vp_resolve_path(file->dir, scan.model);
        if (vp_model_check(file, errs, e->launch_node, model)) {
            e->spec->model = g_steal_pointer(&model);
            g_free(e->spec->model_at);
            e->spec->model_at = node_at(file, e->launch_node);
        }
        g_free(model);
    }
    vp_launch_scan_clear(&scan);
}

static void check_entry(VpYamlFile *file, VpErrors *errs, yaml_node_t *node, Entry *e)
{
    const char *name = e->spec->name ? e->spec->name : "?";

    if (!e->has_name)
        vp_yaml_error(file, errs, node, "pipeline entry has no 'name'");
    if (e->has_source && e->launch_node) {
        vp_yaml_error(file, errs, e->launch_node,
                      "pipeline '%s' has both 'source' and 'launch': give one", name);
        return;
    }
    if (!e->has_source && !e->launch_node) {
        vp_yaml_error(file, errs, node, "pipeline '%s' needs 'source' or 'launch'", name);
        return;
    }
    if (e->launch_node) {
        if (e->spec->launch)
            check_launch(file, errs, e);
        return;
    }
    if (!e->spec->model && !(e->set & VP_SET_MODEL))
        vp_yaml_error(file, errs, node,
                      "pipeline '%s' has no 'model' (set it here or under 'defaults:' in "
                      "vitd.yaml)",
                      name);
}

static const VpPipelineSpec *find_name(GPtrArray *specs, const char *name)
{
    for (guint i = 0; i < specs->len; i++) {
        const VpPipelineSpec *s = g_ptr_array_index(specs, i);
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

/* Reports a name used before (in any file, by a valid entry or not); remembers it otherwise. */
static gboolean check_duplicate(VpYamlFile *file, VpErrors *errs, yaml_node_t *node,
                                const VpFileContext *ctx, GPtrArray *specs, const char *name)
{
    const VpPipelineSpec *first = find_name(specs, name);
    const char *first_at = ctx->names ? g_hash_table_lookup(ctx->names, name) : NULL;
    g_autofree char *at =
        first ? g_strdup_printf("%s:%d:%d", first->file, first->line, first->column) : NULL;

    if (!at && first_at)
        at = g_strdup(first_at);
    if (at) {
        vp_yaml_error(file, errs, node, "duplicate pipeline name '%s' (first defined at %s)", name,
                      at);
        return FALSE;
    }
    if (ctx->names)
        g_hash_table_insert(ctx->names, g_strdup(name), node_at(file, node));
    return TRUE;
}

static void parse_entry(VpYamlFile *file, VpErrors *errs, yaml_node_t *node,
                        const VpFileContext *ctx, GPtrArray *append_to)
{
    const VpPipelineSpec *defaults = ctx->defaults;
    Entry e = {.ctx = ctx};
    guint before = errs->count;

    if (node->type != YAML_MAPPING_NODE) {
        vp_yaml_error(file, errs, node, "a pipeline entry must be a mapping, got %s",
                      vp_yaml_kind(node));
        return;
    }
    e.spec = g_new0(VpPipelineSpec, 1);
    vp_settings_init(e.spec);
    if (defaults) {
        e.spec->top_k = defaults->top_k;
        e.spec->interval = defaults->interval;
        e.spec->early_exit = defaults->early_exit;
        e.spec->threads = defaults->threads;
        e.spec->publish = defaults->publish;
        e.spec->max_rate = defaults->max_rate;
        e.spec->restart = defaults->restart;
        e.spec->backoff_initial_s = defaults->backoff_initial_s;
        e.spec->backoff_max_s = defaults->backoff_max_s;
        e.spec->realtime = defaults->realtime;
        e.spec->exit_budget = defaults->exit_budget;
        e.spec->precision = defaults->precision;
        e.spec->model = g_strdup(defaults->model);
        e.spec->model_at = g_strdup(defaults->model_at);
    }
    e.spec->file = g_strdup(file->path);
    e.spec->line = vp_yaml_line(node);
    e.spec->column = vp_yaml_column(node);
    vp_yaml_mapping_foreach(file, errs, node, entry_pair, &e);
    check_entry(file, errs, node, &e);
    /* Checked even when the entry has other problems, so one run reports both. */
    if (e.spec->name && !check_duplicate(file, errs, node, ctx, append_to, e.spec->name)) {
        vp_pipeline_spec_free(e.spec);
        return;
    }
    if (errs->count != before) {
        vp_pipeline_spec_free(e.spec);
        return;
    }
    g_ptr_array_add(append_to, e.spec);
}

typedef struct {
    const VpFileContext *ctx;
    GPtrArray *append_to;
    gboolean has_pipelines;
} FileState;

static void top_pair(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *key_node,
                     yaml_node_t *value, void *user_data)
{
    FileState *st = user_data;

    if (strcmp(key, "bus") == 0 || strcmp(key, "pipelines-dir") == 0 ||
        strcmp(key, "defaults") == 0) {
        vp_yaml_error(file, errs, key_node, "'%s' belongs in vitd.yaml, not in a pipelines file",
                      key);
        return;
    }
    if (strcmp(key, "pipelines") != 0) {
        vp_yaml_unknown_key(file, errs, key_node, key, top_keys);
        return;
    }
    st->has_pipelines = TRUE;
    if (vp_yaml_is_null(value)) /* `pipelines:` with every entry commented out */
        return;
    if (value->type != YAML_SEQUENCE_NODE) {
        vp_yaml_error(file, errs, value, "'pipelines' must be a list of entries, got %s",
                      vp_yaml_kind(value));
        return;
    }
    for (yaml_node_item_t *item = value->data.sequence.items.start;
         item < value->data.sequence.items.top; item++) {
        yaml_node_t *entry = vp_yaml_node(file, *item);
        if (entry)
            parse_entry(file, errs, entry, st->ctx, st->append_to);
    }
}

gboolean vp_pipelines_file_parse(const char *path, const VpFileContext *ctx, GPtrArray *append_to,
                                 VpErrors *errs)
{
    VpFileContext local = {NULL, NULL, NULL};
    VpYamlFile file;
    FileState st = {&local, append_to, FALSE};
    guint before = errs->count;
    yaml_node_t *root;

    if (ctx)
        local = *ctx;
    if (!local.names) /* names of entries with errors, within this file */
        local.names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    if (!vp_yaml_file_load(&file, path, errs)) {
        vp_yaml_file_clear(&file);
        if (!ctx || !ctx->names)
            g_hash_table_destroy(local.names);
        return FALSE;
    }
    root = vp_yaml_root(&file);
    if (!root) {
        vp_errors_add(errs, VP_CONFIG_ERROR_INVALID, path, 1, 1,
                      "the file is empty: expected a top-level 'pipelines:' list");
    } else if (root->type != YAML_MAPPING_NODE) {
        vp_yaml_error(&file, errs, root,
                      "the top level must be a mapping holding 'pipelines:', got %s",
                      vp_yaml_kind(root));
    } else {
        vp_yaml_mapping_foreach(&file, errs, root, top_pair, &st);
        if (!st.has_pipelines)
            vp_yaml_error(&file, errs, root, "missing 'pipelines:' (the list of pipelines)");
    }
    vp_yaml_file_clear(&file);
    if (!ctx || !ctx->names)
        g_hash_table_destroy(local.names);
    return errs->count == before;
}

gboolean vp_pipelines_file_load(const char *path, GPtrArray *append_to, GError **error)
{
    VpErrors errs;
    GPtrArray *all;
    guint old_len;
    gboolean ok;

    g_return_val_if_fail(path != NULL && append_to != NULL, FALSE);
    /* Parse against a copy so APPEND_TO is untouched on failure. */
    all = g_ptr_array_new();
    for (guint i = 0; i < append_to->len; i++)
        g_ptr_array_add(all, g_ptr_array_index(append_to, i));
    old_len = all->len;
    vp_errors_init(&errs);
    ok = vp_pipelines_file_parse(path, NULL, all, &errs);
    for (guint i = old_len; i < all->len; i++) {
        if (ok)
            g_ptr_array_add(append_to, g_ptr_array_index(all, i));
        else
            vp_pipeline_spec_free(g_ptr_array_index(all, i));
    }
    g_ptr_array_free(all, TRUE);
    vp_errors_take(&errs, error);
    vp_errors_clear(&errs);
    return ok;
}

void vp_pipeline_spec_free(VpPipelineSpec *spec)
{
    if (!spec)
        return;
    g_free(spec->name);
    g_free(spec->file);
    g_free(spec->source);
    g_free(spec->model);
    g_free(spec->launch);
    g_free(spec->model_at);
    g_free(spec->labels);
    g_free(spec);
}

VpPipelineSpec *vp_pipeline_spec_copy(const VpPipelineSpec *spec)
{
    VpPipelineSpec *copy;

    g_return_val_if_fail(spec != NULL, NULL);
    copy = g_memdup2(spec, sizeof(*spec));
    copy->name = g_strdup(spec->name);
    copy->file = g_strdup(spec->file);
    copy->source = g_strdup(spec->source);
    copy->model = g_strdup(spec->model);
    copy->launch = g_strdup(spec->launch);
    copy->model_at = g_strdup(spec->model_at);
    copy->labels = g_strdup(spec->labels);
    return copy;
}

gboolean vp_pipeline_spec_equal(const VpPipelineSpec *a, const VpPipelineSpec *b)
{
    if (a == b)
        return TRUE;
    if (!a || !b)
        return FALSE;
    return g_strcmp0(a->name, b->name) == 0 && g_strcmp0(a->source, b->source) == 0 &&
           g_strcmp0(a->model, b->model) == 0 && g_strcmp0(a->launch, b->launch) == 0 &&
           a->top_k == b->top_k && a->interval == b->interval && a->early_exit == b->early_exit &&
           a->threads == b->threads && a->publish == b->publish && a->max_rate == b->max_rate &&
           a->restart == b->restart && a->backoff_initial_s == b->backoff_initial_s &&
           a->backoff_max_s == b->backoff_max_s && a->realtime == b->realtime &&
           a->exit_budget == b->exit_budget && g_strcmp0(a->labels, b->labels) == 0 &&
           a->precision == b->precision;
}
