/* conv.c — 2-D convolution as im2col + vit_gemm per group, a direct depthwise kernel, and
 * BatchNorm folding (see conv.h for layouts and threading). */
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

/* The source pixel of tap (ky, kx) for output pixel (oy, ox), or -1 outside the image. */
static inline long tap_pixel(const vit_conv2d *c, int H, int W, int oy, int ox, int ky, int kx)
{
    int iy = oy * c->stride_h - c->pad_h + ky, ix = ox * c->stride_w - c->pad_w + kx;
    return iy >= 0 && iy < H && ix >= 0 && ix < W ? (long)iy * W + ix : -1;
}

/* Token-major input, tap-major weights (vit_conv2d_to_khwc): a row is (ky, kx, c), so each tap
 * is a contiguous copy of cg channels, and with all channels a whole kernel row inside the
 * image is one copy of kw * cin floats. */
static void im2col_hwc_khwc(const vit_conv2d *c, const float *x, int H, int W, int c0, int cg,
                            int p0, int p1, float *cols)
{
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    size_t K = (size_t)cg * c->kh * c->kw, seg = (size_t)c->kw * cg;
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW, ix0 = ox * c->stride_w - c->pad_w;
        float *row = cols + (size_t)(p - p0) * K;
        for (int ky = 0; ky < c->kh; ky++, row += seg) {
            int iy = oy * c->stride_h - c->pad_h + ky;
            if (cg == c->cin && iy >= 0 && iy < H && ix0 >= 0 && ix0 + c->kw <= W) {
                memcpy(row, x + ((size_t)iy * W + ix0) * c->cin, seg * sizeof(float));
                continue;
            }
            for (int kx = 0; kx < c->kw; kx++) {
                long q = tap_pixel(c, H, W, oy, ox, ky, kx);
                if (q < 0)
                    memset(row + (size_t)kx * cg, 0, (size_t)cg * sizeof(float));
                else
                    memcpy(row + (size_t)kx * cg, x + (size_t)q * c->cin + c0,
                           (size_t)cg * sizeof(float));
            }
        }
    }
}

/* Rows in PyTorch's (c, ky, kx) order, or (ky, kx, c) for tap-major weights on planar input.
 * Up to IM2COL_MAX_TAPS taps, each pixel's source pixels are found once and the row is written
 * in order (token-major input: a transpose of the taps' channel vectors; planar input: each
 * plane read at the taps); past that, tap by tap. */
#define IM2COL_MAX_TAPS 64
static void im2col_rows(const vit_conv2d *c, const float *x, vit_conv_layout layout, int H, int W,
                        int c0, int cg, int p0, int p1, float *cols)
{
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    int kk = c->kh * c->kw, planar = layout == VIT_CONV_CHW;
    /* where channel ci's value of tap t goes in a row, and where it comes from */
    size_t cs = c->weight_khwc ? 1 : (size_t)kk, ts = c->weight_khwc ? (size_t)cg : 1;
    size_t xc = planar ? (size_t)H * W : 1, xp = planar ? 1 : (size_t)c->cin;
    const float *base = x + c0 * xc;
    long q[IM2COL_MAX_TAPS];
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW;
        float *row = cols + (size_t)(p - p0) * cg * kk;
        if (kk > IM2COL_MAX_TAPS) {
            for (int t = 0; t < kk; t++) {
                long qt = tap_pixel(c, H, W, oy, ox, t / c->kw, t % c->kw);
                for (int ci = 0; ci < cg; ci++)
                    row[ci * cs + t * ts] = qt < 0 ? 0.0f : base[(size_t)qt * xp + ci * xc];
            }
            continue;
        }
        int iy0 = oy * c->stride_h - c->pad_h, ix0 = ox * c->stride_w - c->pad_w;
        if (planar && !c->weight_khwc && iy0 >= 0 && iy0 + c->kh <= H && ix0 >= 0 &&
            ix0 + c->kw <= W) { /* inside the image: kw neighbours per plane and kernel row */
            for (int ci = 0; ci < cg; ci++)
                for (int ky = 0; ky < c->kh; ky++, row += c->kw) {
                    const float *src = base + ci * xc + (size_t)(iy0 + ky) * W + ix0;
                    for (int kx = 0; kx < c->kw; kx++)
                        row[kx] = src[kx];
                }
            continue;
        }
        for (int t = 0; t < kk; t++)
            q[t] = tap_pixel(c, H, W, oy, ox, t / c->kw, t % c->kw);
        for (int ci = 0; ci < cg; ci++)
            for (int t = 0; t < kk; t++)
                row[ci * cs + t * ts] = q[t] < 0 ? 0.0f : base[(size_t)q[t] * xp + ci * xc];
    }
}

/* Unfolds output pixels [p0, p1) for input channels [c0, c0 + cg) into rows of cg*kh*kw values
 * in the weight's order ((c, ky, kx), or (ky, kx, c) when weight_khwc); taps outside the image
 * are 0. */
static void im2col(const vit_conv2d *c, const float *x, vit_conv_layout layout, int H, int W,
                   int c0, int cg, int p0, int p1, float *cols)
{
    if (layout == VIT_CONV_HWC && c->weight_khwc)
        im2col_hwc_khwc(c, x, H, W, c0, cg, p0, p1, cols);
    else
        im2col_rows(c, x, layout, H, W, c0, cg, p0, p1, cols);
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

/* A tile of nb channels, multiplier 1. Called with a constant nb (64, 48, 32, 16): constant trip
 * counts keep the accumulators in vector registers. */
__attribute__((always_inline)) static inline void dw_pixel_tile(const vit_conv2d *c, const float *x,
                                                                int H, int W, int oy, int ox,
                                                                int o0, int nb, const float *wt,
                                                                float *out)
{
    float acc[DW_BLOCK];
    dw_pixel(c, x, H, W, oy, ox, o0, nb, 1, wt, acc);
    for (int j = 0; j < nb; j++)
        out[j] = acc[j];
}

/* Multiplier 1, nb a multiple of 16 (MobileNet-style widths: 32, 48, 96, ...). */
static void dw_pixel_16s(const vit_conv2d *c, const float *x, int H, int W, int oy, int ox, int o0,
                         int nb, const float *wt, float *out)
{
    switch (nb) {
    case 64:
        dw_pixel_tile(c, x, H, W, oy, ox, o0, 64, wt, out);
        break;
    case 48:
        dw_pixel_tile(c, x, H, W, oy, ox, o0, 48, wt, out);
        break;
    case 32:
        dw_pixel_tile(c, x, H, W, oy, ox, o0, 32, wt, out);
        break;
    default:
        dw_pixel_tile(c, x, H, W, oy, ox, o0, 16, wt, out);
        break;
    }
}

/* Any tile width and channel multiplier (the multiplier 1 case without its division). */
static void dw_pixel_any(const vit_conv2d *c, const float *x, int H, int W, int oy, int ox, int o0,
                         int nb, const float *wt, float *out)
{
    if (c->cout == c->cin)
        dw_pixel(c, x, H, W, oy, ox, o0, nb, 1, wt, out);
    else
        dw_pixel(c, x, H, W, oy, ox, o0, nb, c->cout / c->cin, wt, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/fastmath512.h"

/* One output pixel's nv * 16 channels (o0 applied to x, bias and out) from the taps [ky0, ky1) x
 * [kx0, kx1) that fall inside the map, then SiLU when asked. Always inlined with constant nv and
 * silu, and from dw_rows_512_nv with constant tap ranges for interior pixels of 3x3 and 7x7
 * kernels: every loop unrolls and the accumulators stay in zmm registers (with a variable nv
 * they lived on the stack and every pixel called memcpy). */
__attribute__((target("avx512f"), always_inline)) static inline void
dw_pixel_512(const int nv, const int silu, const vit_conv2d *c, const float *x, int W, int iy0,
             int ix0, int ky0, int ky1, int kx0, int kx1, const float *bias, const float *wt,
             float *o)
{
    __m512 acc[DW_BLOCK / 16];
    for (int j = 0; j < nv; j++)
        acc[j] = bias ? _mm512_loadu_ps(bias + 16 * j) : _mm512_setzero_ps();
    for (int ky = ky0; ky < ky1; ky++)
        for (int kx = kx0; kx < kx1; kx++) {
            const float *xi = x + ((size_t)(iy0 + ky) * W + ix0 + kx) * c->cin;
            const float *w = wt + (ky * c->kw + kx) * DW_BLOCK;
            for (int j = 0; j < nv; j++)
                acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(xi + 16 * j), _mm512_load_ps(w + 16 * j),
                                         acc[j]);
        }
    for (int j = 0; j < nv; j++)
        _mm512_storeu_ps(o + 16 * j, silu ? vit_silu512(acc[j]) : acc[j]);
}

/* dw_pixel_16s over output pixels [p0, p1) for a block of nv * 16 channels: the portable
 * build's x86-64-v4 clone of the plain loop ran 20-40% slower than -march=native's. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw_rows_512_nv(const int nv, const int silu, const vit_conv2d *c, const float *x, int H, int W,
               int OW, int o0, int p0, int p1, const float *wt, float *out, int ldo)
{
    const float *bias = c->bias ? c->bias + o0 : NULL;
    const int kh = c->kh, kw = c->kw;
    x += o0;
    for (int p = p0; p < p1; p++) {
        int iy0 = (p / OW) * c->stride_h - c->pad_h, ix0 = (p % OW) * c->stride_w - c->pad_w;
        float *o = out + (size_t)p * ldo + o0;
        int inside = iy0 >= 0 && ix0 >= 0 && iy0 + kh <= H && ix0 + kw <= W;
        if (inside && kh == 3 && kw == 3)
            dw_pixel_512(nv, silu, c, x, W, iy0, ix0, 0, 3, 0, 3, bias, wt, o);
        else if (inside && kh == 7 && kw == 7)
            dw_pixel_512(nv, silu, c, x, W, iy0, ix0, 0, 7, 0, 7, bias, wt, o);
        else
            dw_pixel_512(nv, silu, c, x, W, iy0, ix0, iy0 < 0 ? -iy0 : 0,
                         iy0 + kh > H ? H - iy0 : kh, ix0 < 0 ? -ix0 : 0,
                         ix0 + kw > W ? W - ix0 : kw, bias, wt, o);
    }
}

/* A block of nb channels, nb a multiple of 16 and at most DW_BLOCK (64): nv constant per case. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw_rows_512_act(const int silu, const vit_conv2d *c, const float *x, int H, int W, int OW, int o0,
                int nb, int p0, int p1, const float *wt, float *out, int ldo)
{
    switch (nb / 16) {
    case 4:
        dw_rows_512_nv(4, silu, c, x, H, W, OW, o0, p0, p1, wt, out, ldo);
        break;
    case 3:
        dw_rows_512_nv(3, silu, c, x, H, W, OW, o0, p0, p1, wt, out, ldo);
        break;
    case 2:
        dw_rows_512_nv(2, silu, c, x, H, W, OW, o0, p0, p1, wt, out, ldo);
        break;
    default:
        dw_rows_512_nv(1, silu, c, x, H, W, OW, o0, p0, p1, wt, out, ldo);
        break;
    }
}

/* The same with SiLU applied or not (each a constant inside). */
__attribute__((target("avx512f"))) static void dw_rows_512(const vit_conv2d *c, const float *x,
                                                           int H, int W, int OW, int o0, int nb,
                                                           int p0, int p1, const float *wt,
                                                           int silu, float *out, int ldo)
{
    if (silu)
        dw_rows_512_act(1, c, x, H, W, OW, o0, nb, p0, p1, wt, out, ldo);
    else
        dw_rows_512_act(0, c, x, H, W, OW, o0, nb, p0, p1, wt, out, ldo);
}
#endif

static VIT_HOT void dwconv_rows(const vit_conv2d *c, const float *x, int H, int W, int p0, int p1,
                                int silu, float *out, int ldo)
{
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    int kk = c->kh * c->kw, full_ok = c->cout == c->cin;
    float wt[DW_MAX_TAPS * DW_BLOCK] __attribute__((aligned(64)));
    for (int o0 = 0; o0 < c->cout; o0 += DW_BLOCK) {
        int nb = c->cout - o0 < DW_BLOCK ? c->cout - o0 : DW_BLOCK;
        for (int t = 0; t < kk; t++)
            for (int j = 0; j < nb; j++)
                wt[t * DW_BLOCK + j] = c->weight[(size_t)(o0 + j) * kk + t];
        int tiled = full_ok && nb % 16 == 0;
#if defined(__x86_64__) && defined(__GNUC__)
        if (tiled && vit_have_avx512()) {
            dw_rows_512(c, x, H, W, OW, o0, nb, p0, p1, wt, silu, out, ldo);
            continue;
        }
#endif
        for (int p = p0; p < p1; p++) {
            float *o = out + (size_t)p * ldo + o0;
            if (tiled)
                dw_pixel_16s(c, x, H, W, p / OW, p % OW, o0, nb, wt, o);
            else
                dw_pixel_any(c, x, H, W, p / OW, p % OW, o0, nb, wt, o);
        }
        if (silu && p1 > p0)
            vit_silu_rows(p1 - p0, nb, out + (size_t)p0 * ldo + o0, ldo);
    }
}

void vit_dwconv2d_rows(const vit_conv2d *c, const float *x, int H, int W, int p0, int p1,
                       float *out, int ldo)
{
    dwconv_rows(c, x, H, W, p0, p1, 0, out, ldo);
}

void vit_dwconv2d_silu_rows(const vit_conv2d *c, const float *x, int H, int W, int p0, int p1,
                            float *out, int ldo)
{
    dwconv_rows(c, x, H, W, p0, p1, 1, out, ldo);
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

void vit_conv2d_to_khwc(vit_conv2d *c, float *dst)
{
    int cg = c->cin / c->groups, kk = c->kh * c->kw;
    for (int o = 0; o < c->cout; o++)
        for (int ci = 0; ci < cg; ci++)
            for (int t = 0; t < kk; t++)
                dst[((size_t)o * kk + t) * cg + ci] = c->weight[((size_t)o * cg + ci) * kk + t];
    c->weight = dst;
    c->weight_khwc = 1;
}
