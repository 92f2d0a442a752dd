/* sret.c — SReT, the Sliced Recursive Transformer (szq0214/SReT key names): conv stem
 * with BatchNorm folded at load, a 2-D position embedding, stages of recursively applied blocks
 * with group attention and learned residual coefficients, depthwise downsampling between
 * stages, average pool + LayerNorm + Linear head (maths: ../../shared/MODELS.md "SReT").
 *
 * A stage's state-dict list `transformers.s.blocks.i` holds, for each unique block u and each
 * loop l (loops = depth / recursive_num): [block u, NLL layer]. A block is
 *     x = c1*x + c2*GroupAttn(LN1(x));  x = c3*x + c4*Mlp(LN2(x))
 * and an NLL layer x = c1*x + c2*Mlp(LN1(x)). Entry i is a "recursive pass" when (i+2) % 4 == 0
 * (the official rule); it uses groups2[s] groups, the others groups1[s]. A shared block's tensors
 * appear under each of its indices: they are read once (the first index) and every other copy
 * is checked equal, so a file whose copies disagree is refused, naming both tensors.
 *
 * The permutation: the official code draws a new torch.randperm on every recursive pass, even at
 * inference, so its outputs are random. vitd makes it part of the model instead: an int64 (or
 * int32) tensor `transformers.s.blocks.i.attn.perm` [N] for every recursive-pass block entry
 * with more than one group (tools/ref/sret.py writes it); the same input always gives the same
 * logits. A missing permutation is an error.
 *
 * model_args: img_size, in_chans, base_dims, heads, depth, recursive_num, groups1, groups2,
 * mlp_ratio, np_mlp_ratio (defaults: the sret_tiny / sret_large_tiny / sret_small tables), and
 * vitd's stem_strides (default [2,2,2]; small-image models use e.g. [2,1,1]).
 *
 * This file reads the config and the tensors into the description of sret.h; sret_run.c runs
 * it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "families/metaformer.h"
#include "families/sret.h"

typedef struct vit_sret_args {
    int num_stages, base_dims[SRET_MAX_STAGES], heads[SRET_MAX_STAGES], depth[SRET_MAX_STAGES],
        recursive_num[SRET_MAX_STAGES], groups1[SRET_MAX_STAGES], groups2[SRET_MAX_STAGES];
    double mlp_ratio, np_mlp_ratio;
    int stem_strides[3];
} vit_sret_args;

static const char *const vit_sret_patterns[] = {"sret_*", NULL};

/* ---- configuration ----------------------------------------------------------------------- */

static const struct {
    const char *name;
    int base;
    int heads0;
    double mlp_ratio, np_mlp_ratio;
} arch_defaults[] = {
    {"sret_tiny", 32, 2, 3.6, 1.0},
    {"sret_large_tiny", 32, 2, 4.0, 1.0},
    {"sret_small", 42, 3, 3.0, 2.0},
};

/* The official tables: SReT-T / -LT / -S, three stages, [8,2][4,1][1,1]. */
static void default_args(const char *arch, vit_sret_args *a)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof(arch_defaults) / sizeof(arch_defaults[0]); i++)
        if (!strncmp(arch, arch_defaults[i].name, strlen(arch_defaults[i].name)))
            k = i;
    static const int depth[] = {4, 10, 6}, rec[] = {2, 5, 3}, g1[] = {8, 4, 1}, g2[] = {2, 1, 1};
    a->num_stages = 3;
    for (int s = 0; s < 3; s++) {
        a->base_dims[s] = arch_defaults[k].base;
        a->heads[s] = arch_defaults[k].heads0 << s;
        a->depth[s] = depth[s];
        a->recursive_num[s] = rec[s];
        a->groups1[s] = g1[s];
        a->groups2[s] = g2[s];
    }
    a->mlp_ratio = arch_defaults[k].mlp_ratio;
    a->np_mlp_ratio = arch_defaults[k].np_mlp_ratio;
    for (int i = 0; i < 3; i++)
        a->stem_strides[i] = 2;
}

static int arg_list(const vit_model *m, const char *key, int *out, int lo, int hi, int *n,
                    vit_error *err)
{
    int got = 0;
    int r = vit_mf_config_int_list(m, key, out, SRET_MAX_STAGES, lo, hi, &got, err);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (*n && got != *n)
        return vit_errorf(err, -EINVAL,
                          "%s: model_args.%s has %d entries, not %d (one per "
                          "stage)",
                          m->config.source, key, got, *n);
    *n = got;
    return 0;
}

static int arg_ratio(const vit_model *m, const char *key, double *ret, vit_error *err)
{
    json_t *args = m->config.model_args;
    json_t *v = args ? json_object_get(args, key) : NULL;
    if (!v || json_is_null(v))
        return 0;
    double d = json_number_value(v);
    if (!json_is_number(v) || !(d > 0.0) || d > 64.0)
        return vit_errorf(err, -EINVAL, "%s: model_args.%s must be a number in (0, 64]",
                          m->config.source, key);
    *ret = d;
    return 0;
}

static int read_args(const vit_model *m, vit_sret_args *a, vit_error *err)
{
    default_args(m->config.architecture, a);
    int n = 0, r = 0;
    struct {
        const char *key;
        int *out, lo, hi;
    } lists[] = {
        {"base_dims", a->base_dims, 1, 4096},   {"heads", a->heads, 1, 256},
        {"depth", a->depth, 1, SRET_MAX_DEPTH}, {"recursive_num", a->recursive_num, 1, 64},
        {"groups1", a->groups1, 1, 1 << 20},    {"groups2", a->groups2, 1, 1 << 20},
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]) && r == 0; i++)
        r = arg_list(m, lists[i].key, lists[i].out, lists[i].lo, lists[i].hi, &n, err);
    if (r == 0 && n)
        a->num_stages = n;
    int got = 0;
    if (r == 0)
        r = vit_mf_config_int_list(m, "stem_strides", a->stem_strides, 3, 1, 2, &got, err);
    if (r == -ENOENT)
        r = 0;
    else if (r == 0 && got != 3)
        r = vit_errorf(err, -EINVAL, "%s: model_args.stem_strides needs 3 entries",
                       m->config.source);
    if (r == 0)
        r = arg_ratio(m, "mlp_ratio", &a->mlp_ratio, err);
    if (r == 0)
        r = arg_ratio(m, "np_mlp_ratio", &a->np_mlp_ratio, err);
    for (int s = 0; s < a->num_stages && r == 0; s++)
        if (a->depth[s] % a->recursive_num[s])
            r = vit_errorf(err, -EINVAL,
                           "%s: stage %d: depth %d is not a multiple of "
                           "recursive_num %d",
                           m->config.source, s, a->depth[s], a->recursive_num[s]);
    return r;
}

/* ---- building ---------------------------------------------------------------------------- */

/* Reads a stem conv + BatchNorm and folds the BN into weights stored at *store. */
static int build_stem_conv(vit_binder *b, vit_sret_net *n, int i, int cin, int cout, int stride,
                           float **store)
{
    vit_conv2d *c = &n->stem[i];
    int r = vit_mf_get_conv(b, c, cin, cout, stride, 1, 1, 1, "patch_embed.conv%d", i + 1);
    if (r < 0)
        return r;
    if (c->kh != 3)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor patch_embed.conv%d.weight: SReT's stem "
                          "convs are 3x3",
                          b->model->weights->path, i + 1);
    const float *g, *be, *mean, *var;
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    const float **dst[] = {&g, &be, &mean, &var};
    for (int k = 0; k < 4; k++) {
        r = vit_binder_get(b, dst[k], VIT_SHAPE(cout), "patch_embed.bn%d.%s", i + 1, parts[k]);
        if (r < 0)
            return r;
    }
    vit_binder_ignore(b, "patch_embed.bn%d.num_batches_tracked", i + 1);
    size_t nw = vit_conv2d_weight_floats(c);
    vit_conv2d_fold_bn(c, g, be, mean, var, 1e-5f, *store, *store + nw);
    *store += nw + (size_t)cout;
    return 0;
}

static int build_stem(vit_binder *b, vit_sret_net *n, const vit_sret_args *a, int C0)
{
    const vit_st_tensor *w1 = vit_binder_peek(b, "patch_embed.conv1.weight");
    if (!w1 || w1->ndim != 4 || w1->shape[1] < 1 || w1->shape[1] > 4)
        return vit_binder_get(b, NULL, VIT_SHAPE(C0 / 2, -1, 3, 3), "patch_embed.conv1.weight");
    n->in_chans = (int)w1->shape[1];
    if (C0 % 2)
        return vit_errorf(b->err, -EINVAL, "%s: stage 0 width %d is odd (the stem halves it)",
                          b->model->config.source, C0);
    size_t total = (size_t)C0 / 2 * (n->in_chans * 9 + 1) + (size_t)C0 * (C0 / 2 * 9 + 1) +
                   (size_t)C0 * (C0 * 9 + 1);
    n->folded = malloc(total * sizeof(float));
    if (!n->folded)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    float *store = n->folded;
    int cin[] = {n->in_chans, C0 / 2, C0}, cout[] = {C0 / 2, C0, C0};
    for (int i = 0; i < 3; i++) {
        int r = build_stem_conv(b, n, i, cin[i], cout[i], a->stem_strides[i], &store);
        if (r < 0)
            return r;
        n->stem_h[i + 1] = vit_conv_out_size(n->stem_h[i], 3, a->stem_strides[i], 1);
        n->stem_w[i + 1] = vit_conv_out_size(n->stem_w[i], 3, a->stem_strides[i], 1);
    }
    return 0;
}

/* Tensors of a block (shapes filled per stage) and of an NLL layer. */
typedef struct tensor_spec {
    const char *suffix;
    int64_t shape[2];
    int ndim;
} tensor_spec;

/* Reads tensor `suffix` of entry i; for a later pass of a shared block (i != first) checks it
 * equals the first copy. */
static int get_shared(vit_binder *b, int s, int first, int i, const tensor_spec *t,
                      const float **ret)
{
    int r = vit_binder_get(b, ret, t->ndim, t->shape, "transformers.%d.blocks.%d.%s", s, first,
                           t->suffix);
    if (r < 0 || i == first)
        return r;
    const float *copy;
    r = vit_binder_get(b, &copy, t->ndim, t->shape, "transformers.%d.blocks.%d.%s", s, i,
                       t->suffix);
    if (r < 0)
        return r;
    size_t count = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
    if (memcmp(*ret, copy, count * sizeof(float)))
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensors transformers.%d.blocks.%d.%s and "
                          "transformers.%d.blocks.%d.%s are one shared block's but differ",
                          b->model->weights->path, s, first, t->suffix, s, i, t->suffix);
    return 0;
}

static int read_perm(vit_binder *b, int s, int i, int N, int32_t **ret)
{
    char name[96];
    snprintf(name, sizeof(name), "transformers.%d.blocks.%d.attn.perm", s, i);
    const vit_safetensors *st = b->model->weights;
    const vit_st_tensor *t = vit_safetensors_find(st, name);
    if (!t)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor %s is missing: a recursive pass with "
                          "groups needs its fixed token permutation (vitd stores it; see "
                          "tools/ref/sret.py)",
                          st->path, name);
    if ((t->dtype != VIT_ST_I64 && t->dtype != VIT_ST_I32) || t->ndim != 1 || t->shape[0] != N)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor %s must be I64 or I32 [%d], not %s of "
                          "%d dims",
                          st->path, name, N, vit_st_dtype_name(t->dtype), t->ndim);
    int32_t *p = malloc((size_t)N * sizeof(int32_t));
    if (!p)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    const uint8_t *src = st->map + t->begin;
    for (int k = 0; k < N; k++) {
        int64_t v;
        if (t->dtype == VIT_ST_I64) {
            memcpy(&v, src + (size_t)k * 8, 8);
        } else {
            int32_t v32;
            memcpy(&v32, src + (size_t)k * 4, 4);
            v = v32;
        }
        p[k] = v < 0 || v >= N ? -1 : (int32_t)v; /* -1: rejected by the permutation check */
    }
    vit_binder_mark(b, t);
    *ret = p;
    return 0;
}

static int get_scalar(vit_binder *b, int s, int first, int i, const char *suffix, float *ret)
{
    tensor_spec t = {suffix, {1, 0}, 1};
    const float *v;
    int r = get_shared(b, s, first, i, &t, &v);
    if (r == 0)
        *ret = *v;
    return r;
}

static int build_block_entry(vit_binder *b, vit_sret_stage *st, int s, int i, int first, int groups,
                             int recursive, int hidden)
{
    vit_sret_entry *e = &st->entries[i];
    int64_t C = st->C, H = hidden;
    const tensor_spec specs[] = {
        {"norm1.weight", {C}, 1},           {"norm1.bias", {C}, 1},
        {"attn.qkv.weight", {3 * C, C}, 2}, {"attn.qkv.bias", {3 * C}, 1},
        {"attn.proj.weight", {C, C}, 2},    {"attn.proj.bias", {C}, 1},
        {"norm2.weight", {C}, 1},           {"norm2.bias", {C}, 1},
        {"mlp.fc1.weight", {H, C}, 2},      {"mlp.fc1.bias", {H}, 1},
        {"mlp.fc2.weight", {C, H}, 2},      {"mlp.fc2.bias", {C}, 1},
    };
    vit_group_attention *ga = &e->attn;
    vit_sret_mlp *m = &e->mlp;
    const float **dst[] = {&ga->norm_w, &ga->norm_b, &ga->qkv_w, &ga->qkv_b,
                           &ga->proj_w, &ga->proj_b, &m->norm_w, &m->norm_b,
                           &m->fc1_w,   &m->fc1_b,   &m->fc2_w,  &m->fc2_b};
    for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
        int r = get_shared(b, s, first, i, &specs[k], dst[k]);
        if (r < 0)
            return r;
    }
    float c[4];
    for (int k = 0; k < 4; k++) {
        char suffix[32];
        snprintf(suffix, sizeof(suffix), "coefficient%d.bias", k + 1);
        int r = get_scalar(b, s, first, i, suffix, &c[k]);
        if (r < 0)
            return r;
    }
    e->is_block = 1;
    e->c1 = c[0];
    e->c2 = c[1];
    m->a = c[2];
    m->b = c[3];
    m->hidden = hidden;
    ga->tokens = st->N;
    ga->dim = st->C;
    ga->heads = st->heads;
    ga->groups = groups;
    ga->norm_eps = 1e-6f;
    if (recursive && groups > 1) {
        int r = read_perm(b, s, i, st->N, &e->perm);
        if (r < 0)
            return r;
        ga->perm = e->perm;
    } else {
        vit_binder_ignore(b, "transformers.%d.blocks.%d.attn.perm", s,
                          i); /* one group: no effect */
    }
    char what[VIT_ERROR_NAME_MAX + 64];
    snprintf(what, sizeof(what), "%.*s: transformers.%d.blocks.%d", VIT_ERROR_NAME_MAX,
             b->model->weights->path, s, i);
    return vit_group_attention_check(ga, what, b->err);
}

static int build_nll_entry(vit_binder *b, vit_sret_stage *st, int s, int i, int hidden)
{
    vit_sret_mlp *m = &st->entries[i].mlp;
    int64_t C = st->C, H = hidden;
    m->hidden = hidden;
    int r =
        vit_binder_get(b, &m->norm_w, VIT_SHAPE(C), "transformers.%d.blocks.%d.norm1.weight", s, i);
    if (r == 0)
        r = vit_binder_get(b, &m->norm_b, VIT_SHAPE(C), "transformers.%d.blocks.%d.norm1.bias", s,
                           i);
    if (r == 0)
        r = vit_binder_get(b, &m->fc1_w, VIT_SHAPE(H, C),
                           "transformers.%d.blocks.%d.mlp.fc1.weight", s, i);
    if (r == 0)
        r = vit_binder_get(b, &m->fc1_b, VIT_SHAPE(H), "transformers.%d.blocks.%d.mlp.fc1.bias", s,
                           i);
    if (r == 0)
        r = vit_binder_get(b, &m->fc2_w, VIT_SHAPE(C, H),
                           "transformers.%d.blocks.%d.mlp.fc2.weight", s, i);
    if (r == 0)
        r = vit_binder_get(b, &m->fc2_b, VIT_SHAPE(C), "transformers.%d.blocks.%d.mlp.fc2.bias", s,
                           i);
    if (r == 0)
        r = get_scalar(b, s, i, i, "coefficient1.bias", &m->a);
    if (r == 0)
        r = get_scalar(b, s, i, i, "coefficient2.bias", &m->b);
    return r;
}

static int build_stage(vit_binder *b, vit_sret_net *n, const vit_sret_args *a, int s, int H, int W)
{
    vit_sret_stage *st = &n->stages[s];
    st->C = a->base_dims[s] * a->heads[s];
    st->heads = a->heads[s];
    st->H = H;
    st->W = W;
    st->N = H * W;
    st->num_entries = 2 * a->depth[s];
    st->entries = calloc((size_t)st->num_entries, sizeof(vit_sret_entry));
    if (!st->entries)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    int loops = a->depth[s] / a->recursive_num[s];
    int hidden = (int)((double)st->C * a->mlp_ratio); /* Python's int(dim * ratio) */
    int np_hidden = (int)((double)st->C * a->np_mlp_ratio);
    if (hidden < 1 || np_hidden < 1)
        return vit_errorf(b->err, -EINVAL, "%s: stage %d: MLP width below 1",
                          b->model->config.source, s);
    st->max_hidden = hidden > np_hidden ? hidden : np_hidden;
    for (int i = 0; i < st->num_entries; i++) {
        int r;
        if (i % 2) {
            r = build_nll_entry(b, st, s, i, np_hidden);
        } else {
            int pass = i / 2, first = 2 * (pass / loops * loops), recursive = (i + 2) % 4 == 0;
            int groups = recursive ? a->groups2[s] : a->groups1[s];
            if (st->N % groups)
                return vit_errorf(b->err, -EINVAL,
                                  "%s: stage %d: %d tokens (%dx%d) do not "
                                  "split into %d groups",
                                  b->model->config.source, s, st->N, H, W, groups);
            r = build_block_entry(b, st, s, i, first, groups, recursive, hidden);
        }
        if (r < 0)
            return r;
    }
    if (s + 1 < a->num_stages) {
        int next = a->base_dims[s + 1] * a->heads[s + 1];
        if (next % st->C)
            return vit_errorf(b->err, -EINVAL,
                              "%s: stage %d width %d is not a multiple of "
                              "stage %d's %d (depthwise downsampling)",
                              b->model->config.source, s + 1, next, s, st->C);
        st->has_pool = 1;
        int r = vit_mf_get_conv(b, &st->pool, st->C, next, 2, 1, st->C, 1, "pools.%d.conv", s);
        if (r < 0)
            return r;
        if (st->pool.kh != 3)
            return vit_errorf(b->err, -EINVAL,
                              "%s: tensor pools.%d.conv.weight: need a 3x3 "
                              "kernel",
                              b->model->weights->path, s);
    }
    return 0;
}

static int build_head(vit_binder *b, vit_sret_net *n, int C)
{
    const vit_st_tensor *hw = vit_binder_peek(b, "head.weight");
    if (!hw || hw->ndim != 2 || hw->shape[0] < 1 || hw->shape[0] > 1000000)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, C), "head.weight");
    n->num_classes = (int)hw->shape[0];
    int64_t K = n->num_classes;
    int r = vit_binder_get(b, &n->head_w, VIT_SHAPE(K, C), "head.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->head_b, VIT_SHAPE(K), "head.bias");
    if (r == 0)
        r = vit_binder_get(b, &n->norm_w, VIT_SHAPE(C), "norm.weight");
    if (r == 0)
        r = vit_binder_get(b, &n->norm_b, VIT_SHAPE(C), "norm.bias");
    return r;
}

static int build_net(vit_binder *b, vit_sret_net *n)
{
    vit_model *m = b->model;
    vit_sret_args a;
    int r = read_args(m, &a, b->err);
    if (r < 0)
        return r;
    n->num_stages = a.num_stages;
    int C0 = a.base_dims[0] * a.heads[0],
        Cl = a.base_dims[a.num_stages - 1] * a.heads[a.num_stages - 1];
    const vit_st_tensor *w1 = vit_binder_peek(b, "patch_embed.conv1.weight");
    n->in_chans = w1 && w1->ndim == 4 ? (int)w1->shape[1] : 3;
    r = build_head(b, n, Cl);
    if (r == 0)
        r = vit_mf_input_size(m, n->in_chans, 224, n->num_classes, &n->img_h, &n->img_w, b->err);
    if (r < 0)
        return r;
    n->stem_h[0] = n->img_h;
    n->stem_w[0] = n->img_w;
    r = build_stem(b, n, &a, C0);
    if (r < 0)
        return r;
    int H = n->stem_h[3], W = n->stem_w[3];
    r = vit_binder_get(b, &n->pos_embed, VIT_SHAPE(1, C0, H, W), "pos_embed");
    for (int s = 0; s < a.num_stages && r == 0; s++) {
        r = build_stage(b, n, &a, s, H, W);
        H = vit_conv_out_size(H, 3, 2, 1);
        W = vit_conv_out_size(W, 3, 2, 1);
    }
    return r;
}

static double vit_sret_gflops(const vit_sret_net *n)
{
    double macs = 0;
    for (int i = 0; i < 3; i++)
        macs += vit_conv2d_macs(&n->stem[i], n->stem_h[i], n->stem_w[i]);
    for (int s = 0; s < n->num_stages; s++) {
        const vit_sret_stage *st = &n->stages[s];
        for (int i = 0; i < st->num_entries; i++) {
            const vit_sret_entry *e = &st->entries[i];
            if (e->is_block)
                macs += vit_group_attention_macs(&e->attn);
            macs += 2.0 * st->N * st->C * e->mlp.hidden;
        }
        if (st->has_pool)
            macs += vit_conv2d_macs(&st->pool, st->H, st->W);
    }
    macs += (double)n->stages[n->num_stages - 1].C * n->num_classes;
    return 2.0 * macs * 1e-9;
}

static void vit_sret_destroy(void *net)
{
    vit_sret_net *n = net;
    if (!n)
        return;
    for (int s = 0; s < SRET_MAX_STAGES; s++) {
        for (int i = 0; n->stages[s].entries && i < n->stages[s].num_entries; i++)
            free(n->stages[s].entries[i].perm);
        free(n->stages[s].entries);
    }
    free(n->folded);
    free(n);
}

static int vit_sret_build(vit_model *m, vit_error *err)
{
    vit_sret_net *n = calloc(1, sizeof(*n));
    vit_binder b;
    int r = n ? vit_binder_init(&b, m, err) : vit_errorf(err, -ENOMEM, "out of memory");
    if (r < 0) {
        free(n);
        return r;
    }
    r = build_net(&b, n);
    if (r == 0)
        r = vit_mf_check_all_used(&b, "SReT");
    vit_binder_clear(&b);
    if (r < 0) {
        vit_sret_destroy(n);
        return r;
    }
    m->net = n;
    m->input_c = n->in_chans;
    m->input_h = n->img_h;
    m->input_w = n->img_w;
    m->num_classes = n->num_classes;
    m->num_exits = 1;
    m->exit_gflops[0] = vit_sret_gflops(n);
    return 0;
}

const vit_family vit_family_sret = {
    .name = "sret",
    .patterns = vit_sret_patterns,
    .build = vit_sret_build,
    .destroy = vit_sret_destroy,
    .arena_bytes = vit_sret_arena_bytes,
    .run = vit_sret_run,
};
