/* swin.c — Swin Transformer v1 (swin_tiny/small/base_patch4_window7_224 ...) with
 * timm's keys: patch embed Conv k=s=patch + LayerNorm, stages of (shifted) window attention
 * blocks — the MetaFormer block of metaformer.h with the window mixer of window.h — joined by
 * patch merging (2x2 neighbours concatenated, LayerNorm(4C), Linear 4C -> 2C without bias),
 * final norm, mean, head. Every LayerNorm has eps 1e-5.
 *
 * Widths, depths, heads and window sizes come from the tensors (the bias table is
 * [(2ws-1)^2, heads]); blocks alternate shift 0 and ws/2 except where the stage's grid fits in
 * one window (ws = grid, no shift). relative_position_index and attn_mask buffers in the file
 * are ignored: window.c rebuilds both. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/family.h"
#include "families/metaformer.h"
#include "ops/ops.h"
#include "ops/pool.h"
#include "ops/window.h"

#define SWIN_MAX_STAGES 8
#define SWIN_EPS 1e-5f

typedef struct swin_attn {
    int C, heads, ws, shift;
    const float *qkv_w, *qkv_b, *proj_w, *proj_b, *table;
    const int *rel_index; /* the stage's */
} swin_attn;

typedef struct swin_stage {
    int dim, depth, hidden, heads, ws, H, W;
    int has_merge;
    const float *merge_norm_w, *merge_norm_b, *merge_w; /* [2C', 4C'] for input width C' */
    vit_mf_block *blocks;
    swin_attn *attn;
    int *rel_index;
} swin_stage;

typedef struct swin_net {
    vit_mf_net base; /* first: allocations, input size and classes (vit_mf_build) */
    int num_stages, window;
    vit_conv2d patch;
    const float *patch_norm_w, *patch_norm_b;
    swin_stage stages[SWIN_MAX_STAGES];
    const float *norm_w, *norm_b, *head_w, *head_b;
} swin_net;

static const char *const swin_patterns[] = {"swin_*", NULL};

/* ---- the window mixer -------------------------------------------------------------------- */

typedef struct win_job {
    vit_mf_window_job w; /* w.out: the attention output before proj */
    const swin_attn *a;
} win_job;

static size_t win_layout(int N, int C, size_t per_thread, int threads, float *base, win_job *j)
{
    vit_mf_carve c = {(char *)base, 0};
    j->w.qkv = vit_mf_take(&c, (size_t)N * 3 * C);
    j->w.out = vit_mf_take(&c, (size_t)N * C);
    j->w.scratch = vit_mf_take(&c, per_thread * threads);
    return c.off / sizeof(float);
}

static void proj_task(void *ctx, int r0, int r1, int task)
{
    win_job *j = ctx;
    int C = j->a->C;
    vit_linear(r1 - r0, C, C, j->w.out + (size_t)r0 * C, C, j->a->proj_w, j->a->proj_b, 1.0f,
               j->w.s->x + (size_t)r0 * C, C); /* the residual, fused (no layer scale) */
}

static void window_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    const swin_attn *a = blk->mixer;
    win_job j = {.w = {.blk = blk, .s = s, .qkv_w = a->qkv_w, .qkv_b = a->qkv_b}, .a = a};
    j.w.wa = (vit_window_attn){s->H, s->W, a->C, a->heads, a->ws, a->shift, a->table, a->rel_index};
    j.w.scratch_per_task = vit_window_scratch_floats(&j.w.wa);
    win_layout(s->H * s->W, a->C, j.w.scratch_per_task, s->threads, s->work, &j);
    vit_mf_parallel(s, s->H * s->W, vit_mf_window_qkv_task, &j.w);
    vit_mf_parallel(s, vit_window_count(&j.w.wa), vit_mf_window_attn_task, &j.w);
    vit_mf_parallel(s, s->H * s->W, proj_task, &j);
}

/* ---- building ---------------------------------------------------------------------------- */

static int build_block(vit_binder *b, swin_net *n, swin_stage *st, int i, int k)
{
    vit_mf_block *blk = &st->blocks[k];
    swin_attn *a = &st->attn[k];
    int64_t C = st->dim;
    char p[64];
    snprintf(p, sizeof(p), "layers.%d.blocks.%d", i, k);
    int r = vit_mf_get_ln_block(b, blk, p, C, SWIN_EPS, k, &st->hidden);
    if (r < 0)
        return r;
    int64_t Hd = st->hidden;
    blk->mixer_fn = window_mixer;
    blk->mixer_residual = 1;
    blk->mixer_norms = 1;
    blk->mixer = a;
    blk->mlp.act1 = VIT_MF_ACT_GELU;
    *a = (swin_attn){(int)C, st->heads, st->ws, 0, .rel_index = st->rel_index};
    if (k % 2 == 1 && st->ws < st->H)
        a->shift = st->ws / 2;
    int64_t T = (int64_t)(2 * st->ws - 1) * (2 * st->ws - 1);
    r = vit_binder_get(b, &blk->mlp.fc2_w, VIT_SHAPE(C, Hd), "%s.mlp.fc2.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &blk->mlp.fc2_b, VIT_SHAPE(C), "%s.mlp.fc2.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->qkv_w, VIT_SHAPE(3 * C, C), "%s.attn.qkv.weight", p);
    if (r == 0)
        r = vit_binder_get_opt(b, &a->qkv_b, VIT_SHAPE(3 * C), "%s.attn.qkv.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_w, VIT_SHAPE(C, C), "%s.attn.proj.weight", p);
    if (r == 0)
        r = vit_binder_get(b, &a->proj_b, VIT_SHAPE(C), "%s.attn.proj.bias", p);
    if (r == 0)
        r = vit_binder_get(b, &a->table, VIT_SHAPE(T, st->heads),
                           "%s.attn.relative_position_bias_table", p);
    vit_binder_ignore(b, "%s.attn.relative_position_index", p);
    vit_binder_ignore(b, "%s.attn_mask", p);
    return r;
}

/* Heads and the window of stage i from its first bias table; ws = grid when the grid fits. */
static int stage_window(vit_binder *b, swin_net *n, swin_stage *st, int i)
{
    const vit_st_tensor *t =
        vit_binder_peek(b, "layers.%d.blocks.0.attn.relative_position_bias_table", i);
    if (!t || t->ndim != 2 || t->shape[1] < 1 || t->shape[1] > 4096 || t->shape[0] < 1 ||
        t->shape[0] > 1 << 16)
        return vit_errorf(b->err, t ? -EINVAL : -ENOENT,
                          "%s: tensor layers.%d.blocks.0.attn."
                          "relative_position_bias_table: %s",
                          b->model->weights->path, i,
                          t ? "unsupported shape (need [(2ws-1)^2, heads])" : "missing");
    st->heads = (int)t->shape[1];
    int side = (int)lround(sqrt((double)t->shape[0]));
    int table_ws = (side + 1) / 2;
    if (n->window == 0)
        n->window = table_ws;
    st->ws = st->H <= n->window && st->W <= n->window ? st->H : n->window;
    if (st->H != st->W && st->ws == st->H)
        return vit_errorf(b->err, -ENOTSUP, "%s: non-square %dx%d grid in one window",
                          b->model->config.source, st->H, st->W);
    if (st->ws != table_ws || st->H % st->ws || st->W % st->ws)
        return vit_errorf(b->err, -EINVAL,
                          "%s: stage %d: a %dx%d grid does not tile into the "
                          "%dx%d windows its bias table implies (window %d)",
                          b->model->weights->path, i, st->H, st->W, table_ws, table_ws, n->window);
    if (st->dim % st->heads)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d: %d heads do not divide width %d",
                          b->model->weights->path, i, st->heads, st->dim);
    st->rel_index =
        vit_mf_calloc(&n->base.allocs, (size_t)st->ws * st->ws * st->ws * st->ws, sizeof(int));
    if (!st->rel_index)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    vit_window_rel_index(st->ws, st->rel_index);
    return 0;
}

static int build_stage(vit_binder *b, swin_net *n, int i, int cin, int H, int W)
{
    swin_stage *st = &n->stages[i];
    int r = 0;
    st->dim = cin;
    if (i > 0) { /* every later stage starts with patch merging */
        const vit_st_tensor *t = vit_binder_peek(b, "layers.%d.downsample.reduction.weight", i);
        if (!t)
            return vit_binder_get(b, &st->merge_w, VIT_SHAPE(2 * cin, 4 * cin),
                                  "layers.%d.downsample.reduction.weight", i);
        if (t->ndim != 2 || t->shape[0] < 1 || t->shape[0] > 1 << 16)
            return vit_errorf(b->err, -EINVAL,
                              "%s: tensor layers.%d.downsample.reduction.weight:"
                              " unsupported shape",
                              b->model->weights->path, i);
        st->has_merge = 1;
        st->dim = (int)t->shape[0];
        r = vit_binder_get(b, &st->merge_w, VIT_SHAPE(st->dim, 4 * cin),
                           "layers.%d.downsample.reduction.weight", i);
        if (r == 0)
            r = vit_binder_get(b, &st->merge_norm_w, VIT_SHAPE(4 * cin),
                               "layers.%d.downsample.norm.weight", i);
        if (r == 0)
            r = vit_binder_get(b, &st->merge_norm_b, VIT_SHAPE(4 * cin),
                               "layers.%d.downsample.norm.bias", i);
        if (r < 0)
            return r;
        if (H % 2 || W % 2)
            return vit_errorf(b->err, -EINVAL, "%s: patch merging of an odd %dx%d grid",
                              b->model->config.source, H, W);
        H /= 2;
        W /= 2;
    }
    st->H = H;
    st->W = W;
    char p[48];
    snprintf(p, sizeof(p), "layers.%d.blocks.", i);
    st->depth = vit_binder_count(b, p, ".");
    if (st->depth < 1)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d has no blocks", b->model->weights->path,
                          i);
    r = stage_window(b, n, st, i);
    if (r < 0)
        return r;
    st->blocks = vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(vit_mf_block));
    st->attn = vit_mf_calloc(&n->base.allocs, (size_t)st->depth, sizeof(swin_attn));
    if (!st->blocks || !st->attn)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int k = 0; k < st->depth && r == 0; k++)
        r = build_block(b, n, st, i, k);
    return r;
}

static int build_head(vit_binder *b, swin_net *n)
{
    int64_t C = n->stages[n->num_stages - 1].dim;
    const char *fc = vit_binder_peek(b, "head.fc.weight") ? "head.fc" : "head";
    int r = vit_mf_get_head(b, C, fc, &n->base.num_classes, &n->head_w, &n->head_b);
    if (r == 0)
        r = vit_binder_get(b, &n->norm_w, VIT_SHAPE(C), "norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->norm_b, VIT_SHAPE(C), "norm.bias");
    return r;
}

static int build_net(vit_binder *b, void *net)
{
    swin_net *n = net;
    const vit_st_tensor *pw = vit_binder_peek(b, "patch_embed.proj.weight");
    int patch = pw && pw->ndim == 4 ? (int)pw->shape[2] : 4;
    int r = vit_mf_get_conv(b, &n->patch, -1, -1, patch, 0, 1, 1, "patch_embed.proj");
    if (r < 0)
        return r;
    n->base.in_chans = n->patch.cin;
    int64_t C = n->patch.cout;
    r = vit_binder_get(b, &n->patch_norm_w, VIT_SHAPE(C), "patch_embed.norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->patch_norm_b, VIT_SHAPE(C), "patch_embed.norm.bias");
    if (r < 0)
        return r;
    int ws = 0;
    r = vit_config_arg_int(&b->model->config, "window_size", &ws, b->err);
    if (r == -ENOENT) {
        const char *w = strstr(b->model->config.architecture, "window");
        ws = w ? atoi(w + 6) : 0;
    } else if (r < 0) {
        return r;
    }
    n->window = ws > 0 && ws <= 64 ? ws : 0;
    n->num_stages = vit_binder_count(b, "layers.", ".");
    if (n->num_stages < 1 || n->num_stages > SWIN_MAX_STAGES)
        return vit_errorf(b->err, -EINVAL, "%s: %d stages (need 1 to %d)", b->model->weights->path,
                          n->num_stages, SWIN_MAX_STAGES);
    /* The image size is needed before the stages: their grids decide the windows. */
    const vit_st_tensor *hw =
        vit_binder_peek(b, vit_binder_peek(b, "head.fc.weight") ? "head.fc.weight" : "head.weight");
    int classes = hw && hw->ndim == 2 ? (int)hw->shape[0] : -1;
    r = vit_mf_input_size(b->model, n->base.in_chans, 224, classes, &n->base.img_h, &n->base.img_w,
                          b->err);
    int H = n->base.img_h / patch, W = n->base.img_w / patch;
    for (int i = 0; i < n->num_stages && r == 0; i++) {
        r = build_stage(b, n, i, i ? n->stages[i - 1].dim : (int)C, H, W);
        H = n->stages[i].H;
        W = n->stages[i].W;
    }
    if (r == 0)
        r = build_head(b, n);
    if (r < 0)
        return r;
    int depths[SWIN_MAX_STAGES], heads[SWIN_MAX_STAGES];
    for (int i = 0; i < n->num_stages; i++) {
        depths[i] = n->stages[i].depth;
        heads[i] = n->stages[i].heads;
    }
    r = vit_mf_check_arg_lists(b->model, "depths", depths, "num_heads", heads, n->num_stages,
                               b->err);
    return r < 0 ? r : vit_mf_check_all_used(b, "Swin");
}

static double swin_gflops(const void *net)
{
    const swin_net *n = net;
    double macs = vit_conv2d_macs(&n->patch, n->base.img_h, n->base.img_w);
    for (int i = 0; i < n->num_stages; i++) {
        const swin_stage *st = &n->stages[i];
        double N = (double)st->H * st->W, C = st->dim, w = (double)st->ws * st->ws;
        if (st->has_merge)
            macs += N * 4 * n->stages[i - 1].dim * C;
        macs += st->depth * (N * 3 * C * C + 2 * N * w * C + N * C * C + 2 * N * C * st->hidden);
    }
    macs += (double)n->stages[n->num_stages - 1].dim * n->base.num_classes;
    return 2.0 * macs * 1e-9;
}

static int swin_build(vit_model *m, vit_error *err)
{
    return vit_mf_build(m, sizeof(swin_net), build_net, swin_gflops, err);
}

/* ---- running ----------------------------------------------------------------------------- */

static size_t swin_layout(const swin_net *n, int threads, char *base, vit_mf_state *s)
{
    size_t max_nc = 0, max_nh = 0, work = 0;
    size_t conv = vit_conv2d_pool_scratch_floats(&n->patch, VIT_CONV_CHW, n->base.img_h,
                                                 n->base.img_w, threads);
    for (int i = 0; i < n->num_stages; i++) {
        const swin_stage *st = &n->stages[i];
        size_t N = (size_t)st->H * st->W;
        max_nc = N * st->dim > max_nc ? N * st->dim : max_nc;
        max_nh = N * st->hidden > max_nh ? N * st->hidden : max_nh;
        vit_window_attn wa = {st->H, st->W, st->dim, st->heads, st->ws, 0, NULL, NULL};
        win_job j;
        size_t w = win_layout((int)N, st->dim, vit_window_scratch_floats(&wa), threads, NULL, &j);
        work = w > work ? w : work;
    }
    size_t head = 2 * (size_t)n->stages[n->num_stages - 1].dim;
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, max_nc, max_nh, work > head ? work : head, conv);
    return c.off;
}

static size_t swin_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return swin_layout(m->net, threads, NULL, &s);
}

typedef struct merge_job {
    const swin_stage *st;
    vit_mf_state *s;
    int Cin, H, W; /* input map */
} merge_job;

/* Output rows [r0, r1): gather the 2x2 neighbours (timm's channel order), LayerNorm, reduce. */
static void merge_task(void *ctx, int r0, int r1, int task)
{
    merge_job *j = ctx;
    int Cin = j->Cin, OW = j->W / 2, C4 = 4 * Cin;
    float *g = j->s->t + (size_t)r0 * C4;
    static const int dy[4] = {0, 1, 0, 1}, dx[4] = {0, 0, 1, 1};
    for (int p = r0; p < r1; p++) {
        int oy = p / OW, ox = p % OW;
        float *row = j->s->t + (size_t)p * C4;
        for (int q = 0; q < 4; q++)
            memcpy(row + q * Cin,
                   j->s->x + ((size_t)(2 * oy + dy[q]) * j->W + 2 * ox + dx[q]) * Cin,
                   (size_t)Cin * sizeof(float));
    }
    vit_layernorm_rows(r1 - r0, C4, g, C4, j->st->merge_norm_w, j->st->merge_norm_b, SWIN_EPS, g,
                       C4);
    vit_linear(r1 - r0, j->st->dim, C4, g, C4, j->st->merge_w, NULL, 0.0f,
               j->s->y + (size_t)r0 * j->st->dim, j->st->dim);
}

static int swin_run(const vit_model *m, vit_run *run, const float *chw)
{
    const swin_net *n = m->net;
    vit_mf_state s;
    swin_layout(n, run->threads, run->arena, &s);
    s.pool = run->pool;
    s.H = n->base.img_h / n->patch.kh;
    s.W = n->base.img_w / n->patch.kw;
    s.C = n->patch.cout;
    vit_mf_conv(&s, &n->patch, chw, VIT_CONV_CHW, n->base.img_h, n->base.img_w, s.x, s.C);
    vit_mf_norm ln = {VIT_MF_NORM_LAYER, n->patch_norm_w, n->patch_norm_b, SWIN_EPS};
    vit_mf_norm_run(&ln, &s, s.x, s.x, s.C);
    for (int i = 0; i < n->num_stages; i++) {
        const swin_stage *st = &n->stages[i];
        if (st->has_merge) {
            merge_job j = {st, &s, s.C, s.H, s.W};
            vit_mf_parallel(&s, st->H * st->W, merge_task, &j);
            float *t = s.x;
            s.x = s.y;
            s.y = t;
            s.H = st->H;
            s.W = st->W;
            s.C = st->dim;
        }
        for (int k = 0; k < st->depth; k++)
            vit_mf_block_run(&st->blocks[k], &s);
    }
    ln = (vit_mf_norm){VIT_MF_NORM_LAYER, n->norm_w, n->norm_b, SWIN_EPS};
    vit_mf_norm_run(&ln, &s, s.x, s.y, s.C);
    vit_mf_mean_head(&s, s.y, n->head_w, n->head_b, n->base.num_classes, run->logits);
    return 0;
}

const vit_family vit_family_swin = {
    .name = "swin",
    .patterns = swin_patterns,
    .build = swin_build,
    .destroy = vit_mf_net_free,
    .arena_bytes = swin_arena_bytes,
    .run = swin_run,
};
