/* gstvitclassify-private.h — what the files of the vitclassify element share: the instance
 * struct and the functions that install each file's GstBaseTransform methods.
 *
 *   gstvitclassify.c            the type, its properties and the element documentation
 *   gstvitclassify-load.c       model, labels and session: start() / stop()
 *   gstvitclassify-transform.c  caps, events, latency and QoS, and the per-frame work
 *
 * Not installed. */
#ifndef GST_VIT_CLASSIFY_PRIVATE_H
#define GST_VIT_CLASSIFY_PRIVATE_H

#include <gst/video/video.h>

#include "gstvitclassify.h"
#include "gstvitlateness.h"
#include "vit.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN(gst_vit_classify_debug);

struct _GstVitClassify {
    GstBaseTransform parent;

    /* Properties and counters: under the object lock. */
    gchar *model_path;
    gchar *labels_path;
    guint top_k;
    guint interval;
    gdouble threshold;
    gdouble exit_threshold;
    gdouble exit_budget;             /* GFLOPs per frame; 0 = off */
    gboolean exit_threshold_changed; /* exit-threshold or exit-budget changed */
    gboolean budget_warned;          /* streaming thread only: warned about no budgets */
    guint threads;
    gboolean post_messages;
    gint precision; /* vit_precision */
    guint64 frames_seen;
    guint64 frames_classified;
    guint64 frames_skipped;
    guint64 latency_sum_us;
    GstVitLateness lateness; /* QoS: has its own lock */

    /* Set in start(), freed in stop(); used by the streaming thread in between. */
    vit_model *model;
    vit_session *session;
    gint num_classes;
    GQuark *class_quarks; /* [num_classes] label of each class */
    gint *top_classes;    /* [num_classes] scratch for top-k */
    gfloat *top_probs;    /* [num_classes] */

    /* Streaming thread only. */
    GstVideoInfo info;
    vit_pixel_format format;
    guint64 frame_index; /* next frame's index since stream start / flush */
};

/* `threads` 0: max(1, online cores / vitclassify elements in the process). */
guint gst_vit_classify_auto_threads(void);

/* Installs start() and stop() (gstvitclassify-load.c). */
void gst_vit_classify_load_class_init(GstBaseTransformClass *trans_class);
/* Installs caps, event, query and per-frame methods (gstvitclassify-transform.c). */
void gst_vit_classify_transform_class_init(GstBaseTransformClass *trans_class);

G_END_DECLS

#endif /* GST_VIT_CLASSIFY_PRIVATE_H */
