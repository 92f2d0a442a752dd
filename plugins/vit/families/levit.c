/* levit.c — LeViT (Graham et al., "LeViT: a Vision Transformer in ConvNet's Clothing") in timm's
 * keys: levit_128s, _128, _192, _256, _384 (distilled) and the SiLU / s8 experiments. Every
 * BatchNorm (eps 1e-5) is folded at load: ConvNorm and LinearNorm (Linear + BN1d over outputs)
 * into their weights, the head's NormLinear (BN1d over inputs + Linear) into its Linear.
 *   stem: stem.conv1..convK (K = 4, or 3 for the s8 stem) 3x3 s2 p1, act between them
 *   block (tokens on an H x W grid): x += proj(act(Attn(qkv(x)))); x += ln2(act(ln1(x)))
 *     qkv rows per head [q kd | k kd | v vd]; logits q k^T kd^-0.5 + attention_biases[h,
 *     |dy| * W + |dx|] (the index is rebuilt from the grid)
 *   stage i > 0 first: attn_downsample (kv per head [k kd | v vd] on all tokens, q.ln on the
 *     tokens x[::2, ::2], bias index |2 qy - ky| * W + |2 qx - kx|, proj to the new width, no
 *     residual), then x += mlp(x)
 *   head: mean over tokens -> (head(x) + head_dist(x)) / 2 (head alone when not distilled)
 *   act: hardswish, or SiLU (model_args act_layer "silu", or the timm names that use it). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/ops.h"
#include "ops/pool.h"

#define LV_MAX_STAGES 8
#define LV_BN_EPS 1e-5f

typedef struct lv_attn {
    int heads, kd, vd, down;      /* down: AttentionDownsample (q from the subsampled tokens) */
    int H, W, OH, OW, cin, cout;  /* key grid, query grid, widths */
    const float *qkv_w, *qkv_b;   /* [heads * (2kd + vd) or heads * (kd + vd), cin] */
    const float *q_w, *q_b;       /* downsample: [heads * kd, cin] */
    const float *proj_w, *proj_b; /* [cout, heads * vd] */
    const float *biases;          /* [heads, H * W] */
    vit_mf_act act;
} lv_attn;

typedef struct lv_stage {
    int dim, depth, H, W;
    int has_down;
    lv_attn down;
    vit_mf_block down_mlp;
    vit_mf_block *blocks;
} lv_stage;

typedef struct lv_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stems, num_stages, distilled;
    vit_mf_act act;
    vit_conv2d stem[4];
    lv_stage stages[LV_MAX_STAGES];
    const float *head_w, *head_b, *dist_w, *dist_b; /* folded NormLinears */
} lv_net;

/* levit_128s, levit_384_s8, ...; not levit_conv_* (NCHW-keyed variants, not supported). */
static const char *const lv_patterns[] = {"levit_[0-9]*", NULL};

/* ---- attention --------------------------------------------------------------------------- */

typedef struct lv_job {
    const lv_attn *a;
    vit_mf_state *s;
} lv_job;

static int kv_width(const lv_attn *a)
{
    return a->heads * ((a->down ? 1 : 2) * a->kd + a->vd);
}

/* qkv (or kv) rows of s->x into s->hidden. */
static void lv_qkv_task(void *ctx, int r0, int r1, int task)
{
    lv_job *j = ctx;
    const lv_attn *a = j->a;
    vit_mf_state *s = j->s;
    int Q = kv_width(a), C = a->cin;
    vit_linear(r1 - r0, Q, C, s->x + (size_t)r0 * C, C, a->qkv_w, a->qkv_b, 0.0f,
               s->hidden + (size_t)r0 * Q, Q);
}

/* The downsample's queries [r0, r1): token (2 qy, 2 qx) gathered into s->t, q.ln into s->y. */
static void lv_q_task(void *ctx, int r0, int r1, int task)
{
    lv_job *j = ctx;
    const lv_attn *a = j->a;
    vit_mf_state *s = j->s;
    int C = a->cin, qd = a->heads * a->kd;
    for (int r = r0; r < r1; r++)
        memcpy(s->t + (size_t)r * C, s->x + ((size_t)(r / a->OW) * 2 * a->W + r % a->OW * 2) * C,
               (size_t)C * sizeof(float));
    vit_linear(r1 - r0, qd, C, s->t + (size_t)r0 * C, C, a->q_w, a->q_b, 0.0f,
               s->y + (size_t)r0 * qd, qd);
}

/* Query rows [r0, r1): bias attention into s->hidden2, act, proj into s->t. */
static void lv_attn_task(void *ctx, int r0, int r1, int task)
{
    lv_job *j = ctx;
    const lv_attn *a = j->a;
    vit_mf_state *s = j->s;
    int Q = kv_width(a), hw = Q / a->heads, V = a->heads * a->vd, ko = a->down ? 0 : a->kd;
    int qd = a->heads * a->kd;
    vit_mf_bias_attn ba = {
        a->heads, a->kd, a->vd, a->down ? qd : Q, Q,        Q, a->down ? a->kd : hw, hw, hw,
        a->H,     a->W,  a->OW, a->down ? 2 : 1,  a->biases};
    const float *q = a->down ? s->y : s->hidden;
    vit_mf_bias_attention_rows(&ba, q, s->hidden + ko, s->hidden + ko + a->kd, r0, r1,
                               s->work + (size_t)task * VIT_MF_ATTN_CHUNK * a->H * a->W, s->hidden2,
                               V);
    vit_mf_act_rows(a->act, s->hidden2, V, V, r0, r1);
    vit_linear(r1 - r0, a->cout, V, s->hidden2 + (size_t)r0 * V, V, a->proj_w, a->proj_b, 0.0f,
               s->t + (size_t)r0 * a->cout, a->cout);
}

static void lv_attn_run(const lv_attn *a, vit_mf_state *s)
{
    lv_job j = {a, s};
    vit_mf_parallel(s, a->H * a->W, lv_qkv_task, &j);
    if (a->down)
        vit_mf_parallel(s, a->OH * a->OW, lv_q_task, &j);
    vit_mf_parallel(s, a->OH * a->OW, lv_attn_task, &j);
}

static void lv_attn_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    lv_attn_run(blk->mixer, s);
}

/* ---- building ---------------------------------------------------------------------------- */

/* LinearNorm "<p>": "<p>.linear.weight" [rows, cin] (rows < 0: any, from the tensor) with the
 * BatchNorm "<p>.bn" folded in; *ret_rows gets the rows. */
static int get_linear_norm(vit_binder *b, lv_net *n, int cin, int rows, const float **ret_w,
                           const float **ret_b, int *ret_rows, const char *p)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%s.linear.weight", p);
    if (rows < 0 && t && t->ndim == 2 && t->shape[0] >= 1 && t->shape[0] <= 1 << 16)
        rows = (int)t->shape[0];
    vit_conv2d c = {
        .cin = cin, .cout = rows, .kh = 1, .kw = 1, .stride_h = 1, .stride_w = 1, .groups = 1};
    int r = vit_binder_get(b, &c.weight, VIT_SHAPE(rows, cin), "%s.linear.weight", p);
    if (r == 0)
        r = vit_mf_fold_bn(b, &n->base.allocs, &c, LV_BN_EPS, "%s.bn", p);
    if (r < 0)
        return r;
    *ret_w = c.weight;
    *ret_b = c.bias;
    if (ret_rows)
        *ret_rows = rows;
    return 0;
}

/* NormLinear "<p>" (BatchNorm over the C inputs, then Linear with bias), folded into one Linear;
 * *ret_classes from the weight's rows. */
static int get_norm_linear(vit_binder *b, lv_net *n, int C, const float **ret_w,
                           const float **ret_b, int *ret_classes, const char *p)
{
    char lin[64], bnp[64];
    snprintf(lin, sizeof(lin), "%s.linear", p);
    snprintf(bnp, sizeof(bnp), "%s.bn", p);
    const float *w, *bias;
    vit_mf_bn bn;
    int K = 0, r = vit_mf_get_head(b, C, lin, &K, &w, &bias);
    if (r == 0)
        r = vit_mf_get_bn(b, &bn, C, bnp);
    if (r < 0)
        return r;
    float *fw = vit_mf_calloc(&n->base.allocs, (size_t)K * C + K, sizeof(float));
    if (!fw)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    float *fb = fw + (size_t)K * C;
    for (int k = 0; k < K; k++) {
        double acc = bias[k];
        for (int c = 0; c < C; c++) {
            float sc = bn.gamma[c] / sqrtf(bn.var[c] + LV_BN_EPS);
            fw[(size_t)k * C + c] = w[(size_t)k * C + c] * sc;
            acc += (double)w[(size_t)k * C + c] * (bn.beta[c] - bn.mean[c] * sc);
        }
        fb[k] = (float)acc;
    }
    *ret_w = fw;
    *ret_b = fb;
    *ret_classes = K;
    return 0;
}

static int bad_attn(vit_binder *b, const char *p)
{
    return vit_errorf(b->err, -ENOTSUP,
                      "%s: tensors %s.*: the q/kv, proj and attention_biases widths do not make "
                      "heads of key and value dims",
                      b->model->weights->path, p);
}

/* Attention "<p>" (a block's attn, or a stage's attn_downsample when a->down) on the H x W grid
 * of width a->cin; sets everything but act. */
static int build_attn(vit_binder *b, lv_net *n, lv_attn *a, const char *p, int cout)
{
    char q[96];
    const vit_st_tensor *ab = vit_binder_peek(b, "%s.attention_biases", p);
    const vit_st_tensor *pr = vit_binder_peek(b, "%s.proj.ln.linear.weight", p);
    if (!ab || ab->ndim != 2 || !pr || pr->ndim != 2 || ab->shape[0] < 1 || ab->shape[0] > 256)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, -1), "%s.%s", p,
                              !ab ? "attention_biases" : "proj.ln.linear.weight");
    a->heads = (int)ab->shape[0];
    a->vd = (int)(pr->shape[1] / a->heads);
    a->cout = cout;
    a->OH = a->down ? (a->H - 1) / 2 + 1 : a->H;
    a->OW = a->down ? (a->W - 1) / 2 + 1 : a->W;
    int Q = 0, r;
    snprintf(q, sizeof(q), "%s.%s", p, a->down ? "kv" : "qkv");
    r = get_linear_norm(b, n, a->cin, -1, &a->qkv_w, &a->qkv_b, &Q, q);
    if (r < 0)
        return r;
    if (a->down) {
        int qd = 0;
        snprintf(q, sizeof(q), "%s.q.ln", p);
        r = get_linear_norm(b, n, a->cin, -1, &a->q_w, &a->q_b, &qd, q);
        a->kd = qd / a->heads;
        if (r == 0 && (qd % a->heads || a->kd < 1 || kv_width(a) != Q))
            return bad_attn(b, p);
    } else {
        a->kd = (Q / a->heads - a->vd) / 2;
        if (a->kd < 1 || kv_width(a) != Q)
            return bad_attn(b, p);
    }
    if (r == 0 && (a->vd < 1 || (int64_t)a->heads * a->vd != pr->shape[1]))
        return bad_attn(b, p);
    snprintf(q, sizeof(q), "%s.proj.ln", p);
    if (r == 0)
        r = get_linear_norm(b, n, a->heads * a->vd, cout, &a->proj_w, &a->proj_b, NULL, q);
    if (r == 0)
        r = vit_binder_get(b, &a->biases, VIT_SHAPE(a->heads, (int64_t)a->H * a->W),
                           "%s.attention_biases", p);
    vit_binder_ignore(b, "%s.attention_bias_idxs", p);
    return r;
}

/* "<p>.mlp.{ln1,ln2}" as the block's MLP (no norms, no layer scales). */
static int build_mlp(vit_binder *b, lv_net *n, vit_mf_block *blk, int C, const char *p)
{
    char q[96];
    vit_mf_mlp *m = &blk->mlp;
    m->act1 = n->act;
    snprintf(q, sizeof(q), "%s.mlp.ln1", p);
    int r = get_linear_norm(b, n, C, -1, &m->fc1_w, &m->fc1_b, &m->hidden, q);
    snprintf(q, sizeof(q), "%s.mlp.ln2", p);
    return r < 0 ? r : get_linear_norm(b, n, m->hidden, C, &m->fc2_w, &m->fc2_b, NULL, q);
}

static int build_stage(vit_binder *b, lv_net *n, int i, int cin, int H, int W)
{
    lv_stage *st = &n->stages[i];
    char p[80];
    int r = 0;
    st->dim = cin;
    if (vit_binder_peek(b, "stages.%d.downsample.attn_downsample.attention_biases", i)) {
        const vit_st_tensor *pr =
            vit_binder_peek(b, "stages.%d.downsample.attn_downsample.proj.ln.linear.weight", i);
        st->has_down = 1;
        st->dim = pr && pr->ndim == 2 && pr->shape[0] >= 1 && pr->shape[0] <= 1 << 16
                      ? (int)pr->shape[0]
                      : 1;
        st->down = (lv_attn){.down = 1, .H = H, .W = W, .cin = cin, .act = n->act};
        snprintf(p, sizeof(p), "stages.%d.downsample.attn_downsample", i);
        r = build_attn(b, n, &st->down, p, st->dim);
        snprintf(p, sizeof(p), "stages.%d.downsample", i);
        if (r == 0)
            r = build_mlp(b, n, &st->down_mlp, st->dim, p);
        if (r < 0)
            return r;
        H = st->down.OH;
        W = st->down.OW;
    }
    st->H = H;
    st->W = W;
    snprintf(p, sizeof(p), "stages.%d.blocks.", i);
    r = vit_mf_alloc_blocks(b, &n->base.allocs, p, i, &st->blocks, &st->depth);
    lv_attn *attn =
        r == 0 ? vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(*attn)) : NULL;
    if (r == 0 && !attn)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int j = 0; j < st->depth && r == 0; j++) {
        vit_mf_block *blk = &st->blocks[j];
        attn[j] = (lv_attn){.H = H, .W = W, .cin = st->dim, .act = n->act};
        blk->mixer = &attn[j];
        blk->mixer_fn = lv_attn_mixer;
        blk->mixer_norms = 1; /* it reads s->x */
        snprintf(p, sizeof(p), "stages.%d.blocks.%d.attn", i, j);
        r = build_attn(b, n, &attn[j], p, st->dim);
        snprintf(p, sizeof(p), "stages.%d.blocks.%d", i, j);
        if (r == 0)
            r = build_mlp(b, n, blk, st->dim, p);
    }
    return r;
}

static vit_mf_act lv_act(const vit_model *m)
{
    static const char *const silu[] = {"levit_384_s8", "levit_512_s8", "levit_512", "levit_256d",
                                       "levit_512d"};
    const char *a = vit_config_arg_string(&m->config, "act_layer");
    if (a)
        return strcmp(a, "silu") ? VIT_MF_ACT_HARDSWISH : VIT_MF_ACT_SILU;
    for (size_t i = 0; i < sizeof(silu) / sizeof(silu[0]); i++)
        if (!strcmp(m->config.architecture, silu[i]))
            return VIT_MF_ACT_SILU;
    return VIT_MF_ACT_HARDSWISH;
}

static int build_net(vit_binder *b, void *net)
{
    lv_net *n = net;
    const char *act = vit_config_arg_string(&b->model->config, "act_layer");
    if (act && strcmp(act, "silu") && strcmp(act, "hard_swish"))
        return vit_errorf(b->err, -ENOTSUP, "%s: model_args.act_layer %s (hard_swish or silu)",
                          b->model->config.source, act);
    n->act = lv_act(b->model);
    n->num_stems = vit_binder_peek(b, "stem.conv4.linear.weight") ? 4 : 3;
    int r = 0, cin = -1;
    for (int i = 0; i < n->num_stems && r == 0; i++) {
        r = vit_mf_get_conv(b, &n->stem[i], cin, -1, 2, 1, 1, 0, "stem.conv%d.linear", i + 1);
        if (r == 0)
            r = vit_mf_fold_bn(b, &n->base.allocs, &n->stem[i], LV_BN_EPS, "stem.conv%d.bn", i + 1);
        cin = n->stem[i].cout;
    }
    if (r < 0)
        return r;
    n->base.in_chans = n->stem[0].cin;
    const vit_st_tensor *hw = vit_binder_peek(b, "head.linear.weight");
    r = vit_mf_input_size(b->model, n->base.in_chans, 224,
                          hw && hw->ndim == 2 ? (int)hw->shape[0] : -1, &n->base.img_h,
                          &n->base.img_w, b->err);
    int H = n->base.img_h, W = n->base.img_w;
    for (int i = 0; i < n->num_stems; i++) {
        H = vit_conv_out_size(H, n->stem[i].kh, 2, 1);
        W = vit_conv_out_size(W, n->stem[i].kw, 2, 1);
    }
    n->num_stages = vit_binder_count(b, "stages.", ".");
    if (r < 0)
        return r;
    if ((n->num_stages < 1 || n->num_stages > LV_MAX_STAGES))
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, LV_MAX_STAGES);
    for (int i = 0; i < n->num_stages && r == 0; i++) {
        r = build_stage(b, n, i, i ? n->stages[i - 1].dim : cin, H, W);
        H = n->stages[i].H;
        W = n->stages[i].W;
    }
    int C = n->stages[n->num_stages - 1].dim, K = 0;
    if (r == 0)
        r = get_norm_linear(b, n, C, &n->head_w, &n->head_b, &n->base.num_classes, "head");
    n->distilled = vit_binder_peek(b, "head_dist.linear.weight") != NULL;
    if (r == 0 && n->distilled)
        r = get_norm_linear(b, n, C, &n->dist_w, &n->dist_b, &K, "head_dist");
    if (r == 0 && n->distilled && K != n->base.num_classes)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor head_dist.linear.weight has %d rows, head has %d",
                          b->model->weights->path, K, n->base.num_classes);
    if (r < 0)
        return r;
    int depths[LV_MAX_STAGES], dims[LV_MAX_STAGES];
    for (int i = 0; i < n->num_stages; i++) {
        depths[i] = n->stages[i].depth;
        dims[i] = n->stages[i].dim;
    }
    r = vit_mf_check_arg_lists(b->model, "depth", depths, "embed_dim", dims, n->num_stages, b->err);
    return r < 0 ? r : vit_mf_check_all_used(b, "LeViT");
}

static double attn_macs(const lv_attn *a)
{
    double N = (double)a->H * a->W, Nq = (double)a->OH * a->OW, V = (double)a->heads * a->vd;
    return N * a->cin * kv_width(a) + (a->down ? Nq * a->cin * a->heads * a->kd : 0.0) +
           Nq * N * a->heads * (a->kd + a->vd) + Nq * V * a->cout;
}

static double lv_gflops(const void *net)
{
    const lv_net *n = net;
    int H = n->base.img_h, W = n->base.img_w;
    double macs = 0.0;
    for (int i = 0; i < n->num_stems; i++) {
        macs += vit_conv2d_macs(&n->stem[i], H, W);
        H = vit_conv_out_size(H, n->stem[i].kh, 2, 1);
        W = vit_conv_out_size(W, n->stem[i].kw, 2, 1);
    }
    for (int i = 0; i < n->num_stages; i++) {
        const lv_stage *st = &n->stages[i];
        double N = (double)st->H * st->W;
        if (st->has_down)
            macs += attn_macs(&st->down) + 2.0 * N * st->dim * st->down_mlp.mlp.hidden;
        for (int j = 0; j < st->depth; j++)
            macs += attn_macs(st->blocks[j].mixer) + 2.0 * N * st->dim * st->blocks[j].mlp.hidden;
    }
    macs += (n->distilled ? 2.0 : 1.0) * n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int lv_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(lv_net), build_net, lv_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static size_t attn_hidden(const lv_attn *a, size_t *max_nh, size_t *scores, int threads)
{
    size_t N = (size_t)a->H * a->W, Nq = (size_t)a->OH * a->OW;
    size_t kv = N * kv_width(a), v = Nq * a->heads * a->vd;
    *max_nh = kv > *max_nh ? kv : *max_nh;
    *max_nh = v > *max_nh ? v : *max_nh;
    size_t sc = (size_t)threads * VIT_MF_ATTN_CHUNK * N;
    *scores = sc > *scores ? sc : *scores;
    return N * a->cin > Nq * a->cout ? N * a->cin : Nq * a->cout;
}

static size_t lv_layout(const lv_net *n, int threads, char *base, vit_mf_state *s)
{
    size_t max_nc = 0, max_nh = 0, conv = 0;
    size_t work = 2 * (size_t)n->stages[n->num_stages - 1].dim;
    int H = n->base.img_h, W = n->base.img_w;
    for (int i = 0; i < n->num_stems; i++) {
        size_t c = vit_conv2d_pool_scratch_floats(&n->stem[i], i ? VIT_CONV_HWC : VIT_CONV_CHW, H,
                                                  W, threads);
        conv = c > conv ? c : conv;
        H = vit_conv_out_size(H, n->stem[i].kh, 2, 1);
        W = vit_conv_out_size(W, n->stem[i].kw, 2, 1);
        max_nc =
            (size_t)H * W * n->stem[i].cout > max_nc ? (size_t)H * W * n->stem[i].cout : max_nc;
    }
    for (int i = 0; i < n->num_stages; i++) {
        const lv_stage *st = &n->stages[i];
        size_t N = (size_t)st->H * st->W, nc;
        if (st->has_down) {
            nc = attn_hidden(&st->down, &max_nh, &work, threads);
            max_nc = nc > max_nc ? nc : max_nc;
            max_nh = N * st->down_mlp.mlp.hidden > max_nh ? N * st->down_mlp.mlp.hidden : max_nh;
        }
        for (int j = 0; j < st->depth; j++) {
            nc = attn_hidden(st->blocks[j].mixer, &max_nh, &work, threads);
            max_nc = nc > max_nc ? nc : max_nc;
            max_nh = N * st->blocks[j].mlp.hidden > max_nh ? N * st->blocks[j].mlp.hidden : max_nh;
        }
    }
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, work, conv);
    return c.off;
}

static size_t lv_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return lv_layout(m->net, threads, NULL, &s);
}

static int lv_run(const vit_model *m, vit_run *run, const float *chw)
{
    const lv_net *n = m->net;
    vit_mf_state s;
    lv_layout(n, run->threads, run->arena, &s);
    vit_mf_stem_run(&s, run->pool, &n->stem[0], chw, n->base.img_h, n->base.img_w);
    for (int i = 1; i < n->num_stems; i++) { /* act, then the next conv into y; swap */
        vit_mf_act_run(&s, n->act, s.x, s.C);
        const vit_conv2d *c = &n->stem[i];
        vit_mf_conv(&s, c, s.x, VIT_CONV_HWC, s.H, s.W, s.y, c->cout);
        float *t = s.x;
        s.x = s.y;
        s.y = t;
        s.H = vit_conv_out_size(s.H, c->kh, 2, 1);
        s.W = vit_conv_out_size(s.W, c->kw, 2, 1);
        s.C = c->cout;
    }
    for (int i = 0; i < n->num_stages; i++) {
        const lv_stage *st = &n->stages[i];
        if (st->has_down) { /* attention onto the subsampled grid, result in s->t: swap */
            lv_attn_run(&st->down, &s);
            float *t = s.x;
            s.x = s.t;
            s.t = t;
            s.H = st->H;
            s.W = st->W;
            s.C = st->dim;
            vit_mf_block_mlp_run(&st->down_mlp, &s);
        }
        for (int j = 0; j < st->depth; j++)
            vit_mf_block_run(&st->blocks[j], &s);
    }
    vit_mf_distilled_head(&s, s.x, n->head_w, n->head_b, n->distilled ? n->dist_w : NULL, n->dist_b,
                          n->base.num_classes, run->logits);
    return 0;
}

const vit_family vit_family_levit = {
    .name = "levit",
    .patterns = lv_patterns,
    .build = lv_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = lv_arena_bytes,
    .run = lv_run,
};
