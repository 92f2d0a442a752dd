/* gstvitresult.h — turning one libvit result into what vitclassify reports: the top-k classes
 * and the "vit-classification" message structure (names in vitclassify-names.h, fields
 * documented in gstvitclassify.c). */
#ifndef GST_VIT_RESULT_H
#define GST_VIT_RESULT_H

#include <gst/gst.h>

#include "gstvitmeta.h"
#include "vit.h"

G_BEGIN_DECLS

/* Fills RET_CLASSES (room for result->num_classes) and RET_PROBS (room for K) with the K most
 * probable classes, best first, K <= num_classes. Returns K. */
gint gst_vit_result_top_k(const vit_result *result, gint k, gint *ret_classes, gfloat *ret_probs);

/* The "vit-classification" structure for RESULT on BUF: its timestamps (PTS, stream and
 * running time in SEGMENT, duration) and RESULT's classes, exit and latency. */
GstStructure *gst_vit_result_to_structure(const GstVitClassificationMeta *result, GstBuffer *buf,
                                          const GstSegment *segment);

G_END_DECLS

#endif /* GST_VIT_RESULT_H */
