/* gemm_kernel.h — libvit's own packed single-precision GEMM for x86-64 (AVX-512 or AVX2+FMA,
 * chosen at run time), used instead of cblas_sgemm where the CPU has them. */
#ifndef VIT_GEMM_KERNEL_H
#define VIT_GEMM_KERNEL_H

#include <stddef.h>

typedef struct vit_gemm_args {
    int M, N, K;
    float alpha;
    const float *A; /* [M, K], row stride lda */
    int lda;
    const float *B; /* trans_b: [N, K] (a Linear weight); else [K, N]; row stride ldb */
    int ldb;
    int trans_b;
    const float *bias; /* [N] or NULL, added after alpha */
    int accumulate;    /* C += result, else C = result */
    float *C;
    int ldc;
    int gelu; /* apply GELU to the finished result (after bias and accumulate) */
} vit_gemm_args;

typedef enum vit_gemm_isa {
    VIT_GEMM_BLAS,   /* cblas_sgemm */
    VIT_GEMM_AVX2,   /* AVX2 + FMA kernel */
    VIT_GEMM_AVX512, /* AVX-512F kernel */
} vit_gemm_isa;

/* The best kernel this CPU runs (VIT_GEMM_BLAS off x86-64). */
vit_gemm_isa vit_gemm_kernel_detect(void);
/* Runs on the calling thread; isa must be AVX2 or AVX512 and supported. */
void vit_gemm_kernel_run(vit_gemm_isa isa, const vit_gemm_args *g);

/* Floats of B [K, N] packed for the AVX-512 kernel: panels of 32 columns, each [K][32], zero
 * past N. */
size_t vit_f32_packed_floats(int n, int k);
/* Packs B: trans_b: B is [n, k] (a Linear weight) with row stride ldb; else [k, n]. dst holds
 * vit_f32_packed_floats(n, k) floats, 64-byte aligned. */
void vit_f32_pack(const float *b, int ldb, int trans_b, int n, int k, float *dst);
/* vit_gemm_kernel_run(VIT_GEMM_AVX512, g) with B read from `packed` (packed from a B of
 * g->N x g->K; g->B is not read). Only where the AVX-512 kernel runs. */
void vit_gemm_kernel_run_packed(const vit_gemm_args *g, const float *packed);

#endif
