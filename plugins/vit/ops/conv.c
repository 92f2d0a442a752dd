/* conv.c — 2-D convolution as im2col + vit_gemm per group, a direct depthwise kernel, and
 * BatchNorm folding and tap-major weights (see conv.h for layouts and threading). */
#include "ops/conv.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ops/ops.h"

/* Output channels per depthwise tile, and the largest kernel area the tile holds. */
#define DW_BLOCK 64
#define DW_MAX_TAPS 64

int vit_conv_out_size(int in, int k, int stride, int pad)
{
    if (stride < 1 || k < 1 || in + 2 * pad < k)
        return 0;
    return (in + 2 * pad - k) / stride + 1;
}

int vit_conv2d_check(const vit_conv2d *c)
{
    if (c->cin < 1 || c->cout < 1 || c->kh < 1 || c->kw < 1 || c->stride_h < 1 || c->stride_w < 1 ||
        c->pad_h < 0 || c->pad_w < 0 || c->groups < 1 || c->cin % c->groups ||
        c->cout % c->groups || !c->weight)
        return -EINVAL;
    return 0;
}

int vit_conv2d_is_depthwise(const vit_conv2d *c)
{
    return c->groups == c->cin && c->cout % c->cin == 0 && c->kh * c->kw <= DW_MAX_TAPS;
}

static int is_pointwise(const vit_conv2d *c, vit_conv_layout layout)
{
    return layout == VIT_CONV_HWC && c->kh == 1 && c->kw == 1 && c->stride_h == 1 &&
           c->stride_w == 1 && c->pad_h == 0 && c->pad_w == 0;
}

size_t vit_conv2d_scratch_floats(const vit_conv2d *c, vit_conv_layout layout, int pixels)
{
    if (pixels <= 0 || is_pointwise(c, layout) ||
        (layout == VIT_CONV_HWC && vit_conv2d_is_depthwise(c)))
        return 0;
    return (size_t)pixels * (size_t)(c->cin / c->groups) * c->kh * c->kw;
}

size_t vit_conv2d_weight_floats(const vit_conv2d *c)
{
    return (size_t)c->cout * (size_t)(c->cin / c->groups) * c->kh * c->kw;
}

double vit_conv2d_macs(const vit_conv2d *c, int H, int W)
{
    double oh = vit_conv_out_size(H, c->kh, c->stride_h, c->pad_h);
    double ow = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    return oh * ow * c->cout * (double)(c->cin / c->groups) * c->kh * c->kw;
}

/* One output pixel's row from a planar input, (c, ky, kx) or, taps_major, (ky, kx, c); the
 * conv's sizes in locals (stores to row would otherwise make the compiler reload them). */
static void im2col_chw_pixel(const vit_conv2d *c, const float *x, int H, int W, int c0, int cg,
                             int oy, int ox, float *row)
{
    const int kh = c->kh, kw = c->kw, kk = kh * kw, taps = c->taps_major;
    const int iy0 = oy * c->stride_h - c->pad_h, ix0 = ox * c->stride_w - c->pad_w;
    const int inside_x = ix0 >= 0 && ix0 + kw <= W;
    for (int ci = 0; ci < cg; ci++) {
        const float *plane = x + (size_t)(c0 + ci) * H * W;
        for (int ky = 0; ky < kh; ky++) {
            int iy = iy0 + ky;
            float *dst = taps ? row + (size_t)ky * kw * cg + ci : row + (size_t)ci * kk + ky * kw;
            size_t step = taps ? (size_t)cg : 1;
            const float *src = plane + (size_t)iy * W + ix0;
            if (iy < 0 || iy >= H) {
                for (int kx = 0; kx < kw; kx++)
                    dst[kx * step] = 0.0f;
            } else if (inside_x) {
                for (int kx = 0; kx < kw; kx++)
                    dst[kx * step] = src[kx];
            } else {
                for (int kx = 0; kx < kw; kx++)
                    dst[kx * step] = ix0 + kx < 0 || ix0 + kx >= W ? 0.0f : src[kx];
            }
        }
    }
}

/* Unfolds output pixels [p0, p1) for input channels [c0, c0 + cg) into rows of cg*kh*kw values
 * ordered (c, ky, kx); taps outside the image are 0. */
static void im2col(const vit_conv2d *c, const float *x, vit_conv_layout layout, int H, int W,
                   int c0, int cg, int p0, int p1, float *cols)
{
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    int kk = c->kh * c->kw;
    size_t K = (size_t)cg * kk;
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW;
        float *row = cols + (size_t)(p - p0) * K;
        if (layout == VIT_CONV_CHW) { /* (c, ky, kx) is the order of planes */
            im2col_chw_pixel(c, x, H, W, c0, cg, oy, ox, row);
            continue;
        }
        if (c->taps_major) { /* (ky, kx, c): one run of channels per tap */
            for (int ky = 0; ky < c->kh; ky++) {
                int iy = oy * c->stride_h - c->pad_h + ky;
                for (int kx = 0; kx < c->kw; kx++, row += cg) {
                    int ix = ox * c->stride_w - c->pad_w + kx;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                        memset(row, 0, (size_t)cg * sizeof(float));
                    else
                        memcpy(row, x + ((size_t)iy * W + ix) * c->cin + c0,
                               (size_t)cg * sizeof(float));
                }
            }
            continue;
        }
        for (int ky = 0; ky < c->kh; ky++) {
            int iy = oy * c->stride_h - c->pad_h + ky;
            for (int kx = 0; kx < c->kw; kx++) {
                int ix = ox * c->stride_w - c->pad_w + kx;
                float *dst = row + ky * c->kw + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                    for (int ci = 0; ci < cg; ci++)
                        dst[(size_t)ci * kk] = 0.0f;
                } else {
                    const float *src = x + ((size_t)iy * W + ix) * c->cin + c0;
                    for (int ci = 0; ci < cg; ci++)
                        dst[(size_t)ci * kk] = src[ci];
                }
            }
        }
    }
}

/* One output pixel, output channels o0 .. o0 + nb - 1 with channel multiplier mult: out[j] =
 * bias + the kernel taps inside the map. Always inlined, so that dw_pixel_full's constant nb
 * and mult give constant trip counts. */
__attribute__((always_inline)) static inline void dw_pixel(const vit_conv2d *c, const float *x,
                                                           int H, int W, int oy, int ox, int o0,
                                                           int nb, int mult, const float *wt,
                                                           float *out)
{
    for (int j = 0; j < nb; j++)
        out[j] = c->bias ? c->bias[o0 + j] : 0.0f;
    for (int ky = 0; ky < c->kh; ky++) {
        int iy = oy * c->stride_h - c->pad_h + ky;
        if (iy < 0 || iy >= H)
            continue;
        for (int kx = 0; kx < c->kw; kx++) {
            int ix = ox * c->stride_w - c->pad_w + kx;
            if (ix < 0 || ix >= W)
                continue;
            const float *xi = x + ((size_t)iy * W + ix) * c->cin;
            const float *w = wt + (ky * c->kw + kx) * DW_BLOCK;
            for (int j = 0; j < nb; j++)
                out[j] += xi[(o0 + j) / mult] * w[j];
        }
    }
}

/* A full tile of DW_BLOCK channels, multiplier 1: constant trip counts keep the accumulators in
 * vector registers. */
static inline void dw_pixel_full(const vit_conv2d *c, const float *x, int H, int W, int oy, int ox,
                                 int o0, const float *wt, float *out)
{
    float acc[DW_BLOCK];
    dw_pixel(c, x, H, W, oy, ox, o0, DW_BLOCK, 1, wt, acc);
    for (int j = 0; j < DW_BLOCK; j++)
        out[j] = acc[j];
}

/* Any tile width and channel multiplier. */
static void dw_pixel_any(const vit_conv2d *c, const float *x, int H, int W, int oy, int ox, int o0,
                         int nb, const float *wt, float *out)
{
    dw_pixel(c, x, H, W, oy, ox, o0, nb, c->cout / c->cin, wt, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/fastmath512.h"

/* dw_pixel_full over output pixels [p0, p1) in four zmm accumulators, written out: the portable
 * build's x86-64-v4 clone of the plain loop ran 20-40% slower than -march=native's. */
__attribute__((target("avx512f"))) static void dw_rows_full_512(const vit_conv2d *c, const float *x,
                                                                int H, int W, int OW, int o0,
                                                                int p0, int p1, const float *wt,
                                                                float *out, int ldo)
{
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW;
        __m512 acc[DW_BLOCK / 16];
        for (int j = 0; j < DW_BLOCK / 16; j++)
            acc[j] = c->bias ? _mm512_loadu_ps(c->bias + o0 + 16 * j) : _mm512_setzero_ps();
        for (int ky = 0; ky < c->kh; ky++) {
            int iy = oy * c->stride_h - c->pad_h + ky;
            if (iy < 0 || iy >= H)
                continue;
            for (int kx = 0; kx < c->kw; kx++) {
                int ix = ox * c->stride_w - c->pad_w + kx;
                if (ix < 0 || ix >= W)
                    continue;
                const float *xi = x + ((size_t)iy * W + ix) * c->cin + o0;
                const float *w = wt + (ky * c->kw + kx) * DW_BLOCK;
                for (int j = 0; j < DW_BLOCK / 16; j++)
                    acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(xi + 16 * j),
                                             _mm512_load_ps(w + 16 * j), acc[j]);
            }
        }
        for (int j = 0; j < DW_BLOCK / 16; j++)
            _mm512_storeu_ps(out + (size_t)p * ldo + o0 + 16 * j, acc[j]);
    }
}
#endif

VIT_HOT void vit_dwconv2d_rows(const vit_conv2d *c, const float *x, int H, int W, int p0, int p1,
                               float *out, int ldo)
{
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    int kk = c->kh * c->kw, full_ok = c->cout == c->cin;
    float wt[DW_MAX_TAPS * DW_BLOCK] __attribute__((aligned(64)));
    for (int o0 = 0; o0 < c->cout; o0 += DW_BLOCK) {
        int nb = c->cout - o0 < DW_BLOCK ? c->cout - o0 : DW_BLOCK;
        for (int t = 0; t < kk; t++)
            for (int j = 0; j < nb; j++)
                wt[t * DW_BLOCK + j] = c->weight[(size_t)(o0 + j) * kk + t];
#if defined(__x86_64__) && defined(__GNUC__)
        if (full_ok && nb == DW_BLOCK && vit_have_avx512()) {
            dw_rows_full_512(c, x, H, W, OW, o0, p0, p1, wt, out, ldo);
            continue;
        }
#endif
        for (int p = p0; p < p1; p++) {
            float *o = out + (size_t)p * ldo + o0;
            if (full_ok && nb == DW_BLOCK)
                dw_pixel_full(c, x, H, W, p / OW, p % OW, o0, wt, o);
            else
                dw_pixel_any(c, x, H, W, p / OW, p % OW, o0, nb, wt, o);
        }
    }
}

void vit_conv2d_rows(const vit_conv2d *c, const float *x, vit_conv_layout layout, int H, int W,
                     int p0, int p1, float *scratch, float *out, int ldo)
{
    if (p1 <= p0)
        return;
    if (layout == VIT_CONV_HWC && vit_conv2d_is_depthwise(c)) {
        vit_dwconv2d_rows(c, x, H, W, p0, p1, out, ldo);
        return;
    }
    int cg = c->cin / c->groups, og = c->cout / c->groups, rows = p1 - p0;
    int K = cg * c->kh * c->kw;
    for (int g = 0; g < c->groups; g++) {
        const float *w = c->weight + (size_t)g * og * K;
        const float *b = c->bias ? c->bias + (size_t)g * og : NULL;
        float *o = out + (size_t)p0 * ldo + (size_t)g * og;
        if (is_pointwise(c, layout)) {
            vit_gemm(rows, og, K, 1.0f, x + (size_t)p0 * c->cin + (size_t)g * cg, c->cin, w, K, 1,
                     b, 0, o, ldo);
        } else {
            im2col(c, x, layout, H, W, g * cg, cg, p0, p1, scratch);
            vit_gemm(rows, og, K, 1.0f, scratch, K, w, K, 1, b, 0, o, ldo);
        }
    }
}

typedef struct conv_job {
    const vit_conv2d *c;
    const float *x;
    vit_conv_layout layout;
    int H, W, pixels, ldo;
    size_t scratch_per_task;
    float *scratch, *out;
} conv_job;

static void conv_task(void *ctx, int task, int num_tasks)
{
    const conv_job *j = ctx;
    int p0, p1;
    vit_split_range(j->pixels, num_tasks, task, &p0, &p1);
    vit_conv2d_rows(j->c, j->x, j->layout, j->H, j->W, p0, p1,
                    j->scratch + (size_t)task * j->scratch_per_task, j->out, j->ldo);
}

static int conv_pixels(const vit_conv2d *c, int H, int W)
{
    return vit_conv_out_size(H, c->kh, c->stride_h, c->pad_h) *
           vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
}

size_t vit_conv2d_pool_scratch_floats(const vit_conv2d *c, vit_conv_layout layout, int H, int W,
                                      int threads)
{
    int pixels = conv_pixels(c, H, W);
    if (threads < 1)
        threads = 1;
    return (size_t)threads * vit_conv2d_scratch_floats(c, layout, (pixels + threads - 1) / threads);
}

void vit_conv2d_run(vit_threadpool *pool, const vit_conv2d *c, const float *x,
                    vit_conv_layout layout, int H, int W, float *scratch, float *out, int ldo)
{
    int threads = vit_threadpool_threads(pool), pixels = conv_pixels(c, H, W);
    int parts = threads < pixels ? threads : pixels;
    if (parts < 1)
        return;
    conv_job job = {c,       x,
                    layout,  H,
                    W,       pixels,
                    ldo,     vit_conv2d_scratch_floats(c, layout, (pixels + threads - 1) / threads),
                    scratch, out};
    vit_threadpool_run(pool, parts, conv_task, &job);
}

void vit_conv2d_to_taps_major(vit_conv2d *c, float *dst)
{
    int cg = c->cin / c->groups, kk = c->kh * c->kw;
    for (int o = 0; o < c->cout; o++) {
        const float *w = c->weight + (size_t)o * cg * kk;
        float *d = dst + (size_t)o * cg * kk;
        for (int ci = 0; ci < cg; ci++)
            for (int t = 0; t < kk; t++)
                d[(size_t)t * cg + ci] = w[(size_t)ci * kk + t];
    }
    c->weight = dst;
    c->taps_major = 1;
}

void vit_conv2d_fold_bn(vit_conv2d *c, const float *gamma, const float *beta, const float *mean,
                        const float *var, float eps, float *dst_weight, float *dst_bias)
{
    size_t per_out = vit_conv2d_weight_floats(c) / (size_t)c->cout;
    for (int o = 0; o < c->cout; o++) {
        float s = gamma[o] / sqrtf(var[o] + eps);
        for (size_t i = 0; i < per_out; i++)
            dst_weight[(size_t)o * per_out + i] = c->weight[(size_t)o * per_out + i] * s;
        dst_bias[o] = ((c->bias ? c->bias[o] : 0.0f) - mean[o]) * s + beta[o];
    }
    c->weight = dst_weight;
    c->bias = dst_bias;
}
