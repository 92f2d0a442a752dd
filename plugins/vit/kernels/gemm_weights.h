/* gemm_weights.h — inside gemm.c's dispatch: which products have a packed copy of their B. */
#ifndef VIT_GEMM_WEIGHTS_H
#define VIT_GEMM_WEIGHTS_H

#include <stdint.h>

#include "kernels/gemm.h"
#include "kernels/gemm_kernel.h"

/* The packed copy of g's B (vit_bf16_pack's or vit_f32_pack's layout, as w's format says)
 * when w (may be NULL) holds one for B's address and g's shape, else NULL. A recorder lists
 * g's B (when it is a weight) and returns NULL. */
const void *vit_gemm_weights_lookup(vit_gemm_weights *w, const vit_gemm_args *g);
/* 1 when w is a finished bf16 table: its session computes in bf16, products without a packed
 * weight too (B converted per call). */
int vit_gemm_weights_bf16_session(const vit_gemm_weights *w);

#endif
