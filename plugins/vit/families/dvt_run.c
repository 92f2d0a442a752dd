/* dvt_run.c — the forward pass of a DVT cascade, exit by exit, inside the session's arena.
 *
 * Exit k runs only when exit k-1 was not confident enough (top softmax probability below the
 * session's threshold for k-1). Before its blocks, exit k turns what exit k-1 left behind
 * into its two reuse inputs (dvt.py):
 *   - feature reuse: exit k-1's tokens (before its final norm) -> LN -> fc1 -> GELU -> fc2,
 *     resized to this exit's grid with a zero cls row. The context is written once into the
 *     columns [dim, dim + ctx) of this exit's token buffer, so every block's
 *     LN2(concat(x, ctx)) is a LayerNorm over a row of the buffer with no copy;
 *   - relationship reuse: exit k-1's pre-softmax attention logits of all its layers, kept in
 *     the arena channel-major [layer * heads + head, query, key], go through the two 1x1 convs
 *     (GEMMs over positions), then are resized along the key axis and the query axis (the cls
 *     row and column apart), giving one additive term per (layer, head) of exit k.
 *
 * An exit with a conv stem first runs it over the image's pixels (its own pool run, into the
 * arena's stem map), then its patch conv reads the map (patch_embed.h).
 *
 * Threads: each step is one pool run split over rows (tokens, positions or query rows); a
 * block run does attention for its query rows over all keys, then proj, MLP and the next
 * block's LN1 + qkv for the same rows, so qkv is double-buffered as in vit.c. */
#include <math.h>
#include <string.h>

#include "families/dvt.h"
#include "kernels/fastmath.h"
#include "ops/ops.h"

typedef struct vit_dvt_arena {
    float *xc[2];    /* token rows [tokens, ld] of exits of even / odd index */
    float *qkv[2];   /* [tokens, 3 dim], double-buffered across blocks */
    float *xn;       /* LayerNorm output [tokens, ld] */
    float *attn;     /* [tokens, dim] */
    float *hidden;   /* [tokens, hidden] */
    float *scores;   /* [tokens, tokens] */
    float *patches;  /* [patches, C p p] (C: stem channels with a stem) */
    float *stem_map; /* conv stem output [img * img, stem_chans] */
    float *stack;    /* attention logits of the exit that ran last [depth * heads, n, n] */
    float *adds;     /* relationship-reuse terms of the running exit [depth * heads, n, n] */
    float *rel_mid;  /* conv1 output [rel_mid, n_up * n_up] */
    float *rel_out;  /* conv2 output [rel_out, n_up * n_up] */
    float *rel_keys; /* key axis resized [rel_out, n_up, n] */
    float *ctx_norm; /* [n_up, dim_up] */
    float *ctx_hid;  /* [n_up, ctx_hidden] */
    float *ctx_up;   /* [n_up, ctx_dim] */
    float *feat;     /* [dim] */
    float *probs;    /* [num_classes] */
} vit_dvt_arena;

static size_t round_up(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Carves the arena (or, with base NULL, just counts the floats it needs). */
static size_t vit_dvt_layout(const vit_dvt_net *n, float *base, vit_dvt_arena *a)
{
    enum {
        XC0,
        XC1,
        QKV0,
        QKV1,
        XN,
        ATTN,
        HID,
        SCORES,
        PATCHES,
        STEM_MAP,
        STACK,
        ADDS,
        RMID,
        ROUT,
        RKEYS,
        CNORM,
        CHID,
        CUP,
        FEAT,
        PROBS,
        SLOTS
    };
    size_t sz[SLOTS] = {0};
    for (int k = 0; k < n->num_exits; k++) {
        const vit_dvt_exit *e = &n->exits[k];
        size_t N = (size_t)e->tokens, D = (size_t)e->dim;
        sz[XC0] = sz[XC1] = sz[XN] = max_sz(sz[XC0], N * e->ld);
        sz[QKV0] = sz[QKV1] = max_sz(sz[QKV0], N * 3 * D);
        sz[ATTN] = max_sz(sz[ATTN], N * D);
        sz[HID] = max_sz(sz[HID], N * e->hidden);
        sz[SCORES] = max_sz(sz[SCORES], N * N);
        sz[PATCHES] = max_sz(sz[PATCHES], vit_patch_embed_cols_floats(&e->pe, (int)N - 1));
        sz[STEM_MAP] = max_sz(sz[STEM_MAP], vit_patch_embed_map_floats(&e->pe));
        sz[STACK] = max_sz(sz[STACK], (size_t)e->depth * e->heads * N * N);
        sz[FEAT] = max_sz(sz[FEAT], D);
        if (k == 0)
            continue;
        const vit_dvt_exit *up = &n->exits[k - 1];
        size_t Nu = (size_t)up->tokens;
        sz[ADDS] = max_sz(sz[ADDS], (size_t)e->rel_out * N * N);
        sz[RMID] = max_sz(sz[RMID], (size_t)e->rel_mid * Nu * Nu);
        sz[ROUT] = max_sz(sz[ROUT], (size_t)e->rel_out * Nu * Nu);
        sz[RKEYS] = max_sz(sz[RKEYS], (size_t)e->rel_out * Nu * N);
        sz[CNORM] = max_sz(sz[CNORM], Nu * up->dim);
        sz[CHID] = max_sz(sz[CHID], Nu * n->ctx_hidden);
        sz[CUP] = max_sz(sz[CUP], Nu * n->ctx_dim);
    }
    sz[PROBS] = (size_t)n->num_classes;
    float **slots[SLOTS] = {&a->xc[0],    &a->xc[1],   &a->qkv[0],  &a->qkv[1],  &a->xn,
                            &a->attn,     &a->hidden,  &a->scores,  &a->patches, &a->stem_map,
                            &a->stack,    &a->adds,    &a->rel_mid, &a->rel_out, &a->rel_keys,
                            &a->ctx_norm, &a->ctx_hid, &a->ctx_up,  &a->feat,    &a->probs};
    size_t off = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (base)
            *slots[i] = base + off;
        off += round_up(sz[i]);
    }
    return off;
}

size_t vit_dvt_arena_bytes(const vit_model *m, int threads)
{
    vit_dvt_arena a;
    return vit_dvt_layout(m->net, NULL, &a) * sizeof(float);
}

typedef struct vit_dvt_pass {
    const vit_dvt_net *n;
    const vit_dvt_exit *e, *up; /* the running exit and the one before it (NULL for exit 0) */
    int k;
    vit_dvt_arena a;
    float *x, *x_up; /* token buffers of e and up */
    const float *chw;
    int layer;
} vit_dvt_pass;

/* ---- reuse inputs --------------------------------------------------------------------------- */

/* Feature reuse before the resize, for upstream token rows [r0, r1): ctx_up =
 * fc2(GELU(fc1(LN(x_up)))). */
static void context_rows(const vit_dvt_pass *p, int r0, int r1)
{
    const vit_dvt_exit *e = p->e, *up = p->up;
    int rows = r1 - r0, Du = up->dim, CH = p->n->ctx_hidden, CD = p->n->ctx_dim;
    if (rows <= 0)
        return;
    float *xn = p->a.ctx_norm + (size_t)r0 * Du, *hid = p->a.ctx_hid + (size_t)r0 * CH;
    vit_layernorm_rows(rows, Du, p->x_up + (size_t)r0 * up->ld, up->ld, e->fr_norm_w, e->fr_norm_b,
                       p->n->eps, xn, Du);
    vit_linear_gelu(rows, CH, Du, xn, Du, e->fr_fc1_w, e->fr_fc1_b, hid, CH);
    vit_linear(rows, CD, CH, hid, CH, e->fr_fc2_w, e->fr_fc2_b, 0.0f, p->a.ctx_up + (size_t)r0 * CD,
               CD);
}

/* Relationship reuse's convs for upstream positions [p0, p1) of the n_up x n_up logit maps:
 * rel_out = conv2(GELU(conv1(stack))), each 1x1 conv one GEMM with the positions as columns. */
static void relation_convs(const vit_dvt_pass *p, int p0, int p1)
{
    const vit_dvt_exit *e = p->e;
    int cols = p1 - p0, P = p->up->tokens * p->up->tokens;
    if (cols <= 0)
        return;
    float *mid = p->a.rel_mid + p0, *out = p->a.rel_out + p0;
    vit_gemm(e->rel_mid, cols, e->rel_in, 1.0f, e->rr_conv1_w, e->rel_in, p->a.stack + p0, P, 0,
             NULL, 0, mid, P);
    for (int c = 0; c < e->rel_mid; c++) {
        float *row = mid + (size_t)c * P, b = e->rr_conv1_b[c];
        for (int j = 0; j < cols; j++)
            row[j] = vit_fast_gelu(row[j] + b);
    }
    vit_gemm(e->rel_out, cols, e->rel_mid, 1.0f, e->rr_conv2_w, e->rel_mid, mid, P, 0, NULL, 0, out,
             P);
    for (int c = 0; c < e->rel_out; c++) {
        float *row = out + (size_t)c * P, b = e->rr_conv2_b[c];
        for (int j = 0; j < cols; j++)
            row[j] += b;
    }
}

static void reuse_task(void *ctx, int task, int num_tasks)
{
    const vit_dvt_pass *p = ctx;
    int r0, r1;
    vit_split_range(p->up->tokens, num_tasks, task, &r0, &r1);
    context_rows(p, r0, r1);
    vit_split_range(p->up->tokens * p->up->tokens, num_tasks, task, &r0, &r1);
    relation_convs(p, r0, r1);
}

/* Key-axis resize of the relation maps' rows [r0, r1) (a row is one channel's one upstream
 * query): the cls key is kept, the patch keys are resized as a grid, all rows in one GEMM. */
static void relation_keys_task(void *ctx, int task, int num_tasks)
{
    const vit_dvt_pass *p = ctx;
    int Nu = p->up->tokens, N = p->e->tokens, r0, r1;
    vit_split_range(p->e->rel_out * Nu, num_tasks, task, &r0, &r1);
    if (r1 <= r0)
        return;
    const float *src = p->a.rel_out + (size_t)r0 * Nu;
    float *dst = p->a.rel_keys + (size_t)r0 * N;
    for (int i = 0; i < r1 - r0; i++)
        dst[(size_t)i * N] = src[(size_t)i * Nu];
    vit_gemm(r1 - r0, N - 1, Nu - 1, 1.0f, src + 1, Nu, p->e->resize2d, Nu - 1, 1, NULL, 0, dst + 1,
             N);
}

/* Query-axis resize for this exit's query rows [r0, r1) and the context columns of its tokens. */
static void reuse_rows(const vit_dvt_pass *p, int r0, int r1)
{
    const vit_dvt_exit *e = p->e;
    int Nu = p->up->tokens, N = e->tokens, CD = p->n->ctx_dim;
    int c0 = r0 > 1 ? r0 - 1 : 0, c1 = r1 - 1; /* grid cells of the patch rows */
    for (int c = 0; c < e->rel_out; c++) {
        const float *keys = p->a.rel_keys + (size_t)c * Nu * N;
        float *adds = p->a.adds + (size_t)c * N * N;
        if (r0 == 0)
            memcpy(adds, keys, (size_t)N * sizeof(float));
        if (c1 > c0)
            vit_dvt_resize_cells(&e->resize, c0, c1, N, keys + N, N, adds + (size_t)(1 + c0) * N,
                                 N);
    }
    if (r0 == 0)
        memset(p->x + e->dim, 0, (size_t)CD * sizeof(float));
    if (c1 > c0)
        vit_dvt_resize_cells(&e->resize, c0, c1, CD, p->a.ctx_up + CD, CD,
                             p->x + (size_t)(1 + c0) * e->ld + e->dim, e->ld);
}

/* ---- the exit's own network ------------------------------------------------------------------ */

/* LayerNorm 1 and qkv of block l for token rows [r0, r1). */
static void qkv_rows(const vit_dvt_pass *p, int l, int r0, int r1)
{
    const vit_dvt_exit *e = p->e;
    const vit_dvt_block *blk = &e->blocks[l];
    int D = e->dim, ld = e->ld;
    /* xn rows keep the token buffer's stride: other threads' LN2 rows live at r * ld */
    float *xn = p->a.xn + (size_t)r0 * ld;
    vit_layernorm_rows(r1 - r0, D, p->x + (size_t)r0 * ld, ld, blk->norm1_w, blk->norm1_b,
                       p->n->eps, xn, ld);
    vit_linear(r1 - r0, 3 * D, D, xn, ld, blk->qkv_w, blk->qkv_b, 0.0f,
               p->a.qkv[l & 1] + (size_t)r0 * 3 * D, 3 * D);
}

static void embed_task(void *ctx, int task, int num_tasks)
{
    const vit_dvt_pass *p = ctx;
    const vit_dvt_exit *e = p->e;
    int D = e->dim, r0, r1;
    vit_split_range(e->tokens, num_tasks, task, &r0, &r1);
    if (r1 <= r0)
        return;
    if (p->up)
        reuse_rows(p, r0, r1);
    int p0 = r0 > 1 ? r0 - 1 : 0, p1 = r1 - 1;
    if (p1 > p0)
        vit_patch_embed_rows(&e->pe, p->chw, p->a.stem_map, p0, p1,
                             p->a.patches + vit_patch_embed_cols_floats(&e->pe, p0),
                             p->x + (size_t)(1 + p0) * e->ld, e->ld);
    if (r0 == 0)
        memcpy(p->x, e->cls_token, (size_t)D * sizeof(float));
    for (int t = r0; t < r1; t++)
        vit_add_bias_rows(1, D, p->x + (size_t)t * e->ld, e->ld, e->pos_embed + (size_t)t * D);
    qkv_rows(p, 0, r0, r1);
}

/* Attention of block l for query rows [r0, r1): logits = q k^T * scale (+ the reuse term), kept
 * in the stack when a later exit may need them, softmax, times v. */
static void attention_rows(const vit_dvt_pass *p, int l, int r0, int r1)
{
    const vit_dvt_exit *e = p->e;
    int D = e->dim, H = e->heads, d = D / H, N = e->tokens, rows = r1 - r0, ld = 3 * D;
    const float *qkv = p->a.qkv[l & 1];
    int keep = p->k + 1 < p->n->num_exits;
    float scale = 1.0f / sqrtf((float)d);
    float *scores = p->a.scores + (size_t)r0 * N;
    for (int h = 0; h < H; h++) {
        size_t ch = (size_t)l * H + h;
        float *lg = keep ? p->a.stack + (ch * N + r0) * N : scores;
        if (p->up)
            memcpy(lg, p->a.adds + (ch * N + r0) * N, (size_t)rows * N * sizeof(float));
        vit_gemm(rows, N, d, scale, qkv + (size_t)r0 * ld + h * d, ld, qkv + D + h * d, ld, 1, NULL,
                 p->up != NULL, lg, N);
        if (keep)
            memcpy(scores, lg, (size_t)rows * N * sizeof(float));
        vit_softmax_rows(rows, N, scores, N);
        vit_gemm(rows, d, N, 1.0f, scores, N, qkv + 2 * D + h * d, ld, 0, NULL, 0,
                 p->a.attn + (size_t)r0 * D + h * d, D);
    }
}

static void block_task(void *ctx, int task, int num_tasks)
{
    const vit_dvt_pass *p = ctx;
    const vit_dvt_exit *e = p->e;
    const vit_dvt_block *blk = &e->blocks[p->layer];
    int D = e->dim, Hd = e->hidden, ld = e->ld, r0, r1;
    vit_split_range(e->tokens, num_tasks, task, &r0, &r1);
    int rows = r1 - r0;
    if (rows <= 0)
        return;
    float *x = p->x + (size_t)r0 * ld, *xn = p->a.xn + (size_t)r0 * ld;
    float *h = p->a.hidden + (size_t)r0 * Hd;
    attention_rows(p, p->layer, r0, r1);
    vit_linear(rows, D, D, p->a.attn + (size_t)r0 * D, D, blk->proj_w, blk->proj_b, 1.0f, x, ld);
    vit_layernorm_rows(rows, ld, x, ld, blk->norm2_w, blk->norm2_b, p->n->eps, xn, ld);
    vit_linear_gelu(rows, Hd, ld, xn, ld, blk->fc1_w, blk->fc1_b, h, Hd);
    vit_linear(rows, D, Hd, h, Hd, blk->fc2_w, blk->fc2_b, 1.0f, x, ld);
    if (p->layer + 1 < e->depth)
        qkv_rows(p, p->layer + 1, r0, r1);
}

/* Final norm on the cls token and the head; returns the top softmax probability. */
static float head(const vit_dvt_pass *p, float *logits)
{
    const vit_dvt_exit *e = p->e;
    int K = p->n->num_classes;
    vit_layernorm_rows(1, e->dim, p->x, e->ld, e->norm_w, e->norm_b, p->n->eps, p->a.feat, e->dim);
    vit_linear(1, K, e->dim, p->a.feat, e->dim, e->head_w, e->head_b, 0.0f, logits, K);
    memcpy(p->a.probs, logits, (size_t)K * sizeof(float));
    vit_softmax_rows(1, K, p->a.probs, K);
    float best = p->a.probs[0];
    for (int c = 1; c < K; c++)
        best = p->a.probs[c] > best ? p->a.probs[c] : best;
    return best;
}

/* Threads for a run over `rows` rows: at least MIN_ROWS_PER_PART each, since splitting the
 * 17 tokens of a 4x4 exit buys nothing but the pool's hand-off and wake-up. */
#define MIN_ROWS_PER_PART 16

static int parts_for(const vit_run *run, int rows)
{
    int parts = rows / MIN_ROWS_PER_PART;
    return parts < 1 ? 1 : parts < run->threads ? parts : run->threads;
}

int vit_dvt_run(const vit_model *m, vit_run *run, const float *chw)
{
    vit_dvt_pass p = {.n = m->net, .chw = chw};
    vit_dvt_layout(p.n, run->arena, &p.a);
    for (p.k = 0; p.k < p.n->num_exits; p.k++) {
        p.e = &p.n->exits[p.k];
        p.up = p.k > 0 ? &p.n->exits[p.k - 1] : NULL;
        p.x = p.a.xc[p.k & 1];
        p.x_up = p.a.xc[(p.k + 1) & 1];
        if (p.up) {
            vit_threadpool_run(run->pool, parts_for(run, p.up->tokens), reuse_task, &p);
            vit_threadpool_run(run->pool, parts_for(run, p.e->rel_out * p.up->tokens),
                               relation_keys_task, &p);
        }
        vit_patch_embed_run_stem(&p.e->pe, run->pool, run->threads, chw, p.a.stem_map);
        int parts = parts_for(run, p.e->tokens);
        vit_threadpool_run(run->pool, parts, embed_task, &p);
        for (p.layer = 0; p.layer < p.e->depth; p.layer++)
            vit_threadpool_run(run->pool, parts, block_task, &p);
        float confidence = head(&p, run->logits);
        if (p.k + 1 < p.n->num_exits && confidence >= run->exit_thresholds[p.k])
            return p.k;
    }
    return p.n->num_exits - 1;
}
