/* vit.h — the ViT family's network description, shared by its build (vit_build.c: weights,
 * config.json, timm's variants) and its run (vit.c).
 *
 * timm's VisionTransformer, inference (vision_transformer.py; MODELS.md):
 *   x = patch_embed.proj(img) [+ bias; CLIP's pre_norm models have none]  -> [N, D]
 *   tokens = [cls] [dist] [reg x R] patches; pos_embed covers all of them, or only the patches
 *     (no_embed_class: DeiT III, DINOv2); resampled (antialiased bicubic, like timm's
 *     resample_abs_pos_embed) when the run grid differs from the stored one
 *   [x = norm_pre(x)]                              (pre_norm, CLIP)
 *   block: x += ls1 * proj(MHSA(norm1(x)));  x += ls2 * fc2(act(fc1(norm2(x))))
 *     MHSA with optional qkv bias and per-head LayerNorm of q and k (qk_norm); act is exact
 *     GELU, tanh GELU (big SigLIPs) or QuickGELU x*sigmoid(1.702x) (`*_quickgelu_*`)
 *   [x = norm(x)]                                  (unless fc_norm replaces it, or final_norm off)
 *   pool: token (x[0]) | avg / max / avgmax over the patch tokens (all tokens with
 *     pool_include_prefix) | map: one latent query attends over them (attn_pool.*: q, kv,
 *     [q_norm, k_norm], proj, then y += mlp(norm(y)))
 *   [fc_norm] -> head; distilled: (head(x0) + head_dist(x1)) / 2
 * LayerNorm eps 1e-6 (timm's), 1e-5 for the `*_clip_*` names. */
#ifndef VIT_FAMILY_VIT_H
#define VIT_FAMILY_VIT_H

#include "core/binder.h"
#include "ops/patch_embed.h"

typedef enum vit_pool {
    VIT_POOL_TOKEN,
    VIT_POOL_AVG,
    VIT_POOL_MAX,
    VIT_POOL_AVGMAX,
    VIT_POOL_MAP,
} vit_pool;

typedef enum vit_act {
    VIT_ACT_GELU,
    VIT_ACT_GELU_TANH,
    VIT_ACT_QUICK_GELU,
} vit_act;

typedef struct vit_block {
    const float *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    const float *q_norm_w, *q_norm_b, *k_norm_w, *k_norm_b; /* qk_norm, NULL when absent */
    const float *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    const float *ls1, *ls2; /* layer scale, NULL when absent */
} vit_block;

/* The attention-pool head (global_pool "map"): one latent query. */
typedef struct vit_attn_pool {
    const float *latent, *q_w, *q_b, *kv_w, *kv_b;
    const float *q_norm_w, *q_norm_b, *k_norm_w, *k_norm_b;
    const float *proj_w, *proj_b, *norm_w, *norm_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    int hidden;
} vit_attn_pool;

typedef struct vit_net {
    int in_chans, img_h, img_w, patch, grid_h, grid_w, num_patches;
    int dim, depth, heads, hidden, num_classes;
    int num_prefix, num_reg, tokens; /* prefix = cls (+ dist) (+ registers) */
    vit_pool pool;
    int pool_first; /* first token pooled: num_prefix, or 0 with pool_include_prefix */
    vit_act act;
    float eps;
    vit_patch_embed pe; /* optional stem + patch conv */
    const float *cls_token, *dist_token, *reg_token;
    const float *pos_embed; /* NULL with pos_embed "none" */
    int pos_first;          /* first token the position embedding covers (0 or num_prefix) */
    float *pos_owned;       /* a resampled pos_embed (owned) */
    const float *norm_pre_w, *norm_pre_b, *norm_w, *norm_b, *fc_norm_w, *fc_norm_b;
    const float *head_w, *head_b, *head_dist_w, *head_dist_b;
    vit_attn_pool map; /* pool == VIT_POOL_MAP */
    vit_block *blocks;
} vit_net;

/* vit_embed.c: the patch embedding, prefix tokens, run size and position embedding. */
int vit_build_embed(vit_binder *b, vit_net *n);
/* A model_args boolean: 1 / 0, dflt when absent, -EINVAL (message in err) when not a boolean. */
int vit_arg_bool(const vit_config *cfg, const char *key, int dflt, vit_error *err);

/* Builds the network from the model's weights and config (vit_build.c). */
int vit_net_build(vit_model *m, vit_net **ret, vit_error *err);
void vit_net_free(vit_net *n);
double vit_net_gflops(const vit_net *n);

#endif
