/* gstvitclassify.h — the vitclassify element: a passthrough video analyser that runs a
 * vision transformer (libvit) on frames and reports the classes it sees. */
#ifndef GST_VIT_CLASSIFY_H
#define GST_VIT_CLASSIFY_H

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VIT_CLASSIFY (gst_vit_classify_get_type())
G_DECLARE_FINAL_TYPE(GstVitClassify, gst_vit_classify, GST, VIT_CLASSIFY, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(vitclassify);

G_END_DECLS

#endif /* GST_VIT_CLASSIFY_H */
