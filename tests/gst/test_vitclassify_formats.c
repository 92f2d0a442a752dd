/* test_vitclassify_formats.c — vitclassify on every format it advertises: odd sizes classify,
 * frames leave unchanged, the RGB-family layouts agree, a grey model reads GRAY8, caps may
 * change mid-stream, and a format the runtime cannot read is refused at negotiation. */
#include <math.h>
#include <string.h>

#include "vit-fixture.h"

static const gchar *all_formats[] = {
    "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "GRAY8", "I420", "NV12",
};

/* Pushes one test picture in FORMAT at WxH, checks it leaves unchanged with a sane meta, and
 * returns the meta's top score and class. */
static void classify_once(const gchar *format, gint w, gint h, gfloat *ret_score, gint *ret_class)
{
    g_auto(VitFixture) f = {0};
    g_autofree guint8 *copy = NULL;
    GstVitClassificationMeta *meta;
    GstBuffer *in, *out;
    GstMapInfo map;
    gsize i, size;

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new(format, w, h));
    in = vit_picture_new(f.caps, 0);
    fail_unless(gst_buffer_map(in, &map, GST_MAP_READ));
    copy = g_memdup2(map.data, map.size);
    size = map.size;
    gst_buffer_unmap(in, &map);
    out = vit_fixture_push(&f, in);

    /* Frames leave unchanged. */
    fail_unless(gst_buffer_map(out, &map, GST_MAP_READ));
    fail_unless_equals_uint64(map.size, size);
    fail_unless(memcmp(map.data, copy, size) == 0, "%s %dx%d: pixels changed", format, w, h);
    gst_buffer_unmap(out, &map);

    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL, "%s %dx%d: no meta", format, w, h);
    fail_unless_equals_uint64(meta->length, 5);
    for (i = 0; i < meta->length; i++) {
        fail_unless(meta->confidence_levels[i] >= 0.0f && meta->confidence_levels[i] <= 1.0f);
        fail_unless(i == 0 || meta->confidence_levels[i] <= meta->confidence_levels[i - 1]);
        fail_unless(meta->class_ids[i] >= 0 && meta->class_ids[i] < NUM_CLASSES);
    }
    fail_unless(g_str_has_prefix(g_quark_to_string(meta->class_quarks[0]), "class_"));
    *ret_score = meta->confidence_levels[0];
    *ret_class = meta->class_ids[0];
    gst_buffer_unref(out);
}

GST_START_TEST(test_every_format_and_odd_size)
{
    static const gint sizes[][2] = {{32, 32}, {33, 17}, {17, 33}, {1, 1}, {641, 479}};
    gsize fmt, s;

    for (fmt = 0; fmt < G_N_ELEMENTS(all_formats); fmt++) {
        for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
            gfloat score;
            gint cls;

            classify_once(all_formats[fmt], sizes[s][0], sizes[s][1], &score, &cls);
        }
    }
}
GST_END_TEST;

/* The same picture packed in each RGB-family layout must give the same answer: the element
 * hands the runtime the right layout, offsets and strides. */
GST_START_TEST(test_rgb_layouts_agree)
{
    gfloat ref_score, score;
    gint ref_class, cls;
    gsize fmt;

    classify_once("RGB", 33, 17, &ref_score, &ref_class);
    for (fmt = 1; fmt < 8; fmt++) {
        classify_once(all_formats[fmt], 33, 17, &score, &cls);
        fail_unless_equals_int(cls, ref_class);
        fail_unless(fabsf(score - ref_score) < 1e-5f, "%s: %f vs RGB %f", all_formats[fmt], score,
                    ref_score);
    }
}
GST_END_TEST;

GST_START_TEST(test_gray_model)
{
    static const gchar *names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    g_auto(VitFixture) f = {0};
    GstVitClassificationMeta *meta;
    GstBuffer *out;

    vit_fixture_setup(&f, GRAY_MODEL, "top-k=1", vit_caps_new("GRAY8", 28, 28));
    out = vit_fixture_push(&f, vit_picture_new(f.caps, 0));
    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL);
    fail_unless_equals_uint64(meta->length, 1);
    /* vit_gray_test carries the Fashion-MNIST class names. */
    fail_unless_equals_string(g_quark_to_string(meta->class_quarks[0]), names[meta->class_ids[0]]);
    gst_buffer_unref(out);
}
GST_END_TEST;

GST_START_TEST(test_renegotiation)
{
    const gchar *formats[] = {"RGB", "NV12", "GRAY8", "BGRA"};
    const gint sizes[][2] = {{32, 32}, {65, 49}, {17, 33}, {320, 240}};
    g_auto(VitFixture) f = {0};
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    gsize i;

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new(formats[0], sizes[0][0], sizes[0][1]));
    for (i = 0; i < G_N_ELEMENTS(formats); i++) {
        GstBuffer *out;

        gst_caps_take(&f.caps, vit_caps_new(formats[i], sizes[i][0], sizes[i][1]));
        gst_harness_set_src_caps(f.h, gst_caps_ref(f.caps));
        out = vit_fixture_push(&f, vit_picture_new(f.caps, i * GST_SECOND));
        fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL, "after caps %s",
                    formats[i]);
        gst_buffer_unref(out);
        vit_fixture_pop_expect(&f, &c);
        gst_vit_classification_clear(&c);
    }
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), G_N_ELEMENTS(formats));
}
GST_END_TEST;

/* A format the runtime cannot read is refused at negotiation, not failed on later. */
GST_START_TEST(test_unsupported_format_not_negotiated)
{
    g_auto(VitFixture) f = {0};

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new("YUY2", 32, 32));
    fail_unless_equals_int(gst_harness_push(f.h, gst_buffer_new_allocate(NULL, 32 * 32 * 2, NULL)),
                           GST_FLOW_NOT_NEGOTIATED);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), 0);
}
GST_END_TEST;

static Suite *vitclassify_formats_suite(void)
{
    Suite *s = suite_create("vitclassify-formats");
    TCase *tc = tcase_create("formats");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_every_format_and_odd_size);
    tcase_add_test(tc, test_rgb_layouts_agree);
    tcase_add_test(tc, test_gray_model);
    tcase_add_test(tc, test_renegotiation);
    tcase_add_test(tc, test_unsupported_format_not_negotiated);
    return s;
}

GST_CHECK_MAIN(vitclassify_formats);
