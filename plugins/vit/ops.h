/* ops.h — the numeric building blocks families are made of.
 *
 * Plain functions over float arrays, row-major, with the shapes in their parameters; each is
 * single-threaded unless it takes a pool, so families decide how rows are split over threads.
 * Linear weights are [out, in] as in PyTorch; every ld* is a row stride in floats. */
#ifndef VIT_OPS_H
#define VIT_OPS_H

#include <stddef.h>

#include "threadpool.h"

/* Element-wise hot loops get AVX-512 and AVX2 clones, picked when the library loads, in builds
 * that do not target the build machine (-Dnative=false, as packages are built). */
#if defined(VIT_MULTIVERSION)
#define VIT_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VIT_HOT
#endif

/* gemm.c --------------------------------------------------------------------------------- */
/* Picks the GEMM backend and makes OpenBLAS single-threaded (once per process): libvit
 * splits work itself. Called by vit_model_open. */
void vit_gemm_init(void);
/* Human-readable backend in use, e.g. "libvit AVX-512" or "OpenBLAS Haswell". */
const char *vit_gemm_backend(void);
/* Forces a backend ("blas", "avx2", "avx512") for tests; -1 if this CPU lacks it. */
int vit_gemm_select(const char *name);
/* C[M,N] = alpha * A[M,K] . op(B) (+ C when accumulate) (+ bias[N] when non-NULL), where op(B)
 * is B^T for trans_b (B [N,K], a Linear weight) else B [K,N]. */
void vit_gemm(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              int trans_b, const float *bias, int accumulate, float *C, int ldc);
/* C[M,N] = beta * C + A[M,K] . W[N,K]^T (+ bias[N] when non-NULL); beta is 0 or 1. */
void vit_linear(int M, int N, int K, const float *A, int lda, const float *W, const float *bias,
                float beta, float *C, int ldc);
/* C[M,N] = GELU(A[M,K] . W[N,K]^T + bias[N]): an MLP's fc1 with its activation applied while
 * the result is still in registers (one pass over C fewer). */
void vit_linear_gelu(int M, int N, int K, const float *A, int lda, const float *W,
                     const float *bias, float *C, int ldc);
/* vit_linear with beta 0, rows split over the pool's threads, each calling one-thread sgemm. */
void vit_linear_rows(vit_threadpool *pool, int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, float *C, int ldc);
/* Splits [0, n) into parts nearly-equal contiguous ranges; returns range i in *r0, *r1. */
void vit_split_range(int n, int parts, int i, int *r0, int *r1);

/* norm.c --------------------------------------------------------------------------------- */
/* y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta over C channels, biased variance. */
void vit_layernorm_rows(int rows, int C, const float *x, int ldx, const float *gamma,
                        const float *beta, float eps, float *y, int ldy);

/* activation.c --------------------------------------------------------------------------- */
float vit_gelu(float x); /* exact erf form, |error| < 3e-7 */
/* x[r][j] = GELU(x[r][j] + bias[j]) (bias may be NULL). */
void vit_bias_gelu_rows(int rows, int N, float *x, int ldx, const float *bias);
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
