/* gstvitoverlay.c — the vitoverlay element: writes vitclassify's verdict onto the picture.
 *
 * An in-place GstVideoFilter. For each frame carrying a GstVitClassificationMeta it draws one
 * line, "<top label> <score> exit <n>", in the built-in 5x7 font (gstvitfont.c), white on a
 * darkened box so it stays legible on any picture. RGB-family formats get white text on a box
 * whose colours are quartered; GRAY8 and the Y plane of I420 / NV12 get the same in luma
 * (chroma is left as it was, so the box keeps a faint tint of the picture). Frames without
 * the meta (skipped by interval or QoS) show the last result while "hold" is on, so the label
 * does not flicker; with it off, or before the first result, they pass untouched (and
 * uncopied: the element switches to passthrough for them). */

/**
 * SECTION:element-vitoverlay
 * @title: vitoverlay
 * @see_also: vitclassify
 *
 * Draws the most probable label, its score and the exit that answered onto each frame that
 * vitclassify classified, so a person watching the stream sees what the model thinks. Frames
 * in between (vitclassify's interval, or frames it skipped to keep up) keep showing the last
 * result unless #GstVitOverlay:hold is off; a flushing seek or a new stream clears it.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! vitclassify model=/path/to/model ! vitoverlay scale=3 !
 * videoconvert ! autovideosink
 * ]|
 */
#include "config.h"

#include "gstvitoverlay.h"

#include <stdio.h>
#include <string.h>

#include <gst/video/video.h>

#include "gstvitfieldprops.h"
#include "gstvitfont.h"
#include "gstvitmeta.h"

GST_DEBUG_CATEGORY_STATIC(gst_vit_overlay_debug);
#define GST_CAT_DEFAULT gst_vit_overlay_debug

typedef enum {
    GST_VIT_OVERLAY_TOP_LEFT,
    GST_VIT_OVERLAY_TOP_RIGHT,
    GST_VIT_OVERLAY_BOTTOM_LEFT,
    GST_VIT_OVERLAY_BOTTOM_RIGHT,
} GstVitOverlayPosition;

#define DEFAULT_POSITION GST_VIT_OVERLAY_TOP_LEFT
#define DEFAULT_SCALE 0
#define DEFAULT_HOLD TRUE
#define MAX_TEXT 96

enum {
    PROP_0,
    PROP_POSITION,
    PROP_SCALE,
    PROP_HOLD,
};

#define VIT_OVERLAY_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, GRAY8, I420, NV12 }"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIT_OVERLAY_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIT_OVERLAY_FORMATS)));

struct _GstVitOverlay {
    GstVideoFilter parent;

    GstVitOverlayPosition position; /* under the object lock */
    guint scale;
    gboolean hold;

    gchar last_text[MAX_TEXT]; /* streaming thread: the last result drawn, "" before any */
};

G_DEFINE_TYPE(GstVitOverlay, gst_vit_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(
    vitoverlay, "vitoverlay", GST_RANK_NONE, GST_TYPE_VIT_OVERLAY,
    GST_DEBUG_CATEGORY_INIT(gst_vit_overlay_debug, "vitoverlay", 0,
                            "draws vitclassify results on video"));

#define GST_TYPE_VIT_OVERLAY_POSITION (gst_vit_overlay_position_get_type())
static GType gst_vit_overlay_position_get_type(void)
{
    static GType type = 0;

    if (g_once_init_enter(&type)) {
        static const GEnumValue values[] = {
            {GST_VIT_OVERLAY_TOP_LEFT, "Top left corner", "top-left"},
            {GST_VIT_OVERLAY_TOP_RIGHT, "Top right corner", "top-right"},
            {GST_VIT_OVERLAY_BOTTOM_LEFT, "Bottom left corner", "bottom-left"},
            {GST_VIT_OVERLAY_BOTTOM_RIGHT, "Bottom right corner", "bottom-right"},
            {0, NULL, NULL},
        };
        g_once_init_leave(&type, g_enum_register_static("GstVitOverlayPosition", values));
    }
    return type;
}

/* A rectangle of the frame in luma / RGB pixel coordinates, already clipped. */
typedef struct {
    gint x, y, width, height;
} Box;

/* Applies the darkening (ink == FALSE) or the text colour (ink == TRUE) to pixel (x, y) of
 * every component that carries the picture's brightness: R, G, B for RGB formats, Y else. */
static void gst_vit_overlay_paint(GstVideoFrame *frame, gint x, gint y, gboolean ink)
{
    const GstVideoFormatInfo *finfo = frame->info.finfo;
    gboolean rgb = GST_VIDEO_FORMAT_INFO_IS_RGB(finfo);
    guint ncomp = rgb ? 3 : 1;
    /* Video-range luma for YUV formats; full range for RGB and GRAY8. */
    gint black = (rgb || GST_VIDEO_FORMAT_INFO_IS_GRAY(finfo)) ? 0 : 16;
    gint white = (rgb || GST_VIDEO_FORMAT_INFO_IS_GRAY(finfo)) ? 255 : 235;
    guint c;

    for (c = 0; c < ncomp; c++) {
        guint8 *p = (guint8 *)GST_VIDEO_FRAME_COMP_DATA(frame, c) +
                    (gsize)y * GST_VIDEO_FRAME_COMP_STRIDE(frame, c) +
                    (gsize)x * GST_VIDEO_FRAME_COMP_PSTRIDE(frame, c);

        *p = ink ? white : (guint8)(black + (MAX(*p, black) - black) / 4);
    }
}

/* Draws TEXT at SCALE inside BOX (which has room for a SCALE-pixel border). */
static void gst_vit_overlay_draw_text(GstVideoFrame *frame, const Box *box, const gchar *text,
                                      guint scale)
{
    gint fw = GST_VIDEO_FRAME_WIDTH(frame), fh = GST_VIDEO_FRAME_HEIGHT(frame);
    gint len = (gint)strlen(text);
    gint x, y;

    for (y = box->y; y < box->y + box->height; y++) {
        for (x = box->x; x < box->x + box->width; x++) {
            gint tx = x - box->x - (gint)scale, ty = y - box->y - (gint)scale;
            gboolean ink = FALSE;

            if (x >= fw || y >= fh)
                continue;
            if (tx >= 0 && ty >= 0) {
                gint cell = tx / (gint)scale / (GST_VIT_FONT_WIDTH + 1);
                gint gx = tx / (gint)scale % (GST_VIT_FONT_WIDTH + 1);
                gint gy = ty / (gint)scale;

                if (cell < len)
                    ink = gst_vit_font_pixel(text[cell], (guint)gx, (guint)gy);
            }
            gst_vit_overlay_paint(frame, x, y, ink);
        }
    }
}

/* "<label> <score> exit <n>" for META. */
static void gst_vit_overlay_format_text(const GstVitClassificationMeta *meta, gchar *text,
                                        gsize size)
{
    if (meta->length > 0)
        g_snprintf(text, size, "%s %.2f exit %u", g_quark_to_string(meta->class_quarks[0]),
                   meta->confidence_levels[0], meta->exit_index);
    else
        g_snprintf(text, size, "(none) exit %u", meta->exit_index);
}

/* Shortens TEXT so that it fits a frame FRAME_WIDTH wide at SCALE. */
static void gst_vit_overlay_fit_text(gchar *text, gint frame_width, guint scale)
{
    gint fit = (frame_width - 2 * (gint)scale) / ((GST_VIT_FONT_WIDTH + 1) * (gint)scale);

    if (fit < 0)
        fit = 0;
    if ((gsize)fit < strlen(text))
        text[fit] = '\0';
}

/* Frames with nothing to draw pass through untouched: in passthrough the base class neither
 * makes them writable (which would copy a buffer shared with a tee) nor maps them. */
static void gst_vit_overlay_before_transform(GstBaseTransform *trans, GstBuffer *buffer)
{
    GstVitOverlay *self = GST_VIT_OVERLAY(trans);
    gboolean hold;

    GST_OBJECT_LOCK(self);
    hold = self->hold;
    GST_OBJECT_UNLOCK(self);
    gst_base_transform_set_passthrough(trans,
                                       gst_buffer_get_vit_classification_meta(buffer) == NULL &&
                                           (!hold || self->last_text[0] == '\0'));
}

static gboolean gst_vit_overlay_sink_event(GstBaseTransform *trans, GstEvent *event)
{
    GstVitOverlay *self = GST_VIT_OVERLAY(trans);

    /* A new stream or a seek: the last result described frames that are gone. */
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP ||
        GST_EVENT_TYPE(event) == GST_EVENT_STREAM_START)
        self->last_text[0] = '\0';
    return GST_BASE_TRANSFORM_CLASS(gst_vit_overlay_parent_class)->sink_event(trans, event);
}

static GstFlowReturn gst_vit_overlay_transform_frame_ip(GstVideoFilter *filter,
                                                        GstVideoFrame *frame)
{
    GstVitOverlay *self = GST_VIT_OVERLAY(filter);
    GstVitClassificationMeta *meta = gst_buffer_get_vit_classification_meta(frame->buffer);
    gint fw = GST_VIDEO_FRAME_WIDTH(frame), fh = GST_VIDEO_FRAME_HEIGHT(frame);
    GstVitOverlayPosition position;
    gchar text[MAX_TEXT];
    gboolean hold;
    guint scale;
    Box box;

    GST_OBJECT_LOCK(self);
    position = self->position;
    scale = self->scale;
    hold = self->hold;
    GST_OBJECT_UNLOCK(self);

    if (meta != NULL)
        gst_vit_overlay_format_text(meta, self->last_text, sizeof self->last_text);
    else if (!hold || self->last_text[0] == '\0')
        return GST_FLOW_OK;
    g_strlcpy(text, self->last_text, sizeof text);
    if (scale == 0) /* automatic: about 1/20 of the picture's height per line */
        scale = (guint)MAX(1, fh / 160);

    gst_vit_overlay_fit_text(text, fw, scale);
    box.width = (gint)(strlen(text) * (GST_VIT_FONT_WIDTH + 1) + 1) * (gint)scale;
    box.height = (GST_VIT_FONT_HEIGHT + 2) * (gint)scale;
    box.width = MIN(box.width, fw);
    box.height = MIN(box.height, fh);
    box.x = (position == GST_VIT_OVERLAY_TOP_LEFT || position == GST_VIT_OVERLAY_BOTTOM_LEFT)
                ? 0
                : fw - box.width;
    box.y = (position == GST_VIT_OVERLAY_TOP_LEFT || position == GST_VIT_OVERLAY_TOP_RIGHT)
                ? 0
                : fh - box.height;
    GST_LOG_OBJECT(self, "drawing \"%s\" at %d,%d %dx%d", text, box.x, box.y, box.width,
                   box.height);
    gst_vit_overlay_draw_text(frame, &box, text, scale);
    return GST_FLOW_OK;
}

/* Where each property lives in the instance; all of them are under the object lock. */
static const gsize gst_vit_overlay_fields[] = {
    [PROP_POSITION] = G_STRUCT_OFFSET(GstVitOverlay, position),
    [PROP_SCALE] = G_STRUCT_OFFSET(GstVitOverlay, scale),
    [PROP_HOLD] = G_STRUCT_OFFSET(GstVitOverlay, hold),
};

static void gst_vit_overlay_set_property(GObject *object, guint prop_id, const GValue *value,
                                         GParamSpec *pspec)
{
    GST_OBJECT_LOCK(object);
    gst_vit_field_props_set(object, gst_vit_overlay_fields, G_N_ELEMENTS(gst_vit_overlay_fields),
                            prop_id, value, pspec);
    GST_OBJECT_UNLOCK(object);
}

static void gst_vit_overlay_get_property(GObject *object, guint prop_id, GValue *value,
                                         GParamSpec *pspec)
{
    GST_OBJECT_LOCK(object);
    if (!gst_vit_field_props_get(object, gst_vit_overlay_fields,
                                 G_N_ELEMENTS(gst_vit_overlay_fields), prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    GST_OBJECT_UNLOCK(object);
}

static void gst_vit_overlay_class_init(GstVitOverlayClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

    gobject_class->set_property = gst_vit_overlay_set_property;
    gobject_class->get_property = gst_vit_overlay_get_property;

    g_object_class_install_property(
        gobject_class, PROP_POSITION,
        g_param_spec_enum("position", "Position",
                          "Corner of the picture where the label box is drawn",
                          GST_TYPE_VIT_OVERLAY_POSITION, DEFAULT_POSITION, rw));
    g_object_class_install_property(
        gobject_class, PROP_SCALE,
        g_param_spec_uint(
            "scale", "Scale",
            "Size of each font pixel in video pixels (the font is 5x7); 0 picks one from the "
            "picture's height (height / 160, at least 1)",
            0, 64, DEFAULT_SCALE, rw));

    g_object_class_install_property(
        gobject_class, PROP_HOLD,
        g_param_spec_boolean("hold", "Hold",
                             "Keep showing the last result on frames that carry none (between "
                             "classified frames with vitclassify's interval, or frames it "
                             "skipped); off draws only on classified frames",
                             DEFAULT_HOLD, rw));

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);
    gst_element_class_set_static_metadata(
        element_class, "Vision transformer result overlay", "Filter/Effect/Video",
        "Draws the top label, score and exit of vitclassify's GstVitClassificationMeta onto "
        "the video",
        "vitd developers");

    filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_vit_overlay_transform_frame_ip);
    GST_BASE_TRANSFORM_CLASS(klass)->before_transform =
        GST_DEBUG_FUNCPTR(gst_vit_overlay_before_transform);
    GST_BASE_TRANSFORM_CLASS(klass)->sink_event = GST_DEBUG_FUNCPTR(gst_vit_overlay_sink_event);

    gst_type_mark_as_plugin_api(GST_TYPE_VIT_OVERLAY_POSITION, 0);
}

static void gst_vit_overlay_init(GstVitOverlay *self)
{
    self->position = DEFAULT_POSITION;
    self->scale = DEFAULT_SCALE;
    self->hold = DEFAULT_HOLD;
}
