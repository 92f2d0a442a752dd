/* gstvitresult.c — top-k selection and the bus message of vitclassify (gstvitresult.h).
 *
 * The message carries its lists as GstValueArrays: gst-launch-1.0 -m prints them readably
 * (`labels=(string)< cat, dog >`), where a GStrv field would print as NULL on GStreamer 1.22. */
#include "gstvitresult.h"

#include "vitclassify-names.h"

static gint gst_vit_result_compare_probs(gconstpointer a, gconstpointer b, gpointer probs)
{
    gfloat pa = ((const gfloat *)probs)[*(const gint *)a];
    gfloat pb = ((const gfloat *)probs)[*(const gint *)b];

    if (pa != pb)
        return pa > pb ? -1 : 1;
    return *(const gint *)a - *(const gint *)b;
}

/* A short list is the runtime's one-pass selection; a long one (top-k=1000 on ImageNet) is
 * cheaper sorted whole. */
gint gst_vit_result_top_k(const vit_result *result, gint k, gint *ret_classes, gfloat *ret_probs)
{
    gint i;

    if (k <= 16)
        return vit_result_top_k(result, k, ret_classes, ret_probs);
    for (i = 0; i < result->num_classes; i++)
        ret_classes[i] = i;
    g_qsort_with_data(ret_classes, result->num_classes, sizeof(gint), gst_vit_result_compare_probs,
                      (gpointer)result->probs);
    for (i = 0; i < k; i++)
        ret_probs[i] = result->probs[ret_classes[i]];
    return k;
}

/* The message's name and field names, interned once rather than looked up per frame. */
typedef struct {
    GQuark name, frame, timestamp, stream_time, running_time, duration, labels, scores, class_ids,
        exit, latency_us;
} GstVitResultQuarks;

static const GstVitResultQuarks *gst_vit_result_quarks(void)
{
    static GstVitResultQuarks q;
    static gsize ready = 0;

    if (g_once_init_enter(&ready)) {
        q.name = g_quark_from_static_string(VIT_CLASSIFICATION_MESSAGE);
        q.frame = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_FRAME);
        q.timestamp = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_TIMESTAMP);
        q.stream_time = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_STREAM_TIME);
        q.running_time = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_RUNNING_TIME);
        q.duration = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_DURATION);
        q.labels = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_LABELS);
        q.scores = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_SCORES);
        q.class_ids = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_CLASS_IDS);
        q.exit = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_EXIT);
        q.latency_us = g_quark_from_static_string(VIT_CLASSIFICATION_FIELD_LATENCY_US);
        g_once_init_leave(&ready, 1);
    }
    return &q;
}

GstStructure *gst_vit_result_to_structure(const GstVitClassificationMeta *result, GstBuffer *buf,
                                          const GstSegment *segment)
{
    const GstVitResultQuarks *q = gst_vit_result_quarks();
    GstClockTime pts = GST_BUFFER_PTS(buf);
    GstClockTime stream_time = GST_CLOCK_TIME_NONE, running_time = GST_CLOCK_TIME_NONE;
    GValue labels = G_VALUE_INIT, scores = G_VALUE_INIT, ids = G_VALUE_INIT;
    GstStructure *s;
    gsize i;

    if (GST_CLOCK_TIME_IS_VALID(pts) && segment->format == GST_FORMAT_TIME) {
        stream_time = gst_segment_to_stream_time(segment, GST_FORMAT_TIME, pts);
        running_time = gst_segment_to_running_time(segment, GST_FORMAT_TIME, pts);
    }

    gst_value_array_init(&labels, (guint)result->length);
    gst_value_array_init(&scores, (guint)result->length);
    gst_value_array_init(&ids, (guint)result->length);
    for (i = 0; i < result->length; i++) {
        GValue v = G_VALUE_INIT;

        g_value_init(&v, G_TYPE_STRING);
        g_value_set_static_string(&v, g_quark_to_string(result->class_quarks[i]));
        gst_value_array_append_and_take_value(&labels, &v);
        g_value_init(&v, G_TYPE_DOUBLE);
        g_value_set_double(&v, result->confidence_levels[i]);
        gst_value_array_append_and_take_value(&scores, &v);
        g_value_init(&v, G_TYPE_INT);
        g_value_set_int(&v, result->class_ids[i]);
        gst_value_array_append_and_take_value(&ids, &v);
    }

    /* Fields in the documented order (gst-launch-1.0 -m prints them so). */
    s = gst_structure_new_id(q->name, q->frame, G_TYPE_UINT64, result->frame, q->timestamp,
                             G_TYPE_UINT64, pts, q->stream_time, G_TYPE_UINT64, stream_time,
                             q->running_time, G_TYPE_UINT64, running_time, q->duration,
                             G_TYPE_UINT64, GST_BUFFER_DURATION(buf), NULL);
    gst_structure_id_take_value(s, q->labels, &labels);
    gst_structure_id_take_value(s, q->scores, &scores);
    gst_structure_id_take_value(s, q->class_ids, &ids);
    gst_structure_id_set(s, q->exit, G_TYPE_UINT, result->exit_index, q->latency_us, G_TYPE_UINT64,
                         result->latency_us, NULL);
    return s;
}
