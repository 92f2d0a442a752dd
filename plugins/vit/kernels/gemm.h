/* gemm.h — the matrix products every op and family is built on (gemm.c), over the hand-written
 * kernels of gemm_kernel.c or OpenBLAS, whichever vit_gemm_init picked for this CPU.
 *
 * Linear weights are [out, in] as in PyTorch; every ld* is a row stride in floats. */
#ifndef VIT_GEMM_H
#define VIT_GEMM_H

#include "core/threadpool.h"

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

#endif
