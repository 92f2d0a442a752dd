/* test-fuzz.c — loading never crashes, hangs or lies, whatever the bytes.
 *
 * Feeds the example files (data/example) truncated at every length and mutated at random
 * (deterministic seed; VP_FUZZ_SEED and VP_FUZZ_ROUNDS override), plus hand-written hostile
 * inputs (empty, NUL bytes, binary junk, deep nesting, self-referencing aliases, huge numbers,
 * oversized files), both as a pipelines file and as vitd.yaml. Every load must either succeed
 * with complete specs that turn into launch descriptions, or fail with a non-empty message whose
 * every line starts with the file name. Check runs each test in a child, so a crash fails it.
 */
#include <check.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "check-runner.h"
#include "test-util.h"

static char *dir;         /* scratch copy of data/example, with fake models */
static char *victim;      /* DIR/pipelines.d/50-fuzz.yaml */
static char *fuzz_config; /* DIR/fuzz-vitd.yaml */
static GPtrArray *seeds;  /* of GBytes: the example files */

static void setup(void)
{
    static const char *const names[] = {"vitd.yaml", "pipelines.d/10-cameras.yaml",
                                        "pipelines.d/20-raw.yaml"};
    char *example = tu_data("example");

    dir = tu_tmpdir();
    tu_copy_tree(example, dir);
    tu_fake_model(dir, "models/fmnist-vit");
    g_free(tu_write(dir, "models/other.safetensors", "x"));
    victim = g_build_filename(dir, "pipelines.d", "50-fuzz.yaml", NULL);
    fuzz_config = g_build_filename(dir, "fuzz-vitd.yaml", NULL);
    seeds = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *path = g_build_filename(example, names[i], NULL);
        char *content;
        gsize length;
        ck_assert(g_file_get_contents(path, &content, &length, NULL));
        g_ptr_array_add(seeds, g_bytes_new_take(content, length));
        g_free(path);
    }
    g_free(example);
}

static void teardown(void)
{
    tu_rmtree(dir);
    g_free(dir);
    g_free(victim);
    g_free(fuzz_config);
    g_ptr_array_free(seeds, TRUE);
}

/* Plain stdio: g_file_set_contents() fsyncs, which makes thousands of rounds crawl. */
static void write_bytes(const char *path, const char *data, gsize length)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert(fwrite(data, 1, length, f) == length);
    ck_assert(fclose(f) == 0);
}

static void check_error_text(const GError *error, const char *path)
{
    char **lines;

    ck_assert_int_eq(error->domain, VP_CONFIG_ERROR);
    ck_assert(error->message[0] != '\0');
    lines = g_strsplit(error->message, "\n", -1);
    for (int i = 0; lines[i]; i++)
        ck_assert_msg(g_str_has_prefix(lines[i], path), "error line without its file: %s",
                      lines[i]);
    g_strfreev(lines);
}

static void check_specs(GPtrArray *specs)
{
    for (guint i = 0; i < specs->len; i++) {
        const VpPipelineSpec *s = g_ptr_array_index(specs, i);
        char *launch;

        ck_assert_ptr_nonnull(s->name);
        ck_assert_ptr_nonnull(s->model);
        ck_assert((s->source == NULL) != (s->launch == NULL));
        launch = vp_spec_to_launch(s);
        ck_assert_ptr_nonnull(strstr(launch, "name=vit"));
        g_free(launch);
    }
}

/* Loads DATA as a pipelines file and as vitd.yaml; asserts a clean outcome either way. */
static void try_input(const char *data, gsize length)
{
    GPtrArray *specs = g_ptr_array_new_with_free_func((GDestroyNotify)vp_pipeline_spec_free);
    GError *error = NULL;
    VpConfig *c;

    write_bytes(victim, data, length);
    if (vp_pipelines_file_load(victim, specs, &error)) {
        ck_assert_ptr_null(error);
        check_specs(specs);
    } else {
        ck_assert_ptr_nonnull(error);
        check_error_text(error, victim);
        ck_assert_int_eq(specs->len, 0);
        g_clear_error(&error);
    }
    g_ptr_array_free(specs, TRUE);
    g_unlink(victim);

    /* As vitd.yaml: a second config file beside the example's, so that one stays intact. */
    write_bytes(fuzz_config, data, length);
    c = vp_config_load(fuzz_config, &error);
    if (c) {
        check_specs(c->pipelines);
        vp_config_free(c);
    } else {
        ck_assert_ptr_nonnull(error);
        ck_assert(error->message[0] != '\0');
        g_clear_error(&error);
    }
}

START_TEST(test_truncations)
{
    for (guint s = 0; s < seeds->len; s++) {
        gsize length;
        const char *data = g_bytes_get_data(g_ptr_array_index(seeds, s), &length);
        for (gsize n = 0; n <= length; n++)
            try_input(data, n);
    }
}
END_TEST

/* One random edit: overwrite, insert or delete a byte, or duplicate or drop a line. */
static void mutate(GRand *rand, GString *text)
{
    static const char interesting[] = ":-[]{}&*!|>#'\"\t\n ,?%@`~\\\0\xff";
    gsize pos = text->len ? (gsize)g_rand_int_range(rand, 0, (gint32)text->len) : 0;
    char c = g_rand_boolean(rand) ? interesting[g_rand_int_range(rand, 0, sizeof(interesting))]
                                  : (char)g_rand_int_range(rand, 0, 256);

    switch (g_rand_int_range(rand, 0, 5)) {
    case 0:
        if (text->len)
            text->str[pos] = c;
        break;
    case 1:
        g_string_insert_len(text, (gssize)pos, &c, 1);
        break;
    case 2:
        if (text->len)
            g_string_erase(text, (gssize)pos, 1);
        break;
    default: {
        const char *start = text->str + pos, *end;
        while (start > text->str && start[-1] != '\n')
            start--;
        end = strchr(start, '\n');
        end = end ? end + 1 : text->str + text->len;
        gsize from = (gsize)(start - text->str), n = (gsize)(end - start);
        char *line = g_strndup(start, n);
        if (g_rand_boolean(rand))
            g_string_insert_len(text, (gssize)from, line, (gssize)n);
        else
            g_string_erase(text, (gssize)from, (gssize)n);
        g_free(line);
    }
    }
}

START_TEST(test_random_mutations)
{
    const char *seed_env = g_getenv("VP_FUZZ_SEED");
    const char *rounds_env = g_getenv("VP_FUZZ_ROUNDS");
    guint32 seed = seed_env ? (guint32)g_ascii_strtoull(seed_env, NULL, 10) : 20261123u;
    guint rounds = rounds_env ? (guint)g_ascii_strtoull(rounds_env, NULL, 10) : 400u;
    GRand *rand = g_rand_new_with_seed(seed);

    for (guint s = 0; s < seeds->len; s++) {
        gsize length;
        const char *data = g_bytes_get_data(g_ptr_array_index(seeds, s), &length);
        for (guint r = 0; r < rounds; r++) {
            GString *text = g_string_new_len(data, (gssize)length);
            guint edits = (guint)g_rand_int_range(rand, 1, 6);
            for (guint e = 0; e < edits; e++)
                mutate(rand, text);
            try_input(text->str, text->len);
            g_string_free(text, TRUE);
        }
    }
    g_rand_free(rand);
}
END_TEST

static char *repeat(const char *unit, guint times)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < times; i++)
        g_string_append(s, unit);
    return g_string_free(s, FALSE);
}

START_TEST(test_hostile_inputs)
{
    static const char *const texts[] = {
        "",
        "~",
        "null",
        "[",
        "pipelines: &a [*a]\n",
        "pipelines:\n  - &e {name: a, source: 'test:ball', restart: *e, publish: *e, "
        "early-exit: *e, model: *e}\n",
        "pipelines:\n  - *nowhere\n",
        "&a a: *a\n",
        "base: &b {name: a, source: 'test:ball'}\npipelines:\n  - <<: *b\n",
        "pipelines:\n  - {name: a, source: 'test:ball', model: ../models/fmnist-vit, "
        "top-k: 1e999999, interval: -99999999999999999999999, early-exit: 1e-400, "
        "threads: 0x10}\n",
        "pipelines:\n  - {name: a, launch: 'vitclassify model=\\\\'}\n",
        "pipelines:\n  - {name: a, launch: 'vitclassify name= model='}\n",
        "pipelines:\n  - {name: a, launch: '\"vitclassify \\' ! ( ) { } . : ,'}\n",
        "pipelines:\n  - {name: a, launch: 'vitclassify model=\"../models/fmnist-vit'}\n",
        "pipelines: !!binary aGVsbG8=\n",
        "!!map {? [a, b] : c, pipelines: []}\n",
        "%YAML 9.9\n---\npipelines: []\n",
        "%TAG ! tag:x,2000:\n---\npipelines: !foo []\n",
        "---\n...\n---\n...\n",
        "pipelines:\n- name: a\n  source: \"\\u0000\\x01\"\n  model: ../models/fmnist-vit\n",
        "pipelines:\n  - {name: a, source: 'test:ball', model: ../models/fmnist-vit}\n"
        "  - {name: a, source: 'test:ball', model: ../models/fmnist-vit}\n",
        "\xef\xbb\xbfpipelines: []\n",
        "\xff\xfe\x00p\x00i\x00",
        "pipelines: [\xc3\x28]\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
        try_input(texts[i], strlen(texts[i]));

    try_input("pipelines:\0[]", 13); /* a NUL byte */

    char *deep = repeat("[", 200000);
    try_input(deep, strlen(deep));
    g_free(deep);
    deep = repeat("{a: ", 50000);
    try_input(deep, strlen(deep));
    g_free(deep);
    deep = repeat("- ", 200000); /* block sequences nested on one line */
    try_input(deep, strlen(deep));
    g_free(deep);
    char *long_key = repeat("k", 500000);
    char *text = g_strdup_printf("pipelines: []\n%s: 1\n", long_key);
    try_input(text, strlen(text));
    g_free(text);
    g_free(long_key);
    /* Thousands of bad entries: the error list is capped, not endless. */
    char *many = repeat("  - {name: 'bad name', top_k: x}\n", 5000);
    text = g_strconcat("pipelines:\n", many, NULL);
    try_input(text, strlen(text));
    g_free(text);
    g_free(many);
    /* Larger than the 1 MiB limit. */
    char *big =
        repeat("# padding padding padding padding padding padding padding padding\n", 17000);
    try_input(big, strlen(big));
    g_free(big);

    GRand *rand = g_rand_new_with_seed(7);
    for (int round = 0; round < 50; round++) {
        gsize n = (gsize)g_rand_int_range(rand, 1, 4096);
        char *junk = g_malloc(n);
        for (gsize j = 0; j < n; j++)
            junk[j] = (char)g_rand_int_range(rand, 0, 256);
        try_input(junk, n);
        g_free(junk);
    }
    g_rand_free(rand);
}
END_TEST

START_TEST(test_error_list_is_bounded)
{
    char *many = repeat("  - {name: 'bad name', top_k: x}\n", 5000);
    char *text = g_strconcat("pipelines:\n", many, NULL);
    GPtrArray *specs = g_ptr_array_new();
    GError *error = NULL;

    write_bytes(victim, text, strlen(text));
    ck_assert(!vp_pipelines_file_load(victim, specs, &error));
    ck_assert_uint_le(tu_count_lines(error->message), 60);
    ck_assert_ptr_nonnull(strstr(error->message, "too many errors"));
    g_error_free(error);
    g_ptr_array_free(specs, TRUE);
    g_free(text);
    g_free(many);
}
END_TEST

static Suite *fuzz_suite(void)
{
    Suite *s = suite_create("fuzz");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_random_mutations);
    tcase_add_test(tc, test_hostile_inputs);
    tcase_add_test(tc, test_error_list_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const CheckSuiteMaker suites[] = {fuzz_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
