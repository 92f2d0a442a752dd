/* gstvitmeta.h — GstVitClassificationMeta: what vitclassify concluded about one video frame.
 *
 * The public contract between the vitclassify element and whatever runs downstream of it
 * (vitoverlay, applications with a pad probe or an appsink). Shaped like GStreamer 1.24's
 * analytics classification metadata (GstAnalyticsClsMtd), which Debian 12's GStreamer 1.22
 * lacks: a list of classes, each a GQuark of its label and a confidence level in [0, 1],
 * sorted by decreasing confidence; plus which exit of an early-exit cascade answered, how long
 * inference took and the frame's index in the stream.
 *
 * Reading it needs no linking against the plugin: gst_buffer_get_vit_classification_meta()
 * and the accessors are inline and find the API type by name once the plugin has registered it
 * (which happens when the "vit" plugin is loaded, e.g. when a vitclassify is created).
 *
 *   GstVitClassificationMeta *m = gst_buffer_get_vit_classification_meta (buffer);
 *   if (m && m->length > 0)
 *     g_print ("%s %.2f (exit %u)\n", g_quark_to_string (m->class_quarks[0]),
 *              m->confidence_levels[0], m->exit_index);
 */
#ifndef GST_VIT_META_H
#define GST_VIT_META_H

#include <gst/gst.h>

G_BEGIN_DECLS

/* Names under which the plugin registers the API type and the implementation. */
#define GST_VIT_CLASSIFICATION_META_API_NAME "GstVitClassificationMetaAPI"
#define GST_VIT_CLASSIFICATION_META_IMPL_NAME "GstVitClassificationMeta"

typedef struct _GstVitClassificationMeta {
    GstMeta meta;

    guint64 frame;      /* index of the frame in the stream (see vitclassify's "frame" field) */
    guint exit_index;   /* 0-based exit of the cascade that answered; 0 for single networks */
    guint64 latency_us; /* wall time of the inference call, microseconds */

    gsize length;              /* number of classes reported (top-k above the threshold) */
    GQuark *class_quarks;      /* [length] label of each class, highest confidence first */
    gfloat *confidence_levels; /* [length] softmax probability of each class, descending */
    gint *class_ids;           /* [length] index of each class in the model's output */

    /* Where the three arrays live when length <= GST_VIT_CLASSIFICATION_META_INLINE, so that
     * classifying a frame allocates nothing (longer lists take one heap block). Readers use
     * the pointers above. */
    guint32 inline_store[3 * 8];
} GstVitClassificationMeta;
#define GST_VIT_CLASSIFICATION_META_INLINE 8

/* Defined by the plugin (and by anything linking gstvitmeta.c); registering twice in one
 * process is harmless: both return the type registered first. */
GType gst_vit_classification_meta_api_get_type(void);
const GstMetaInfo *gst_vit_classification_meta_get_info(void);
#define GST_VIT_CLASSIFICATION_META_API_TYPE (gst_vit_classification_meta_api_get_type())
#define GST_VIT_CLASSIFICATION_META_INFO (gst_vit_classification_meta_get_info())

/* Attaches a meta holding LENGTH classes (copied; sorted here by decreasing level) to the
 * writable BUFFER. class_ids may be NULL (stored as -1). */
GstVitClassificationMeta *gst_buffer_add_vit_classification_meta(GstBuffer *buffer, gsize length,
                                                                 const gfloat *confidence_levels,
                                                                 const GQuark *class_quarks,
                                                                 const gint *class_ids);

/* Header-only readers: usable without linking the plugin. */
static inline GstVitClassificationMeta *gst_buffer_get_vit_classification_meta(GstBuffer *buffer)
{
    GType api = g_type_from_name(GST_VIT_CLASSIFICATION_META_API_NAME);

    if (api == 0)
        return NULL;
    return (GstVitClassificationMeta *)gst_buffer_get_meta(buffer, api);
}

static inline gsize gst_vit_classification_meta_get_length(const GstVitClassificationMeta *meta)
{
    return meta->length;
}

/* Confidence level of the INDEX-th class (0 = the most confident). */
static inline gfloat gst_vit_classification_meta_get_level(const GstVitClassificationMeta *meta,
                                                           gsize index)
{
    g_return_val_if_fail(index < meta->length, 0.0f);
    return meta->confidence_levels[index];
}

static inline GQuark gst_vit_classification_meta_get_quark(const GstVitClassificationMeta *meta,
                                                           gsize index)
{
    g_return_val_if_fail(index < meta->length, 0);
    return meta->class_quarks[index];
}

/* Position of the class labelled QUARK, or -1 when it was not reported. */
static inline gint
gst_vit_classification_meta_get_index_by_quark(const GstVitClassificationMeta *meta, GQuark quark)
{
    gsize i;

    for (i = 0; i < meta->length; i++)
        if (meta->class_quarks[i] == quark)
            return (gint)i;
    return -1;
}

G_END_DECLS

#endif /* GST_VIT_META_H */
