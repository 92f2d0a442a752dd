/* test-config.c — whole configurations through vp_config_load(): vitd.yaml keys, `defaults:`
 * applied to entries, paths resolved against the right folder, the pipelines folder read in
 * name order, names unique across files, and every error of every file reported at once.
 * The example under data/example is copied into a scratch folder with fake models beside it.
 */
#include <check.h>
#include <string.h>

#include "check-runner.h"
#include "test-util.h"

static char *dir;    /* scratch copy of data/example */
static char *config; /* DIR/vitd.yaml */

static void setup(void)
{
    char *example = tu_data("example");

    dir = tu_tmpdir();
    tu_copy_tree(example, dir);
    tu_fake_model(dir, "models/fmnist-vit");
    g_free(tu_write(dir, "models/other.safetensors", "x"));
    config = g_build_filename(dir, "vitd.yaml", NULL);
    g_free(example);
}

static void teardown(void)
{
    tu_rmtree(dir);
    g_free(dir);
    g_free(config);
}

static char *path_in(const char *relative)
{
    return g_build_filename(dir, relative, NULL);
}

/* Loads CONFIG expecting failure; returns the error text (and its code through RET_CODE). */
static char *load_error(int *ret_code)
{
    GError *error = NULL;
    VpConfig *c = vp_config_load(config, &error);
    char *text;

    ck_assert_msg(c == NULL, "loading %s should have failed", config);
    ck_assert_ptr_nonnull(error);
    ck_assert_int_eq(error->domain, VP_CONFIG_ERROR);
    if (ret_code)
        *ret_code = error->code;
    text = g_strdup(error->message);
    g_error_free(error);
    return text;
}

START_TEST(test_example)
{
    GError *error = NULL;
    g_autoptr(VpConfig) c = vp_config_load(config, &error);
    static const char *const names[] = {"demo", "door", "raw", "replay", "yard"};
    char *model = path_in("models/fmnist-vit");
    char *other = path_in("models/other.safetensors");
    char *pipelines = path_in("pipelines.d");
    char *cameras = path_in("pipelines.d/10-cameras.yaml");
    char *replay = path_in("clips/front door.mp4");
    char *replay_uri = g_filename_to_uri(replay, NULL, NULL);

    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(c->config_file, config);
    ck_assert_int_eq(c->bus, VP_BUS_SESSION);
    ck_assert_str_eq(c->pipelines_dir, pipelines);
    ck_assert_int_eq(c->pipelines->len, G_N_ELEMENTS(names));
    for (guint i = 0; i < c->pipelines->len; i++) /* sorted by name */
        ck_assert_str_eq(((VpPipelineSpec *)g_ptr_array_index(c->pipelines, i))->name, names[i]);

    const VpPipelineSpec *door = vp_config_find(c, "door");
    ck_assert_ptr_nonnull(door);
    ck_assert_str_eq(door->file, cameras);
    ck_assert_int_eq(door->line, 3);
    ck_assert_str_eq(door->model, model); /* defaults' model, relative to vitd.yaml */
    ck_assert_int_eq(door->top_k, 3);     /* from defaults */
    ck_assert_int_eq(door->interval, 2);  /* its own */
    ck_assert_double_eq_tol(door->early_exit, 0.9, 1e-12);
    ck_assert_int_eq(door->threads, 1);
    ck_assert_int_eq(door->publish, VP_PUBLISH_ON_CHANGE);
    ck_assert_int_eq(door->restart, VP_RESTART_ALWAYS);
    ck_assert_double_eq(door->backoff_initial_s, 2.0);
    ck_assert_double_eq(door->backoff_max_s, 30.0);

    const VpPipelineSpec *yard = vp_config_find(c, "yard");
    ck_assert_int_eq(yard->publish, VP_PUBLISH_MAX_RATE); /* from defaults */
    ck_assert_double_eq(yard->max_rate, 10.0);
    ck_assert_int_eq(yard->restart, VP_RESTART_ON_FAILURE); /* policy only; backoff kept */
    ck_assert_double_eq(yard->backoff_max_s, 30.0);

    const VpPipelineSpec *demo = vp_config_find(c, "demo");
    ck_assert_str_eq(demo->model, other); /* relative to its own file's folder */
    ck_assert_double_eq_tol(demo->early_exit, 0.75, 1e-12);

    const VpPipelineSpec *r = vp_config_find(c, "replay");
    ck_assert_str_eq(r->source, replay_uri);
    ck_assert(!r->realtime);

    const VpPipelineSpec *raw = vp_config_find(c, "raw");
    ck_assert_ptr_nonnull(raw->launch);
    ck_assert_ptr_null(raw->source);
    ck_assert_str_eq(raw->model, model);
    ck_assert_int_eq(raw->top_k, 5); /* structured defaults do not reach launch entries */
    ck_assert_int_eq(raw->restart, VP_RESTART_NEVER);
    ck_assert_int_eq(raw->publish, VP_PUBLISH_MAX_RATE); /* publish applies to both forms */

    ck_assert_ptr_null(vp_config_find(c, "nope"));
    g_free(model);
    g_free(other);
    g_free(pipelines);
    g_free(cameras);
    g_free(replay);
    g_free(replay_uri);
}
END_TEST

START_TEST(test_reload_is_stable)
{
    g_autoptr(VpConfig) a = vp_config_load(config, NULL);
    g_autoptr(VpConfig) b = NULL;
    char *cameras = path_in("pipelines.d/10-cameras.yaml");
    char *text;

    ck_assert_ptr_nonnull(a);
    /* Change one entry: only that spec differs after a reload. */
    ck_assert(g_file_get_contents(cameras, &text, NULL, NULL));
    char **parts = g_strsplit(text, "interval: 2", -1);
    char *changed = g_strjoinv("interval: 4", parts);
    g_strfreev(parts);
    ck_assert(g_file_set_contents(cameras, changed, -1, NULL));
    b = vp_config_load(config, NULL);
    ck_assert_ptr_nonnull(b);
    for (guint i = 0; i < a->pipelines->len; i++) {
        const VpPipelineSpec *old = g_ptr_array_index(a->pipelines, i);
        gboolean same = vp_pipeline_spec_equal(old, vp_config_find(b, old->name));
        ck_assert_msg(same == (strcmp(old->name, "door") != 0), "%s", old->name);
    }
    g_free(text);
    g_free(changed);
    g_free(cameras);
}
END_TEST

START_TEST(test_minimal_config)
{
    GError *error = NULL;
    VpConfig *c;
    char *pipelines = path_in("pipelines.d");

    /* Empty vitd.yaml: system bus, pipelines.d beside it, built-in defaults. */
    g_free(tu_write(dir, "vitd.yaml", "# nothing\n"));
    g_free(
        tu_write(dir, "pipelines.d/10-cameras.yaml",
                 "pipelines:\n  - {name: a, source: 'test:ball', model: ../models/fmnist-vit}\n"));
    c = vp_config_load(config, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c->bus, VP_BUS_SYSTEM);
    ck_assert_str_eq(c->pipelines_dir, pipelines);
    ck_assert_int_eq(c->pipelines->len, 2);
    ck_assert_int_eq(vp_config_find(c, "a")->top_k, 5);
    vp_config_free(c);
    g_free(pipelines);
}
END_TEST

START_TEST(test_entry_resets_a_default)
{
    g_autoptr(VpConfig) c = NULL;

    g_free(tu_write(dir, "vitd.yaml", "defaults:\n  early-exit: 0.5\n  realtime: no\n"));
    g_free(tu_write(dir, "pipelines.d/10-cameras.yaml",
                    "pipelines:\n"
                    "  - {name: a, source: 'test:ball', model: ../models/fmnist-vit}\n"
                    "  - {name: b, source: 'test:ball', model: ../models/fmnist-vit,\n"
                    "     early-exit: default, realtime: yes}\n"));
    c = vp_config_load(config, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq_tol(vp_config_find(c, "a")->early_exit, 0.5, 1e-12);
    ck_assert(!vp_config_find(c, "a")->realtime);
    ck_assert(vp_config_find(c, "b")->early_exit < 0);
    ck_assert(vp_config_find(c, "b")->realtime);
}
END_TEST

START_TEST(test_files_in_name_order)
{
    char *err;
    char *first = path_in("pipelines.d/10-cameras.yaml");
    char *second = path_in("pipelines.d/30-more.yaml");
    char *want;

    /* Hidden files and other extensions are not read. */
    g_free(tu_write(dir, "pipelines.d/.30-more.yaml.swp", "junk: ["));
    g_free(tu_write(dir, "pipelines.d/notes.yml", "junk: ["));
    g_autoptr(VpConfig) c = vp_config_load(config, NULL);
    ck_assert_ptr_nonnull(c);

    g_free(tu_write(dir, "pipelines.d/30-more.yaml",
                    "pipelines:\n  - name: extra\n    source: test:snow\n"
                    "  - name: door\n    source: test:snow\n"));
    err = load_error(NULL);
    want = g_strdup_printf("4:5: duplicate pipeline name 'door' (first defined at %s:3:5)", first);
    tu_assert_error(err, second, want);
    ck_assert_int_eq(tu_count_lines(err), 1);
    g_free(want);
    g_free(err);
    g_free(first);
    g_free(second);
}
END_TEST

START_TEST(test_errors_from_every_file)
{
    int code;
    char *a = tu_write(dir, "pipelines.d/30-a.yaml",
                       "pipelines:\n  - {name: a, source: 'test:ball', top_k: 2}\n");
    char *b = tu_write(dir, "pipelines.d/40-b.yaml", "pipelines:\n  - {name: b, source: [\n");
    char *err = load_error(&code);

    tu_assert_error(err, a, "2:36: unknown key 'top_k' (did you mean 'top-k'?)");
    ck_assert_ptr_nonnull(strstr(err, b));
    ck_assert_ptr_nonnull(strstr(err, ": syntax error: "));
    ck_assert_int_eq(tu_count_lines(err), 2);
    ck_assert_int_eq(code, VP_CONFIG_ERROR_INVALID); /* the first error's kind */
    g_free(err);
    g_free(a);
    g_free(b);
}
END_TEST

START_TEST(test_config_errors)
{
    static const char *const cases[][2] = {
        {"bus: sesion\n", "1:6: 'bus' must be 'system' or 'session', got 'sesion' (did you mean "
                          "'session'?)"},
        {"buss: session\n", "1:1: unknown key 'buss' (did you mean 'bus'?)"},
        {"defaults:\n  name: x\n", "2:3: 'name' cannot have a default: it belongs to each "
                                   "pipeline"},
        {"defaults:\n  top-k: 0\n", "2:10: 'top-k' must be an integer from 1 to 100, got '0'"},
        {"defaults:\n  topk: 2\n", "2:3: unknown key 'topk' (did you mean 'top-k'?)"},
        {"defaults: [1]\n", "1:11: 'defaults' must be a mapping, got a list"},
        {"- bus\n", "1:1: the top level must be a mapping, got a list"},
        {"pipelines: []\n", "1:1: 'pipelines' belong in *.yaml files of the pipelines "
                            "directory, not in vitd.yaml"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_free(tu_write(dir, "vitd.yaml", cases[i][0]));
        char *err = load_error(NULL);
        tu_assert_error(err, config, cases[i][1]);
        g_free(err);
    }
}
END_TEST

START_TEST(test_missing_things)
{
    int code;
    char *err;
    char *nowhere = path_in("nowhere");
    char *want;

    g_free(tu_write(dir, "vitd.yaml", "pipelines-dir: nowhere\n"));
    err = load_error(&code);
    want = g_strdup_printf("1:16: pipelines directory '%s' does not exist", nowhere);
    tu_assert_error(err, config, want);
    g_free(want);
    g_free(err);

    g_free(tu_write(dir, "vitd.yaml", "defaults:\n  model: models/none\n"));
    err = load_error(&code);
    ck_assert_ptr_nonnull(strstr(err, "vitd.yaml:2:10: model '"));
    ck_assert_ptr_nonnull(strstr(err, "models/none' does not exist"));
    g_free(err);

    /* A malformed vitd.yaml does not say where the pipelines are: none are read (the broken
     * file below would add a second error). */
    g_free(tu_write(dir, "pipelines.d/90-broken.yaml", "pipelines: 5\n"));
    g_free(tu_write(dir, "vitd.yaml", "bus: [\n"));
    err = load_error(&code);
    ck_assert_int_eq(code, VP_CONFIG_ERROR_SYNTAX);
    ck_assert_int_eq(tu_count_lines(err), 1);
    g_free(err);
    g_free(tu_write(dir, "vitd.yaml", "pipelines-dir: [a]\n"));
    err = load_error(&code);
    tu_assert_error(err, config, "1:16: 'pipelines-dir' must be a non-empty string, got a list");
    ck_assert_int_eq(tu_count_lines(err), 1);
    g_free(err);
    g_free(tu_write(dir, "vitd.yaml", "bus: session\n"));
    err = load_error(&code);
    ck_assert_ptr_nonnull(strstr(err, "90-broken.yaml:1:12: 'pipelines' must be a list"));
    g_free(err);

    g_free(config);
    config = path_in("missing.yaml");
    err = load_error(&code);
    ck_assert_int_eq(code, VP_CONFIG_ERROR_IO);
    ck_assert(g_str_has_prefix(err, config));
    g_free(err);
    g_free(nowhere);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_example);
    tcase_add_test(tc, test_reload_is_stable);
    tcase_add_test(tc, test_minimal_config);
    tcase_add_test(tc, test_entry_resets_a_default);
    tcase_add_test(tc, test_files_in_name_order);
    tcase_add_test(tc, test_errors_from_every_file);
    tcase_add_test(tc, test_config_errors);
    tcase_add_test(tc, test_missing_things);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const CheckSuiteMaker suites[] = {config_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
