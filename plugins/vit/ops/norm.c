/* norm.c — LayerNorm over the channels of each token row (biased variance, two passes: the
 * mean, then the centred sum of squares, which stays accurate where E[x^2]-E[x]^2 would not). */
#include <math.h>

#include "ops/ops.h"
#include "kernels/reduce.h"

VIT_HOT void vit_layernorm_rows(int rows, int C, const float *x, int ldx, const float *gamma,
                                const float *beta, float eps, float *y, int ldy)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *yr = y + (size_t)r * ldy;
        float mean = vit_row_sum(xr, C) / (float)C;
        float sq = vit_row_sq_dev(xr, C, mean);
        float inv = 1.0f / sqrtf(sq / (float)C + eps);
        for (int c = 0; c < C; c++)
            yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
    }
}
