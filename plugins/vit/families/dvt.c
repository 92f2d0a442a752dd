/* dvt.c — the DVT early-exit cascade (architecture "dvt_cascade", tools/train/dvt.py):
 * building the network description from config.json and the weights, and its cost.
 *
 * The exits' shapes come from config.json model_args.exits (patch_size, embed_dim, depth,
 * num_heads, optional stem_chans; hidden width and class count from the tensors; an exit's
 * conv stem, exits.K.patch_embed.stem.*, is found from the tensors and checked against
 * stem_chans when the config gives it); every tensor is then checked
 * against them under its exits.K. prefix, and a tensor left unused is an error, so a file of
 * another variant fails at open instead of running wrong. The forward pass is dvt_run.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/cascade_config.h"
#include "families/dvt.h"
#include "core/binder.h"
#include "core/error.h"

static const char *const vit_dvt_patterns[] = {"dvt_cascade", NULL};

/* ---- model_args ---------------------------------------------------------------------------- */

static int arg_int(const vit_config *cfg, json_t *obj, int k, const char *key, int lo, int hi,
                   int *ret, vit_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return -ENOENT;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return vit_errorf(err, -EINVAL,
                          "%s: model_args.exits[%d].%s must be an integer in "
                          "[%d, %d]",
                          cfg->source, k, key, lo, hi);
    *ret = (int)json_integer_value(v);
    return 0;
}

static int top_int(const vit_config *cfg, const char *key, int dflt, int *ret, vit_error *err)
{
    int r = vit_config_arg_int(cfg, key, ret, err);
    if (r == -ENOENT)
        *ret = dflt;
    else if (r < 0)
        return r;
    if (*ret < 1 || *ret > 65536)
        return vit_errorf(err, -EINVAL, "%s: model_args.%s out of range", cfg->source, key);
    return 0;
}

static int parse_exit_args(const vit_config *cfg, json_t *obj, int k, vit_dvt_net *n,
                           vit_error *err)
{
    vit_dvt_exit *e = &n->exits[k];
    if (!json_is_object(obj))
        return vit_errorf(err, -EINVAL, "%s: model_args.exits[%d] is not an object", cfg->source,
                          k);
    static const char *const keys[] = {"patch_size", "embed_dim", "depth", "num_heads"};
    int *fields[] = {&e->patch, &e->dim, &e->depth, &e->heads};
    const int hi[] = {1024, 65536, 1000, 1024};
    for (int i = 0; i < 4; i++) {
        int r = arg_int(cfg, obj, k, keys[i], 1, hi[i], fields[i], err);
        if (r == -ENOENT)
            return vit_errorf(err, -EINVAL, "%s: model_args.exits[%d] has no %s", cfg->source, k,
                              keys[i]);
        if (r < 0)
            return r;
    }
    int img = 0;
    int r = arg_int(cfg, obj, k, "img_size", 1, 8192, &img, err);
    if (r == 0 && n->img && img != n->img)
        return vit_errorf(err, -EINVAL,
                          "%s: model_args.exits[%d].img_size %d differs from the "
                          "other exits' %d (all exits see the same image)",
                          cfg->source, k, img, n->img);
    if (r == 0)
        n->img = img;
    else if (r != -ENOENT)
        return r;
    r = arg_int(cfg, obj, k, "stem_chans", 0, 65536, &e->cfg_stem_chans, err);
    if (r == -ENOENT)
        e->cfg_stem_chans = -1;
    else if (r < 0)
        return r;
    if (e->dim % e->heads)
        return vit_errorf(err, -EINVAL,
                          "%s: model_args.exits[%d]: %d heads do not divide "
                          "embed_dim %d",
                          cfg->source, k, e->heads, e->dim);
    return 0;
}

static int parse_args(const vit_config *cfg, vit_dvt_net *n, vit_error *err)
{
    json_t *exits = cfg->model_args ? json_object_get(cfg->model_args, "exits") : NULL;
    if (!json_is_array(exits) || json_array_size(exits) < 1 ||
        json_array_size(exits) > VIT_MAX_EXITS)
        return vit_errorf(err, -EINVAL,
                          "%s: dvt_cascade needs model_args.exits, an array of 1 "
                          "to %d exits",
                          cfg->source, VIT_MAX_EXITS);
    n->num_exits = (int)json_array_size(exits);
    for (int k = 0; k < n->num_exits; k++) {
        int r = parse_exit_args(cfg, json_array_get(exits, (size_t)k), k, n, err);
        if (r < 0)
            return r;
    }
    if (!n->img && cfg->input_h > 0 && cfg->input_h == cfg->input_w)
        n->img = cfg->input_h;
    if (!n->img)
        return vit_errorf(err, -EINVAL,
                          "%s: no image size (model_args.exits[].img_size or "
                          "pretrained_cfg.input_size)",
                          cfg->source);
    int r = top_int(cfg, "ctx_hidden", 128, &n->ctx_hidden, err);
    if (r == 0)
        r = top_int(cfg, "ctx_dim", 48, &n->ctx_dim, err);
    if (r < 0)
        return r;
    json_t *eps = json_object_get(cfg->model_args, "ln_eps");
    n->eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-6f;
    if (!(n->eps > 0.0f && n->eps < 1.0f))
        return vit_errorf(err, -EINVAL, "%s: model_args.ln_eps out of range", cfg->source);
    for (int k = 0; k < n->num_exits; k++) {
        vit_dvt_exit *e = &n->exits[k];
        e->grid = n->img / e->patch;
        if (e->grid < 1 || e->grid > DVT_MAX_GRID)
            return vit_errorf(err, -EINVAL,
                              "%s: exit %d: a %dx%d image in %d-pixel patches "
                              "gives a token grid outside [1, %d]",
                              cfg->source, k, n->img, n->img, e->patch, DVT_MAX_GRID);
        e->tokens = 1 + e->grid * e->grid;
        e->ctx = k > 0 ? n->ctx_dim : 0;
        e->ld = e->dim + e->ctx;
        if (k > 0) {
            const vit_dvt_exit *up = &n->exits[k - 1];
            e->rel_in = up->heads * up->depth;
            e->rel_mid = 3 * e->rel_in;
            e->rel_out = e->heads * e->depth;
            vit_dvt_resize_init(&e->resize, up->grid, e->grid);
            size_t cells = (size_t)e->grid * e->grid * up->grid * up->grid;
            if (!(e->resize2d = malloc(cells * sizeof(float))))
                return vit_errorf(err, -ENOMEM, "out of memory");
            vit_dvt_resize_matrix(&e->resize, e->resize2d);
        }
    }
    return 0;
}

/* ---- tensors ------------------------------------------------------------------------------ */

/* A tensor whose shape the build reads sizes from: missing, or present but unusable. */
static int bad_tensor(vit_binder *b, const char *name)
{
    if (!vit_safetensors_find(b->model->weights, name))
        return vit_errorf(b->err, -ENOENT, "%s: tensor %s is missing", b->model->weights->path,
                          name);
    return vit_errorf(b->err, -EINVAL, "%s: tensor %s has an unsupported shape",
                      b->model->weights->path, name);
}

static int build_block(vit_binder *b, vit_dvt_exit *e, int k, int i)
{
    vit_dvt_block *blk = &e->blocks[i];
    int64_t D = e->dim, L = e->ld, H = e->hidden;
    char pre[64];
    snprintf(pre, sizeof(pre), "exits.%d.blocks.%d.", k, i);
    struct {
        const float **field;
        const char *key;
        int ndim;
        int64_t shape[2];
    } t[] = {
        {&blk->norm1_w, "norm1.weight", 1, {D}},         {&blk->norm1_b, "norm1.bias", 1, {D}},
        {&blk->qkv_w, "attn.qkv.weight", 2, {3 * D, D}}, {&blk->qkv_b, "attn.qkv.bias", 1, {3 * D}},
        {&blk->proj_w, "attn.proj.weight", 2, {D, D}},   {&blk->proj_b, "attn.proj.bias", 1, {D}},
        {&blk->norm2_w, "norm2.weight", 1, {L}},         {&blk->norm2_b, "norm2.bias", 1, {L}},
        {&blk->fc1_w, "mlp.fc1.weight", 2, {H, L}},      {&blk->fc1_b, "mlp.fc1.bias", 1, {H}},
        {&blk->fc2_w, "mlp.fc2.weight", 2, {D, H}},      {&blk->fc2_b, "mlp.fc2.bias", 1, {D}},
    };
    int r = 0;
    for (size_t j = 0; r == 0 && j < sizeof(t) / sizeof(t[0]); j++)
        r = vit_binder_get(b, t[j].field, t[j].ndim, t[j].shape, "%s%s", pre, t[j].key);
    return r;
}

static int build_reuse(vit_binder *b, vit_dvt_net *n, int k)
{
    vit_dvt_exit *e = &n->exits[k];
    int64_t Du = n->exits[k - 1].dim, CH = n->ctx_hidden, CD = n->ctx_dim;
    int64_t RI = e->rel_in, RM = e->rel_mid, RO = e->rel_out;
    struct {
        const float **field;
        const char *key;
        int ndim;
        int64_t shape[4];
    } t[] = {
        {&e->fr_norm_w, "feature_reuse.norm.weight", 1, {Du}},
        {&e->fr_norm_b, "feature_reuse.norm.bias", 1, {Du}},
        {&e->fr_fc1_w, "feature_reuse.fc1.weight", 2, {CH, Du}},
        {&e->fr_fc1_b, "feature_reuse.fc1.bias", 1, {CH}},
        {&e->fr_fc2_w, "feature_reuse.fc2.weight", 2, {CD, CH}},
        {&e->fr_fc2_b, "feature_reuse.fc2.bias", 1, {CD}},
        {&e->rr_conv1_w, "relation_reuse.conv1.weight", 4, {RM, RI, 1, 1}},
        {&e->rr_conv1_b, "relation_reuse.conv1.bias", 1, {RM}},
        {&e->rr_conv2_w, "relation_reuse.conv2.weight", 4, {RO, RM, 1, 1}},
        {&e->rr_conv2_b, "relation_reuse.conv2.bias", 1, {RO}},
    };
    int r = 0;
    for (size_t j = 0; r == 0 && j < sizeof(t) / sizeof(t[0]); j++)
        r = vit_binder_get(b, t[j].field, t[j].ndim, t[j].shape, "exits.%d.%s", k, t[j].key);
    return r;
}

/* Exit k's conv stem (if its tensors or its stem_chans say so) and patch conv. */
static int build_patch_embed(vit_binder *b, vit_dvt_net *n, int k)
{
    vit_dvt_exit *e = &n->exits[k];
    vit_patch_embed *pe = &e->pe;
    char prefix[32], key[64];
    snprintf(prefix, sizeof(prefix), "exits.%d.", k);
    snprintf(key, sizeof(key), "model_args.exits[%d].stem_chans", k);
    int r = vit_patch_embed_find_stem(pe, b, prefix, e->cfg_stem_chans, key);
    if (r < 0)
        return r;
    if (pe->stem_chans && pe->in_chans != n->in_chans)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor exits.%d.patch_embed.stem.weight reads %d channels, "
                          "the cascade's input has %d",
                          b->model->weights->path, k, pe->in_chans, n->in_chans);
    pe->in_chans = n->in_chans;
    pe->img_h = pe->img_w = n->img;
    pe->patch = e->patch;
    pe->grid_w = e->grid;
    pe->dim = e->dim;
    int64_t D = e->dim, P = e->patch, C = vit_patch_embed_proj_chans(pe);
    r = vit_binder_get(b, &pe->proj_w, VIT_SHAPE(D, C, P, P), "exits.%d.patch_embed.proj.weight",
                       k);
    if (r == 0)
        r = vit_binder_get(b, &pe->proj_b, VIT_SHAPE(D), "exits.%d.patch_embed.proj.bias", k);
    return r;
}

static int build_exit(vit_binder *b, vit_dvt_net *n, int k)
{
    vit_dvt_exit *e = &n->exits[k];
    const vit_safetensors *st = b->model->weights;
    char name[96];
    snprintf(name, sizeof(name), "exits.%d.blocks.0.mlp.fc1.weight", k);
    const vit_st_tensor *fc1 = vit_safetensors_find(st, name);
    if (fc1 && fc1->ndim == 2 && fc1->shape[0] >= 1 && fc1->shape[0] <= 1 << 20)
        e->hidden = (int)fc1->shape[0];
    else
        return bad_tensor(b, name);
    snprintf(name, sizeof(name), "exits.%d.head.weight", k);
    const vit_st_tensor *hw = vit_safetensors_find(st, name);
    if (!hw || hw->ndim != 2 || hw->shape[0] < 1 || hw->shape[0] > 1000000)
        return bad_tensor(b, name);
    if (k == 0)
        n->num_classes = (int)hw->shape[0];
    int r = build_patch_embed(b, n, k);
    if (r < 0)
        return r;
    int64_t D = e->dim, T = e->tokens, K = n->num_classes;
    r = vit_binder_get(b, &e->cls_token, VIT_SHAPE(1, 1, D), "exits.%d.cls_token", k);
    if (r == 0)
        r = vit_binder_get(b, &e->pos_embed, VIT_SHAPE(1, T, D), "exits.%d.pos_embed", k);
    if (r == 0)
        r = vit_binder_get(b, &e->norm_w, VIT_SHAPE(D), "exits.%d.norm.weight", k);
    if (r == 0)
        r = vit_binder_get(b, &e->norm_b, VIT_SHAPE(D), "exits.%d.norm.bias", k);
    if (r == 0)
        r = vit_binder_get(b, &e->head_w, VIT_SHAPE(K, D), "exits.%d.head.weight", k);
    if (r == 0)
        r = vit_binder_get(b, &e->head_b, VIT_SHAPE(K), "exits.%d.head.bias", k);
    if (r < 0)
        return r;
    e->blocks = calloc((size_t)e->depth, sizeof(vit_dvt_block));
    if (!e->blocks)
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    for (int i = 0; i < e->depth; i++)
        if ((r = build_block(b, e, k, i)) < 0)
            return r;
    return k > 0 ? build_reuse(b, n, k) : 0;
}

/* In channels (1 or 3) from exit 0's conv stem, else its patch conv; checked against
 * pretrained_cfg. */
static int input_channels(vit_binder *b, vit_dvt_net *n)
{
    const char *name = "exits.0.patch_embed.stem.weight";
    const vit_st_tensor *pw = vit_safetensors_find(b->model->weights, name);
    if (!pw) {
        name = "exits.0.patch_embed.proj.weight";
        pw = vit_safetensors_find(b->model->weights, name);
    }
    if (!pw || pw->ndim != 4 || (pw->shape[1] != 1 && pw->shape[1] != 3))
        return bad_tensor(b, name);
    n->in_chans = (int)pw->shape[1];
    const vit_config *cfg = &b->model->config;
    if (cfg->input_h > 0 &&
        (cfg->input_c != n->in_chans || cfg->input_h != n->img || cfg->input_w != n->img))
        return vit_errorf(b->err, -EINVAL,
                          "%s: pretrained_cfg.input_size [%d,%d,%d] does not "
                          "match the cascade's [%d,%d,%d]",
                          cfg->source, cfg->input_c, cfg->input_h, cfg->input_w, n->in_chans,
                          n->img, n->img);
    return 0;
}

/* ---- cost --------------------------------------------------------------------------------- */

double vit_dvt_exit_macs(const vit_dvt_net *n, int k)
{
    const vit_dvt_exit *e = &n->exits[k];
    double g2 = (double)e->grid * e->grid, N = e->tokens, D = e->dim, Hd = e->hidden;
    double macs = vit_patch_embed_macs(&e->pe, (int)g2);
    macs += e->depth * (N * 3 * D * D + 2 * N * N * D + N * D * D + N * e->ld * Hd + N * Hd * D);
    macs += D * n->num_classes;
    if (k > 0) {
        const vit_dvt_exit *up = &n->exits[k - 1];
        double Nu = up->tokens, hl = e->rel_in;
        macs += Nu * (up->dim * (double)n->ctx_hidden + (double)n->ctx_hidden * n->ctx_dim);
        macs += Nu * Nu * (hl * 3 * hl + 3 * hl * e->rel_out);
    }
    return macs;
}

/* ---- the family --------------------------------------------------------------------------- */

static void vit_dvt_destroy(void *net)
{
    vit_dvt_net *n = net;
    if (n)
        for (int k = 0; k < VIT_MAX_EXITS; k++) {
            free(n->exits[k].blocks);
            free(n->exits[k].resize2d);
        }
    free(n);
}

static int vit_dvt_build(vit_model *m, vit_error *err)
{
    vit_dvt_net *n = calloc(1, sizeof(*n));
    vit_binder b = {0};
    int r = n ? vit_binder_init(&b, m, err) : vit_errorf(err, -ENOMEM, "out of memory");
    if (r == 0)
        r = parse_args(&m->config, n, err);
    if (r == 0)
        r = input_channels(&b, n);
    for (int k = 0; r == 0 && k < n->num_exits; k++)
        r = build_exit(&b, n, k);
    if (r == 0)
        r = vit_binder_check_all_used(&b, "the dvt_cascade described by %s (unsupported variant)",
                                      m->config.source);
    if (r == 0 && m->config.num_classes > 0 && m->config.num_classes != n->num_classes)
        r = vit_errorf(err, -EINVAL,
                       "%s: num_classes is %d but tensor exits.0.head.weight has "
                       "%d rows",
                       m->config.source, m->config.num_classes, n->num_classes);
    vit_binder_clear(&b);
    if (r < 0) {
        vit_dvt_destroy(n);
        return r;
    }
    m->net = n;
    m->input_c = n->in_chans;
    m->input_h = m->input_w = n->img;
    m->num_classes = n->num_classes;
    m->num_exits = n->num_exits;
    double total = 0.0;
    for (int k = 0; k < n->num_exits; k++) {
        total += vit_dvt_exit_macs(n, k);
        m->exit_gflops[k] = 2.0 * total * 1e-9;
    }
    return vit_cascade_config_load(m, err);
}

const vit_family vit_family_dvt = {
    .name = "dvt",
    .patterns = vit_dvt_patterns,
    .build = vit_dvt_build,
    .destroy = vit_dvt_destroy,
    .arena_bytes = vit_dvt_arena_bytes,
    .run = vit_dvt_run,
};
