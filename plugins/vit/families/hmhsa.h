/* hmhsa.h — H-MHSA, the hierarchical multi-head self-attention token mixer of HAT-Net and
 * TransCNN, as a MetaFormer mixer (metaformer.h).
 *
 * On a token-major map x [H*W, C] with y = norm(x): qkv = 1x1 conv of y (fused layout). With a
 * grid G > 1: attention inside each G x G cell (window.c, no shift, no bias), z =
 * grid_norm(x + local), then global attention of q(z) over kv(ds_norm(AvgPool_ds(z))) (pool
 * kernel = stride = ds), plus z. With G = 1: plain global attention of qkv. The result goes
 * through proj and is added to s->x (the block's residual, fused: mixer_residual). */
#ifndef VIT_HMHSA_H
#define VIT_HMHSA_H

#include <stddef.h>

#include "families/metaformer.h"

typedef struct vit_hmhsa {
    int C, heads, grid, ds;
    const float *qkv_w, *qkv_b, *proj_w, *proj_b, *q_w, *q_b, *kv_w, *kv_b;
    vit_mf_norm grid_norm, ds_norm;
} vit_hmhsa;

/* The mixer: blk->mixer is a vit_hmhsa. */
void vit_hmhsa_mixer(const vit_mf_block *blk, vit_mf_state *s);

/* s->work floats the mixer needs on an H x W map with `threads` parts. */
size_t vit_hmhsa_work_floats(const vit_hmhsa *a, int H, int W, int threads);

#endif
