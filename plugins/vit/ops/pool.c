/* pool.c — pooling over token-major maps (pool.h). Every output pixel sums contiguous channel
 * vectors of its window, so the inner loops run over C and vectorise. */
#include "ops/pool.h"

#include <string.h>

#include "ops/conv.h"
#include "ops/ops.h"

VIT_HOT static void window_sum(const float *x, int W, int C, int y0, int y1, int x0, int x1,
                               float *acc)
{
    memset(acc, 0, (size_t)C * sizeof(float));
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) {
            const float *xi = x + ((size_t)iy * W + ix) * C;
            for (int c = 0; c < C; c++)
                acc[c] += xi[c];
        }
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void vit_avgpool_rows(const float *x, int H, int W, int C, int k, int s, int pad,
                      int count_include_pad, int p0, int p1, float *out, int ldo)
{
    int OW = vit_conv_out_size(W, k, s, pad);
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW;
        int y0 = oy * s - pad, x0 = ox * s - pad;
        int cy0 = clampi(y0, 0, H), cy1 = clampi(y0 + k, 0, H);
        int cx0 = clampi(x0, 0, W), cx1 = clampi(x0 + k, 0, W);
        float *o = out + (size_t)p * ldo;
        window_sum(x, W, C, cy0, cy1, cx0, cx1, o);
        int count = count_include_pad ? k * k : (cy1 - cy0) * (cx1 - cx0);
        float inv = 1.0f / (float)(count > 0 ? count : 1);
        for (int c = 0; c < C; c++)
            o[c] *= inv;
    }
}

/* Channels per block of the fused mixer: its coefficients live on the stack. */
#define MIX_BLOCK 64

/* An interior pixel, channels [0, n) of a block: all nine taps, so the loop vectorises. */
static inline void mixer_pixel9(const float *m, size_t row, int C, int n, const float *a,
                                const float *coef, float *o)
{
    const float *u = m - row, *d = m + row;
    for (int c = 0; c < n; c++) {
        float sum =
            u[c - C] + u[c] + u[c + C] + m[c - C] + m[c] + m[c + C] + d[c - C] + d[c] + d[c + C];
        o[c] = a[c] * m[c] + coef[c] * (sum * (1.0f / 9.0f) - m[c]);
    }
}

/* A border pixel (py, px): the taps inside the map, averaged over their count. */
static void mixer_pixel_border(const float *x, int H, int W, int C, int py, int px, int n,
                               const float *a, const float *coef, float *o)
{
    int y0 = py > 0 ? py - 1 : 0, x0 = px > 0 ? px - 1 : 0;
    int y1 = py + 1 < H ? py + 1 : H - 1, x1 = px + 1 < W ? px + 1 : W - 1;
    float inv = 1.0f / (float)((y1 - y0 + 1) * (x1 - x0 + 1)), sum[MIX_BLOCK] = {0};
    for (int iy = y0; iy <= y1; iy++)
        for (int ix = x0; ix <= x1; ix++) {
            const float *t = x + ((size_t)iy * W + ix) * C;
            for (int c = 0; c < n; c++)
                sum[c] += t[c];
        }
    const float *m = x + ((size_t)py * W + px) * C;
    for (int c = 0; c < n; c++)
        o[c] = a[c] * m[c] + coef[c] * (sum[c] * inv - m[c]);
}

VIT_HOT void vit_pool_mixer_residual_rows(const float *x, int H, int W, int C, int p0, int p1,
                                          float scale, const float *g, const float *ls,
                                          const float *rs, float *out)
{
    for (int c0 = 0; c0 < C; c0 += MIX_BLOCK) {
        int n = C - c0 < MIX_BLOCK ? C - c0 : MIX_BLOCK;
        float a[MIX_BLOCK], coef[MIX_BLOCK];
        for (int c = 0; c < n; c++) {
            a[c] = rs ? rs[c0 + c] : 1.0f;
            coef[c] = scale * (g ? g[c0 + c] : 1.0f) * (ls ? ls[c0 + c] : 1.0f);
        }
        for (int p = p0; p < p1; p++) {
            int py = p / W, px = p % W;
            float *o = out + (size_t)p * C + c0;
            if (py > 0 && py + 1 < H && px > 0 && px + 1 < W)
                mixer_pixel9(x + (size_t)p * C + c0, (size_t)W * C, C, n, a, coef, o);
            else
                mixer_pixel_border(x + c0, H, W, C, py, px, n, a, coef, o);
        }
    }
}

VIT_HOT void vit_maxpool2_rows(const float *x, int H, int W, int C, int p0, int p1, float *out,
                               int ldo)
{
    int OW = W / 2;
    (void)H;
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW;
        const float *a = x + ((size_t)(2 * oy) * W + 2 * ox) * C;
        const float *b = a + C, *c2 = a + (size_t)W * C, *d = c2 + C;
        float *o = out + (size_t)p * ldo;
        for (int c = 0; c < C; c++) {
            float m1 = a[c] > b[c] ? a[c] : b[c];
            float m2 = c2[c] > d[c] ? c2[c] : d[c];
            o[c] = m1 > m2 ? m1 : m2;
        }
    }
}

void vit_adaptive_avgpool_rows(const float *x, int H, int W, int C, int OH, int OW, int p0, int p1,
                               float *out, int ldo)
{
    for (int p = p0; p < p1; p++) {
        int oy = p / OW, ox = p % OW;
        int y0 = oy * H / OH, y1 = ((oy + 1) * H + OH - 1) / OH;
        int x0 = ox * W / OW, x1 = ((ox + 1) * W + OW - 1) / OW;
        float *o = out + (size_t)p * ldo;
        window_sum(x, W, C, y0, y1, x0, x1, o);
        float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
        for (int c = 0; c < C; c++)
            o[c] *= inv;
    }
}

void vit_token_mean(const float *x, int ldx, int N, int C, float *out)
{
    memset(out, 0, (size_t)C * sizeof(float));
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * ldx;
        for (int c = 0; c < C; c++)
            out[c] += xr[c];
    }
    float inv = 1.0f / (float)N;
    for (int c = 0; c < C; c++)
        out[c] *= inv;
}
