/* test_vitclassify_model.c — loading the model at READY->PAUSED: a missing or corrupt model,
 * or a labels file that is missing, unreadable or of the wrong length, fails the state change
 * with a resource error naming the file; a failed start gives the model back; two elements on
 * one model hold one copy of its weights. */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vit-fixture.h"

/* Takes ELEMENT to PAUSED, expects the change to fail with a resource error whose text names
 * NAME_IN_TEXT; returns the error's code. */
static gint expect_start_error(GstElement *element, const gchar *name_in_text)
{
    g_autoptr(GstBus) bus = gst_bus_new();
    g_autoptr(GstMessage) msg = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree gchar *debug = NULL;

    gst_element_set_bus(element, bus);
    fail_unless_equals_int(gst_element_set_state(element, GST_STATE_PAUSED),
                           GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(msg != NULL, "no error message posted");
    gst_message_parse_error(msg, &error, &debug);
    fail_unless(error->domain == GST_RESOURCE_ERROR, "domain %s", g_quark_to_string(error->domain));
    fail_unless(strstr(error->message, name_in_text) != NULL, "\"%s\" does not name %s",
                error->message, name_in_text);
    gst_element_set_state(element, GST_STATE_NULL);
    gst_element_set_bus(element, NULL);
    return error->code;
}

GST_START_TEST(test_missing_model)
{
    GstElement *e = vit_element_new("vitclassify");

    g_object_set(e, "model", "/nonexistent/model-folder", NULL);
    fail_unless_equals_int(expect_start_error(e, "/nonexistent/model-folder"),
                           GST_RESOURCE_ERROR_NOT_FOUND);
    gst_object_unref(e);

    /* No model at all: also a clear error, not a crash. */
    e = vit_element_new("vitclassify");
    fail_unless_equals_int(expect_start_error(e, "model"), GST_RESOURCE_ERROR_NOT_FOUND);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_corrupt_model)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *cfg = g_build_filename(dir, "config.json", NULL);
    g_autofree gchar *weights = g_build_filename(dir, "model.safetensors", NULL);
    g_autofree gchar *src_cfg = NULL;
    GstElement *e = vit_element_new("vitclassify");
    gint code;

    /* A real config with a weights file that is not safetensors. */
    fail_unless(g_file_get_contents(SMALL_MODEL "/config.json", &src_cfg, NULL, NULL));
    fail_unless(g_file_set_contents(cfg, src_cfg, -1, NULL));
    fail_unless(
        g_file_set_contents(weights, "\xff\xff\xff\xff\xff\xff\xff\x7fnot a model", -1, NULL));
    g_object_set(e, "model", dir, NULL);
    code = expect_start_error(e, dir);
    fail_unless(code == GST_RESOURCE_ERROR_FAILED || code == GST_RESOURCE_ERROR_OPEN_READ,
                "code %d", code);
    gst_object_unref(e);
    g_unlink(cfg);
    g_unlink(weights);
    g_rmdir(dir);
}
GST_END_TEST;

GST_START_TEST(test_labels_file_errors)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *path = g_build_filename(dir, "labels.txt", NULL);
    GstElement *e = vit_element_new("vitclassify");

    /* Two labels for ten classes. */
    fail_unless(g_file_set_contents(path, "cat\ndog\n", -1, NULL));
    g_object_set(e, "model", SMALL_MODEL, "labels", path, NULL);
    fail_unless_equals_int(expect_start_error(e, path), GST_RESOURCE_ERROR_FAILED);
    /* Missing. */
    g_object_set(e, "labels", "/nonexistent/labels.txt", NULL);
    fail_unless_equals_int(expect_start_error(e, "/nonexistent/labels.txt"),
                           GST_RESOURCE_ERROR_NOT_FOUND);
    /* There but unreadable (root reads anything: nothing to check then). */
    if (geteuid() != 0) {
        g_chmod(path, 0);
        g_object_set(e, "labels", path, NULL);
        fail_unless_equals_int(expect_start_error(e, path), GST_RESOURCE_ERROR_OPEN_READ);
    }
    gst_object_unref(e);
    g_unlink(path);
    g_rmdir(dir);
}
GST_END_TEST;

/* Number of copies of the weights file FILE in this process: libvit reads each model's weights
 * into one private anonymous mapping of the file's size (rounded up to pages), read-only once
 * loaded, so count the "r--p" anonymous mappings of exactly that size. */
static gint count_mappings(const gchar *file)
{
    g_autofree gchar *maps = NULL;
    g_auto(GStrv) lines = NULL;
    GStatBuf st;
    gsize page = (gsize)sysconf(_SC_PAGESIZE), size;
    gint n = 0, i;

    fail_unless(g_stat(file, &st) == 0);
    size = ((gsize)st.st_size + page - 1) / page * page;
    fail_unless(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
    lines = g_strsplit(maps, "\n", -1);
    for (i = 0; lines[i] != NULL; i++) {
        guint64 begin, end, inode;
        char perms[8], path[2];
        int fields = sscanf(lines[i],
                            "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
                            "x %7s %*s %*s %" G_GINT64_MODIFIER "u %1s",
                            &begin, &end, perms, &inode, path);
        if (fields == 4 && inode == 0 && !strcmp(perms, "r--p") && end - begin == size)
            n++;
    }
    return n;
}

GST_START_TEST(test_two_elements_share_model)
{
    VitFixture f1 = {0}, f2 = {0};
    g_auto(GstVitClassification) c1 = GST_VIT_CLASSIFICATION_INIT;
    g_auto(GstVitClassification) c2 = GST_VIT_CLASSIFICATION_INIT;
    guint i;

    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 0);
    vit_fixture_setup(&f1, SMALL_MODEL, NULL, vit_caps_new("RGB", 32, 32));
    /* A different spelling of the same folder still shares. */
    vit_fixture_setup(&f2, VIT_FIXTURES_DIR "/./vit_small_test/", NULL,
                      vit_caps_new("RGB", 32, 32));
    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 1);

    vit_fixture_push_picture(&f1, 0);
    vit_fixture_push_picture(&f2, 0);
    vit_fixture_pop_expect(&f1, &c1);
    vit_fixture_pop_expect(&f2, &c2);
    fail_unless_equals_int(c1.n_classes, c2.n_classes);
    for (i = 0; i < c1.n_classes; i++)
        fail_unless_equals_float(c1.scores[i], c2.scores[i]);

    /* The model stays while one user remains, and is unmapped with the last. */
    vit_fixture_teardown(&f1);
    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 1);
    vit_fixture_teardown(&f2);
    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 0);
}
GST_END_TEST;

/* A start that fails after the model was opened (labels file of the wrong length) gives the
 * model back: retrying does not pile up copies of the weights, and none is left afterwards. */
GST_START_TEST(test_failed_start_releases_model)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *path = g_build_filename(dir, "labels.txt", NULL);
    GstElement *e = vit_element_new("vitclassify");
    gint i;

    fail_unless(g_file_set_contents(path, "cat\ndog\n", -1, NULL));
    g_object_set(e, "model", SMALL_MODEL, "labels", path, NULL);
    for (i = 0; i < 3; i++) {
        fail_unless_equals_int(gst_element_set_state(e, GST_STATE_PAUSED),
                               GST_STATE_CHANGE_FAILURE);
        fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 0);
    }
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
    g_unlink(path);
    g_rmdir(dir);
}
GST_END_TEST;

static Suite *vitclassify_model_suite(void)
{
    Suite *s = suite_create("vitclassify-model");
    TCase *tc = tcase_create("model");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_missing_model);
    tcase_add_test(tc, test_corrupt_model);
    tcase_add_test(tc, test_labels_file_errors);
    tcase_add_test(tc, test_two_elements_share_model);
    tcase_add_test(tc, test_failed_start_releases_model);
    return s;
}

GST_CHECK_MAIN(vitclassify_model);
