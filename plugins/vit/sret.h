/* sret.h — the SReT network description (built by family_sret.c from the weights, run by
 * sret_run.c), private to those two files. */
#ifndef VIT_SRET_H
#define VIT_SRET_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "family.h"
#include "group_attention.h"

#define SRET_MAX_STAGES 4
#define SRET_MAX_DEPTH 64

/* x = a*x + b*fc2(GELU(fc1(LN(x)))) */
typedef struct sret_mlp {
    int hidden;
    const float *norm_w, *norm_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float a, b;
} sret_mlp;

typedef struct sret_entry {
    int is_block;
    vit_group_attention attn; /* blocks: LN1 + qkv + group attention + proj */
    float c1, c2;             /* blocks: x = c1*x + c2*attn */
    sret_mlp mlp;             /* blocks: LN2 + Mlp with c3, c4; NLL: LN1 + Mlp with c1, c2 */
    int32_t *perm;            /* owned */
} sret_entry;

typedef struct sret_stage {
    int C, heads, H, W, N, num_entries;
    int max_hidden; /* row stride of the MLP scratch: a block's MLP and the NLL after it share it */
    sret_entry *entries;
    int has_pool;
    vit_conv2d pool; /* to the next stage */
} sret_stage;

typedef struct sret_net {
    int in_chans, img_h, img_w, num_classes, num_stages;
    vit_conv2d stem[3];
    int stem_h[4], stem_w[4]; /* input, then after each stem conv */
    float *folded;            /* BN-folded stem weights and biases (owned) */
    const float *pos_embed;   /* [C0, H0, W0] */
    sret_stage stages[SRET_MAX_STAGES];
    const float *norm_w, *norm_b, *head_w, *head_b;
} sret_net;

/* sret_run.c: the family's arena_bytes and run. */
size_t sret_arena_bytes(const vit_model *m, int threads);
int sret_run(const vit_model *m, vit_run *run, const float *chw);

#endif
