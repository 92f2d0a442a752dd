/* gemm_weights.h — inside gemm.c's dispatch: which products have a bf16 copy of their B. */
#ifndef VIT_GEMM_WEIGHTS_H
#define VIT_GEMM_WEIGHTS_H

#include <stdint.h>

#include "kernels/gemm.h"
#include "kernels/gemm_kernel.h"

/* The packed bf16 copy of g's B when w (may be NULL) holds one for B's address and g's shape,
 * else NULL. A recorder lists g's B (when it is a weight) and returns NULL. */
const uint32_t *vit_gemm_weights_lookup(vit_gemm_weights *w, const vit_gemm_args *g);

#endif
