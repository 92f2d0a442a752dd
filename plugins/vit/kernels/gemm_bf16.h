/* gemm_bf16.h — bf16 products for a bf16 session: weights converted and packed once per model
 * (vit_bf16_pack), activations converted while A is read, AVX512-BF16 dot products (vdpbf16ps)
 * accumulating in fp32, and the same epilogue (alpha, bias, accumulate, GELU) as the fp32
 * kernels. gemm.c decides which products take this path (gemm.h: vit_gemm_weights). */
#ifndef VIT_GEMM_BF16_H
#define VIT_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm_kernel.h"

/* 1 when the CPU (and the OS) run AVX512-BF16: CPUID leaf 7 subleaf 1, EAX bit 5, with
 * AVX-512F and AVX-512BW (every such CPU has both) usable. */
int vit_cpu_has_avx512bf16(void);

/* Round to nearest even, NaN kept a NaN. */
uint16_t vit_f32_to_bf16(float f);

/* Words (pairs of bf16) of B [K, N] packed for the kernel: panels of 32 columns, each holding
 * for every k pair (2p, 2p+1) the 32 columns' pairs; zero past N and past an odd K. */
size_t vit_bf16_packed_words(int n, int k);
/* Packs B: trans_b: B is [n, k] (a Linear weight) with row stride ldb; else [k, n]. dst holds
 * vit_bf16_packed_words(n, k) words, 64-byte aligned. */
void vit_bf16_pack(const float *b, int ldb, int trans_b, int n, int k, uint32_t *dst);

/* C = alpha * A . B (+ C) (+ bias) (GELU) as vit_gemm_kernel_run, B from `packed` (packed from a
 * B of g->N x g->K; g->B is not read). Only on a CPU where vit_cpu_has_avx512bf16. */
void vit_gemm_bf16_run(const vit_gemm_args *g, const uint32_t *packed);
/* The same with B an activation (g->B, either layout), converted and packed per call: a bf16
 * session's q k^T and P v. Only on a CPU where vit_cpu_has_avx512bf16. */
void vit_gemm_bf16_act(const vit_gemm_args *g);

#endif
