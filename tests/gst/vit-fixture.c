/* vit-fixture.c — the shared set-up of the element tests (vit-fixture.h): test pictures, a
 * vitclassify in a harness with its own bus, and its messages read back through the contract
 * parser. */
#include "vit-fixture.h"

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

GstCaps *vit_caps_new(const gchar *format, gint width, gint height)
{
    return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, format, "width", G_TYPE_INT,
                               width, "height", G_TYPE_INT, height, "framerate", GST_TYPE_FRACTION,
                               30, 1, NULL);
}

GstBuffer *vit_picture_new(GstCaps *caps, GstClockTime pts)
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

/* Fails the test unless FACTORY is registered: without this, a plugin that did not build or
 * load shows up as a NULL dereference far from the cause. */
static void vit_require_factory(const gchar *factory)
{
    GstElementFactory *f = gst_element_factory_find(factory);

    fail_unless(f != NULL,
                "element \"%s\" not found: the \"vit\" plugin is missing or failed to load "
                "(GST_PLUGIN_PATH=%s)",
                factory, g_getenv("GST_PLUGIN_PATH") ? g_getenv("GST_PLUGIN_PATH") : "(unset)");
    gst_object_unref(f);
}

GstElement *vit_element_new(const gchar *factory)
{
    GstElement *e;

    vit_require_factory(factory);
    e = gst_element_factory_make(factory, NULL);
    fail_unless(e != NULL, "could not create a %s", factory);
    return e;
}

GstHarness *vit_harness_new(const gchar *desc)
{
    GstHarness *h;

    vit_require_factory("vitclassify");
    vit_require_factory("vitoverlay");
    h = gst_harness_new_parse(desc);
    fail_unless(h != NULL, "could not build \"%s\"", desc);
    return h;
}

void vit_fixture_setup(VitFixture *f, const gchar *model, const gchar *props, GstCaps *caps)
{
    g_autofree gchar *desc = g_strdup_printf(
        "vitclassify name=" VIT_CLASSIFY_ELEMENT_NAME " model=%s %s", model, props ? props : "");

    f->h = vit_harness_new(desc);
    /* gst_harness_new_parse wraps what it parses in a bin. */
    f->vit = GST_IS_BIN(f->h->element)
                 ? gst_bin_get_by_name(GST_BIN(f->h->element), VIT_CLASSIFY_ELEMENT_NAME)
                 : gst_object_ref(f->h->element);
    fail_unless(f->vit != NULL);
    f->bus = gst_bus_new();
    gst_harness_set_live(f->h, FALSE); /* tests that want a live source say so */
    gst_element_set_bus(f->h->element, f->bus);
    f->caps = caps;
    gst_harness_set_src_caps(f->h, gst_caps_ref(caps));
}

void vit_fixture_teardown(VitFixture *f)
{
    gst_clear_object(&f->vit);
    g_clear_pointer(&f->h, gst_harness_teardown);
    gst_clear_object(&f->bus);
    gst_clear_caps(&f->caps);
}

GstBuffer *vit_fixture_push(VitFixture *f, GstBuffer *in)
{
    GstBuffer *out;

    fail_unless_equals_int(gst_harness_push(f->h, in), GST_FLOW_OK);
    out = gst_harness_pull(f->h);
    fail_unless(out != NULL);
    return out;
}

void vit_fixture_push_picture(VitFixture *f, GstClockTime pts)
{
    gst_buffer_unref(vit_fixture_push(f, vit_picture_new(f->caps, pts)));
}

gboolean vit_fixture_pop(VitFixture *f, GstVitClassification *ret)
{
    g_autoptr(GstMessage) msg = gst_bus_pop_filtered(f->bus, GST_MESSAGE_ELEMENT);

    if (msg == NULL)
        return FALSE;
    fail_unless(gst_message_has_name(msg, VIT_CLASSIFICATION_MESSAGE));
    fail_unless(gst_vit_classification_parse(gst_message_get_structure(msg), ret));
    return TRUE;
}

void vit_fixture_pop_expect(VitFixture *f, GstVitClassification *ret)
{
    fail_unless(vit_fixture_pop(f, ret), "no %s message", VIT_CLASSIFICATION_MESSAGE);
}

guint64 vit_fixture_get_u64(VitFixture *f, const gchar *property)
{
    guint64 v;

    g_object_get(f->vit, property, &v, NULL);
    return v;
}

void vit_classify_once(const gchar *props, GstVitClassification *ret)
{
    g_auto(VitFixture) f = {0};

    vit_fixture_setup(&f, SMALL_MODEL, props, vit_caps_new("RGB", 32, 32));
    vit_fixture_push_picture(&f, 0);
    vit_fixture_pop_expect(&f, ret);
}
