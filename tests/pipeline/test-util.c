/* test-util.c — see test-util.h. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>

#include "test-util.h"

char *tu_tmpdir(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("vp-test-XXXXXX", &error);

    ck_assert_msg(dir != NULL, "cannot make a scratch folder: %s", error ? error->message : "");
    return dir;
}

void tu_rmtree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d) {
        g_unlink(dir);
        return;
    }
    while ((name = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
            tu_rmtree(path);
        else
            g_unlink(path);
        g_free(path);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

char *tu_write(const char *dir, const char *name, const char *content)
{
    char *path = g_build_filename(dir, name, NULL);
    char *parent = g_path_get_dirname(path);
    GError *error = NULL;

    g_mkdir_with_parents(parent, 0755);
    g_free(parent);
    ck_assert_msg(g_file_set_contents(path, content, -1, &error), "cannot write %s", path);
    return path;
}

void tu_copy_tree(const char *from, const char *to)
{
    GDir *d = g_dir_open(from, 0, NULL);
    const char *name;

    ck_assert_msg(d != NULL, "cannot open %s", from);
    g_mkdir_with_parents(to, 0755);
    while ((name = g_dir_read_name(d))) {
        char *src = g_build_filename(from, name, NULL);
        char *dst = g_build_filename(to, name, NULL);
        if (g_file_test(src, G_FILE_TEST_IS_DIR)) {
            tu_copy_tree(src, dst);
        } else {
            char *content;
            gsize length;
            ck_assert(g_file_get_contents(src, &content, &length, NULL));
            ck_assert(g_file_set_contents(dst, content, (gssize)length, NULL));
            g_free(content);
        }
        g_free(src);
        g_free(dst);
    }
    g_dir_close(d);
}

char *tu_data(const char *name)
{
    const char *data = g_getenv("VP_TEST_DATA");

    ck_assert_msg(data != NULL, "VP_TEST_DATA is not set (run through meson test)");
    return g_build_filename(data, name, NULL);
}

void tu_fake_model(const char *dir, const char *name)
{
    char *rel = g_build_filename(name, "model.safetensors", NULL);
    g_free(tu_write(dir, rel, "not really weights"));
    g_free(rel);
}

char *tu_load_file(const char *path, GPtrArray **ret_specs)
{
    GPtrArray *specs = g_ptr_array_new_with_free_func((GDestroyNotify)vp_pipeline_spec_free);
    GError *error = NULL;
    char *text = NULL;
    gboolean ok = vp_pipelines_file_load(path, specs, &error);

    ck_assert_msg(ok == (error == NULL), "return value and error disagree for %s", path);
    if (error) {
        ck_assert_int_eq(error->domain, VP_CONFIG_ERROR);
        ck_assert_int_eq(specs->len, 0);
        text = g_strdup(error->message);
        g_error_free(error);
    }
    if (ret_specs)
        *ret_specs = specs;
    else
        g_ptr_array_free(specs, TRUE);
    return text;
}

void tu_assert_error_at(const char *file, int at, const char *text, const char *path,
                        const char *line)
{
    char *want = g_strdup_printf("%s:%s", path, line);
    gboolean found = FALSE;
    char **lines;

    ck_assert_msg(text != NULL, "%s:%d: expected error '%s', but loading succeeded", file, at,
                  want);
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++)
        if (strcmp(lines[i], want) == 0)
            found = TRUE;
    ck_assert_msg(found, "%s:%d: expected the line\n  %s\nin\n  %s", file, at, want, text);
    g_strfreev(lines);
    g_free(want);
}

guint tu_count_lines(const char *text)
{
    guint n = 1;

    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}
