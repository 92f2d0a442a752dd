/* ops.h — the numeric building blocks families are made of.
 *
 * Plain functions over float arrays, row-major, with the shapes in their parameters; each is
 * single-threaded unless it takes a pool, so families decide how rows are split over threads.
 * Linear weights are [out, in] as in PyTorch; every ld* is a row stride in floats. The GEMM
 * entry points live one room down, in kernels/gemm.h, and come with this header. */
#ifndef VIT_OPS_H
#define VIT_OPS_H

#include <stddef.h>

#include "core/threadpool.h"
#include "kernels/gemm.h"

/* Element-wise hot loops get AVX-512 and AVX2 clones, picked when the library loads, in builds
 * that do not target the build machine (-Dnative=false, as packages are built). */
#if defined(VIT_MULTIVERSION)
#define VIT_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VIT_HOT
#endif

/* norm.c --------------------------------------------------------------------------------- */
/* y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta over C channels, biased variance. */
void vit_layernorm_rows(int rows, int C, const float *x, int ldx, const float *gamma,
                        const float *beta, float eps, float *y, int ldy);

/* activation.c --------------------------------------------------------------------------- */
float vit_gelu(float x); /* exact erf form, |error| < 3e-7 * max(1, |x|) */
/* x[r][j] = GELU(x[r][j] + bias[j]) (bias may be NULL). */
void vit_bias_gelu_rows(int rows, int N, float *x, int ldx, const float *bias);
/* In place: GELU's tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), and
 * QuickGELU x * sigmoid(1.702x) (OpenAI CLIP). */
void vit_gelu_tanh_rows(int rows, int N, float *x, int ldx);
void vit_quick_gelu_rows(int rows, int N, float *x, int ldx);
/* In place: SiLU x * sigmoid(x) = x / (1 + e^-x). */
void vit_silu_rows(int rows, int N, float *x, int ldx);
/* x[r][j] += bias[j]. */
void vit_add_bias_rows(int rows, int N, float *x, int ldx, const float *bias);

/* attention.c ---------------------------------------------------------------------------- */
/* In place, over N entries of each row. */
void vit_softmax_rows(int rows, int N, float *x, int ldx);
/* Multi-head self-attention for query rows [r0, r1) of a fused qkv buffer [N, 3C] (q | k | v,
 * head h owning columns h*d..h*d+d-1 of each third): out[r] (head h at column h*d) =
 * softmax(q k^T * d^-0.5) v. scores: (r1 - r0) * N floats of scratch. */
void vit_attention_rows(int N, int C, int heads, const float *qkv, int r0, int r1, float *scores,
                        float *out, int ldo);

/* patch_embed.c -------------------------------------------------------------------------- */
/* Unfolds non-overlapping patch x patch tiles of a CHW image for patches [p0, p1) of a
 * grid_h x grid_w grid (row-major) into rows of C*patch*patch values ordered (c, ky, kx), the
 * layout of a conv weight [out, C, patch, patch]. */
void vit_patches_to_rows(const float *chw, int C, int H, int W, int patch, int grid_w, int p0,
                         int p1, float *rows);

#endif
