/* attention.c — softmax and multi-head self-attention on a fused qkv buffer.
 *
 * Heads are never copied out: q, k and v of head h are strided views of the [N, 3C] buffer
 * (leading dimension 3C), so QK^T and AV are two GEMM calls per head, and each head's output
 * lands directly in its columns of the [N, C] result. */
#include <math.h>

#include "kernels/fastmath.h"
#include "ops/ops.h"
#include "kernels/reduce.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/fastmath512.h"

__attribute__((target("avx512f"))) static void softmax_512(int rows, int N, float *x, int ldx)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        for (int j = 0; j < N; j += 16) {
            __mmask16 m = N - j >= 16 ? 0xffff : (__mmask16)((1u << (N - j)) - 1);
            mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, xr + j));
        }
        __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        for (int j = 0; j < N; j += 16) {
            __mmask16 m = N - j >= 16 ? 0xffff : (__mmask16)((1u << (N - j)) - 1);
            __m512 e = vit_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + j), vmax));
            sum = _mm512_mask_add_ps(sum, m, sum, e);
            _mm512_mask_storeu_ps(xr + j, m, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (int j = 0; j < N; j += 16) {
            __mmask16 m = N - j >= 16 ? 0xffff : (__mmask16)((1u << (N - j)) - 1);
            _mm512_mask_storeu_ps(xr + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + j), inv));
        }
    }
}
#endif

VIT_HOT void vit_softmax_rows(int rows, int N, float *x, int ldx)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (vit_have_avx512()) {
        softmax_512(rows, N, x, ldx);
        return;
    }
#endif
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * ldx;
        float mx = vit_row_max(xr, N);
        for (int j = 0; j < N; j++)
            xr[j] = vit_fast_expf(xr[j] - mx);
        float inv = 1.0f / vit_row_sum(xr, N);
        for (int j = 0; j < N; j++)
            xr[j] *= inv;
    }
}

void vit_attention_rows(int N, int C, int heads, const float *qkv, int r0, int r1, float *scores,
                        float *out, int ldo)
{
    int rows = r1 - r0, d = C / heads, ld = 3 * C;
    if (rows <= 0)
        return;
    float scale = 1.0f / sqrtf((float)d);
    for (int h = 0; h < heads; h++) {
        const float *q = qkv + (size_t)r0 * ld + h * d;
        const float *k = qkv + C + h * d;
        const float *v = qkv + 2 * C + h * d;
        vit_gemm(rows, N, d, scale, q, ld, k, ld, 1, NULL, 0, scores, N);
        vit_softmax_rows(rows, N, scores, N);
        vit_gemm(rows, d, N, 1.0f, scores, N, v, ld, 0, NULL, 0, out + (size_t)r0 * ldo + h * d,
                 ldo);
    }
}
