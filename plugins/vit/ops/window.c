/* window.c — window attention with cyclic shift, relative position bias and the shift mask
 * (window.h). Each window's rows of qkv are gathered into a contiguous [n, 3C] tile, so the
 * per-head products are plain strided GEMMs; results are scattered back to their tokens. */
#include "ops/window.h"

#include <math.h>
#include <string.h>

#include "ops/ops.h"

void vit_window_rel_index(int ws, int *idx)
{
    int n = ws * ws;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            idx[i * n + j] = (i / ws - j / ws + ws - 1) * (2 * ws - 1) + (i % ws - j % ws + ws - 1);
}

int vit_window_count(const vit_window_attn *wa)
{
    return (wa->H / wa->ws) * (wa->W / wa->ws);
}

size_t vit_window_scratch_floats(const vit_window_attn *wa)
{
    size_t n = (size_t)wa->ws * wa->ws;
    return n * 3 * wa->C + n * wa->C + n * n + n; /* tile, output, scores, regions */
}

/* Region of a rolled coordinate along an axis of length L (Swin's three slices). */
static int region(int v, int L, int ws, int shift)
{
    return v < L - ws ? 0 : v < L - shift ? 1 : 2;
}

void vit_window_attention(const vit_window_attn *wa, const float *qkv, int w0, int w1,
                          float *scratch, float *out, int ldo)
{
    int ws = wa->ws, n = ws * ws, C = wa->C, ld = 3 * C, d = C / wa->heads;
    int nwx = wa->W / ws;
    float *tile = scratch, *res = tile + (size_t)n * ld, *scores = res + (size_t)n * C;
    float *reg = scores + (size_t)n * n;
    float scale = 1.0f / sqrtf((float)d);
    for (int w = w0; w < w1; w++) {
        int wy = w / nwx, wx = w % nwx;
        for (int t = 0; t < n; t++) {
            int ry = wy * ws + t / ws, rx = wx * ws + t % ws;
            int oy = (ry + wa->shift) % wa->H, ox = (rx + wa->shift) % wa->W;
            memcpy(tile + (size_t)t * ld, qkv + ((size_t)oy * wa->W + ox) * ld,
                   (size_t)ld * sizeof(float));
            reg[t] =
                (float)(region(ry, wa->H, ws, wa->shift) * 3 + region(rx, wa->W, ws, wa->shift));
        }
        for (int h = 0; h < wa->heads; h++) {
            vit_gemm(n, n, d, scale, tile + h * d, ld, tile + C + h * d, ld, 1, NULL, 0, scores, n);
            if (wa->bias_table)
                for (int i = 0; i < n * n; i++)
                    scores[i] += wa->bias_table[(size_t)wa->rel_index[i] * wa->heads + h];
            if (wa->shift)
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++)
                        if (reg[i] != reg[j])
                            scores[i * n + j] -= 100.0f;
            vit_softmax_rows(n, n, scores, n);
            vit_gemm(n, d, n, 1.0f, scores, n, tile + 2 * C + h * d, ld, 0, NULL, 0, res + h * d,
                     C);
        }
        for (int t = 0; t < n; t++) {
            int ry = wy * ws + t / ws, rx = wx * ws + t % ws;
            int oy = (ry + wa->shift) % wa->H, ox = (rx + wa->shift) % wa->W;
            memcpy(out + ((size_t)oy * wa->W + ox) * ldo, res + (size_t)t * C,
                   (size_t)C * sizeof(float));
        }
    }
}
