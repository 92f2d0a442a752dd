/* mobilevit_run.c — MobileViT at run time (mobilevit.h): the session arena and one frame.
 *
 * The map lives in the vit_mf_state buffers (x the stream, y and t scratch, hidden / hidden2
 * the widened maps), plus `tok`, the transformer's rows. Steps that only need their own pixels
 * share a pool run, so a block is few barriers:
 *   bottle: [pw1 + SiLU] [depthwise + SiLU, pw2, residual added in the product]
 *   MobileViT: [kxk + SiLU, conv_1x1, scattered to the token rows (unless stretched)]
 *     ([bilinear stretch into the token rows])  per layer: [norm1, qkv] [attention, proj + x]
 *     [norm2, MLP + x]  ([final norm])  [final norm or bilinear back, conv_proj + SiLU into the
 *     right half of the concatenation, the block input into its left half]
 *     [conv_fusion + SiLU back into the input's buffer]
 * The transformer's rows run with s->x = tok while the block's input waits in its own buffer.
 * Inside a part, the chained steps go MV_CHUNK rows at a time, so each step's output is still in
 * cache for the next (the early maps are megabytes; a separate SiLU pass over one cost as much
 * as the product before it). */
#include <string.h>

#include "families/mobilevit.h"
#include "ops/ops.h"
#include "ops/resize.h"

#define MV_CHUNK 256

/* ---- helpers ----------------------------------------------------------------------------- */

static int chunk_end(int c0, int r1)
{
    return c0 + MV_CHUNK < r1 ? c0 + MV_CHUNK : r1;
}

/* The scratch one part of a conv on the pool gets (vit_conv2d_pool_scratch_floats / threads). */
static size_t part_scratch(const vit_mf_state *s, const vit_conv2d *c, vit_conv_layout layout,
                           int pixels)
{
    return vit_conv2d_scratch_floats(c, layout, (pixels + s->threads - 1) / s->threads);
}

/* ---- the bottle block -------------------------------------------------------------------- */

typedef struct bottle_job {
    const vit_mv_bottle *bt;
    vit_mf_state *s;
    float *out; /* s->x (residual, added) or s->y */
} bottle_job;

static void pw1_task(void *ctx, int r0, int r1, int task)
{
    bottle_job *j = ctx;
    const vit_conv2d *c = &j->bt->pw1;
    for (int c0 = r0; c0 < r1; c0 += MV_CHUNK) {
        int c1 = chunk_end(c0, r1);
        /* SiLU in the product's epilogue */
        vit_linear_silu(c1 - c0, c->cout, c->cin, j->s->x + (size_t)c0 * c->cin, c->cin, c->weight,
                        c->bias, j->s->hidden + (size_t)c0 * c->cout, c->cout);
    }
}

static void dw_pw2_task(void *ctx, int r0, int r1, int task)
{
    bottle_job *j = ctx;
    const vit_mv_bottle *bt = j->bt;
    vit_mf_state *s = j->s;
    int M = bt->dw.cout, Co = bt->pw2.cout;
    for (int c0 = r0; c0 < r1; c0 += MV_CHUNK) {
        int c1 = chunk_end(c0, r1);
        vit_dwconv2d_silu_rows(&bt->dw, s->hidden, bt->H, bt->W, c0, c1, s->hidden2, M);
        vit_gemm(c1 - c0, Co, M, 1.0f, s->hidden2 + (size_t)c0 * M, M, bt->pw2.weight, M, 1,
                 bt->pw2.bias, bt->residual, j->out + (size_t)c0 * Co, Co);
    }
}

static void bottle_run(const vit_mv_bottle *bt, vit_mf_state *s)
{
    bottle_job j = {bt, s, bt->residual ? s->x : s->y};
    vit_mf_parallel(s, bt->H * bt->W, pw1_task, &j);
    vit_mf_parallel(s, bt->OH * bt->OW, dw_pw2_task, &j);
    if (!bt->residual) {
        s->y = s->x;
        s->x = j.out;
    }
    s->H = bt->OH;
    s->W = bt->OW;
    s->C = bt->pw2.cout;
}

/* ---- the transformer layers' attention --------------------------------------------------- */

typedef struct attn_job {
    const vit_mf_block *blk;
    vit_mf_state *s;
} attn_job;

static void qkv_task(void *ctx, int r0, int r1, int task)
{
    attn_job *j = ctx;
    const vit_mv_attn *a = j->blk->mixer;
    vit_mf_state *s = j->s;
    int D = a->D;
    vit_mf_block_norm1_rows(j->blk, s, r0, r1);
    vit_linear(r1 - r0, 3 * D, D, s->y + (size_t)r0 * D, D, a->qkv_w, a->qkv_b, 0.0f,
               s->hidden + (size_t)r0 * 3 * D, 3 * D);
}

/* Query rows [r0, r1): attention inside each one's sequence, then x += proj. */
static void attn_task(void *ctx, int r0, int r1, int task)
{
    attn_job *j = ctx;
    const vit_mv_attn *a = j->blk->mixer;
    vit_mf_state *s = j->s;
    int D = a->D, Q = 3 * D, n = a->seq;
    float *scores = s->work + (size_t)task * VIT_MF_ATTN_CHUNK * n;
    for (int g = r0 / n; g * n < r1; g++) {
        int lo = r0 > g * n ? r0 - g * n : 0, hi = r1 < (g + 1) * n ? r1 - g * n : n;
        const float *qkv = s->hidden + (size_t)g * n * Q;
        vit_mf_attention_rows(qkv, Q, qkv + D, Q, qkv + 2 * D, Q, n, a->heads, D / a->heads, lo, hi,
                              scores, s->hidden2 + (size_t)g * n * D, D);
    }
    vit_linear(r1 - r0, D, D, s->hidden2 + (size_t)r0 * D, D, a->proj_w, a->proj_b, 1.0f,
               s->x + (size_t)r0 * D, D);
}

void vit_mv_attn_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    attn_job j = {blk, s};
    vit_mf_parallel(s, s->H * s->W, qkv_task, &j);
    vit_mf_parallel(s, s->H * s->W, attn_task, &j);
}

/* ---- the MobileViT block ----------------------------------------------------------------- */

typedef struct vit_job {
    const vit_mv_vit *v;
    vit_mf_state *s;
    float *in;  /* the block's input map [H*W, C] (kept for the concatenation) */
    float *tok; /* the transformer rows [TH*TW, D] */
    size_t scratch_per_task;
} vit_job;

/* Map rows: y = SiLU(kxk(in)), t = conv_1x1(y); unless stretched, t's rows go to tok. */
static void local_task(void *ctx, int r0, int r1, int task)
{
    vit_job *j = ctx;
    const vit_mv_vit *v = j->v;
    vit_mf_state *s = j->s;
    int C = v->C, D = v->D;
    for (int c0 = r0; c0 < r1; c0 += MV_CHUNK) {
        int c1 = chunk_end(c0, r1);
        vit_conv2d_rows(&v->kxk, j->in, VIT_CONV_HWC, v->H, v->W, c0, c1,
                        s->conv_scratch + (size_t)task * j->scratch_per_task, s->y, C);
        vit_mf_act_rows(VIT_MF_ACT_SILU, s->y, C, C, c0, c1);
        vit_gemm(c1 - c0, D, C, 1.0f, s->y + (size_t)c0 * C, C, v->c1x1.weight, C, 1, NULL, 0,
                 s->t + (size_t)c0 * D, D);
        for (int r = c0; r < c1 && !v->stretched; r++)
            memcpy(j->tok + (size_t)v->tok_row[r] * D, s->t + (size_t)r * D,
                   (size_t)D * sizeof(float));
    }
}

static void stretch_task(void *ctx, int r0, int r1, int task)
{
    vit_job *j = ctx;
    const vit_mv_vit *v = j->v;
    vit_bilinear_rows(j->s->t, NULL, v->H, v->W, v->D, v->TH, v->TW, r0, r1, j->tok, v->tok_row,
                      v->D);
}

static void final_norm_task(void *ctx, int r0, int r1, int task)
{
    vit_job *j = ctx;
    vit_mf_norm_rows(&j->v->norm, (vit_mf_norm_stats){0.0f, 1.0f}, j->tok, j->s->y, j->v->D, r0,
                     r1);
}

/* Map rows: the transformer's output at each pixel (normed from its token row, or bilinear
 * from the normed tokens), conv_proj + SiLU into the right half of t = [in | proj], in into
 * the left half. */
static void fold_task(void *ctx, int r0, int r1, int task)
{
    vit_job *j = ctx;
    const vit_mv_vit *v = j->v;
    vit_mf_state *s = j->s;
    int C = v->C, D = v->D;
    const float *src = s->y;
    if (v->stretched) {
        vit_bilinear_rows(s->y, v->tok_row, v->TH, v->TW, D, v->H, v->W, r0, r1, s->hidden, NULL,
                          D);
        src = s->hidden;
    } else {
        for (int r = r0; r < r1; r++)
            vit_layernorm_rows(1, D, j->tok + (size_t)v->tok_row[r] * D, D, v->norm.weight,
                               v->norm.bias, v->norm.eps, s->y + (size_t)r * D, D);
    }
    vit_linear_silu(r1 - r0, C, D, src + (size_t)r0 * D, D, v->proj.weight, v->proj.bias,
                    s->t + (size_t)r0 * 2 * C + C, 2 * C);
    for (int r = r0; r < r1; r++)
        memcpy(s->t + (size_t)r * 2 * C, j->in + (size_t)r * C, (size_t)C * sizeof(float));
}

static void vit_block_run(const vit_mv_vit *v, vit_mf_state *s, float *tok)
{
    int HW = v->H * v->W, R = v->TH * v->TW;
    vit_job j = {v, s, s->x, tok, part_scratch(s, &v->kxk, VIT_CONV_HWC, HW)};
    vit_mf_parallel(s, HW, local_task, &j);
    if (v->stretched)
        vit_mf_parallel(s, R, stretch_task, &j);
    s->x = tok;
    s->H = v->TH;
    s->W = v->TW;
    s->C = v->D;
    for (int k = 0; k < v->depth; k++)
        vit_mf_block_run(&v->layers[k], s);
    if (v->stretched)
        vit_mf_parallel(s, R, final_norm_task, &j);
    vit_mf_parallel(s, HW, fold_task, &j);
    vit_mf_conv_act(s, &v->fusion, s->t, VIT_CONV_HWC, v->H, v->W, j.in, v->C, VIT_MF_ACT_SILU);
    s->x = j.in;
    s->H = v->H;
    s->W = v->W;
    s->C = v->C;
}

/* ---- the arena and the frame ------------------------------------------------------------- */

static size_t max_z(size_t a, size_t b)
{
    return a > b ? a : b;
}

typedef struct extent {
    size_t nc, nh, tok, work, conv;
} extent;

static void vit_extent(const vit_mv_vit *v, int threads, extent *e)
{
    size_t HW = (size_t)v->H * v->W, R = (size_t)v->TH * v->TW, C = v->C, D = v->D;
    e->nc = max_z(e->nc, max_z(HW * 2 * C, R * D));
    e->nh = max_z(e->nh, R * 3 * D);
    for (int k = 0; k < v->depth; k++) {
        const vit_mv_attn *a = v->layers[k].mixer;
        e->nh = max_z(e->nh, R * (size_t)v->layers[k].mlp.hidden);
        e->work = max_z(e->work, (size_t)threads * VIT_MF_ATTN_CHUNK * a->seq);
    }
    e->tok = max_z(e->tok, R * D);
    e->conv =
        max_z(e->conv, vit_conv2d_pool_scratch_floats(&v->kxk, VIT_CONV_HWC, v->H, v->W, threads));
    e->conv = max_z(e->conv,
                    vit_conv2d_pool_scratch_floats(&v->fusion, VIT_CONV_HWC, v->H, v->W, threads));
}

static size_t mv_layout(const vit_mv_net *n, int threads, char *base, vit_mf_state *s,
                        float **ret_tok)
{
    extent e = {(size_t)n->stem_h * n->stem_w * n->stem.cout, 0, 0, (size_t)n->final_conv.cout,
                vit_conv2d_pool_scratch_floats(&n->stem, VIT_CONV_CHW, n->base.img_h, n->base.img_w,
                                               threads)};
    for (int i = 0; i < n->num_stages; i++)
        for (int j = 0; j < n->stages[i].depth; j++) {
            const vit_mv_block *blk = &n->stages[i].blocks[j];
            const vit_mv_bottle *bt = &blk->bottle;
            if (blk->is_vit) {
                vit_extent(&blk->vit, threads, &e);
                continue;
            }
            size_t M = (size_t)bt->pw1.cout;
            e.nc = max_z(e.nc, (size_t)bt->OH * bt->OW * bt->pw2.cout);
            e.nh = max_z(e.nh, max_z((size_t)bt->H * bt->W * M, (size_t)bt->OH * bt->OW * M));
        }
    e.nc = max_z(e.nc, (size_t)n->final_h * n->final_w * n->final_conv.cout);
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, e.nc, e.nh, e.work, e.conv);
    *ret_tok = vit_mf_take(&c, e.tok);
    return c.off;
}

size_t vit_mv_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    float *tok;
    return mv_layout(m->net, threads, NULL, &s, &tok);
}

int vit_mv_run(const vit_model *m, vit_run *run, const float *chw)
{
    const vit_mv_net *n = m->net;
    vit_mf_state s;
    float *tok;
    mv_layout(n, run->threads, run->arena, &s, &tok);
    s.pool = run->pool;
    vit_mf_conv_act(&s, &n->stem, chw, VIT_CONV_CHW, n->base.img_h, n->base.img_w, s.x,
                    n->stem.cout, VIT_MF_ACT_SILU);
    s.H = n->stem_h;
    s.W = n->stem_w;
    s.C = n->stem.cout;
    for (int i = 0; i < n->num_stages; i++)
        for (int j = 0; j < n->stages[i].depth; j++) {
            const vit_mv_block *blk = &n->stages[i].blocks[j];
            if (blk->is_vit)
                vit_block_run(&blk->vit, &s, tok);
            else
                bottle_run(&blk->bottle, &s);
        }
    vit_mf_conv_act(&s, &n->final_conv, s.x, VIT_CONV_HWC, s.H, s.W, s.y, n->final_conv.cout,
                    VIT_MF_ACT_SILU);
    s.C = n->final_conv.cout;
    vit_mf_mean_head(&s, s.y, n->head_w, n->head_b, n->base.num_classes, run->logits);
    return 0;
}
