/* sret_run.c — running an SReT network (sret.h) inside a session arena.
 *
 * Data: token-major maps [H*W, C] throughout (conv.h); the stem and the downsampling convs
 * ping-pong between two map buffers. Threads: the convs split output pixels (the stem in
 * im2col blocks of CONV_CHUNK pixels), group attention its rows and (group, head, query block)
 * items, MLPs token rows; a block's MLP and the NLL layer after it run in one pass over each
 * part's rows. Nothing is allocated: the arena is carved by vit_sret_layout. */
#include <string.h>

#include "families/metaformer.h"
#include "ops/ops.h"
#include "families/sret.h"

#define CONV_CHUNK 512 /* output pixels per im2col block in the stem */

typedef struct vit_sret_arena {
    float *map[2]; /* ping-pong maps: stem outputs, stage tokens */
    float *work;   /* group attention scratch, or the MLP's normed rows + hidden */
    float *conv;   /* stem im2col blocks, one per thread */
    float *feat, *feat_norm;
} vit_sret_arena;

static size_t conv_scratch_per_thread(const vit_sret_net *n)
{
    size_t mx = 0;
    for (int i = 0; i < 3; i++) {
        size_t f =
            vit_conv2d_scratch_floats(&n->stem[i], i ? VIT_CONV_HWC : VIT_CONV_CHW, CONV_CHUNK);
        mx = f > mx ? f : mx;
    }
    return mx;
}

static size_t vit_sret_layout(const vit_sret_net *n, int threads, char *base, vit_sret_arena *a)
{
    size_t maps = 0, work = 0;
    for (int i = 1; i < 4; i++) {
        size_t f = (size_t)n->stem_h[i] * n->stem_w[i] * n->stem[i - 1].cout;
        maps = f > maps ? f : maps;
    }
    for (int s = 0; s < n->num_stages; s++) {
        const vit_sret_stage *st = &n->stages[s];
        for (int i = 0; i < st->num_entries; i++) {
            const vit_sret_entry *e = &st->entries[i];
            size_t f = (size_t)st->N * (st->C + st->max_hidden);
            if (e->is_block) {
                size_t g = vit_group_attention_scratch_floats(&e->attn, threads);
                f = g > f ? g : f;
            }
            work = f > work ? f : work;
        }
        size_t f = (size_t)st->N * st->C;
        maps = f > maps ? f : maps;
        if (st->has_pool) {
            f = (size_t)vit_conv_out_size(st->H, 3, 2, 1) * vit_conv_out_size(st->W, 3, 2, 1) *
                st->pool.cout;
            maps = f > maps ? f : maps;
        }
    }
    size_t C = (size_t)n->stages[n->num_stages - 1].C;
    vit_mf_carve c = {base, 0};
    a->map[0] = vit_mf_take(&c, maps);
    a->map[1] = vit_mf_take(&c, maps);
    a->work = vit_mf_take(&c, work);
    a->conv = vit_mf_take(&c, (size_t)threads * conv_scratch_per_thread(n));
    a->feat = vit_mf_take(&c, C);
    a->feat_norm = vit_mf_take(&c, C);
    return c.off;
}

size_t vit_sret_arena_bytes(const vit_model *m, int threads)
{
    vit_sret_arena a;
    return vit_sret_layout(m->net, threads, NULL, &a);
}

typedef struct vit_sret_pass {
    const vit_sret_net *n;
    vit_sret_arena a;
    int threads;
    /* conv job */
    const vit_conv2d *conv;
    const float *in;
    vit_conv_layout layout;
    int H, W, relu;
    const float *pos; /* add pos_embed [C, OH*OW] after the ReLU */
    float *out;
    /* mlp job */
    const vit_sret_stage *stage;
    const vit_sret_mlp *mlp[2];
    float *x;
} vit_sret_pass;

static void conv_task(void *ctx, int task, int num_tasks)
{
    const vit_sret_pass *p = ctx;
    const vit_conv2d *c = p->conv;
    int OH = vit_conv_out_size(p->H, c->kh, c->stride_h, c->pad_h);
    int OW = vit_conv_out_size(p->W, c->kw, c->stride_w, c->pad_w);
    int P = OH * OW, p0, p1;
    vit_split_range(P, num_tasks, task, &p0, &p1);
    float *scratch = p->a.conv + (size_t)task * conv_scratch_per_thread(p->n);
    for (int q0 = p0; q0 < p1; q0 += CONV_CHUNK) {
        int q1 = q0 + CONV_CHUNK < p1 ? q0 + CONV_CHUNK : p1;
        vit_conv2d_rows(c, p->in, p->layout, p->H, p->W, q0, q1, scratch, p->out, c->cout);
    }
    if (!p->relu)
        return;
    for (int q = p0; q < p1; q++) {
        float *row = p->out + (size_t)q * c->cout;
        for (int o = 0; o < c->cout; o++)
            row[o] = row[o] > 0.0f ? row[o] : 0.0f;
        if (p->pos)
            for (int o = 0; o < c->cout; o++)
                row[o] += p->pos[(size_t)o * P + q];
    }
}

static void run_conv(vit_sret_pass *p, vit_threadpool *pool, const vit_conv2d *c, const float *in,
                     vit_conv_layout layout, int H, int W, int relu, const float *pos, float *out)
{
    p->conv = c;
    p->in = in;
    p->layout = layout;
    p->H = H;
    p->W = W;
    p->relu = relu;
    p->pos = pos;
    p->out = out;
    int P = vit_conv_out_size(H, c->kh, c->stride_h, c->pad_h) *
            vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    vit_threadpool_run(pool, p->threads < P ? p->threads : P, conv_task, p);
}

/* x = a*x + b*fc2(GELU(fc1(LN(x)))) for rows [r0, r1). */
static void mlp_rows(const vit_sret_pass *p, const vit_sret_mlp *m, int r0, int r1)
{
    int C = p->stage->C, Hd = m->hidden, rows = r1 - r0;
    float *x = p->x + (size_t)r0 * C;
    float *xn = p->a.work + (size_t)r0 * C;
    /* rows at the stage's widest stride, so the two MLPs of a fused pass never overlap */
    float *h = p->a.work + (size_t)p->stage->N * C + (size_t)r0 * p->stage->max_hidden;
    vit_layernorm_rows(rows, C, x, C, m->norm_w, m->norm_b, 1e-6f, xn, C);
    vit_linear_gelu(rows, Hd, C, xn, C, m->fc1_w, m->fc1_b, h, Hd);
    if (m->a == 1.0f && m->b == 1.0f) {
        vit_linear(rows, C, Hd, h, Hd, m->fc2_w, m->fc2_b, 1.0f, x, C);
        return;
    }
    vit_linear(rows, C, Hd, h, Hd, m->fc2_w, m->fc2_b, 0.0f, xn, C);
    for (size_t k = 0; k < (size_t)rows * C; k++)
        x[k] = m->a * x[k] + m->b * xn[k];
}

static void mlp_task(void *ctx, int task, int num_tasks)
{
    const vit_sret_pass *p = ctx;
    int r0, r1;
    vit_split_range(p->stage->N, num_tasks, task, &r0, &r1);
    if (r1 <= r0)
        return;
    for (int k = 0; k < 2 && p->mlp[k]; k++)
        mlp_rows(p, p->mlp[k], r0, r1);
}

static void run_stage(vit_sret_pass *p, vit_threadpool *pool, const vit_sret_stage *st)
{
    p->stage = st;
    int parts = p->threads < st->N ? p->threads : st->N;
    for (int i = 0; i < st->num_entries; i++) {
        const vit_sret_entry *e = &st->entries[i];
        p->mlp[0] = &e->mlp;
        p->mlp[1] = NULL;
        if (e->is_block) {
            vit_group_attention_run(&e->attn, pool, p->threads, e->c1, e->c2, p->x, p->a.work);
            if (i + 1 < st->num_entries && !st->entries[i + 1].is_block)
                p->mlp[1] = &st->entries[++i].mlp; /* the NLL layer after the block, fused */
        }
        vit_threadpool_run(pool, parts, mlp_task, p);
    }
}

static void vit_sret_head(const vit_sret_pass *p, vit_threadpool *pool, float *logits)
{
    const vit_sret_net *n = p->n;
    const vit_sret_stage *st = &n->stages[n->num_stages - 1];
    int C = st->C;
    float *feat = p->a.feat;
    memset(feat, 0, (size_t)C * sizeof(float));
    for (int t = 0; t < st->N; t++)
        vit_add_bias_rows(1, C, feat, C, p->x + (size_t)t * C);
    for (int c = 0; c < C; c++)
        feat[c] /= (float)st->N;
    vit_layernorm_rows(1, C, feat, C, n->norm_w, n->norm_b, 1e-6f, p->a.feat_norm, C);
    vit_linear_cols(pool, 1, n->num_classes, C, p->a.feat_norm, C, n->head_w, n->head_b, 0.0f,
                    logits, n->num_classes);
}

int vit_sret_run(const vit_model *m, vit_run *run, const float *chw)
{
    vit_sret_pass p = {.n = m->net, .threads = run->threads < 1 ? 1 : run->threads};
    const vit_sret_net *n = p.n;
    vit_sret_layout(n, p.threads, run->arena, &p.a);
    float *A = p.a.map[0], *B = p.a.map[1];
    run_conv(&p, run->pool, &n->stem[0], chw, VIT_CONV_CHW, n->stem_h[0], n->stem_w[0], 1, NULL, A);
    run_conv(&p, run->pool, &n->stem[1], A, VIT_CONV_HWC, n->stem_h[1], n->stem_w[1], 1, NULL, B);
    run_conv(&p, run->pool, &n->stem[2], B, VIT_CONV_HWC, n->stem_h[2], n->stem_w[2], 1,
             n->pos_embed, A);
    p.x = A;
    for (int s = 0; s < n->num_stages; s++) {
        const vit_sret_stage *st = &n->stages[s];
        run_stage(&p, run->pool, st);
        if (st->has_pool) {
            float *out = p.x == A ? B : A;
            run_conv(&p, run->pool, &st->pool, p.x, VIT_CONV_HWC, st->H, st->W, 0, NULL, out);
            p.x = out;
        }
    }
    vit_sret_head(&p, run->pool, run->logits);
    return 0;
}
