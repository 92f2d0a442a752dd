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
 * a contiguous loop the compiler vectorises; then horizontally, per output pixel, with colour
 * conversion last (YUV -> RGB is affine, so converting after the blend is exact). Tables and the
 * row buffer depend on the frame size: they are rebuilt, and grown if needed, only when it
 * changes. Output pixels outside the resized image (crop_pct > 1) are black. */
#include "preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_FRAME_SIDE 32768

/* Taps of one axis: output o reads count[o] source positions from start[o] with weights
 * w[o * cap ...]. */
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
    float *vbuf;    /* one vertically blended row: cols x 4 (packed) or Y + U + V planes */
    size_t vbuf_cap;
    float *rgbrow;             /* one output row, R, G and B planes of width floats */
    float scale[3], offset[3]; /* v * scale + offset == (v / 255 - mean) / std */
};

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
static int axis_taps(vit_interpolation interp, int d, int rsize, int in, int *ret_start, float *w)
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
        int n = axis_taps(interp, o + first, rsize, in, &start, NULL);
        cap = n > cap ? n : cap;
    }
    if (cap > t->cap) {
        float *w = realloc(t->w, (size_t)out * cap * sizeof(float));
        if (!w)
            return -ENOMEM;
        t->w = w;
        t->cap = cap;
    }
    for (int o = 0; o < out; o++)
        t->count[o] =
            axis_taps(interp, o + first, rsize, in, &t->start[o], t->w + (size_t)o * t->cap);
    return 0;
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
    size_t need = (size_t)pre->cols * 4 + 8; /* packed (<= 4 bytes a pixel) or Y + U + V */
    if (r == 0 && need > pre->vbuf_cap) {
        float *vbuf = realloc(pre->vbuf, need * sizeof(float));
        if (!vbuf)
            r = -ENOMEM;
        else
            pre->vbuf = vbuf, pre->vbuf_cap = need;
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
    pre->rgbrow = malloc(3 * w * sizeof(float));
    if (!pre->x.start || !pre->x.count || !pre->y.start || !pre->y.count || !pre->rgbrow) {
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
    free(pre->rgbrow);
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

/* acc[j] += w * src[j]: the vertical blend, over bytes. */
static void blend_bytes(float *acc, const uint8_t *src, int n, float w)
{
    for (int j = 0; j < n; j++)
        acc[j] += w * (float)src[j];
}

/* Vertical pass of output row y for a packed format: vbuf[cols * bpp], interleaved. */
static void blend_packed(vit_preprocess *pre, const vit_frame *f, int y, int bpp)
{
    int n = pre->cols * bpp;
    const float *wy = pre->y.w + (size_t)y * pre->y.cap;
    memset(pre->vbuf, 0, (size_t)n * sizeof(float));
    for (int k = 0; k < pre->y.count[y]; k++) {
        const uint8_t *src =
            f->planes[0] + (size_t)(pre->y.start[y] + k) * f->strides[0] + (size_t)pre->col0 * bpp;
        blend_bytes(pre->vbuf, src, n, wy[k]);
    }
}

/* Vertical pass for I420 / NV12: Y over cols, then U and V over the chroma columns. */
static void blend_yuv(vit_preprocess *pre, const vit_frame *f, int y, float **ret_u, float **ret_v,
                      int *ret_ccol0)
{
    int ccol0 = pre->col0 / 2, ccols = (pre->col0 + pre->cols - 1) / 2 - ccol0 + 1;
    float *vy = pre->vbuf, *vu = vy + pre->cols, *vv = vu + ccols;
    const float *wy = pre->y.w + (size_t)y * pre->y.cap;
    memset(vy, 0, (size_t)(pre->cols + 2 * ccols) * sizeof(float));
    for (int k = 0; k < pre->y.count[y]; k++) {
        int sy = pre->y.start[y] + k;
        float w = wy[k];
        blend_bytes(vy, f->planes[0] + (size_t)sy * f->strides[0] + pre->col0, pre->cols, w);
        const uint8_t *c1 = f->planes[1] + (size_t)(sy / 2) * f->strides[1];
        if (f->format == VIT_FORMAT_I420) {
            blend_bytes(vu, c1 + ccol0, ccols, w);
            blend_bytes(vv, f->planes[2] + (size_t)(sy / 2) * f->strides[2] + ccol0, ccols, w);
        } else { /* NV12: U and V interleaved */
            const uint8_t *uv = c1 + 2 * (size_t)ccol0;
            for (int j = 0; j < ccols; j++)
                vu[j] += w * (float)uv[2 * j], vv[j] += w * (float)uv[2 * j + 1];
        }
    }
    *ret_u = vu, *ret_v = vv, *ret_ccol0 = ccol0;
}

/* Horizontal pass of one output row into rgb[3][width]. */
static void resample_row(vit_preprocess *pre, const vit_frame *f, int y, float *rgb)
{
    int W = pre->p.width, cap = pre->x.cap;
    int ro = 0, go = 0, bo = 0, bpp = packed_layout(f->format, &ro, &go, &bo);
    float *vu = NULL, *vv = NULL;
    int ccol0 = 0;
    if (bpp)
        blend_packed(pre, f, y, bpp);
    else
        blend_yuv(pre, f, y, &vu, &vv, &ccol0);
    for (int x = 0; x < W; x++) {
        const float *w = pre->x.w + (size_t)x * cap;
        int n = pre->x.count[x], x0 = pre->x.start[x];
        float acc[3] = {0, 0, 0};
        if (bpp) {
            const float *px = pre->vbuf + (size_t)(x0 - pre->col0) * bpp;
            for (int k = 0; k < n; k++, px += bpp)
                acc[0] += w[k] * px[ro], acc[1] += w[k] * px[go], acc[2] += w[k] * px[bo];
        } else if (n) {
            float Y = 0, U = 0, V = 0;
            for (int k = 0; k < n; k++) {
                int sx = x0 + k;
                Y += w[k] * pre->vbuf[sx - pre->col0];
                U += w[k] * vu[sx / 2 - ccol0], V += w[k] * vv[sx / 2 - ccol0];
            }
            yuv_to_rgb(Y, U, V, acc);
        }
        rgb[x] = acc[0], rgb[W + x] = acc[1], rgb[2 * W + x] = acc[2];
    }
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
    int W = pre->p.width, H = pre->p.height;
    size_t plane = (size_t)W * H;
    const float *R = pre->rgbrow, *G = R + W, *B = G + W;
    for (int y = 0; y < H; y++) {
        if (pre->y.count[y])
            resample_row(pre, frame, y, pre->rgbrow);
        else /* padding row */
            memset(pre->rgbrow, 0, (size_t)3 * W * sizeof(float));
        float *out = chw + (size_t)y * W;
        if (pre->p.channels == 3) {
            for (int c = 0; c < 3; c++)
                for (int x = 0; x < W; x++)
                    out[c * plane + x] =
                        pre->rgbrow[(size_t)c * W + x] * pre->scale[c] + pre->offset[c];
        } else {
            for (int x = 0; x < W; x++)
                out[x] = (0.299f * R[x] + 0.587f * G[x] + 0.114f * B[x]) * pre->scale[0] +
                         pre->offset[0];
        }
    }
    return 0;
}
