/* efficientformer_v2.c — EfficientFormerV2 (Li et al., "Rethinking Vision Transformers for
 * MobileNet Size and Speed") in timm's keys: efficientformerv2_s0, _s1, _s2, _l. Built here from
 * the weights; run by efficientformer_v2_run.c. Every BatchNorm (eps 1e-5) is folded into the
 * conv before it (ConvNorm "<p>" = <p>.conv with bias + <p>.bn); act is exact GELU.
 *   stem: conv1, conv2: 3x3 s2 p1 ConvNorm + GELU
 *   stage i > 0: downsample.conv (3x3 s2 ConvNorm), plus downsample.attn when stored
 *     (Attention2dDownsample on the stage's input, 8 heads of key_dim 16 and d 64):
 *       q = q.proj(q.local(x) + x[::2, ::2]) (q.local: depthwise 3x3 s2 with bias, no norm),
 *       k = k(x), v = v(x) (1x1) over all H*W pixels;
 *       logits = q k^T kd^-0.5 + attention_biases[h, |2 qy - ky| * W + |2 qx - kx|];
 *       out = softmax(logits) v + v_local(v) (depthwise 3x3 s2) -> GELU -> proj (1x1)
 *   block: [x += ls1.gamma * token_mixer(x)]; x += ls2.gamma * mlp(x),
 *     mlp = fc1 (1x1) + GELU -> mid (depthwise 3x3) + GELU -> fc2 (1x1)
 *   token_mixer (Attention2d, the last num_vit blocks of stages 2 and 3; 8 heads, key_dim 32,
 *     d 128): [stride_conv (depthwise 3x3 s2) to the half grid]; q, k, v (1x1);
 *     logits = q k^T kd^-0.5 + attention_biases[h, |dy| * w + |dx|] -> talking_head1 (1x1 conv
 *     across heads, bias) -> softmax over keys -> talking_head2; out = attn v + v_local(v)
 *     (depthwise 3x3); [bilinear x2, align_corners=False, back to H x W]; GELU; proj (1x1)
 *   norm (BatchNorm) -> mean over the map -> (head(x) + head_dist(x)) / 2.
 * Heads come from attention_biases, key and value widths from q and v; the bias tables fix the
 * grids, so the input size is the published one (224 for every timm model). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "families/efficientformer_v2.h"
#include "ops/norm2d.h"

static const char *const ef2_patterns[] = {"efficientformerv2_*", NULL};

/* ---- building ---------------------------------------------------------------------------- */

/* ConvNorm "<p>": "<p>.conv" (bias; cin, cout < 0: any; padding k / 2) with "<p>.bn" folded;
 * a kxk conv on a token-major map (all but the stem's first) gets its weight tap-major. */
static int get_conv_norm(vit_binder *b, vit_ef2_net *n, vit_conv2d *c, int cin, int cout,
                         int stride, int groups, const char *p)
{
    int r = vit_mf_get_conv(b, c, cin, cout, stride, 0, groups, 1, "%s.conv", p);
    c->pad_h = c->pad_w = c->kh / 2;
    if (r == 0)
        r = vit_mf_fold_bn(b, &n->base.allocs, c, VIT_EF2_BN_EPS, "%s.bn", p);
    return r < 0 || c == &n->stem1 ? r : vit_mf_conv_khwc(b, &n->base.allocs, c);
}

/* A depthwise ConvNorm of width C. */
static int get_dw_norm(vit_binder *b, vit_ef2_net *n, vit_conv2d *c, int C, int stride,
                       const char *p)
{
    return get_conv_norm(b, n, c, C, C, stride, C, p);
}

static int bad_attn(vit_binder *b, const char *p, const char *what)
{
    return vit_errorf(b->err, -ENOTSUP, "%s: tensors %s.*: %s", b->model->weights->path, p, what);
}

/* The heads and widths from "<p>.attention_biases" [heads, *], q and v; q and k are read by the
 * caller (the downsample's q sits behind q.local). */
static int get_qkv(vit_binder *b, vit_ef2_net *n, vit_ef2_attn *a, const char *p, int q_cin)
{
    char q[112];
    const vit_st_tensor *ab = vit_binder_peek(b, "%s.attention_biases", p);
    if (!ab || ab->ndim != 2 || ab->shape[0] < 1 || ab->shape[0] > 64)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, -1), "%s.attention_biases", p);
    a->heads = (int)ab->shape[0];
    snprintf(q, sizeof(q), a->down ? "%s.q.proj" : "%s.q", p);
    int r = get_conv_norm(b, n, &a->q, q_cin, -1, 1, 1, q);
    snprintf(q, sizeof(q), "%s.k", p);
    if (r == 0)
        r = get_conv_norm(b, n, &a->k, a->cin, a->q.cout, 1, 1, q);
    snprintf(q, sizeof(q), "%s.v", p);
    if (r == 0)
        r = get_conv_norm(b, n, &a->v, a->cin, -1, 1, 1, q);
    if (r < 0)
        return r;
    if (a->q.kh != 1 || a->k.kh != 1 || a->v.kh != 1)
        return bad_attn(b, p, "q, k and v must be 1x1 convs");
    a->kd = a->q.cout / a->heads;
    a->d = a->v.cout / a->heads;
    if (a->kd < 1 || a->d < 1 || a->q.cout % a->heads || a->v.cout % a->heads)
        return bad_attn(b, p, "q and v widths are not multiples of the heads");
    snprintf(q, sizeof(q), "%s.v_local", p);
    r = get_dw_norm(b, n, &a->v_local, a->v.cout, a->down ? 2 : 1, q);
    snprintf(q, sizeof(q), "%s.proj", p);
    if (r == 0)
        r = get_conv_norm(b, n, &a->proj, a->v.cout, a->cout, 1, 1, q);
    if (r == 0 && a->proj.kh != 1)
        return bad_attn(b, p, "proj must be a 1x1 conv");
    vit_binder_ignore(b, "%s.attention_bias_idxs", p);
    return r;
}

/* The table [heads, n] spread to [heads, n, n] for the mixer's grid h x w. */
static int spread_bias(vit_binder *b, vit_ef2_net *n, vit_ef2_attn *a, const float *table)
{
    int N = a->h * a->w;
    a->bias = vit_mf_calloc(&n->base.allocs, (size_t)a->heads * N * N, sizeof(float));
    if (!a->bias)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int hd = 0; hd < a->heads; hd++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                a->bias[((size_t)hd * N + i) * N + j] =
                    table[(size_t)hd * N + abs(i / a->w - j / a->w) * a->w +
                          abs(i % a->w - j % a->w)];
    return 0;
}

static int grid_error(vit_binder *b, const char *p, int heads, int want, int h, int w)
{
    return vit_errorf(b->err, -EINVAL,
                      "%s: tensor %s.attention_biases has shape [%d,%d], the %dx%d grid this "
                      "input gives needs [%d,%d]",
                      b->model->weights->path, p, heads, want, h, w, heads, h * w);
}

/* Attention2d "<p>" on the H x W map of width C (a->H, a->W, a->cin set). */
static int build_mixer(vit_binder *b, vit_ef2_net *n, vit_ef2_attn *a, const char *p)
{
    char q[112];
    int r = 0;
    a->cout = a->cin;
    a->h = a->H;
    a->w = a->W;
    a->strided = vit_binder_peek(b, "%s.stride_conv.conv.weight", p) != NULL;
    if (a->strided) {
        snprintf(q, sizeof(q), "%s.stride_conv", p);
        r = get_dw_norm(b, n, &a->stride_conv, a->cin, 2, q);
        a->h = vit_conv_out_size(a->H, a->stride_conv.kh, 2, a->stride_conv.pad_h);
        a->w = vit_conv_out_size(a->W, a->stride_conv.kw, 2, a->stride_conv.pad_w);
        if (r == 0 && (2 * a->h != a->H || 2 * a->w != a->W))
            return vit_errorf(b->err, -EINVAL,
                              "%s: %s.stride_conv: the %dx%d map does not halve evenly (the x2 "
                              "upsample would not give it back)",
                              b->model->config.source, p, a->H, a->W);
    }
    a->m = a->h * a->w;
    if (r == 0)
        r = get_qkv(b, n, a, p, a->cin);
    const float *table = NULL;
    if (r == 0)
        r = vit_binder_get(b, &table, VIT_SHAPE(a->heads, -1), "%s.attention_biases", p);
    if (r == 0 && vit_binder_peek(b, "%s.attention_biases", p)->shape[1] != a->m)
        return grid_error(b, p, a->heads,
                          (int)vit_binder_peek(b, "%s.attention_biases", p)->shape[1], a->h, a->w);
    int64_t hh = a->heads;
    if (r == 0)
        r = vit_binder_get(b, &a->th1_w, VIT_SHAPE(hh, hh, 1, 1), "%s.talking_head1.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->th1_b, VIT_SHAPE(hh), "%s.talking_head1.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->th2_w, VIT_SHAPE(hh, hh, 1, 1), "%s.talking_head2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->th2_b, VIT_SHAPE(hh), "%s.talking_head2.bias", p);
    return r < 0 ? r : spread_bias(b, n, a, table);
}

/* Attention2dDownsample "<p>" from the H x W map of width cin to cout. */
static int build_down_attn(vit_binder *b, vit_ef2_net *n, vit_ef2_attn *a, const char *p)
{
    char q[112];
    a->down = 1;
    a->m = a->H * a->W;
    snprintf(q, sizeof(q), "%s.q.local", p);
    int r = vit_mf_get_conv(b, &a->q_local, a->cin, a->cin, 2, 1, a->cin, 1, "%s", q);
    if (r == 0 && a->q_local.kh != 3)
        return bad_attn(b, p, "q.local must be a 3x3 depthwise conv");
    a->h = vit_conv_out_size(a->H, 3, 2, 1);
    a->w = vit_conv_out_size(a->W, 3, 2, 1);
    if (r == 0)
        r = get_qkv(b, n, a, p, a->cin);
    if (r == 0)
        r = vit_binder_get(b, &a->table, VIT_SHAPE(a->heads, -1), "%s.attention_biases", p);
    if (r == 0 && vit_binder_peek(b, "%s.attention_biases", p)->shape[1] != a->m)
        return grid_error(b, p, a->heads,
                          (int)vit_binder_peek(b, "%s.attention_biases", p)->shape[1], a->H, a->W);
    return r;
}

/* Block "<p>" on the stage's map: the MLP (+ the token mixer when stored). */
static int build_block(vit_binder *b, vit_ef2_net *n, vit_ef2_stage *st, vit_mf_block *blk,
                       const char *p)
{
    char q[96];
    vit_conv2d fc1, mid, fc2;
    int C = st->dim, r;
    snprintf(q, sizeof(q), "%s.mlp.fc1", p);
    r = get_conv_norm(b, n, &fc1, C, -1, 1, 1, q);
    snprintf(q, sizeof(q), "%s.mlp.mid", p);
    if (r == 0)
        r = get_dw_norm(b, n, &mid, fc1.cout, 1, q);
    snprintf(q, sizeof(q), "%s.mlp.fc2", p);
    if (r == 0)
        r = get_conv_norm(b, n, &fc2, fc1.cout, C, 1, 1, q);
    if (r == 0 && (fc1.kh != 1 || fc2.kh != 1))
        return vit_errorf(b->err, -ENOTSUP, "%s: tensors %s.mlp.fc1/fc2: not 1x1 convs",
                          b->model->weights->path, p);
    if (r < 0)
        return r;
    blk->mlp = (vit_mf_mlp){.hidden = fc1.cout,
                            .fc1_w = fc1.weight,
                            .fc1_b = fc1.bias,
                            .fc2_w = fc2.weight,
                            .fc2_b = fc2.bias,
                            .act1 = VIT_MF_ACT_GELU,
                            .has_dw = 1,
                            .dw = mid,
                            .act2 = VIT_MF_ACT_GELU};
    r = vit_binder_get(b, &blk->ls2, VIT_SHAPE(C), "%s.ls2.gamma", p);
    if (r < 0 || !vit_binder_peek(b, "%s.token_mixer.attention_biases", p))
        return r;
    vit_ef2_attn *a = vit_mf_calloc(&n->base.allocs, 1, sizeof(*a));
    if (!a)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    *a = (vit_ef2_attn){.H = st->H, .W = st->W, .cin = C};
    blk->mixer = a;
    blk->mixer_fn = vit_ef2_attn_mixer;
    blk->mixer_norms = 1; /* no norm1: the mixer reads s->x */
    snprintf(q, sizeof(q), "%s.token_mixer", p);
    r = build_mixer(b, n, a, q);
    return r < 0 ? r : vit_binder_get(b, &blk->ls1, VIT_SHAPE(C), "%s.ls1.gamma", p);
}

static int build_stage(vit_binder *b, vit_ef2_net *n, int i, int cin, int H, int W)
{
    vit_ef2_stage *st = &n->stages[i];
    char p[64];
    int r = 0;
    st->dim = cin;
    if (vit_binder_peek(b, "stages.%d.downsample.conv.conv.weight", i)) {
        st->has_down = 1;
        snprintf(p, sizeof(p), "stages.%d.downsample.conv", i);
        r = get_conv_norm(b, n, &st->down, cin, -1, 2, 1, p);
        if (r < 0)
            return r;
        st->dim = st->down.cout;
        if (vit_binder_peek(b, "stages.%d.downsample.attn.attention_biases", i)) {
            st->down_attn = vit_mf_calloc(&n->base.allocs, 1, sizeof(*st->down_attn));
            if (!st->down_attn)
                return vit_errorf(b->err, -ENOMEM, "out of memory");
            *st->down_attn = (vit_ef2_attn){.H = H, .W = W, .cin = cin, .cout = st->dim};
            snprintf(p, sizeof(p), "stages.%d.downsample.attn", i);
            r = build_down_attn(b, n, st->down_attn, p);
        }
        H = vit_conv_out_size(H, st->down.kh, 2, st->down.pad_h);
        W = vit_conv_out_size(W, st->down.kw, 2, st->down.pad_w);
    }
    st->H = H;
    st->W = W;
    if (r == 0 && (H < 1 || W < 1))
        return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is too small for %d stages",
                          b->model->config.source, n->base.img_h, n->base.img_w, n->num_stages);
    snprintf(p, sizeof(p), "stages.%d.blocks.", i);
    if (r == 0)
        r = vit_mf_alloc_blocks(b, &n->base.allocs, p, i, &st->blocks, &st->depth);
    for (int j = 0; j < st->depth && r == 0; j++) {
        snprintf(p, sizeof(p), "stages.%d.blocks.%d", i, j);
        r = build_block(b, n, st, &st->blocks[j], p);
    }
    return r;
}

static int build_head(vit_binder *b, vit_ef2_net *n)
{
    int C = n->stages[n->num_stages - 1].dim;
    vit_mf_bn bn;
    int r = vit_mf_get_bn(b, &bn, C, "norm");
    float *affine = r == 0 ? vit_mf_calloc(&n->base.allocs, 2 * (size_t)C, sizeof(float)) : NULL;
    if (r == 0 && !affine)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    if (r < 0)
        return r;
    vit_bn_to_affine(C, bn.gamma, bn.beta, bn.mean, bn.var, VIT_EF2_BN_EPS, affine, affine + C);
    n->norm = (vit_mf_norm){VIT_MF_NORM_AFFINE, affine, affine + C, 0.0f};
    return vit_mf_get_distilled_heads(b, C, &n->base.num_classes, &n->head_w, &n->head_b,
                                      &n->dist_w, &n->dist_b);
}

static int build_net(vit_binder *b, void *net)
{
    vit_ef2_net *n = net;
    int r = get_conv_norm(b, n, &n->stem1, -1, -1, 2, 1, "stem.conv1");
    if (r == 0)
        r = get_conv_norm(b, n, &n->stem2, n->stem1.cout, -1, 2, 1, "stem.conv2");
    if (r < 0)
        return r;
    n->base.in_chans = n->stem1.cin;
    const vit_st_tensor *hw = vit_binder_peek(b, "head.weight");
    r = vit_mf_input_size(b->model, n->base.in_chans, 224,
                          hw && hw->ndim == 2 ? (int)hw->shape[0] : -1, &n->base.img_h,
                          &n->base.img_w, b->err);
    if (r < 0)
        return r;
    n->stem_h = vit_conv_out_size(vit_conv_out_size(n->base.img_h, n->stem1.kh, 2, n->stem1.pad_h),
                                  n->stem2.kh, 2, n->stem2.pad_h);
    n->stem_w = vit_conv_out_size(vit_conv_out_size(n->base.img_w, n->stem1.kw, 2, n->stem1.pad_w),
                                  n->stem2.kw, 2, n->stem2.pad_w);
    n->num_stages = vit_binder_count(b, "stages.", ".");
    if (n->num_stages < 1 || n->num_stages > VIT_EF2_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, VIT_EF2_MAX_STAGES);
    if (n->stem_h < 1 || n->stem_w < 1)
        return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is too small", b->model->config.source,
                          n->base.img_h, n->base.img_w);
    int H = n->stem_h, W = n->stem_w, C = n->stem2.cout;
    for (int i = 0; i < n->num_stages && r == 0; i++) {
        r = build_stage(b, n, i, C, H, W);
        C = n->stages[i].dim;
        H = n->stages[i].H;
        W = n->stages[i].W;
    }
    if (r == 0)
        r = build_head(b, n);
    int depths[VIT_EF2_MAX_STAGES], dims[VIT_EF2_MAX_STAGES];
    for (int i = 0; i < n->num_stages; i++) {
        depths[i] = n->stages[i].depth;
        dims[i] = n->stages[i].dim;
    }
    if (r == 0)
        r = vit_mf_check_arg_lists(b->model, "depths", depths, "embed_dims", dims, n->num_stages,
                                   b->err);
    return r < 0 ? r : vit_mf_check_all_used(b, "EfficientFormerV2");
}

/* ---- GFLOPs ------------------------------------------------------------------------------ */

static double attn_macs(const vit_ef2_attn *a)
{
    double n = (double)a->h * a->w, m = a->m, kh = (double)a->heads * a->kd;
    double dh = (double)a->heads * a->d, macs;
    if (a->down)
        macs = vit_conv2d_macs(&a->q_local, a->H, a->W) + vit_conv2d_macs(&a->q, a->h, a->w) +
               vit_conv2d_macs(&a->k, a->H, a->W) + vit_conv2d_macs(&a->v, a->H, a->W) +
               vit_conv2d_macs(&a->v_local, a->H, a->W);
    else
        macs = (a->strided ? vit_conv2d_macs(&a->stride_conv, a->H, a->W) : 0.0) +
               vit_conv2d_macs(&a->q, a->h, a->w) + vit_conv2d_macs(&a->k, a->h, a->w) +
               vit_conv2d_macs(&a->v, a->h, a->w) + vit_conv2d_macs(&a->v_local, a->h, a->w) +
               2.0 * n * m * a->heads * a->heads; /* talking heads */
    macs += n * m * (kh + dh);
    return macs + vit_conv2d_macs(&a->proj, a->down ? a->h : a->H, a->down ? a->w : a->W);
}

static double ef2_gflops(const void *net)
{
    const vit_ef2_net *n = net;
    double macs = vit_conv2d_macs(&n->stem1, n->base.img_h, n->base.img_w);
    macs += vit_conv2d_macs(&n->stem2, vit_conv_out_size(n->base.img_h, 3, 2, 1),
                            vit_conv_out_size(n->base.img_w, 3, 2, 1));
    int H = n->stem_h, W = n->stem_w;
    for (int i = 0; i < n->num_stages; i++) {
        const vit_ef2_stage *st = &n->stages[i];
        if (st->has_down)
            macs += vit_conv2d_macs(&st->down, H, W);
        if (st->down_attn)
            macs += attn_macs(st->down_attn);
        double N = (double)st->H * st->W;
        for (int j = 0; j < st->depth; j++) {
            const vit_mf_block *blk = &st->blocks[j];
            macs +=
                N * st->dim * 2.0 * blk->mlp.hidden + vit_conv2d_macs(&blk->mlp.dw, st->H, st->W);
            if (blk->mixer)
                macs += attn_macs(blk->mixer);
        }
        H = st->H;
        W = st->W;
    }
    macs += 2.0 * n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int ef2_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(vit_ef2_net), build_net, ef2_gflops, err);
}

const vit_family vit_family_efficientformer_v2 = {
    .name = "efficientformer_v2",
    .patterns = ef2_patterns,
    .build = ef2_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = vit_ef2_arena_bytes,
    .run = vit_ef2_run,
};
