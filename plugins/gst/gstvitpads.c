/* gstvitpads.c — the pad templates of vitclassify and vitoverlay (see gstvitpads.h). */
#include "gstvitpads.h"

#include <gst/video/video.h>

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(GST_VIT_VIDEO_FORMATS)));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(GST_VIT_VIDEO_FORMATS)));

void gst_vit_add_video_pad_templates(GstElementClass *klass)
{
    gst_element_class_add_static_pad_template(klass, &sink_template);
    gst_element_class_add_static_pad_template(klass, &src_template);
}
