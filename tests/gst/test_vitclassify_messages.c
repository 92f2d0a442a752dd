/* test_vitclassify_messages.c — the `vit-classification` message and the buffer meta: the
 * fields have the documented names and types and agree with the meta, the contract parser
 * (gstvitclassification.h) reads them back, and a buffer someone else holds is not copied. */
#include <string.h>

#include "vit-fixture.h"

/* The next element message on F's bus, raw (caller unrefs). */
static GstMessage *pop_raw(VitFixture *f)
{
    GstMessage *msg = gst_bus_pop_filtered(f->bus, GST_MESSAGE_ELEMENT);

    fail_unless(msg != NULL && gst_message_has_name(msg, VIT_CLASSIFICATION_MESSAGE));
    return msg;
}

static void check_field_types(const GstStructure *s)
{
    static const struct {
        const gchar *name;
        GType type;
    } fields[] = {
        {VIT_CLASSIFICATION_FIELD_FRAME, G_TYPE_UINT64},
        {VIT_CLASSIFICATION_FIELD_TIMESTAMP, G_TYPE_UINT64},
        {VIT_CLASSIFICATION_FIELD_STREAM_TIME, G_TYPE_UINT64},
        {VIT_CLASSIFICATION_FIELD_RUNNING_TIME, G_TYPE_UINT64},
        {VIT_CLASSIFICATION_FIELD_DURATION, G_TYPE_UINT64},
        {VIT_CLASSIFICATION_FIELD_LABELS, 0 /* GST_TYPE_ARRAY */},
        {VIT_CLASSIFICATION_FIELD_SCORES, 0},
        {VIT_CLASSIFICATION_FIELD_CLASS_IDS, 0},
        {VIT_CLASSIFICATION_FIELD_EXIT, G_TYPE_UINT},
        {VIT_CLASSIFICATION_FIELD_LATENCY_US, G_TYPE_UINT64},
    };
    gsize i;

    fail_unless_equals_int(gst_structure_n_fields(s), G_N_ELEMENTS(fields));
    for (i = 0; i < G_N_ELEMENTS(fields); i++) {
        GType want = fields[i].type ? fields[i].type : GST_TYPE_ARRAY;

        fail_unless_equals_string(gst_structure_nth_field_name(s, (guint)i), fields[i].name);
        fail_unless(gst_structure_get_field_type(s, fields[i].name) == want, "%s is a %s",
                    fields[i].name, g_type_name(gst_structure_get_field_type(s, fields[i].name)));
    }
}

GST_START_TEST(test_meta_matches_message)
{
    g_auto(VitFixture) f = {0};
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    GstVitClassificationMeta *meta;
    GstMessage *msg;
    GstBuffer *out;
    GstSegment segment;
    guint i;

    vit_fixture_setup(&f, SMALL_MODEL, "top-k=4", vit_caps_new("I420", 33, 17));
    /* A segment starting at 1 s: running time = PTS - 1 s. */
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.start = GST_SECOND;
    segment.time = 5 * GST_SECOND;
    fail_unless(gst_harness_push_event(f.h, gst_event_new_segment(&segment)));
    out = vit_fixture_push(&f, vit_picture_new(f.caps, 3 * GST_SECOND / 2));
    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL);
    msg = pop_raw(&f);
    check_field_types(gst_message_get_structure(msg));
    fail_unless(gst_vit_classification_parse(gst_message_get_structure(msg), &c));
    gst_message_unref(msg);

    fail_unless_equals_uint64(c.frame, 0);
    fail_unless_equals_uint64(c.timestamp, 3 * GST_SECOND / 2);
    fail_unless_equals_uint64(c.running_time, GST_SECOND / 2);
    fail_unless_equals_uint64(c.stream_time, 5 * GST_SECOND + GST_SECOND / 2);
    fail_unless_equals_uint64(c.duration, GST_SECOND / 30);
    fail_unless_equals_int(c.exit, 0);
    fail_unless(c.latency_us > 0);

    fail_unless_equals_uint64(meta->frame, c.frame);
    fail_unless_equals_int(meta->exit_index, c.exit);
    fail_unless_equals_uint64(meta->latency_us, c.latency_us);
    fail_unless_equals_int(meta->length, c.n_classes);
    fail_unless_equals_int(meta->length, 4);
    for (i = 0; i < meta->length; i++) {
        fail_unless_equals_string(g_quark_to_string(meta->class_quarks[i]), c.labels[i]);
        fail_unless_equals_float(meta->confidence_levels[i], (gfloat)c.scores[i]);
        fail_unless_equals_int(meta->class_ids[i], c.class_ids[i]);
        fail_unless_equals_int(
            gst_vit_classification_meta_get_index_by_quark(meta, meta->class_quarks[i]), i);
    }
    /* The mean over one frame is that frame's latency. */
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "mean-latency-us"), c.latency_us);
    gst_buffer_unref(out);
}
GST_END_TEST;

/* A buffer someone else still holds gets the meta on a shallow copy: the holder's buffer stays
 * as it was, and the pixels are not copied. */
GST_START_TEST(test_shared_buffer_not_copied)
{
    g_auto(VitFixture) f = {0};
    GstBuffer *in, *out;

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new("RGBx", 32, 32));
    in = vit_picture_new(f.caps, 0);
    out = vit_fixture_push(&f, gst_buffer_ref(in));
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    fail_unless(gst_buffer_get_vit_classification_meta(in) == NULL);
    fail_unless(gst_buffer_peek_memory(out, 0) == gst_buffer_peek_memory(in, 0));
    gst_buffer_unref(out);
    gst_buffer_unref(in);
}
GST_END_TEST;

/* The parser on messages not built by the element: lists instead of arrays, floats, missing
 * fields and unpaired lists read as documented; another structure is refused untouched. */
GST_START_TEST(test_parse_lenient)
{
    g_autoptr(GstStructure) s = gst_structure_from_string(
        "vit-classification, frame=(int)7, labels={ (string)cat, (string)dog, (string)owl }, "
        "scores=< (float)0.5, (double)0.25 >, exit=(uint)1;",
        NULL);
    g_autoptr(GstStructure) other = gst_structure_new_empty("something-else");
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;

    fail_unless(s != NULL);
    fail_if(gst_vit_classification_parse(other, &c));
    fail_unless(c.labels == NULL);
    fail_unless(gst_vit_classification_parse(s, &c));
    fail_unless_equals_uint64(c.frame, 7);
    fail_unless_equals_uint64(c.timestamp, GST_CLOCK_TIME_NONE);
    fail_unless_equals_uint64(c.running_time, GST_CLOCK_TIME_NONE);
    fail_unless_equals_int(c.n_classes, 2); /* three labels, two scores */
    fail_unless_equals_string(c.labels[0], "cat");
    fail_unless_equals_string(c.labels[1], "dog");
    fail_unless(c.labels[2] == NULL);
    fail_unless_equals_float(c.scores[0], 0.5);
    fail_unless_equals_float(c.scores[1], 0.25);
    fail_unless_equals_int(c.class_ids[0], -1);
    fail_unless_equals_int(c.exit, 1);
    fail_unless_equals_uint64(c.latency_us, 0);
    gst_vit_classification_clear(&c);
    fail_unless(c.labels == NULL && c.n_classes == 0);
}
GST_END_TEST;

static Suite *vitclassify_messages_suite(void)
{
    Suite *s = suite_create("vitclassify-messages");
    TCase *tc = tcase_create("messages");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_meta_matches_message);
    tcase_add_test(tc, test_shared_buffer_not_copied);
    tcase_add_test(tc, test_parse_lenient);
    return s;
}

GST_CHECK_MAIN(vitclassify_messages);
