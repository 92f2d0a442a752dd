/* vit.c — running the ViT family (timm's VisionTransformer and its variants: vit.h says the
 * maths, vit_build.c reads them from a checkpoint).
 *
 * Threads: one pool run per block. A run splits token rows; each part does attention for its
 * query rows over all keys, then proj, MLP and the next block's LayerNorm + qkv (+ q/k norms)
 * for the same rows. The qkv buffer is double-buffered because other parts still read this
 * block's keys while the next block's are written. The head (pooling, attention pool, norms,
 * classifier) runs on one thread. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/family.h"
#include "families/vit.h"
#include "ops/ops.h"

static const char *const vit_patterns[] = {"vit_*", "deit_*", "deit3_*", NULL};

static void vit_destroy(void *net)
{
    vit_net_free(net);
}

static int vit_build(vit_model *m, vit_error *err)
{
    vit_net *n;
    int r = vit_net_build(m, &n, err);
    if (r < 0)
        return r;
    vit_family_set_net(m, n, n->in_chans, n->img_h, n->img_w, n->num_classes, vit_net_gflops(n));
    return 0;
}

/* ---- running ----------------------------------------------------------------------------- */

typedef struct vit_arena {
    float *x, *qkv[2], *xn, *attn, *hidden, *scores, *patches, *feat, *feat_norm, *logits2;
    float *stem_map;    /* the conv stem's output [H*W, S] */
    float *pool_hidden; /* the attention pool's MLP */
} vit_arena;

static size_t round_up(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Carves the arena (or, with base NULL, just counts the floats it needs). */
static size_t vit_layout(const vit_net *n, float *base, vit_arena *a)
{
    size_t N = (size_t)n->tokens, D = (size_t)n->dim, off = 0;
    const size_t sizes[] = {
        N * D,
        N * 3 * D,
        N * 3 * D,
        N * D,
        N * D,
        N * (size_t)n->hidden,
        N * N,
        vit_patch_embed_cols_floats(&n->pe, n->num_patches),
        2 * D,
        2 * D,
        (size_t)n->num_classes,
        vit_patch_embed_map_floats(&n->pe),
        (size_t)n->map.hidden,
    };
    float **slots[] = {&a->x,       &a->qkv[0],   &a->qkv[1],     &a->xn,   &a->attn,
                       &a->hidden,  &a->scores,   &a->patches,    &a->feat, &a->feat_norm,
                       &a->logits2, &a->stem_map, &a->pool_hidden};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (base)
            *slots[i] = base + off;
        off += round_up(sizes[i]);
    }
    return off;
}

static size_t vit_arena_bytes(const vit_model *m, int threads)
{
    vit_arena a;
    (void)threads;
    return vit_layout(m->net, NULL, &a) * sizeof(float);
}

typedef struct vit_pass {
    const vit_net *n;
    vit_arena a;
    const float *chw;
    int layer;
} vit_pass;

/* qk_norm: LayerNorm over each head's slice of q (columns [0, C)) and k ([C, 2C)) of rows
 * [r0, r1) of a buffer with row stride ld. */
static void qk_norm_rows(int r0, int r1, int C, int heads, float *buf, int ld, const float *qw,
                         const float *qb, const float *kw, const float *kb, float eps)
{
    int d = C / heads;
    for (int r = r0; r < r1; r++) {
        float *row = buf + (size_t)r * ld;
        if (qw)
            vit_layernorm_rows(heads, d, row, d, qw, qb, eps, row, d);
        if (kw)
            vit_layernorm_rows(heads, d, row + C, d, kw, kb, eps, row + C, d);
    }
}

/* LayerNorm 1 and qkv (and q/k norms) of block l for token rows [r0, r1). */
static void qkv_rows(const vit_pass *p, int l, int r0, int r1)
{
    const vit_net *n = p->n;
    const vit_block *blk = &n->blocks[l];
    int D = n->dim;
    float *xn = p->a.xn + (size_t)r0 * D, *qkv = p->a.qkv[l & 1];
    vit_layernorm_rows(r1 - r0, D, p->a.x + (size_t)r0 * D, D, blk->norm1_w, blk->norm1_b, n->eps,
                       xn, D);
    vit_linear(r1 - r0, 3 * D, D, xn, D, blk->qkv_w, blk->qkv_b, 0.0f, qkv + (size_t)r0 * 3 * D,
               3 * D);
    if (blk->q_norm_w)
        qk_norm_rows(r0, r1, D, n->heads, qkv, 3 * D, blk->q_norm_w, blk->q_norm_b, blk->k_norm_w,
                     blk->k_norm_b, n->eps);
}

/* Prefix token t's learned embedding: [cls] [dist] [registers]. */
static const float *prefix_row(const vit_net *n, int t)
{
    if (n->cls_token && t == 0)
        return n->cls_token;
    t -= !!n->cls_token;
    if (n->dist_token && t == 0)
        return n->dist_token;
    t -= !!n->dist_token;
    return n->reg_token + (size_t)t * n->dim;
}

static void embed_task(void *ctx, int task, int num_tasks)
{
    const vit_pass *p = ctx;
    const vit_net *n = p->n;
    int D = n->dim, r0, r1;
    vit_split_range(n->tokens, num_tasks, task, &r0, &r1);
    int p0 = r0 > n->num_prefix ? r0 - n->num_prefix : 0;
    int p1 = r1 - n->num_prefix;
    if (p1 > p0)
        vit_patch_embed_rows(&n->pe, p->chw, p->a.stem_map, p0, p1,
                             p->a.patches + vit_patch_embed_cols_floats(&n->pe, p0),
                             p->a.x + (size_t)(n->num_prefix + p0) * D, D);
    for (int t = r0; t < r1; t++) {
        float *xt = p->a.x + (size_t)t * D;
        if (t < n->num_prefix)
            memcpy(xt, prefix_row(n, t), (size_t)D * sizeof(float));
        if (n->pos_embed && t >= n->pos_first)
            vit_add_bias_rows(1, D, xt, D, n->pos_embed + (size_t)(t - n->pos_first) * D);
    }
    if (n->norm_pre_w)
        vit_layernorm_rows(r1 - r0, D, p->a.x + (size_t)r0 * D, D, n->norm_pre_w, n->norm_pre_b,
                           n->eps, p->a.x + (size_t)r0 * D, D);
    qkv_rows(p, 0, r0, r1);
}

/* x += ls * (y + bias) (ls NULL: no layer scale), in the product's epilogue. */
static void residual_linear(int rows, int N, int K, const float *A, int lda, const float *W,
                            const float *bias, const float *ls, float *x)
{
    vit_linear_residual(rows, N, K, A, lda, W, bias, ls, NULL, x, N);
}

/* h[rows, H] = act(A . W^T + bias). */
static void linear_act(const vit_net *n, int rows, int H, int K, const float *A, const float *W,
                       const float *bias, float *h)
{
    if (n->act == VIT_ACT_GELU) {
        vit_linear_gelu(rows, H, K, A, K, W, bias, h, H);
        return;
    }
    vit_linear(rows, H, K, A, K, W, bias, 0.0f, h, H);
    if (n->act == VIT_ACT_QUICK_GELU)
        vit_quick_gelu_rows(rows, H, h, H);
    else
        vit_gelu_tanh_rows(rows, H, h, H);
}

static void block_task(void *ctx, int task, int num_tasks)
{
    const vit_pass *p = ctx;
    const vit_net *n = p->n;
    const vit_block *blk = &n->blocks[p->layer];
    int D = n->dim, H = n->hidden, N = n->tokens, l = p->layer, r0, r1;
    vit_split_range(N, num_tasks, task, &r0, &r1);
    int rows = r1 - r0;
    if (rows <= 0)
        return;
    size_t o = (size_t)r0 * D;
    vit_attention_rows(N, D, n->heads, p->a.qkv[l & 1], r0, r1, p->a.scores + (size_t)r0 * N,
                       p->a.attn, D);
    residual_linear(rows, D, D, p->a.attn + o, D, blk->proj_w, blk->proj_b, blk->ls1, p->a.x + o);
    vit_layernorm_rows(rows, D, p->a.x + o, D, blk->norm2_w, blk->norm2_b, n->eps, p->a.xn + o, D);
    float *h = p->a.hidden + (size_t)r0 * H;
    linear_act(n, rows, H, D, p->a.xn + o, blk->fc1_w, blk->fc1_b, h);
    residual_linear(rows, D, H, h, H, blk->fc2_w, blk->fc2_b, blk->ls2, p->a.x + o);
    if (l + 1 < n->depth)
        qkv_rows(p, l + 1, r0, r1);
}

/* global_pool "map": the latent query attends over tokens [first, N) of src -> feat [D]. The
 * keys and values go to columns [D, 3D) of a [N, 3D] buffer whose row 0 holds the query, so
 * the block attention does the rest. */
static void attn_pool(const vit_pass *p, const float *src, int first, float *feat)
{
    const vit_net *n = p->n;
    const vit_attn_pool *ap = &n->map;
    int D = n->dim, M = n->tokens - first;
    float *buf = p->a.qkv[0], *y = p->a.attn;
    vit_linear(M, 2 * D, D, src + (size_t)first * D, D, ap->kv_w, ap->kv_b, 0.0f, buf + D, 3 * D);
    vit_linear(1, D, D, ap->latent, D, ap->q_w, ap->q_b, 0.0f, buf, 3 * D);
    qk_norm_rows(0, 1, D, n->heads, buf, 3 * D, ap->q_norm_w, ap->q_norm_b, NULL, NULL, n->eps);
    qk_norm_rows(0, M, D, n->heads, buf, 3 * D, NULL, NULL, ap->k_norm_w, ap->k_norm_b, n->eps);
    vit_attention_rows(M, D, n->heads, buf, 0, 1, p->a.scores, y, D);
    vit_linear(1, D, D, y, D, ap->proj_w, ap->proj_b, 0.0f, feat, D);
    vit_layernorm_rows(1, D, feat, D, ap->norm_w, ap->norm_b, n->eps, p->a.xn, D);
    linear_act(n, 1, ap->hidden, D, p->a.xn, ap->fc1_w, ap->fc1_b, p->a.pool_hidden);
    vit_linear(1, D, ap->hidden, p->a.pool_hidden, ap->hidden, ap->fc2_w, ap->fc2_b, 1.0f, feat, D);
}

/* avg / max / avgmax over tokens [first, N) of src -> feat [D]. */
static void reduce_pool(const vit_net *n, const float *src, int first, float *feat)
{
    int D = n->dim, count = n->tokens - first;
    for (int c = 0; c < D; c++) {
        float sum = 0.0f, mx = src[(size_t)first * D + c];
        for (int t = first; t < n->tokens; t++) {
            float v = src[(size_t)t * D + c];
            sum += v;
            mx = v > mx ? v : mx;
        }
        float avg = sum / (float)count;
        feat[c] = n->pool == VIT_POOL_AVG ? avg : n->pool == VIT_POOL_MAX ? mx : 0.5f * (avg + mx);
    }
}

static void vit_head(const vit_pass *p, vit_threadpool *pool, float *logits)
{
    const vit_net *n = p->n;
    int D = n->dim, K = n->num_classes;
    int rows = n->pool == VIT_POOL_TOKEN ? (n->dist_token ? 2 : 1) : n->tokens;
    const float *src = p->a.x;
    float *feat = p->a.feat, *fn = p->a.feat_norm;
    if (n->norm_w) { /* the final norm, on the tokens the pooling reads */
        vit_layernorm_rows(rows, D, src, D, n->norm_w, n->norm_b, n->eps, p->a.xn, D);
        src = p->a.xn;
    }
    int feats = 1;
    if (n->pool == VIT_POOL_TOKEN) {
        feats = rows;
        memcpy(feat, src, (size_t)rows * D * sizeof(float));
    } else if (n->pool == VIT_POOL_MAP) {
        attn_pool(p, src, n->pool_first, feat);
    } else {
        reduce_pool(n, src, n->pool_first, feat);
    }
    if (n->fc_norm_w)
        vit_layernorm_rows(feats, D, feat, D, n->fc_norm_w, n->fc_norm_b, n->eps, fn, D);
    else
        memcpy(fn, feat, (size_t)feats * D * sizeof(float));
    vit_linear_cols(pool, 1, K, D, fn, D, n->head_w, n->head_b, 0.0f, logits, K);
    if (n->dist_token) {
        vit_linear_cols(pool, 1, K, D, fn + D, D, n->head_dist_w, n->head_dist_b, 0.0f,
                        p->a.logits2, K);
        for (int k = 0; k < K; k++)
            logits[k] = 0.5f * (logits[k] + p->a.logits2[k]);
    }
}

static int vit_run_net(const vit_model *m, vit_run *run, const float *chw)
{
    vit_pass p = {.n = m->net, .chw = chw};
    vit_layout(p.n, run->arena, &p.a);
    vit_patch_embed_run_stem(&p.n->pe, run->pool, run->threads, chw, p.a.stem_map);
    int parts = run->threads < p.n->tokens ? run->threads : p.n->tokens;
    vit_threadpool_run(run->pool, parts, embed_task, &p);
    for (p.layer = 0; p.layer < p.n->depth; p.layer++)
        vit_threadpool_run(run->pool, parts, block_task, &p);
    vit_head(&p, run->pool, run->logits);
    return 0;
}

const vit_family vit_family_vit = {
    .name = "vit",
    .patterns = vit_patterns,
    .build = vit_build,
    .destroy = vit_destroy,
    .arena_bytes = vit_arena_bytes,
    .run = vit_run_net,
};
