/* gstvitfieldprops.h — GObject properties stored in plain instance fields.
 *
 * An element lists, per property id, the offset of the field that holds it (0: not a plain
 * field); these functions copy between that field and a GValue by the property's type, so
 * the element's get/set_property need no switch. Callers hold whatever lock guards the fields. */
#ifndef GST_VIT_FIELD_PROPS_H
#define GST_VIT_FIELD_PROPS_H

#include <glib-object.h>

G_BEGIN_DECLS

/* Sets the field of INSTANCE at OFFSETS[PROP_ID] from VALUE (a string field gets a copy and
 * frees the old one). Returns FALSE (having warned about an invalid property) when PROP_ID has
 * no field. */
gboolean gst_vit_field_props_set(GObject *instance, const gsize *offsets, guint n_offsets,
                                 guint prop_id, const GValue *value, GParamSpec *pspec);
/* Reads the field of INSTANCE at OFFSETS[PROP_ID] into VALUE; FALSE when PROP_ID has none
 * (nothing is warned, so the caller may still answer it). */
gboolean gst_vit_field_props_get(GObject *instance, const gsize *offsets, guint n_offsets,
                                 guint prop_id, GValue *value);

G_END_DECLS

#endif /* GST_VIT_FIELD_PROPS_H */
