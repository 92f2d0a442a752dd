/* attention.c — softmax and multi-head self-attention on a fused qkv buffer.
 *
 * Heads are never copied out: q, k and v of head h are strided views of the [N, 3C] buffer
 * (leading dimension 3C), so QK^T and AV are two GEMM calls per head, and each head's output
 * lands directly in its columns of the [N, C] result. */
#include <math.h>

#include "fastmath.h"
#include "ops.h"
#include "reduce.h"

VIT_HOT void vit_softmax_rows(int rows, int N, float *x, int ldx)
{
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
