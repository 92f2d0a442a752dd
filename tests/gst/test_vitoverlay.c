/* test_vitoverlay.c — GstHarness tests of vitoverlay: a label box inside the frame, a margin from
 * the chosen corner, in every format it accepts, readable on black and white pictures, UTF-8
 * labels drawn as themselves, a long label shortened so the score still shows; frames without
 * a GstVitClassificationMeta left alone. The readability cases are also written as PNGs into
 * $VIT_OVERLAY_PNG_DIR (the build tree) for a person to look at. */
#include <string.h>

#include <cairo.h>

#include "vit-fixture.h"

#define GREY 128

typedef struct {
    gint x, y, width, height; /* bounding box of the changed pixels; width 0 when none */
    gint bright, dark;        /* changed pixels above 200 / below 60 */
} Region;

/* A frame with every byte VALUE (for YUV, GREY is also neutral chroma). */
static GstBuffer *flat_buffer(GstCaps *caps, guint8 value)
{
    GstVideoInfo info;
    GstBuffer *buf;

    fail_unless(gst_video_info_from_caps(&info, caps));
    buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
    gst_buffer_memset(buf, 0, value, GST_VIDEO_INFO_SIZE(&info));
    GST_BUFFER_PTS(buf) = 0;
    return buf;
}

static void add_labelled_meta(GstBuffer *buf, const gchar *label)
{
    const gfloat levels[] = {0.75f, 0.20f};
    const GQuark quarks[] = {g_quark_from_string(label), g_quark_from_string("dog")};
    GstVitClassificationMeta *meta;

    meta = gst_buffer_add_vit_classification_meta(buf, 2, levels, quarks, NULL);
    fail_unless(meta != NULL);
    meta->exit_index = 2;
}

static void add_meta(GstBuffer *buf)
{
    add_labelled_meta(buf, "cat");
}

/* Where OUT differs from a flat frame of BASE, in the brightness components (R, G, B or Y);
 * fails if any other byte (chroma, padding, alpha) changed. */
static Region changed_region(GstBuffer *out, GstCaps *caps, guint8 base)
{
    GstVideoInfo info;
    GstVideoFrame frame;
    Region r = {G_MAXINT, G_MAXINT, 0, 0, 0, 0};
    gint x, y, x1 = -1, y1 = -1;
    guint c, bright_comps;

    fail_unless(gst_video_info_from_caps(&info, caps));
    fail_unless(gst_video_frame_map(&frame, &info, out, GST_MAP_READ));
    bright_comps = GST_VIDEO_FORMAT_INFO_IS_RGB(info.finfo) ? 3 : 1;
    for (c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS(&frame); c++) {
        for (y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT(&frame, c); y++) {
            for (x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH(&frame, c); x++) {
                const guint8 *p = (const guint8 *)GST_VIDEO_FRAME_COMP_DATA(&frame, c) +
                                  y * GST_VIDEO_FRAME_COMP_STRIDE(&frame, c) +
                                  x * GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, c);

                if (*p == base)
                    continue;
                fail_unless(c < bright_comps, "%s comp %u (%d,%d) changed: not brightness",
                            GST_VIDEO_INFO_NAME(&info), c, x, y);
                r.x = MIN(r.x, x);
                r.y = MIN(r.y, y);
                x1 = MAX(x1, x);
                y1 = MAX(y1, y);
                r.bright += *p > 200;
                r.dark += *p < 60;
            }
        }
    }
    gst_video_frame_unmap(&frame);
    if (x1 >= 0) {
        r.width = x1 - r.x + 1;
        r.height = y1 - r.y + 1;
    }
    return r;
}

static GstBuffer *overlay_buffer(const gchar *props, GstCaps *caps, GstBuffer *in)
{
    g_autofree gchar *desc = g_strdup_printf("vitoverlay %s", props);
    GstHarness *h = vit_harness_new(desc);
    GstBuffer *out;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
    out = gst_harness_pull(h);
    gst_harness_teardown(h);
    return out;
}

/* A flat BASE frame labelled LABEL (none when NULL) through vitoverlay PROPS. */
static GstBuffer *overlay_one(const gchar *props, GstCaps *caps, guint8 base, const gchar *label)
{
    GstBuffer *in = flat_buffer(caps, base);

    if (label != NULL)
        add_labelled_meta(in, label);
    return overlay_buffer(props, caps, in);
}

/* The box is drawn, entirely inside a WIDTH x HEIGHT frame. */
static void check_inside(const Region *r, gint width, gint height)
{
    fail_unless(r->width > 0, "nothing drawn");
    fail_unless(r->x >= 0 && r->y >= 0 && r->x + r->width <= width && r->y + r->height <= height,
                "box %dx%d+%d+%d outside the %dx%d frame", r->width, r->height, r->x, r->y, width,
                height);
}

/* Writes the RGB frame OUT as NAME.png into $VIT_OVERLAY_PNG_DIR (when set). */
static void write_png(GstBuffer *out, GstCaps *caps, const gchar *name)
{
    const gchar *dir = g_getenv("VIT_OVERLAY_PNG_DIR");
    g_autofree gchar *path = NULL;
    cairo_surface_t *surface;
    GstVideoInfo info;
    GstVideoFrame frame;
    gint x, y;

    if (dir == NULL)
        return;
    fail_unless(gst_video_info_from_caps(&info, caps));
    fail_unless(GST_VIDEO_INFO_FORMAT(&info) == GST_VIDEO_FORMAT_RGB);
    fail_unless(gst_video_frame_map(&frame, &info, out, GST_MAP_READ));
    surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, info.width, info.height);
    for (y = 0; y < info.height; y++) {
        const guint8 *src = (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA(&frame, 0) +
                            y * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
        guint32 *dst = (guint32 *)(cairo_image_surface_get_data(surface) +
                                   y * cairo_image_surface_get_stride(surface));

        for (x = 0; x < info.width; x++)
            dst[x] = (guint32)src[3 * x] << 16 | (guint32)src[3 * x + 1] << 8 | src[3 * x + 2];
    }
    cairo_surface_mark_dirty(surface);
    path = g_strdup_printf("%s/overlay-%s.png", dir, name);
    fail_unless_equals_int(cairo_surface_write_to_png(surface, path), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(surface);
    gst_video_frame_unmap(&frame);
}

GST_START_TEST(test_box_in_every_format)
{
    static const gchar *formats[] = {"RGB",  "BGR",  "RGBx",  "BGRx", "xRGB", "xBGR",
                                     "RGBA", "BGRA", "GRAY8", "I420", "NV12"};
    gsize f;

    for (f = 0; f < G_N_ELEMENTS(formats); f++) {
        GstCaps *caps = vit_caps_new(formats[f], 161, 41);
        GstBuffer *out = overlay_one("position=top-left", caps, GREY, "cat");
        Region r = changed_region(out, caps, GREY);

        check_inside(&r, 161, 41);
        fail_unless(r.x > 0 && r.y > 0, "%s: no margin (%d,%d)", formats[f], r.x, r.y);
        fail_unless(r.bright > 20, "%s: no text", formats[f]);
        fail_unless(r.dark > 100, "%s: no dark box", formats[f]);
        gst_buffer_unref(out);
        gst_caps_unref(caps);
    }
}
GST_END_TEST;

/* Each corner, the same margin from both of its edges. */
GST_START_TEST(test_position)
{
    static const gchar *positions[] = {"top-left", "top-right", "bottom-left", "bottom-right"};
    GstCaps *caps = vit_caps_new("RGB", 301, 121);
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(positions); i++) {
        g_autofree gchar *props = g_strdup_printf("position=%s", positions[i]);
        GstBuffer *out = overlay_one(props, caps, GREY, "cat");
        Region r = changed_region(out, caps, GREY);
        gint dx = g_str_has_suffix(positions[i], "left") ? r.x : 301 - r.x - r.width;
        gint dy = g_str_has_prefix(positions[i], "top") ? r.y : 121 - r.y - r.height;

        check_inside(&r, 301, 121);
        fail_unless(dx > 0 && dx == dy, "%s: margins %d, %d", positions[i], dx, dy);
        fail_unless(r.width < 301 / 2 && r.height < 121 / 2, "%s: box %dx%d", positions[i], r.width,
                    r.height);
        gst_buffer_unref(out);
    }
    gst_caps_unref(caps);
}
GST_END_TEST;

/* Text follows the picture's height by default (24 pixels on 480 lines); font-size overrides
 * it, scale is 10 pixels. */
GST_START_TEST(test_font_size)
{
    GstCaps *small = vit_caps_new("RGB", 640, 240), *big = vit_caps_new("RGB", 640, 480);
    GstBuffer *a = overlay_one("", small, GREY, "cat"), *b = overlay_one("", big, GREY, "cat");
    GstBuffer *c = overlay_one("font-size=20", big, GREY, "cat");
    GstBuffer *d = overlay_one("scale=2", big, GREY, "cat");
    GstBuffer *e = overlay_one("font-size=40 scale=2", big, GREY, "cat");
    Region ra = changed_region(a, small, GREY), rb = changed_region(b, big, GREY);
    Region rc = changed_region(c, big, GREY), rd = changed_region(d, big, GREY);
    Region re = changed_region(e, big, GREY);

    fail_unless(rb.height > ra.height * 17 / 10, "auto size: %d vs %d", rb.height, ra.height);
    fail_unless(rc.height < rb.height, "font-size=20: %d vs %d", rc.height, rb.height);
    fail_unless(rd.height == rc.height && rd.width == rc.width, "scale=2 is not 20 pixels");
    fail_unless(re.height > rc.height * 17 / 10, "font-size does not win over scale");
    gst_buffer_unref(a);
    gst_buffer_unref(b);
    gst_buffer_unref(c);
    gst_buffer_unref(d);
    gst_buffer_unref(e);
    gst_caps_unref(small);
    gst_caps_unref(big);
}
GST_END_TEST;

/* Light text on a dark box with a light border: the text shows on black and white pictures,
 * and the box itself shows on black. */
GST_START_TEST(test_readable_on_black_and_white)
{
    GstCaps *caps = vit_caps_new("RGB", 640, 360);
    GstBuffer *dark = overlay_one("", caps, 0, "cat"), *light = overlay_one("", caps, 255, "cat");
    Region rd = changed_region(dark, caps, 0), rl = changed_region(light, caps, 255);
    gint area;

    check_inside(&rd, 640, 360);
    check_inside(&rl, 640, 360);
    /* On black, the border and the text make the box: a rectangle of light pixels. */
    fail_unless(rd.bright > 200, "text on black: %d light pixels", rd.bright);
    fail_unless(rd.width > 60 && rd.height > 12, "box on black: %dx%d", rd.width, rd.height);
    /* On white, most of the box is dark and the text is still light on it. */
    area = rl.width * rl.height;
    fail_unless(rl.dark > area / 2, "box on white: %d of %d dark", rl.dark, area);
    fail_unless(rd.width == rl.width && rd.height == rl.height);
    {
        GstMapInfo map;
        gint x, y, light_in_box = 0;

        fail_unless(gst_buffer_map(light, &map, GST_MAP_READ));
        for (y = rl.y + 3; y < rl.y + rl.height - 3; y++)
            for (x = rl.x + 3; x < rl.x + rl.width - 3; x++)
                light_in_box += map.data[(y * 640 + x) * 3] > 200;
        gst_buffer_unmap(light, &map);
        fail_unless(light_in_box > 200, "text on white: %d light pixels", light_in_box);
    }
    write_png(dark, caps, "dark");
    write_png(light, caps, "bright");
    gst_buffer_unref(dark);
    gst_buffer_unref(light);
    gst_caps_unref(caps);
}
GST_END_TEST;

/* UTF-8 labels are drawn as themselves: not the same pixels as the label with '?' for every
 * letter outside ASCII. */
GST_START_TEST(test_utf8_label)
{
    GstCaps *caps = vit_caps_new("RGB", 320, 120);
    GstBuffer *utf8 = overlay_one("", caps, GREY, "Größe · naïve café"); /* in this file */
    GstBuffer *ascii = overlay_one("", caps, GREY, "Gr??e ? na?ve caf?");
    Region ru = changed_region(utf8, caps, GREY);

    check_inside(&ru, 320, 120);
    fail_unless(ru.bright > 100, "no text: %d light pixels", ru.bright);
    {
        GstMapInfo mu, ma;

        fail_unless(gst_buffer_map(utf8, &mu, GST_MAP_READ));
        fail_unless(gst_buffer_map(ascii, &ma, GST_MAP_READ));
        fail_unless(mu.size == ma.size && memcmp(mu.data, ma.data, mu.size) != 0,
                    "UTF-8 label drawn like its ASCII stand-in");
        gst_buffer_unmap(utf8, &mu);
        gst_buffer_unmap(ascii, &ma);
    }
    gst_buffer_unref(utf8);
    gst_buffer_unref(ascii);
    gst_caps_unref(caps);
}
GST_END_TEST;

/* Compares the last COLUMNS columns of boxes A (in OUT_A) and B (in OUT_B) of RGB frames
 * WIDTH wide: TRUE when every pixel matches. */
static gboolean same_right_columns(GstBuffer *out_a, const Region *a, GstBuffer *out_b,
                                   const Region *b, gint columns, gint width)
{
    GstMapInfo ma, mb;
    gboolean same = a->height == b->height;
    gint y;

    fail_unless(gst_buffer_map(out_a, &ma, GST_MAP_READ));
    fail_unless(gst_buffer_map(out_b, &mb, GST_MAP_READ));
    for (y = 0; y < a->height && same; y++) {
        gsize ia = ((gsize)(a->y + y) * width + a->x + a->width - columns) * 3;
        gsize ib = ((gsize)(b->y + y) * width + b->x + b->width - columns) * 3;

        same = memcmp(ma.data + ia, mb.data + ib, (gsize)columns * 3) == 0;
    }
    gst_buffer_unmap(out_a, &ma);
    gst_buffer_unmap(out_b, &mb);
    return same;
}

/* A label far wider than the picture is shortened with an ellipsis: the box stays inside the
 * frame and ends with the same score and exit, pixel for pixel, as a short label's box. */
GST_START_TEST(test_long_label_keeps_score)
{
    const gchar *long_label =
        "Überraschungsei mit Schokoladenüberzug und einer sehr, sehr langen Beschreibung, "
        "die auf keinen Bildschirm passt — Straße, Größe, Maße";
    GstCaps *caps = vit_caps_new("RGB", 640, 360);
    GstBuffer *lng = overlay_one("", caps, 40, long_label),
              *shrt = overlay_one("", caps, 40, "cat");
    Region rl = changed_region(lng, caps, 40), rs = changed_region(shrt, caps, 40);

    check_inside(&rl, 640, 360);
    fail_unless(rl.x > 0 && 640 - rl.x - rl.width == rl.x, "margins %d, %d", rl.x,
                640 - rl.x - rl.width);
    fail_unless(rl.width > rs.width * 2, "long label not drawn: %d vs %d", rl.width, rs.width);
    fail_unless(same_right_columns(lng, &rl, shrt, &rs, rs.width / 2, 640),
                "the score of a long label differs from a short one's");
    write_png(lng, caps, "utf8-long");
    gst_buffer_unref(lng);
    gst_buffer_unref(shrt);
    gst_caps_unref(caps);
}
GST_END_TEST;

GST_START_TEST(test_no_meta_no_change)
{
    GstCaps *caps = vit_caps_new("I420", 64, 48);
    GstBuffer *out = overlay_one("", caps, GREY, NULL);
    Region r = changed_region(out, caps, GREY);

    fail_unless_equals_int(r.width, 0);
    gst_buffer_unref(out);
    gst_caps_unref(caps);
}
GST_END_TEST;

/* A frame without a result that someone else still holds (a tee's other branch) is passed on
 * as is: not copied, not made writable. One with a result is drawn on a copy, leaving the
 * holder's pixels alone. */
GST_START_TEST(test_shared_buffers)
{
    GstHarness *h = vit_harness_new("vitoverlay");
    GstCaps *caps = vit_caps_new("RGBx", 128, 32);
    GstBuffer *in = flat_buffer(caps, GREY), *out;
    Region r;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(in)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(out == in);
    gst_buffer_unref(out);

    add_meta(in);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(in)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(out != in);
    r = changed_region(in, caps, GREY);
    fail_unless_equals_int(r.width, 0);
    r = changed_region(out, caps, GREY);
    fail_unless(r.width > 0);

    gst_buffer_unref(out);
    gst_buffer_unref(in);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST;

static gboolean same_pixels(GstBuffer *a, GstBuffer *b)
{
    GstMapInfo ma, mb;
    gboolean same;

    fail_unless(gst_buffer_map(a, &ma, GST_MAP_READ));
    fail_unless(gst_buffer_map(b, &mb, GST_MAP_READ));
    same = ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0;
    gst_buffer_unmap(a, &ma);
    gst_buffer_unmap(b, &mb);
    return same;
}

/* Frames between results keep showing the last one (no flicker with interval=N), unless hold
 * is off; a flushing seek forgets it. */
GST_START_TEST(test_hold_last_result)
{
    GstHarness *h = vit_harness_new("vitoverlay name=ov");
    GstElement *ov = gst_bin_get_by_name(GST_BIN(h->element), "ov");
    GstCaps *caps = vit_caps_new("NV12", 128, 32);
    GstBuffer *in, *shown, *out;
    GstSegment segment;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    in = flat_buffer(caps, GREY);
    add_meta(in);
    fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
    shown = gst_harness_pull(h);
    fail_unless(changed_region(shown, caps, GREY).width > 0);

    /* No result on this frame: the last one is drawn again, in the same place. */
    fail_unless_equals_int(gst_harness_push(h, flat_buffer(caps, GREY)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(same_pixels(out, shown));
    gst_buffer_unref(out);

    g_object_set(ov, "hold", FALSE, NULL);
    fail_unless_equals_int(gst_harness_push(h, flat_buffer(caps, GREY)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless_equals_int(changed_region(out, caps, GREY).width, 0);
    gst_buffer_unref(out);

    g_object_set(ov, "hold", TRUE, NULL);
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    gst_segment_init(&segment, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    fail_unless_equals_int(gst_harness_push(h, flat_buffer(caps, GREY)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless_equals_int(changed_region(out, caps, GREY).width, 0);
    gst_buffer_unref(out);

    gst_buffer_unref(shown);
    gst_object_unref(ov);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* A frame narrower and lower than the text: what fits is drawn, nothing outside the frame. */
GST_START_TEST(test_narrow_frame)
{
    static const gchar *formats[] = {"GRAY8", "I420", "RGB"};
    gsize f;

    for (f = 0; f < G_N_ELEMENTS(formats); f++) {
        GstCaps *caps = vit_caps_new(formats[f], 40, 12);
        GstBuffer *out = overlay_one("font-size=16 position=bottom-right", caps, GREY, "cat");
        Region r = changed_region(out, caps, GREY);

        check_inside(&r, 40, 12);
        gst_buffer_unref(out);
        gst_caps_unref(caps);
    }
}
GST_END_TEST;

/* Chained after vitclassify, the overlay draws the classifier's verdict. */
GST_START_TEST(test_after_vitclassify)
{
    GstHarness *h = vit_harness_new("vitclassify model=" SMALL_MODEL " ! vitoverlay");
    GstCaps *caps = vit_caps_new("BGRx", 200, 40);
    GstBuffer *out;
    Region r;

    gst_harness_set_src_caps(h, gst_caps_ref(caps));
    fail_unless_equals_int(gst_harness_push(h, flat_buffer(caps, GREY)), GST_FLOW_OK);
    out = gst_harness_pull(h);
    fail_unless(gst_buffer_get_vit_classification_meta(out) != NULL);
    r = changed_region(out, caps, GREY);
    check_inside(&r, 200, 40);
    fail_unless(r.bright > 20);
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
    tcase_add_test(tc, test_position);
    tcase_add_test(tc, test_font_size);
    tcase_add_test(tc, test_readable_on_black_and_white);
    tcase_add_test(tc, test_utf8_label);
    tcase_add_test(tc, test_long_label_keeps_score);
    tcase_add_test(tc, test_no_meta_no_change);
    tcase_add_test(tc, test_shared_buffers);
    tcase_add_test(tc, test_hold_last_result);
    tcase_add_test(tc, test_narrow_frame);
    tcase_add_test(tc, test_after_vitclassify);
    return s;
}

GST_CHECK_MAIN(vitoverlay);
