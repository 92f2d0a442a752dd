/* gstvitpads.h — the video pads vitclassify and vitoverlay share: both take the raw formats
 * libvit's preprocessing reads (so no converter is needed upstream) and pass frames through. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* The raw video formats both elements accept, as a caps format list. */
#define GST_VIT_VIDEO_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, GRAY8, I420, NV12 }"

/* Adds an always "sink" and an always "src" pad template of GST_VIT_VIDEO_FORMATS to KLASS. */
void gst_vit_add_video_pad_templates(GstElementClass *klass);

G_END_DECLS
