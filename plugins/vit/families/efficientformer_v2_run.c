/* efficientformer_v2_run.c — EfficientFormerV2 at run time (efficientformer_v2.h): the two
 * attentions, the session arena and one frame.
 *
 * The map and the MLP's hidden maps live in the vit_mf_state buffers; an attention's own
 * buffers (stride-2 input, q, k, v, its output, the upsampled output, score tiles) are carved
 * from s->work by attn_bufs, sized at arena time for the largest. Every step is a pool run over
 * rows: the mixer is [stride_conv] [q, k, v] [v_local, talking-heads attention added to it]
 * [bilinear x2, GELU, proj]; the downsample's attention is [q.local + subsample, q] [k, v]
 * [v_local, bias attention, GELU, proj added to the downsample conv's output].
 *
 * Talking heads mix the heads' logits of each (query, key) pair, so a tile of query rows gets
 * every head's scores before the softmax: 2 * heads * VIT_MF_ATTN_CHUNK * m floats per part. */
#include <math.h>
#include <string.h>

#include "families/efficientformer_v2.h"
#include "ops/ops.h"
#include "ops/resize.h"

/* ---- an attention's buffers -------------------------------------------------------------- */

typedef struct ef2_bufs {
    float *xs;     /* mixer: the stride-2 map [n, cin]; down: q.local + subsample [n, cin] */
    float *q, *k;  /* [n, heads * kd], [m, heads * kd] */
    float *v;      /* [m, heads * d] */
    float *o;      /* [n, heads * d]: v_local, then + attention */
    float *u;      /* mixer: bilinear x2 of o [H * W, heads * d]; down: v_local [n, heads * d] */
    float *scores; /* per part */
    size_t scores_per_task;
} ef2_bufs;

static float *take(float **p, size_t n)
{
    float *r = *p;
    *p += (n + 15) & ~(size_t)15; /* 64-byte steps */
    return r;
}

/* Lays the buffers of a out from base (NULL: only count); returns the floats used. */
static size_t attn_bufs(const vit_ef2_attn *a, int threads, float *base, ef2_bufs *bb)
{
    size_t n = (size_t)a->h * a->w, m = (size_t)a->m, kh = (size_t)a->heads * a->kd;
    size_t dh = (size_t)a->heads * a->d;
    float *p = base;
    bb->xs = take(&p, a->down || a->strided ? n * a->cin : 0);
    bb->q = take(&p, n * kh);
    bb->k = take(&p, m * kh);
    bb->v = take(&p, m * dh);
    bb->o = take(&p, n * dh);
    bb->u = take(&p, a->down ? n * dh : a->strided ? (size_t)a->H * a->W * dh : 0);
    bb->scores_per_task = (a->down ? 1 : 2 * (size_t)a->heads) * VIT_MF_ATTN_CHUNK * m;
    bb->scores = take(&p, (size_t)threads * bb->scores_per_task);
    return (size_t)(p - base);
}

typedef struct ef2_job {
    const vit_ef2_attn *a;
    vit_mf_state *s;
    ef2_bufs bb;
    float *out; /* mixer: s->t; down: the downsample conv's output, added to */
} ef2_job;

/* out rows [r0, r1) = in rows . c (a 1x1 conv, bias folded). */
static void pointwise_rows(const vit_conv2d *c, const float *in, int r0, int r1, float *out,
                           int ldo)
{
    vit_gemm(r1 - r0, c->cout, c->cin, 1.0f, in + (size_t)r0 * c->cin, c->cin, c->weight, c->cin, 1,
             c->bias, 0, out + (size_t)r0 * ldo, ldo);
}

/* ---- the token mixer (Attention2d) ------------------------------------------------------- */

static void stride_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    vit_dwconv2d_rows(&j->a->stride_conv, j->s->x, j->a->H, j->a->W, r0, r1, j->bb.xs, j->a->cin);
}

static void mixer_qkv_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    const vit_ef2_attn *a = j->a;
    const float *xs = a->strided ? j->bb.xs : j->s->x;
    pointwise_rows(&a->q, xs, r0, r1, j->bb.q, a->q.cout);
    pointwise_rows(&a->k, xs, r0, r1, j->bb.k, a->k.cout);
    pointwise_rows(&a->v, xs, r0, r1, j->bb.v, a->v.cout);
}

/* dst[g] = bias[g] + sum_h w[g, h] src[h] over `len` values per head (heads' tiles `len`
 * apart). */
static VIT_HOT void mix_heads(int heads, const float *w, const float *bias, const float *src,
                              float *dst, size_t len)
{
    for (int g = 0; g < heads; g++) {
        float *d = dst + (size_t)g * len;
        for (size_t e = 0; e < len; e++)
            d[e] = bias[g];
        for (int h = 0; h < heads; h++) {
            const float *sh = src + (size_t)h * len;
            float wg = w[g * heads + h];
            for (size_t e = 0; e < len; e++)
                d[e] += wg * sh[e];
        }
    }
}

/* Query rows [r0, r1): o = v_local(v), then o += talking-heads attention. */
static void mixer_attn_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    const vit_ef2_attn *a = j->a;
    const ef2_bufs *bb = &j->bb;
    int m = a->m, kh = a->heads * a->kd, dh = a->heads * a->d;
    float scale = 1.0f / sqrtf((float)a->kd);
    float *S = bb->scores + (size_t)task * bb->scores_per_task;
    float *T = S + (size_t)a->heads * VIT_MF_ATTN_CHUNK * m;
    vit_dwconv2d_rows(&a->v_local, bb->v, a->h, a->w, r0, r1, bb->o, dh);
    for (int c0 = r0; c0 < r1; c0 += VIT_MF_ATTN_CHUNK) {
        int rows = r1 - c0 < VIT_MF_ATTN_CHUNK ? r1 - c0 : VIT_MF_ATTN_CHUNK;
        size_t len = (size_t)rows * m;
        for (int h = 0; h < a->heads; h++) {
            float *Sh = S + (size_t)h * len;
            vit_gemm(rows, m, a->kd, scale, bb->q + (size_t)c0 * kh + h * a->kd, kh,
                     bb->k + h * a->kd, kh, 1, NULL, 0, Sh, m);
            const float *bias = a->bias + ((size_t)h * m + c0) * m;
            for (size_t e = 0; e < len; e++)
                Sh[e] += bias[e];
        }
        mix_heads(a->heads, a->th1_w, a->th1_b, S, T, len);
        vit_softmax_rows(rows * a->heads, m, T, m);
        mix_heads(a->heads, a->th2_w, a->th2_b, T, S, len);
        for (int h = 0; h < a->heads; h++)
            vit_gemm(rows, a->d, m, 1.0f, S + (size_t)h * len, m, bb->v + h * a->d, dh, 0, NULL, 1,
                     bb->o + (size_t)c0 * dh + h * a->d, dh);
    }
}

/* Map rows [r0, r1): (bilinear x2 of) o, GELU, proj into j->out. */
static void mixer_out_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    const vit_ef2_attn *a = j->a;
    int dh = a->heads * a->d;
    float *src = j->bb.o;
    if (a->strided) {
        vit_bilinear_rows(j->bb.o, NULL, a->h, a->w, dh, a->H, a->W, r0, r1, j->bb.u, NULL, dh);
        src = j->bb.u;
    }
    vit_mf_act_rows(VIT_MF_ACT_GELU, src, dh, dh, r0, r1);
    pointwise_rows(&a->proj, src, r0, r1, j->out, a->cout);
}

void vit_ef2_attn_mixer(const vit_mf_block *blk, vit_mf_state *s)
{
    const vit_ef2_attn *a = blk->mixer;
    ef2_job j = {a, s, {0}, s->t};
    int n = a->h * a->w;
    attn_bufs(a, s->threads, s->work, &j.bb);
    if (a->strided)
        vit_mf_parallel(s, n, stride_task, &j);
    vit_mf_parallel(s, n, mixer_qkv_task, &j);
    vit_mf_parallel(s, n, mixer_attn_task, &j);
    vit_mf_parallel(s, a->H * a->W, mixer_out_task, &j);
}

/* ---- the downsample's attention (Attention2dDownsample) ---------------------------------- */

/* Query rows: xs = q.local(x) + x[2 qy, 2 qx], q = q.proj(xs). */
static void down_q_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    const vit_ef2_attn *a = j->a;
    const float *x = j->s->x;
    int C = a->cin;
    vit_dwconv2d_rows(&a->q_local, x, a->H, a->W, r0, r1, j->bb.xs, C);
    for (int r = r0; r < r1; r++) {
        float *xs = j->bb.xs + (size_t)r * C;
        const float *sub = x + ((size_t)(r / a->w) * 2 * a->W + (size_t)(r % a->w) * 2) * C;
        for (int c = 0; c < C; c++)
            xs[c] += sub[c];
    }
    pointwise_rows(&a->q, j->bb.xs, r0, r1, j->bb.q, a->q.cout);
}

static void down_kv_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    pointwise_rows(&j->a->k, j->s->x, r0, r1, j->bb.k, j->a->k.cout);
    pointwise_rows(&j->a->v, j->s->x, r0, r1, j->bb.v, j->a->v.cout);
}

/* Query rows: o = bias attention + v_local(v), GELU, out += proj(o). */
static void down_attn_task(void *ctx, int r0, int r1, int task)
{
    ef2_job *j = ctx;
    const vit_ef2_attn *a = j->a;
    const ef2_bufs *bb = &j->bb;
    int kh = a->heads * a->kd, dh = a->heads * a->d;
    vit_mf_bias_attn ba = {a->heads, a->kd, a->d, kh,   kh,   dh, a->kd,
                           a->kd,    a->d,  a->H, a->W, a->w, 2,  a->table};
    vit_mf_bias_attention_rows(&ba, bb->q, bb->k, bb->v, r0, r1,
                               bb->scores + (size_t)task * bb->scores_per_task, bb->o, dh);
    vit_dwconv2d_rows(&a->v_local, bb->v, a->H, a->W, r0, r1, bb->u, dh);
    for (int r = r0; r < r1; r++) {
        float *o = bb->o + (size_t)r * dh;
        const float *u = bb->u + (size_t)r * dh;
        for (int c = 0; c < dh; c++)
            o[c] += u[c];
    }
    vit_mf_act_rows(VIT_MF_ACT_GELU, bb->o, dh, dh, r0, r1);
    vit_gemm(r1 - r0, a->cout, dh, 1.0f, bb->o + (size_t)r0 * dh, dh, a->proj.weight, dh, 1,
             a->proj.bias, 1, j->out + (size_t)r0 * a->cout, a->cout);
}

/* out [h*w, cout] += the attention of s->x. */
static void down_attn_run(const vit_ef2_attn *a, vit_mf_state *s, float *out)
{
    ef2_job j = {a, s, {0}, out};
    int n = a->h * a->w;
    attn_bufs(a, s->threads, s->work, &j.bb);
    vit_mf_parallel(s, n, down_q_task, &j);
    vit_mf_parallel(s, a->m, down_kv_task, &j);
    vit_mf_parallel(s, n, down_attn_task, &j);
}

/* ---- the arena and the frame ------------------------------------------------------------- */

static size_t max_z(size_t a, size_t b)
{
    return a > b ? a : b;
}

static size_t ef2_layout(const vit_ef2_net *n, int threads, char *base, vit_mf_state *s)
{
    int H1 = vit_conv_out_size(n->base.img_h, n->stem1.kh, 2, n->stem1.pad_h);
    int W1 = vit_conv_out_size(n->base.img_w, n->stem1.kw, 2, n->stem1.pad_w);
    size_t nc = (size_t)H1 * W1 * n->stem1.cout, nh = 0;
    size_t work = 2 * (size_t)n->stages[n->num_stages - 1].dim;
    size_t conv = vit_conv2d_pool_scratch_floats(&n->stem1, VIT_CONV_CHW, n->base.img_h,
                                                 n->base.img_w, threads);
    conv = max_z(conv, vit_conv2d_pool_scratch_floats(&n->stem2, VIT_CONV_HWC, H1, W1, threads));
    int H = n->stem_h, W = n->stem_w;
    nc = max_z(nc, (size_t)H * W * n->stem2.cout);
    for (int i = 0; i < n->num_stages; i++) {
        const vit_ef2_stage *st = &n->stages[i];
        ef2_bufs bb;
        size_t N = (size_t)st->H * st->W;
        nc = max_z(nc, N * st->dim);
        if (st->has_down)
            conv =
                max_z(conv, vit_conv2d_pool_scratch_floats(&st->down, VIT_CONV_HWC, H, W, threads));
        if (st->down_attn)
            work = max_z(work, attn_bufs(st->down_attn, threads, NULL, &bb));
        for (int j = 0; j < st->depth; j++) {
            nh = max_z(nh, N * st->blocks[j].mlp.hidden);
            if (st->blocks[j].mixer)
                work = max_z(work, attn_bufs(st->blocks[j].mixer, threads, NULL, &bb));
        }
        H = st->H;
        W = st->W;
    }
    vit_mf_carve c = {base, 0};
    vit_mf_carve_state(&c, s, threads, nc, nh, work, conv);
    return c.off;
}

size_t vit_ef2_arena_bytes(const vit_model *m, int threads)
{
    vit_mf_state s;
    return ef2_layout(m->net, threads, NULL, &s);
}

/* The stage's downsample: y = conv(x) (+ attention(x)), then y becomes the map. */
static void downsample_run(const vit_ef2_stage *st, vit_mf_state *s)
{
    vit_mf_conv(s, &st->down, s->x, VIT_CONV_HWC, s->H, s->W, s->y, st->dim);
    if (st->down_attn)
        down_attn_run(st->down_attn, s, s->y);
    float *t = s->x;
    s->x = s->y;
    s->y = t;
    s->H = st->H;
    s->W = st->W;
    s->C = st->dim;
}

int vit_ef2_run(const vit_model *m, vit_run *run, const float *chw)
{
    const vit_ef2_net *n = m->net;
    vit_mf_state s;
    ef2_layout(n, run->threads, run->arena, &s);
    s.pool = run->pool;
    int H1 = vit_conv_out_size(n->base.img_h, n->stem1.kh, 2, n->stem1.pad_h);
    int W1 = vit_conv_out_size(n->base.img_w, n->stem1.kw, 2, n->stem1.pad_w);
    vit_mf_conv_act(&s, &n->stem1, chw, VIT_CONV_CHW, n->base.img_h, n->base.img_w, s.y,
                    n->stem1.cout, VIT_MF_ACT_GELU);
    vit_mf_conv_act(&s, &n->stem2, s.y, VIT_CONV_HWC, H1, W1, s.x, n->stem2.cout, VIT_MF_ACT_GELU);
    s.H = n->stem_h;
    s.W = n->stem_w;
    s.C = n->stem2.cout;
    for (int i = 0; i < n->num_stages; i++) {
        const vit_ef2_stage *st = &n->stages[i];
        if (st->has_down)
            downsample_run(st, &s);
        for (int j = 0; j < st->depth; j++) {
            if (st->blocks[j].mixer)
                vit_mf_block_run(&st->blocks[j], &s);
            else
                vit_mf_block_mlp_run(&st->blocks[j], &s);
        }
    }
    vit_mf_norm_run(&n->norm, &s, s.x, s.y, s.C);
    vit_mf_distilled_head(&s, s.y, n->head_w, n->head_b, n->dist_w, n->dist_b, n->base.num_classes,
                          run->logits);
    return 0;
}
