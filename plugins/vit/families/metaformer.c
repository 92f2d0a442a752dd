/* metaformer.c — the shared MetaFormer block at run time (metaformer.h): its norms and MLP,
 * row-parallel helpers, split and bias-table attention, the window-attention passes, the stage
 * loop, arena carving and the classifier head. The builders' helpers are metaformer_build.c.
 *
 * A block is a few pool runs over token rows, each a barrier, so steps that only need their own
 * rows share a run: GroupNorm statistics (one run, per-part mean and M2 combined), norm1 (fused
 * into the mixer's first pass when the mixer says so, else its own run), the mixer's passes
 * (with the residual fused when the mixer says so), then the MLP as one run (norm2, fc1, act,
 * fc2, residual on the same rows) or, with a depthwise conv between, two (the conv needs
 * neighbouring rows of fc1's output). With few rows and several threads the MLP splits its
 * products by columns instead (mlp_cols_run). */
#include "families/metaformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/norm2d.h"
#include "ops/ops.h"
#include "ops/pool.h"

/* ---- row-parallel plumbing --------------------------------------------------------------- */

typedef struct par_job {
    int rows;
    vit_mf_rows_fn fn;
    void *ctx;
} par_job;

static void par_task(void *ctx, int task, int num_tasks)
{
    const par_job *j = ctx;
    int r0, r1;
    vit_split_range(j->rows, num_tasks, task, &r0, &r1);
    if (r1 > r0)
        j->fn(j->ctx, r0, r1, task);
}

void vit_mf_parallel(vit_mf_state *s, int rows, vit_mf_rows_fn fn, void *ctx)
{
    int parts = s->threads < rows ? s->threads : rows;
    if (parts < 1)
        return;
    par_job j = {rows, fn, ctx};
    if (parts == 1)
        fn(ctx, 0, rows, 0);
    else
        vit_threadpool_run(s->pool, parts, par_task, &j);
}

static VIT_HOT void relu_rows(float *x, int ldx, int N, int r0, int r1)
{
    for (int r = r0; r < r1; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j++)
            xr[j] = xr[j] > 0.0f ? xr[j] : 0.0f;
    }
}

static VIT_HOT void hardswish_rows(float *x, int ldx, int N, int r0, int r1)
{
    for (int r = r0; r < r1; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int j = 0; j < N; j++) {
            float t = xr[j] + 3.0f;
            t = t < 0.0f ? 0.0f : t > 6.0f ? 6.0f : t;
            xr[j] = xr[j] * t * (1.0f / 6.0f);
        }
    }
}

void vit_mf_act_rows(vit_mf_act act, float *x, int ldx, int N, int r0, int r1)
{
    if (act == VIT_MF_ACT_HARDSWISH)
        hardswish_rows(x, ldx, N, r0, r1);
    if (act == VIT_MF_ACT_GELU)
        vit_bias_gelu_rows(r1 - r0, N, x + (size_t)r0 * ldx, ldx, NULL);
    else if (act == VIT_MF_ACT_SILU)
        vit_silu_rows(r1 - r0, N, x + (size_t)r0 * ldx, ldx);
    else if (act == VIT_MF_ACT_RELU)
        relu_rows(x, ldx, N, r0, r1);
}

typedef struct act_job {
    vit_mf_act act;
    float *x;
    int C;
} act_job;

static void act_task(void *ctx, int r0, int r1, int task)
{
    const act_job *j = ctx;
    vit_mf_act_rows(j->act, j->x, j->C, j->C, r0, r1);
}

void vit_mf_act_run(vit_mf_state *s, vit_mf_act act, float *x, int C)
{
    act_job j = {act, x, C};
    vit_mf_parallel(s, s->H * s->W, act_task, &j);
}

void vit_mf_conv(vit_mf_state *s, const vit_conv2d *c, const float *x, vit_conv_layout layout,
                 int H, int W, float *out, int ldo)
{
    vit_conv2d_run(s->pool, c, x, layout, H, W, s->conv_scratch, out, ldo);
}

typedef struct conv_act_job {
    vit_mf_state *s;
    const vit_conv2d *c;
    const float *x;
    vit_conv_layout layout;
    int H, W, ldo;
    float *out;
    size_t scratch_per_task;
    vit_mf_act act;
} conv_act_job;

static void conv_act_task(void *ctx, int r0, int r1, int task)
{
    conv_act_job *j = ctx;
    for (int c0 = r0; c0 < r1; c0 += 256) {
        int c1 = c0 + 256 < r1 ? c0 + 256 : r1;
        vit_conv2d_rows(j->c, j->x, j->layout, j->H, j->W, c0, c1,
                        j->s->conv_scratch + (size_t)task * j->scratch_per_task, j->out, j->ldo);
        vit_mf_act_rows(j->act, j->out, j->ldo, j->c->cout, c0, c1);
    }
}

void vit_mf_conv_act(vit_mf_state *s, const vit_conv2d *c, const float *x, vit_conv_layout layout,
                     int H, int W, float *out, int ldo, vit_mf_act act)
{
    int OH = vit_conv_out_size(H, c->kh, c->stride_h, c->pad_h);
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w), P = OH * OW;
    conv_act_job j = {
        s,      c,   x,
        layout, H,   W,
        ldo,    out, vit_conv2d_scratch_floats(c, layout, (P + s->threads - 1) / s->threads),
        act};
    vit_mf_parallel(s, P, conv_act_task, &j);
}

void vit_mf_downsample(vit_mf_state *s, const vit_mf_norm *norm, const vit_conv2d *c)
{
    s->x_stats = 0;
    const float *in = norm ? vit_mf_norm_run(norm, s, s->x, s->y, s->C) : s->x;
    float *out = in == s->y ? s->x : s->y;
    vit_mf_conv(s, c, in, VIT_CONV_HWC, s->H, s->W, out, c->cout);
    s->H = vit_conv_out_size(s->H, c->kh, c->stride_h, c->pad_h);
    s->W = vit_conv_out_size(s->W, c->kw, c->stride_w, c->pad_w);
    s->C = c->cout;
    if (out == s->y) {
        s->y = s->x;
        s->x = out;
    }
}

/* ---- norms ------------------------------------------------------------------------------- */

void vit_mf_stats_rows(vit_mf_state *s, int task, const float *x, int C, int r0, int r1)
{
    double n = (double)(r1 - r0) * C;
    double mean = n > 0 ? vit_gn_partial_sum(x, C, C, r0, r1) / n : 0.0;
    s->partials[3 * task] = n;
    s->partials[3 * task + 1] = mean;
    s->partials[3 * task + 2] = n > 0 ? vit_gn_partial_sq_dev(x, C, C, r0, r1, mean) : 0.0;
}

int vit_mf_parts(const vit_mf_state *s, int rows)
{
    return s->threads < rows ? s->threads : rows;
}

/* Chan et al.'s pairwise combination: M2 = sum of the parts' M2 + n_p (mean_p - mean)^2. */
vit_mf_norm_stats vit_mf_stats_combine(const vit_mf_state *s, int parts, float eps)
{
    double n = 0.0, sum = 0.0, m2 = 0.0;
    for (int i = 0; i < parts; i++) {
        n += s->partials[3 * i];
        sum += s->partials[3 * i] * s->partials[3 * i + 1];
    }
    double mean = n > 0 ? sum / n : 0.0;
    for (int i = 0; i < parts; i++) {
        double d = s->partials[3 * i + 1] - mean;
        m2 += s->partials[3 * i + 2] + s->partials[3 * i] * d * d;
    }
    double var = n > 0 ? m2 / n : 0.0;
    return (vit_mf_norm_stats){(float)mean, (float)(1.0 / sqrt(var + eps))};
}

typedef struct norm_job {
    const vit_mf_norm *n;
    vit_mf_state *s;
    const float *x;
    float *y;
    int C;
    vit_mf_norm_stats st;
} norm_job;

static void stats_task(void *ctx, int r0, int r1, int task)
{
    norm_job *j = ctx;
    vit_mf_stats_rows(j->s, task, j->x, j->C, r0, r1);
}

vit_mf_norm_stats vit_mf_norm_stats_run(const vit_mf_norm *n, vit_mf_state *s, const float *x,
                                        int C)
{
    if (n->kind != VIT_MF_NORM_GROUP1)
        return (vit_mf_norm_stats){0.0f, 1.0f};
    int rows = s->H * s->W;
    norm_job j = {n, s, x, NULL, C, {0.0f, 1.0f}};
    vit_mf_parallel(s, rows, stats_task, &j);
    return vit_mf_stats_combine(s, vit_mf_parts(s, rows), n->eps);
}

void vit_mf_norm_rows(const vit_mf_norm *n, vit_mf_norm_stats st, const float *x, float *y, int C,
                      int r0, int r1)
{
    switch (n->kind) {
    case VIT_MF_NORM_NONE:
        if (y != x)
            memcpy(y + (size_t)r0 * C, x + (size_t)r0 * C, (size_t)(r1 - r0) * C * sizeof(float));
        break;
    case VIT_MF_NORM_LAYER:
        vit_layernorm_rows(r1 - r0, C, x + (size_t)r0 * C, C, n->weight, n->bias, n->eps,
                           y + (size_t)r0 * C, C);
        break;
    case VIT_MF_NORM_GROUP1:
    case VIT_MF_NORM_AFFINE:
        vit_channel_affine_rows(x, C, C, r0, r1, st.mean, st.inv, n->weight, n->bias, y, C);
        break;
    }
}

static void norm_rows_task(void *ctx, int r0, int r1, int task)
{
    norm_job *j = ctx;
    vit_mf_norm_rows(j->n, j->st, j->x, j->y, j->C, r0, r1);
}

const float *vit_mf_norm_run(const vit_mf_norm *n, vit_mf_state *s, const float *x, float *y, int C)
{
    if (n->kind == VIT_MF_NORM_NONE)
        return x;
    norm_job j = {n, s, x, y, C, vit_mf_norm_stats_run(n, s, x, C)};
    vit_mf_parallel(s, s->H * s->W, norm_rows_task, &j);
    return y;
}

/* ---- the block --------------------------------------------------------------------------- */

/* An MLP-shaped chain (the block's MLP, or the separable-conv mixer) over the map: optional
 * norm of s->x rows into s->y, fc1, act1 [, depthwise conv, act2], fc2 into s->t, then
 * (fused) x = rs * x + ls * t. */
typedef struct block_job {
    const vit_mf_mlp *m;
    const vit_mf_norm *norm; /* s->y rows = norm(s->x rows) first, or NULL (in is ready) */
    vit_mf_state *s;
    const float *in; /* the chain's input rows */
    const float *ls, *rs;
    const float *t;
    int fuse_residual;
    vit_mf_norm_stats norm_st;
} block_job;

static VIT_HOT void residual_task(void *ctx, int r0, int r1, int task)
{
    block_job *j = ctx;
    int C = j->s->C;
    for (int r = r0; r < r1; r++) {
        float *x = j->s->x + (size_t)r * C;
        const float *t = j->t + (size_t)r * C;
        if (j->rs)
            for (int c = 0; c < C; c++)
                x[c] = j->rs[c] * x[c] + (j->ls ? j->ls[c] : 1.0f) * t[c];
        else if (j->ls)
            for (int c = 0; c < C; c++)
                x[c] += j->ls[c] * t[c];
        else
            for (int c = 0; c < C; c++)
                x[c] += t[c];
    }
}

static void residual_run(vit_mf_state *s, const float *ls, const float *rs, const float *t)
{
    block_job j = {.s = s, .ls = ls, .rs = rs, .t = t};
    vit_mf_parallel(s, s->H * s->W, residual_task, &j);
}

void vit_mf_residual(vit_mf_state *s, const float *ls, const float *t)
{
    residual_run(s, ls, NULL, t);
}

/* fc2 on rows [r0, r1) of src [.., hidden] into t, or (fused) straight into the residual. */
static void fc2_rows(block_job *j, const float *src, int r0, int r1)
{
    const vit_mf_mlp *m = j->m;
    vit_mf_state *s = j->s;
    int C = s->C;
    const float *a = src + (size_t)r0 * m->hidden;
    if (j->fuse_residual) { /* x = rs * x + ls * fc2(..) in the product's epilogue */
        vit_linear_residual(r1 - r0, C, m->hidden, a, m->hidden, m->fc2_w, m->fc2_b, j->ls, j->rs,
                            s->x + (size_t)r0 * C, C);
        return;
    }
    vit_gemm(r1 - r0, C, m->hidden, 1.0f, a, m->hidden, m->fc2_w, m->hidden, 1, m->fc2_b, 0,
             s->t + (size_t)r0 * C, C);
}

static VIT_HOT void star_relu_rows(float *x, int ldx, int N, float scale, float bias, int r0,
                                   int r1)
{
    for (int r = r0; r < r1; r++) {
        float *xr = x + (size_t)r * ldx;
        for (int k = 0; k < N; k++) {
            float v = xr[k] > 0.0f ? xr[k] : 0.0f;
            xr[k] = scale * v * v + bias;
        }
    }
}

/* The norm and fc1 (+ act1) on rows [r0, r1). */
static void fc1_rows(block_job *j, int r0, int r1)
{
    const vit_mf_mlp *m = j->m;
    vit_mf_state *s = j->s;
    if (j->norm)
        vit_mf_norm_rows(j->norm, j->norm_st, s->x, s->y, s->C, r0, r1);
    const float *in = j->in + (size_t)r0 * s->C;
    float *h = s->hidden + (size_t)r0 * m->hidden;
    if (m->act1 == VIT_MF_ACT_GELU) { /* GELU in the product's epilogue: one pass fewer */
        vit_linear_gelu(r1 - r0, m->hidden, s->C, in, s->C, m->fc1_w, m->fc1_b, h, m->hidden);
        return;
    }
    if (m->act1 == VIT_MF_ACT_SILU) { /* likewise */
        vit_linear_silu(r1 - r0, m->hidden, s->C, in, s->C, m->fc1_w, m->fc1_b, h, m->hidden);
        return;
    }
    vit_gemm(r1 - r0, m->hidden, s->C, 1.0f, in, s->C, m->fc1_w, s->C, 1, m->fc1_b, 0, h,
             m->hidden);
    if (m->act1 == VIT_MF_ACT_STARRELU)
        star_relu_rows(s->hidden, m->hidden, m->hidden, m->act1_scale, m->act1_bias, r0, r1);
    else
        vit_mf_act_rows(m->act1, s->hidden, m->hidden, m->hidden, r0, r1);
}

/* Whether an MLP run leaves the new x's GroupNorm statistics (for the next block's norm1,
 * GroupNorm like this block's norm2): its last pass writes x rows, then takes their partials. */
static int mlp_takes_stats(const block_job *j)
{
    return j->fuse_residual && j->norm && j->norm->kind == VIT_MF_NORM_GROUP1 && !j->m->has_dw;
}

static void mlp_plain_task(void *ctx, int r0, int r1, int task)
{
    block_job *j = ctx;
    /* One product per weight and part: fewer, taller products amortise the kernel's setup. */
    fc1_rows(j, r0, r1);
    fc2_rows(j, j->s->hidden, r0, r1);
    if (mlp_takes_stats(j))
        vit_mf_stats_rows(j->s, task, j->s->x, j->s->C, r0, r1);
}

static void mlp_fc1_task(void *ctx, int r0, int r1, int task)
{
    fc1_rows(ctx, r0, r1);
}

static void mlp_dw_fc2_task(void *ctx, int r0, int r1, int task)
{
    block_job *j = ctx;
    const vit_mf_mlp *m = j->m;
    vit_mf_state *s = j->s;
    /* the activation follows each chunk of conv rows while they are still in cache */
    for (int c0 = r0; c0 < r1; c0 += 32) {
        int c1 = c0 + 32 < r1 ? c0 + 32 : r1;
        vit_dwconv2d_rows(&m->dw, s->hidden, s->H, s->W, c0, c1, s->hidden2, m->hidden);
        vit_mf_act_rows(m->act2, s->hidden2, m->hidden, m->hidden, c0, c1);
    }
    fc2_rows(j, s->hidden2, r0, r1);
}

/* ---- few rows: the MLP split by columns -------------------------------------------------- *
 * With few rows (a last stage's 7x7 tokens) the weights are the bulk of what a product reads, and
 * a split by rows has every thread stream all of them. Split by columns, each thread streams its
 * own share of fc1 and fc2, for two more barriers: norm rows, fc1 columns (+ act), fc2 columns
 * (+ residual). */

static int mlp_by_cols(const block_job *j, int rows)
{
    return j->s->threads > 1 && rows <= VIT_MF_COLS_MAX_ROWS && j->fuse_residual && !j->m->has_dw;
}

static void norm_task(void *ctx, int r0, int r1, int task)
{
    block_job *j = ctx;
    vit_mf_norm_rows(j->norm, j->norm_st, j->s->x, j->s->y, j->s->C, r0, r1);
}

static void fc1_cols_task(void *ctx, int task, int num_tasks)
{
    block_job *j = ctx;
    const vit_mf_mlp *m = j->m;
    vit_mf_state *s = j->s;
    int rows = s->H * s->W, n0, n1;
    vit_split_cols(m->hidden, num_tasks, task, &n0, &n1);
    int act = m->act1 == VIT_MF_ACT_GELU   ? VIT_GEMM_ACT_GELU
              : m->act1 == VIT_MF_ACT_SILU ? VIT_GEMM_ACT_SILU
                                           : VIT_GEMM_ACT_NONE;
    vit_linear_spec l = {rows, m->hidden, s->C, j->in, s->C,      m->fc1_w, m->fc1_b,
                         act,  0,         NULL, NULL,  s->hidden, m->hidden};
    vit_linear_part(&l, n0, n1);
    if (m->act1 == VIT_MF_ACT_STARRELU)
        star_relu_rows(s->hidden + n0, m->hidden, n1 - n0, m->act1_scale, m->act1_bias, 0, rows);
    else if (act == VIT_GEMM_ACT_NONE)
        vit_mf_act_rows(m->act1, s->hidden + n0, m->hidden, n1 - n0, 0, rows);
}

static void mlp_cols_run(block_job *j, int rows)
{
    const vit_mf_mlp *m = j->m;
    vit_mf_state *s = j->s;
    if (j->norm)
        vit_mf_parallel(s, rows, norm_task, j);
    int panels = (m->hidden + 31) / 32; /* fc1's act runs on each part's columns: its own task */
    vit_threadpool_run(s->pool, s->threads < panels ? s->threads : panels, fc1_cols_task, j);
    vit_linear_spec fc2 = {
        rows, s->C,  m->hidden, s->hidden, m->hidden, m->fc2_w, m->fc2_b, VIT_GEMM_ACT_NONE,
        1,    j->ls, j->rs,     s->x,      s->C};
    vit_linear_spec_cols(s->pool, &fc2);
    if (mlp_takes_stats(j)) /* the parts' partials, as a row-parallel run would leave them */
        for (int t = 0, parts = vit_mf_parts(s, rows); t < parts; t++) {
            int r0, r1;
            vit_split_range(rows, parts, t, &r0, &r1);
            vit_mf_stats_rows(s, t, s->x, s->C, r0, r1);
        }
}

static void chain_run(block_job *j)
{
    int rows = j->s->H * j->s->W;
    if (mlp_by_cols(j, rows)) {
        mlp_cols_run(j, rows);
    } else if (j->m->has_dw) {
        vit_mf_parallel(j->s, rows, mlp_fc1_task, j);
        vit_mf_parallel(j->s, rows, mlp_dw_fc2_task, j);
    } else {
        vit_mf_parallel(j->s, rows, mlp_plain_task, j);
    }
}

void vit_mf_block_mlp_run(const vit_mf_block *blk, vit_mf_state *s)
{
    const vit_mf_mlp *m = &blk->mlp;
    int plain = blk->norm2.kind == VIT_MF_NORM_NONE;
    block_job j = {m,           plain ? NULL : &blk->norm2,
                   s,           plain ? s->x : s->y,
                   blk->ls2,    blk->rs2,
                   s->t,        m->post_norm.kind == VIT_MF_NORM_NONE,
                   {0.0f, 1.0f}};
    if (s->x_stats && blk->norm2.kind == VIT_MF_NORM_GROUP1)
        j.norm_st = vit_mf_stats_combine(s, vit_mf_parts(s, s->H * s->W), blk->norm2.eps);
    else
        j.norm_st = vit_mf_norm_stats_run(&blk->norm2, s, s->x, s->C);
    s->x_stats = 0;
    chain_run(&j);
    s->x_stats = mlp_takes_stats(&j);
    if (!j.fuse_residual) {
        vit_mf_norm_run(&m->post_norm, s, s->t, s->t, s->C);
        residual_run(s, blk->ls2, blk->rs2, s->t);
    }
}

void vit_mf_sepconv_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    block_job j = {blk->mixer, NULL, s, s->y, blk->ls1, blk->rs1, s->t, 1, {0.0f, 1.0f}};
    chain_run(&j);
}

typedef struct pool_job {
    const vit_mf_block *blk;
    vit_mf_state *s;
} pool_job;

/* New x rows [r0, r1) into s->y in one pass (vit_pool_mixer_residual_rows), then, for a
 * GroupNorm norm2, the new rows' partial statistics while they are in cache. */
static void pool_task(void *ctx, int r0, int r1, int task)
{
    const pool_job *j = ctx;
    const vit_mf_block *blk = j->blk;
    vit_mf_state *s = j->s;
    const float *g = blk->norm1.kind == VIT_MF_NORM_NONE ? NULL : blk->norm1.weight;
    vit_pool_mixer_residual_rows(s->x, s->H, s->W, s->C, r0, r1, s->norm1.inv, g, blk->ls1,
                                 blk->rs1, s->y);
    if (blk->norm2.kind == VIT_MF_NORM_GROUP1)
        vit_mf_stats_rows(s, task, s->y, s->C, r0, r1);
}

void vit_mf_pool_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    pool_job j = {blk, s};
    vit_mf_parallel(s, s->H * s->W, pool_task, &j);
    float *t = s->x; /* the new residual stream was written beside the old one */
    s->x = s->y;
    s->y = t;
    s->x_stats = blk->norm2.kind == VIT_MF_NORM_GROUP1;
}

void vit_mf_block_norm1_rows(const vit_mf_block *blk, const vit_mf_state *s, int r0, int r1)
{
    vit_mf_norm_rows(&blk->norm1, s->norm1, s->x, s->y, s->C, r0, r1);
}

void vit_mf_block_run(const vit_mf_block *blk, vit_mf_state *s)
{
    if (s->x_stats && blk->norm1.kind == VIT_MF_NORM_GROUP1) /* the last block's MLP took them */
        s->norm1 = vit_mf_stats_combine(s, vit_mf_parts(s, s->H * s->W), blk->norm1.eps);
    else
        s->norm1 = vit_mf_norm_stats_run(&blk->norm1, s, s->x, s->C);
    s->x_stats = 0;
    if (!blk->mixer_norms) { /* mixers read s->y */
        norm_job j = {&blk->norm1, s, s->x, s->y, s->C, s->norm1};
        vit_mf_parallel(s, s->H * s->W, norm_rows_task, &j);
    }
    blk->mixer_fn(blk, s);
    if (!blk->mixer_residual)
        residual_run(s, blk->ls1, blk->rs1, s->t);
    vit_mf_block_mlp_run(blk, s);
}

/* ---- attention --------------------------------------------------------------------------- */

void vit_mf_attention_rows(const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, int M, int heads, int d, int r0, int r1, float *scores,
                           float *out, int ldo)
{
    float scale = 1.0f / sqrtf((float)d);
    for (int c0 = r0; c0 < r1; c0 += VIT_MF_ATTN_CHUNK) {
        int rows = r1 - c0 < VIT_MF_ATTN_CHUNK ? r1 - c0 : VIT_MF_ATTN_CHUNK;
        for (int h = 0; h < heads; h++) {
            vit_gemm(rows, M, d, scale, q + (size_t)c0 * ldq + h * d, ldq, k + h * d, ldk, 1, NULL,
                     0, scores, M);
            vit_softmax_rows(rows, M, scores, M);
            vit_gemm(rows, d, M, 1.0f, scores, M, v + h * d, ldv, 0, NULL, 0,
                     out + (size_t)c0 * ldo + h * d, ldo);
        }
    }
}

void vit_mf_bias_attention_rows(const vit_mf_bias_attn *a, const float *q, const float *k,
                                const float *v, int r0, int r1, float *scores, float *out, int ldo)
{
    int M = a->kh * a->kw;
    float scale = 1.0f / sqrtf((float)a->kd);
    for (int c0 = r0; c0 < r1; c0 += VIT_MF_ATTN_CHUNK) {
        int rows = r1 - c0 < VIT_MF_ATTN_CHUNK ? r1 - c0 : VIT_MF_ATTN_CHUNK;
        for (int h = 0; h < a->heads; h++) {
            vit_gemm(rows, M, a->kd, scale, q + (size_t)c0 * a->ldq + h * a->hq, a->ldq,
                     k + h * a->hk, a->ldk, 1, NULL, 0, scores, M);
            const float *bias = a->table + (size_t)h * M;
            for (int i = 0; i < rows; i++) {
                int qy = (c0 + i) / a->qw * a->stride, qx = (c0 + i) % a->qw * a->stride;
                float *sr = scores + (size_t)i * M;
                for (int m = 0; m < M; m++)
                    sr[m] += bias[abs(qy - m / a->kw) * a->kw + abs(qx - m % a->kw)];
            }
            vit_softmax_rows(rows, M, scores, M);
            vit_gemm(rows, a->vd, M, 1.0f, scores, M, v + h * a->hv, a->ldv, 0, NULL, 0,
                     out + (size_t)c0 * ldo + h * a->vd, ldo);
        }
    }
}

/* ---- window attention passes ------------------------------------------------------------ */

void vit_mf_window_qkv_task(void *ctx, int r0, int r1, int task)
{
    vit_mf_window_job *j = ctx;
    int C = j->wa.C;
    vit_mf_block_norm1_rows(j->blk, j->s, r0, r1);
    vit_linear(r1 - r0, 3 * C, C, j->s->y + (size_t)r0 * C, C, j->qkv_w, j->qkv_b, 0.0f,
               j->qkv + (size_t)r0 * 3 * C, 3 * C);
}

void vit_mf_window_attn_task(void *ctx, int w0, int w1, int task)
{
    vit_mf_window_job *j = ctx;
    vit_window_attention(&j->wa, j->qkv, w0, w1, j->scratch + (size_t)task * j->scratch_per_task,
                         j->out, j->wa.C);
}

/* ---- arena ------------------------------------------------------------------------------- */

float *vit_mf_take(vit_mf_carve *c, size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = c->base ? (float *)(c->base + c->off) : NULL;
    c->off += bytes;
    return p;
}

void vit_mf_carve_state(vit_mf_carve *c, vit_mf_state *s, int threads, size_t max_nc, size_t max_nh,
                        size_t work, size_t conv_scratch)
{
    s->threads = threads;
    s->x_stats = 0;
    s->x = vit_mf_take(c, max_nc);
    s->y = vit_mf_take(c, max_nc);
    s->t = vit_mf_take(c, max_nc);
    s->hidden = vit_mf_take(c, max_nh);
    s->hidden2 = vit_mf_take(c, max_nh);
    s->partials = (double *)(void *)vit_mf_take(c, 6 * (size_t)threads);
    s->work = vit_mf_take(c, work);
    s->conv_scratch = vit_mf_take(c, conv_scratch);
}

void vit_mf_mean_head(vit_mf_state *s, const float *x, const float *head_w, const float *head_b,
                      int num_classes, float *logits)
{
    vit_token_mean(x, s->C, s->H * s->W, s->C, s->work);
    vit_linear_cols(s->pool, 1, num_classes, s->C, s->work, s->C, head_w, head_b, 0.0f, logits,
                    num_classes);
}

/* ---- stages ------------------------------------------------------------------------------ */

void vit_mf_stages_extent(const vit_mf_stage *stages, int n, int threads, size_t *max_nc,
                          size_t *max_nh, size_t *conv)
{
    for (int i = 0; i < n; i++) {
        const vit_mf_stage *st = &stages[i];
        size_t N = (size_t)st->H * st->W;
        *max_nc = N * st->dim > *max_nc ? N * st->dim : *max_nc;
        *max_nh = N * st->hidden > *max_nh ? N * st->hidden : *max_nh;
        if (st->has_down && i > 0) {
            size_t c = vit_conv2d_pool_scratch_floats(&st->down, VIT_CONV_HWC, stages[i - 1].H,
                                                      stages[i - 1].W, threads);
            *conv = c > *conv ? c : *conv;
        }
    }
}

void vit_mf_stem_run(vit_mf_state *s, vit_threadpool *pool, const vit_conv2d *stem,
                     const float *chw, int H, int W)
{
    s->pool = pool;
    s->x_stats = 0;
    s->H = vit_conv_out_size(H, stem->kh, stem->stride_h, stem->pad_h);
    s->W = vit_conv_out_size(W, stem->kw, stem->stride_w, stem->pad_w);
    s->C = stem->cout;
    vit_mf_conv(s, stem, chw, VIT_CONV_CHW, H, W, s->x, s->C);
}

void vit_mf_stages_run(vit_mf_state *s, const vit_mf_stage *stages, int n)
{
    for (int i = 0; i < n; i++) {
        if (stages[i].has_down)
            vit_mf_downsample(s, &stages[i].down_norm, &stages[i].down);
        for (int j = 0; j < stages[i].depth; j++)
            vit_mf_block_run(&stages[i].blocks[j], s);
    }
}

void vit_mf_distilled_head(vit_mf_state *s, const float *x, const float *head_w,
                           const float *head_b, const float *dist_w, const float *dist_b,
                           int num_classes, float *logits)
{
    vit_mf_mean_head(s, x, head_w, head_b, num_classes, logits);
    if (!dist_w)
        return;
    vit_linear_cols(s->pool, 1, num_classes, s->C, s->work, s->C, dist_w, dist_b, 1.0f, logits,
                    num_classes);
    for (int k = 0; k < num_classes; k++)
        logits[k] *= 0.5f;
}
