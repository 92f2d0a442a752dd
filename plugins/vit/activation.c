/* activation.c — element-wise activations, fused with the bias add of the Linear before them
 * so the hidden activations are read and written once. */
#include "fastmath.h"
#include "ops.h"

float vit_gelu(float x)
{
    return 0.5f * x * (1.0f + vit_fast_erff(x * 0.70710678118654752f));
}

void vit_bias_gelu_rows(int rows, int N, float *x, int ldx, const float *bias)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        if (bias) {
            for (int j = 0; j < N; j++)
                xr[j] = vit_gelu(xr[j] + bias[j]);
        } else {
            for (int j = 0; j < N; j++)
                xr[j] = vit_gelu(xr[j]);
        }
    }
}

void vit_add_bias_rows(int rows, int N, float *x, int ldx, const float *bias)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j++)
            xr[j] += bias[j];
    }
}
