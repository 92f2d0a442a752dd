/* preprocess.c — resize + centre crop + normalise, straight from packed or planar frames.
 *
 * Resampling follows PIL and torchvision's antialiased resize (what timm's eval transform does
 * to a PIL image): output pixel d of an axis scaled by s = in/out covers source positions
 * around c = s (d + 0.5) with the filter stretched by max(s, 1) — triangle for bilinear,
 * cubic with a = -0.5 for bicubic — over taps [int(c - support + 0.5), int(c + support + 0.5)),
 * clipped to the image, weights normalised to sum 1. So a camera frame shrunk to 28 or 224
 * pixels averages every source pixel instead of sampling a few (no aliasing). Nearest is
 * torch's: floor(d s).
 *
 * Only the cropped part of the resized image is computed, in two separable passes per output
 * row: vertically, its source rows are blended over the source columns the crop needs, straight
 * from the frame's bytes (packed pixels stay interleaved; Y, U and V planes are blended apart),
 * four rows per sweep of a contiguous loop the compiler vectorises; then horizontally, per
 * output pixel, with colour conversion, mean and std last (YUV -> RGB is affine, so converting
 * after the blend is exact), written straight into the CHW output. A packed pixel's channels
 * are blended together as one 4-float vector, and every output column has the same number of
 * taps (zero weights pad the short ones; the row buffer has a zeroed tail for them to read), so
 * the per-pixel loop has no data-dependent trip count. Sums run in the same order as a plain
 * tap-by-tap loop, so the results are those of the textbook two-pass resize.
 * Tables and buffers depend only on the frame size: they are rebuilt, and grown if needed, only
 * when it changes. Output pixels outside the resized image (crop_pct > 1) are black. */
#include "ops/preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_FRAME_SIDE 32768

/* Taps of one axis: output o reads count[o] source positions from start[o] with weights
 * w[o * cap ...]; w[o * cap + k] is 0 for count[o] <= k < cap. */
typedef struct axis_table {
    int *start, *count;
    float *w;
    int cap;
} axis_table;

struct vit_preprocess {
    vit_preprocess_params p;
    int frame_w, frame_h; /* the frame size the tables hold; 0 before the first frame */
    axis_table x, y;
    int col0, cols; /* source columns [col0, col0 + cols) the crop needs */
    float *vbuf;    /* one vertically blended row: cols x bpp (packed) or Y + U + V planes,
                     * then a zeroed tail that the zero-weight padding taps read */
    size_t vbuf_cap;
    const uint8_t **rows;      /* scratch: the source rows of one output row, Y, U and V */
    int rows_cap;              /* entries per plane */
    float scale[3], offset[3]; /* v * scale + offset == (v / 255 - mean) / std */
};

/* Four floats, one packed pixel's channels (and a neighbour's), blended together. */
typedef float f4 __attribute__((vector_size(16)));

static inline f4 load_f4(const float *p)
{
    f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

void vit_preprocess_geometry(const vit_preprocess_params *p, int frame_w, int frame_h,
                             int *ret_resized_w, int *ret_resized_h, int *ret_left, int *ret_top)
{
    int sh = (int)floor(p->height / (double)p->crop_pct);
    int sw = (int)floor(p->width / (double)p->crop_pct);
    int rh = sh, rw = sw;
    if (p->crop_mode == VIT_CROP_CENTER && sh == sw) {
        if (frame_w <= frame_h) {
            rw = sw;
            rh = (int)((double)sw * frame_h / frame_w);
        } else {
            rh = sh;
            rw = (int)((double)sh * frame_w / frame_h);
        }
    }
    *ret_resized_w = rw < 1 ? 1 : rw;
    *ret_resized_h = rh < 1 ? 1 : rh;
    *ret_left = (int)nearbyint((*ret_resized_w - p->width) / 2.0);
    *ret_top = (int)nearbyint((*ret_resized_h - p->height) / 2.0);
}

static double filter_weight(vit_interpolation interp, double x)
{
    x = fabs(x);
    if (interp == VIT_INTERP_BILINEAR)
        return x < 1.0 ? 1.0 - x : 0.0;
    const double a = -0.5; /* PIL's and torchvision's antialiased bicubic */
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* Source span and weights of resized position d on an axis of in source / rsize resized
 * pixels; returns the tap count (0 outside the resized image), weights into w if non-NULL. */
int vit_resample_taps(vit_interpolation interp, int d, int rsize, int in, int *ret_start, float *w)
{
    *ret_start = 0;
    if (d < 0 || d >= rsize)
        return 0;
    double scale = (double)in / rsize;
    if (interp == VIT_INTERP_NEAREST) {
        int i = (int)floor(d * scale);
        *ret_start = i < in ? i : in - 1;
        if (w)
            w[0] = 1.0f;
        return 1;
    }
    double half = interp == VIT_INTERP_BILINEAR ? 1.0 : 2.0;
    double support = scale >= 1.0 ? half * scale : half;
    double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
    double center = scale * (d + 0.5);
    int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
    lo = lo < 0 ? 0 : lo;
    hi = hi > in ? in : hi;
    if (hi <= lo) { /* cannot happen for in >= 1, but never index outside */
        lo = lo < in ? lo : in - 1;
        hi = lo + 1;
    }
    *ret_start = lo;
    if (w) {
        double total = 0.0;
        for (int j = lo; j < hi; j++)
            total += filter_weight(interp, (j - center + 0.5) * invscale);
        for (int j = lo; j < hi; j++)
            w[j - lo] =
                (float)(total != 0.0 ? filter_weight(interp, (j - center + 0.5) * invscale) / total
                                     : 1.0 / (hi - lo));
    }
    return hi - lo;
}

/* Fills t for out outputs at resized positions first.., growing its storage if needed. */
static int fill_axis(vit_interpolation interp, int out, int first, int rsize, int in, axis_table *t)
{
    int cap = 1, start;
    for (int o = 0; o < out; o++) {
        int n = vit_resample_taps(interp, o + first, rsize, in, &start, NULL);
        cap = n > cap ? n : cap;
    }
    if (cap > t->cap) {
        float *w = realloc(t->w, (size_t)out * cap * sizeof(float));
        if (!w)
            return -ENOMEM;
        t->w = w;
        t->cap = cap;
    }
    memset(t->w, 0, (size_t)out * t->cap * sizeof(float)); /* the padding taps' weights */
    for (int o = 0; o < out; o++)
        t->count[o] = vit_resample_taps(interp, o + first, rsize, in, &t->start[o],
                                        t->w + (size_t)o * t->cap);
    return 0;
}

/* Where the YUV path's (Y, U, V, 0) pixels start in vbuf, after the Y, U and V planes. */
static size_t yuv_packed_offset(int cols)
{
    return 2 * (size_t)cols + 8;
}

static int refill_tables(vit_preprocess *pre, int fw, int fh, vit_error *err)
{
    int rw, rh, left, top;
    vit_preprocess_geometry(&pre->p, fw, fh, &rw, &rh, &left, &top);
    int r = fill_axis(pre->p.interpolation, pre->p.width, left, rw, fw, &pre->x);
    if (r == 0)
        r = fill_axis(pre->p.interpolation, pre->p.height, top, rh, fh, &pre->y);
    int lo = fw, hi = 0;
    for (int o = 0; r == 0 && o < pre->p.width; o++)
        if (pre->x.count[o]) {
            lo = pre->x.start[o] < lo ? pre->x.start[o] : lo;
            hi = pre->x.start[o] + pre->x.count[o] > hi ? pre->x.start[o] + pre->x.count[o] : hi;
        }
    pre->col0 = hi > lo ? lo : 0;
    pre->cols = hi > lo ? hi - lo : 0;
    for (int o = 0; r == 0 && o < pre->p.width; o++)
        if (!pre->x.count[o]) /* all-zero weights: any start inside the buffer will do */
            pre->x.start[o] = pre->col0;
    /* Packed: <= 4 floats a pixel, a 4-float load may start one float in, and padding taps
     * read up to x.cap pixels past the last column; YUV: that, after the Y, U, V planes. */
    size_t need = yuv_packed_offset(pre->cols) + ((size_t)pre->cols + pre->x.cap) * 4 + 8;
    if (r == 0 && need > pre->vbuf_cap) {
        float *vbuf = realloc(pre->vbuf, need * sizeof(float));
        if (!vbuf)
            r = -ENOMEM;
        else
            pre->vbuf = vbuf, pre->vbuf_cap = need;
    }
    if (r == 0) /* the tail must hold finite numbers: 0 x NaN is NaN */
        memset(pre->vbuf, 0, pre->vbuf_cap * sizeof(float));
    if (r == 0 && pre->y.cap > pre->rows_cap) {
        const uint8_t **rows = realloc(pre->rows, 3 * (size_t)pre->y.cap * sizeof(*rows));
        if (!rows)
            r = -ENOMEM;
        else
            pre->rows = rows, pre->rows_cap = pre->y.cap;
    }
    if (r < 0) {
        pre->frame_w = pre->frame_h = 0;
        return vit_errorf(err, r, "preprocessing: out of memory for a %dx%d frame", fw, fh);
    }
    pre->frame_w = fw;
    pre->frame_h = fh;
    return 0;
}

int vit_preprocess_new(const vit_preprocess_params *params, vit_preprocess **ret_pre,
                       vit_error *err)
{
    if ((params->channels != 1 && params->channels != 3) || params->width < 1 ||
        params->height < 1 || params->width > MAX_FRAME_SIDE || params->height > MAX_FRAME_SIDE ||
        !(params->crop_pct > 0.0f))
        return vit_errorf(err, -EINVAL, "preprocessing: unsupported input %dx%dx%d",
                          params->channels, params->height, params->width);
    vit_preprocess *pre = calloc(1, sizeof(*pre));
    if (!pre)
        return vit_errorf(err, -ENOMEM, "out of memory");
    pre->p = *params;
    size_t w = (size_t)params->width, h = (size_t)params->height;
    pre->x.start = malloc(w * sizeof(int));
    pre->x.count = malloc(w * sizeof(int));
    pre->y.start = malloc(h * sizeof(int));
    pre->y.count = malloc(h * sizeof(int));
    if (!pre->x.start || !pre->x.count || !pre->y.start || !pre->y.count) {
        vit_preprocess_free(pre);
        return vit_errorf(err, -ENOMEM, "out of memory");
    }
    for (int c = 0; c < 3; c++) {
        pre->scale[c] = 1.0f / (255.0f * params->std[c]);
        pre->offset[c] = -params->mean[c] / params->std[c];
    }
    *ret_pre = pre;
    return 0;
}

vit_preprocess *vit_preprocess_free(vit_preprocess *pre)
{
    if (!pre)
        return NULL;
    free(pre->x.start), free(pre->x.count), free(pre->x.w);
    free(pre->y.start), free(pre->y.count), free(pre->y.w);
    free(pre->vbuf);
    free(pre->rows);
    free(pre);
    return NULL;
}

static int check_frame(const vit_frame *f, vit_error *err)
{
    if (f->width < 1 || f->height < 1 || f->width > MAX_FRAME_SIDE || f->height > MAX_FRAME_SIDE)
        return vit_errorf(err, -EINVAL, "frame size %dx%d is out of range", f->width, f->height);
    int bpp = 0, planes = 1;
    long cw = (f->width + 1) / 2;
    switch (f->format) {
    case VIT_FORMAT_RGB:
    case VIT_FORMAT_BGR:
        bpp = 3;
        break;
    case VIT_FORMAT_RGBX:
    case VIT_FORMAT_BGRX:
    case VIT_FORMAT_XRGB:
    case VIT_FORMAT_XBGR:
    case VIT_FORMAT_RGBA:
    case VIT_FORMAT_BGRA:
        bpp = 4;
        break;
    case VIT_FORMAT_GRAY8:
        bpp = 1;
        break;
    case VIT_FORMAT_I420:
        bpp = 1, planes = 3;
        break;
    case VIT_FORMAT_NV12:
        bpp = 1, planes = 2;
        break;
    default:
        return vit_errorf(err, -EINVAL, "unknown pixel format %d", (int)f->format);
    }
    if (!f->planes[0] || f->strides[0] < (long)f->width * bpp)
        return vit_errorf(err, -EINVAL, "frame plane 0: stride %d is less than a row (%ld bytes)",
                          f->strides[0], (long)f->width * bpp);
    for (int i = 1; i < planes; i++) {
        long need = f->format == VIT_FORMAT_NV12 ? 2 * cw : cw;
        if (!f->planes[i] || f->strides[i] < need)
            return vit_errorf(err, -EINVAL, "frame plane %d: missing or stride %d < %ld", i,
                              f->strides[i], need);
    }
    return 0;
}

/* Byte offsets of R, G, B within a pixel and the pixel size, for packed formats; 0 for YUV. */
static int packed_layout(vit_pixel_format fmt, int *r, int *g, int *b)
{
    static const signed char table[][4] = {
        [VIT_FORMAT_RGB] = {0, 1, 2, 3},   [VIT_FORMAT_BGR] = {2, 1, 0, 3},
        [VIT_FORMAT_RGBX] = {0, 1, 2, 4},  [VIT_FORMAT_BGRX] = {2, 1, 0, 4},
        [VIT_FORMAT_XRGB] = {1, 2, 3, 4},  [VIT_FORMAT_XBGR] = {3, 2, 1, 4},
        [VIT_FORMAT_RGBA] = {0, 1, 2, 4},  [VIT_FORMAT_BGRA] = {2, 1, 0, 4},
        [VIT_FORMAT_GRAY8] = {0, 0, 0, 1},
    };
    if ((unsigned)fmt > VIT_FORMAT_GRAY8)
        return 0;
    *r = table[fmt][0], *g = table[fmt][1], *b = table[fmt][2];
    return table[fmt][3];
}

/* BT.601 limited range (GStreamer's default for SD video) to R, G, B in [0, 255]. */
static inline void yuv_to_rgb(float y, float u, float v, float *rgb)
{
    y = 1.164383f * (y - 16.0f), u -= 128.0f, v -= 128.0f;
    rgb[0] = y + 1.596027f * v;
    rgb[1] = y - 0.391762f * u - 0.812968f * v;
    rgb[2] = y + 2.017232f * u;
}

/* acc[j] = sum over k of w[k] * rows[k][j], for j < n bytes, summed in tap order. Four rows per
 * sweep: each float of acc is loaded and stored once per four taps, not once per tap. */
static void blend_rows(float *restrict acc, const uint8_t *const *rows, const float *w, int taps,
                       int n)
{
    for (int k = 0; k < taps; k += 4) {
        const uint8_t *a = rows[k];
        float wa = w[k];
        int first = k == 0;
        switch (taps - k) {
        case 1:
            for (int j = 0; j < n; j++)
                acc[j] = (first ? 0.0f : acc[j]) + wa * (float)a[j];
            break;
        case 2: {
            const uint8_t *b = rows[k + 1];
            float wb = w[k + 1];
            for (int j = 0; j < n; j++)
                acc[j] = (first ? 0.0f : acc[j]) + wa * (float)a[j] + wb * (float)b[j];
            break;
        }
        case 3: {
            const uint8_t *b = rows[k + 1], *c = rows[k + 2];
            float wb = w[k + 1], wc = w[k + 2];
            for (int j = 0; j < n; j++)
                acc[j] = (first ? 0.0f : acc[j]) + wa * (float)a[j] + wb * (float)b[j] +
                         wc * (float)c[j];
            break;
        }
        default: {
            const uint8_t *b = rows[k + 1], *c = rows[k + 2], *d = rows[k + 3];
            float wb = w[k + 1], wc = w[k + 2], wd = w[k + 3];
            for (int j = 0; j < n; j++)
                acc[j] = (first ? 0.0f : acc[j]) + wa * (float)a[j] + wb * (float)b[j] +
                         wc * (float)c[j] + wd * (float)d[j];
            break;
        }
        }
    }
}

/* Where R, G, B are among the 4 floats of a pixel: lanes 0, 1, 2; 2, 1, 0; all lane 0; or Y, U,
 * V at lanes 0, 1, 2, converted after the blend. */
enum { ORDER_RGB, ORDER_BGR, ORDER_GRAY, ORDER_YUV };

/* Horizontal pass of one output row of a packed format: the vertically blended row v holds
 * bpp floats a pixel, the channels at `order` among the 4 floats from v + shift. Writes width
 * floats to each of out[0..channels). Inlined per tap count and channel order, so that the tap loop
 * unrolls and the lanes are constants. */
__attribute__((always_inline)) static inline void
resample_packed_impl(const vit_preprocess *pre, const float *v, int bpp, int shift,
                     float *const out[3], const int T, const int order)
{
    const int W = pre->p.width;
    const float *xw = pre->x.w;
    const float s0 = pre->scale[0], s1 = pre->scale[1], s2 = pre->scale[2];
    const float o0 = pre->offset[0], o1 = pre->offset[1], o2 = pre->offset[2];
    for (int x = 0; x < W; x++) {
        const float *w = xw + (size_t)x * T;
        const float *px = v + (size_t)(pre->x.start[x] - pre->col0) * bpp + shift;
        f4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int k = 0; k < T; k++)
            acc += w[k] * load_f4(px + (size_t)k * bpp);
        float R = order == ORDER_BGR ? acc[2] : acc[0];
        float G = order == ORDER_GRAY ? acc[0] : acc[1];
        float B = order == ORDER_BGR || order == ORDER_GRAY ? acc[0] : acc[2];
        if (order == ORDER_YUV) {
            float rgb[3] = {0.0f, 0.0f, 0.0f};
            if (pre->x.count[x]) /* else padding: black, not the colour of Y = U = V = 0 */
                yuv_to_rgb(acc[0], acc[1], acc[2], rgb);
            R = rgb[0], G = rgb[1], B = rgb[2];
        }
        if (pre->p.channels == 3) {
            out[0][x] = R * s0 + o0;
            out[1][x] = G * s1 + o1;
            out[2][x] = B * s2 + o2;
        } else {
            out[0][x] = (0.299f * R + 0.587f * G + 0.114f * B) * s0 + o0;
        }
    }
}

static void resample_packed_row(const vit_preprocess *pre, const float *v, int bpp, int shift,
                                int order, float *const out[3])
{
#define RESAMPLE_PACKED_ORDERS(T)                                                                  \
    do {                                                                                           \
        if (order == ORDER_RGB)                                                                    \
            resample_packed_impl(pre, v, bpp, shift, out, T, ORDER_RGB);                           \
        else if (order == ORDER_BGR)                                                               \
            resample_packed_impl(pre, v, bpp, shift, out, T, ORDER_BGR);                           \
        else if (order == ORDER_YUV)                                                               \
            resample_packed_impl(pre, v, bpp, shift, out, T, ORDER_YUV);                           \
        else                                                                                       \
            resample_packed_impl(pre, v, bpp, shift, out, T, ORDER_GRAY);                          \
    } while (0)
    switch (pre->x.cap) {
    case 1: /* nearest */
        RESAMPLE_PACKED_ORDERS(1);
        break;
    case 2: /* bilinear, enlarging */
        RESAMPLE_PACKED_ORDERS(2);
        break;
    case 4: /* bicubic, enlarging */
        RESAMPLE_PACKED_ORDERS(4);
        break;
    default:
        RESAMPLE_PACKED_ORDERS(pre->x.cap);
        break;
    }
#undef RESAMPLE_PACKED_ORDERS
}

/* Vertical pass of output row y for a packed format: v[cols * bpp], interleaved. */
static void blend_packed(vit_preprocess *pre, const vit_frame *f, int y, int bpp)
{
    int n = pre->cols * bpp, taps = pre->y.count[y];
    for (int k = 0; k < taps; k++)
        pre->rows[k] =
            f->planes[0] + (size_t)(pre->y.start[y] + k) * f->strides[0] + (size_t)pre->col0 * bpp;
    blend_rows(pre->vbuf, pre->rows, pre->y.w + (size_t)y * pre->y.cap, taps, n);
}

/* Vertical pass for I420 / NV12: Y over cols, then the chroma columns: U and V apart (I420) or
 * interleaved (NV12); then each column's (Y, U, V, 0) as one pixel for resample_packed_row.
 * Returns that row. */
static const float *blend_yuv(vit_preprocess *pre, const vit_frame *f, int y)
{
    int ccol0 = pre->col0 / 2, ccols = (pre->col0 + pre->cols - 1) / 2 - ccol0 + 1;
    int taps = pre->y.count[y], nv12 = f->format == VIT_FORMAT_NV12, cstep = nv12 ? 2 : 1;
    const float *wy = pre->y.w + (size_t)y * pre->y.cap;
    const uint8_t **ry = pre->rows, **ru = ry + pre->rows_cap, **rv = ru + pre->rows_cap;
    float *vy = pre->vbuf, *vu = vy + pre->cols, *vv = nv12 ? vu + 1 : vu + ccols;
    float *px = pre->vbuf + yuv_packed_offset(pre->cols);
    for (int k = 0; k < taps; k++) {
        int sy = pre->y.start[y] + k;
        ry[k] = f->planes[0] + (size_t)sy * f->strides[0] + pre->col0;
        ru[k] = f->planes[1] + (size_t)(sy / 2) * f->strides[1] + (size_t)ccol0 * cstep;
        if (!nv12)
            rv[k] = f->planes[2] + (size_t)(sy / 2) * f->strides[2] + ccol0;
    }
    blend_rows(vy, ry, wy, taps, pre->cols);
    blend_rows(vu, ru, wy, taps, ccols * cstep);
    if (!nv12)
        blend_rows(vv, rv, wy, taps, ccols);
    for (int j = 0; j < pre->cols; j++) {
        size_t c = (size_t)((pre->col0 + j) / 2 - ccol0) * cstep;
        px[4 * j] = vy[j], px[4 * j + 1] = vu[c], px[4 * j + 2] = vv[c], px[4 * j + 3] = 0.0f;
    }
    return px;
}

int vit_preprocess_run(vit_preprocess *pre, const vit_frame *frame, float *chw, vit_error *err)
{
    int r = check_frame(frame, err);
    if (r < 0)
        return r;
    if (frame->width != pre->frame_w || frame->height != pre->frame_h) {
        r = refill_tables(pre, frame->width, frame->height, err);
        if (r < 0)
            return r;
    }
    int W = pre->p.width, H = pre->p.height, C = pre->p.channels;
    size_t plane = (size_t)W * H;
    int ro = 0, go = 0, bo = 0, bpp = packed_layout(frame->format, &ro, &go, &bo);
    /* The 4 floats from the pixel's first colour channel hold R, G, B in RGB or BGR order. */
    int shift = ro < bo ? ro : bo;
    int order = bpp == 1 ? ORDER_GRAY : bo < ro ? ORDER_BGR : ORDER_RGB;
    if (!bpp) /* I420, NV12 */
        order = ORDER_YUV;
    for (int y = 0; y < H; y++) {
        float *const out[3] = {chw + (size_t)y * W, chw + plane + (size_t)y * W,
                               chw + 2 * plane + (size_t)y * W};
        if (!pre->y.count[y]) { /* padding row: black */
            for (int c = 0; c < C; c++)
                for (int x = 0; x < W; x++)
                    out[c][x] = pre->offset[c];
        } else if (bpp) {
            blend_packed(pre, frame, y, bpp);
            resample_packed_row(pre, pre->vbuf, bpp, shift, order, out);
        } else {
            resample_packed_row(pre, blend_yuv(pre, frame, y), 4, 0, order, out);
        }
    }
    return 0;
}
