/* mobilevit.h — the MobileViT (v1) network description, built from the weights by mobilevit.c
 * and run by mobilevit_run.c; private to those two files. The maths is in mobilevit.c's header.
 *
 * Maps are token-major ([H*W, C], conv.h). A MobileViT block's transformer runs on its map
 * stretched to TH x TW (multiples of the patch p) with the rows regrouped into p*p sequences of
 * seq tokens, one per offset inside the patch: map pixel q lives in row tok_row[q]. Token-wise
 * steps (LayerNorm, Linear, MLP) do not care about the order; attention stays inside a
 * sequence. */
#ifndef VIT_MOBILEVIT_H
#define VIT_MOBILEVIT_H

#include "core/family.h"
#include "families/metaformer.h"
#include "ops/conv.h"

#define VIT_MV_MAX_STAGES 8
#define VIT_MV_BN_EPS 1e-5f
#define VIT_MV_LN_EPS 1e-5f

/* MobileNetV2 inverted residual: SiLU(pw1) -> SiLU(dw, stride) -> pw2 (+ x). BatchNorms folded. */
typedef struct vit_mv_bottle {
    int H, W, OH, OW; /* input and output grids */
    int residual;     /* cin == cout and stride 1 */
    vit_conv2d pw1, dw, pw2;
} vit_mv_bottle;

/* The attention of one transformer layer (a vit_mf_block's mixer): fused qkv, `heads` heads,
 * within each of `groups` contiguous sequences of `seq` rows; proj added to x. */
typedef struct vit_mv_attn {
    int D, heads, groups, seq;
    const float *qkv_w, *qkv_b;   /* [3D, D], [3D] */
    const float *proj_w, *proj_b; /* [D, D], [D] */
} vit_mv_attn;

typedef struct vit_mv_vit {
    int C, D, H, W, TH, TW; /* map width and grid, transformer width and (stretched) grid */
    int stretched;          /* TH x TW differs from H x W: bilinear there and back */
    int *tok_row;           /* [TH * TW]: the transformer row of each stretched-map pixel */
    vit_conv2d kxk, c1x1;   /* SiLU after kxk; c1x1 has no bias */
    int depth;
    vit_mf_block *layers; /* LayerNorm blocks, SiLU MLP, mixer vit_mv_attn */
    vit_mf_norm norm;
    vit_conv2d proj, fusion; /* SiLU after each; fusion reads [input | proj output] */
} vit_mv_vit;

typedef struct vit_mv_block {
    int is_vit;
    vit_mv_bottle bottle;
    vit_mv_vit vit;
} vit_mv_block;

typedef struct vit_mv_stage {
    int depth;
    vit_mv_block *blocks;
} vit_mv_stage;

typedef struct vit_mv_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stages, patch, heads;
    vit_conv2d stem; /* SiLU after it */
    int stem_h, stem_w;
    vit_mv_stage stages[VIT_MV_MAX_STAGES];
    vit_conv2d final_conv; /* SiLU after it */
    int final_h, final_w;
    const float *head_w, *head_b;
} vit_mv_net;

/* mobilevit_run.c: the transformer layers' mixer, and the family's arena_bytes and run. */
void vit_mv_attn_mixer(const vit_mf_block *blk, vit_mf_state *s);
size_t vit_mv_arena_bytes(const vit_model *m, int threads);
int vit_mv_run(const vit_model *m, vit_run *run, const float *chw);

#endif
