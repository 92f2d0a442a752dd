/* activation.c — element-wise activations, fused with the bias add of the Linear before them
 * so the hidden activations are read and written once. */
#include "fastmath.h"
#include "ops.h"

float vit_gelu(float x)
{
    return vit_fast_gelu(x);
}

VIT_HOT void vit_bias_gelu_rows(int rows, int N, float *x, int ldx, const float *bias)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        if (bias) {
            for (int j = 0; j < N; j++)
                xr[j] = vit_fast_gelu(xr[j] + bias[j]);
        } else {
            for (int j = 0; j < N; j++)
                xr[j] = vit_fast_gelu(xr[j]);
        }
    }
}

VIT_HOT void vit_add_bias_rows(int rows, int N, float *x, int ldx, const float *bias)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j++)
            xr[j] += bias[j];
    }
}
