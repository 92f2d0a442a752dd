/* norm2d.h — norms of feature maps stored token-major ([H*W, C], channels contiguous; see
 * conv.h): GroupNorm with one group (statistics over all H*W*C values of the map, then a
 * per-channel affine), and a plain per-channel affine (an inference BatchNorm, folded to
 * scale/shift at load). */
#ifndef VIT_NORM2D_H
#define VIT_NORM2D_H

#include <stddef.h>

/* Partial sums of a GroupNorm(1): rows [r0, r1) of x [rows, C] (stride ldx). Accumulated in
 * double so a map of 10^5..10^6 values keeps float precision. Combine partials by adding. */
double vit_gn_partial_sum(const float *x, int ldx, int C, int r0, int r1);
double vit_gn_partial_sq_dev(const float *x, int ldx, int C, int r0, int r1, double mean);

/* y[r][c] = (x[r][c] - mean) * inv * gamma[c] + beta[c] for rows [r0, r1); with mean 0 and
 * inv 1 this is a per-channel affine (a folded BatchNorm). In place is fine. */
void vit_channel_affine_rows(const float *x, int ldx, int C, int r0, int r1, float mean, float inv,
                             const float *gamma, const float *beta, float *y, int ldy);

/* Inference BatchNorm as a per-channel affine: scale = gamma / sqrt(var + eps), shift = beta -
 * mean * scale. */
void vit_bn_to_affine(int C, const float *gamma, const float *beta, const float *mean,
                      const float *var, float eps, float *ret_scale, float *ret_shift);

#endif
