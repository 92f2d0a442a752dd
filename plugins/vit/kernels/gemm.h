/* gemm.h — the matrix products every op and family is built on (gemm.c), over the hand-written
 * kernels of gemm_kernel.c or OpenBLAS, whichever vit_gemm_init picked for this CPU.
 *
 * Linear weights are [out, in] as in PyTorch; every ld* is a row stride in floats. */
#ifndef VIT_GEMM_H
#define VIT_GEMM_H

#include <stddef.h>

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
/* C[M,N] = rs[N] * C + ls[N] * (A[M,K] . W[N,K]^T + bias[N]), per column (ls, rs, bias may be
 * NULL): a residual branch added to the stream with its layer and res scales in the product's
 * epilogue, instead of a pass over the rows after it. */
void vit_linear_residual(int M, int N, int K, const float *A, int lda, const float *W,
                         const float *bias, const float *ls, const float *rs, float *C, int ldc);
/* C[M,N] = GELU(A[M,K] . W[N,K]^T + bias[N]): an MLP's fc1 with its activation applied while
 * the result is still in registers (one pass over C fewer). */
void vit_linear_gelu(int M, int N, int K, const float *A, int lda, const float *W,
                     const float *bias, float *C, int ldc);
/* The same with SiLU x / (1 + e^-x) (MobileViT's and HAT-Net's 1x1 expansions). */
void vit_linear_silu(int M, int N, int K, const float *A, int lda, const float *W,
                     const float *bias, float *C, int ldc);
/* vit_linear with beta 0, rows split over the pool's threads, each calling one-thread sgemm. */
void vit_linear_rows(vit_threadpool *pool, int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, float *C, int ldc);
/* vit_linear with its columns split over the pool's threads (in whole 32-column panels): for
 * products of few rows, a classifier head's one, which a split by rows leaves to one thread. */
void vit_linear_cols(vit_threadpool *pool, int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, float beta, float *C, int ldc);
/* The activation a product's epilogue applies (vit_gemm_args.act, vit_linear_spec.act). */
enum { VIT_GEMM_ACT_NONE, VIT_GEMM_ACT_GELU, VIT_GEMM_ACT_SILU };
/* A Linear layer as data, for products split by columns: C[M, N] (stride ldc) = act(A[M, K] .
 * W[N, K]^T + bias) or, with accumulate, rs * C + ls * (A . W^T + bias) (ls, rs, bias may be
 * NULL; act, a VIT_GEMM_ACT_*, applies without accumulate). */
typedef struct vit_linear_spec {
    int M, N, K;
    const float *A;
    int lda;
    const float *W, *bias;
    int act, accumulate;
    const float *ls, *rs;
    float *C;
    int ldc;
} vit_linear_spec;
/* Part i of `parts` of N columns, in whole 32-column panels (the packed copies' width). */
void vit_split_cols(int N, int parts, int i, int *n0, int *n1);
/* Output columns [n0, n1) of l (n0 from vit_split_cols), W read from its packed copy. */
void vit_linear_part(const vit_linear_spec *l, int n0, int n1);
/* All of l, its columns split over the pool's threads. */
void vit_linear_spec_cols(vit_threadpool *pool, const vit_linear_spec *l);
/* ---- packed weights (gemm_weights.c) ------------------------------------------------------
 * Packed copies of one model's GEMM weights, in bf16 or in fp32 laid out as the AVX-512 kernel
 * reads them: every product whose B is a weight (not in the session's own buffers) gets a copy,
 * found again by the weight's address and shape. Listed by a recording run of the model's
 * first session in that precision (all exits), then packed; immutable after that and shared
 * by every session of the model in that precision. */
typedef struct vit_gemm_weights vit_gemm_weights;

typedef enum vit_gemm_format {
    VIT_GEMM_FORMAT_FP32, /* fp32 panels for the AVX-512 kernel (vit_gemm_fp32_packing) */
    VIT_GEMM_FORMAT_BF16, /* bf16 pairs for the AVX512-BF16 kernel (vit_gemm_bf16_available) */
} vit_gemm_format;

/* 1 when fp32 weights are packed: the libvit AVX-512 backend is in use and VIT_GEMM_PACK is
 * not 0. */
int vit_gemm_fp32_packing(void);
/* 1 when bf16 products can run here: AVX512-BF16 and the libvit AVX-512 backend in use (so
 * VIT_GEMM=avx2|blas also turns bf16 off). */
int vit_gemm_bf16_available(void);
/* A recorder: while it is in use on a thread, every product on that thread whose B lies outside
 * the given buffers (the session's arena and input) is listed. NULL when out of memory. */
vit_gemm_weights *vit_gemm_weights_recorder(vit_gemm_format format, const void *arena,
                                            size_t arena_bytes, const void *input,
                                            size_t input_bytes);
/* Ends recording: packs every listed weight. -ENOMEM; the recorder is then unusable. */
int vit_gemm_weights_finish(vit_gemm_weights *w);
/* Accepts NULL; returns NULL. */
vit_gemm_weights *vit_gemm_weights_free(vit_gemm_weights *w);
vit_gemm_format vit_gemm_weights_format(const vit_gemm_weights *w);
/* Bytes of packed weights, and how many weights. */
size_t vit_gemm_weights_bytes(const vit_gemm_weights *w, int *ret_count);
/* Makes the calling thread's products use w (NULL: fp32, B packed per call); returns the
 * previous value. A session sets it around a run; vit_threadpool_run hands the caller's to its
 * workers. */
vit_gemm_weights *vit_gemm_use(vit_gemm_weights *w);
vit_gemm_weights *vit_gemm_in_use(void);

/* Splits [0, n) into parts nearly-equal contiguous ranges; returns range i in *r0, *r1. */
void vit_split_range(int n, int parts, int i, int *r0, int *r1);

#endif
