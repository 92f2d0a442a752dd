/* gemm_kernel.h — libvit's own packed single-precision GEMM for x86-64 (AVX-512 or AVX2+FMA,
 * chosen at run time), used instead of cblas_sgemm where the CPU has them. */
#ifndef VIT_GEMM_KERNEL_H
#define VIT_GEMM_KERNEL_H

#include <stddef.h>

#include "kernels/gemm.h" /* VIT_GEMM_ACT_* */

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
    int act; /* VIT_GEMM_ACT_*: applied to the finished result (after bias and accumulate) */
    /* A residual branch's scales, [N] or NULL: the result is ls * (alpha A.B + bias), and with
     * accumulate C's old value counts as rs * C (C = rs * C + ls * branch, MetaFormer's res and
     * layer scales). */
    const float *ls, *rs;
} vit_gemm_args;

/* What a register tile's store does with its accumulators acc (tile512.h, the AVX2 tile):
 * r = alpha * acc + bias; r *= scale; with TILE_LOAD_C r += C (times c_scale with
 * TILE_SCALE_C); with TILE_GELU r = GELU(r), TILE_SILU r = SiLU(r); C = r. Per K block: bias
 * and the activation with the last,
 * C loaded by every block after the first and by the first when accumulating (then scaled by
 * rs), scale (ls) by every block, as ls * (a + b) = ls * a + ls * b. */
#define TILE_LOAD_C 1
#define TILE_GELU 2
#define TILE_SCALE_C 4
#define TILE_SILU 8

typedef struct vit_tile_epilogue {
    float alpha;
    int flags;
    const float *bias, *scale, *c_scale; /* at the tile's first column, or NULL */
} vit_tile_epilogue;

/* The epilogue of the tile at column n0 for the K block starting at k0 (last: the final one). */
static inline vit_tile_epilogue vit_tile_epilogue_at(const vit_gemm_args *g, int k0, int last,
                                                     int n0)
{
    int first_acc = k0 == 0 && g->accumulate;
    vit_tile_epilogue e = {
        g->alpha,
        (k0 > 0 || g->accumulate ? TILE_LOAD_C : 0) |
            (last && g->act == VIT_GEMM_ACT_GELU ? TILE_GELU : 0) |
            (last && g->act == VIT_GEMM_ACT_SILU ? TILE_SILU : 0) |
            (first_acc && g->rs ? TILE_SCALE_C : 0),
        last && g->bias ? g->bias + n0 : NULL,
        g->ls ? g->ls + n0 : NULL,
        first_acc && g->rs ? g->rs + n0 : NULL,
    };
    return e;
}

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
