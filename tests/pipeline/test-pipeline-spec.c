/* test-pipeline-spec.c — one pipelines file through vp_pipelines_file_load(): every key's good
 * and bad values, entry shapes, launch entries, syntax errors and their positions, duplicate
 * names, and spec equality/copy. Each case writes a small YAML file into a scratch folder that
 * also holds a fake model folder ("models/tiny") and a single-file model ("one.safetensors").
 */
#include <check.h>
#include <string.h>

#include "check-runner.h"
#include "vit.h"
#include "test-util.h"

static char *dir;
static char *path; /* DIR/p.yaml, written by load() */

static void setup(void)
{
    dir = tu_tmpdir();
    tu_fake_model(dir, "models/tiny");
    g_free(tu_write(dir, "one.safetensors", "x"));
    g_free(tu_write(dir, "notes.txt", "x"));
    char *empty = g_build_filename(dir, "empty-model", NULL);
    g_mkdir_with_parents(empty, 0755);
    g_free(empty);
    path = g_build_filename(dir, "p.yaml", NULL);
}

static void teardown(void)
{
    tu_rmtree(dir);
    g_free(dir);
    g_free(path);
}

/* Writes YAML to p.yaml and loads it; returns the error text or NULL. */
static char *load(const char *yaml, GPtrArray **ret_specs)
{
    g_free(tu_write(dir, "p.yaml", yaml));
    return tu_load_file(path, ret_specs);
}

/* An entry with a good source and model plus EXTRA lines (indented by 4). */
static char *load_entry(const char *extra)
{
    char *yaml = g_strdup_printf("pipelines:\n"
                                 "  - name: cam\n"
                                 "    source: test:ball\n"
                                 "    model: models/tiny\n"
                                 "%s",
                                 extra);
    char *err = load(yaml, NULL);
    g_free(yaml);
    return err;
}

static const VpPipelineSpec *only(GPtrArray *specs)
{
    ck_assert_int_eq(specs->len, 1);
    return g_ptr_array_index(specs, 0);
}

START_TEST(test_structured_every_key)
{
    GPtrArray *specs;
    char *err = load("# every key\n"
                     "pipelines:\n"
                     "  - name: door-cam_1\n"
                     "    source: test:ball\n"
                     "    model: models/tiny\n"
                     "    top-k: 3\n"
                     "    interval: 2\n"
                     "    early-exit: 0.8\n"
                     "    threads: 2\n"
                     "    publish: on-change\n"
                     "    restart: never\n"
                     "    realtime: false\n"
                     "    precision: bf16\n",
                     &specs);
    char *model = g_build_filename(dir, "models", "tiny", NULL);

    ck_assert_msg(err == NULL, "%s", err);
    const VpPipelineSpec *s = only(specs);
    ck_assert_str_eq(s->name, "door-cam_1");
    ck_assert_str_eq(s->file, path);
    ck_assert_int_eq(s->line, 3);
    ck_assert_int_eq(s->column, 5);
    ck_assert_str_eq(s->source, "test:ball");
    ck_assert_str_eq(s->model, model);
    ck_assert_ptr_null(s->launch);
    ck_assert_int_eq(s->top_k, 3);
    ck_assert_int_eq(s->interval, 2);
    ck_assert_double_eq_tol(s->early_exit, 0.8, 1e-12);
    ck_assert_int_eq(s->threads, 2);
    ck_assert_int_eq(s->publish, VP_PUBLISH_ON_CHANGE);
    ck_assert_int_eq(s->restart, VP_RESTART_NEVER);
    ck_assert(!s->realtime);
    ck_assert_int_eq(s->precision, VIT_PRECISION_BF16);
    g_ptr_array_free(specs, TRUE);
    g_free(model);
}
END_TEST

START_TEST(test_builtin_defaults)
{
    GPtrArray *specs;
    char *err =
        load("pipelines:\n- {name: a, source: 'test:snow', model: one.safetensors}\n", &specs);

    ck_assert_msg(err == NULL, "%s", err);
    const VpPipelineSpec *s = only(specs);
    ck_assert_int_eq(s->top_k, 5);
    ck_assert_int_eq(s->interval, 1);
    ck_assert(s->early_exit < 0);
    ck_assert_int_eq(s->threads, 0);
    ck_assert_int_eq(s->publish, VP_PUBLISH_EVERY_FRAME);
    ck_assert_int_eq(s->restart, VP_RESTART_ALWAYS);
    ck_assert_double_eq(s->backoff_initial_s, 1.0);
    ck_assert_double_eq(s->backoff_max_s, 60.0);
    ck_assert(s->realtime);
    ck_assert_int_eq(s->precision, VIT_PRECISION_FP32);
    ck_assert(g_str_has_suffix(s->model, "/one.safetensors"));
    ck_assert(g_path_is_absolute(s->model));
    g_ptr_array_free(specs, TRUE);
}
END_TEST

START_TEST(test_mapping_forms)
{
    GPtrArray *specs;
    char *err = load("pipelines:\n"
                     "  - name: a\n"
                     "    source: test:ball\n"
                     "    model: ./models/../models/tiny\n"
                     "    early-exit: {threshold: 0.5}\n"
                     "    publish: {max-rate: 2.5}\n"
                     "    restart: {policy: on-failure, backoff-initial: 0.5, backoff-max: 30}\n",
                     &specs);

    ck_assert_msg(err == NULL, "%s", err);
    const VpPipelineSpec *s = only(specs);
    ck_assert_double_eq_tol(s->early_exit, 0.5, 1e-12);
    ck_assert_int_eq(s->publish, VP_PUBLISH_MAX_RATE);
    ck_assert_double_eq_tol(s->max_rate, 2.5, 1e-12);
    ck_assert_int_eq(s->restart, VP_RESTART_ON_FAILURE);
    ck_assert_double_eq_tol(s->backoff_initial_s, 0.5, 1e-12);
    ck_assert_double_eq_tol(s->backoff_max_s, 30.0, 1e-12);
    ck_assert(!strstr(s->model, "..") && g_str_has_suffix(s->model, "/models/tiny"));
    g_ptr_array_free(specs, TRUE);
}
END_TEST

/* A budget for cascades is kept in exit_budget; a plain threshold leaves it at 0. */
START_TEST(test_exit_budget)
{
    GPtrArray *specs;
    char *err = load("pipelines:\n"
                     "  - {name: a, source: 'test:ball', model: models/tiny,\n"
                     "     early-exit: {budget-gflops: 0.05}}\n"
                     "  - {name: b, source: 'test:ball', model: models/tiny, early-exit: 0.7}\n"
                     "  - {name: c, source: 'test:ball', model: models/tiny,\n"
                     "     early-exit: {budget-gflops: 2.5}}\n",
                     &specs);

    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_int_eq(specs->len, 3);
    const VpPipelineSpec *a = g_ptr_array_index(specs, 0), *b = g_ptr_array_index(specs, 1),
                         *c = g_ptr_array_index(specs, 2);
    ck_assert_double_eq_tol(a->exit_budget, 0.05, 1e-12);
    ck_assert(a->early_exit < 0);
    ck_assert_double_eq(b->exit_budget, 0.0);
    ck_assert_double_eq_tol(b->early_exit, 0.7, 1e-12);
    ck_assert_double_eq_tol(c->exit_budget, 2.5, 1e-12);
    g_ptr_array_free(specs, TRUE);
}
END_TEST

START_TEST(test_sources)
{
    static const char *const good[][2] = {
        {"test:smpte", "test:smpte"},
        {"v4l2:/dev/video0", "v4l2:/dev/video0"},
        {"rtsp://10.0.0.2:554/stream1", "rtsp://10.0.0.2:554/stream1"},
        {"https://example.com/a.mp4", "https://example.com/a.mp4"},
        {"file:///srv/videos/a.mp4", "file:///srv/videos/a.mp4"},
        {"file:///srv/videos/a b.mp4", "file:///srv/videos/a%20b.mp4"},
        {"/srv/videos/a b.mp4", "file:///srv/videos/a%20b.mp4"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        GPtrArray *specs;
        char *yaml = g_strdup_printf(
            "pipelines:\n  - name: a\n    source: \"%s\"\n    model: models/tiny\n", good[i][0]);
        char *err = load(yaml, &specs);
        ck_assert_msg(err == NULL, "%s: %s", good[i][0], err);
        ck_assert_str_eq(only(specs)->source, good[i][1]);
        g_ptr_array_free(specs, TRUE);
        g_free(yaml);
    }
    /* A relative plain path resolves against the YAML file's folder. */
    GPtrArray *specs;
    char *err =
        load("pipelines:\n  - {name: a, source: clips/x.mp4, model: models/tiny}\n", &specs);
    char *file = g_build_filename(dir, "clips", "x.mp4", NULL);
    char *uri = g_filename_to_uri(file, NULL, NULL);
    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_str_eq(only(specs)->source, uri);
    g_ptr_array_free(specs, TRUE);
    g_free(uri);
    g_free(file);
}
END_TEST

START_TEST(test_bad_sources)
{
    char *err;

    err = load("pipelines:\n  - {name: a, source: 'test:smtpe', model: models/tiny}\n", NULL);
    tu_assert_error(err, path,
                    "2:23: unknown test pattern 'smtpe' in 'source' (did you mean 'smpte'?)");
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'v4l2:video0', model: models/tiny}\n", NULL);
    tu_assert_error(err, path,
                    "2:23: 'source' v4l2: needs an absolute device path, e.g. v4l2:/dev/video0, "
                    "got 'v4l2:video0'");
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'gopher://x/y', model: models/tiny}\n", NULL);
    tu_assert_error(err, path,
                    "2:23: unsupported source 'gopher://x/y' (expected test:PATTERN, "
                    "v4l2:/dev/videoN, file://, rtsp://, http(s):// or a file path)");
    g_free(err);
    err =
        load("pipelines:\n  - {name: a, source: 'file://host/a.mp4', model: models/tiny}\n", NULL);
    tu_assert_error(err, path,
                    "2:23: source 'file://host/a.mp4' is not a local file URI "
                    "(expected file:///absolute/path)");
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'rtsp://[bad', model: models/tiny}\n", NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "2:23: source 'rtsp://[bad' is not a valid URI"));
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: [test:ball], model: models/tiny}\n", NULL);
    tu_assert_error(err, path, "2:23: 'source' must be a non-empty string, got a list");
    g_free(err);
}
END_TEST

/* Each row: an extra entry line and the exact error it must give (line 5, column 17 is where
 * a value of "    key: " starts only for 4-letter keys, so positions are spelt out). */
START_TEST(test_bad_values)
{
    static const char *const cases[][2] = {
        {"    top-k: 0\n", "5:12: 'top-k' must be an integer from 1 to 100, got '0'"},
        {"    top-k: 101\n", "5:12: 'top-k' must be an integer from 1 to 100, got '101'"},
        {"    top-k: three\n", "5:12: 'top-k' must be an integer from 1 to 100, got 'three'"},
        {"    top-k: {a: 1}\n", "5:12: 'top-k' must be an integer from 1 to 100, got a mapping"},
        {"    top-k:\n", "5:11: 'top-k' must be an integer from 1 to 100, got nothing"},
        {"    interval: abc\n", "5:15: 'interval' must be an integer >= 1, got 'abc'"},
        {"    interval: 0\n", "5:15: 'interval' must be an integer >= 1, got '0'"},
        {"    interval: 1.5\n", "5:15: 'interval' must be an integer >= 1, got '1.5'"},
        {"    interval: 99999999999999999999\n",
         "5:15: 'interval' must be an integer >= 1, got '99999999999999999999'"},
        {"    threads: -1\n", "5:14: 'threads' must be an integer from 0 to 256, got '-1'"},
        {"    threads: 257\n", "5:14: 'threads' must be an integer from 0 to 256, got '257'"},
        {"    early-exit: 0\n", "5:17: 'early-exit' must be a number in (0, 1], got '0'"},
        {"    early-exit: 1.5\n", "5:17: 'early-exit' must be a number in (0, 1], got '1.5'"},
        {"    early-exit: high\n",
         "5:17: 'early-exit' must be 'default', a number in (0, 1] or a mapping {threshold: X}, "
         "got 'high'"},
        {"    early-exit: {threshold: 2}\n",
         "5:29: 'threshold' must be a number in (0, 1], got '2'"},
        {"    early-exit: {treshold: 0.5}\n",
         "5:18: unknown key 'treshold' (did you mean 'threshold'?)"},
        {"    early-exit: {budget-gflops: 0}\n",
         "5:33: 'budget-gflops' must be a number in (0, 10000], got '0'"},
        {"    early-exit: {budget-gflops: -1}\n",
         "5:33: 'budget-gflops' must be a number in (0, 10000], got '-1'"},
        {"    early-exit: {budget-gflops: lots}\n",
         "5:33: 'budget-gflops' must be a number in (0, 10000], got 'lots'"},
        {"    early-exit: {}\n",
         "5:17: 'early-exit' mapping needs a 'threshold' or a 'budget-gflops'"},
        {"    publish: sometimes\n",
         "5:14: 'publish' must be 'every-frame' or 'on-change', or a mapping {max-rate: N}, got "
         "'sometimes'"},
        {"    publish: on_change\n",
         "5:14: 'publish' must be 'every-frame' or 'on-change', or a mapping {max-rate: N}, got "
         "'on_change' (did you mean 'on-change'?)"},
        {"    publish: {max-rate: 0}\n", "5:25: 'max-rate' must be a number in (0, 1000], got '0'"},
        {"    publish: {max_rate: 1}\n", "5:15: unknown key 'max_rate' (did you mean 'max-rate'?)"},
        {"    restart: on_failure\n",
         "5:14: 'restart' must be 'always', 'on-failure' or 'never', or a mapping {policy: ..., "
         "backoff-initial: S, backoff-max: S}, got 'on_failure' (did you mean 'on-failure'?)"},
        {"    restart: {policy: sometimes}\n",
         "5:23: 'policy' must be 'always', 'on-failure' or 'never', got 'sometimes'"},
        {"    restart: {backoff-initial: 10, backoff-max: 5}\n",
         "5:14: 'backoff-max' (5) must not be less than 'backoff-initial' (10)"},
        {"    restart: {backoff-initial: -1}\n",
         "5:32: 'backoff-initial' must be a number in (0, 86400], got '-1'"},
        {"    realtime: maybe\n", "5:15: 'realtime' must be true or false, got 'maybe'"},
        {"    top_k: 3\n", "5:5: unknown key 'top_k' (did you mean 'top-k'?)"},
        {"    intervall: 3\n", "5:5: unknown key 'intervall' (did you mean 'interval'?)"},
        {"    colour: red\n",
         "5:5: unknown key 'colour' (expected 'name', 'source', 'launch', 'model', 'top-k', "
         "'interval', 'early-exit', 'threads', 'publish', 'restart', 'realtime' or "
         "'precision')"},
        {"    precision: fp16\n", "5:16: 'precision' must be 'fp32', 'bf16' or 'auto', got 'fp16'"},
        {"    top-k: 2\n    top-k: 3\n", "6:5: duplicate key 'top-k' (first at line 5 column 5)"},
        {"    [a]: 1\n", "5:5: keys must be strings, got a list"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *err = load_entry(cases[i][0]);
        tu_assert_error(err, path, cases[i][1]);
        ck_assert_msg(tu_count_lines(err) == 1, "one error expected for %s, got\n%s", cases[i][0],
                      err);
        g_free(err);
    }
}
END_TEST

START_TEST(test_names)
{
    char *err;
    char *long_name = g_strnfill(65, 'x');
    char *yaml;

    err = load("pipelines:\n  - {name: 'cam 1', source: 'test:ball', model: models/tiny}\n", NULL);
    tu_assert_error(err, path,
                    "2:12: 'name' must be 1 to 64 letters, digits, '-' or '_', got "
                    "'cam 1'");
    g_free(err);
    yaml = g_strdup_printf("pipelines:\n  - {name: %s, source: 'test:ball', model: models/tiny}\n",
                           long_name);
    err = load(yaml, NULL);
    ck_assert_ptr_nonnull(strstr(err, "2:12: 'name' must be 1 to 64 letters"));
    g_free(err);
    g_free(yaml);
    err = load("pipelines:\n  - {name: '', source: 'test:ball', model: models/tiny}\n", NULL);
    tu_assert_error(err, path, "2:12: 'name' must be a non-empty string, got an empty string");
    g_free(err);
    err = load("pipelines:\n  - {name: , source: 'test:ball', model: models/tiny}\n", NULL);
    tu_assert_error(err, path, "2:12: 'name' must be a non-empty string, got nothing");
    g_free(err);
    err = load("pipelines:\n  - {source: 'test:ball', model: models/tiny}\n", NULL);
    tu_assert_error(err, path, "2:5: pipeline entry has no 'name'");
    g_free(err);
    err = load("pipelines:\n  - {name: [a], source: 'test:ball', model: models/tiny}\n", NULL);
    tu_assert_error(err, path, "2:12: 'name' must be a non-empty string, got a list");
    g_free(err);
    g_free(long_name);
}
END_TEST

START_TEST(test_models)
{
    char *err;
    char *missing = g_build_filename(dir, "models", "nope", NULL);
    char *empty = g_build_filename(dir, "empty-model", NULL);
    char *notes = g_build_filename(dir, "notes.txt", NULL);
    char *want;

    err = load("pipelines:\n  - {name: a, source: 'test:ball', model: models/nope}\n", NULL);
    want = g_strdup_printf("2:43: model '%s' does not exist", missing);
    tu_assert_error(err, path, want);
    g_free(want);
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'test:ball', model: /x}\n", NULL);
    tu_assert_error(err, path, "2:43: model '/x' does not exist");
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'test:ball', model: empty-model}\n", NULL);
    want = g_strdup_printf("2:43: model '%s' is a folder without model.safetensors", empty);
    tu_assert_error(err, path, want);
    g_free(want);
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'test:ball', model: notes.txt}\n", NULL);
    want = g_strdup_printf("2:43: model '%s' is neither a model folder nor a .safetensors file",
                           notes);
    tu_assert_error(err, path, want);
    g_free(want);
    g_free(err);
    err = load("pipelines:\n  - {name: a, source: 'test:ball'}\n", NULL);
    tu_assert_error(err, path,
                    "2:5: pipeline 'a' has no 'model' (set it here or under "
                    "'defaults:' in vitd.yaml)");
    g_free(err);
    g_free(missing);
    g_free(empty);
    g_free(notes);
}
END_TEST

START_TEST(test_source_or_launch)
{
    char *err;

    err = load("pipelines:\n"
               "  - name: a\n"
               "    source: test:ball\n"
               "    launch: videotestsrc ! vitclassify model=models/tiny ! fakesink\n",
               NULL);
    tu_assert_error(err, path, "4:13: pipeline 'a' has both 'source' and 'launch': give one");
    g_free(err);
    err = load("pipelines:\n  - name: a\n    model: models/tiny\n", NULL);
    tu_assert_error(err, path, "2:5: pipeline 'a' needs 'source' or 'launch'");
    g_free(err);
}
END_TEST

START_TEST(test_launch_entries)
{
    GPtrArray *specs;
    char *model = g_build_filename(dir, "models", "tiny", NULL);
    char *err = load("pipelines:\n"
                     "  - name: raw\n"
                     "    publish: on-change\n"
                     "    launch: >\n"
                     "      videotestsrc is-live=true ! videoconvert\n"
                     "      ! vitclassify model=models/tiny top-k=2 ! fakesink\n",
                     &specs);

    ck_assert_msg(err == NULL, "%s", err);
    const VpPipelineSpec *s = only(specs);
    ck_assert_ptr_null(s->source);
    ck_assert_str_eq(s->launch, "videotestsrc is-live=true ! videoconvert ! vitclassify "
                                "model=models/tiny top-k=2 ! fakesink");
    ck_assert_str_eq(s->model, model);
    ck_assert_int_eq(s->publish, VP_PUBLISH_ON_CHANGE);
    ck_assert_int_eq(s->top_k, 5); /* structured settings stay at their defaults */
    g_ptr_array_free(specs, TRUE);
    g_free(model);
}
END_TEST

START_TEST(test_bad_launch)
{
    static const char *const cases[][2] = {
        {"videotestsrc ! fakesink", "3:13: 'launch' must contain a vitclassify element"},
        {"videotestsrc ! vitclassify model=models/tiny ! vitclassify model=models/tiny ! "
         "fakesink",
         "3:13: 'launch' has 2 vitclassify elements; vitd supports exactly one per pipeline"},
        {"videotestsrc ! vitclassify name=cls model=models/tiny ! fakesink",
         "3:13: 'launch': vitclassify is named 'cls', but vitd finds it by the name 'vit' (use "
         "name=vit or leave the name out)"},
        {"videotestsrc ! vitclassify top-k=3 ! fakesink",
         "3:13: 'launch': vitclassify has no model= property"},
        {"videotestsrc ! vitclassify model=/nope ! fakesink", "3:13: model '/nope' does not exist"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *yaml = g_strdup_printf("pipelines:\n  - name: a\n    launch: %s\n", cases[i][0]);
        char *err = load(yaml, NULL);
        tu_assert_error(err, path, cases[i][1]);
        g_free(err);
        g_free(yaml);
    }
    char *err = load("pipelines:\n"
                     "  - name: a\n"
                     "    top-k: 3\n"
                     "    launch: videotestsrc ! vitclassify model=models/tiny ! fakesink\n",
                     NULL);
    tu_assert_error(err, path,
                    "3:5: 'top-k' does not apply to a 'launch' entry (set it as a "
                    "property of vitclassify in the launch text)");
    g_free(err);
}
END_TEST

START_TEST(test_file_shape)
{
    static const char *const cases[][2] = {
        {"", "1:1: the file is empty: expected a top-level 'pipelines:' list"},
        {"# only a comment\n", "1:1: the file is empty: expected a top-level 'pipelines:' list"},
        {"- name: a\n", "1:1: the top level must be a mapping holding 'pipelines:', got a list"},
        {"hello\n", "1:1: the top level must be a mapping holding 'pipelines:', got a string"},
        {"pipeline:\n  - name: a\n", "1:1: unknown key 'pipeline' (did you mean 'pipelines'?)"},
        {"bus: session\n", "1:1: 'bus' belongs in vitd.yaml, not in a pipelines file"},
        {"bus: session\n", "1:1: missing 'pipelines:' (the list of pipelines)"},
        {"pipelines: 5\n", "1:12: 'pipelines' must be a list of entries, got a string"},
        {"pipelines:\n  - just-a-name\n", "2:5: a pipeline entry must be a mapping, got a string"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *err = load(cases[i][0], NULL);
        tu_assert_error(err, path, cases[i][1]);
        g_free(err);
    }
    /* Every entry commented out: a valid, empty file. */
    GPtrArray *specs;
    char *err = load("pipelines:\n#  - name: a\n", &specs);
    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_int_eq(specs->len, 0);
    g_ptr_array_free(specs, TRUE);
}
END_TEST

START_TEST(test_syntax_errors)
{
    GError *error = NULL;
    GPtrArray *specs = g_ptr_array_new();
    char *err;

    /* A value line indented deeper than its mapping. */
    g_free(
        tu_write(dir, "p.yaml", "pipelines:\n  - name: a\n    source: test:ball\n     model: x\n"));
    ck_assert(!vp_pipelines_file_load(path, specs, &error));
    ck_assert_int_eq(error->code, VP_CONFIG_ERROR_SYNTAX);
    tu_assert_error(error->message, path,
                    "4:11: syntax error: mapping values are not allowed in this context");
    g_clear_error(&error);

    err = load("pipelines:\n  - name: a\n\tsource: test:ball\n", NULL);
    tu_assert_error(err, path,
                    "3:1: syntax error: found a tab character that violates indentation "
                    "(while scanning a plain scalar at line 2 column 11)");
    g_free(err);
    err = load("pipelines: [\n", NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(g_str_has_prefix(err, path) && strstr(err, ": syntax error: "), "%s", err);
    g_free(err);
    /* Deep flow nesting is refused before libyaml sees it (its scanner is quadratic there). */
    char *deep = g_strnfill(40, '[');
    char *yaml = g_strdup_printf("pipelines: %s\n", deep);
    err = load(yaml, NULL);
    tu_assert_error(err, path, "1:44: nesting deeper than 32 levels");
    g_free(err);
    g_free(yaml);
    g_free(deep);
    err = load("pipelines: []\n---\npipelines: []\n", NULL);
    tu_assert_error(err, path, "2:1: a second YAML document: a file holds exactly one");
    g_free(err);
    g_ptr_array_free(specs, TRUE);
}
END_TEST

START_TEST(test_io_errors)
{
    GError *error = NULL;
    GPtrArray *specs = g_ptr_array_new();
    char *missing = g_build_filename(dir, "missing.yaml", NULL);

    ck_assert(!vp_pipelines_file_load(missing, specs, &error));
    ck_assert_int_eq(error->code, VP_CONFIG_ERROR_IO);
    ck_assert(g_str_has_prefix(error->message, missing));
    ck_assert_ptr_nonnull(strstr(error->message, ": cannot read: "));
    g_clear_error(&error);
    ck_assert(!vp_pipelines_file_load(dir, specs, &error));
    ck_assert_int_eq(error->code, VP_CONFIG_ERROR_IO);
    g_clear_error(&error);
    g_ptr_array_free(specs, TRUE);
    g_free(missing);
}
END_TEST

START_TEST(test_all_errors_collected)
{
    char *err = load("pipelines:\n"
                     "  - name: a\n"
                     "    source: test:ball\n"
                     "    model: models/tiny\n"
                     "    top_k: 3\n"
                     "    interval: abc\n"
                     "  - name: b\n"
                     "    source: test:nope\n"
                     "    model: models/tiny\n",
                     NULL);

    tu_assert_error(err, path, "5:5: unknown key 'top_k' (did you mean 'top-k'?)");
    tu_assert_error(err, path, "6:15: 'interval' must be an integer >= 1, got 'abc'");
    ck_assert_ptr_nonnull(strstr(err, "8:13: unknown test pattern 'nope'"));
    ck_assert_int_eq(tu_count_lines(err), 3);
    g_free(err);
}
END_TEST

START_TEST(test_duplicate_names)
{
    GPtrArray *specs = g_ptr_array_new_with_free_func((GDestroyNotify)vp_pipeline_spec_free);
    GError *error = NULL;
    char *first = tu_write(dir, "a.yaml",
                           "pipelines:\n  - {name: cam1, source: 'test:ball', model: "
                           "models/tiny}\n");
    char *want;
    char *err;

    /* Within one file. */
    err = load("pipelines:\n"
               "  - {name: cam1, source: 'test:ball', model: models/tiny}\n"
               "  - {name: cam1, source: 'test:snow', model: models/tiny}\n",
               NULL);
    want = g_strdup_printf("3:5: duplicate pipeline name 'cam1' (first defined at %s:2:5)", path);
    tu_assert_error(err, path, want);
    g_free(want);
    g_free(err);

    /* Across files: the second file fails and leaves the list as it was. */
    ck_assert(vp_pipelines_file_load(first, specs, NULL));
    g_free(tu_write(dir, "p.yaml",
                    "pipelines:\n"
                    "  - {name: other, source: 'test:ball', model: models/tiny}\n"
                    "  - {name: cam1, source: 'test:snow', model: models/tiny}\n"));
    ck_assert(!vp_pipelines_file_load(path, specs, &error));
    want = g_strdup_printf("3:5: duplicate pipeline name 'cam1' (first defined at %s:2:5)", first);
    tu_assert_error(error->message, path, want);
    ck_assert_int_eq(error->code, VP_CONFIG_ERROR_INVALID);
    ck_assert_int_eq(specs->len, 1);
    g_clear_error(&error);
    g_free(want);
    g_free(first);
    g_ptr_array_free(specs, TRUE);
}
END_TEST

START_TEST(test_spec_equal_and_copy)
{
    GPtrArray *a, *b;
    const char *yaml = "pipelines:\n"
                       "  - {name: x, source: 'test:ball', model: models/tiny, top-k: 2}\n";
    char *err = load(yaml, &a);
    ck_assert_msg(err == NULL, "%s", err);
    /* Same entry, other file and position: still equal. */
    g_free(tu_write(dir, "q.yaml",
                    "\n\npipelines:\n"
                    "    -   {name: x, source: 'test:ball', model: models/tiny, "
                    "top-k: 2}\n"));
    char *q = g_build_filename(dir, "q.yaml", NULL);
    err = tu_load_file(q, &b);
    ck_assert_msg(err == NULL, "%s", err);
    VpPipelineSpec *sa = g_ptr_array_index(a, 0), *sb = g_ptr_array_index(b, 0);
    ck_assert(vp_pipeline_spec_equal(sa, sb));
    ck_assert_int_ne(sa->line, sb->line);

    VpPipelineSpec *c = vp_pipeline_spec_copy(sa);
    ck_assert(vp_pipeline_spec_equal(sa, c));
    ck_assert_ptr_ne(c->name, sa->name);
    c->top_k = 3;
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    c->top_k = sa->top_k;
    c->realtime = !c->realtime;
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    c->realtime = sa->realtime;
    c->precision = VIT_PRECISION_AUTO;
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    c->precision = sa->precision;
    c->restart = VP_RESTART_NEVER;
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    c->restart = sa->restart;
    g_free(c->source);
    c->source = g_strdup("test:snow");
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    g_free(c->source);
    c->source = g_strdup(sa->source);
    c->backoff_max_s = 5;
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    c->backoff_max_s = sa->backoff_max_s;
    c->exit_budget = 0.05;
    ck_assert(!vp_pipeline_spec_equal(sa, c));
    VpPipelineSpec *d = vp_pipeline_spec_copy(c);
    ck_assert_double_eq(d->exit_budget, 0.05);
    ck_assert(vp_pipeline_spec_equal(c, d));
    vp_pipeline_spec_free(d);
    vp_pipeline_spec_free(c);
    ck_assert(!vp_pipeline_spec_equal(sa, NULL));
    g_ptr_array_free(a, TRUE);
    g_ptr_array_free(b, TRUE);
    g_free(q);
}
END_TEST

static Suite *pipeline_spec_suite(void)
{
    Suite *s = suite_create("pipeline-spec");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_structured_every_key);
    tcase_add_test(tc, test_builtin_defaults);
    tcase_add_test(tc, test_mapping_forms);
    tcase_add_test(tc, test_exit_budget);
    tcase_add_test(tc, test_sources);
    tcase_add_test(tc, test_bad_sources);
    tcase_add_test(tc, test_bad_values);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_models);
    tcase_add_test(tc, test_source_or_launch);
    tcase_add_test(tc, test_launch_entries);
    tcase_add_test(tc, test_bad_launch);
    tcase_add_test(tc, test_file_shape);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_io_errors);
    tcase_add_test(tc, test_all_errors_collected);
    tcase_add_test(tc, test_duplicate_names);
    tcase_add_test(tc, test_spec_equal_and_copy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const CheckSuiteMaker suites[] = {pipeline_spec_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
