/* gstvitfont.h — a 5x7 bitmap font for printable ASCII, drawn by vitoverlay. */
#ifndef GST_VIT_FONT_H
#define GST_VIT_FONT_H

#include <glib.h>

G_BEGIN_DECLS

#define GST_VIT_FONT_WIDTH 5
#define GST_VIT_FONT_HEIGHT 7

/* TRUE when pixel (x, y) of character C is ink; x < GST_VIT_FONT_WIDTH, y < HEIGHT.
 * Characters outside printable ASCII are drawn as '?'. */
gboolean gst_vit_font_pixel(gchar c, guint x, guint y);

G_END_DECLS

#endif /* GST_VIT_FONT_H */
