/* poolformer.c — PoolFormer / MetaFormer with the pooling mixer (poolformer_s12 ...
 * poolformer_m48), from either published key layout:
 *   official (sail-sg): patch_embed.proj, network.{0,2,4,6}.j.*, network.{1,3,5}.proj, norm
 *     (GroupNorm(1) on the map) then mean, head;
 *   timm: stem.conv, stages.i.{downsample.conv, blocks.j.*}, mean then head.norm (LayerNorm
 *     1e-6), head.fc.
 * Stem Conv k7 s4 p2, downsamples Conv k3 s2 p1, blocks x += ls1 (AvgPool3x3(y) - y),
 * y = GN(x); x += ls2 fc2(GELU(fc1(GN(x)))) — the MetaFormer block of metaformer.h with the
 * pooling mixer. Depths, widths and MLP widths come from the tensors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/ops.h"
#include "ops/pool.h"

#define PF_MAX_STAGES 8
#define PF_GN_EPS 1e-5f

typedef struct pf_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int official;
    int num_stages;
    vit_conv2d stem;
    vit_mf_stage stages[PF_MAX_STAGES];
    vit_mf_norm head_norm; /* GroupNorm before the mean (official) or LayerNorm after (timm) */
    const float *head_w, *head_b;
} pf_net;

static const char *const pf_patterns[] = {"poolformer_*", NULL};

/* ---- building ---------------------------------------------------------------------------- */

/* Key prefix of block j of stage i. */
static void block_prefix(const pf_net *n, int i, int j, char *buf, size_t size)
{
    if (n->official)
        snprintf(buf, size, "network.%d.%d", 2 * i, j);
    else
        snprintf(buf, size, "stages.%d.blocks.%d", i, j);
}

static int build_block(vit_binder *b, pf_net *n, vit_mf_stage *st, int i, int j)
{
    char p[64];
    block_prefix(n, i, j, p, sizeof(p));
    vit_mf_block *blk = &st->blocks[j];
    int64_t C = st->dim, Hd;
    const vit_st_tensor *fc1 = vit_binder_peek(b, "%s.mlp.fc1.weight", p);
    if (!fc1 || fc1->ndim != 4 || fc1->shape[0] < 1 || fc1->shape[0] > 1 << 16)
        return vit_binder_get(b, &blk->mlp.fc1_w, VIT_SHAPE(-1, C, 1, 1), "%s.mlp.fc1.weight", p);
    Hd = fc1->shape[0];
    if (j > 0 && Hd != st->hidden)
        return vit_errorf(b->err, -ENOTSUP,
                          "%s: tensor %s.mlp.fc1.weight: MLP width %d differs "
                          "from the stage's first block (%d)",
                          b->model->weights->path, p, (int)Hd, st->hidden);
    st->hidden = (int)Hd;
    blk->norm1 = (vit_mf_norm){VIT_MF_NORM_GROUP1, NULL, NULL, PF_GN_EPS};
    blk->norm2 = blk->norm1;
    blk->mixer_fn = vit_mf_pool_mixer;
    blk->mixer_residual = 1;
    blk->mixer_norms = 1; /* it never reads y */
    blk->mlp.hidden = (int)Hd;
    blk->mlp.act1 = VIT_MF_ACT_GELU;
    const char *ls1 = n->official ? "layer_scale_1" : "layer_scale1.scale";
    const char *ls2 = n->official ? "layer_scale_2" : "layer_scale2.scale";
    int r = vit_binder_get(b, &blk->norm1.weight, VIT_SHAPE(C), "%s.norm1.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm1.bias, VIT_SHAPE(C), "%s.norm1.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm2.weight, VIT_SHAPE(C), "%s.norm2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->norm2.bias, VIT_SHAPE(C), "%s.norm2.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc1_w, VIT_SHAPE(Hd, C, 1, 1), "%s.mlp.fc1.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc1_b, VIT_SHAPE(Hd), "%s.mlp.fc1.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_w, VIT_SHAPE(C, Hd, 1, 1), "%s.mlp.fc2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_b, VIT_SHAPE(C), "%s.mlp.fc2.bias", p);
    if (r == 0)
        r = vit_binder_get_opt(b, &blk->ls1, VIT_SHAPE(C), "%s.%s", p, ls1);
    if (r == 0)
        r = vit_binder_get_opt(b, &blk->ls2, VIT_SHAPE(C), "%s.%s", p, ls2);
    return r;
}

static int build_stage(vit_binder *b, pf_net *n, int i, int cin)
{
    vit_mf_stage *st = &n->stages[i];
    int r = 0;
    if (i > 0) {
        st->has_down = 1;
        r = n->official
                ? vit_mf_get_conv(b, &st->down, cin, -1, 2, 1, 1, 1, "network.%d.proj", 2 * i - 1)
                : vit_mf_get_conv(b, &st->down, cin, -1, 2, 1, 1, 1, "stages.%d.downsample.conv",
                                  i);
        if (r == 0) /* on the token-major map: im2col copies whole taps (a reordered copy) */
            r = vit_mf_conv_khwc(b, &n->base.allocs, &st->down);
        if (r < 0)
            return r;
        st->dim = st->down.cout;
    } else {
        st->dim = n->stem.cout;
    }
    char prefix[48];
    if (n->official)
        snprintf(prefix, sizeof(prefix), "network.%d.", 2 * i);
    else
        snprintf(prefix, sizeof(prefix), "stages.%d.blocks.", i);
    r = vit_mf_alloc_blocks(b, &n->base.allocs, prefix, i, &st->blocks, &st->depth);
    for (int j = 0; j < st->depth && r == 0; j++)
        r = build_block(b, n, st, i, j);
    return r;
}

static int build_head(vit_binder *b, pf_net *n)
{
    int64_t C = n->stages[n->num_stages - 1].dim;
    const char *fc = n->official ? "head" : "head.fc";
    int r = vit_mf_get_head(b, C, fc, &n->base.num_classes, &n->head_w, &n->head_b);
    const char *norm = n->official ? "norm" : "head.norm";
    n->head_norm = (vit_mf_norm){n->official ? VIT_MF_NORM_GROUP1 : VIT_MF_NORM_LAYER, NULL, NULL,
                                 n->official ? PF_GN_EPS : 1e-6f};
    if (r == 0)
        r = vit_binder_get(b, &n->head_norm.weight, VIT_SHAPE(C), "%s.weight", norm);
    if (r == 0)
        r = vit_binder_get(b, &n->head_norm.bias, VIT_SHAPE(C), "%s.bias", norm);
    return r;
}

static int build_net(vit_binder *b, void *net)
{
    pf_net *n = net;
    n->official = vit_binder_peek(b, "patch_embed.proj.weight") != NULL;
    int r = vit_mf_get_conv(b, &n->stem, -1, -1, 4, 2, 1, 1,
                            n->official ? "patch_embed.proj" : "stem.conv");
    if (r < 0)
        return r;
    n->base.in_chans = n->stem.cin;
    n->num_stages = n->official ? (vit_binder_count(b, "network.", ".") + 1) / 2
                                : vit_binder_count(b, "stages.", ".");
    if (n->num_stages < 1 || n->num_stages > PF_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, PF_MAX_STAGES);
    for (int i = 0; i < n->num_stages && r == 0; i++)
        r = build_stage(b, n, i, i ? n->stages[i - 1].dim : 0);
    if (r == 0)
        r = build_head(b, n);
    if (r == 0)
        r = vit_mf_input_size(b->model, n->base.in_chans, 224, n->base.num_classes, &n->base.img_h,
                              &n->base.img_w, b->err);
    if (r < 0)
        return r;
    r = vit_mf_stage_sizes(b, &n->base, n->stages, n->num_stages,
                           vit_conv_out_size(n->base.img_h, n->stem.kh, 4, 2),
                           vit_conv_out_size(n->base.img_w, n->stem.kw, 4, 2));
    return r < 0 ? r : vit_mf_check_stages(b, n->stages, n->num_stages, "dims", "PoolFormer");
}

static double pf_gflops(const void *net)
{
    const pf_net *n = net;
    double macs = vit_conv2d_macs(&n->stem, n->base.img_h, n->base.img_w);
    for (int i = 0; i < n->num_stages; i++) {
        const vit_mf_stage *st = &n->stages[i];
        double N = (double)st->H * st->W;
        if (st->has_down)
            macs += vit_conv2d_macs(&st->down, n->stages[i - 1].H, n->stages[i - 1].W);
        macs += st->depth * (2.0 * N * st->dim * st->hidden + 9.0 * N * st->dim);
    }
    macs += (double)n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int pf_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(pf_net), build_net, pf_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static size_t pf_layout(const pf_net *n, int threads, char *base, vit_mf_state *s)
{
    size_t max_nc = (size_t)n->stem.cout * vit_conv_out_size(n->base.img_h, n->stem.kh, 4, 2) *
                    vit_conv_out_size(n->base.img_w, n->stem.kw, 4, 2);
    size_t max_nh = 0;
    size_t conv = vit_conv2d_pool_scratch_floats(&n->stem, VIT_CONV_CHW, n->base.img_h,
                                                 n->base.img_w, threads);
    vit_mf_stages_extent(n->stages, n->num_stages, threads, &max_nc, &max_nh, &conv);
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, 2 * (size_t)n->stages[n->num_stages - 1].dim,
                       conv);
    return c.off;
}

static size_t pf_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return pf_layout(m->net, threads, NULL, &s);
}

static void pf_head(const pf_net *n, vit_mf_state *s, float *logits)
{
    int C = s->C;
    float *feat = s->work, *fn = s->work + C;
    if (n->official) {
        vit_mf_norm_run(&n->head_norm, s, s->x, s->y, C);
        vit_token_mean(s->y, C, s->H * s->W, C, fn);
    } else {
        vit_token_mean(s->x, C, s->H * s->W, C, feat);
        vit_layernorm_rows(1, C, feat, C, n->head_norm.weight, n->head_norm.bias, n->head_norm.eps,
                           fn, C);
    }
    vit_linear_cols(s->pool, 1, n->base.num_classes, C, fn, C, n->head_w, n->head_b, 0.0f, logits,
                    n->base.num_classes);
}

static int pf_run(const vit_model *m, vit_run *run, const float *chw)
{
    const pf_net *n = m->net;
    vit_mf_state s;
    pf_layout(n, run->threads, run->arena, &s);
    vit_mf_stem_run(&s, run->pool, &n->stem, chw, n->base.img_h, n->base.img_w);
    vit_mf_stages_run(&s, n->stages, n->num_stages);
    pf_head(n, &s, run->logits);
    return 0;
}

const vit_family vit_family_poolformer = {
    .name = "poolformer",
    .patterns = pf_patterns,
    .build = pf_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = pf_arena_bytes,
    .run = pf_run,
};
