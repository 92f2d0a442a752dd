/* test_vitoverlay.c — GstHarness tests of vitoverlay: it changes pixels exactly where the label
 * box goes (corner, size from the text and scale), in every format it accepts, leaves frames
 * without a GstVitClassificationMeta alone, and draws what vitclassify found when chained. */
#include <string.h>

#include "vit-fixture.h"

#define GREY 128

typedef struct {
    gint x, y, width, height;
} Region;

/* A mid-grey frame (every byte GREY, which is also neutral chroma). */
static GstBuffer *grey_buffer(GstCaps *caps)
{
    GstVideoInfo info;
    GstBuffer *buf;

    fail_unless(gst_video_info_from_caps(&info, caps));
    buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
    gst_buffer_memset(buf, 0, GREY, GST_VIDEO_INFO_SIZE(&info));
    GST_BUFFER_PTS(buf) = 0;
    return buf;
}

static void add_meta(GstBuffer *buf)
{
    const gfloat levels[] = {0.75f, 0.20f};
    const GQuark quarks[] = {g_quark_from_string("cat"), g_quark_from_string("dog")};
    GstVitClassificationMeta *meta;

    meta = gst_buffer_add_vit_classification_meta(buf, 2, levels, quarks, NULL);
    fail_unless(meta != NULL);
    meta->exit_index = 2;
}

/* Checks every byte of OUT against the grey it started as: brightness components (R, G, B or
 * Y) inside REGION must have changed (darkened box or white ink, some ink present), every other
 * byte must be untouched. */
static void check_changed_only_in(GstBuffer *out, GstCaps *caps, const Region *r)
{
    GstVideoInfo info;
    GstVideoFrame frame;
    const GstVideoFormatInfo *finfo;
    gint x, y, ink = 0;
    guint c, bright_comps;
    gsize changed = 0, expected_changes;

    fail_unless(gst_video_info_from_caps(&info, caps));
    fail_unless(gst_video_frame_map(&frame, &info, out, GST_MAP_READ));
    finfo = info.finfo;
    bright_comps = GST_VIDEO_FORMAT_INFO_IS_RGB(finfo) ? 3 : 1;

    for (c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS(&frame); c++) {
        gint cw = GST_VIDEO_FRAME_COMP_WIDTH(&frame, c);
        gint ch = GST_VIDEO_FRAME_COMP_HEIGHT(&frame, c);

        for (y = 0; y < ch; y++) {
            for (x = 0; x < cw; x++) {
                const guint8 *p = (const guint8 *)GST_VIDEO_FRAME_COMP_DATA(&frame, c) +
                                  y * GST_VIDEO_FRAME_COMP_STRIDE(&frame, c) +
                                  x * GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, c);
                gboolean inside = c < bright_comps && x >= r->x && x < r->x + r->width &&
                                  y >= r->y && y < r->y + r->height;

                if (inside) {
                    fail_unless(*p != GREY, "%s comp %u (%d,%d) unchanged inside the box",
                                GST_VIDEO_INFO_NAME(&info), c, x, y);
                    fail_unless(*p < GREY / 2 || *p > 230, "%s (%d,%d) = %u: neither box nor ink",
                                GST_VIDEO_INFO_NAME(&info), x, y, *p);
                    ink += *p > 230;
                    changed++;
                } else {
                    fail_unless(*p == GREY, "%s comp %u (%d,%d) = %u changed outside the box",
                                GST_VIDEO_INFO_NAME(&info), c, x, y, *p);
                }
            }
        }
    }
    expected_changes = (gsize)r->width * r->height * bright_comps;
    fail_unless_equals_uint64(changed, expected_changes);
    fail_unless(ink > 0, "no text drawn");
    gst_video_frame_unmap(&frame);
}

static GstBuffer *overlay_one(const gchar *props, GstCaps *caps, gboolean with_meta)
{
    g_autofree gchar *desc = g_strdup_printf("vitoverlay %s", props);
    GstHarness *h = vit_harness_new(desc);
    GstBuffer *in = grey_buffer(caps), *out;

    if (with_meta)
        add_meta(in);
    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
    out = gst_harness_pull(h);
    gst_harness_teardown(h);
    return out;
}

/* "cat 0.75 exit 2": 15 characters of 6 columns plus a border column, 7 rows plus 2. */
#define TEXT_CHARS 15
#define BOX_W(scale) ((TEXT_CHARS * 6 + 1) * (scale))
#define BOX_H(scale) (9 * (scale))

GST_START_TEST(test_box_in_every_format)
{
    static const gchar *formats[] = {"RGB",  "BGR",  "RGBx",  "BGRx", "xRGB", "xBGR",
                                     "RGBA", "BGRA", "GRAY8", "I420", "NV12"};
    gsize f;

    for (f = 0; f < G_N_ELEMENTS(formats); f++) {
        GstCaps *caps = vit_caps_new(formats[f], 161, 41);
        GstBuffer *out = overlay_one("position=top-left scale=1", caps, TRUE);
        Region r = {0, 0, BOX_W(1), BOX_H(1)};

        check_changed_only_in(out, caps, &r);
        gst_buffer_unref(out);
        gst_caps_unref(caps);
    }
}
GST_END_TEST;

GST_START_TEST(test_position_and_scale)
{
    GstCaps *caps = vit_caps_new("RGB", 301, 121);
    GstBuffer *out;
    Region r;

    out = overlay_one("position=bottom-right scale=2", caps, TRUE);
    r.width = BOX_W(2);
    r.height = BOX_H(2);
    r.x = 301 - r.width;
    r.y = 121 - r.height;
    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);

    out = overlay_one("position=bottom-left scale=3", caps, TRUE);
    r.width = BOX_W(3);
    r.height = BOX_H(3);
    r.x = 0;
    r.y = 121 - r.height;
    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);

    out = overlay_one("position=top-right scale=1", caps, TRUE);
    r.width = BOX_W(1);
    r.height = BOX_H(1);
    r.x = 301 - r.width;
    r.y = 0;
    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
}
GST_END_TEST;

GST_START_TEST(test_no_meta_no_change)
{
    GstCaps *caps = vit_caps_new("I420", 64, 48);
    GstBuffer *out = overlay_one("", caps, FALSE);
    GstMapInfo map;
    gsize i;

    fail_unless(gst_buffer_map(out, &map, GST_MAP_READ));
    for (i = 0; i < map.size; i++)
        fail_unless(map.data[i] == GREY, "byte %" G_GSIZE_FORMAT " changed", i);
    gst_buffer_unmap(out, &map);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
}
GST_END_TEST;

/* A frame without a result that someone else still holds (a tee's other branch) is passed on
 * as is: not copied, not made writable. One with a result is drawn on a copy, leaving the
 * holder's pixels alone. */
GST_START_TEST(test_shared_buffers)
{
    GstHarness *h = vit_harness_new("vitoverlay scale=1");
    GstCaps *caps = vit_caps_new("RGBx", 128, 32);
    GstBuffer *in = grey_buffer(caps), *out;
    GstMapInfo map;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(in)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(out == in);
    gst_buffer_unref(out);

    add_meta(in);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(in)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(out != in);
    fail_unless(gst_buffer_map(in, &map, GST_MAP_READ));
    fail_unless_equals_int(map.data[0], GREY);
    gst_buffer_unmap(in, &map);
    fail_unless(gst_buffer_map(out, &map, GST_MAP_READ));
    fail_unless(map.data[0] != GREY);
    gst_buffer_unmap(out, &map);

    gst_buffer_unref(out);
    gst_buffer_unref(in);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST;

static gboolean all_grey(GstBuffer *buf)
{
    GstMapInfo map;
    gboolean grey = TRUE;
    gsize i;

    fail_unless(gst_buffer_map(buf, &map, GST_MAP_READ));
    for (i = 0; i < map.size && grey; i++)
        grey = map.data[i] == GREY;
    gst_buffer_unmap(buf, &map);
    return grey;
}

/* Frames between results keep showing the last one (no flicker with interval=N), unless hold
 * is off; a flushing seek forgets it. */
GST_START_TEST(test_hold_last_result)
{
    GstHarness *h = vit_harness_new("vitoverlay name=ov scale=1");
    GstElement *ov = gst_bin_get_by_name(GST_BIN(h->element), "ov");
    GstCaps *caps = vit_caps_new("NV12", 128, 32);
    Region r = {0, 0, BOX_W(1), BOX_H(1)};
    GstBuffer *in, *out;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    in = grey_buffer(caps);
    add_meta(in);
    fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
    out = gst_harness_pull(h);
    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);

    /* No result on this frame: the last one is drawn again, in the same place. */
    fail_unless_equals_int(gst_harness_push(h, grey_buffer(caps)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);

    g_object_set(ov, "hold", FALSE, NULL);
    fail_unless_equals_int(gst_harness_push(h, grey_buffer(caps)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(all_grey(out));
    gst_buffer_unref(out);

    g_object_set(ov, "hold", TRUE, NULL);
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    {
        GstSegment segment;

        gst_segment_init(&segment, GST_FORMAT_TIME);
        fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    }
    fail_unless_equals_int(gst_harness_push(h, grey_buffer(caps)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(all_grey(out));
    gst_buffer_unref(out);

    gst_object_unref(ov);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* Text wider than the frame is cut to fit; nothing is written outside the frame. */
GST_START_TEST(test_narrow_frame)
{
    GstCaps *caps = vit_caps_new("GRAY8", 40, 12);
    GstBuffer *out = overlay_one("scale=1", caps, TRUE);
    /* (40 - 2) / 6 = 6 characters fit: box (6 * 6 + 1) x 9. */
    Region r = {0, 0, 37, 9};

    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
}
GST_END_TEST;

/* Chained after vitclassify, the overlay draws the classifier's verdict. */
GST_START_TEST(test_after_vitclassify)
{
    GstHarness *h = vit_harness_new("vitclassify model=" SMALL_MODEL " ! vitoverlay scale=1");
    GstCaps *caps = vit_caps_new("BGRx", 200, 40);
    GstBuffer *out;
    GstVitClassificationMeta *meta;
    Region r = {0, 0, 0, 9};

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, grey_buffer(caps)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    meta = gst_buffer_get_vit_classification_meta(out);
    fail_unless(meta != NULL);
    {
        g_autofree gchar *text =
            g_strdup_printf("%s %.2f exit %u", g_quark_to_string(meta->class_quarks[0]),
                            meta->confidence_levels[0], meta->exit_index);
        r.width = (gint)(strlen(text) * 6 + 1);
    }
    check_changed_only_in(out, caps, &r);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST;

static Suite *vitoverlay_suite(void)
{
    Suite *s = suite_create("vitoverlay");
    TCase *tc = tcase_create("general");

    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_box_in_every_format);
    tcase_add_test(tc, test_position_and_scale);
    tcase_add_test(tc, test_no_meta_no_change);
    tcase_add_test(tc, test_shared_buffers);
    tcase_add_test(tc, test_hold_last_result);
    tcase_add_test(tc, test_narrow_frame);
    tcase_add_test(tc, test_after_vitclassify);
    return s;
}

GST_CHECK_MAIN(vitoverlay);
