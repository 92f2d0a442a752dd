/* gstvitoverlay.h — the vitoverlay element: draws what vitclassify concluded (top label,
 * score, exit) onto each frame that carries a GstVitClassificationMeta. */
#ifndef GST_VIT_OVERLAY_H
#define GST_VIT_OVERLAY_H

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_VIT_OVERLAY (gst_vit_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstVitOverlay, gst_vit_overlay, GST, VIT_OVERLAY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(vitoverlay);

G_END_DECLS

#endif /* GST_VIT_OVERLAY_H */
