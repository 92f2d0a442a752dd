/* resize.c — bilinear map resizing (resize.h). The source position is computed in double from
 * the scale in / out, as PyTorch does for its size= form; every output pixel mixes four
 * contiguous channel vectors. */
#include "ops/resize.h"

#include <stddef.h>

#include "ops/ops.h"

/* Source cells and the weight of the second along one axis, for output cell o. */
static void axis_taps(int in, int out, int o, int *ret_i0, int *ret_i1, float *ret_f)
{
    double s = ((double)o + 0.5) * ((double)in / (double)out) - 0.5;
    if (s < 0.0)
        s = 0.0;
    int i0 = (int)s;
    if (i0 > in - 1)
        i0 = in - 1;
    *ret_i0 = i0;
    *ret_i1 = i0 < in - 1 ? i0 + 1 : i0;
    *ret_f = (float)(s - i0);
}

VIT_HOT void vit_bilinear_rows(const float *x, const int *x_rows, int H, int W, int C, int OH,
                               int OW, int p0, int p1, float *out, const int *out_rows, int ldo)
{
    for (int p = p0; p < p1; p++) {
        int y0, y1, x0, x1;
        float fy, fx;
        axis_taps(H, OH, p / OW, &y0, &y1, &fy);
        axis_taps(W, OW, p % OW, &x0, &x1, &fx);
        int src[4] = {y0 * W + x0, y0 * W + x1, y1 * W + x0, y1 * W + x1};
        const float *a[4];
        for (int i = 0; i < 4; i++)
            a[i] = x + (size_t)(x_rows ? x_rows[src[i]] : src[i]) * C;
        float w00 = (1.0f - fy) * (1.0f - fx), w01 = (1.0f - fy) * fx;
        float w10 = fy * (1.0f - fx), w11 = fy * fx;
        float *o = out + (size_t)(out_rows ? out_rows[p] : p) * ldo;
        for (int c = 0; c < C; c++)
            o[c] = w00 * a[0][c] + w01 * a[1][c] + w10 * a[2][c] + w11 * a[3][c];
    }
}
