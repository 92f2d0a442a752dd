/* hmhsa.c — the H-MHSA mixer (hmhsa.h). Seven pool runs over token rows, cells or pooled rows:
 * norm + qkv, local cells, z = x + local (+ grid_norm statistics), grid_norm + q, pooling
 * (+ ds_norm statistics), ds_norm + kv, global attention + proj + residual. GroupNorm
 * statistics are gathered per part inside the pass that produces the rows and combined between
 * passes; their affine is applied by the pass that consumes the rows. The first two passes are
 * metaformer.c's window passes (shared with Swin's window mixer). */
#include "families/hmhsa.h"

#include "ops/ops.h"
#include "ops/pool.h"
#include "ops/window.h"

/* ---- the mixer ---------------------------------------------------------------------------- */

typedef struct hm_job {
    vit_mf_window_job w; /* qkv, the local cells' attention (w.out) and their scratch */
    const vit_hmhsa *a;
    vit_mf_state *s;
    vit_mf_norm_stats grid_st, ds_st;
    int N, M, PH, PW, score_rows;
    float *z, *q, *pooled, *kv, *out, *scores;
} hm_job;

static size_t hm_layout(int N, int M, int C, size_t win_per_task, int threads, float *base,
                        hm_job *j)
{
    vit_mf_carve c = {(char *)base, 0};
    j->w.qkv = vit_mf_take(&c, (size_t)N * 3 * C);
    j->w.out = vit_mf_take(&c, (size_t)N * C);
    j->z = vit_mf_take(&c, (size_t)N * C);
    j->q = vit_mf_take(&c, (size_t)N * C);
    j->pooled = vit_mf_take(&c, (size_t)M * C);
    j->kv = vit_mf_take(&c, (size_t)M * 2 * C);
    j->out = vit_mf_take(&c, (size_t)N * C);
    j->scores = vit_mf_take(&c, (size_t)threads * VIT_MF_ATTN_CHUNK * (M > N ? M : N));
    j->w.scratch = vit_mf_take(&c, (size_t)threads * win_per_task);
    return c.off / sizeof(float);
}

/* z = x + local for rows [r0, r1), and their part of grid_norm's statistics. */
static void hm_add_task(void *ctx, int r0, int r1, int task)
{
    hm_job *j = ctx;
    size_t C = (size_t)j->a->C;
    for (size_t i = (size_t)r0 * C; i < (size_t)r1 * C; i++)
        j->z[i] = j->s->x[i] + j->w.out[i];
    if (j->a->grid_norm.kind == VIT_MF_NORM_GROUP1)
        vit_mf_stats_rows(j->s, task, j->z, (int)C, r0, r1);
}

/* grid_norm (in place) and q of rows [r0, r1). */
static void hm_q_task(void *ctx, int r0, int r1, int task)
{
    hm_job *j = ctx;
    int C = j->a->C;
    vit_mf_norm_rows(&j->a->grid_norm, j->grid_st, j->z, j->z, C, r0, r1);
    vit_linear(r1 - r0, C, C, j->z + (size_t)r0 * C, C, j->a->q_w, j->a->q_b, 0.0f,
               j->q + (size_t)r0 * C, C);
}

/* Pooled rows [r0, r1) of z, and their part of ds_norm's statistics. */
static void hm_pool_task(void *ctx, int r0, int r1, int task)
{
    hm_job *j = ctx;
    int ds = j->a->ds;
    vit_avgpool_rows(j->z, j->s->H, j->s->W, j->a->C, ds, ds, 0, 1, r0, r1, j->pooled, j->a->C);
    if (j->a->ds_norm.kind == VIT_MF_NORM_GROUP1)
        vit_mf_stats_rows(j->s, task, j->pooled, j->a->C, r0, r1);
}

/* ds_norm (in place) and k, v of pooled rows [r0, r1). */
static void hm_kv_task(void *ctx, int r0, int r1, int task)
{
    hm_job *j = ctx;
    int C = j->a->C;
    vit_mf_norm_rows(&j->a->ds_norm, j->ds_st, j->pooled, j->pooled, C, r0, r1);
    vit_linear(r1 - r0, 2 * C, C, j->pooled + (size_t)r0 * C, C, j->a->kv_w, j->a->kv_b, 0.0f,
               j->kv + (size_t)r0 * 2 * C, 2 * C);
}

/* Global attention for query rows [r0, r1), (+ z), proj added into s->x. */
static void hm_global_task(void *ctx, int r0, int r1, int task)
{
    hm_job *j = ctx;
    const vit_hmhsa *a = j->a;
    int C = a->C, d = C / a->heads;
    float *scores = j->scores + (size_t)task * VIT_MF_ATTN_CHUNK * j->score_rows;
    if (a->grid > 1) {
        vit_mf_attention_rows(j->q, C, j->kv, 2 * C, j->kv + C, 2 * C, j->M, a->heads, d, r0, r1,
                              scores, j->out, C);
        for (size_t i = (size_t)r0 * C; i < (size_t)r1 * C; i++)
            j->out[i] += j->z[i];
    } else {
        vit_mf_attention_rows(j->w.qkv, 3 * C, j->w.qkv + C, 3 * C, j->w.qkv + 2 * C, 3 * C, j->N,
                              a->heads, d, r0, r1, scores, j->out, C);
    }
    /* x rows [r0, r1) were last read by hm_add_task, in an earlier pool run: the residual is
     * fused into proj (no layer scale) */
    vit_linear(r1 - r0, C, C, j->out + (size_t)r0 * C, C, a->proj_w, a->proj_b, 1.0f,
               j->s->x + (size_t)r0 * C, C);
}

void vit_hmhsa_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    const vit_hmhsa *a = blk->mixer;
    hm_job j = {.w = {.blk = blk, .s = s, .qkv_w = a->qkv_w, .qkv_b = a->qkv_b},
                .a = a,
                .s = s,
                .N = s->H * s->W};
    j.w.wa = (vit_window_attn){s->H, s->W, a->C, a->heads, a->grid, 0, NULL, NULL};
    j.PH = a->grid > 1 ? s->H / a->ds : 0;
    j.PW = a->grid > 1 ? s->W / a->ds : 0;
    j.M = j.PH * j.PW;
    j.score_rows = j.M > j.N ? j.M : j.N;
    j.w.scratch_per_task = a->grid > 1 ? vit_window_scratch_floats(&j.w.wa) : 0;
    hm_layout(j.N, j.M, a->C, j.w.scratch_per_task, s->threads, s->work, &j);
    vit_mf_parallel(s, j.N, vit_mf_window_qkv_task, &j.w);
    if (a->grid > 1) {
        vit_mf_parallel(s, vit_window_count(&j.w.wa), vit_mf_window_attn_task, &j.w);
        vit_mf_parallel(s, j.N, hm_add_task, &j);
        j.grid_st = a->grid_norm.kind == VIT_MF_NORM_GROUP1
                        ? vit_mf_stats_combine(s, vit_mf_parts(s, j.N), a->grid_norm.eps)
                        : (vit_mf_norm_stats){0.0f, 1.0f};
        vit_mf_parallel(s, j.N, hm_q_task, &j);
        vit_mf_parallel(s, j.M, hm_pool_task, &j);
        j.ds_st = a->ds_norm.kind == VIT_MF_NORM_GROUP1
                      ? vit_mf_stats_combine(s, vit_mf_parts(s, j.M), a->ds_norm.eps)
                      : (vit_mf_norm_stats){0.0f, 1.0f};
        vit_mf_parallel(s, j.M, hm_kv_task, &j);
    }
    vit_mf_parallel(s, j.N, hm_global_task, &j);
}

size_t vit_hmhsa_work_floats(const vit_hmhsa *a, int H, int W, int threads)
{
    vit_window_attn wa = {H, W, a->C, a->heads, a->grid, 0, NULL, NULL};
    int M = a->grid > 1 ? (H / a->ds) * (W / a->ds) : 0;
    hm_job j;
    return hm_layout(H * W, M, a->C, a->grid > 1 ? vit_window_scratch_floats(&wa) : 0, threads,
                     NULL, &j);
}
