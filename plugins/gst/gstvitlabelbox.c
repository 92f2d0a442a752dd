/* gstvitlabelbox.c — lays out and paints vitoverlay's label box (see gstvitlabelbox.h).
 *
 * Two PangoLayouts share one line: the label, ellipsized to the width the detail leaves, and
 * the detail, placed at a whole pixel from the box's right edge so it looks the same whatever
 * the label. Text is filled light over a dark stroke of its own outline, on a black box at 60%
 * with a light border: the text reads on black, white and busy pictures, and the box shows on
 * a black one. The image is kept and reused while nothing changes (hold repeats one result on
 * many frames). Fonts come from fontconfig through one PangoCairo font map per box. */
#include "gstvitlabelbox.h"

#include <pango/pangocairo.h>

struct _GstVitLabelBox {
    PangoFontMap *font_map;
    PangoContext *context;
    cairo_surface_t *image; /* the last render, or NULL */
    gchar *key;             /* what it was rendered from */
};

GstVitLabelBox *gst_vit_label_box_new(void)
{
    GstVitLabelBox *box = g_new0(GstVitLabelBox, 1);
    cairo_font_options_t *options = cairo_font_options_create();

    box->font_map = pango_cairo_font_map_new();
    box->context = pango_font_map_create_context(box->font_map);
    /* Grey antialiasing and no hinting: the same shapes on every frame size and format. */
    cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    pango_cairo_context_set_font_options(box->context, options);
    cairo_font_options_destroy(options);
    return box;
}

void gst_vit_label_box_free(GstVitLabelBox *box)
{
    if (box == NULL)
        return;
    g_clear_pointer(&box->image, cairo_surface_destroy);
    g_clear_object(&box->context);
    g_clear_object(&box->font_map);
    g_free(box->key);
    g_free(box);
}

static PangoLayout *gst_vit_label_box_layout(GstVitLabelBox *box, const gchar *font_desc,
                                             const gchar *text, gint font_px)
{
    PangoLayout *layout = pango_layout_new(box->context);
    PangoFontDescription *desc = pango_font_description_from_string(font_desc);
    g_autofree gchar *valid = g_utf8_make_valid(text, -1); /* labels files may hold anything */

    pango_font_description_set_absolute_size(desc, (double)font_px * PANGO_SCALE);
    pango_layout_set_font_description(layout, desc);
    pango_layout_set_single_paragraph_mode(layout, TRUE);
    pango_layout_set_text(layout, valid, -1);
    pango_font_description_free(desc);
    return layout;
}

/* Outline then fill LAYOUT with its logical top-left at (X, Y). */
static void gst_vit_label_box_draw_text(cairo_t *cr, PangoLayout *layout, double x, double y,
                                        double outline)
{
    cairo_move_to(cr, x, y);
    pango_cairo_layout_path(cr, layout);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.9);
    cairo_set_line_width(cr, 2 * outline); /* half of it falls outside the glyphs */
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill(cr);
}

static cairo_surface_t *gst_vit_label_box_paint(PangoLayout *label, PangoLayout *detail,
                                                gint font_px, gint max_width)
{
    gint pad = MAX(2, font_px / 4), border = MAX(1, font_px / 16), gap = MAX(2, font_px / 3);
    double outline = MAX(1.0, font_px / 10.0);
    PangoRectangle lr, dr;
    gint inner, width, height;
    cairo_surface_t *image;
    cairo_t *cr;

    pango_layout_get_pixel_extents(detail, NULL, &dr);
    /* The label gets what the detail leaves, at least room for an ellipsis. */
    inner = max_width - 2 * (border + pad) - gap - dr.width;
    pango_layout_set_ellipsize(label, PANGO_ELLIPSIZE_END);
    pango_layout_set_width(label, MAX(inner, font_px) * PANGO_SCALE);
    pango_layout_get_pixel_extents(label, NULL, &lr);

    width = MIN(max_width, 2 * (border + pad) + lr.width + gap + dr.width);
    height = 2 * (border + pad) + MAX(lr.height, dr.height);
    image = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    if (cairo_surface_status(image) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(image);
        return NULL;
    }
    cr = cairo_create(image);
    cairo_set_source_rgba(cr, 0, 0, 0, 0.6);
    cairo_paint(cr);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.75);
    cairo_set_line_width(cr, border);
    cairo_rectangle(cr, border / 2.0, border / 2.0, width - border, height - border);
    cairo_stroke(cr);

    /* Clipped to the inside of the border; the detail is right-aligned to a whole pixel. */
    cairo_rectangle(cr, border, border, width - 2 * border, height - 2 * border);
    cairo_clip(cr);
    gst_vit_label_box_draw_text(cr, label, border + pad - lr.x, border + pad, outline);
    gst_vit_label_box_draw_text(cr, detail, width - border - pad - dr.width - dr.x, border + pad,
                                outline);
    cairo_destroy(cr);
    cairo_surface_flush(image);
    return image;
}

cairo_surface_t *gst_vit_label_box_render(GstVitLabelBox *box, const gchar *font_desc,
                                          const gchar *label, const gchar *detail, gint font_px,
                                          gint max_width)
{
    g_autofree gchar *key = NULL;
    g_autoptr(PangoLayout) label_layout = NULL;
    g_autoptr(PangoLayout) detail_layout = NULL;

    if (font_px < 1 || max_width < 1)
        return NULL;
    key = g_strdup_printf("%s\n%s\n%s\n%d\n%d", font_desc, label, detail, font_px, max_width);
    if (box->image != NULL && g_strcmp0(key, box->key) == 0)
        return box->image;

    label_layout = gst_vit_label_box_layout(box, font_desc, label, font_px);
    detail_layout = gst_vit_label_box_layout(box, font_desc, detail, font_px);
    g_clear_pointer(&box->image, cairo_surface_destroy);
    box->image = gst_vit_label_box_paint(label_layout, detail_layout, font_px, max_width);
    g_free(box->key);
    box->key = g_steal_pointer(&key);
    return box->image;
}
