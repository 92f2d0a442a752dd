/* sret.h — the SReT network description (built by sret.c from the weights, run by
 * sret_run.c), private to those two files. */
#ifndef VIT_SRET_H
#define VIT_SRET_H

#include <stddef.h>
#include <stdint.h>

#include "ops/conv.h"
#include "core/family.h"
#include "ops/group_attention.h"

#define SRET_MAX_STAGES 4
#define SRET_MAX_DEPTH 64

/* x = a*x + b*fc2(GELU(fc1(LN(x)))) */
typedef struct vit_sret_mlp {
    int hidden;
    const float *norm_w, *norm_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float a, b;
} vit_sret_mlp;

typedef struct vit_sret_entry {
    int is_block;
    vit_group_attention attn; /* blocks: LN1 + qkv + group attention + proj */
    float c1, c2;             /* blocks: x = c1*x + c2*attn */
    vit_sret_mlp mlp;         /* blocks: LN2 + Mlp with c3, c4; NLL: LN1 + Mlp with c1, c2 */
    int32_t *perm;            /* owned */
} vit_sret_entry;

typedef struct vit_sret_stage {
    int C, heads, H, W, N, num_entries;
    int max_hidden; /* row stride of the MLP scratch: a block's MLP and the NLL after it share it */
    vit_sret_entry *entries;
    int has_pool;
    vit_conv2d pool; /* to the next stage */
} vit_sret_stage;

typedef struct vit_sret_net {
    int in_chans, img_h, img_w, num_classes, num_stages;
    vit_conv2d stem[3];
    int stem_h[4], stem_w[4]; /* input, then after each stem conv */
    float *folded;            /* BN-folded stem weights and biases (owned) */
    const float *pos_embed;   /* [C0, H0, W0] */
    vit_sret_stage stages[SRET_MAX_STAGES];
    const float *norm_w, *norm_b, *head_w, *head_b;
} vit_sret_net;

/* sret_run.c: the family's arena_bytes and run. */
size_t vit_sret_arena_bytes(const vit_model *m, int threads);
int vit_sret_run(const vit_model *m, vit_run *run, const float *chw);

#endif
