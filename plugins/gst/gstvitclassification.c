/* gstvitclassification.c — parses a `vit-classification` structure (gstvitclassification.h).
 *
 * The element writes the lists as GstValueArrays and the numbers with the types its doc
 * comment gives; the parser is lenient beyond that (GstValueLists, a GStrv of labels, numbers
 * of any type GValue can convert), so a message built by hand or by an older element reads
 * the same. */
#include "gstvitclassification.h"

typedef void (*GstVitValueFunc)(const GValue *v, gpointer data);

/* Calls FUNC on each item of V: the items of a GstValueArray or GstValueList (nested ones
 * flattened), or V itself. */
static void gst_vit_value_foreach(const GValue *v, GstVitValueFunc func, gpointer data)
{
    if (GST_VALUE_HOLDS_ARRAY(v)) {
        for (guint i = 0; i < gst_value_array_get_size(v); i++)
            gst_vit_value_foreach(gst_value_array_get_value(v, i), func, data);
    } else if (GST_VALUE_HOLDS_LIST(v)) {
        for (guint i = 0; i < gst_value_list_get_size(v); i++)
            gst_vit_value_foreach(gst_value_list_get_value(v, i), func, data);
    } else {
        func(v, data);
    }
}

static void gst_vit_collect_string(const GValue *v, gpointer strings)
{
    if (G_VALUE_HOLDS(v, G_TYPE_STRV)) {
        const gchar *const *strv = g_value_get_boxed(v);

        for (; strv != NULL && *strv != NULL; strv++)
            g_ptr_array_add(strings, g_strdup(*strv));
    } else if (G_VALUE_HOLDS_STRING(v) && g_value_get_string(v) != NULL) {
        g_ptr_array_add(strings, g_value_dup_string(v));
    }
}

/* Converts V to TYPE into *OUT (initialised here); FALSE when GLib has no such conversion. */
static gboolean gst_vit_value_convert(const GValue *v, GType type, GValue *out)
{
    g_value_init(out, type);
    if (G_VALUE_HOLDS(v, type) || g_value_type_transformable(G_VALUE_TYPE(v), type))
        return g_value_transform(v, out);
    return FALSE;
}

static void gst_vit_collect_double(const GValue *v, gpointer numbers)
{
    GValue d = G_VALUE_INIT;

    if (gst_vit_value_convert(v, G_TYPE_DOUBLE, &d)) {
        gdouble x = g_value_get_double(&d);

        g_array_append_val(numbers, x);
    }
    g_value_unset(&d);
}

static void gst_vit_collect_int(const GValue *v, gpointer numbers)
{
    GValue i = G_VALUE_INIT;

    if (gst_vit_value_convert(v, G_TYPE_INT, &i)) {
        gint x = g_value_get_int(&i);

        g_array_append_val(numbers, x);
    }
    g_value_unset(&i);
}

static guint64 gst_vit_structure_get_u64(const GstStructure *s, const gchar *field,
                                         guint64 fallback)
{
    const GValue *v = gst_structure_get_value(s, field);
    GValue u = G_VALUE_INIT;
    guint64 r = fallback;

    if (v == NULL)
        return fallback;
    if (gst_vit_value_convert(v, G_TYPE_UINT64, &u))
        r = g_value_get_uint64(&u);
    g_value_unset(&u);
    return r;
}

/* Appends what FUNC collects from FIELD of S (nothing when S has no such field). */
static void gst_vit_structure_collect(const GstStructure *s, const gchar *field,
                                      GstVitValueFunc func, gpointer out)
{
    const GValue *v = gst_structure_get_value(s, field);

    if (v != NULL)
        gst_vit_value_foreach(v, func, out);
}

gboolean gst_vit_classification_parse(const GstStructure *s, GstVitClassification *ret)
{
    GPtrArray *labels;
    GArray *scores, *ids;
    guint n;

    g_return_val_if_fail(ret != NULL, FALSE);
    if (s == NULL || !gst_structure_has_name(s, VIT_CLASSIFICATION_MESSAGE))
        return FALSE;

    labels = g_ptr_array_new_with_free_func(g_free);
    scores = g_array_new(FALSE, FALSE, sizeof(gdouble));
    ids = g_array_new(FALSE, FALSE, sizeof(gint));
    gst_vit_structure_collect(s, VIT_CLASSIFICATION_FIELD_LABELS, gst_vit_collect_string, labels);
    gst_vit_structure_collect(s, VIT_CLASSIFICATION_FIELD_SCORES, gst_vit_collect_double, scores);
    gst_vit_structure_collect(s, VIT_CLASSIFICATION_FIELD_CLASS_IDS, gst_vit_collect_int, ids);

    /* Labels and scores pair up; class ids are optional and padded with -1. */
    n = MIN(labels->len, scores->len);
    g_ptr_array_set_size(labels, n);
    g_ptr_array_add(labels, NULL);
    g_array_set_size(scores, n);
    while (ids->len < n) {
        gint none = -1;

        g_array_append_val(ids, none);
    }
    g_array_set_size(ids, n);

    *ret = (GstVitClassification){
        .frame = gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_FRAME, 0),
        .timestamp =
            gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_TIMESTAMP, GST_CLOCK_TIME_NONE),
        .stream_time =
            gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_STREAM_TIME, GST_CLOCK_TIME_NONE),
        .running_time = gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_RUNNING_TIME,
                                                  GST_CLOCK_TIME_NONE),
        .duration =
            gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_DURATION, GST_CLOCK_TIME_NONE),
        .n_classes = n,
        .labels = (gchar **)g_ptr_array_free(labels, FALSE),
        .scores = (gdouble *)(void *)g_array_free(scores, FALSE),
        .class_ids = (gint *)(void *)g_array_free(ids, FALSE),
        .exit = (guint)gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_EXIT, 0),
        .latency_us = gst_vit_structure_get_u64(s, VIT_CLASSIFICATION_FIELD_LATENCY_US, 0),
    };
    return TRUE;
}

void gst_vit_classification_clear(GstVitClassification *c)
{
    if (c == NULL)
        return;
    g_strfreev(c->labels);
    g_free(c->scores);
    g_free(c->class_ids);
    *c = (GstVitClassification)GST_VIT_CLASSIFICATION_INIT;
}
