/* test_vitclassify_properties.c — vitclassify's properties do what their blurbs say: top-k,
 * threshold, labels, exit-threshold and exit-budget on cascades (also changed while playing),
 * post-messages, and the flags and ranges gst-inspect-1.0 shows. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vit.h"
#include "vit-fixture.h"

GST_START_TEST(test_top_k)
{
    g_auto(GstVitClassification) k3 = GST_VIT_CLASSIFICATION_INIT;
    g_auto(GstVitClassification) all = GST_VIT_CLASSIFICATION_INIT;
    gdouble sum = 0;
    guint i;

    vit_classify_once("top-k=3", &k3);
    vit_classify_once("top-k=50", &all);
    fail_unless_equals_int(k3.n_classes, 3);
    /* More than the model has: every class, probabilities summing to one. */
    fail_unless_equals_int(all.n_classes, NUM_CLASSES);
    for (i = 0; i < NUM_CLASSES; i++)
        sum += all.scores[i];
    fail_unless(fabs(sum - 1.0) < 1e-4, "softmax sums to %f", sum);
    /* top-3 is the head of the full list. */
    for (i = 0; i < 3; i++) {
        fail_unless_equals_string(k3.labels[i], all.labels[i]);
        fail_unless_equals_float(k3.scores[i], all.scores[i]);
    }
}
GST_END_TEST;

/* A long list (every class of a 1000-class model) is complete, ordered, and starts with the
 * short list. */
GST_START_TEST(test_top_k_long)
{
    static const gchar *props[] = {"top-k=1000 threads=1", "top-k=5 threads=1"};
    GstVitClassification c[2] = {GST_VIT_CLASSIFICATION_INIT, GST_VIT_CLASSIFICATION_INIT};
    gdouble sum = 0;
    guint i, j;

    for (j = 0; j < 2; j++) {
        g_auto(VitFixture) f = {0};

        vit_fixture_setup(&f, DEIT_MODEL, props[j], vit_caps_new("NV12", 96, 64));
        vit_fixture_push_picture(&f, 0);
        vit_fixture_pop_expect(&f, &c[j]);
    }
    fail_unless_equals_int(c[0].n_classes, 1000);
    for (i = 0; i < 1000; i++) {
        sum += c[0].scores[i];
        fail_unless(i == 0 || c[0].scores[i] <= c[0].scores[i - 1]);
    }
    fail_unless(fabs(sum - 1.0) < 1e-3, "softmax sums to %f", sum);
    for (i = 0; i < 5; i++)
        fail_unless_equals_string(c[0].labels[i], c[1].labels[i]);
    gst_vit_classification_clear(&c[0]);
    gst_vit_classification_clear(&c[1]);
}
GST_END_TEST;

GST_START_TEST(test_threshold)
{
    g_auto(GstVitClassification) ref = GST_VIT_CLASSIFICATION_INIT;
    g_auto(GstVitClassification) one = GST_VIT_CLASSIFICATION_INIT;
    g_auto(GstVitClassification) none = GST_VIT_CLASSIFICATION_INIT;
    g_autofree gchar *props = NULL;

    vit_classify_once("top-k=10", &ref);
    props = g_strdup_printf("top-k=10 threshold=%f", (ref.scores[0] + ref.scores[1]) / 2);
    vit_classify_once(props, &one);
    vit_classify_once("threshold=1.0", &none);

    /* Between the first and second score: exactly the top class is reported. */
    fail_unless_equals_int(one.n_classes, 1);
    fail_unless_equals_string(one.labels[0], ref.labels[0]);
    /* Nothing reaches 1.0 on random weights: the message still comes, listing no class. */
    fail_unless_equals_int(none.n_classes, 0);
}
GST_END_TEST;

/* A labels file replaces the model's names; an empty line keeps the model's name. */
GST_START_TEST(test_labels_file)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *path = g_build_filename(dir, "labels.txt", NULL);
    g_autofree gchar *props = g_strdup_printf("labels=%s top-k=10", path);
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    GString *text = g_string_new(NULL);
    guint i;

    for (i = 0; i < NUM_CLASSES; i++) {
        if (i == 3)
            g_string_append(text, "\r\n");
        else
            g_string_append_printf(text, "animal %u\r\n", i);
    }
    g_string_append(text, "\n"); /* trailing blank lines are ignored */
    fail_unless(g_file_set_contents(path, text->str, -1, NULL));
    g_string_free(text, TRUE);

    vit_classify_once(props, &c);
    fail_unless_equals_int(c.n_classes, NUM_CLASSES);
    for (i = 0; i < NUM_CLASSES; i++) {
        g_autofree gchar *want = c.class_ids[i] == 3 ? g_strdup("class_3")
                                                     : g_strdup_printf("animal %d", c.class_ids[i]);

        fail_unless_equals_string(c.labels[i], want);
    }
    g_unlink(path);
    g_rmdir(dir);
}
GST_END_TEST;

/* The exit that answered the next test picture, at PTS. */
static guint push_and_get_exit(VitFixture *f, GstClockTime pts)
{
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;

    vit_fixture_push_picture(f, pts);
    vit_fixture_pop_expect(f, &c);
    return c.exit;
}

/* On a three-exit cascade, exit-threshold decides which exit answers, also when changed while
 * playing: 0 lets the first exit answer everything, 1 sends everything to the last. */
GST_START_TEST(test_exit_threshold_cascade)
{
    g_auto(VitFixture) f = {0};

    vit_fixture_setup(&f, CASCADE_MODEL, "exit-threshold=0", vit_caps_new("GRAY8", 28, 28));
    fail_unless_equals_int(push_and_get_exit(&f, 0), 0);
    g_object_set(f.vit, "exit-threshold", 1.0, NULL);
    fail_unless_equals_int(push_and_get_exit(&f, GST_SECOND), 2);
    g_object_set(f.vit, "exit-threshold", 0.0, NULL);
    fail_unless_equals_int(push_and_get_exit(&f, 2 * GST_SECOND), 0);
}
GST_END_TEST;

/* A 28x28 GRAY8 frame with a pattern that differs with SEED, so a cascade sees both easy and
 * hard inputs. */
static GstBuffer *make_pattern_buffer(guint seed, GstClockTime pts)
{
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 28 * 28, NULL);
    GstMapInfo map;
    guint x, y;

    fail_unless(gst_buffer_map(buf, &map, GST_MAP_WRITE));
    for (y = 0; y < 28; y++)
        for (x = 0; x < 28; x++)
            map.data[y * 28 + x] =
                (guint8)(((x * (seed % 7 + 1) + y * (seed % 5 + 2)) * 37 + seed * 101) % 256);
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
    return buf;
}

/* Sum of the exits that answered FRAMES pattern frames. */
static guint sum_of_exits(VitFixture *f, guint frames)
{
    static guint64 n;
    guint i, sum = 0;

    for (i = 0; i < frames; i++) {
        g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;

        gst_buffer_unref(vit_fixture_push(f, make_pattern_buffer(i, n++ * GST_SECOND)));
        vit_fixture_pop_expect(f, &c);
        sum += c.exit;
    }
    return sum;
}

/* exit-budget picks one of the model's budgets, also while playing: the cheapest budget lets
 * earlier exits answer than the dearest one, and 0 returns to exit-threshold. */
GST_START_TEST(test_exit_budget_cascade)
{
    g_auto(VitFixture) f = {0};
    guint cheap, dear;

    vit_fixture_setup(&f, BUDGET_MODEL, "exit-budget=0.001", vit_caps_new("GRAY8", 28, 28));
    cheap = sum_of_exits(&f, 12);
    g_object_set(f.vit, "exit-budget", 1.0, NULL);
    dear = sum_of_exits(&f, 12);
    fail_unless(cheap < dear, "exits under the cheapest budget %u, under the dearest %u", cheap,
                dear);
    g_object_set(f.vit, "exit-budget", 0.0, "exit-threshold", 1.0, NULL);
    fail_unless_equals_int(sum_of_exits(&f, 3), 6); /* all at the last exit (2) */
}
GST_END_TEST;

/* A cascade without budgets: one warning, and frames are still classified with exit-threshold. */
GST_START_TEST(test_exit_budget_without_budgets)
{
    g_auto(VitFixture) f = {0};
    guint warnings = 0, classifications = 0, i;
    GstMessage *msg;

    vit_fixture_setup(&f, CASCADE_MODEL, "exit-threshold=0 exit-budget=0.05",
                      vit_caps_new("GRAY8", 28, 28));
    for (i = 0; i < 3; i++) {
        if (i == 1)
            g_object_set(f.vit, "exit-budget", 0.1, NULL);
        vit_fixture_push_picture(&f, i * GST_SECOND);
    }
    while ((msg = gst_bus_pop(f.bus)) != NULL) {
        if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING)
            warnings++;
        else if (gst_message_has_name(msg, VIT_CLASSIFICATION_MESSAGE))
            classifications++;
        gst_message_unref(msg);
    }
    fail_unless_equals_int(warnings, 1);
    fail_unless_equals_int(classifications, 3);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), 3);
}
GST_END_TEST;

/* Without messages the meta still comes: for applications that only read buffers. */
GST_START_TEST(test_post_messages_off)
{
    g_auto(VitFixture) f = {0};
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    GstBuffer *out;

    vit_fixture_setup(&f, SMALL_MODEL, "post-messages=false", vit_caps_new("RGB", 32, 32));
    out = vit_fixture_push(&f, vit_picture_new(f.caps, 0));
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    fail_if(vit_fixture_pop(&f, &c));
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), 1);
    gst_buffer_unref(out);
}
GST_END_TEST;

/* Properties as gst-inspect-1.0 shows them: when each may change, and the thread limit. */
GST_START_TEST(test_property_flags)
{
    static const gchar *ready_only[] = {"model", "labels", "threads", "precision"};
    static const gchar *playing[] = {"top-k",          "interval",    "threshold",
                                     "exit-threshold", "exit-budget", "post-messages"};
    static const gchar *read_only[] = {"frames-seen", "frames-classified", "frames-skipped",
                                       "mean-latency-us"};
    GstElement *e = vit_element_new("vitclassify");
    GObjectClass *klass = G_OBJECT_GET_CLASS(e);
    GParamSpec *threads;
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(ready_only); i++) {
        GParamSpec *p = g_object_class_find_property(klass, ready_only[i]);
        fail_unless(p && (p->flags & GST_PARAM_MUTABLE_READY), "%s", ready_only[i]);
        fail_unless(g_param_spec_get_blurb(p) && strlen(g_param_spec_get_blurb(p)) > 20);
    }
    for (i = 0; i < G_N_ELEMENTS(playing); i++) {
        GParamSpec *p = g_object_class_find_property(klass, playing[i]);
        fail_unless(p && (p->flags & GST_PARAM_MUTABLE_PLAYING), "%s", playing[i]);
    }
    for (i = 0; i < G_N_ELEMENTS(read_only); i++) {
        GParamSpec *p = g_object_class_find_property(klass, read_only[i]);
        fail_unless(p && !(p->flags & G_PARAM_WRITABLE), "%s", read_only[i]);
    }
    /* One thread limit for the runtime, the YAML threads: key and the element. */
    threads = g_object_class_find_property(klass, "threads");
    fail_unless(G_IS_PARAM_SPEC_UINT(threads));
    fail_unless_equals_int(G_PARAM_SPEC_UINT(threads)->maximum, VIT_MAX_THREADS);
    fail_unless_equals_int(G_PARAM_SPEC_UINT(threads)->minimum, 0);
    /* precision: libvit's vit_precision by the YAML key's names, fp32 unless asked */
    GParamSpec *precision = g_object_class_find_property(klass, "precision");
    fail_unless(G_IS_PARAM_SPEC_ENUM(precision));
    fail_unless_equals_int(G_PARAM_SPEC_ENUM(precision)->default_value, VIT_PRECISION_FP32);
    GEnumClass *values = G_PARAM_SPEC_ENUM(precision)->enum_class;
    fail_unless_equals_int(g_enum_get_value_by_nick(values, "bf16")->value, VIT_PRECISION_BF16);
    fail_unless_equals_int(g_enum_get_value_by_nick(values, "auto")->value, VIT_PRECISION_AUTO);
    gst_util_set_object_arg(G_OBJECT(e), "precision", "bf16");
    gint got = -1;
    g_object_get(e, "precision", &got, NULL);
    fail_unless_equals_int(got, VIT_PRECISION_BF16);
    gst_object_unref(e);
}
GST_END_TEST;

static Suite *vitclassify_properties_suite(void)
{
    Suite *s = suite_create("vitclassify-properties");
    TCase *tc = tcase_create("properties");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_top_k);
    tcase_add_test(tc, test_top_k_long);
    tcase_add_test(tc, test_threshold);
    tcase_add_test(tc, test_labels_file);
    tcase_add_test(tc, test_exit_threshold_cascade);
    tcase_add_test(tc, test_exit_budget_cascade);
    tcase_add_test(tc, test_exit_budget_without_budgets);
    tcase_add_test(tc, test_post_messages_off);
    tcase_add_test(tc, test_property_flags);
    return s;
}

GST_CHECK_MAIN(vitclassify_properties);
