/* pvt.c — PVT v2 (pvt_v2_b0 ... b5, and the linear pvt_v2_b2_li) with timm's keys:
 * overlapping patch embeds (Conv k7 s4 p3 / k3 s2 p1, each + LayerNorm 1e-5), blocks of
 * spatial-reduction attention and an MLP with a depthwise 3x3 conv (the MetaFormer block of
 * metaformer.h with the SRA mixer), a LayerNorm 1e-6 ending each stage, mean-pool head.
 *
 * SRA: q = attn.q(y); keys/values come from attn.kv of y itself (R = 1), of
 * attn.norm(attn.sr(y)) with sr a k=s=R conv (R > 1), or, linear variant, of
 * GELU(attn.norm(attn.sr(AdaptiveAvgPool7(y)))) with a 1x1 sr (and a ReLU after fc1 in the MLP).
 * Widths, depths and MLP widths come from the tensors; heads and R from model_args num_heads and
 * sr_ratios, else PVT v2's [1, 2, 5, 8] and the kernel of each stage's first sr conv. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/ops.h"
#include "ops/pool.h"

#define PVT_MAX_STAGES 8
#define PVT_POOL 7 /* adaptive pooling size of the linear variant */

typedef struct pvt_attn {
    int C, heads, sr; /* sr: reduction ratio R (0: none) */
    int linear;
    const float *q_w, *q_b, *kv_w, *kv_b, *proj_w, *proj_b;
    vit_conv2d sr_conv;
    const float *norm_w, *norm_b; /* attn.norm, eps 1e-5 */
} pvt_attn;

typedef struct pvt_stage {
    int dim, depth, hidden, heads, sr, H, W, M; /* sr: reduction ratio R; M: key/value rows */
    vit_conv2d down;                            /* the stage's patch embed (stage 0: patch_embed) */
    const float *down_norm_w, *down_norm_b;
    vit_mf_block *blocks;
    pvt_attn *attn;
    const float *norm_w, *norm_b;
} pvt_stage;

typedef struct pvt_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stages, linear;
    pvt_stage stages[PVT_MAX_STAGES];
    const float *head_w, *head_b;
} pvt_net;

static const char *const pvt_patterns[] = {"pvt_v2_*", NULL};

/* ---- the SRA mixer ----------------------------------------------------------------------- */

typedef struct sra_job {
    const vit_mf_block *blk;
    const pvt_attn *a;
    vit_mf_state *s;
    int N, M, sH, sW;
    float *q, *src, *pooled, *kv, *attn, *scores;
} sra_job;

/* Carves the mixer scratch (base NULL: counts). */
static size_t sra_layout(int N, int M, int C, int threads, float *base, sra_job *j)
{
    vit_mf_carve c = {(char *)base, 0};
    j->q = vit_mf_take(&c, (size_t)N * C);
    j->src = vit_mf_take(&c, (size_t)M * C);
    j->pooled = vit_mf_take(&c, (size_t)M * C);
    j->kv = vit_mf_take(&c, (size_t)M * 2 * C);
    j->attn = vit_mf_take(&c, (size_t)N * C);
    j->scores = vit_mf_take(&c, (size_t)threads * VIT_MF_ATTN_CHUNK * M);
    return c.off / sizeof(float);
}

static void kv_rows(sra_job *j, const float *src, int r0, int r1)
{
    int C = j->a->C;
    vit_linear(r1 - r0, 2 * C, C, src + (size_t)r0 * C, C, j->a->kv_w, j->a->kv_b, 0.0f,
               j->kv + (size_t)r0 * 2 * C, 2 * C);
}

/* norm1, q, and (without reduction) k, v of token rows [r0, r1). */
static void q_task(void *ctx, int r0, int r1, int task)
{
    sra_job *j = ctx;
    int C = j->a->C;
    vit_mf_block_norm1_rows(j->blk, j->s, r0, r1);
    vit_linear(r1 - r0, C, C, j->s->y + (size_t)r0 * C, C, j->a->q_w, j->a->q_b, 0.0f,
               j->q + (size_t)r0 * C, C);
    if (!j->a->sr && !j->a->linear)
        kv_rows(j, j->s->y, r0, r1);
}

/* The reduced source rows [r0, r1): sr conv (or pool + 1x1 conv), LayerNorm, GELU (linear),
 * then their k, v. */
static void src_task(void *ctx, int r0, int r1, int task)
{
    sra_job *j = ctx;
    const pvt_attn *a = j->a;
    int C = a->C;
    if (a->linear) {
        vit_adaptive_avgpool_rows(j->s->y, j->s->H, j->s->W, C, PVT_POOL, PVT_POOL, r0, r1,
                                  j->pooled, C);
        vit_linear(r1 - r0, C, C, j->pooled + (size_t)r0 * C, C, a->sr_conv.weight, a->sr_conv.bias,
                   0.0f, j->src + (size_t)r0 * C, C);
    } else {
        /* k = s = R convs never overlap: im2col scratch is the pooled buffer's rows */
        vit_conv2d_rows(&a->sr_conv, j->s->y, VIT_CONV_HWC, j->s->H, j->s->W, r0, r1,
                        j->s->conv_scratch +
                            vit_conv2d_scratch_floats(&a->sr_conv, VIT_CONV_HWC, j->M) / j->M * r0,
                        j->src, C);
    }
    vit_layernorm_rows(r1 - r0, C, j->src + (size_t)r0 * C, C, a->norm_w, a->norm_b, 1e-5f,
                       j->src + (size_t)r0 * C, C);
    if (a->linear)
        vit_mf_act_rows(VIT_MF_ACT_GELU, j->src, C, C, r0, r1);
    kv_rows(j, j->src, r0, r1);
}

static void attn_task(void *ctx, int r0, int r1, int task)
{
    sra_job *j = ctx;
    const pvt_attn *a = j->a;
    int C = a->C, d = C / a->heads;
    vit_mf_attention_rows(j->q, C, j->kv, 2 * C, j->kv + C, 2 * C, j->M, a->heads, d, r0, r1,
                          j->scores + (size_t)task * VIT_MF_ATTN_CHUNK * j->M, j->attn, C);
    vit_linear(r1 - r0, C, C, j->attn + (size_t)r0 * C, C, a->proj_w, a->proj_b, 1.0f,
               j->s->x + (size_t)r0 * C, C); /* the residual, fused (no layer scale) */
}

static void sra_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    const pvt_attn *a = blk->mixer;
    sra_job j = {.blk = blk, .a = a, .s = s, .N = s->H * s->W};
    j.M = a->linear ? PVT_POOL * PVT_POOL
          : a->sr
              ? vit_conv_out_size(s->H, a->sr, a->sr, 0) * vit_conv_out_size(s->W, a->sr, a->sr, 0)
              : j.N;
    sra_layout(j.N, j.M, a->C, s->threads, s->work, &j);
    vit_mf_parallel(s, j.N, q_task, &j);
    if (a->sr || a->linear)
        vit_mf_parallel(s, j.M, src_task, &j);
    vit_mf_parallel(s, j.N, attn_task, &j);
}

/* ---- building ---------------------------------------------------------------------------- */

static int build_attn(vit_binder *b, pvt_net *n, pvt_stage *st, int i, int k)
{
    pvt_attn *a = &st->attn[k];
    int64_t C = st->dim;
    char p[64];
    snprintf(p, sizeof(p), "stages.%d.blocks.%d.attn", i, k);
    a->C = st->dim;
    a->heads = st->heads;
    a->linear = n->linear;
    int r = vit_binder_get(b, &a->q_w, VIT_SHAPE(C, C), "%s.q.weight", p);
    if (r == 0)
        r = vit_binder_get_opt(b, &a->q_b, VIT_SHAPE(C), "%s.q.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->kv_w, VIT_SHAPE(2 * C, C), "%s.kv.weight", p);
    if (r == 0)
        r = vit_binder_get_opt(b, &a->kv_b, VIT_SHAPE(2 * C), "%s.kv.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_w, VIT_SHAPE(C, C), "%s.proj.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_b, VIT_SHAPE(C), "%s.proj.bias", p);
    if (r < 0)
        return r;
    int R = n->linear ? 1 : st->sr;
    if (R > 1 || n->linear) {
        r = vit_binder_get(b, &a->sr_conv.weight, VIT_SHAPE(C, C, R, R), "%s.sr.weight", p);
        if (r == 0)
            r = vit_mf_get_conv(b, &a->sr_conv, (int)C, (int)C, R, 0, 1, 1, "%s.sr", p);
        if (r == 0)
            r = vit_binder_get(b, &a->norm_w, VIT_SHAPE(C), "%s.norm.weight", p);
        if (r == 0)
            r = vit_binder_get(b, &a->norm_b, VIT_SHAPE(C), "%s.norm.bias", p);
        a->sr = n->linear ? 0 : R;
    }
    return r;
}

static int build_block(vit_binder *b, pvt_net *n, pvt_stage *st, int i, int k)
{
    vit_mf_block *blk = &st->blocks[k];
    int64_t C = st->dim;
    char p[64];
    snprintf(p, sizeof(p), "stages.%d.blocks.%d", i, k);
    int r = vit_mf_get_ln_block(b, blk, p, C, 1e-6f, k, &st->hidden);
    if (r < 0)
        return r;
    int64_t Hd = st->hidden;
    blk->mixer_fn = sra_mixer;
    blk->mixer_residual = 1;
    blk->mixer_norms = 1;
    blk->mixer = &st->attn[k];
    blk->mlp.act1 = n->linear ? VIT_MF_ACT_RELU : VIT_MF_ACT_NONE;
    blk->mlp.has_dw = 1;
    blk->mlp.act2 = VIT_MF_ACT_GELU;
    r = vit_mf_get_conv(b, &blk->mlp.dw, (int)Hd, (int)Hd, 1, 1, (int)Hd, 1, "%s.mlp.dwconv", p);
    if (r == 0 && (blk->mlp.dw.kh != 3 || !vit_conv2d_is_depthwise(&blk->mlp.dw)))
        r = vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.mlp.dwconv.weight: need a depthwise 3x3",
                       b->model->weights->path, p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_w, VIT_SHAPE(C, Hd), "%s.mlp.fc2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_b, VIT_SHAPE(C), "%s.mlp.fc2.bias", p);
    if (r == 0)
        r = build_attn(b, n, st, i, k);
    return r;
}

static int build_stage(vit_binder *b, pvt_net *n, int i, int cin)
{
    pvt_stage *st = &n->stages[i];
    char p[48];
    if (i == 0)
        snprintf(p, sizeof(p), "patch_embed");
    else
        snprintf(p, sizeof(p), "stages.%d.downsample", i);
    const vit_st_tensor *w = vit_binder_peek(b, "%s.proj.weight", p);
    int k = w && w->ndim == 4 ? (int)w->shape[2] : 1;
    int r = vit_mf_get_conv(b, &st->down, cin, -1, i == 0 ? 4 : 2, k / 2, 1, 1, "%s.proj", p);
    if (r < 0)
        return r;
    st->dim = st->down.cout;
    int64_t C = st->dim;
    r = vit_binder_get(b, &st->down_norm_w, VIT_SHAPE(C), "%s.norm.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &st->down_norm_b, VIT_SHAPE(C), "%s.norm.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &st->norm_w, VIT_SHAPE(C), "stages.%d.norm.weight", i);
    if (r == 0)
        r = vit_binder_get(b, &st->norm_b, VIT_SHAPE(C), "stages.%d.norm.bias", i);
    if (r < 0)
        return r;
    if (st->heads < 1 || st->dim % st->heads)
        return vit_errorf(b->err, -EINVAL,
                          "%s: %d heads do not divide stage %d's width %d (set "
                          "model_args.num_heads)",
                          b->model->config.source, st->heads, i, st->dim);
    snprintf(p, sizeof(p), "stages.%d.blocks.", i);
    st->depth = vit_binder_count(b, p, ".");
    if (st->depth < 1)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d has no blocks", b->model->weights->path,
                          i);
    st->blocks = vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(vit_mf_block));
    st->attn = vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(pvt_attn));
    if (!st->blocks || !st->attn)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int k2 = 0; k2 < st->depth && r == 0; k2++)
        r = build_block(b, n, st, i, k2);
    return r;
}

static int read_config(vit_binder *b, pvt_net *n)
{
    int heads[PVT_MAX_STAGES] = {1, 2, 5, 8, 8, 8, 8, 8}, nh = 0;
    int r =
        vit_mf_config_int_list(b->model, "num_heads", heads, PVT_MAX_STAGES, 1, 4096, &nh, b->err);
    if (r < 0 && r != -ENOENT)
        return r;
    if (r == 0 && nh != n->num_stages)
        return vit_errorf(b->err, -EINVAL,
                          "%s: model_args.num_heads has %d entries for %d "
                          "stages",
                          b->model->config.source, nh, n->num_stages);
    for (int i = 0; i < n->num_stages; i++)
        n->stages[i].heads = heads[i];
    int sr[PVT_MAX_STAGES], ns = 0;
    r = vit_mf_config_int_list(b->model, "sr_ratios", sr, PVT_MAX_STAGES, 1, 64, &ns, b->err);
    if (r < 0 && r != -ENOENT)
        return r;
    if (r == 0 && ns != n->num_stages)
        return vit_errorf(b->err, -EINVAL,
                          "%s: model_args.sr_ratios has %d entries for %d "
                          "stages",
                          b->model->config.source, ns, n->num_stages);
    for (int i = 0; i < n->num_stages; i++) {
        /* without model_args: the kernel of the stage's first sr conv, else none */
        const vit_st_tensor *t = vit_binder_peek(b, "stages.%d.blocks.0.attn.sr.weight", i);
        n->stages[i].sr = r == 0 ? sr[i] : t && t->ndim == 4 ? (int)t->shape[2] : 1;
    }
    json_t *lin =
        b->model->config.model_args ? json_object_get(b->model->config.model_args, "linear") : NULL;
    n->linear = json_is_true(lin) || strstr(b->model->config.architecture, "_li") != NULL;
    return 0;
}

static int build_net(vit_binder *b, void *net)
{
    pvt_net *n = net;
    n->num_stages = vit_binder_count(b, "stages.", ".");
    if (n->num_stages < 1 || n->num_stages > PVT_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, PVT_MAX_STAGES);
    int r = read_config(b, n);
    const vit_st_tensor *pw = vit_binder_peek(b, "patch_embed.proj.weight");
    int cin =
        pw && pw->ndim == 4 && (pw->shape[1] == 1 || pw->shape[1] == 3) ? (int)pw->shape[1] : 3;
    n->base.in_chans = cin;
    for (int i = 0; i < n->num_stages && r == 0; i++)
        r = build_stage(b, n, i, i ? n->stages[i - 1].dim : cin);
    if (r < 0)
        return r;
    int64_t C = n->stages[n->num_stages - 1].dim;
    r = vit_mf_get_head(b, C, "head", &n->base.num_classes, &n->head_w, &n->head_b);
    if (r == 0)
        r = vit_mf_input_size(b->model, n->base.in_chans, 224, n->base.num_classes, &n->base.img_h,
                              &n->base.img_w, b->err);
    if (r < 0)
        return r;
    int H = n->base.img_h, W = n->base.img_w;
    for (int i = 0; i < n->num_stages; i++) {
        pvt_stage *st = &n->stages[i];
        H = vit_conv_out_size(H, st->down.kh, st->down.stride_h, st->down.pad_h);
        W = vit_conv_out_size(W, st->down.kw, st->down.stride_w, st->down.pad_w);
        st->H = H;
        st->W = W;
        int R = st->attn[0].sr;
        st->M = n->linear ? PVT_POOL * PVT_POOL
                : R       ? vit_conv_out_size(H, R, R, 0) * vit_conv_out_size(W, R, R, 0)
                          : H * W;
        if (H < 1 || W < 1 || st->M < 1)
            return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is too small for this network",
                              b->model->config.source, n->base.img_h, n->base.img_w);
    }
    int depths[PVT_MAX_STAGES], dims[PVT_MAX_STAGES];
    for (int i = 0; i < n->num_stages; i++) {
        depths[i] = n->stages[i].depth;
        dims[i] = n->stages[i].dim;
    }
    r = vit_mf_check_arg_lists(b->model, "depths", depths, "embed_dims", dims, n->num_stages,
                               b->err);
    return r < 0 ? r : vit_mf_check_all_used(b, "PVT v2");
}

static double pvt_gflops(const void *net)
{
    const pvt_net *n = net;
    double macs = 0;
    int H = n->base.img_h, W = n->base.img_w;
    for (int i = 0; i < n->num_stages; i++) {
        const pvt_stage *st = &n->stages[i];
        macs += vit_conv2d_macs(&st->down, H, W);
        H = st->H;
        W = st->W;
        double N = (double)H * W, M = st->M, C = st->dim, Hd = st->hidden;
        double sr = st->attn[0].sr ? vit_conv2d_macs(&st->attn[0].sr_conv, H, W)
                    : n->linear    ? M * C * C
                                   : 0;
        double blk = N * C * C + sr + M * 2 * C * C + 2 * N * M * C + N * C * C + 2 * N * C * Hd +
                     9 * N * Hd;
        macs += st->depth * blk;
    }
    macs += (double)n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int pvt_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(pvt_net), build_net, pvt_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static size_t pvt_layout(const pvt_net *n, int threads, char *base, vit_mf_state *s)
{
    size_t max_nc = 0, max_nh = 0, work = 0, conv = 0;
    int H = n->base.img_h, W = n->base.img_w;
    for (int i = 0; i < n->num_stages; i++) {
        const pvt_stage *st = &n->stages[i];
        size_t c = vit_conv2d_pool_scratch_floats(&st->down, i ? VIT_CONV_HWC : VIT_CONV_CHW, H, W,
                                                  threads);
        conv = c > conv ? c : conv;
        H = st->H;
        W = st->W;
        size_t N = (size_t)H * W;
        max_nc = N * st->dim > max_nc ? N * st->dim : max_nc;
        max_nh = N * st->hidden > max_nh ? N * st->hidden : max_nh;
        if (st->attn[0].sr) {
            c = vit_conv2d_scratch_floats(&st->attn[0].sr_conv, VIT_CONV_HWC, st->M);
            conv = c > conv ? c : conv;
        }
        sra_job j;
        size_t w = sra_layout((int)N, st->M, st->dim, threads, NULL, &j);
        work = w > work ? w : work;
    }
    size_t head = 2 * (size_t)n->stages[n->num_stages - 1].dim;
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, work > head ? work : head, conv);
    return c.off;
}

static size_t pvt_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return pvt_layout(m->net, threads, NULL, &s);
}

static int pvt_run(const vit_model *m, vit_run *run, const float *chw)
{
    const pvt_net *n = m->net;
    vit_mf_state s;
    pvt_layout(n, run->threads, run->arena, &s);
    s.pool = run->pool;
    const float *in = chw;
    int H = n->base.img_h, W = n->base.img_w;
    for (int i = 0; i < n->num_stages; i++) {
        const pvt_stage *st = &n->stages[i];
        vit_mf_conv(&s, &st->down, in, i ? VIT_CONV_HWC : VIT_CONV_CHW, H, W, s.y, st->dim);
        float *t = s.x;
        s.x = s.y;
        s.y = t;
        s.H = H = st->H;
        s.W = W = st->W;
        s.C = st->dim;
        vit_mf_norm ln = {VIT_MF_NORM_LAYER, st->down_norm_w, st->down_norm_b, 1e-5f};
        vit_mf_norm_run(&ln, &s, s.x, s.x, s.C);
        for (int k = 0; k < st->depth; k++)
            vit_mf_block_run(&st->blocks[k], &s);
        ln = (vit_mf_norm){VIT_MF_NORM_LAYER, st->norm_w, st->norm_b, 1e-6f};
        vit_mf_norm_run(&ln, &s, s.x, s.x, s.C);
        in = s.x;
    }
    vit_mf_mean_head(&s, s.x, n->head_w, n->head_b, n->base.num_classes, run->logits);
    return 0;
}

const vit_family vit_family_pvt = {
    .name = "pvt_v2",
    .patterns = pvt_patterns,
    .build = pvt_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = pvt_arena_bytes,
    .run = pvt_run,
};
