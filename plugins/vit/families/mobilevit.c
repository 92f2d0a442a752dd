/* mobilevit.c — MobileViT v1 (Mehta & Rastegari, "MobileViT: Light-weight, General-purpose, and
 * Mobile-friendly Vision Transformer") in timm's keys (mobilevit.py on byobnet.py):
 * mobilevit_xxs, _xs, _s. Built here from the weights; run by mobilevit_run.c. Every
 * BatchNorm (eps 1e-5) is folded into its conv at load; act is SiLU.
 *   ConvNormAct "<p>": <p>.conv (no bias, padding k / 2) + <p>.bn, act unless said otherwise
 *   stem: ConvNormAct 3x3 s2
 *   stages.i.j, bottle (conv1_1x1 present), MobileNetV2's inverted residual:
 *     conv1_1x1 (1x1) -> conv2_kxk (depthwise, the stage's stride on its first block) ->
 *     conv3_1x1 (1x1, no act); + x when the width and grid are unchanged (else no shortcut)
 *   stages.i.j, MobileViT block (conv_kxk present), on a C-wide map:
 *     y = conv_1x1(conv_kxk(x)) (1x1 to D, no bias, no norm); bilinear (align_corners=False)
 *     to the next multiples of the patch p when H or W is not one; unfold: the tokens of each
 *     offset inside the p x p patches form one sequence; transformer.k = timm's ViT Block
 *     (LayerNorm 1e-5, fused qkv with bias, `heads` heads, scale d^-0.5, MLP fc1 -> SiLU ->
 *     fc2); norm (LayerNorm); fold, bilinear back to H x W; conv_proj (1x1 D -> C);
 *     conv_fusion (kxk) on concat(x, conv_proj output)
 *   final_conv ConvNormAct 1x1; mean over the map; head.fc.
 * p = 2 and 4 heads in every timm model (model_args patch_size / num_heads otherwise); the
 * stride of stage i's first block is model_args strides[i], else 1 for stage 0 and 2 after. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/suggest.h"
#include "families/mobilevit.h"

static const char *const mv_patterns[] = {"mobilevit_*", NULL};

/* model_args of tools/ref/mobilevit.py; the shapes come from the tensors, depths and channels
 * are checked against them. */
static const char *const mv_known_args[] = {"stem_chs",
                                            "channels",
                                            "depths",
                                            "strides",
                                            "expansion",
                                            "transformer_dims",
                                            "transformer_depths",
                                            "num_features",
                                            "patch_size",
                                            "num_heads",
                                            "in_chans",
                                            "img_size",
                                            NULL};

/* ---- building ---------------------------------------------------------------------------- */

/* ConvNormAct "<p>": conv "<p>.conv" (no bias; cin, cout < 0: any; odd square kernel, padding
 * k / 2) with "<p>.bn" folded in. A kxk conv that unfolds a token-major map (not the stem's
 * planar image) gets its weight tap-major (vit_conv2d_to_khwc). */
static int get_conv_norm(vit_binder *b, vit_mv_net *n, vit_conv2d *c, int cin, int cout, int stride,
                         int groups, const char *p)
{
    int r = vit_mf_get_conv(b, c, cin, cout, stride, 0, groups, 0, "%s.conv", p);
    if (r == 0 && c->kh % 2 == 0)
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.conv.weight: even kernel %dx%d",
                          b->model->weights->path, p, c->kh, c->kw);
    c->pad_h = c->pad_w = c->kh / 2;
    if (r == 0)
        r = vit_mf_fold_bn(b, &n->base.allocs, c, VIT_MV_BN_EPS, "%s.bn", p);
    return r < 0 || c == &n->stem ? r : vit_mf_conv_khwc(b, &n->base.allocs, c);
}

static int build_bottle(vit_binder *b, vit_mv_net *n, vit_mv_bottle *bt, int cin, int stride,
                        const char *p)
{
    char q[96];
    snprintf(q, sizeof(q), "%s.conv1_1x1", p);
    int r = get_conv_norm(b, n, &bt->pw1, cin, -1, 1, 1, q);
    snprintf(q, sizeof(q), "%s.conv2_kxk", p);
    if (r == 0)
        r = get_conv_norm(b, n, &bt->dw, bt->pw1.cout, bt->pw1.cout, stride, bt->pw1.cout, q);
    snprintf(q, sizeof(q), "%s.conv3_1x1", p);
    if (r == 0)
        r = get_conv_norm(b, n, &bt->pw2, bt->pw1.cout, -1, 1, 1, q);
    if (r == 0 && (bt->pw1.kh != 1 || bt->pw2.kh != 1))
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.%s.conv.weight is not a 1x1 conv",
                          b->model->weights->path, p, bt->pw1.kh != 1 ? "conv1_1x1" : "conv3_1x1");
    if (r < 0)
        return r;
    bt->OH = vit_conv_out_size(bt->H, bt->dw.kh, stride, bt->dw.pad_h);
    bt->OW = vit_conv_out_size(bt->W, bt->dw.kw, stride, bt->dw.pad_w);
    bt->residual = bt->pw2.cout == cin && stride == 1;
    return 0;
}

/* Transformer layer "<p>" of width D: a LayerNorm block whose mixer is grouped attention. */
static int build_layer(vit_binder *b, vit_mv_net *n, vit_mv_vit *v, int k, const char *p)
{
    vit_mf_block *blk = &v->layers[k];
    vit_mv_attn *a = vit_mf_calloc(&n->base.allocs, 1, sizeof(*a));
    if (!a)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    int64_t D = v->D;
    int hidden = 0;
    *a = (vit_mv_attn){.D = v->D,
                       .heads = n->heads,
                       .groups = n->patch * n->patch,
                       .seq = v->TH / n->patch * (v->TW / n->patch)};
    blk->mixer = a;
    blk->mixer_fn = vit_mv_attn_mixer;
    blk->mixer_norms = 1;    /* norm1 is the mixer's first step */
    blk->mixer_residual = 1; /* proj adds to x */
    int r = vit_mf_get_ln_block(b, blk, p, D, VIT_MV_LN_EPS, 0, &hidden);
    blk->mlp.act1 = VIT_MF_ACT_SILU;
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_w, VIT_SHAPE(D, hidden), "%s.mlp.fc2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_b, VIT_SHAPE(D), "%s.mlp.fc2.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_w, VIT_SHAPE(3 * D, D), "%s.attn.qkv.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_b, VIT_SHAPE(3 * D), "%s.attn.qkv.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_w, VIT_SHAPE(D, D), "%s.attn.proj.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_b, VIT_SHAPE(D), "%s.attn.proj.bias", p);
    return r;
}

/* Which transformer row each pixel of the stretched TH x TW map goes to: sequence
 * (y % p) * p + x % p, position (y / p) * (TW / p) + x / p inside it. */
static int build_tok_rows(vit_binder *b, vit_mv_net *n, vit_mv_vit *v)
{
    int p = n->patch, seq = v->TH / p * (v->TW / p);
    v->tok_row = vit_mf_calloc(&n->base.allocs, (size_t)v->TH * v->TW, sizeof(int));
    if (!v->tok_row)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int y = 0; y < v->TH; y++)
        for (int x = 0; x < v->TW; x++)
            v->tok_row[y * v->TW + x] = ((y % p) * p + x % p) * seq + y / p * (v->TW / p) + x / p;
    return 0;
}

static int build_vit(vit_binder *b, vit_mv_net *n, vit_mv_vit *v, int C, int stage, const char *p)
{
    char q[96];
    v->C = C;
    snprintf(q, sizeof(q), "%s.conv_kxk", p);
    int r = get_conv_norm(b, n, &v->kxk, C, C, 1, 1, q);
    if (r == 0)
        r = vit_mf_get_conv(b, &v->c1x1, C, -1, 1, 0, 1, 0, "%s.conv_1x1", p);
    if (r == 0 && v->c1x1.kh != 1)
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.conv_1x1.weight is not a 1x1 conv",
                          b->model->weights->path, p);
    if (r < 0)
        return r;
    v->D = v->c1x1.cout;
    if (v->D % n->heads)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor %s.conv_1x1.weight: width %d is not a multiple of %d heads",
                          b->model->weights->path, p, v->D, n->heads);
    v->TH = (v->H + n->patch - 1) / n->patch * n->patch;
    v->TW = (v->W + n->patch - 1) / n->patch * n->patch;
    v->stretched = v->TH != v->H || v->TW != v->W;
    snprintf(q, sizeof(q), "%s.transformer.", p);
    r = vit_mf_alloc_blocks(b, &n->base.allocs, q, stage, &v->layers, &v->depth);
    for (int k = 0; k < v->depth && r == 0; k++) {
        snprintf(q, sizeof(q), "%s.transformer.%d", p, k);
        r = build_layer(b, n, v, k, q);
    }
    v->norm = (vit_mf_norm){VIT_MF_NORM_LAYER, NULL, NULL, VIT_MV_LN_EPS};
    if (r == 0)
        r = vit_binder_get(b, &v->norm.weight, VIT_SHAPE(v->D), "%s.norm.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &v->norm.bias, VIT_SHAPE(v->D), "%s.norm.bias", p);
    snprintf(q, sizeof(q), "%s.conv_proj", p);
    if (r == 0)
        r = get_conv_norm(b, n, &v->proj, v->D, C, 1, 1, q);
    snprintf(q, sizeof(q), "%s.conv_fusion", p);
    if (r == 0)
        r = get_conv_norm(b, n, &v->fusion, 2 * C, C, 1, 1, q);
    if (r == 0 && v->proj.kh != 1)
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor %s.conv_proj.conv.weight is not a 1x1 conv",
                          b->model->weights->path, p);
    return r < 0 ? r : build_tok_rows(b, n, v);
}

/* Stage i's blocks on the H x W map of width *C; updates *C, *H, *W to its output. */
static int build_stage(vit_binder *b, vit_mv_net *n, int i, int stride, int *C, int *H, int *W)
{
    vit_mv_stage *st = &n->stages[i];
    char p[64];
    snprintf(p, sizeof(p), "stages.%d.", i);
    st->depth = vit_binder_count(b, p, ".");
    if (st->depth < 1)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d has no blocks (%s0.*)",
                          b->model->weights->path, i, p);
    st->blocks = vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(vit_mv_block));
    if (!st->blocks)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    int r = 0;
    for (int j = 0; j < st->depth && r == 0; j++) {
        vit_mv_block *blk = &st->blocks[j];
        snprintf(p, sizeof(p), "stages.%d.%d", i, j);
        int s = j == 0 ? stride : 1;
        blk->is_vit = vit_binder_peek(b, "%s.conv_kxk.conv.weight", p) != NULL;
        if (blk->is_vit && s != 1)
            return vit_errorf(b->err, -ENOTSUP,
                              "%s: stage %d starts with a MobileViT block (%s.*) but has stride %d",
                              b->model->weights->path, i, p, s);
        if (blk->is_vit) {
            blk->vit.H = *H;
            blk->vit.W = *W;
            r = build_vit(b, n, &blk->vit, *C, i, p);
            continue;
        }
        blk->bottle.H = *H;
        blk->bottle.W = *W;
        r = build_bottle(b, n, &blk->bottle, *C, s, p);
        if (r == 0 && (blk->bottle.OH < 1 || blk->bottle.OW < 1))
            return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is too small for %d stages",
                              b->model->config.source, n->base.img_h, n->base.img_w, n->num_stages);
        *C = blk->bottle.pw2.cout;
        *H = blk->bottle.OH;
        *W = blk->bottle.OW;
    }
    return r;
}

/* model_args: known keys, patch size and heads, strides (1 for stage 0, 2 after by default). */
static int read_args(vit_binder *b, vit_mv_net *n, int *strides)
{
    const vit_config *cfg = &b->model->config;
    int r = vit_suggest_check_args(cfg, mv_known_args, "a MobileViT (timm MobileViT v1)", b->err);
    n->patch = 2;
    n->heads = 4;
    if (r == 0)
        r = vit_config_arg_int(cfg, "patch_size", &n->patch, b->err);
    if (r == -ENOENT || r == 0)
        r = vit_config_arg_int(cfg, "num_heads", &n->heads, b->err);
    if (r < 0 && r != -ENOENT)
        return r;
    if (n->patch < 1 || n->patch > 16 || n->heads < 1 || n->heads > 64)
        return vit_errorf(b->err, -EINVAL,
                          "%s: model_args patch_size %d / num_heads %d out of range", cfg->source,
                          n->patch, n->heads);
    for (int i = 0; i < VIT_MV_MAX_STAGES; i++)
        strides[i] = i ? 2 : 1;
    int ns = 0;
    r = vit_mf_config_int_list(b->model, "strides", strides, VIT_MV_MAX_STAGES, 1, 8, &ns, b->err);
    if (r == 0 && ns != n->num_stages)
        return vit_errorf(b->err, -EINVAL,
                          "%s: model_args.strides has %d entries, the weights %d "
                          "stages",
                          cfg->source, ns, n->num_stages);
    return r == -ENOENT ? 0 : r;
}

static int check_args(vit_binder *b, const vit_mv_net *n)
{
    int depths[VIT_MV_MAX_STAGES], channels[VIT_MV_MAX_STAGES];
    for (int i = 0; i < n->num_stages; i++) {
        const vit_mv_block *last = &n->stages[i].blocks[n->stages[i].depth - 1];
        depths[i] = n->stages[i].depth;
        channels[i] = last->is_vit ? last->vit.C : last->bottle.pw2.cout;
    }
    int r = vit_mf_check_arg_lists(b->model, "depths", depths, "channels", channels, n->num_stages,
                                   b->err);
    const char *pool = vit_config_string(&b->model->config, "global_pool");
    if (r == 0 && pool && *pool && strcmp(pool, "avg"))
        return vit_errorf(b->err, -ENOTSUP, "%s: global_pool \"%.40s\" (MobileViT: avg)",
                          b->model->config.source, pool);
    return r < 0 ? r : vit_mf_check_all_used(b, "MobileViT");
}

static int build_net(vit_binder *b, void *net)
{
    vit_mv_net *n = net;
    int strides[VIT_MV_MAX_STAGES];
    n->num_stages = vit_binder_count(b, "stages.", ".");
    if (n->num_stages < 1 || n->num_stages > VIT_MV_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, VIT_MV_MAX_STAGES);
    int r = read_args(b, n, strides);
    if (r == 0)
        r = get_conv_norm(b, n, &n->stem, -1, -1, 2, 1, "stem");
    if (r < 0)
        return r;
    n->base.in_chans = n->stem.cin;
    const vit_st_tensor *hw = vit_binder_peek(b, "head.fc.weight");
    r = vit_mf_input_size(b->model, n->base.in_chans, 256,
                          hw && hw->ndim == 2 ? (int)hw->shape[0] : -1, &n->base.img_h,
                          &n->base.img_w, b->err);
    n->stem_h = vit_conv_out_size(n->base.img_h, n->stem.kh, 2, n->stem.pad_h);
    n->stem_w = vit_conv_out_size(n->base.img_w, n->stem.kw, 2, n->stem.pad_w);
    int C = n->stem.cout, H = n->stem_h, W = n->stem_w;
    if (r == 0 && (H < 1 || W < 1))
        return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is too small", b->model->config.source,
                          n->base.img_h, n->base.img_w);
    for (int i = 0; i < n->num_stages && r == 0; i++)
        r = build_stage(b, n, i, strides[i], &C, &H, &W);
    n->final_h = H;
    n->final_w = W;
    if (r == 0)
        r = get_conv_norm(b, n, &n->final_conv, C, -1, 1, 1, "final_conv");
    if (r == 0 && n->final_conv.kh != 1)
        return vit_errorf(b->err, -ENOTSUP, "%s: tensor final_conv.conv.weight is not a 1x1 conv",
                          b->model->weights->path);
    if (r == 0)
        r = vit_mf_get_head(b, n->final_conv.cout, "head.fc", &n->base.num_classes, &n->head_w,
                            &n->head_b);
    return r < 0 ? r : check_args(b, n);
}

/* ---- GFLOPs ------------------------------------------------------------------------------ */

static double vit_macs(const vit_mv_vit *v)
{
    double macs = vit_conv2d_macs(&v->kxk, v->H, v->W) + vit_conv2d_macs(&v->c1x1, v->H, v->W);
    double R = (double)v->TH * v->TW, D = v->D;
    for (int k = 0; k < v->depth; k++) {
        const vit_mv_attn *a = v->layers[k].mixer;
        macs += R * D * (3.0 * D + D + 2.0 * v->layers[k].mlp.hidden) +
                2.0 * a->groups * (double)a->seq * a->seq * D;
    }
    return macs + vit_conv2d_macs(&v->proj, v->H, v->W) + vit_conv2d_macs(&v->fusion, v->H, v->W);
}

static double mv_gflops(const void *net)
{
    const vit_mv_net *n = net;
    double macs = vit_conv2d_macs(&n->stem, n->base.img_h, n->base.img_w);
    for (int i = 0; i < n->num_stages; i++)
        for (int j = 0; j < n->stages[i].depth; j++) {
            const vit_mv_block *blk = &n->stages[i].blocks[j];
            const vit_mv_bottle *bt = &blk->bottle;
            macs += blk->is_vit ? vit_macs(&blk->vit)
                                : vit_conv2d_macs(&bt->pw1, bt->H, bt->W) +
                                      vit_conv2d_macs(&bt->dw, bt->H, bt->W) +
                                      vit_conv2d_macs(&bt->pw2, bt->OH, bt->OW);
        }
    macs += vit_conv2d_macs(&n->final_conv, n->final_h, n->final_w) +
            (double)n->final_conv.cout * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int mv_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(vit_mv_net), build_net, mv_gflops, err);
}

const vit_family vit_family_mobilevit = {
    .name = "mobilevit",
    .patterns = mv_patterns,
    .build = mv_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = vit_mv_arena_bytes,
    .run = vit_mv_run,
};
