/* norm2d.c — GroupNorm(1) statistics and per-channel affines on token-major maps (norm2d.h).
 * GroupNorm's statistics span the whole map, so callers split rows over threads, add the
 * partial sums, then apply the affine row-parallel: two passes (mean, then centred squares), as
 * LayerNorm does, to stay accurate where E[x^2] - E[x]^2 would cancel. */
#include "ops/norm2d.h"

#include <math.h>

#include "ops/ops.h"

VIT_HOT double vit_gn_partial_sum(const float *x, int ldx, int C, int r0, int r1)
{
    double s = 0.0;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * ldx;
        double acc[8] = {0};
        int c = 0;
        for (; c + 8 <= C; c += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += xr[c + l];
        for (; c < C; c++)
            s += xr[c];
        for (int l = 0; l < 8; l++)
            s += acc[l];
    }
    return s;
}

VIT_HOT double vit_gn_partial_sq_dev(const float *x, int ldx, int C, int r0, int r1, double mean)
{
    double s = 0.0;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * ldx;
        double acc[8] = {0};
        int c = 0;
        for (; c + 8 <= C; c += 8)
            for (int l = 0; l < 8; l++) {
                double d = xr[c + l] - mean;
                acc[l] += d * d;
            }
        for (; c < C; c++)
            s += (xr[c] - mean) * (xr[c] - mean);
        for (int l = 0; l < 8; l++)
            s += acc[l];
    }
    return s;
}

VIT_HOT void vit_channel_affine_rows(const float *x, int ldx, int C, int r0, int r1, float mean,
                                     float inv, const float *gamma, const float *beta, float *y,
                                     int ldy)
{
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *yr = y + (size_t)r * ldy;
        for (int c = 0; c < C; c++)
            yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
    }
}

void vit_bn_to_affine(int C, const float *gamma, const float *beta, const float *mean,
                      const float *var, float eps, float *ret_scale, float *ret_shift)
{
    for (int c = 0; c < C; c++) {
        float s = gamma[c] / sqrtf(var[c] + eps);
        ret_scale[c] = s;
        ret_shift[c] = beta[c] - mean[c] * s;
    }
}
