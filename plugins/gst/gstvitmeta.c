/* gstvitmeta.c — registration, copying and freeing of GstVitClassificationMeta (gstvitmeta.h).
 *
 * The meta carries no tags: it describes the picture's content, not its geometry or colours,
 * so it survives scaling and conversion, and every transform copies it whole. The three arrays
 * live in the meta itself (up to GST_VIT_CLASSIFICATION_META_INLINE classes: no allocation per
 * frame) or in one heap block owned by the meta. */
#include "gstvitmeta.h"

#include <string.h>

GType gst_vit_classification_meta_api_get_type(void)
{
    static GType type = 0;

    if (g_once_init_enter(&type)) {
        static const gchar *tags[] = {NULL};
        /* Another copy of this file (a test binary next to the plugin) may have registered it. */
        GType t = g_type_from_name(GST_VIT_CLASSIFICATION_META_API_NAME);

        if (t == 0)
            t = gst_meta_api_type_register(GST_VIT_CLASSIFICATION_META_API_NAME, tags);
        g_once_init_leave(&type, t);
    }
    return type;
}

static void gst_vit_classification_meta_clear_classes(GstVitClassificationMeta *meta)
{
    if (meta->class_quarks != (GQuark *)meta->inline_store)
        g_free(meta->class_quarks);
    meta->class_quarks = NULL;
}

static void gst_vit_classification_meta_set_classes(GstVitClassificationMeta *meta, gsize length,
                                                    const gfloat *levels, const GQuark *quarks,
                                                    const gint *ids)
{
    gsize i, j;

    gst_vit_classification_meta_clear_classes(meta);
    meta->length = length;
    if (length == 0) {
        meta->class_quarks = NULL;
        meta->confidence_levels = NULL;
        meta->class_ids = NULL;
        return;
    }
    /* One block: quarks (guint32), levels (gfloat), ids (gint) — all 4-byte aligned. */
    meta->class_quarks = length <= GST_VIT_CLASSIFICATION_META_INLINE
                             ? (GQuark *)meta->inline_store
                             : g_malloc(length * (sizeof(GQuark) + sizeof(gfloat) + sizeof(gint)));
    meta->confidence_levels = (gfloat *)(meta->class_quarks + length);
    meta->class_ids = (gint *)(meta->confidence_levels + length);

    /* Insertion sort by decreasing level: lengths are top-k sized, and the input is usually
     * sorted already. Stable, so equal levels keep the caller's order. */
    for (i = 0; i < length; i++) {
        gfloat level = levels[i];

        for (j = i; j > 0 && meta->confidence_levels[j - 1] < level; j--) {
            meta->confidence_levels[j] = meta->confidence_levels[j - 1];
            meta->class_quarks[j] = meta->class_quarks[j - 1];
            meta->class_ids[j] = meta->class_ids[j - 1];
        }
        meta->confidence_levels[j] = level;
        meta->class_quarks[j] = quarks[i];
        meta->class_ids[j] = ids ? ids[i] : -1;
    }
}

static gboolean gst_vit_classification_meta_init(GstMeta *meta, gpointer params, GstBuffer *buffer)
{
    GstVitClassificationMeta *m = (GstVitClassificationMeta *)meta;

    m->frame = 0;
    m->exit_index = 0;
    m->latency_us = 0;
    m->length = 0;
    m->class_quarks = NULL;
    m->confidence_levels = NULL;
    m->class_ids = NULL;
    return TRUE;
}

static void gst_vit_classification_meta_free(GstMeta *meta, GstBuffer *buffer)
{
    GstVitClassificationMeta *m = (GstVitClassificationMeta *)meta;

    gst_vit_classification_meta_clear_classes(m);
    m->length = 0;
}

static gboolean gst_vit_classification_meta_transform(GstBuffer *dest, GstMeta *meta,
                                                      GstBuffer *buffer, GQuark type, gpointer data)
{
    GstVitClassificationMeta *src = (GstVitClassificationMeta *)meta;
    GstVitClassificationMeta *dst;

    /* Copies, scales and conversions keep the picture's content, so the result still holds.
     * A partial copy (a region of the buffer's memory) still shows the same frame. */
    dst = gst_buffer_add_vit_classification_meta(dest, src->length, src->confidence_levels,
                                                 src->class_quarks, src->class_ids);
    if (dst == NULL)
        return FALSE;
    dst->frame = src->frame;
    dst->exit_index = src->exit_index;
    dst->latency_us = src->latency_us;
    return TRUE;
}

const GstMetaInfo *gst_vit_classification_meta_get_info(void)
{
    static gsize info = 0;

    if (g_once_init_enter(&info)) {
        const GstMetaInfo *i = gst_meta_get_info(GST_VIT_CLASSIFICATION_META_IMPL_NAME);

        if (i == NULL)
            i = gst_meta_register(
                GST_VIT_CLASSIFICATION_META_API_TYPE, GST_VIT_CLASSIFICATION_META_IMPL_NAME,
                sizeof(GstVitClassificationMeta), gst_vit_classification_meta_init,
                gst_vit_classification_meta_free, gst_vit_classification_meta_transform);
        g_once_init_leave(&info, (gsize)i);
    }
    return (const GstMetaInfo *)info;
}

GstVitClassificationMeta *gst_buffer_add_vit_classification_meta(GstBuffer *buffer, gsize length,
                                                                 const gfloat *confidence_levels,
                                                                 const GQuark *class_quarks,
                                                                 const gint *class_ids)
{
    GstVitClassificationMeta *meta;

    g_return_val_if_fail(GST_IS_BUFFER(buffer), NULL);
    g_return_val_if_fail(gst_buffer_is_writable(buffer), NULL);
    g_return_val_if_fail(length == 0 || (confidence_levels && class_quarks), NULL);

    meta = (GstVitClassificationMeta *)gst_buffer_add_meta(buffer, GST_VIT_CLASSIFICATION_META_INFO,
                                                           NULL);
    if (meta == NULL)
        return NULL;
    gst_vit_classification_meta_set_classes(meta, length, confidence_levels, class_quarks,
                                            class_ids);
    return meta;
}
