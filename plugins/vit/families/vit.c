/* vit.c — ViT and DeiT (timm's vit_* / deit_* names, the keys timm and the DeiT release
 * use), optionally distilled (cls + dist tokens, two heads averaged), with token or average
 * pooling, layer scale and a pre-norm.
 *
 * Dimensions come from the tensors (embed dim, depth, patch, in_chans, mlp width, classes);
 * heads and image size from config.json model_args, else the architecture name; then every
 * tensor is checked against them and any tensor left unused is an error (an unsupported
 * variant must not run silently wrong). A conv stem before the patch conv
 * (patch_embed.stem.*, model_args.stem_chans; patch_embed.h) is found from the tensors.
 *
 * Threads: one pool run per block. A run splits token rows; each part does attention for its
 * query rows over all keys, then proj, MLP and the next block's LayerNorm + qkv for the same
 * rows. The qkv buffer is double-buffered because other parts still read this block's keys
 * while the next block's are written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/binder.h"
#include "core/error.h"
#include "core/family.h"
#include "ops/ops.h"
#include "ops/patch_embed.h"

typedef struct vit_block {
    const float *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    const float *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    const float *ls1, *ls2; /* layer scale, NULL when absent */
} vit_block;

typedef struct vit_net {
    int in_chans, img_h, img_w, patch, grid_h, grid_w, num_patches;
    int dim, depth, heads, hidden, num_classes;
    int num_prefix, tokens; /* prefix = cls (+ dist) tokens */
    int pool_avg;
    float eps;
    vit_patch_embed pe; /* optional stem + patch conv */
    const float *cls_token, *dist_token, *pos_embed;
    int pos_embed_rows; /* tokens, or num_patches when the prefix gets no position */
    const float *norm_pre_w, *norm_pre_b, *norm_w, *norm_b, *fc_norm_w, *fc_norm_b;
    const float *head_w, *head_b, *head_dist_w, *head_dist_b;
    vit_block *blocks;
} vit_net;

static int vit_match(const char *arch)
{
    return !strncmp(arch, "vit_", 4) || !strncmp(arch, "deit_", 5);
}

/* ---- building ---------------------------------------------------------------------------- */

/* A tensor the build reads sizes from, if present with ndim dims; not marked used. */
static const vit_st_tensor *peek(vit_binder *b, const char *name, int ndim)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%s", name);
    return t && t->ndim == ndim ? t : NULL;
}

static int heads_from_name(const char *arch, int dim)
{
    static const struct {
        const char *word;
        int heads;
    } sizes[] = {{"tiny", 3}, {"small", 6}, {"base", 12}, {"large", 16}, {"huge", 16}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (strstr(arch, sizes[i].word))
            return sizes[i].heads;
    return dim % 64 == 0 ? dim / 64 : 0;
}

/* Image size: model_args.img_size, pretrained_cfg.input_size, a _224-style suffix, or the
 * position embedding's grid (square). */
static int infer_img_size(vit_binder *b, vit_net *n, int pos_rows_full, vit_error *err)
{
    vit_config *cfg = &b->model->config;
    int r = vit_config_arg_size(cfg, "img_size", &n->img_h, &n->img_w, err);
    if (r != -ENOENT)
        return r;
    if (cfg->input_h > 0) {
        n->img_h = cfg->input_h;
        n->img_w = cfg->input_w;
        return 0;
    }
    const char *us = strrchr(cfg->architecture, '_');
    int side = us ? atoi(us + 1) : 0;
    if (side > 0 && side <= 8192) {
        n->img_h = n->img_w = side;
        return 0;
    }
    int grid = 0;
    while ((grid + 1) * (grid + 1) <= pos_rows_full)
        grid++;
    if (grid * grid != pos_rows_full)
        return vit_errorf(err, -EINVAL,
                          "%s: cannot tell the image size (no model_args.img_size "
                          "and pos_embed is not a square grid)",
                          cfg->source);
    n->img_h = n->img_w = grid * n->patch;
    return 0;
}

/* The conv stem, when the file has one (checked against model_args.stem_chans). */
static int build_stem(vit_binder *b, vit_net *n)
{
    int cfg_stem = -1;
    int r = vit_config_arg_int(&b->model->config, "stem_chans", &cfg_stem, b->err);
    if (r == -ENOENT)
        cfg_stem = -1;
    else if (r < 0)
        return r;
    return vit_patch_embed_find_stem(&n->pe, b, "", cfg_stem, "model_args.stem_chans");
}

static int build_embed(vit_binder *b, vit_net *n)
{
    vit_model *m = b->model;
    int r = build_stem(b, n);
    if (r < 0)
        return r;
    const vit_st_tensor *pw = peek(b, "patch_embed.proj.weight", 4);
    if (!pw)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, -1, -1, -1), "patch_embed.proj.weight");
    int S = n->pe.stem_chans;
    if (pw->shape[2] != pw->shape[3] || pw->shape[2] < 1 || pw->shape[2] > 1024 ||
        (S ? pw->shape[1] != S : pw->shape[1] != 1 && pw->shape[1] != 3) || pw->shape[0] < 1 ||
        pw->shape[0] > 65536)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor patch_embed.proj.weight: unsupported "
                          "shape (need [dim, %s, p, p])",
                          m->weights->path, S ? "stem_chans" : "1 or 3");
    n->dim = (int)pw->shape[0];
    n->in_chans = S ? n->pe.in_chans : (int)pw->shape[1];
    n->patch = (int)pw->shape[2];
    int64_t D = n->dim;
    r = vit_binder_get(b, &n->pe.proj_w, 4, pw->shape, "patch_embed.proj.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->pe.proj_b, VIT_SHAPE(D), "patch_embed.proj.bias");
    if (r == 0)
        r = vit_binder_get_opt(b, &n->cls_token, VIT_SHAPE(1, 1, D), "cls_token");
    if (r == 0)
        r = vit_binder_get_opt(b, &n->dist_token, VIT_SHAPE(1, 1, D), "dist_token");
    if (r < 0)
        return r;
    if (n->dist_token && !n->cls_token)
        return vit_errorf(b->err, -EINVAL, "%s: tensor dist_token without cls_token",
                          m->weights->path);
    n->num_prefix = !!n->cls_token + !!n->dist_token;
    const vit_st_tensor *pe = peek(b, "pos_embed", 3);
    if (!pe)
        return vit_binder_get(b, NULL, VIT_SHAPE(1, -1, D), "pos_embed");
    int no_embed_class = 0;
    json_t *v =
        m->config.model_args ? json_object_get(m->config.model_args, "no_embed_class") : NULL;
    if (json_is_true(v))
        no_embed_class = 1;
    r = infer_img_size(b, n, (int)(pe->shape[1] - (no_embed_class ? 0 : n->num_prefix)), b->err);
    if (r < 0)
        return r;
    n->grid_h = n->img_h / n->patch;
    n->grid_w = n->img_w / n->patch;
    n->num_patches = n->grid_h * n->grid_w;
    if (n->num_patches < 1)
        return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is smaller than the patch %d",
                          m->config.source, n->img_h, n->img_w, n->patch);
    n->tokens = n->num_prefix + n->num_patches;
    n->pe.in_chans = n->in_chans;
    n->pe.img_h = n->img_h;
    n->pe.img_w = n->img_w;
    n->pe.patch = n->patch;
    n->pe.grid_w = n->grid_w;
    n->pe.dim = n->dim;
    n->pos_embed_rows = no_embed_class ? n->num_patches : n->tokens;
    return vit_binder_get(b, &n->pos_embed, VIT_SHAPE(1, n->pos_embed_rows, D), "pos_embed");
}

static int build_block(vit_binder *b, vit_net *n, int i)
{
    vit_block *blk = &n->blocks[i];
    int64_t D = n->dim, H = n->hidden;
#define GET(field, key, ...)                                                                       \
    do {                                                                                           \
        int r_ = vit_binder_get(b, &blk->field, VIT_SHAPE(__VA_ARGS__), "blocks.%d." key, i);      \
        if (r_ < 0)                                                                                \
            return r_;                                                                             \
    } while (0)
    GET(norm1_w, "norm1.weight", D);
    GET(norm1_b, "norm1.bias", D);
    GET(qkv_w, "attn.qkv.weight", 3 * D, D);
    GET(proj_w, "attn.proj.weight", D, D);
    GET(proj_b, "attn.proj.bias", D);
    GET(norm2_w, "norm2.weight", D);
    GET(norm2_b, "norm2.bias", D);
    GET(fc1_w, "mlp.fc1.weight", H, D);
    GET(fc1_b, "mlp.fc1.bias", H);
    GET(fc2_w, "mlp.fc2.weight", D, H);
    GET(fc2_b, "mlp.fc2.bias", D);
#undef GET
    static const char *const optional[] = {"attn.qkv.bias", "ls1.gamma", "ls2.gamma"};
    const float **fields[] = {&blk->qkv_b, &blk->ls1, &blk->ls2};
    for (int k = 0; k < 3; k++) {
        int r = vit_binder_get_opt(b, fields[k], VIT_SHAPE(k == 0 ? 3 * D : D), "blocks.%d.%s", i,
                                   optional[k]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int build_blocks(vit_binder *b, vit_net *n)
{
    for (n->depth = 0; n->depth < 10000; n->depth++)
        if (!vit_binder_peek(b, "blocks.%d.norm1.weight", n->depth))
            break;
    if (n->depth == 0)
        return vit_binder_get(b, NULL, VIT_SHAPE(n->dim), "blocks.0.norm1.weight");
    const vit_st_tensor *fc1 = peek(b, "blocks.0.mlp.fc1.weight", 2);
    if (!fc1)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, n->dim), "blocks.0.mlp.fc1.weight");
    if (fc1->shape[0] < 1 || fc1->shape[0] > 1 << 20)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor blocks.0.mlp.fc1.weight has an "
                          "unsupported shape",
                          b->model->weights->path);
    n->hidden = (int)fc1->shape[0];
    n->blocks = calloc((size_t)n->depth, sizeof(vit_block));
    if (!n->blocks)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int i = 0; i < n->depth; i++) {
        int r = build_block(b, n, i);
        if (r < 0)
            return r;
    }
    return 0;
}

static int build_head(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    int64_t D = n->dim;
    const char *pool = vit_config_string(cfg, "global_pool");
    if (!pool || !strcmp(pool, "token"))
        n->pool_avg = !n->cls_token;
    else if (!strcmp(pool, "avg"))
        n->pool_avg = 1;
    else
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: global_pool \"%.40s\" is not supported (token or "
                          "avg)",
                          cfg->source, pool);
    if (n->dist_token && n->pool_avg)
        return vit_errorf(b->err, -ENOTSUP, "%s: a distilled model needs token pooling",
                          cfg->source);
    int r = vit_binder_get_opt(b, &n->norm_pre_w, VIT_SHAPE(D), "norm_pre.weight");
    if (r == 0 && n->norm_pre_w)
        r = vit_binder_get(b, &n->norm_pre_b, VIT_SHAPE(D), "norm_pre.bias");
    if (r == 0)
        r = vit_binder_get_opt(b, &n->fc_norm_w, VIT_SHAPE(D), "fc_norm.weight");
    if (r == 0 && n->fc_norm_w)
        r = vit_binder_get(b, &n->fc_norm_b, VIT_SHAPE(D), "fc_norm.bias");
    if (r == 0 && !n->fc_norm_w) {
        r = vit_binder_get(b, &n->norm_w, VIT_SHAPE(D), "norm.weight");
        if (r == 0)
            r = vit_binder_get(b, &n->norm_b, VIT_SHAPE(D), "norm.bias");
    }
    if (r < 0)
        return r;
    if (n->fc_norm_w && !n->pool_avg)
        return vit_errorf(b->err, -ENOTSUP, "%s: fc_norm with token pooling is not supported",
                          b->model->weights->path);
    const vit_st_tensor *hw = peek(b, "head.weight", 2);
    if (!hw)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, D), "head.weight");
    if (hw->shape[0] < 1 || hw->shape[0] > 1000000)
        return vit_errorf(b->err, -EINVAL, "%s: tensor head.weight has an unsupported shape",
                          b->model->weights->path);
    n->num_classes = (int)hw->shape[0];
    int64_t K = n->num_classes;
    r = vit_binder_get(b, &n->head_w, VIT_SHAPE(K, D), "head.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->head_b, VIT_SHAPE(K), "head.bias");
    if (r == 0 && n->dist_token)
        r = vit_binder_get(b, &n->head_dist_w, VIT_SHAPE(K, D), "head_dist.weight");
    if (r == 0 && n->dist_token)
        r = vit_binder_get(b, &n->head_dist_b, VIT_SHAPE(K), "head_dist.bias");
    return r;
}

/* Variants whose maths the weights do not reveal: the activation and the LayerNorm epsilon.
 * timm's CLIP ViTs (`*_clip_*`) use PyTorch's default eps 1e-5; QuickGELU ones are refused. */
static int check_maths(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    const char *act = vit_config_arg_string(cfg, "act_layer");
    if ((act && strcmp(act, "gelu")) || strstr(cfg->architecture, "quickgelu"))
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: activation %.40s is not supported (exact GELU only)", cfg->source,
                          act ? act : "quick_gelu");
    const char *norm = vit_config_arg_string(cfg, "norm_layer");
    if (norm && strcmp(norm, "layernorm"))
        return vit_errorf(b->err, -ENOTSUP, "%s: norm_layer %.40s is not supported", cfg->source,
                          norm);
    if (strstr(cfg->architecture, "_clip_"))
        n->eps = 1e-5f;
    return 0;
}

static int check_config(vit_binder *b, vit_net *n)
{
    vit_model *m = b->model;
    vit_config *cfg = &m->config;
    int r0 = check_maths(b, n);
    if (r0 < 0)
        return r0;
    int heads = 0;
    int r = vit_config_arg_int(cfg, "num_heads", &heads, b->err);
    if (r == -ENOENT)
        heads = heads_from_name(cfg->architecture, n->dim);
    else if (r < 0)
        return r;
    if (heads < 1 || n->dim % heads)
        return vit_errorf(b->err, -EINVAL,
                          "%s: %d heads do not divide embed dim %d (set "
                          "model_args.num_heads)",
                          cfg->source, heads, n->dim);
    n->heads = heads;
    static const char *const int_args[] = {"embed_dim", "depth", "patch_size", "in_chans",
                                           "num_classes"};
    int values[] = {n->dim, n->depth, n->patch, n->in_chans, n->num_classes};
    for (int i = 0; i < 5; i++) {
        int v;
        r = vit_config_arg_int(cfg, int_args[i], &v, b->err);
        if (r == -ENOENT)
            continue;
        if (r < 0)
            return r;
        if (v != values[i])
            return vit_errorf(b->err, -EINVAL, "%s: model_args.%s is %d but the weights have %d",
                              cfg->source, int_args[i], v, values[i]);
    }
    if (cfg->num_classes > 0 && cfg->num_classes != n->num_classes)
        return vit_errorf(b->err, -EINVAL,
                          "%s: num_classes is %d but tensor head.weight has %d "
                          "rows",
                          cfg->source, cfg->num_classes, n->num_classes);
    if (cfg->input_h > 0 &&
        (cfg->input_c != n->in_chans || cfg->input_h != n->img_h || cfg->input_w != n->img_w))
        return vit_errorf(b->err, -EINVAL,
                          "%s: pretrained_cfg.input_size [%d,%d,%d] does not "
                          "match the model's [%d,%d,%d]",
                          cfg->source, cfg->input_c, cfg->input_h, cfg->input_w, n->in_chans,
                          n->img_h, n->img_w);
    return 0;
}

static double vit_gflops(const vit_net *n)
{
    double N = n->tokens, D = n->dim, H = n->hidden;
    double embed = vit_patch_embed_macs(&n->pe, n->num_patches);
    double block = N * D * 3 * D + 2 * N * N * D + N * D * D + 2 * N * D * H;
    double head = D * n->num_classes * (n->dist_token ? 2 : 1);
    return 2.0 * (embed + n->depth * block + head) * 1e-9;
}

static void vit_destroy(void *net)
{
    vit_net *n = net;
    if (n)
        free(n->blocks);
    free(n);
}

static int vit_build(vit_model *m, vit_error *err)
{
    vit_net *n = calloc(1, sizeof(*n));
    vit_binder b = {0};
    int r = n ? vit_binder_init(&b, m, err) : vit_errorf(err, -ENOMEM, "out of memory");
    if (r == 0) {
        n->eps = 1e-6f;
        r = build_embed(&b, n);
    }
    if (r == 0)
        r = build_blocks(&b, n);
    if (r == 0)
        r = build_head(&b, n);
    if (r == 0)
        r = check_config(&b, n);
    if (r == 0)
        r = vit_binder_check_all_used(&b, "a plain ViT/DeiT (unsupported variant of %.100s)",
                                      m->config.architecture);
    vit_binder_clear(&b);
    if (r < 0) {
        vit_destroy(n);
        return r;
    }
    vit_family_set_net(m, n, n->in_chans, n->img_h, n->img_w, n->num_classes, vit_gflops(n));
    return 0;
}

/* ---- running ----------------------------------------------------------------------------- */

typedef struct vit_arena {
    float *x, *qkv[2], *xn, *attn, *hidden, *tmp, *scores, *patches, *feat, *feat_norm, *logits2;
    float *stem_map; /* the conv stem's output [H*W, S] */
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
        N * D,
        N * N,
        vit_patch_embed_cols_floats(&n->pe, n->num_patches),
        2 * D,
        2 * D,
        (size_t)n->num_classes,
        vit_patch_embed_map_floats(&n->pe),
    };
    float **slots[] = {&a->x,         &a->qkv[0],  &a->qkv[1],  &a->xn,      &a->attn,
                       &a->hidden,    &a->tmp,     &a->scores,  &a->patches, &a->feat,
                       &a->feat_norm, &a->logits2, &a->stem_map};
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
    return vit_layout(m->net, NULL, &a) * sizeof(float);
}

typedef struct vit_pass {
    const vit_net *n;
    vit_arena a;
    const float *chw;
    int layer;
} vit_pass;

/* LayerNorm 1 and qkv of block l for token rows [r0, r1). */
static void qkv_rows(const vit_pass *p, int l, int r0, int r1)
{
    const vit_net *n = p->n;
    const vit_block *blk = &n->blocks[l];
    int D = n->dim;
    float *xn = p->a.xn + (size_t)r0 * D;
    vit_layernorm_rows(r1 - r0, D, p->a.x + (size_t)r0 * D, D, blk->norm1_w, blk->norm1_b, n->eps,
                       xn, D);
    vit_linear(r1 - r0, 3 * D, D, xn, D, blk->qkv_w, blk->qkv_b, 0.0f,
               p->a.qkv[l & 1] + (size_t)r0 * 3 * D, 3 * D);
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
            memcpy(xt, t == 0 ? n->cls_token : n->dist_token, (size_t)D * sizeof(float));
        int pos = t - (n->pos_embed_rows == n->tokens ? 0 : n->num_prefix);
        if (pos >= 0)
            vit_add_bias_rows(1, D, xt, D, n->pos_embed + (size_t)pos * D);
    }
    if (n->norm_pre_w)
        vit_layernorm_rows(r1 - r0, D, p->a.x + (size_t)r0 * D, D, n->norm_pre_w, n->norm_pre_b,
                           n->eps, p->a.x + (size_t)r0 * D, D);
    qkv_rows(p, 0, r0, r1);
}

/* x += ls * (y + bias) when there is a layer scale, else the Linear accumulates into x. */
static void residual_linear(int rows, int N, int K, const float *A, int lda, const float *W,
                            const float *bias, const float *ls, float *x, float *tmp)
{
    if (!ls) {
        vit_linear(rows, N, K, A, lda, W, bias, 1.0f, x, N);
        return;
    }
    vit_linear(rows, N, K, A, lda, W, bias, 0.0f, tmp, N);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < N; j++)
            x[(size_t)r * N + j] += ls[j] * tmp[(size_t)r * N + j];
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
    residual_linear(rows, D, D, p->a.attn + o, D, blk->proj_w, blk->proj_b, blk->ls1, p->a.x + o,
                    p->a.tmp + o);
    vit_layernorm_rows(rows, D, p->a.x + o, D, blk->norm2_w, blk->norm2_b, n->eps, p->a.xn + o, D);
    float *h = p->a.hidden + (size_t)r0 * H;
    vit_linear_gelu(rows, H, D, p->a.xn + o, D, blk->fc1_w, blk->fc1_b, h, H);
    residual_linear(rows, D, H, h, H, blk->fc2_w, blk->fc2_b, blk->ls2, p->a.x + o, p->a.tmp + o);
    if (l + 1 < n->depth)
        qkv_rows(p, l + 1, r0, r1);
}

static void vit_head(const vit_pass *p, float *logits)
{
    const vit_net *n = p->n;
    int D = n->dim;
    const float *x = p->a.x;
    float *feat = p->a.feat, *fn = p->a.feat_norm;
    if (!n->pool_avg) {
        vit_layernorm_rows(n->num_prefix, D, x, D, n->norm_w, n->norm_b, n->eps, fn, D);
    } else {
        const float *src = x;
        if (n->norm_w) { /* norm every token, then pool */
            vit_layernorm_rows(n->tokens, D, x, D, n->norm_w, n->norm_b, n->eps, p->a.xn, D);
            src = p->a.xn;
        }
        memset(feat, 0, (size_t)D * sizeof(float));
        for (int t = n->num_prefix; t < n->tokens; t++)
            vit_add_bias_rows(1, D, feat, D, src + (size_t)t * D);
        for (int c = 0; c < D; c++)
            feat[c] /= (float)n->num_patches;
        if (n->fc_norm_w)
            vit_layernorm_rows(1, D, feat, D, n->fc_norm_w, n->fc_norm_b, n->eps, fn, D);
        else
            memcpy(fn, feat, (size_t)D * sizeof(float));
    }
    vit_linear(1, n->num_classes, D, fn, D, n->head_w, n->head_b, 0.0f, logits, n->num_classes);
    if (n->dist_token) {
        vit_linear(1, n->num_classes, D, fn + D, D, n->head_dist_w, n->head_dist_b, 0.0f,
                   p->a.logits2, n->num_classes);
        for (int k = 0; k < n->num_classes; k++)
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
    vit_head(&p, run->logits);
    return 0;
}

const vit_family vit_family_vit = {
    .name = "vit",
    .match = vit_match,
    .build = vit_build,
    .destroy = vit_destroy,
    .arena_bytes = vit_arena_bytes,
    .run = vit_run_net,
};
