/* patch_embed.c — the patch-embedding convolution (kernel = stride = patch) as rows for a GEMM:
 * each patch becomes one row of C*patch*patch values in the conv weight's (c, ky, kx) order, so
 * patch_embed.proj.weight [D, C, p, p] is used in place as a [D, C*p*p] Linear weight. */
#include <string.h>

#include "ops.h"

void vit_patches_to_rows(const float *chw, int C, int H, int W, int patch, int grid_w, int p0,
                         int p1, float *rows)
{
    size_t row_len = (size_t)C * patch * patch;
    for (int p = p0; p < p1; p++) {
        int gy = p / grid_w, gx = p % grid_w;
        float *dst = rows + (size_t)(p - p0) * row_len;
        for (int c = 0; c < C; c++)
            for (int ky = 0; ky < patch; ky++) {
                const float *src =
                    chw + ((size_t)c * H + (size_t)gy * patch + ky) * W + (size_t)gx * patch;
                memcpy(dst, src, (size_t)patch * sizeof(float));
                dst += patch;
            }
    }
}
