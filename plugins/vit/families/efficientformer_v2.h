/* efficientformer_v2.h — the EfficientFormerV2 network description, built from the weights by
 * efficientformer_v2.c and run by efficientformer_v2_run.c; private to those two files. The
 * maths is in efficientformer_v2.c's header. Maps are token-major ([H*W, C], conv.h); every conv
 * has its BatchNorm folded in. */
#ifndef VIT_EFFICIENTFORMER_V2_H
#define VIT_EFFICIENTFORMER_V2_H

#include "core/family.h"
#include "families/metaformer.h"
#include "ops/conv.h"

#define VIT_EF2_MAX_STAGES 8
#define VIT_EF2_BN_EPS 1e-5f

/* Attention2d (a block's token mixer, down = 0) or Attention2dDownsample (down = 1) on an
 * H x W map of width cin. Attention runs on a grid of n = h * w queries against m keys:
 *   mixer: the map itself (h, w = H, W), or with stride_conv its stride-2 grid, bilinear x2
 *          back to H x W after; keys = queries; talking heads around the softmax
 *   down:  queries on the stride-2 grid h x w, keys on all m = H * W pixels */
typedef struct vit_ef2_attn {
    int down, strided;
    int heads, kd, d; /* q, k: heads * kd; v: heads * d */
    int H, W, h, w, m;
    int cin, cout;
    vit_conv2d stride_conv; /* mixer, strided: depthwise 3x3 s2 */
    vit_conv2d q_local;     /* down: depthwise 3x3 s2 (bias, no norm) */
    vit_conv2d q, k, v;     /* 1x1 (the downsample's q after q_local + the subsampled map) */
    vit_conv2d v_local;     /* depthwise 3x3 (s2 when down) */
    vit_conv2d proj;        /* 1x1 heads * d -> cout */
    const float *th1_w, *th1_b, *th2_w, *th2_b; /* mixer: talking heads [heads, heads], [heads] */
    const float *table;                         /* down: attention_biases [heads, m] */
    float *bias;                                /* mixer: the table spread out [heads, n, n] */
} vit_ef2_attn;

typedef struct vit_ef2_stage {
    int dim, depth, H, W; /* width, blocks, grid after the downsample */
    int has_down;
    vit_conv2d down;         /* 3x3 s2 */
    vit_ef2_attn *down_attn; /* or NULL: added to the downsample conv's output */
    vit_mf_block *blocks;    /* mixer vit_ef2_attn or none; MLP fc1 -> dw -> fc2, GELUs */
} vit_ef2_stage;

typedef struct vit_ef2_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stages, stem_h, stem_w;
    vit_conv2d stem1, stem2; /* GELU after each */
    vit_ef2_stage stages[VIT_EF2_MAX_STAGES];
    vit_mf_norm norm; /* the final BatchNorm as an affine */
    const float *head_w, *head_b, *dist_w, *dist_b;
} vit_ef2_net;

/* efficientformer_v2_run.c: the token mixer, and the family's arena_bytes and run. */
void vit_ef2_attn_mixer(const vit_mf_block *blk, vit_mf_state *s);
size_t vit_ef2_arena_bytes(const vit_model *m, int threads);
int vit_ef2_run(const vit_model *m, vit_run *run, const float *chw);

#endif
