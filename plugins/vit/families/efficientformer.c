/* efficientformer.c — EfficientFormer (Li et al., "Vision Transformers at MobileNet Speed") in
 * timm's keys: efficientformer_l1, _l3, _l7. BatchNorms are folded into the convs at load.
 *   stem: conv1 3x3 s2 p1 + BN + ReLU, conv2 3x3 s2 p1 + BN + ReLU
 *   stage i > 0: downsample.conv 3x3 s2 p1 + downsample.norm (BN)
 *   Meta4D block (blocks.j with ls1.gamma and no norm1), on the map:
 *     x += ls1 * (AvgPool3x3(x) - x);  x += ls2 * BN(fc2(GELU(BN(fc1(x)))))   (1x1 convs)
 *   Meta3D block (the last stage's last blocks; the parameter-free Flat between them takes a
 *   block index), on tokens: x += ls1 * proj(Attn(LN(x))); x += ls2 * fc2(GELU(fc1(LN(x))))
 *     LayerNorms eps 1e-5; qkv Linear (bias) whose rows are, per head, [q kd | k kd | v vd];
 *     logits = q k^T kd^-0.5 + attention_biases[h, |dy| * R + |dx|] on the R x R grid
 *     (attention_bias_idxs is rebuilt, the stored buffer ignored); heads re-joined h * vd + j
 *   head: norm (LayerNorm 1e-5) on every token -> mean -> (head(x) + head_dist(x)) / 2. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/ops.h"
#include "ops/pool.h"

#define EF_MAX_STAGES 8
#define EF_MAX_BLOCKS 64
#define EF_BN_EPS 1e-5f
#define EF_LN_EPS 1e-5f

typedef struct ef_attn {
    int heads, kd, vd, R; /* qkv width heads * (2 kd + vd); bias table [heads, R * R] */
    const float *qkv_w, *qkv_b, *proj_w, *proj_b, *biases;
} ef_attn;

typedef struct ef_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stages, max_qkv;
    vit_conv2d stem1, stem2;
    vit_mf_stage stages[EF_MAX_STAGES];
    vit_mf_norm norm;
    const float *head_w, *head_b, *dist_w, *dist_b;
} ef_net;

static const char *const ef_patterns[] = {"efficientformer_*", NULL};

/* ---- the attention mixer ----------------------------------------------------------------- */

typedef struct ef_job {
    const vit_mf_block *blk;
    vit_mf_state *s;
} ef_job;

static int ef_qkv_width(const ef_attn *a)
{
    return a->heads * (2 * a->kd + a->vd);
}

static void ef_qkv_task(void *ctx, int r0, int r1, int task)
{
    ef_job *j = ctx;
    const ef_attn *a = j->blk->mixer;
    vit_mf_state *s = j->s;
    int Q = ef_qkv_width(a);
    vit_linear(r1 - r0, Q, s->C, s->y + (size_t)r0 * s->C, s->C, a->qkv_w, a->qkv_b, 0.0f,
               s->hidden + (size_t)r0 * Q, Q);
}

/* Query rows [r0, r1): per head, logits + bias table, softmax, times v, then proj into s->t. */
static void ef_attn_task(void *ctx, int r0, int r1, int task)
{
    ef_job *j = ctx;
    const ef_attn *a = j->blk->mixer;
    vit_mf_state *s = j->s;
    int N = s->H * s->W, Q = ef_qkv_width(a), hw = 2 * a->kd + a->vd, V = a->heads * a->vd;
    vit_mf_bias_attn ba = {a->heads, a->kd, a->vd, Q,    Q,    Q, hw,
                           hw,       hw,    s->H,  s->W, s->W, 1, a->biases};
    vit_mf_bias_attention_rows(&ba, s->hidden, s->hidden + a->kd, s->hidden + 2 * a->kd, r0, r1,
                               s->work + (size_t)task * VIT_MF_ATTN_CHUNK * N, s->hidden2, V);
    vit_linear(r1 - r0, s->C, V, s->hidden2 + (size_t)r0 * V, V, a->proj_w, a->proj_b, 0.0f,
               s->t + (size_t)r0 * s->C, s->C);
}

static void ef_attn_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    ef_job j = {blk, s};
    vit_mf_parallel(s, s->H * s->W, ef_qkv_task, &j);
    vit_mf_parallel(s, s->H * s->W, ef_attn_task, &j);
}

/* ---- building ---------------------------------------------------------------------------- */

/* A 1x1 conv "<p>.<fc>" with bias and its BatchNorm "<p>.<norm>" folded in. */
static int get_conv_bn(vit_binder *b, ef_net *n, vit_conv2d *c, int cin, const char *p,
                       const char *fc, const char *norm)
{
    int r = vit_mf_get_conv(b, c, cin, -1, 1, 0, 1, 1, "%s.%s", p, fc);
    if (r == 0 && c->kh != 1)
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.%s.weight is not a 1x1 conv",
                          b->model->weights->path, p, fc);
    return r < 0 ? r : vit_mf_fold_bn(b, &n->base.allocs, c, EF_BN_EPS, "%s.%s", p, norm);
}

static int build_meta4d(vit_binder *b, ef_net *n, vit_mf_stage *st, vit_mf_block *blk,
                        const char *p)
{
    vit_conv2d fc1, fc2;
    blk->mixer_fn = vit_mf_pool_mixer;
    blk->mixer_residual = 1;
    blk->mixer_norms = 1;
    blk->mlp.act1 = VIT_MF_ACT_GELU;
    int r = get_conv_bn(b, n, &fc1, st->dim, p, "mlp.fc1", "mlp.norm1");
    if (r == 0)
        r = get_conv_bn(b, n, &fc2, fc1.cout, p, "mlp.fc2", "mlp.norm2");
    if (r == 0 && fc2.cout != st->dim)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor %s.mlp.fc2.weight has %d outputs, expected %d",
                          b->model->weights->path, p, fc2.cout, st->dim);
    if (r < 0)
        return r;
    blk->mlp.hidden = fc1.cout;
    blk->mlp.fc1_w = fc1.weight;
    blk->mlp.fc1_b = fc1.bias;
    blk->mlp.fc2_w = fc2.weight;
    blk->mlp.fc2_b = fc2.bias;
    return 0;
}

static int build_meta3d(vit_binder *b, ef_net *n, vit_mf_stage *st, vit_mf_block *blk,
                        const char *p)
{
    int64_t C = st->dim;
    ef_attn *a = vit_mf_calloc(&n->base.allocs, 1, sizeof(*a));
    if (!a)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    const vit_st_tensor *ab = vit_binder_peek(b, "%s.token_mixer.attention_biases", p);
    const vit_st_tensor *qkv = vit_binder_peek(b, "%s.token_mixer.qkv.weight", p);
    const vit_st_tensor *proj = vit_binder_peek(b, "%s.token_mixer.proj.weight", p);
    if (!ab || ab->ndim != 2 || !qkv || qkv->ndim != 2 || !proj || proj->ndim != 2)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, -1), "%s.token_mixer.%s", p,
                              !ab    ? "attention_biases"
                              : !qkv ? "qkv.weight"
                                     : "proj.weight");
    a->heads = (int)ab->shape[0];
    a->R = (int)lround(sqrt((double)ab->shape[1]));
    a->vd = a->heads > 0 ? (int)(proj->shape[1] / a->heads) : 0;
    a->kd = a->heads > 0 ? (int)((qkv->shape[0] / a->heads - a->vd) / 2) : 0;
    if (a->heads < 1 || a->kd < 1 || a->vd < 1 || (int64_t)a->R * a->R != ab->shape[1] ||
        ef_qkv_width(a) != qkv->shape[0] || a->heads * a->vd != proj->shape[1])
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: tensors %s.token_mixer.*: qkv, proj and attention_biases do not "
                          "make heads of [q k v] and a square bias table",
                          b->model->weights->path, p);
    vit_binder_ignore(b, "%s.token_mixer.attention_bias_idxs", p);
    n->max_qkv = ef_qkv_width(a) > n->max_qkv ? ef_qkv_width(a) : n->max_qkv;
    blk->mixer = a;
    blk->mixer_fn = ef_attn_mixer;
    int hidden = 0;
    int r = vit_mf_get_ln_block(b, blk, p, C, EF_LN_EPS, 0, &hidden);
    blk->mlp.act1 = VIT_MF_ACT_GELU;
    int64_t Q = ef_qkv_width(a), V = (int64_t)a->heads * a->vd;
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_w, VIT_SHAPE(C, hidden), "%s.mlp.fc2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_b, VIT_SHAPE(C), "%s.mlp.fc2.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->biases, VIT_SHAPE(a->heads, a->R * a->R),
                           "%s.token_mixer.attention_biases", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_w, VIT_SHAPE(Q, C), "%s.token_mixer.qkv.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_b, VIT_SHAPE(Q), "%s.token_mixer.qkv.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_w, VIT_SHAPE(C, V), "%s.token_mixer.proj.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_b, VIT_SHAPE(C), "%s.token_mixer.proj.bias", p);
    return r;
}

static int build_stage(vit_binder *b, ef_net *n, int i, int cin)
{
    vit_mf_stage *st = &n->stages[i];
    int r = 0, idx[EF_MAX_BLOCKS];
    st->dim = cin;
    if (vit_binder_peek(b, "stages.%d.downsample.conv.weight", i)) {
        st->has_down = 1;
        r = vit_mf_get_conv(b, &st->down, cin, -1, 2, 1, 1, 1, "stages.%d.downsample.conv", i);
        if (r == 0)
            r = vit_mf_fold_bn(b, &n->base.allocs, &st->down, EF_BN_EPS,
                               "stages.%d.downsample.norm", i);
        if (r == 0) /* on the token-major map: im2col copies whole taps */
            r = vit_mf_conv_khwc(b, &n->base.allocs, &st->down);
        if (r < 0)
            return r;
        st->dim = st->down.cout;
    }
    /* block indices with weights (the Flat module between Meta4D and Meta3D has none) */
    for (int j = 0, gap = 0; j < EF_MAX_BLOCKS && gap < 2; j++) {
        gap = vit_binder_peek(b, "stages.%d.blocks.%d.ls1.gamma", i, j) ? 0 : gap + 1;
        if (!gap)
            idx[st->depth++] = j;
    }
    if (st->depth < 1)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d has no blocks", b->model->weights->path,
                          i);
    st->blocks = vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(vit_mf_block));
    if (!st->blocks)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int k = 0; k < st->depth && r == 0; k++) {
        char p[64];
        snprintf(p, sizeof(p), "stages.%d.blocks.%d", i, idx[k]);
        vit_mf_block *blk = &st->blocks[k];
        r = vit_binder_peek(b, "%s.token_mixer.qkv.weight", p) ? build_meta3d(b, n, st, blk, p)
                                                               : build_meta4d(b, n, st, blk, p);
        if (r == 0)
            r = vit_binder_get(b, &blk->ls1, VIT_SHAPE(st->dim), "%s.ls1.gamma", p);
        if (r == 0)
            r = vit_binder_get(b, &blk->ls2, VIT_SHAPE(st->dim), "%s.ls2.gamma", p);
        st->hidden = blk->mlp.hidden > st->hidden ? blk->mlp.hidden : st->hidden;
        st->hidden = n->max_qkv > st->hidden ? n->max_qkv : st->hidden;
    }
    return r;
}

static int build_head(vit_binder *b, ef_net *n)
{
    int64_t C = n->stages[n->num_stages - 1].dim;
    n->norm = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, NULL, EF_LN_EPS};
    int r = vit_binder_get(b, &n->norm.weight, VIT_SHAPE(C), "norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->norm.bias, VIT_SHAPE(C), "norm.bias");
    if (r == 0)
        r = vit_mf_get_distilled_heads(b, C, &n->base.num_classes, &n->head_w, &n->head_b,
                                       &n->dist_w, &n->dist_b);
    return r;
}

/* Every Meta3D bias table must fit its stage's grid. */
static int check_bias_grids(vit_binder *b, const ef_net *n)
{
    for (int i = 0; i < n->num_stages; i++) {
        const vit_mf_stage *st = &n->stages[i];
        for (int k = 0; k < st->depth; k++) {
            const ef_attn *a = st->blocks[k].mixer_fn == ef_attn_mixer ? st->blocks[k].mixer : NULL;
            if (a && (a->R != st->H || a->R != st->W))
                return vit_errorf(b->err, -EINVAL,
                                  "%s: stage %d's attention biases are for a %dx%d grid, the "
                                  "image %dx%d gives %dx%d",
                                  b->model->config.source, i, a->R, a->R, n->base.img_h,
                                  n->base.img_w, st->H, st->W);
        }
    }
    return 0;
}

static int build_net(vit_binder *b, void *net)
{
    ef_net *n = net;
    int r = vit_mf_get_conv(b, &n->stem1, -1, -1, 2, 1, 1, 1, "stem.conv1");
    if (r == 0)
        r = vit_mf_fold_bn(b, &n->base.allocs, &n->stem1, EF_BN_EPS, "stem.norm1");
    if (r == 0)
        r = vit_mf_get_conv(b, &n->stem2, n->stem1.cout, -1, 2, 1, 1, 1, "stem.conv2");
    if (r == 0)
        r = vit_mf_fold_bn(b, &n->base.allocs, &n->stem2, EF_BN_EPS, "stem.norm2");
    if (r == 0)
        r = vit_mf_conv_khwc(b, &n->base.allocs, &n->stem2);
    if (r == 0 && (n->stem1.kh != 3 || n->stem2.kh != 3))
        return vit_errorf(b->err, -ENOTSUP, "%s: the stem convs must be 3x3",
                          b->model->weights->path);
    if (r < 0)
        return r;
    n->base.in_chans = n->stem1.cin;
    n->num_stages = vit_binder_count(b, "stages.", ".");
    if (n->num_stages < 1 || n->num_stages > EF_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, EF_MAX_STAGES);
    for (int i = 0; i < n->num_stages && r == 0; i++)
        r = build_stage(b, n, i, i ? n->stages[i - 1].dim : n->stem2.cout);
    if (r == 0)
        r = build_head(b, n);
    if (r == 0)
        r = vit_mf_input_size(b->model, n->base.in_chans, 224, n->base.num_classes, &n->base.img_h,
                              &n->base.img_w, b->err);
    if (r == 0)
        r = vit_mf_stage_sizes(
            b, &n->base, n->stages, n->num_stages,
            vit_conv_out_size(vit_conv_out_size(n->base.img_h, 3, 2, 1), 3, 2, 1),
            vit_conv_out_size(vit_conv_out_size(n->base.img_w, 3, 2, 1), 3, 2, 1));
    if (r == 0)
        r = check_bias_grids(b, n);
    return r < 0
               ? r
               : vit_mf_check_stages(b, n->stages, n->num_stages, "embed_dims", "EfficientFormer");
}

static double ef_gflops(const void *net)
{
    const ef_net *n = net;
    int h1 = vit_conv_out_size(n->base.img_h, 3, 2, 1),
        w1 = vit_conv_out_size(n->base.img_w, 3, 2, 1);
    double macs = vit_conv2d_macs(&n->stem1, n->base.img_h, n->base.img_w) +
                  vit_conv2d_macs(&n->stem2, h1, w1);
    for (int i = 0; i < n->num_stages; i++) {
        const vit_mf_stage *st = &n->stages[i];
        double N = (double)st->H * st->W, C = st->dim;
        if (st->has_down)
            macs += vit_conv2d_macs(&st->down, n->stages[i - 1].H, n->stages[i - 1].W);
        for (int k = 0; k < st->depth; k++) {
            const vit_mf_block *blk = &st->blocks[k];
            macs += 2.0 * N * C * blk->mlp.hidden + 9.0 * N * C;
            if (blk->mixer_fn == ef_attn_mixer) {
                const ef_attn *a = blk->mixer;
                double V = (double)a->heads * a->vd;
                macs += N * C * (ef_qkv_width(a) + V) + N * N * a->heads * (a->kd + a->vd);
            }
        }
    }
    macs += 2.0 * n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int ef_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(ef_net), build_net, ef_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static size_t ef_layout(const ef_net *n, int threads, char *base, vit_mf_state *s)
{
    int h1 = vit_conv_out_size(n->base.img_h, 3, 2, 1),
        w1 = vit_conv_out_size(n->base.img_w, 3, 2, 1);
    size_t max_nc = (size_t)h1 * w1 * n->stem1.cout, max_nh = 0;
    size_t work = 2 * (size_t)n->stages[n->num_stages - 1].dim;
    size_t conv = vit_conv2d_pool_scratch_floats(&n->stem1, VIT_CONV_CHW, n->base.img_h,
                                                 n->base.img_w, threads);
    size_t c2 = vit_conv2d_pool_scratch_floats(&n->stem2, VIT_CONV_HWC, h1, w1, threads);
    conv = c2 > conv ? c2 : conv;
    vit_mf_stages_extent(n->stages, n->num_stages, threads, &max_nc, &max_nh, &conv);
    for (int i = 0; i < n->num_stages && n->max_qkv; i++) {
        size_t N = (size_t)n->stages[i].H * n->stages[i].W;
        work = (size_t)threads * VIT_MF_ATTN_CHUNK * N > work
                   ? (size_t)threads * VIT_MF_ATTN_CHUNK * N
                   : work;
    }
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, work, conv);
    return c.off;
}

static size_t ef_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return ef_layout(m->net, threads, NULL, &s);
}

/* y = conv(x) then ReLU, swapping x and y. */
static void ef_conv_relu(vit_mf_state *s, const vit_conv2d *c, const float *in,
                         vit_conv_layout layout, int H, int W)
{
    int OH = vit_conv_out_size(H, c->kh, 2, 1), OW = vit_conv_out_size(W, c->kw, 2, 1);
    vit_mf_conv_act(s, c, in, layout, H, W, s->y, c->cout, VIT_MF_ACT_RELU);
    float *t = s->x;
    s->x = s->y;
    s->y = t;
    s->H = OH;
    s->W = OW;
    s->C = c->cout;
}

static int ef_run(const vit_model *m, vit_run *run, const float *chw)
{
    const ef_net *n = m->net;
    vit_mf_state s;
    ef_layout(n, run->threads, run->arena, &s);
    s.pool = run->pool;
    ef_conv_relu(&s, &n->stem1, chw, VIT_CONV_CHW, n->base.img_h, n->base.img_w);
    ef_conv_relu(&s, &n->stem2, s.x, VIT_CONV_HWC, s.H, s.W);
    vit_mf_stages_run(&s, n->stages, n->num_stages);
    /* LayerNorm on every token, mean, both heads averaged */
    vit_mf_norm_run(&n->norm, &s, s.x, s.y, s.C);
    vit_mf_distilled_head(&s, s.y, n->head_w, n->head_b, n->dist_w, n->dist_b, n->base.num_classes,
                          run->logits);
    return 0;
}

const vit_family vit_family_efficientformer = {
    .name = "efficientformer",
    .patterns = ef_patterns,
    .build = ef_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = ef_arena_bytes,
    .run = ef_run,
};
