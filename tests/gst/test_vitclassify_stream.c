/* test_vitclassify_stream.c — vitclassify over the life of a stream: `interval` picks the
 * frames, EOS arrives after every frame, a flushing seek restarts frame indices, and late
 * frames (a QoS event, or a stale frame from a live source) pass unclassified and are counted. */
#include "vit-fixture.h"

GST_START_TEST(test_interval)
{
    g_auto(VitFixture) f = {0};
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    gint i;

    vit_fixture_setup(&f, SMALL_MODEL, "interval=3", vit_caps_new("RGB", 32, 32));
    for (i = 0; i < 10; i++) {
        GstBuffer *out = vit_fixture_push(&f, vit_picture_new(f.caps, i * GST_SECOND / 30));

        /* Frames 0, 3, 6, 9 carry results; the others pass through bare. */
        fail_unless_equals_int(gst_buffer_get_vit_classification_meta(out) != NULL, i % 3 == 0);
        gst_buffer_unref(out);
    }
    for (i = 0; i < 4; i++) {
        vit_fixture_pop_expect(&f, &c);
        fail_unless_equals_uint64(c.frame, (guint64)i * 3);
        gst_vit_classification_clear(&c);
    }
    fail_if(vit_fixture_pop(&f, &c));
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-seen"), 10);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), 4);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-skipped"), 0);
}
GST_END_TEST;

GST_START_TEST(test_eos)
{
    g_auto(VitFixture) f = {0};
    gint i;

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new("BGR", 32, 32));
    for (i = 0; i < 3; i++)
        fail_unless_equals_int(gst_harness_push(f.h, vit_picture_new(f.caps, i * GST_SECOND / 30)),
                               GST_FLOW_OK);
    fail_unless(gst_harness_push_event(f.h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(f.h), 3);
    /* EOS reaches downstream, after every frame. */
    for (;;) {
        GstEvent *ev = gst_harness_try_pull_event(f.h);
        gboolean eos;

        fail_unless(ev != NULL, "no EOS downstream");
        eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
        gst_event_unref(ev);
        if (eos)
            break;
    }
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), 3);
}
GST_END_TEST;

GST_START_TEST(test_flushing_seek)
{
    g_auto(VitFixture) f = {0};
    g_auto(GstVitClassification) c = GST_VIT_CLASSIFICATION_INIT;
    GstSegment segment;
    gint i;

    vit_fixture_setup(&f, SMALL_MODEL, "interval=2", vit_caps_new("RGB", 32, 32));
    for (i = 0; i < 3; i++) /* frames 0, 1, 2: 0 and 2 classified */
        vit_fixture_push_picture(&f, i * GST_SECOND / 30);
    /* A flushing seek to 10 s. */
    fail_unless(gst_harness_push_event(f.h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(f.h, gst_event_new_flush_stop(TRUE)));
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.start = segment.time = 10 * GST_SECOND;
    fail_unless(gst_harness_push_event(f.h, gst_event_new_segment(&segment)));
    fail_unless_equals_int(gst_harness_push(f.h, vit_picture_new(f.caps, 10 * GST_SECOND)),
                           GST_FLOW_OK);

    for (i = 0; i < 2; i++) {
        vit_fixture_pop_expect(&f, &c);
        gst_vit_classification_clear(&c);
    }
    /* The first frame after the seek is frame 0 again, and is classified whatever the
     * interval's phase was. */
    vit_fixture_pop_expect(&f, &c);
    fail_unless_equals_uint64(c.frame, 0);
    fail_unless_equals_uint64(c.running_time, 0);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-seen"), 4);
}
GST_END_TEST;

/* Whether the frame pushed at PTS came out with a classification (it always comes out). */
static gboolean push_is_classified(VitFixture *f, GstClockTime pts)
{
    GstBuffer *out = vit_fixture_push(f, vit_picture_new(f->caps, pts));
    gboolean classified = gst_buffer_get_vit_classification_meta(out) != NULL;

    gst_buffer_unref(out);
    return classified;
}

GST_START_TEST(test_qos_event_skips_late_frames)
{
    g_auto(VitFixture) f = {0};

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new("RGB", 32, 32));
    /* The sink reports being 1 s late at running time 1 s: anything before 2 s is too late. */
    fail_unless(gst_harness_push_upstream_event(
        f.h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, GST_SECOND, GST_SECOND)));
    fail_if(push_is_classified(&f, GST_SECOND)); /* never dropped, but skipped */
    fail_unless(push_is_classified(&f, 3 * GST_SECOND));
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-seen"), 2);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-skipped"), 1);
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-classified"), 1);
}
GST_END_TEST;

/* qos=false: the same late frame is classified anyway; qos is on by default. */
GST_START_TEST(test_qos_off_classifies_late_frames)
{
    g_auto(VitFixture) f = {0};
    gboolean qos = FALSE;

    vit_fixture_setup(&f, SMALL_MODEL, NULL, vit_caps_new("RGB", 32, 32));
    g_object_get(f.vit, "qos", &qos, NULL);
    fail_unless(qos, "qos is off by default although late frames are skipped");
    g_object_set(f.vit, "qos", FALSE, NULL);
    fail_unless(gst_harness_push_upstream_event(
        f.h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, GST_SECOND, GST_SECOND)));
    fail_unless(push_is_classified(&f, GST_SECOND));
    fail_unless_equals_uint64(vit_fixture_get_u64(&f, "frames-skipped"), 0);
}
GST_END_TEST;

/* A fixture on a test clock at 10 s, LIVE or not, base time 0. */
static void setup_at_10s(VitFixture *f, gboolean live)
{
    vit_fixture_setup(f, SMALL_MODEL, NULL, vit_caps_new("RGB", 32, 32));
    gst_harness_set_live(f->h, live);
    gst_harness_use_testclock(f->h);
    /* Live: the element adds its own inference time to the latency it reports. */
    if (live)
        fail_unless(gst_harness_query_latency(f->h) > 0);
    else
        fail_unless_equals_uint64(gst_harness_query_latency(f->h), 0);
    gst_element_set_base_time(f->h->element, 0);
    fail_unless(gst_harness_set_time(f->h, 10 * GST_SECOND));
}

GST_START_TEST(test_live_stale_frames_skipped)
{
    g_auto(VitFixture) live = {0};
    g_auto(VitFixture) file = {0};

    /* The clock says 10 s; a frame captured at 0 s is many frame periods stale. */
    setup_at_10s(&live, TRUE);
    fail_if(push_is_classified(&live, 0));
    fail_unless(push_is_classified(&live, 10 * GST_SECOND)); /* a fresh frame is classified */
    fail_unless_equals_uint64(vit_fixture_get_u64(&live, "frames-skipped"), 1);
    fail_unless_equals_uint64(vit_fixture_get_u64(&live, "frames-classified"), 1);
    vit_fixture_teardown(&live);

    /* The same stale frame from a non-live source is classified: files are never late. */
    setup_at_10s(&file, FALSE);
    fail_unless(push_is_classified(&file, 0));
}
GST_END_TEST;

static Suite *vitclassify_stream_suite(void)
{
    Suite *s = suite_create("vitclassify-stream");
    TCase *tc = tcase_create("stream");

    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_interval);
    tcase_add_test(tc, test_eos);
    tcase_add_test(tc, test_flushing_seek);
    tcase_add_test(tc, test_qos_event_skips_late_frames);
    tcase_add_test(tc, test_qos_off_classifies_late_frames);
    tcase_add_test(tc, test_live_stale_frames_skipped);
    return s;
}

GST_CHECK_MAIN(vitclassify_stream);
