/* hatnet.c — HAT-Net (hat_net_tiny ... large) and the original TransCNN (transcnn_tiny
 * ... large), the hierarchical-MHSA networks of yun-liu/HAT-Net, with their official keys.
 *
 * Block (the MetaFormer block of metaformer.h): x += proj(H-MHSA(norm(x), x)); x += IRB(x).
 * H-MHSA with grid G and pool ratio ds: qkv = 1x1 conv of norm(x); G > 1: attention inside
 * each G x G cell (window.c without shift or bias), z = grid_norm(x + local), global attention
 * of q(z) over kv(ds_norm(AvgPool_ds(z))), plus z; G = 1: plain global attention of qkv.
 *   HAT-Net: every norm is GroupNorm(1) eps 1e-6; IRB = GN -> 1x1 -> SiLU -> depthwise kxk ->
 *     SiLU -> 1x1 -> GN; downsampler Conv3x3 s2 + GN; attn.proj_norm is stored but unused.
 *   TransCNN: every norm is BatchNorm (eps 1e-5): after a conv it is folded into the conv at
 *     load (conv.h), elsewhere it becomes a per-channel affine; IRB = 1x1+BN -> SiLU ->
 *     depthwise+BN -> SiLU -> 1x1+BN; downsampler (TDB) SiLU(BN(Conv3x3 s2(x)) +
 *     BN(Conv1x1(MaxPool2x2(x)))).
 * Stem Conv3x3 s2 -> 16 -> norm -> SiLU -> Conv3x3 s2; head: mean -> classifier.1.
 * Widths, depths, expansions and kernels come from the tensors; head_dim, grid_sizes and
 * ds_ratios from model_args, else the published sizes of the architecture name. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/norm2d.h"
#include "ops/ops.h"
#include "ops/pool.h"
#include "families/hmhsa.h"

#define HAT_MAX_STAGES 4
#define HAT_STEM 16
#define HAT_GN_EPS 1e-6f
#define BN_EPS 1e-5f
#define HAT_MAX_OWNED 4096

typedef struct hat_stage {
    int dim, depth, hidden, grid, ds, H, W, M; /* M: pooled rows (G > 1) */
    vit_conv2d down, down_res;                 /* down_res: TransCNN's 1x1 branch */
    vit_mf_norm down_norm;                     /* HAT-Net's GN after the conv */
    vit_mf_block *blocks;
    vit_hmhsa *attn;
} hat_stage;

typedef struct hat_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int transcnn;
    int num_stages, head_dim;
    vit_conv2d stem1, stem2;
    vit_mf_norm stem_norm;
    hat_stage stages[HAT_MAX_STAGES];
    const float *head_w, *head_b;
    int num_owned; /* folded BatchNorms (in allocs): the model's only weight copies */
} hat_net;

static const char *const hat_patterns[] = {"hat_net_*", "transcnn_*", NULL};

/* ---- building ---------------------------------------------------------------------------- */

static float *own(vit_binder *b, hat_net *n, size_t floats)
{
    if (n->num_owned >= HAT_MAX_OWNED)
        return NULL;
    float *p = vit_mf_calloc(&n->base.allocs, floats ? floats : 1, sizeof(float));
    if (p)
        n->num_owned++;
    return p;
}

/* HAT-Net: GroupNorm(1) eps 1e-6; TransCNN: BatchNorm as a per-channel affine. */
static int get_norm(vit_binder *b, hat_net *n, vit_mf_norm *ret, int C, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int get_norm(vit_binder *b, hat_net *n, vit_mf_norm *ret, int C, const char *fmt, ...)
{
    char p[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof(p), fmt, ap);
    va_end(ap);
    if (!n->transcnn) {
        *ret = (vit_mf_norm){VIT_MF_NORM_GROUP1, NULL, NULL, HAT_GN_EPS};
        int r = vit_binder_get(b, &ret->weight, VIT_SHAPE(C), "%s.weight", p);
        return r ? r : vit_binder_get(b, &ret->bias, VIT_SHAPE(C), "%s.bias", p);
    }
    vit_mf_bn bn;
    int r = vit_mf_get_bn(b, &bn, C, p);
    if (r < 0)
        return r;
    float *scale = own(b, n, 2 * (size_t)C);
    if (!scale)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    vit_bn_to_affine(C, bn.gamma, bn.beta, bn.mean, bn.var, BN_EPS, scale, scale + C);
    *ret = (vit_mf_norm){VIT_MF_NORM_AFFINE, scale, scale + C, 0.0f};
    return 0;
}

/* Folds the BatchNorm at prefix into conv c (model-owned copies of its weight and bias). */
static int fold_bn(vit_binder *b, hat_net *n, vit_conv2d *c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fold_bn(vit_binder *b, hat_net *n, vit_conv2d *c, const char *fmt, ...)
{
    char p[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof(p), fmt, ap);
    va_end(ap);
    return vit_mf_fold_bn(b, &n->base.allocs, c, BN_EPS, "%s", p);
}

static int build_attn(vit_binder *b, hat_net *n, hat_stage *st, int s, int i)
{
    vit_hmhsa *a = &st->attn[i];
    vit_mf_block *blk = &st->blocks[i];
    int C = st->dim;
    int64_t C64 = C;
    char p[64];
    snprintf(p, sizeof(p), "blocks.%d.%d.attn", s, i);
    *a = (vit_hmhsa){.C = C, .heads = C / n->head_dim, .grid = st->grid, .ds = st->ds};
    blk->mixer_fn = vit_hmhsa_mixer;
    blk->mixer_residual = 1;
    blk->mixer_norms = 1;
    blk->mixer = a;
    int r = get_norm(b, n, &blk->norm1, C, "%s.norm", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_w, VIT_SHAPE(3 * C64, C64, 1, 1), "%s.qkv.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_b, VIT_SHAPE(3 * C64), "%s.qkv.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_w, VIT_SHAPE(C64, C64, 1, 1), "%s.proj.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_b, VIT_SHAPE(C64), "%s.proj.bias", p);
    if (r == 0 && !n->transcnn) { /* stored, never used by the forward */
        vit_binder_ignore(b, "%s.proj_norm.weight", p);
        vit_binder_ignore(b, "%s.proj_norm.bias", p);
    }
    if (r == 0 && st->grid > 1) {
        r = get_norm(b, n, &a->grid_norm, C, "%s.grid_norm", p);
        if (r == 0)
            r = get_norm(b, n, &a->ds_norm, C, "%s.ds_norm", p);
        if (r == 0)
            r = vit_binder_get(b, &a->q_w, VIT_SHAPE(C64, C64, 1, 1), "%s.q.weight", p);
        if (r == 0)
            r = vit_binder_get(b, &a->q_b, VIT_SHAPE(C64), "%s.q.bias", p);
        if (r == 0)
            r = vit_binder_get(b, &a->kv_w, VIT_SHAPE(2 * C64, C64, 1, 1), "%s.kv.weight", p);
        if (r == 0)
            r = vit_binder_get(b, &a->kv_b, VIT_SHAPE(2 * C64), "%s.kv.bias", p);
    }
    return r;
}

static int build_irb(vit_binder *b, hat_net *n, hat_stage *st, int s, int i)
{
    vit_mf_block *blk = &st->blocks[i];
    vit_mf_mlp *m = &blk->mlp;
    int C = st->dim;
    char p[64];
    snprintf(p, sizeof(p), "blocks.%d.%d.conv", s, i);
    const char *c1 = n->transcnn ? "conv1.0" : "conv1.1";
    const vit_st_tensor *t = vit_binder_peek(b, "%s.%s.weight", p, c1);
    if (!t || t->ndim != 4 || t->shape[0] < 1 || t->shape[0] > 1 << 16)
        return vit_binder_get(b, &m->fc1_w, VIT_SHAPE(-1, C, 1, 1), "%s.%s.weight", p, c1);
    int Hd = (int)t->shape[0];
    if (i > 0 && Hd != st->hidden)
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: tensor %s.%s.weight: IRB width differs within "
                          "a stage",
                          b->model->weights->path, p, c1);
    st->hidden = Hd;
    vit_conv2d fc1, fc2;
    const vit_st_tensor *dw = vit_binder_peek(b, "%s.conv2.0.weight", p);
    int k = dw && dw->ndim == 4 ? (int)dw->shape[2] : 3;
    int r = vit_mf_get_conv(b, &fc1, C, Hd, 1, 0, 1, 0, "%s.%s", p, c1);
    if (r == 0)
        r = vit_mf_get_conv(b, &m->dw, Hd, Hd, 1, (k - 1) / 2, Hd, 0, "%s.conv2.0", p);
    if (r == 0)
        r = vit_mf_get_conv(b, &fc2, Hd, C, 1, 0, 1, 0, "%s.conv3.0", p);
    if (r == 0 && (!vit_conv2d_is_depthwise(&m->dw) || k % 2 == 0 || m->dw.kw != k))
        r = vit_errorf(b->err, -ENOTSUP,
                       "%s: tensor %s.conv2.0.weight: need an odd depthwise "
                       "kernel of at most 7x7",
                       b->model->weights->path, p);
    if (r == 0 && n->transcnn) {
        r = fold_bn(b, n, &fc1, "%s.conv1.1", p);
        if (r == 0)
            r = fold_bn(b, n, &m->dw, "%s.conv2.1", p);
        if (r == 0)
            r = fold_bn(b, n, &fc2, "%s.conv3.1", p);
        blk->norm2 = (vit_mf_norm){VIT_MF_NORM_NONE, NULL, NULL, 0.0f};
        m->post_norm = blk->norm2;
    } else if (r == 0) {
        r = get_norm(b, n, &blk->norm2, C, "%s.conv1.0", p);
        if (r == 0)
            r = get_norm(b, n, &m->post_norm, C, "%s.conv3.1", p);
    }
    m->hidden = Hd;
    m->fc1_w = fc1.weight;
    m->fc1_b = fc1.bias;
    m->fc2_w = fc2.weight;
    m->fc2_b = fc2.bias;
    m->act1 = VIT_MF_ACT_SILU;
    m->has_dw = 1;
    m->act2 = VIT_MF_ACT_SILU;
    return r;
}

static int build_downsample(vit_binder *b, hat_net *n, hat_stage *st, int s, int cin)
{
    int r = vit_mf_get_conv(b, &st->down, cin, -1, 2, 1, 1, 1, "ds%d.conv", s + 1);
    if (r < 0)
        return r;
    st->dim = st->down.cout;
    if (!n->transcnn)
        return get_norm(b, n, &st->down_norm, st->dim, "ds%d.norm", s + 1);
    r = vit_mf_get_conv(b, &st->down_res, cin, st->dim, 1, 0, 1, 1, "ds%d.residual", s + 1);
    if (r == 0 && st->down_res.kh != 1)
        r = vit_errorf(b->err, -ENOTSUP, "%s: tensor ds%d.residual.weight: need a 1x1 conv",
                       b->model->weights->path, s + 1);
    if (r == 0)
        r = fold_bn(b, n, &st->down, "ds%d.norm1", s + 1);
    if (r == 0)
        r = fold_bn(b, n, &st->down_res, "ds%d.norm2", s + 1);
    return r;
}

static int build_stage(vit_binder *b, hat_net *n, int s, int cin)
{
    hat_stage *st = &n->stages[s];
    int r = 0;
    if (s > 0)
        r = build_downsample(b, n, st, s, cin);
    else
        st->dim = cin;
    if (r < 0)
        return r;
    if (st->dim % n->head_dim)
        return vit_errorf(b->err, -EINVAL, "%s: head_dim %d does not divide stage %d's width %d",
                          b->model->config.source, n->head_dim, s, st->dim);
    char p[32];
    snprintf(p, sizeof(p), "blocks.%d.", s);
    st->depth = vit_binder_count(b, p, ".");
    st->blocks =
        vit_mf_calloc(&n->base.allocs, (size_t)(st->depth ? st->depth : 1), sizeof(vit_mf_block));
    st->attn =
        vit_mf_calloc(&n->base.allocs, (size_t)(st->depth ? st->depth : 1), sizeof(vit_hmhsa));
    if (!st->blocks || !st->attn)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int i = 0; i < st->depth && r == 0; i++) {
        r = build_attn(b, n, st, s, i);
        if (r == 0)
            r = build_irb(b, n, st, s, i);
    }
    return r;
}

typedef struct hat_sizes {
    const char *name;
    int head_dim, grids[HAT_MAX_STAGES], ds[HAT_MAX_STAGES];
} hat_sizes;

static const hat_sizes published[] = {
    {"hat_net_tiny", 48, {8, 7, 7, 1}, {8, 4, 2, 1}},
    {"hat_net_", 64, {8, 7, 7, 1}, {8, 4, 2, 1}},
    {"transcnn_", 64, {8, 8, 8, 1}, {8, 4, 2, 1}},
};

static int read_sizes(vit_binder *b, hat_net *n)
{
    const char *arch = b->model->config.architecture;
    const hat_sizes *d = &published[n->transcnn ? 2 : 1];
    if (!strncmp(arch, "hat_net_tiny", 12))
        d = &published[0];
    n->head_dim = d->head_dim;
    int r = vit_config_arg_int(&b->model->config, "head_dim", &n->head_dim, b->err);
    if (r < 0 && r != -ENOENT)
        return r;
    if (n->head_dim < 1)
        return vit_errorf(b->err, -EINVAL, "%s: model_args.head_dim must be positive",
                          b->model->config.source);
    int grids[HAT_MAX_STAGES], ds[HAT_MAX_STAGES], ng = n->num_stages, nd = n->num_stages;
    memcpy(grids, d->grids, sizeof(grids));
    memcpy(ds, d->ds, sizeof(ds));
    r = vit_mf_config_int_list(b->model, "grid_sizes", grids, HAT_MAX_STAGES, 1, 1024, &ng, b->err);
    if (r < 0 && r != -ENOENT)
        return r;
    r = vit_mf_config_int_list(b->model, "ds_ratios", ds, HAT_MAX_STAGES, 1, 1024, &nd, b->err);
    if (r < 0 && r != -ENOENT)
        return r;
    if (ng != n->num_stages || nd != n->num_stages)
        return vit_errorf(b->err, -EINVAL, "%s: grid_sizes and ds_ratios need %d entries",
                          b->model->config.source, n->num_stages);
    for (int s = 0; s < n->num_stages; s++) {
        n->stages[s].grid = grids[s];
        n->stages[s].ds = ds[s];
    }
    return 0;
}

static int build_stem(vit_binder *b, hat_net *n)
{
    int r = vit_mf_get_conv(b, &n->stem1, -1, HAT_STEM, 2, 1, 1, 1, "patch_embed.0");
    if (r == 0)
        r = vit_mf_get_conv(b, &n->stem2, HAT_STEM, -1, 2, 1, 1, 1, "patch_embed.3");
    if (r == 0 && (n->stem1.kh != 3 || n->stem2.kh != 3))
        r = vit_errorf(b->err, -ENOTSUP, "%s: patch_embed convs must be 3x3",
                       b->model->weights->path);
    if (r < 0)
        return r;
    n->base.in_chans = n->stem1.cin;
    if (n->transcnn)
        return fold_bn(b, n, &n->stem1, "patch_embed.1");
    return get_norm(b, n, &n->stem_norm, HAT_STEM, "patch_embed.1");
}

/* Grids of every stage; G and ds must tile them. */
static int plan_grids(vit_binder *b, hat_net *n)
{
    int H = vit_conv_out_size(vit_conv_out_size(n->base.img_h, 3, 2, 1), 3, 2, 1);
    int W = vit_conv_out_size(vit_conv_out_size(n->base.img_w, 3, 2, 1), 3, 2, 1);
    for (int s = 0; s < n->num_stages; s++) {
        hat_stage *st = &n->stages[s];
        if (s > 0) {
            if (n->transcnn && (H % 2 || W % 2))
                return vit_errorf(b->err, -EINVAL,
                                  "%s: the TDB downsampler needs even grids, "
                                  "not %dx%d",
                                  b->model->config.source, H, W);
            H = vit_conv_out_size(H, 3, 2, 1);
            W = vit_conv_out_size(W, 3, 2, 1);
        }
        st->H = H;
        st->W = W;
        if (H < 1 || W < 1 ||
            (st->grid > 1 && (H % st->grid || W % st->grid || H < st->ds || W < st->ds)))
            return vit_errorf(b->err, -EINVAL,
                              "%s: stage %d's %dx%d grid does not tile into %dx%d"
                              " cells / pool %d",
                              b->model->config.source, s, H, W, st->grid, st->grid, st->ds);
        st->M = st->grid > 1 ? (H / st->ds) * (W / st->ds) : 0;
    }
    return 0;
}

static int build_net(vit_binder *b, void *net)
{
    hat_net *n = net;
    n->transcnn = !strncmp(b->model->config.architecture, "transcnn_", 9);
    n->num_stages = vit_binder_count(b, "blocks.", ".");
    if (n->num_stages < 1 || n->num_stages > HAT_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, HAT_MAX_STAGES);
    int r = read_sizes(b, n);
    if (r == 0)
        r = build_stem(b, n);
    for (int s = 0; s < n->num_stages && r == 0; s++)
        r = build_stage(b, n, s, s ? n->stages[s - 1].dim : n->stem2.cout);
    if (r < 0)
        return r;
    int64_t C = n->stages[n->num_stages - 1].dim;
    r = vit_mf_get_head(b, C, "classifier.1", &n->base.num_classes, &n->head_w, &n->head_b);
    if (r == 0)
        r = vit_mf_input_size(b->model, n->base.in_chans, n->transcnn ? 256 : 224,
                              n->base.num_classes, &n->base.img_h, &n->base.img_w, b->err);
    if (r == 0)
        r = plan_grids(b, n);
    if (r < 0)
        return r;
    int depths[HAT_MAX_STAGES], dims[HAT_MAX_STAGES];
    for (int s = 0; s < n->num_stages; s++) {
        depths[s] = n->stages[s].depth;
        dims[s] = n->stages[s].dim;
    }
    r = vit_mf_check_arg_lists(b->model, "depths", depths, "dims", dims, n->num_stages, b->err);
    return r < 0 ? r : vit_mf_check_all_used(b, n->transcnn ? "TransCNN" : "HAT-Net");
}

static double hat_gflops(const void *net)
{
    const hat_net *n = net;
    int H0 = vit_conv_out_size(n->base.img_h, 3, 2, 1),
        W0 = vit_conv_out_size(n->base.img_w, 3, 2, 1);
    double macs = vit_conv2d_macs(&n->stem1, n->base.img_h, n->base.img_w) +
                  vit_conv2d_macs(&n->stem2, H0, W0);
    for (int s = 0; s < n->num_stages; s++) {
        const hat_stage *st = &n->stages[s];
        double N = (double)st->H * st->W, C = st->dim, M = st->M, g2 = (double)st->grid * st->grid;
        if (s > 0) {
            macs += vit_conv2d_macs(&st->down, n->stages[s - 1].H, n->stages[s - 1].W);
            if (n->transcnn)
                macs += N * st->down_res.cin * C;
        }
        double attn = N * 3 * C * C + N * C * C;
        attn += st->grid > 1 ? 2 * N * g2 * C + N * C * C + M * 2 * C * C + 2 * N * M * C
                             : 2 * N * N * C;
        double irb = 2 * N * C * st->hidden +
                     N * st->hidden * st->blocks[0].mlp.dw.kh * st->blocks[0].mlp.dw.kw;
        macs += st->depth * (attn + irb);
    }
    macs += (double)n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int hat_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(hat_net), build_net, hat_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static size_t hat_layout(const hat_net *n, int threads, char *base, vit_mf_state *s)
{
    int H0 = vit_conv_out_size(n->base.img_h, 3, 2, 1),
        W0 = vit_conv_out_size(n->base.img_w, 3, 2, 1);
    size_t max_nc = (size_t)H0 * W0 * HAT_STEM, max_nh = 0, work = 0;
    size_t conv = vit_conv2d_pool_scratch_floats(&n->stem1, VIT_CONV_CHW, n->base.img_h,
                                                 n->base.img_w, threads);
    size_t c2 = vit_conv2d_pool_scratch_floats(&n->stem2, VIT_CONV_HWC, H0, W0, threads);
    conv = c2 > conv ? c2 : conv;
    for (int i = 0; i < n->num_stages; i++) {
        const hat_stage *st = &n->stages[i];
        size_t N = (size_t)st->H * st->W;
        max_nc = N * st->dim > max_nc ? N * st->dim : max_nc;
        max_nh = N * st->hidden > max_nh ? N * st->hidden : max_nh;
        max_nh = N * st->dim > max_nh ? N * st->dim : max_nh; /* TDB branch */
        if (i > 0) {
            c2 = vit_conv2d_pool_scratch_floats(&st->down, VIT_CONV_HWC, n->stages[i - 1].H,
                                                n->stages[i - 1].W, threads);
            conv = c2 > conv ? c2 : conv;
        }
        size_t w = vit_hmhsa_work_floats(&st->attn[0], st->H, st->W, threads);
        work = w > work ? w : work;
    }
    size_t head = (size_t)n->stages[n->num_stages - 1].dim;
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, work > head ? work : head, conv);
    return c.off;
}

static size_t hat_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return hat_layout(m->net, threads, NULL, &s);
}

static void silu_task(void *ctx, int r0, int r1, int task)
{
    vit_mf_state *s = ctx;
    vit_mf_act_rows(VIT_MF_ACT_SILU, s->y, s->C, s->C, r0, r1);
}

typedef struct tdb_job {
    const hat_stage *st;
    vit_mf_state *s; /* s->x: the input map (in_h x in_w), s->y: the conv branch */
    int in_h, in_w;
} tdb_job;

/* TransCNN's second branch and the sum: y = SiLU(y + res(MaxPool2x2(x))) for rows [r0, r1). */
static void tdb_task(void *ctx, int r0, int r1, int task)
{
    tdb_job *j = ctx;
    vit_mf_state *s = j->s;
    int Cin = j->st->down_res.cin, C = j->st->dim;
    vit_maxpool2_rows(s->x, j->in_h, j->in_w, Cin, r0, r1, s->t, Cin);
    vit_gemm(r1 - r0, C, Cin, 1.0f, s->t + (size_t)r0 * Cin, Cin, j->st->down_res.weight, Cin, 1,
             j->st->down_res.bias, 0, s->hidden + (size_t)r0 * C, C);
    for (size_t i = (size_t)r0 * C; i < (size_t)r1 * C; i++)
        s->y[i] += s->hidden[i];
    vit_mf_act_rows(VIT_MF_ACT_SILU, s->y, C, C, r0, r1);
}

static void hat_downsample(const hat_net *n, const hat_stage *st, vit_mf_state *s)
{
    vit_mf_conv(s, &st->down, s->x, VIT_CONV_HWC, s->H, s->W, s->y, st->dim);
    if (n->transcnn) {
        tdb_job j = {st, s, s->H, s->W};
        vit_mf_parallel(s, st->H * st->W, tdb_task, &j);
    }
    float *t = s->x;
    s->x = s->y;
    s->y = t;
    s->H = st->H;
    s->W = st->W;
    s->C = st->dim;
    if (!n->transcnn)
        vit_mf_norm_run(&st->down_norm, s, s->x, s->x, s->C);
}

static int hat_run(const vit_model *m, vit_run *run, const float *chw)
{
    const hat_net *n = m->net;
    vit_mf_state s;
    hat_layout(n, run->threads, run->arena, &s);
    s.pool = run->pool;
    s.H = vit_conv_out_size(n->base.img_h, 3, 2, 1);
    s.W = vit_conv_out_size(n->base.img_w, 3, 2, 1);
    s.C = HAT_STEM;
    vit_mf_conv(&s, &n->stem1, chw, VIT_CONV_CHW, n->base.img_h, n->base.img_w, s.y, HAT_STEM);
    if (!n->transcnn)
        vit_mf_norm_run(&n->stem_norm, &s, s.y, s.y, HAT_STEM);
    vit_mf_parallel(&s, s.H * s.W, silu_task, &s);
    vit_mf_conv(&s, &n->stem2, s.y, VIT_CONV_HWC, s.H, s.W, s.x, n->stem2.cout);
    s.H = n->stages[0].H;
    s.W = n->stages[0].W;
    s.C = n->stem2.cout;
    for (int i = 0; i < n->num_stages; i++) {
        const hat_stage *st = &n->stages[i];
        if (i > 0)
            hat_downsample(n, st, &s);
        for (int k = 0; k < st->depth; k++)
            vit_mf_block_run(&st->blocks[k], &s);
    }
    vit_mf_mean_head(&s, s.x, n->head_w, n->head_b, n->base.num_classes, run->logits);
    return 0;
}

const vit_family vit_family_hatnet = {
    .name = "hat_net",
    .patterns = hat_patterns,
    .build = hat_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = hat_arena_bytes,
    .run = hat_run,
};
