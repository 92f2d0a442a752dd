/* group_attention.c — multi-head attention inside G contiguous token groups, with an optional
 * permutation (see group_attention.h for the maths and the threading plan).
 *
 * Scratch layout (floats): xn [N, C] (normed, gathered rows; later the proj output), qkv
 * [N, 3C], attn [N, C], then one scores block [BLOCK, N/G] per thread. Inside the qkv buffer a
 * group is a contiguous run of N/G rows, so q, k and v of (group g, head h) are strided views
 * (leading dimension 3C) and each (group, head, query block) is two GEMMs and a softmax. */
#include "ops/group_attention.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

typedef struct ga_layout {
    float *xn, *qkv, *attn, *scores;
} ga_layout;

static size_t round_up(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static int group_size(const vit_group_attention *ga)
{
    return ga->tokens / ga->groups;
}

/* Query blocks per group: nearly equal blocks of at most VIT_GROUP_ATTENTION_BLOCK rows. */
static int blocks_per_group(const vit_group_attention *ga)
{
    int n = group_size(ga);
    return (n + VIT_GROUP_ATTENTION_BLOCK - 1) / VIT_GROUP_ATTENTION_BLOCK;
}

static size_t layout(const vit_group_attention *ga, int threads, float *base, ga_layout *l)
{
    size_t N = (size_t)ga->tokens, C = (size_t)ga->dim, n = (size_t)group_size(ga);
    size_t block = n < VIT_GROUP_ATTENTION_BLOCK ? n : VIT_GROUP_ATTENTION_BLOCK;
    const size_t sizes[] = {N * C, N * 3 * C, N * C, (size_t)threads * block * n};
    float **slots[] = {&l->xn, &l->qkv, &l->attn, &l->scores};
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        if (base)
            *slots[i] = base + off;
        off += round_up(sizes[i]);
    }
    return off;
}

int vit_group_attention_check(const vit_group_attention *ga, const char *what, vit_error *err)
{
    if (ga->tokens < 1 || ga->dim < 1 || ga->heads < 1 || ga->groups < 1 || ga->dim % ga->heads ||
        ga->tokens % ga->groups)
        return vit_errorf(err, -EINVAL,
                          "%.300s: group attention over %d tokens of %d channels "
                          "with %d heads in %d groups (heads must divide channels, groups "
                          "tokens)",
                          what, ga->tokens, ga->dim, ga->heads, ga->groups);
    if (!ga->qkv_w || !ga->proj_w)
        return vit_errorf(err, -EINVAL, "%.300s: group attention without qkv or proj weights",
                          what);
    if (!ga->perm)
        return 0;
    unsigned char *seen = calloc((size_t)ga->tokens, 1);
    if (!seen)
        return vit_errorf(err, -ENOMEM, "out of memory");
    int r = 0;
    for (int i = 0; i < ga->tokens && r == 0; i++) {
        int32_t t = ga->perm[i];
        if (t < 0 || t >= ga->tokens || seen[t])
            r = vit_errorf(err, -EINVAL, "%.300s: not a permutation of [0, %d): entry %d is %d%s",
                           what, ga->tokens, i, (int)t,
                           t >= 0 && t < ga->tokens ? " (repeated)" : "");
        else
            seen[t] = 1;
    }
    free(seen);
    return r;
}

size_t vit_group_attention_scratch_floats(const vit_group_attention *ga, int threads)
{
    ga_layout l;
    return layout(ga, threads < 1 ? 1 : threads, NULL, &l);
}

double vit_group_attention_macs(const vit_group_attention *ga)
{
    double N = ga->tokens, C = ga->dim, n = group_size(ga);
    return N * C * 3 * C + 2 * N * n * C + N * C * C;
}

void vit_group_attention_rows(int tokens, int dim, int heads, int groups, const float *qkv, int g,
                              int h, int r0, int r1, float *scores, float *out, int ldo)
{
    int n = tokens / groups, d = dim / heads, ld = 3 * dim, rows = r1 - r0;
    if (rows <= 0)
        return;
    const float *base = qkv + (size_t)g * n * ld; /* the group's first row */
    const float *q = base + (size_t)r0 * ld + h * d;
    const float *k = base + dim + h * d;
    const float *v = base + 2 * dim + h * d;
    float scale = 1.0f / sqrtf((float)d);
    vit_gemm(rows, n, d, scale, q, ld, k, ld, 1, NULL, 0, scores, n);
    vit_softmax_rows(rows, n, scores, n);
    vit_gemm(rows, d, n, 1.0f, scores, n, v, ld, 0, NULL, 0,
             out + ((size_t)g * n + r0) * ldo + h * d, ldo);
}

/* ---- the three phases -------------------------------------------------------------------- */

typedef struct ga_job {
    const vit_group_attention *ga;
    ga_layout l;
    float *x;
    float alpha, beta;
} ga_job;

/* Grouped rows [r0, r1): gather (perm), norm, qkv. */
static void qkv_task(void *ctx, int task, int num_tasks)
{
    const ga_job *j = ctx;
    const vit_group_attention *ga = j->ga;
    int C = ga->dim, r0, r1;
    vit_split_range(ga->tokens, num_tasks, task, &r0, &r1);
    if (r1 <= r0)
        return;
    const float *src = j->x + (size_t)r0 * C;
    if (ga->perm || ga->norm_w) {
        for (int i = r0; i < r1; i++) {
            const float *xr = j->x + (size_t)(ga->perm ? ga->perm[i] : i) * C;
            float *dst = j->l.xn + (size_t)i * C;
            if (ga->norm_w)
                vit_layernorm_rows(1, C, xr, C, ga->norm_w, ga->norm_b, ga->norm_eps, dst, C);
            else
                memcpy(dst, xr, (size_t)C * sizeof(float));
        }
        src = j->l.xn + (size_t)r0 * C;
    }
    vit_linear(r1 - r0, 3 * C, C, src, C, ga->qkv_w, ga->qkv_b, 0.0f, j->l.qkv + (size_t)r0 * 3 * C,
               3 * C);
}

/* A contiguous range of (group, head, query block) items, with this task's scores block. */
static void attention_task(void *ctx, int task, int num_tasks)
{
    const ga_job *j = ctx;
    const vit_group_attention *ga = j->ga;
    int n = group_size(ga), nb = blocks_per_group(ga), i0, i1;
    vit_split_range(ga->groups * ga->heads * nb, num_tasks, task, &i0, &i1);
    int block = n < VIT_GROUP_ATTENTION_BLOCK ? n : VIT_GROUP_ATTENTION_BLOCK;
    float *scores = j->l.scores + (size_t)task * block * n;
    for (int it = i0; it < i1; it++) {
        int b = it % nb, gh = it / nb, q0, q1;
        vit_split_range(n, nb, b, &q0, &q1);
        vit_group_attention_rows(ga->tokens, ga->dim, ga->heads, ga->groups, j->l.qkv,
                                 gh / ga->heads, gh % ga->heads, q0, q1, scores, j->l.attn,
                                 ga->dim);
    }
}

/* Grouped rows [r0, r1): proj, then the residual update scattered back to token perm[i]. */
static void proj_task(void *ctx, int task, int num_tasks)
{
    const ga_job *j = ctx;
    const vit_group_attention *ga = j->ga;
    int C = ga->dim, r0, r1;
    vit_split_range(ga->tokens, num_tasks, task, &r0, &r1);
    if (r1 <= r0)
        return;
    const float *a = j->l.attn + (size_t)r0 * C;
    if (!ga->perm && j->alpha == 1.0f && j->beta == 1.0f) { /* plain residual: accumulate */
        vit_linear(r1 - r0, C, C, a, C, ga->proj_w, ga->proj_b, 1.0f, j->x + (size_t)r0 * C, C);
        return;
    }
    float *y = j->l.xn + (size_t)r0 * C; /* the normed rows are no longer needed */
    vit_linear(r1 - r0, C, C, a, C, ga->proj_w, ga->proj_b, 0.0f, y, C);
    for (int i = r0; i < r1; i++) {
        float *xr = j->x + (size_t)(ga->perm ? ga->perm[i] : i) * C;
        const float *yr = y + (size_t)(i - r0) * C;
        for (int c = 0; c < C; c++)
            xr[c] = j->alpha * xr[c] + j->beta * yr[c];
    }
}

void vit_group_attention_run(const vit_group_attention *ga, vit_threadpool *pool, int threads,
                             float alpha, float beta, float *x, float *scratch)
{
    ga_job j = {.ga = ga, .x = x, .alpha = alpha, .beta = beta};
    if (threads < 1)
        threads = 1;
    layout(ga, threads, scratch, &j.l);
    int items = ga->groups * ga->heads * blocks_per_group(ga);
    int rows_parts = threads < ga->tokens ? threads : ga->tokens;
    vit_threadpool_run(pool, rows_parts, qkv_task, &j);
    vit_threadpool_run(pool, threads < items ? threads : items, attention_task, &j);
    vit_threadpool_run(pool, rows_parts, proj_task, &j);
}
