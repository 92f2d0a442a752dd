/* preprocess.c — resize + centre crop + normalise, straight from packed or planar frames.
 *
 * Only the cropped part of the resized image is computed. Resampling is separable: a source
 * row is fetched at the taps of every output column (converted to RGB on the fly, so no
 * full-frame conversion) and kept in a 4-row cache keyed by source row; each output row then
 * blends the cached rows at its vertical taps. Coordinates follow PyTorch's interpolate with
 * align_corners=False: src = (dst + 0.5) * in/out - 0.5; bicubic uses A = -0.75 and clamps taps
 * at the edges; bilinear clamps src at 0. Output pixels outside the resized image (crop_pct > 1)
 * are black, as torchvision pads. */
#include "preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_TAPS 4
#define CACHE_ROWS 4
#define MAX_FRAME_SIDE 32768

struct vit_preprocess {
    vit_preprocess_params p;
    int frame_w, frame_h; /* the frame size the tables hold */
    int taps;
    int *xidx, *yidx; /* [width * taps], [height * taps] */
    float *xw, *yw;
    float *cache; /* CACHE_ROWS x 3 x width */
    int cache_key[CACHE_ROWS];
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

static void cubic_weights(float t, float *w)
{
    const float A = -0.75f;
    float x1 = t + 1.0f, x2 = 1.0f - t, x3 = 2.0f - t;
    w[0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
    w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
    w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Taps and weights for out output positions starting at resized coordinate first (the crop
 * offset), resized size rsize, source size in. */
static void fill_axis(vit_interpolation interp, int taps, int out, int first, int rsize, int in,
                      int *idx, float *w)
{
    double scale = (double)in / rsize;
    for (int o = 0; o < out; o++) {
        int *ix = idx + o * taps;
        float *wx = w + o * taps;
        int d = o + first;
        memset(wx, 0, (size_t)taps * sizeof(float));
        memset(ix, 0, (size_t)taps * sizeof(int));
        if (d < 0 || d >= rsize)
            continue; /* padding: all weights zero */
        if (interp == VIT_INTERP_NEAREST) {
            ix[0] = clampi((int)floor(d * scale), 0, in - 1);
            wx[0] = 1.0f;
        } else if (interp == VIT_INTERP_BILINEAR) {
            double src = (d + 0.5) * scale - 0.5;
            if (src < 0)
                src = 0;
            int x0 = (int)floor(src);
            float t = (float)(src - x0);
            ix[0] = clampi(x0, 0, in - 1);
            ix[1] = clampi(x0 + 1, 0, in - 1);
            wx[0] = 1.0f - t;
            wx[1] = t;
        } else {
            double src = (d + 0.5) * scale - 0.5;
            int x0 = (int)floor(src);
            cubic_weights((float)(src - x0), wx);
            for (int k = 0; k < 4; k++)
                ix[k] = clampi(x0 - 1 + k, 0, in - 1);
        }
    }
}

static void refill_tables(vit_preprocess *pre, int fw, int fh)
{
    int rw, rh, left, top;
    vit_preprocess_geometry(&pre->p, fw, fh, &rw, &rh, &left, &top);
    fill_axis(pre->p.interpolation, pre->taps, pre->p.width, left, rw, fw, pre->xidx, pre->xw);
    fill_axis(pre->p.interpolation, pre->taps, pre->p.height, top, rh, fh, pre->yidx, pre->yw);
    pre->frame_w = fw;
    pre->frame_h = fh;
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
    pre->taps = params->interpolation == VIT_INTERP_NEAREST    ? 1
                : params->interpolation == VIT_INTERP_BILINEAR ? 2
                                                               : 4;
    size_t w = (size_t)params->width, h = (size_t)params->height;
    pre->xidx = malloc(w * MAX_TAPS * sizeof(int));
    pre->yidx = malloc(h * MAX_TAPS * sizeof(int));
    pre->xw = malloc(w * MAX_TAPS * sizeof(float));
    pre->yw = malloc(h * MAX_TAPS * sizeof(float));
    pre->cache = malloc(CACHE_ROWS * 3 * w * sizeof(float));
    if (!pre->xidx || !pre->yidx || !pre->xw || !pre->yw || !pre->cache) {
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
    free(pre->xidx);
    free(pre->yidx);
    free(pre->xw);
    free(pre->yw);
    free(pre->cache);
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

/* Source pixel (x, y) as R, G, B in [0, 255]. */
static inline void fetch_rgb(const vit_frame *f, int x, int y, float *rgb)
{
    const uint8_t *row = f->planes[0] + (size_t)y * f->strides[0];
    const uint8_t *px;
    float Y, U, V;
    switch (f->format) {
    case VIT_FORMAT_RGB:
        px = row + 3 * x;
        rgb[0] = px[0], rgb[1] = px[1], rgb[2] = px[2];
        return;
    case VIT_FORMAT_BGR:
        px = row + 3 * x;
        rgb[0] = px[2], rgb[1] = px[1], rgb[2] = px[0];
        return;
    case VIT_FORMAT_RGBX:
    case VIT_FORMAT_RGBA:
        px = row + 4 * x;
        rgb[0] = px[0], rgb[1] = px[1], rgb[2] = px[2];
        return;
    case VIT_FORMAT_BGRX:
    case VIT_FORMAT_BGRA:
        px = row + 4 * x;
        rgb[0] = px[2], rgb[1] = px[1], rgb[2] = px[0];
        return;
    case VIT_FORMAT_XRGB:
        px = row + 4 * x;
        rgb[0] = px[1], rgb[1] = px[2], rgb[2] = px[3];
        return;
    case VIT_FORMAT_XBGR:
        px = row + 4 * x;
        rgb[0] = px[3], rgb[1] = px[2], rgb[2] = px[1];
        return;
    case VIT_FORMAT_GRAY8:
        rgb[0] = rgb[1] = rgb[2] = row[x];
        return;
    case VIT_FORMAT_I420:
        U = f->planes[1][(size_t)(y / 2) * f->strides[1] + x / 2];
        V = f->planes[2][(size_t)(y / 2) * f->strides[2] + x / 2];
        break;
    case VIT_FORMAT_NV12:
    default:
        px = f->planes[1] + (size_t)(y / 2) * f->strides[1] + (x / 2) * 2;
        U = px[0], V = px[1];
        break;
    }
    /* BT.601 limited range, GStreamer's default for SD video */
    Y = 1.164383f * (row[x] - 16.0f);
    U -= 128.0f, V -= 128.0f;
    rgb[0] = Y + 1.596027f * V;
    rgb[1] = Y - 0.391762f * U - 0.812968f * V;
    rgb[2] = Y + 2.017232f * U;
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

/* The horizontally resampled source row sy: 3 planes of width floats. */
static const float *resampled_row(vit_preprocess *pre, const vit_frame *f, int sy)
{
    int slot = sy % CACHE_ROWS, W = pre->p.width, taps = pre->taps;
    float *out = pre->cache + (size_t)slot * 3 * W;
    if (pre->cache_key[slot] == sy)
        return out;
    pre->cache_key[slot] = sy;
    int ro, go, bo, bpp = packed_layout(f->format, &ro, &go, &bo);
    if (bpp) { /* packed: no per-pixel format switch */
        const uint8_t *row = f->planes[0] + (size_t)sy * f->strides[0];
        for (int x = 0; x < W; x++) {
            float acc[3] = {0, 0, 0};
            for (int k = 0; k < taps; k++) {
                float w = pre->xw[x * taps + k];
                const uint8_t *px = row + (size_t)pre->xidx[x * taps + k] * bpp;
                acc[0] += w * px[ro], acc[1] += w * px[go], acc[2] += w * px[bo];
            }
            out[x] = acc[0], out[W + x] = acc[1], out[2 * W + x] = acc[2];
        }
        return out;
    }
    for (int x = 0; x < W; x++) {
        float acc[3] = {0, 0, 0}, rgb[3];
        for (int k = 0; k < taps; k++) {
            float w = pre->xw[x * taps + k];
            fetch_rgb(f, pre->xidx[x * taps + k], sy, rgb);
            acc[0] += w * rgb[0], acc[1] += w * rgb[1], acc[2] += w * rgb[2];
        }
        out[x] = acc[0], out[W + x] = acc[1], out[2 * W + x] = acc[2];
    }
    return out;
}

int vit_preprocess_run(vit_preprocess *pre, const vit_frame *frame, float *chw, vit_error *err)
{
    int r = check_frame(frame, err);
    if (r < 0)
        return r;
    if (frame->width != pre->frame_w || frame->height != pre->frame_h)
        refill_tables(pre, frame->width, frame->height);
    for (int i = 0; i < CACHE_ROWS; i++)
        pre->cache_key[i] = -1;
    int W = pre->p.width, H = pre->p.height, taps = pre->taps;
    size_t plane = (size_t)W * H;
    for (int y = 0; y < H; y++) {
        int nc = pre->p.channels == 3 ? 3 : 1;
        float *dst[3];
        for (int c = 0; c < nc; c++)
            dst[c] = chw + c * plane + (size_t)y * W;
        for (int c = 0; c < nc; c++)
            memset(dst[c], 0, (size_t)W * sizeof(float));
        for (int k = 0; k < taps; k++) {
            float w = pre->yw[y * taps + k];
            if (w == 0.0f)
                continue;
            const float *src = resampled_row(pre, frame, pre->yidx[y * taps + k]);
            if (nc == 3) {
                for (int c = 0; c < 3; c++)
                    for (int x = 0; x < W; x++)
                        dst[c][x] += w * src[(size_t)c * W + x];
            } else {
                for (int x = 0; x < W; x++)
                    dst[0][x] +=
                        w * (0.299f * src[x] + 0.587f * src[W + x] + 0.114f * src[2 * W + x]);
            }
        }
        for (int c = 0; c < nc; c++)
            for (int x = 0; x < W; x++)
                dst[c][x] = dst[c][x] * pre->scale[c] + pre->offset[c];
    }
    return 0;
}
