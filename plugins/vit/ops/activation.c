/* activation.c — element-wise activations, fused with the bias add of the Linear before them
 * so the hidden activations are read and written once. */
#include <math.h>

#include "kernels/fastmath.h"
#include "ops/ops.h"

float vit_gelu(float x)
{
    return vit_fast_gelu(x);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/fastmath512.h"

/* The same maths as vit_fast_gelu with AVX-512 instructions the compiler will not pick on its
 * own: a Newton-refined reciprocal instead of a division, masked row tails. */
__attribute__((target("avx512f"))) static void bias_gelu_512(int rows, int N, float *x, int ldx,
                                                             const float *bias)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j += 16) {
            __mmask16 m = N - j >= 16 ? 0xffff : (__mmask16)((1u << (N - j)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(m, xr + j);
            if (bias)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + j));
            __m512 y = vit_gelu512(v);
            _mm512_mask_storeu_ps(xr + j, m, y);
        }
    }
}

__attribute__((target("avx512f"))) static void silu_512(int rows, int N, float *x, int ldx)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j += 16) {
            __mmask16 m = N - j >= 16 ? 0xffff : (__mmask16)((1u << (N - j)) - 1);
            _mm512_mask_storeu_ps(xr + j, m, vit_silu512(_mm512_maskz_loadu_ps(m, xr + j)));
        }
    }
}

#endif

VIT_HOT void vit_silu_rows(int rows, int N, float *x, int ldx)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (vit_have_avx512()) {
        silu_512(rows, N, x, ldx);
        return;
    }
#endif
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j++)
            xr[j] = xr[j] / (1.0f + vit_fast_expf(-xr[j]));
    }
}

VIT_HOT void vit_bias_gelu_rows(int rows, int N, float *x, int ldx, const float *bias)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (vit_have_avx512()) {
        bias_gelu_512(rows, N, x, ldx, bias);
        return;
    }
#endif
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

void vit_gelu_tanh_rows(int rows, int N, float *x, int ldx)
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < N; j++) {
            float v = x[(size_t)r * ldx + j];
            x[(size_t)r * ldx + j] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
        }
}

void vit_quick_gelu_rows(int rows, int N, float *x, int ldx)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < N; j++) {
            float v = x[(size_t)r * ldx + j];
            x[(size_t)r * ldx + j] = v / (1.0f + expf(-1.702f * v));
        }
}
