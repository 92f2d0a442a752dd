/* group_attention.h — multi-head self-attention inside groups of tokens, a reusable token mixer.
 *
 * The N tokens of a map (token-major rows [N, C], see conv.h) are split into G contiguous groups
 * of N/G rows in raster order, and attention runs inside each (group, head) only: a query sees
 * the N/G keys of its own group, so the attention part costs O(N^2/G) instead of O(N^2).
 * Optionally the tokens are permuted before grouping and the result un-permuted afterwards
 * (SReT's recursive pass), so that a group gathers tokens from all over the image:
 *     grouped position i holds token perm[i];  output token perm[i] = result at position i.
 * With G = 1 and no permutation this is exactly global multi-head attention.
 *
 * One call does a whole pre-norm residual branch in place:
 *     x = alpha * x + beta * proj(GroupAttn(qkv(norm(x))))
 * (norm is an optional LayerNorm; alpha = beta = 1 is the plain residual, SReT passes its
 * learned coefficients). The permutation costs no extra pass over the tokens: the gather happens
 * where the normalised rows are written anyway (without a norm, the rows are gathered into the
 * scratch: the one copy a permutation needs; without either, qkv reads x directly), and the
 * inverse is the scatter of the residual update.
 *
 * Threads: three pool runs (norm + qkv over rows; attention over (group, head, query block)
 * items; proj + residual over rows), each part calling single-threaded GEMMs. Running allocates
 * nothing: the caller passes vit_group_attention_scratch_floats() floats of scratch. */
#ifndef VIT_GROUP_ATTENTION_H
#define VIT_GROUP_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "vit.h"

/* Query rows per attention GEMM block: bounds the scores scratch at this many rows of keys. */
#define VIT_GROUP_ATTENTION_BLOCK 64

typedef struct vit_group_attention {
    int tokens, dim, heads, groups; /* N, C, heads (divides C), G (divides N) */
    const int32_t *perm;            /* NULL, or [N]: grouped position i holds token perm[i] */
    const float *norm_w, *norm_b;   /* LayerNorm over C before qkv; NULL: no norm */
    float norm_eps;
    const float *qkv_w, *qkv_b;   /* [3C, C] (rows q | k | v, head h at h*d), [3C] or NULL */
    const float *proj_w, *proj_b; /* [C, C], [C] or NULL */
} vit_group_attention;

/* 0 when the shapes are consistent and perm (if any) is a permutation of [0, N); else -EINVAL
 * with a message naming `what` (e.g. "file.safetensors: transformers.0.blocks.2"). */
int vit_group_attention_check(const vit_group_attention *ga, const char *what, vit_error *err);

/* Floats of scratch a run with `threads` threads needs. */
size_t vit_group_attention_scratch_floats(const vit_group_attention *ga, int threads);

/* Multiply-adds of one run (qkv, q k^T and attn v inside the groups, proj). */
double vit_group_attention_macs(const vit_group_attention *ga);

/* x [N, C] = alpha * x + beta * mixer(x), in place, over the pool's threads (pool may be NULL
 * with threads = 1). */
void vit_group_attention_run(const vit_group_attention *ga, vit_threadpool *pool, int threads,
                             float alpha, float beta, float *x, float *scratch);

/* The core: attention of query rows [r0, r1) (within the group, 0 <= r0 < r1 <= N/G) of group g
 * and head h, on a fused qkv buffer [N, 3C] whose rows are in grouped order; writes rows g*N/G +
 * r0 .. of out (head h at column h*d, row stride ldo). scores: (r1 - r0) * N/G floats. */
void vit_group_attention_rows(int tokens, int dim, int heads, int groups, const float *qkv, int g,
                              int h, int r0, int r1, float *scores, float *out, int ldo);

#endif
