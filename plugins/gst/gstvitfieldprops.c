/* gstvitfieldprops.c — GObject properties stored in plain instance fields (gstvitfieldprops.h).
 * The field's C type follows from the property's fundamental type: gchar * for strings,
 * guint, gint for enums, guint64, gdouble and gboolean. */
#include "gstvitfieldprops.h"

/* The field for PROP_ID, or NULL. */
static gpointer gst_vit_field_props_find(GObject *instance, const gsize *offsets, guint n_offsets,
                                         guint prop_id)
{
    if (prop_id >= n_offsets || offsets[prop_id] == 0)
        return NULL;
    return G_STRUCT_MEMBER_P(instance, offsets[prop_id]);
}

/* One scalar field of C type CTYPE: into it with GET when SET, out of it with PUT otherwise. */
#define GST_VIT_FIELD_COPY(CTYPE, GET, PUT)                                                        \
    do {                                                                                           \
        if (set)                                                                                   \
            *(CTYPE *)field = GET(value);                                                          \
        else                                                                                       \
            PUT(value, *(CTYPE *)field);                                                           \
    } while (0)

/* Copies between FIELD and VALUE: into the field when SET, out of it otherwise. */
static gboolean gst_vit_field_props_copy(gpointer field, GValue *value, gboolean set)
{
    switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(value))) {
    case G_TYPE_STRING:
        if (set)
            g_free(*(gchar **)field);
        GST_VIT_FIELD_COPY(gchar *, g_value_dup_string, g_value_set_string);
        return TRUE;
    case G_TYPE_UINT:
        GST_VIT_FIELD_COPY(guint, g_value_get_uint, g_value_set_uint);
        return TRUE;
    case G_TYPE_ENUM:
        GST_VIT_FIELD_COPY(gint, g_value_get_enum, g_value_set_enum);
        return TRUE;
    case G_TYPE_UINT64:
        GST_VIT_FIELD_COPY(guint64, g_value_get_uint64, g_value_set_uint64);
        return TRUE;
    case G_TYPE_DOUBLE:
        GST_VIT_FIELD_COPY(gdouble, g_value_get_double, g_value_set_double);
        return TRUE;
    case G_TYPE_BOOLEAN:
        GST_VIT_FIELD_COPY(gboolean, g_value_get_boolean, g_value_set_boolean);
        return TRUE;
    default:
        g_return_val_if_reached(FALSE);
    }
}

gboolean gst_vit_field_props_set(GObject *instance, const gsize *offsets, guint n_offsets,
                                 guint prop_id, const GValue *value, GParamSpec *pspec)
{
    gpointer field = gst_vit_field_props_find(instance, offsets, n_offsets, prop_id);

    if (field == NULL) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(instance, prop_id, pspec);
        return FALSE;
    }
    /* Only read from in this direction. */
    return gst_vit_field_props_copy(field, (GValue *)value, TRUE);
}

gboolean gst_vit_field_props_get(GObject *instance, const gsize *offsets, guint n_offsets,
                                 guint prop_id, GValue *value)
{
    gpointer field = gst_vit_field_props_find(instance, offsets, n_offsets, prop_id);

    return field != NULL && gst_vit_field_props_copy(field, value, FALSE);
}
