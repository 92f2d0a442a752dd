/* gstvitoverlay.c — the vitoverlay element: writes vitclassify's verdict onto the picture.
 *
 * An in-place GstVideoFilter. For each frame carrying a GstVitClassificationMeta it draws one
 * line, "<top label>  <score> exit <n>", as a box rendered by Pango/Cairo (gstvitlabelbox.c:
 * light outlined text on a dark translucent box with a light border, readable on any picture)
 * and blended in a corner, a small margin from the edges. RGB-family formats get it in colour;
 * GRAY8 and the Y plane of I420 / NV12 in luma (chroma is left as it was). The text is sized
 * from the picture's height unless font-size or scale says otherwise. Frames without the meta
 * (skipped by interval or QoS) show the last result while "hold" is on, so the label does not
 * flicker; with it off, or before the first result, they pass untouched (and uncopied: the
 * element switches to passthrough for them). */

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
 * gst-launch-1.0 v4l2src ! videoconvert ! vitclassify model=/path/to/model ! vitoverlay !
 * videoconvert ! autovideosink
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert !
 * vitclassify model=/usr/share/vitd/models/fmnist-vit-tiny ! vitoverlay position=bottom-right
 * font-size=32 ! videoconvert ! autovideosink
 * ]|
 */
#include "config.h"

#include "gstvitoverlay.h"

#include <gst/video/video.h>

#include "gstvitfieldprops.h"
#include "gstvitpads.h"
#include "gstvitlabelbox.h"
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
#define DEFAULT_FONT_SIZE 0
#define DEFAULT_FONT_DESC "Sans Bold"
#define DEFAULT_HOLD TRUE
#define DEFAULT_MIN_FONT_PX 8
#define MAX_LABEL 256
#define MAX_DETAIL 48

enum {
    PROP_0,
    PROP_POSITION,
    PROP_SCALE,
    PROP_FONT_SIZE,
    PROP_FONT_DESC,
    PROP_HOLD,
};

struct _GstVitOverlay {
    GstVideoFilter parent;

    GstVitOverlayPosition position; /* under the object lock */
    guint scale;
    guint font_size;
    gchar *font_desc;
    gboolean hold;

    /* Streaming thread: the last result drawn ("" before any) and its rendered box. */
    gchar last_label[MAX_LABEL];
    gchar last_detail[MAX_DETAIL];
    GstVitLabelBox *label_box;
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

/* Blends the premultiplied ARGB32 IMAGE onto FRAME with its top-left at (X0, Y0), clipped to
 * the frame: into R, G, B for RGB formats, into the luma of the rest (video-range for YUV). */
static void gst_vit_overlay_blend(GstVideoFrame *frame, cairo_surface_t *image, gint x0, gint y0)
{
    const GstVideoFormatInfo *finfo = frame->info.finfo;
    gboolean rgb = GST_VIDEO_FORMAT_INFO_IS_RGB(finfo);
    gboolean video_range = !rgb && !GST_VIDEO_FORMAT_INFO_IS_GRAY(finfo);
    gint fw = GST_VIDEO_FRAME_WIDTH(frame), fh = GST_VIDEO_FRAME_HEIGHT(frame);
    gint iw = cairo_image_surface_get_width(image), ih = cairo_image_surface_get_height(image);
    gint istride = cairo_image_surface_get_stride(image);
    const guint8 *idata = cairo_image_surface_get_data(image);
    guint ncomp = rgb ? 3 : 1, c;
    gint x, y;

    for (y = MAX(0, -y0); y < ih && y0 + y < fh; y++) {
        const guint32 *row = (const guint32 *)(idata + (gsize)y * istride);

        for (x = MAX(0, -x0); x < iw && x0 + x < fw; x++) {
            guint32 px = row[x];
            guint a = px >> 24;
            guint src[3] = {(px >> 16) & 0xff, (px >> 8) & 0xff, px & 0xff};

            if (a == 0)
                continue;
            if (!rgb) {
                src[0] = (77 * src[0] + 150 * src[1] + 29 * src[2] + 128) >> 8;
                if (video_range)
                    src[0] = (16 * a + 219 * src[0] + 127) / 255;
            }
            for (c = 0; c < ncomp; c++) {
                guint8 *p = (guint8 *)GST_VIDEO_FRAME_COMP_DATA(frame, c) +
                            (gsize)(y0 + y) * GST_VIDEO_FRAME_COMP_STRIDE(frame, c) +
                            (gsize)(x0 + x) * GST_VIDEO_FRAME_COMP_PSTRIDE(frame, c);

                *p = (guint8)MIN(255u, src[c] + (*p * (255 - a) + 127) / 255);
            }
        }
    }
}

/* The label and "<score> exit <n>" for META. */
static void gst_vit_overlay_format_text(const GstVitClassificationMeta *meta, gchar *label,
                                        gsize label_size, gchar *detail, gsize detail_size)
{
    if (meta->length > 0) {
        g_strlcpy(label, g_quark_to_string(meta->class_quarks[0]), label_size);
        g_snprintf(detail, detail_size, "%.2f exit %u", meta->confidence_levels[0],
                   meta->exit_index);
    } else {
        g_strlcpy(label, "(none)", label_size);
        g_snprintf(detail, detail_size, "exit %u", meta->exit_index);
    }
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
                                           (!hold || self->last_detail[0] == '\0'));
}

static gboolean gst_vit_overlay_sink_event(GstBaseTransform *trans, GstEvent *event)
{
    GstVitOverlay *self = GST_VIT_OVERLAY(trans);

    /* A new stream or a seek: the last result described frames that are gone. */
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP ||
        GST_EVENT_TYPE(event) == GST_EVENT_STREAM_START)
        self->last_detail[0] = '\0';
    return GST_BASE_TRANSFORM_CLASS(gst_vit_overlay_parent_class)->sink_event(trans, event);
}

static GstFlowReturn gst_vit_overlay_transform_frame_ip(GstVideoFilter *filter,
                                                        GstVideoFrame *frame)
{
    GstVitOverlay *self = GST_VIT_OVERLAY(filter);
    GstVitClassificationMeta *meta = gst_buffer_get_vit_classification_meta(frame->buffer);
    gint fw = GST_VIDEO_FRAME_WIDTH(frame), fh = GST_VIDEO_FRAME_HEIGHT(frame);
    GstVitOverlayPosition position;
    g_autofree gchar *font_desc = NULL;
    cairo_surface_t *image;
    gint font_px, margin, x, y;
    gboolean hold;
    guint scale, font_size;

    GST_OBJECT_LOCK(self);
    position = self->position;
    scale = self->scale;
    font_size = self->font_size;
    hold = self->hold;
    font_desc = g_strdup(self->font_desc != NULL ? self->font_desc : DEFAULT_FONT_DESC);
    GST_OBJECT_UNLOCK(self);

    if (meta != NULL)
        gst_vit_overlay_format_text(meta, self->last_label, sizeof self->last_label,
                                    self->last_detail, sizeof self->last_detail);
    else if (!hold || self->last_detail[0] == '\0')
        return GST_FLOW_OK;

    if (font_size > 0)
        font_px = (gint)font_size;
    else if (scale > 0)
        font_px = (gint)scale * 10;
    else /* automatic: a twentieth of the picture's height */
        font_px = MAX(DEFAULT_MIN_FONT_PX, fh / 20);
    margin = MIN(font_px / 2, MIN(fw, fh) / 16);

    if (self->label_box == NULL)
        self->label_box = gst_vit_label_box_new();
    image = gst_vit_label_box_render(self->label_box, font_desc, self->last_label,
                                     self->last_detail, font_px, fw - 2 * margin);
    if (image == NULL)
        return GST_FLOW_OK;
    x = (position == GST_VIT_OVERLAY_TOP_LEFT || position == GST_VIT_OVERLAY_BOTTOM_LEFT)
            ? margin
            : fw - margin - cairo_image_surface_get_width(image);
    y = (position == GST_VIT_OVERLAY_TOP_LEFT || position == GST_VIT_OVERLAY_TOP_RIGHT)
            ? margin
            : MAX(0, fh - margin - cairo_image_surface_get_height(image));
    GST_LOG_OBJECT(self, "drawing \"%s\" \"%s\" at %d,%d, %d px", self->last_label,
                   self->last_detail, x, y, font_px);
    gst_vit_overlay_blend(frame, image, x, y);
    return GST_FLOW_OK;
}

/* Where each property lives in the instance; all of them are under the object lock. */
static const gsize gst_vit_overlay_fields[] = {
    [PROP_POSITION] = G_STRUCT_OFFSET(GstVitOverlay, position),
    [PROP_SCALE] = G_STRUCT_OFFSET(GstVitOverlay, scale),
    [PROP_FONT_SIZE] = G_STRUCT_OFFSET(GstVitOverlay, font_size),
    [PROP_FONT_DESC] = G_STRUCT_OFFSET(GstVitOverlay, font_desc),
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

static void gst_vit_overlay_finalize(GObject *object)
{
    GstVitOverlay *self = GST_VIT_OVERLAY(object);

    g_free(self->font_desc);
    g_clear_pointer(&self->label_box, gst_vit_label_box_free);
    G_OBJECT_CLASS(gst_vit_overlay_parent_class)->finalize(object);
}

static void gst_vit_overlay_class_init(GstVitOverlayClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

    gobject_class->set_property = gst_vit_overlay_set_property;
    gobject_class->get_property = gst_vit_overlay_get_property;
    gobject_class->finalize = gst_vit_overlay_finalize;

    g_object_class_install_property(
        gobject_class, PROP_POSITION,
        g_param_spec_enum("position", "Position",
                          "Corner of the picture where the label box is drawn",
                          GST_TYPE_VIT_OVERLAY_POSITION, DEFAULT_POSITION, rw));
    g_object_class_install_property(
        gobject_class, PROP_SCALE,
        g_param_spec_uint("scale", "Scale",
                          "Text size in steps of 10 pixels (scale=2 draws 20-pixel text); 0 "
                          "follows the picture's height. font-size, when set, wins",
                          0, 64, DEFAULT_SCALE, rw));
    g_object_class_install_property(
        gobject_class, PROP_FONT_SIZE,
        g_param_spec_uint("font-size", "Font size",
                          "Text size in pixels; 0 picks a twentieth of the picture's height (at "
                          "least 8 pixels) unless scale is set",
                          0, 1024, DEFAULT_FONT_SIZE, rw));
    g_object_class_install_property(
        gobject_class, PROP_FONT_DESC,
        g_param_spec_string("font-desc", "Font description",
                            "Pango font description of the text, e.g. \"Sans Bold\" or "
                            "\"Noto Sans CJK JP\" (its size is ignored: see font-size)",
                            DEFAULT_FONT_DESC, rw));
    g_object_class_install_property(
        gobject_class, PROP_HOLD,
        g_param_spec_boolean("hold", "Hold",
                             "Keep showing the last result on frames that carry none (between "
                             "classified frames with vitclassify's interval, or frames it "
                             "skipped); off draws only on classified frames",
                             DEFAULT_HOLD, rw));

    gst_vit_add_video_pad_templates(element_class);
    gst_element_class_set_static_metadata(
        element_class, "Vision transformer result overlay", "Filter/Effect/Video",
        "Draws the top label, score and exit of vitclassify's GstVitClassificationMeta onto "
        "the video with Pango (any UTF-8 label; a long one is shortened with an ellipsis so "
        "the score stays in the picture)",
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
    self->font_size = DEFAULT_FONT_SIZE;
    self->font_desc = g_strdup(DEFAULT_FONT_DESC);
    self->hold = DEFAULT_HOLD;
}
