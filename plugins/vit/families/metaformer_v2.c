/* metaformer_v2.c — the MetaFormer baselines (Yu et al., "MetaFormer Baselines for Vision") in
 * timm's key layout: poolformerv2_{s12,s24,s36,m36,m48}, convformer_{s18,s36,m36,b36},
 * caformer_{s18,s36,m36,b36}.
 *   stem: stem.conv k7 s4 p2 (bias) -> stem.norm (LayerNorm over C, no bias, eps 1e-6)
 *   stage i > 0: downsample.norm (the same, on the input) -> downsample.conv k3 s2 p1 (bias)
 *   block: x = rs1 * x + ls1 * mixer(norm1(x)); x = rs2 * x + ls2 * fc2(StarReLU(fc1(norm2(x))))
 *     (res scales res_scaleK.scale, layer scales layer_scaleK.scale: each optional, [C]; MLP
 *     4C without biases, 1x1 convs or Linears; StarReLU = s * relu(x)^2 + b, s and b scalars)
 *   norms: GroupNorm(1) without bias (poolformerv2) or LayerNorm over C without bias, eps 1e-6
 *   mixers, told apart by the keys per stage:
 *     pooling   AvgPool3x3(y) - y (count_include_pad=False)
 *     sepconv   token_mixer.pwconv1 (C->2C) -> StarReLU -> dwconv 7x7 -> pwconv2, no biases
 *     attention token_mixer.qkv [3A, C] and proj [C, A] without biases, head_dim 32
 *   head: mean over the map -> head.norm (LayerNorm with bias, 1e-6) -> head.fc Linear, or the
 *     MLP head head.fc.fc1 -> SquaredReLU -> head.fc.norm (LayerNorm 1e-6) -> head.fc.fc2. */
#include <errno.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/ops.h"
#include "ops/pool.h"

#define MF2_MAX_STAGES 8
#define MF2_EPS 1e-6f
#define MF2_HEAD_DIM 32

typedef struct mf2_attn {
    int A, heads; /* A = heads * 32 */
    const float *qkv_w, *proj_w;
} mf2_attn;

typedef struct mf2_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stages;
    vit_conv2d stem;
    vit_mf_norm stem_norm;
    vit_mf_stage stages[MF2_MAX_STAGES];
    vit_mf_norm head_norm;
    int head_hidden;          /* MLP head width, 0 for a Linear head */
    vit_mf_norm head_fc_norm; /* the MLP head's LayerNorm */
    const float *fc1_w, *fc1_b, *fc_w, *fc_b;
    const float *zeros; /* the bias of the bias-free norms */
} mf2_net;

static const char *const mf2_patterns[] = {"poolformerv2_*", "convformer_*", "caformer_*", NULL};

/* ---- mixers ------------------------------------------------------------------------------ */

typedef struct mix_job {
    const vit_mf_block *blk;
    vit_mf_state *s;
} mix_job;

/* Attention scratch: qkv in s->hidden [N, 3A], heads' outputs in s->hidden2 [N, A], scores in
 * s->work (VIT_MF_ATTN_CHUNK * N per task). */
static void qkv_task(void *ctx, int r0, int r1, int task)
{
    mix_job *j = ctx;
    const mf2_attn *a = j->blk->mixer;
    vit_mf_state *s = j->s;
    vit_linear(r1 - r0, 3 * a->A, s->C, s->y + (size_t)r0 * s->C, s->C, a->qkv_w, NULL, 0.0f,
               s->hidden + (size_t)r0 * 3 * a->A, 3 * a->A);
}

static void attn_task(void *ctx, int r0, int r1, int task)
{
    mix_job *j = ctx;
    const mf2_attn *a = j->blk->mixer;
    vit_mf_state *s = j->s;
    int N = s->H * s->W, A = a->A;
    vit_mf_attention_rows(s->hidden, 3 * A, s->hidden + A, 3 * A, s->hidden + 2 * A, 3 * A, N,
                          a->heads, MF2_HEAD_DIM, r0, r1,
                          s->work + (size_t)task * VIT_MF_ATTN_CHUNK * N, s->hidden2, A);
    vit_linear(r1 - r0, s->C, A, s->hidden2 + (size_t)r0 * A, A, a->proj_w, NULL, 0.0f,
               s->t + (size_t)r0 * s->C, s->C);
}

static void attn_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    mix_job j = {blk, s};
    vit_mf_parallel(s, s->H * s->W, qkv_task, &j);
    vit_mf_parallel(s, s->H * s->W, attn_task, &j);
}

/* ---- building ---------------------------------------------------------------------------- */

/* "<p>.<leaf>.weight" [out, in] or [out, in, 1, 1] (a Linear or a 1x1 conv), no bias. */
static int get_pointwise(vit_binder *b, const float **ret, int64_t out, int64_t in, const char *p,
                         const char *leaf)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%s.%s.weight", p, leaf);
    if (t && t->ndim == 4)
        return vit_binder_get(b, ret, VIT_SHAPE(out, in, 1, 1), "%s.%s.weight", p, leaf);
    return vit_binder_get(b, ret, VIT_SHAPE(out, in), "%s.%s.weight", p, leaf);
}

/* "<p>.<leaf>.scale" and ".bias", each [1]: a StarReLU's s and b. */
static int get_star_relu(vit_binder *b, vit_mf_mlp *m, const char *p, const char *leaf)
{
    const float *sc, *bi;
    int r = vit_binder_get(b, &sc, VIT_SHAPE(1), "%s.%s.scale", p, leaf);
    if (r == 0)
        r = vit_binder_get(b, &bi, VIT_SHAPE(1), "%s.%s.bias", p, leaf);
    if (r == 0) {
        m->act1 = VIT_MF_ACT_STARRELU;
        m->act1_scale = sc[0];
        m->act1_bias = bi[0];
    }
    return r;
}

/* The width of "<p>.<leaf>.weight" (its rows), or -1 when absent or out of range. */
static int64_t rows_of(vit_binder *b, const char *p, const char *leaf)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%s.%s.weight", p, leaf);
    return t && (t->ndim == 2 || t->ndim == 4) && t->shape[0] >= 1 && t->shape[0] <= 1 << 16
               ? t->shape[0]
               : -1;
}

static int no_width(vit_binder *b, const char *p, const char *leaf)
{
    return vit_errorf(b->err, -EINVAL, "%s: tensor %s.%s.weight is missing or not [N, C(, 1, 1)]",
                      b->model->weights->path, p, leaf);
}

/* pwconv1 -> StarReLU -> dwconv -> pwconv2 of block prefix p, as an MLP-shaped chain. */
static int build_sepconv(vit_binder *b, mf2_net *n, vit_mf_stage *st, vit_mf_block *blk,
                         const char *p)
{
    vit_mf_mlp *m = vit_mf_calloc(&n->base.allocs, 1, sizeof(*m));
    if (!m)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    int64_t C = st->dim, Hd = rows_of(b, p, "token_mixer.pwconv1");
    const vit_st_tensor *dw = vit_binder_peek(b, "%s.token_mixer.dwconv.weight", p);
    int k = dw && dw->ndim == 4 ? (int)dw->shape[2] : 7;
    if (Hd < 1)
        return no_width(b, p, "token_mixer.pwconv1");
    m->hidden = (int)Hd;
    m->has_dw = 1;
    blk->mixer = m;
    blk->mixer_fn = vit_mf_sepconv_mixer;
    blk->mixer_residual = 1;
    st->hidden = (int)Hd > st->hidden ? (int)Hd : st->hidden;
    int r = get_pointwise(b, &m->fc1_w, Hd, C, p, "token_mixer.pwconv1");
    if (r == 0)
        r = get_star_relu(b, m, p, "token_mixer.act1");
    if (r == 0)
        r = vit_mf_get_conv(b, &m->dw, (int)Hd, (int)Hd, 1, k / 2, (int)Hd, 0,
                            "%s.token_mixer.dwconv", p);
    if (r == 0 && (m->dw.kh % 2 == 0 || m->dw.kh != k))
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.token_mixer.dwconv.weight: even kernel",
                          b->model->weights->path, p);
    return r < 0 ? r : get_pointwise(b, &m->fc2_w, C, Hd, p, "token_mixer.pwconv2");
}

static int build_attn(vit_binder *b, mf2_net *n, vit_mf_stage *st, vit_mf_block *blk, const char *p)
{
    mf2_attn *a = vit_mf_calloc(&n->base.allocs, 1, sizeof(*a));
    if (!a)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    int64_t C = st->dim, A3 = rows_of(b, p, "token_mixer.qkv");
    if (A3 < 1)
        return no_width(b, p, "token_mixer.qkv");
    if (A3 % (3 * MF2_HEAD_DIM))
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: tensor %s.token_mixer.qkv.weight: %lld rows are not 3 x heads x %d",
                          b->model->weights->path, p, (long long)A3, MF2_HEAD_DIM);
    a->A = (int)(A3 / 3);
    a->heads = a->A / MF2_HEAD_DIM;
    blk->mixer = a;
    blk->mixer_fn = attn_mixer;
    st->hidden = (int)A3 > st->hidden ? (int)A3 : st->hidden;
    int r = vit_binder_get(b, &a->qkv_w, VIT_SHAPE(A3, C), "%s.token_mixer.qkv.weight", p);
    return r < 0
               ? r
               : vit_binder_get(b, &a->proj_w, VIT_SHAPE(C, a->A), "%s.token_mixer.proj.weight", p);
}

static int build_block(vit_binder *b, mf2_net *n, vit_mf_stage *st, int i, int j)
{
    char p[64];
    snprintf(p, sizeof(p), "stages.%d.blocks.%d", i, j);
    vit_mf_block *blk = &st->blocks[j];
    int64_t C = st->dim, Hd = rows_of(b, p, "mlp.fc1");
    int poolv2 = !strncmp(b->model->config.architecture, "poolformerv2_", 13);
    if (Hd < 1)
        return no_width(b, p, "mlp.fc1");
    blk->norm1 =
        (vit_mf_norm){poolv2 ? VIT_MF_NORM_GROUP1 : VIT_MF_NORM_LAYER, NULL, n->zeros, MF2_EPS};
    blk->norm2 = blk->norm1;
    st->hidden = (int)Hd > st->hidden ? (int)Hd : st->hidden;
    blk->mlp.hidden = (int)Hd;
    int r = 0;
    if (vit_binder_peek(b, "%s.token_mixer.qkv.weight", p))
        r = build_attn(b, n, st, blk, p);
    else if (vit_binder_peek(b, "%s.token_mixer.pwconv1.weight", p))
        r = build_sepconv(b, n, st, blk, p);
    else if (poolv2) {
        blk->mixer_fn = vit_mf_pool_mixer;
        blk->mixer_residual = 1;
        blk->mixer_norms = 1; /* it never reads y */
    } else
        return vit_errorf(b->err, -ENOTSUP, "%s: block %s has no token mixer (qkv or pwconv1)",
                          b->model->weights->path, p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm1.weight, VIT_SHAPE(C), "%s.norm1.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm2.weight, VIT_SHAPE(C), "%s.norm2.weight", p);
    if (r == 0)
        r = get_pointwise(b, &blk->mlp.fc1_w, Hd, C, p, "mlp.fc1");
    if (r == 0)
        r = get_star_relu(b, &blk->mlp, p, "mlp.act");
    if (r == 0)
        r = get_pointwise(b, &blk->mlp.fc2_w, C, Hd, p, "mlp.fc2");
    const float **scales[4] = {&blk->ls1, &blk->ls2, &blk->rs1, &blk->rs2};
    const char *names[4] = {"layer_scale1", "layer_scale2", "res_scale1", "res_scale2"};
    for (int k = 0; k < 4 && r == 0; k++)
        r = vit_binder_get_opt(b, scales[k], VIT_SHAPE(C), "%s.%s.scale", p, names[k]);
    return r;
}

static int build_stage(vit_binder *b, mf2_net *n, int i, int cin)
{
    vit_mf_stage *st = &n->stages[i];
    int r = 0;
    st->dim = cin;
    if (vit_binder_peek(b, "stages.%d.downsample.conv.weight", i)) {
        st->has_down = 1;
        st->down_norm = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, n->zeros, MF2_EPS};
        r = vit_binder_get(b, &st->down_norm.weight, VIT_SHAPE(cin),
                           "stages.%d.downsample.norm.weight", i);
        if (r == 0)
            r = vit_mf_get_conv(b, &st->down, cin, -1, 2, 1, 1, 1, "stages.%d.downsample.conv", i);
        if (r < 0)
            return r;
        st->dim = st->down.cout;
    }
    char prefix[48];
    snprintf(prefix, sizeof(prefix), "stages.%d.blocks.", i);
    r = vit_mf_alloc_blocks(b, &n->base.allocs, prefix, i, &st->blocks, &st->depth);
    for (int j = 0; j < st->depth && r == 0; j++)
        r = build_block(b, n, st, i, j);
    return r;
}

static int build_head(vit_binder *b, mf2_net *n)
{
    int64_t C = n->stages[n->num_stages - 1].dim;
    n->head_norm = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, NULL, MF2_EPS};
    int r = vit_binder_get(b, &n->head_norm.weight, VIT_SHAPE(C), "head.norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->head_norm.bias, VIT_SHAPE(C), "head.norm.bias");
    if (r < 0 || !vit_binder_peek(b, "head.fc.fc1.weight"))
        return r < 0 ? r
                     : vit_mf_get_head(b, C, "head.fc", &n->base.num_classes, &n->fc_w, &n->fc_b);
    int64_t Hd = rows_of(b, "head.fc", "fc1");
    if (Hd < 1)
        return no_width(b, "head.fc", "fc1");
    n->head_hidden = (int)Hd;
    n->head_fc_norm = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, NULL, MF2_EPS};
    r = vit_binder_get(b, &n->fc1_w, VIT_SHAPE(Hd, C), "head.fc.fc1.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->fc1_b, VIT_SHAPE(Hd), "head.fc.fc1.bias");
    if (r == 0)
        r = vit_binder_get(b, &n->head_fc_norm.weight, VIT_SHAPE(Hd), "head.fc.norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->head_fc_norm.bias, VIT_SHAPE(Hd), "head.fc.norm.bias");
    return r < 0 ? r
                 : vit_mf_get_head(b, Hd, "head.fc.fc2", &n->base.num_classes, &n->fc_w, &n->fc_b);
}

static int build_net(vit_binder *b, void *net)
{
    mf2_net *n = net;
    int r = vit_mf_get_conv(b, &n->stem, -1, -1, 4, 2, 1, 1, "stem.conv");
    if (r < 0)
        return r;
    n->base.in_chans = n->stem.cin;
    n->num_stages = vit_binder_count(b, "stages.", ".");
    if (n->num_stages < 1 || n->num_stages > MF2_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, MF2_MAX_STAGES);
    /* widths only grow in these networks, but take the largest downsample's to be sure */
    int maxc = n->stem.cout;
    for (int i = 1; i < n->num_stages; i++) {
        const vit_st_tensor *t = vit_binder_peek(b, "stages.%d.downsample.conv.weight", i);
        if (t && t->ndim == 4 && t->shape[0] > maxc && t->shape[0] <= 1 << 16)
            maxc = (int)t->shape[0];
    }
    if (!(n->zeros = vit_mf_calloc(&n->base.allocs, (size_t)maxc, sizeof(float))))
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    n->stem_norm = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, n->zeros, MF2_EPS};
    r = vit_binder_get(b, &n->stem_norm.weight, VIT_SHAPE(n->stem.cout), "stem.norm.weight");
    for (int i = 0; i < n->num_stages && r == 0; i++)
        r = build_stage(b, n, i, i ? n->stages[i - 1].dim : n->stem.cout);
    if (r == 0)
        r = build_head(b, n);
    if (r == 0)
        r = vit_mf_input_size(b->model, n->base.in_chans, 224, n->base.num_classes, &n->base.img_h,
                              &n->base.img_w, b->err);
    if (r == 0)
        r = vit_mf_stage_sizes(b, &n->base, n->stages, n->num_stages,
                               vit_conv_out_size(n->base.img_h, n->stem.kh, 4, 2),
                               vit_conv_out_size(n->base.img_w, n->stem.kw, 4, 2));
    return r < 0 ? r : vit_mf_check_stages(b, n->stages, n->num_stages, "dims", "MetaFormer");
}

static double mf2_gflops(const void *net)
{
    const mf2_net *n = net;
    double macs = vit_conv2d_macs(&n->stem, n->base.img_h, n->base.img_w);
    for (int i = 0; i < n->num_stages; i++) {
        const vit_mf_stage *st = &n->stages[i];
        double N = (double)st->H * st->W, C = st->dim, mix = 9.0 * N * C;
        if (st->has_down)
            macs += vit_conv2d_macs(&st->down, n->stages[i - 1].H, n->stages[i - 1].W);
        for (int j = 0; j < st->depth; j++) {
            const vit_mf_block *blk = &st->blocks[j];
            if (blk->mixer_fn == attn_mixer) {
                double A = ((const mf2_attn *)blk->mixer)->A;
                mix = N * C * 4.0 * A + 2.0 * N * N * A;
            } else if (blk->mixer_fn == vit_mf_sepconv_mixer) {
                const vit_mf_mlp *m = blk->mixer;
                mix = N * m->hidden * (2.0 * C + m->dw.kh * m->dw.kw);
            }
            macs += mix + 2.0 * N * C * blk->mlp.hidden;
        }
    }
    double C = n->stages[n->num_stages - 1].dim;
    macs += n->head_hidden ? C * n->head_hidden + (double)n->head_hidden * n->base.num_classes
                           : C * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int mf2_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(mf2_net), build_net, mf2_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static void mf2_head(const mf2_net *n, vit_mf_state *s, float *logits)
{
    int C = s->C, Hd = n->head_hidden;
    float *feat = s->work, *fn = s->work + C, *h = s->work + 2 * C;
    vit_token_mean(s->x, C, s->H * s->W, C, feat);
    vit_layernorm_rows(1, C, feat, C, n->head_norm.weight, n->head_norm.bias, MF2_EPS, fn, C);
    if (Hd) { /* fc1 -> SquaredReLU -> LayerNorm -> fc2 */
        vit_linear_cols(s->pool, 1, Hd, C, fn, C, n->fc1_w, n->fc1_b, 0.0f, h, Hd);
        for (int k = 0; k < Hd; k++)
            h[k] = h[k] > 0.0f ? h[k] * h[k] : 0.0f;
        vit_layernorm_rows(1, Hd, h, Hd, n->head_fc_norm.weight, n->head_fc_norm.bias, MF2_EPS, h,
                           Hd);
        fn = h;
        C = Hd;
    }
    vit_linear_cols(s->pool, 1, n->base.num_classes, C, fn, C, n->fc_w, n->fc_b, 0.0f, logits,
                    n->base.num_classes);
}

static size_t mf2_layout(const mf2_net *n, int threads, char *base, vit_mf_state *s)
{
    size_t max_nc = (size_t)n->stem.cout * n->stages[0].H * n->stages[0].W, max_nh = 0;
    size_t C = (size_t)n->stages[n->num_stages - 1].dim;
    size_t work = 2 * C + (size_t)n->head_hidden;
    size_t conv = vit_conv2d_pool_scratch_floats(&n->stem, VIT_CONV_CHW, n->base.img_h,
                                                 n->base.img_w, threads);
    vit_mf_stages_extent(n->stages, n->num_stages, threads, &max_nc, &max_nh, &conv);
    for (int i = 0; i < n->num_stages; i++) {
        size_t N = (size_t)n->stages[i].H * n->stages[i].W;
        if (n->stages[i].blocks[0].mixer_fn == attn_mixer &&
            (size_t)threads * VIT_MF_ATTN_CHUNK * N > work)
            work = (size_t)threads * VIT_MF_ATTN_CHUNK * N;
    }
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, work, conv);
    return c.off;
}

static size_t mf2_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return mf2_layout(m->net, threads, NULL, &s);
}

static int mf2_run(const vit_model *m, vit_run *run, const float *chw)
{
    const mf2_net *n = m->net;
    vit_mf_state s;
    mf2_layout(n, run->threads, run->arena, &s);
    vit_mf_stem_run(&s, run->pool, &n->stem, chw, n->base.img_h, n->base.img_w);
    vit_mf_norm_run(&n->stem_norm, &s, s.x, s.x, s.C);
    vit_mf_stages_run(&s, n->stages, n->num_stages);
    mf2_head(n, &s, run->logits);
    return 0;
}

const vit_family vit_family_metaformer_v2 = {
    .name = "metaformer_v2",
    .patterns = mf2_patterns,
    .build = mf2_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = mf2_arena_bytes,
    .run = mf2_run,
};
