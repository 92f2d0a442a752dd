/* test_vitclassify.c — GstHarness tests of the vitclassify element, on the random-weight
 * fixtures from tools/make_fixtures.py (vit_small_test: 3x32x32, 10 labelled classes;
 * vit_gray_test: 1x28x28).
 *
 * What a user of the element would notice: every advertised format and odd sizes classify,
 * frames leave unchanged and uncopied, interval / top-k / threshold do what their blurbs say,
 * the meta and the bus message agree, bad models fail the state change naming the file,
 * renegotiation, EOS and flushing seeks behave, late frames are skipped and counted, and two
 * elements on one model map it once. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/video/video.h>

#include "gstvitmeta.h"

#define SMALL_MODEL VIT_FIXTURES_DIR "/vit_small_test"
#define GRAY_MODEL VIT_FIXTURES_DIR "/vit_gray_test"
#define DEIT_MODEL VIT_FIXTURES_DIR "/deit_tiny_patch16_224"
#define CASCADE_MODEL VIT_FIXTURES_DIR "/dvt_cascade_fmnist_shape"
/* The shipped cascade: its config.json has budgets (the fixture above has none). */
#define BUDGET_MODEL VIT_MODELS_DIR "/fmnist-dvt"
#define NUM_CLASSES 10

/* ---- helpers ------------------------------------------------------------------------------- */

/* The test picture: a colour gradient with a bright square, defined in RGB. */
static void picture_rgb(gint x, gint y, gint w, gint h, guint8 rgb[3])
{
    gboolean square = x > w / 4 && x < w / 2 && y > h / 3 && y < 2 * h / 3;

    rgb[0] = square ? 250 : (guint8)(255 * x / MAX(w - 1, 1));
    rgb[1] = square ? 240 : (guint8)(255 * y / MAX(h - 1, 1));
    rgb[2] = square ? 30 : (guint8)(128 + 64 * ((x / 4 + y / 4) % 2));
}

/* Fills a mapped frame of any supported format with the test picture. */
static void fill_frame(GstVideoFrame *frame)
{
    const GstVideoFormatInfo *finfo = frame->info.finfo;
    gint w = GST_VIDEO_FRAME_WIDTH(frame), h = GST_VIDEO_FRAME_HEIGHT(frame);
    gint x, y;
    guint c;

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            guint8 rgb[3], yuv[3];

            picture_rgb(x, y, w, h, rgb);
            yuv[0] = (guint8)(16 + (66 * rgb[0] + 129 * rgb[1] + 25 * rgb[2]) / 256);
            yuv[1] = (guint8)(128 + (-38 * rgb[0] - 74 * rgb[1] + 112 * rgb[2]) / 256);
            yuv[2] = (guint8)(128 + (112 * rgb[0] - 94 * rgb[1] - 18 * rgb[2]) / 256);
            for (c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS(frame); c++) {
                gint sx =
                    GST_VIDEO_FORMAT_INFO_SCALE_WIDTH(finfo, c, 1 << 20) == (1 << 20) ? x : x / 2;
                gint sy =
                    GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT(finfo, c, 1 << 20) == (1 << 20) ? y : y / 2;
                guint8 *p = (guint8 *)GST_VIDEO_FRAME_COMP_DATA(frame, c) +
                            sy * GST_VIDEO_FRAME_COMP_STRIDE(frame, c) +
                            sx * GST_VIDEO_FRAME_COMP_PSTRIDE(frame, c);
                guint8 v;

                if (GST_VIDEO_FORMAT_INFO_IS_RGB(finfo))
                    v = c < 3 ? rgb[c] : 255;
                else if (GST_VIDEO_FORMAT_INFO_IS_GRAY(finfo))
                    v = (guint8)((77 * rgb[0] + 150 * rgb[1] + 29 * rgb[2]) / 256);
                else
                    v = yuv[c];
                *p = v;
            }
        }
    }
}

static GstCaps *make_caps(const gchar *format, gint width, gint height)
{
    return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, format, "width", G_TYPE_INT,
                               width, "height", G_TYPE_INT, height, "framerate", GST_TYPE_FRACTION,
                               30, 1, NULL);
}

static GstBuffer *make_buffer(GstCaps *caps, GstClockTime pts)
{
    GstVideoInfo info;
    GstVideoFrame frame;
    GstBuffer *buf;

    fail_unless(gst_video_info_from_caps(&info, caps));
    buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
    fail_unless(gst_video_frame_map(&frame, &info, buf, GST_MAP_WRITE));
    fill_frame(&frame);
    gst_video_frame_unmap(&frame);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
    return buf;
}

/* A harness around "vitclassify <props>" with a bus to collect its messages. */
static GstHarness *classify_harness(const gchar *props, GstBus **ret_bus)
{
    g_autofree gchar *desc =
        g_strdup_printf("vitclassify name=vit model=%s %s", SMALL_MODEL, props ? props : "");
    GstHarness *h = gst_harness_new_parse(desc);
    GstBus *bus = gst_bus_new();

    gst_harness_set_live(h, FALSE); /* tests that want a live source say so */
    gst_element_set_bus(h->element, bus);
    *ret_bus = bus;
    return h;
}

static GstElement *harness_classify_element(GstHarness *h)
{
    /* gst_harness_new_parse wraps what it parses in a bin. */
    if (GST_IS_BIN(h->element))
        return gst_bin_get_by_name(GST_BIN(h->element), "vit");
    return gst_object_ref(h->element);
}

static const GstStructure *pop_classification(GstBus *bus, GstMessage **ret_msg)
{
    GstMessage *msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);

    *ret_msg = msg;
    if (msg == NULL)
        return NULL;
    fail_unless(gst_message_has_name(msg, "vit-classification"));
    return gst_message_get_structure(msg);
}

static guint64 get_u64(GstHarness *h, const gchar *name)
{
    GstElement *e = harness_classify_element(h);
    guint64 v;

    g_object_get(e, name, &v, NULL);
    gst_object_unref(e);
    return v;
}

static gdouble array_double(const GstStructure *s, const gchar *field, guint i)
{
    return g_value_get_double(gst_value_array_get_value(gst_structure_get_value(s, field), i));
}

static const gchar *array_string(const GstStructure *s, const gchar *field, guint i)
{
    return g_value_get_string(gst_value_array_get_value(gst_structure_get_value(s, field), i));
}

static guint array_size(const GstStructure *s, const gchar *field)
{
    return gst_value_array_get_size(gst_structure_get_value(s, field));
}

/* Pushes one test picture in FORMAT at WxH, pulls it back and returns its meta's top score
 * and class (or fails the test when there is none). */
static void classify_once(const gchar *format, gint w, gint h_px, gfloat *ret_score,
                          gint *ret_class)
{
    GstBus *bus;
    GstHarness *h = classify_harness(NULL, &bus);
    GstCaps *caps = make_caps(format, w, h_px);
    GstBuffer *in, *out;
    GstVitClassificationMeta *meta;
    GstMapInfo before, after;
    gsize i;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    in = make_buffer(caps, 0);
    fail_unless(gst_buffer_map(in, &before, GST_MAP_READ));
    {
        g_autofree guint8 *copy = g_memdup2(before.data, before.size);
        gsize size = before.size;

        gst_buffer_unmap(in, &before);
        fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
        out = gst_harness_pull(h);
        fail_unless(out != NULL);

        /* Frames leave unchanged. */
        fail_unless(gst_buffer_map(out, &after, GST_MAP_READ));
        fail_unless_equals_uint64(after.size, size);
        fail_unless(memcmp(after.data, copy, size) == 0, "%s %dx%d: pixels changed", format, w,
                    h_px);
        gst_buffer_unmap(out, &after);
    }

    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL, "%s %dx%d: no meta", format, w, h_px);
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
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}

/* ---- formats and sizes --------------------------------------------------------------------- */

static const gchar *all_formats[] = {
    "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "GRAY8", "I420", "NV12",
};

GST_START_TEST(test_every_format_and_odd_size)
{
    static const gint sizes[][2] = {{32, 32}, {33, 17}, {17, 33}, {1, 1}, {641, 479}};
    gsize f, s;

    for (f = 0; f < G_N_ELEMENTS(all_formats); f++) {
        for (s = 0; s < G_N_ELEMENTS(sizes); s++) {
            gfloat score;
            gint cls;

            classify_once(all_formats[f], sizes[s][0], sizes[s][1], &score, &cls);
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
    gsize f;

    classify_once("RGB", 33, 17, &ref_score, &ref_class);
    for (f = 1; f < 8; f++) {
        classify_once(all_formats[f], 33, 17, &score, &cls);
        fail_unless_equals_int(cls, ref_class);
        fail_unless(fabsf(score - ref_score) < 1e-5f, "%s: %f vs RGB %f", all_formats[f], score,
                    ref_score);
    }
}
GST_END_TEST;

GST_START_TEST(test_gray_model)
{
    GstHarness *h = gst_harness_new_parse("vitclassify model=" GRAY_MODEL " top-k=1");
    GstCaps *caps = make_caps("GRAY8", 28, 28);
    GstVitClassificationMeta *meta;
    GstBuffer *out;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 0)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL);
    fail_unless_equals_uint64(meta->length, 1);
    /* vit_gray_test carries the Fashion-MNIST class names. */
    {
        static const gchar *names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
        fail_unless_equals_string(g_quark_to_string(meta->class_quarks[0]),
                                  names[meta->class_ids[0]]);
    }
    gst_buffer_unref(out);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* ---- properties ---------------------------------------------------------------------------- */

GST_START_TEST(test_interval)
{
    GstBus *bus;
    GstHarness *h = classify_harness("interval=3", &bus);
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstMessage *msg;
    const GstStructure *s;
    guint64 frame;
    gint i;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    for (i = 0; i < 10; i++) {
        GstBuffer *out;

        fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, i * GST_SECOND / 30)),
                               GST_FLOW_OK);
        out = gst_harness_pull(h);
        /* Frames 0, 3, 6, 9 carry results; the others pass through bare. */
        fail_unless_equals_int(gst_buffer_get_vit_classification_meta(out) != NULL, i % 3 == 0);
        gst_buffer_unref(out);
    }
    for (i = 0; i < 4; i++) {
        s = pop_classification(bus, &msg);
        fail_unless(s != NULL);
        fail_unless(gst_structure_get_uint64(s, "frame", &frame));
        fail_unless_equals_uint64(frame, (guint64)i * 3);
        gst_message_unref(msg);
    }
    fail_unless(pop_classification(bus, &msg) == NULL);
    fail_unless_equals_uint64(get_u64(h, "frames-seen"), 10);
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 4);
    fail_unless_equals_uint64(get_u64(h, "frames-skipped"), 0);

    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* Pushes one picture through "vitclassify PROPS" and returns its message (caller unrefs). */
static GstMessage *classify_message(const gchar *props)
{
    GstBus *bus;
    GstHarness *h = classify_harness(props, &bus);
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstMessage *msg;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 0)), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));
    fail_unless(pop_classification(bus, &msg) != NULL);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
    return msg;
}

GST_START_TEST(test_top_k)
{
    GstMessage *k3 = classify_message("top-k=3");
    GstMessage *all = classify_message("top-k=50");
    const GstStructure *s3 = gst_message_get_structure(k3);
    const GstStructure *sa = gst_message_get_structure(all);
    gdouble sum = 0;
    guint i;

    fail_unless_equals_int(array_size(s3, "labels"), 3);
    fail_unless_equals_int(array_size(s3, "scores"), 3);
    /* More than the model has: every class, probabilities summing to one. */
    fail_unless_equals_int(array_size(sa, "labels"), NUM_CLASSES);
    for (i = 0; i < NUM_CLASSES; i++)
        sum += array_double(sa, "scores", i);
    fail_unless(fabs(sum - 1.0) < 1e-4, "softmax sums to %f", sum);
    /* top-3 is the head of the full list. */
    for (i = 0; i < 3; i++) {
        fail_unless_equals_string(array_string(s3, "labels", i), array_string(sa, "labels", i));
        fail_unless_equals_float(array_double(s3, "scores", i), array_double(sa, "scores", i));
    }
    gst_message_unref(k3);
    gst_message_unref(all);
}
GST_END_TEST;

/* A long list (every class of a 1000-class model) is complete, ordered, and starts with the
 * short list. */
GST_START_TEST(test_top_k_long)
{
    GstMessage *msg[2];
    const GstStructure *s[2];
    gdouble sum = 0;
    guint i, j;

    for (j = 0; j < 2; j++) {
        GstHarness *h = gst_harness_new_parse(
            j == 0 ? "vitclassify name=vit model=" DEIT_MODEL " top-k=1000 threads=1"
                   : "vitclassify name=vit model=" DEIT_MODEL " top-k=5 threads=1");
        GstBus *bus = gst_bus_new();
        GstCaps *caps = make_caps("NV12", 96, 64);

        gst_element_set_bus(h->element, bus);
        gst_harness_set_src_caps(h, gst_caps_ref(caps));
        fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 0)), GST_FLOW_OK);
        gst_buffer_unref(gst_harness_pull(h));
        s[j] = pop_classification(bus, &msg[j]);
        fail_unless(s[j] != NULL);
        gst_caps_unref(caps);
        gst_harness_teardown(h);
        gst_object_unref(bus);
    }
    fail_unless_equals_int(array_size(s[0], "labels"), 1000);
    for (i = 0; i < 1000; i++) {
        sum += array_double(s[0], "scores", i);
        fail_unless(i == 0 ||
                    array_double(s[0], "scores", i) <= array_double(s[0], "scores", i - 1));
    }
    fail_unless(fabs(sum - 1.0) < 1e-3, "softmax sums to %f", sum);
    for (i = 0; i < 5; i++)
        fail_unless_equals_string(array_string(s[0], "labels", i), array_string(s[1], "labels", i));
    gst_message_unref(msg[0]);
    gst_message_unref(msg[1]);
}
GST_END_TEST;

GST_START_TEST(test_threshold)
{
    GstMessage *ref = classify_message("top-k=10");
    const GstStructure *s = gst_message_get_structure(ref);
    gdouble mid = (array_double(s, "scores", 0) + array_double(s, "scores", 1)) / 2;
    g_autofree gchar *props = g_strdup_printf("top-k=10 threshold=%f", mid);
    GstMessage *one = classify_message(props);
    GstMessage *none = classify_message("threshold=1.0");

    /* Between the first and second score: exactly the top class is reported. */
    fail_unless_equals_int(array_size(gst_message_get_structure(one), "labels"), 1);
    fail_unless_equals_string(array_string(gst_message_get_structure(one), "labels", 0),
                              array_string(s, "labels", 0));
    /* Nothing reaches 1.0 on random weights: the message still comes, listing no class. */
    fail_unless_equals_int(array_size(gst_message_get_structure(none), "labels"), 0);
    fail_unless_equals_int(array_size(gst_message_get_structure(none), "scores"), 0);
    gst_message_unref(ref);
    gst_message_unref(one);
    gst_message_unref(none);
}
GST_END_TEST;

GST_START_TEST(test_labels_file)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *path = g_build_filename(dir, "labels.txt", NULL);
    g_autofree gchar *props = g_strdup_printf("labels=%s top-k=10", path);
    GString *text = g_string_new(NULL);
    GstMessage *msg;
    const GstStructure *s;
    gint i;

    for (i = 0; i < NUM_CLASSES; i++)
        g_string_append_printf(text, "animal %d\r\n", i);
    g_string_append(text, "\n"); /* trailing blank lines are ignored */
    fail_unless(g_file_set_contents(path, text->str, -1, NULL));
    g_string_free(text, TRUE);

    msg = classify_message(props);
    s = gst_message_get_structure(msg);
    for (i = 0; i < NUM_CLASSES; i++) {
        gint id =
            g_value_get_int(gst_value_array_get_value(gst_structure_get_value(s, "class-ids"), i));
        g_autofree gchar *want = g_strdup_printf("animal %d", id);

        fail_unless_equals_string(array_string(s, "labels", i), want);
    }
    gst_message_unref(msg);
    g_unlink(path);
    g_rmdir(dir);
}
GST_END_TEST;

/* ---- early exit ---------------------------------------------------------------------------- */

/* exit of the message for one frame pushed through H. */
static guint push_and_get_exit(GstHarness *h, GstBus *bus, GstCaps *caps, GstClockTime pts)
{
    GstMessage *msg;
    const GstStructure *s;
    guint exit_index;

    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, pts)), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));
    s = pop_classification(bus, &msg);
    fail_unless(s != NULL);
    fail_unless(gst_structure_get_uint(s, "exit", &exit_index));
    gst_message_unref(msg);
    return exit_index;
}

/* On a three-exit cascade, exit-threshold decides which exit answers, also when changed while
 * playing: 0 lets the first exit answer everything, 1 sends everything to the last. */
GST_START_TEST(test_exit_threshold_cascade)
{
    GstBus *bus;
    GstHarness *h;
    GstElement *vit;
    GstCaps *caps = make_caps("GRAY8", 28, 28);

    h = gst_harness_new_parse("vitclassify name=vit model=" CASCADE_MODEL " exit-threshold=0");
    bus = gst_bus_new();
    gst_harness_set_live(h, FALSE);
    gst_element_set_bus(h->element, bus);
    vit = harness_classify_element(h);
    gst_harness_set_src_caps(h, gst_caps_ref(caps));

    fail_unless_equals_int(push_and_get_exit(h, bus, caps, 0), 0);
    g_object_set(vit, "exit-threshold", 1.0, NULL);
    fail_unless_equals_int(push_and_get_exit(h, bus, caps, GST_SECOND), 2);
    g_object_set(vit, "exit-threshold", 0.0, NULL);
    fail_unless_equals_int(push_and_get_exit(h, bus, caps, 2 * GST_SECOND), 0);

    gst_object_unref(vit);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* Without messages the meta still comes: for applications that only read buffers. */
GST_START_TEST(test_post_messages_off)
{
    GstBus *bus;
    GstHarness *h = classify_harness("post-messages=false", &bus);
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstMessage *msg;
    GstBuffer *out;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 0)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    fail_unless(pop_classification(bus, &msg) == NULL);
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 1);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* ---- meta and message ---------------------------------------------------------------------- */

GST_START_TEST(test_meta_matches_message)
{
    GstBus *bus;
    GstHarness *h = classify_harness("top-k=4", &bus);
    GstCaps *caps = make_caps("I420", 33, 17);
    GstVitClassificationMeta *meta;
    GstMessage *msg;
    const GstStructure *s;
    GstBuffer *out;
    GstSegment segment;
    guint64 frame, ts, rt, st, lat;
    guint exit_index, i;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    /* A segment starting at 1 s: running time = PTS - 1 s. */
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.start = GST_SECOND;
    segment.time = 5 * GST_SECOND;
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 3 * GST_SECOND / 2)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL);
    s = pop_classification(bus, &msg);
    fail_unless(s != NULL);

    /* Field types, as documented. */
    fail_unless_equals_int(gst_structure_get_field_type(s, "frame"), G_TYPE_UINT64);
    fail_unless_equals_int(gst_structure_get_field_type(s, "timestamp"), G_TYPE_UINT64);
    fail_unless_equals_int(gst_structure_get_field_type(s, "running-time"), G_TYPE_UINT64);
    fail_unless_equals_int(gst_structure_get_field_type(s, "stream-time"), G_TYPE_UINT64);
    fail_unless_equals_int(gst_structure_get_field_type(s, "labels"), GST_TYPE_ARRAY);
    fail_unless_equals_int(gst_structure_get_field_type(s, "scores"), GST_TYPE_ARRAY);
    fail_unless_equals_int(gst_structure_get_field_type(s, "exit"), G_TYPE_UINT);
    fail_unless_equals_int(gst_structure_get_field_type(s, "latency-us"), G_TYPE_UINT64);

    fail_unless(gst_structure_get(s, "frame", G_TYPE_UINT64, &frame, "timestamp", G_TYPE_UINT64,
                                  &ts, "running-time", G_TYPE_UINT64, &rt, "stream-time",
                                  G_TYPE_UINT64, &st, "exit", G_TYPE_UINT, &exit_index,
                                  "latency-us", G_TYPE_UINT64, &lat, NULL));
    fail_unless_equals_uint64(frame, 0);
    fail_unless_equals_uint64(ts, 3 * GST_SECOND / 2);
    fail_unless_equals_uint64(rt, GST_SECOND / 2);
    fail_unless_equals_uint64(st, 5 * GST_SECOND + GST_SECOND / 2);
    fail_unless_equals_int(exit_index, 0);
    fail_unless(lat > 0);

    fail_unless_equals_uint64(meta->frame, frame);
    fail_unless_equals_int(meta->exit_index, exit_index);
    fail_unless_equals_uint64(meta->latency_us, lat);
    fail_unless_equals_int(meta->length, array_size(s, "labels"));
    fail_unless_equals_int(meta->length, 4);
    for (i = 0; i < meta->length; i++) {
        fail_unless_equals_string(g_quark_to_string(meta->class_quarks[i]),
                                  array_string(s, "labels", i));
        fail_unless_equals_float(meta->confidence_levels[i], (gfloat)array_double(s, "scores", i));
        fail_unless_equals_int(
            gst_vit_classification_meta_get_index_by_quark(meta, meta->class_quarks[i]), i);
    }
    /* The mean over one frame is that frame's latency. */
    fail_unless_equals_uint64(get_u64(h, "mean-latency-us"), lat);

    gst_message_unref(msg);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* A buffer someone else still holds gets the meta on a shallow copy: the holder's buffer stays
 * as it was, and the pixels are not copied. */
GST_START_TEST(test_shared_buffer_not_copied)
{
    GstBus *bus;
    GstHarness *h = classify_harness(NULL, &bus);
    GstCaps *caps = make_caps("RGBx", 32, 32);
    GstBuffer *in = make_buffer(caps, 0), *out;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(in)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    fail_unless(gst_buffer_get_vit_classification_meta(in) == NULL);
    fail_unless(gst_buffer_peek_memory(out, 0) == gst_buffer_peek_memory(in, 0));
    gst_buffer_unref(out);
    gst_buffer_unref(in);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* ---- bad models ---------------------------------------------------------------------------- */

/* Takes ELEMENT to PAUSED, expects the change to fail with a resource error whose text names
 * NAME_IN_TEXT; returns the error's code. */
static gint expect_start_error(GstElement *element, const gchar *name_in_text)
{
    GstBus *bus = gst_bus_new();
    GstMessage *msg;
    GError *error = NULL;
    gchar *debug = NULL;
    gint code;

    gst_element_set_bus(element, bus);
    fail_unless_equals_int(gst_element_set_state(element, GST_STATE_PAUSED),
                           GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(msg != NULL, "no error message posted");
    gst_message_parse_error(msg, &error, &debug);
    fail_unless(error->domain == GST_RESOURCE_ERROR, "domain %s", g_quark_to_string(error->domain));
    fail_unless(strstr(error->message, name_in_text) != NULL, "\"%s\" does not name %s",
                error->message, name_in_text);
    code = error->code;
    g_error_free(error);
    g_free(debug);
    gst_message_unref(msg);
    gst_element_set_state(element, GST_STATE_NULL);
    gst_element_set_bus(element, NULL);
    gst_object_unref(bus);
    return code;
}

GST_START_TEST(test_missing_model)
{
    GstElement *e = gst_element_factory_make("vitclassify", NULL);

    g_object_set(e, "model", "/nonexistent/model-folder", NULL);
    fail_unless_equals_int(expect_start_error(e, "/nonexistent/model-folder"),
                           GST_RESOURCE_ERROR_NOT_FOUND);
    gst_object_unref(e);

    /* No model at all: also a clear error, not a crash. */
    e = gst_element_factory_make("vitclassify", NULL);
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
    GstElement *e = gst_element_factory_make("vitclassify", NULL);
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

GST_START_TEST(test_labels_file_mismatch)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *path = g_build_filename(dir, "labels.txt", NULL);
    GstElement *e = gst_element_factory_make("vitclassify", NULL);

    fail_unless(g_file_set_contents(path, "cat\ndog\n", -1, NULL));
    g_object_set(e, "model", SMALL_MODEL, "labels", path, NULL);
    fail_unless_equals_int(expect_start_error(e, path), GST_RESOURCE_ERROR_FAILED);
    g_object_set(e, "labels", "/nonexistent/labels.txt", NULL);
    fail_unless_equals_int(expect_start_error(e, "/nonexistent/labels.txt"),
                           GST_RESOURCE_ERROR_NOT_FOUND);
    gst_object_unref(e);
    g_unlink(path);
    g_rmdir(dir);
}
GST_END_TEST;

/* ---- stream life: renegotiation, EOS, flushing seek ---------------------------------------- */

GST_START_TEST(test_renegotiation)
{
    GstBus *bus;
    GstHarness *h = classify_harness(NULL, &bus);
    const gchar *formats[] = {"RGB", "NV12", "GRAY8", "BGRA"};
    const gint sizes[][2] = {{32, 32}, {65, 49}, {17, 33}, {320, 240}};
    GstMessage *msg;
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(formats); i++) {
        GstCaps *caps = make_caps(formats[i], sizes[i][0], sizes[i][1]);
        GstBuffer *out;

        gst_harness_set_src_caps(h, gst_caps_ref(caps));
        fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, i * GST_SECOND)), GST_FLOW_OK);
        out = gst_harness_pull(h);
        fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL, "after caps %s",
                    formats[i]);
        gst_buffer_unref(out);
        fail_unless(pop_classification(bus, &msg) != NULL);
        gst_message_unref(msg);
        gst_caps_unref(caps);
    }
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), G_N_ELEMENTS(formats));
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* A format the runtime cannot read is refused at negotiation, not failed on later. */
GST_START_TEST(test_unsupported_format_not_negotiated)
{
    GstBus *bus;
    GstHarness *h = classify_harness(NULL, &bus);
    GstCaps *caps = make_caps("YUY2", 32, 32);
    GstBuffer *buf = gst_buffer_new_allocate(NULL, 32 * 32 * 2, NULL);

    gst_harness_set_src_caps(h, caps);
    fail_unless_equals_int(gst_harness_push(h, buf), GST_FLOW_NOT_NEGOTIATED);
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 0);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

GST_START_TEST(test_eos)
{
    GstBus *bus;
    GstHarness *h = classify_harness(NULL, &bus);
    GstCaps *caps = make_caps("BGR", 32, 32);
    GstEvent *ev;
    gint i;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    for (i = 0; i < 3; i++)
        fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, i * GST_SECOND / 30)),
                               GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 3);
    /* EOS reaches downstream, after every frame. */
    for (;;) {
        gboolean eos;

        ev = gst_harness_try_pull_event(h);
        fail_unless(ev != NULL, "no EOS downstream");
        eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
        gst_event_unref(ev);
        if (eos)
            break;
    }
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 3);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

GST_START_TEST(test_flushing_seek)
{
    GstBus *bus;
    GstHarness *h = classify_harness("interval=2", &bus);
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstSegment segment;
    GstMessage *msg;
    const GstStructure *s;
    guint64 frame;
    gint i;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    for (i = 0; i < 3; i++) /* frames 0, 1, 2: 0 and 2 classified */
        fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, i * GST_SECOND / 30)),
                               GST_FLOW_OK);
    /* A flushing seek to 10 s. */
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.start = segment.time = 10 * GST_SECOND;
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 10 * GST_SECOND)), GST_FLOW_OK);

    for (i = 0; i < 2; i++) {
        fail_unless(pop_classification(bus, &msg) != NULL);
        gst_message_unref(msg);
    }
    /* The first frame after the seek is frame 0 again, and is classified whatever the
     * interval's phase was. */
    s = pop_classification(bus, &msg);
    fail_unless(s != NULL);
    fail_unless(gst_structure_get_uint64(s, "frame", &frame));
    fail_unless_equals_uint64(frame, 0);
    {
        guint64 rt;

        fail_unless(gst_structure_get_uint64(s, "running-time", &rt));
        fail_unless_equals_uint64(rt, 0);
    }
    gst_message_unref(msg);
    fail_unless_equals_uint64(get_u64(h, "frames-seen"), 4);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* ---- QoS: late frames pass through unclassified and are counted ---------------------------- */

GST_START_TEST(test_qos_event_skips_late_frames)
{
    GstBus *bus;
    GstHarness *h = classify_harness(NULL, &bus);
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstBuffer *out;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    /* The sink reports being 1 s late at running time 1 s: anything before 2 s is too late. */
    fail_unless(gst_harness_push_upstream_event(
        h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, GST_SECOND, GST_SECOND)));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, GST_SECOND)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(out != NULL);                                         /* never dropped ... */
    fail_unless(gst_buffer_get_vit_classification_meta(out) == NULL); /* ... but skipped */
    gst_buffer_unref(out);
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 3 * GST_SECOND)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    gst_buffer_unref(out);

    fail_unless_equals_uint64(get_u64(h, "frames-seen"), 2);
    fail_unless_equals_uint64(get_u64(h, "frames-skipped"), 1);
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 1);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

GST_START_TEST(test_live_stale_frames_skipped)
{
    GstBus *bus;
    GstHarness *h;
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstBuffer *out;

    h = classify_harness(NULL, &bus);
    gst_harness_set_live(h, TRUE);
    gst_harness_use_testclock(h);
    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    /* Live: the element adds its own inference time to the latency it reports. */
    fail_unless(gst_harness_query_latency(h) > 0);
    gst_element_set_base_time(h->element, 0);
    /* The clock says 10 s; a frame captured at 0 s is many frame periods stale. */
    fail_unless(gst_harness_set_time(h, 10 * GST_SECOND));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 0)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) == NULL);
    gst_buffer_unref(out);
    /* A fresh frame is classified. */
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 10 * GST_SECOND)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    gst_buffer_unref(out);
    fail_unless_equals_uint64(get_u64(h, "frames-skipped"), 1);
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 1);

    /* The same stale frame from a non-live source is classified: files are never late. */
    gst_harness_teardown(h);
    gst_object_unref(bus);
    h = classify_harness(NULL, &bus);
    gst_harness_set_live(h, FALSE);
    gst_harness_use_testclock(h);
    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_uint64(gst_harness_query_latency(h), 0);
    gst_element_set_base_time(h->element, 0);
    fail_unless(gst_harness_set_time(h, 10 * GST_SECOND));
    fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, 0)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    gst_buffer_unref(out);

    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* ---- sharing one model --------------------------------------------------------------------- */

/* Number of distinct mappings of FILE in this process. */
static gint count_mappings(const gchar *file)
{
    g_autofree gchar *maps = NULL;
    g_autofree gchar *real = realpath(file, NULL);
    g_auto(GStrv) lines = NULL;
    gint n = 0, i;

    fail_unless(real != NULL);
    fail_unless(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
    lines = g_strsplit(maps, "\n", -1);
    for (i = 0; lines[i] != NULL; i++)
        if (g_str_has_suffix(lines[i], real))
            n++;
    return n;
}

GST_START_TEST(test_two_elements_share_model)
{
    GstBus *bus1, *bus2;
    GstHarness *h1, *h2;
    GstCaps *caps = make_caps("RGB", 32, 32);
    GstMessage *m1, *m2;
    const GstStructure *s1, *s2;
    guint i;

    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 0);
    h1 = classify_harness(NULL, &bus1);
    /* A different spelling of the same folder still shares. */
    h2 = gst_harness_new_parse("vitclassify name=vit model=" VIT_FIXTURES_DIR "/./vit_small_test/");
    bus2 = gst_bus_new();
    gst_element_set_bus(h2->element, bus2);
    gst_harness_set_src_caps(h1, gst_caps_ref(caps));
    gst_harness_set_src_caps(h2, gst_caps_ref(caps));
    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 1);

    fail_unless_equals_int(gst_harness_push(h1, make_buffer(caps, 0)), GST_FLOW_OK);
    fail_unless_equals_int(gst_harness_push(h2, make_buffer(caps, 0)), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h1));
    gst_buffer_unref(gst_harness_pull(h2));
    s1 = pop_classification(bus1, &m1);
    s2 = pop_classification(bus2, &m2);
    fail_unless(s1 && s2);
    for (i = 0; i < array_size(s1, "scores"); i++)
        fail_unless_equals_float(array_double(s1, "scores", i), array_double(s2, "scores", i));

    /* The model stays while one user remains, and is unmapped with the last. */
    gst_harness_teardown(h1);
    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 1);
    gst_harness_teardown(h2);
    fail_unless_equals_int(count_mappings(SMALL_MODEL "/model.safetensors"), 0);

    gst_message_unref(m1);
    gst_message_unref(m2);
    gst_object_unref(bus1);
    gst_object_unref(bus2);
    gst_caps_unref(caps);
}
GST_END_TEST;

/* A start that fails after the model was opened (labels file of the wrong length) gives the
 * model back: retrying does not pile up mappings, and none is left afterwards. */
GST_START_TEST(test_failed_start_releases_model)
{
    g_autofree gchar *dir = g_dir_make_tmp("vitclassify-XXXXXX", NULL);
    g_autofree gchar *path = g_build_filename(dir, "labels.txt", NULL);
    GstElement *e = gst_element_factory_make("vitclassify", NULL);
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

/* Sum of the exits that answered FRAMES pattern frames pushed through H. */
static guint sum_of_exits(GstHarness *h, GstBus *bus, guint frames)
{
    static guint64 n;
    guint i, sum = 0;

    for (i = 0; i < frames; i++) {
        GstMessage *msg;
        const GstStructure *s;
        guint exit_index;

        fail_unless_equals_int(gst_harness_push(h, make_pattern_buffer(i, n * GST_SECOND)),
                               GST_FLOW_OK);
        n++;
        gst_buffer_unref(gst_harness_pull(h));
        s = pop_classification(bus, &msg);
        fail_unless(s != NULL);
        fail_unless(gst_structure_get_uint(s, "exit", &exit_index));
        gst_message_unref(msg);
        sum += exit_index;
    }
    return sum;
}

/* exit-budget picks one of the model's budgets, also while playing: the cheapest budget lets
 * earlier exits answer than the dearest one, and 0 returns to exit-threshold. */
GST_START_TEST(test_exit_budget_cascade)
{
    GstBus *bus;
    GstHarness *h;
    GstElement *vit;
    GstCaps *caps = make_caps("GRAY8", 28, 28);
    guint cheap, dear;

    h = gst_harness_new_parse("vitclassify name=vit model=" BUDGET_MODEL " exit-budget=0.001");
    bus = gst_bus_new();
    gst_harness_set_live(h, FALSE);
    gst_element_set_bus(h->element, bus);
    vit = harness_classify_element(h);
    gst_harness_set_src_caps(h, gst_caps_ref(caps));

    cheap = sum_of_exits(h, bus, 12);
    g_object_set(vit, "exit-budget", 1.0, NULL);
    dear = sum_of_exits(h, bus, 12);
    fail_unless(cheap < dear, "exits under the cheapest budget %u, under the dearest %u", cheap,
                dear);
    g_object_set(vit, "exit-budget", 0.0, "exit-threshold", 1.0, NULL);
    fail_unless_equals_int(sum_of_exits(h, bus, 3), 6); /* all at the last exit (2) */

    gst_object_unref(vit);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* A cascade without budgets: one warning, and frames are still classified with exit-threshold. */
GST_START_TEST(test_exit_budget_without_budgets)
{
    GstBus *bus;
    GstHarness *h;
    GstElement *vit;
    GstMessage *msg;
    GstCaps *caps = make_caps("GRAY8", 28, 28);
    guint warnings = 0, classifications = 0, i;

    h = gst_harness_new_parse("vitclassify name=vit model=" CASCADE_MODEL
                              " exit-threshold=0 exit-budget=0.05");
    bus = gst_bus_new();
    gst_harness_set_live(h, FALSE);
    gst_element_set_bus(h->element, bus);
    vit = harness_classify_element(h);
    gst_harness_set_src_caps(h, gst_caps_ref(caps));

    for (i = 0; i < 3; i++) {
        if (i == 1)
            g_object_set(vit, "exit-budget", 0.1, NULL);
        fail_unless_equals_int(gst_harness_push(h, make_buffer(caps, i * GST_SECOND)), GST_FLOW_OK);
        gst_buffer_unref(gst_harness_pull(h));
    }
    while ((msg = gst_bus_pop(bus)) != NULL) {
        if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING)
            warnings++;
        else if (gst_message_has_name(msg, "vit-classification"))
            classifications++;
        gst_message_unref(msg);
    }
    fail_unless_equals_int(warnings, 1);
    fail_unless_equals_int(classifications, 3);
    fail_unless_equals_uint64(get_u64(h, "frames-classified"), 3);

    gst_object_unref(vit);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}
GST_END_TEST;

/* ---- properties as gst-inspect shows them -------------------------------------------------- */

GST_START_TEST(test_property_flags)
{
    GstElement *e = gst_element_factory_make("vitclassify", NULL);
    GObjectClass *klass = G_OBJECT_GET_CLASS(e);
    static const gchar *ready_only[] = {"model", "labels", "threads"};
    static const gchar *playing[] = {"top-k",          "interval",    "threshold",
                                     "exit-threshold", "exit-budget", "post-messages"};
    static const gchar *read_only[] = {"frames-seen", "frames-classified", "frames-skipped",
                                       "mean-latency-us"};
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
    gst_object_unref(e);
}
GST_END_TEST;

static Suite *vitclassify_suite(void)
{
    Suite *s = suite_create("vitclassify");
    TCase *tc = tcase_create("general");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_every_format_and_odd_size);
    tcase_add_test(tc, test_rgb_layouts_agree);
    tcase_add_test(tc, test_gray_model);
    tcase_add_test(tc, test_interval);
    tcase_add_test(tc, test_top_k);
    tcase_add_test(tc, test_top_k_long);
    tcase_add_test(tc, test_threshold);
    tcase_add_test(tc, test_labels_file);
    tcase_add_test(tc, test_exit_threshold_cascade);
    tcase_add_test(tc, test_exit_budget_cascade);
    tcase_add_test(tc, test_exit_budget_without_budgets);
    tcase_add_test(tc, test_meta_matches_message);
    tcase_add_test(tc, test_post_messages_off);
    tcase_add_test(tc, test_shared_buffer_not_copied);
    tcase_add_test(tc, test_missing_model);
    tcase_add_test(tc, test_corrupt_model);
    tcase_add_test(tc, test_labels_file_mismatch);
    tcase_add_test(tc, test_renegotiation);
    tcase_add_test(tc, test_unsupported_format_not_negotiated);
    tcase_add_test(tc, test_eos);
    tcase_add_test(tc, test_flushing_seek);
    tcase_add_test(tc, test_qos_event_skips_late_frames);
    tcase_add_test(tc, test_live_stale_frames_skipped);
    tcase_add_test(tc, test_two_elements_share_model);
    tcase_add_test(tc, test_failed_start_releases_model);
    tcase_add_test(tc, test_property_flags);
    return s;
}

GST_CHECK_MAIN(vitclassify);
