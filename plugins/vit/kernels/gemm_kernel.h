/* gemm_kernel.h — libvit's own packed single-precision GEMM for x86-64 (AVX-512 or AVX2+FMA,
 * chosen at run time), used instead of cblas_sgemm where the CPU has them. */
#ifndef VIT_GEMM_KERNEL_H
#define VIT_GEMM_KERNEL_H

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

#endif
