/* gstvitlabelbox.h — vitoverlay's label box: a label and a detail ("0.93 exit 1") laid out with
 * Pango and painted with Cairo into a small premultiplied ARGB32 image that the element blends
 * onto each frame. The label is shortened with an ellipsis so the detail always shows. */
#ifndef GST_VIT_LABEL_BOX_H
#define GST_VIT_LABEL_BOX_H

#include <cairo.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _GstVitLabelBox GstVitLabelBox;

GstVitLabelBox *gst_vit_label_box_new(void);
void gst_vit_label_box_free(GstVitLabelBox *box);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GstVitLabelBox, gst_vit_label_box_free)

/* The box for LABEL then DETAIL (UTF-8) in FONT_DESC (a Pango font description; its size is
 * replaced by FONT_PX pixels), at most MAX_WIDTH pixels wide: a dark translucent box with a
 * light border, light text outlined in black. When both do not fit, the label is ellipsized;
 * the detail is cut only when it alone is wider than MAX_WIDTH. Returns an image owned by BOX,
 * valid until the next call, re-rendered only when an argument changed; NULL when MAX_WIDTH
 * or FONT_PX is below 1 or Cairo fails. */
cairo_surface_t *gst_vit_label_box_render(GstVitLabelBox *box, const gchar *font_desc,
                                          const gchar *label, const gchar *detail, gint font_px,
                                          gint max_width);

G_END_DECLS

#endif /* GST_VIT_LABEL_BOX_H */
