/* vit_embed.c — the ViT family's tokens at build: the patch embedding (with its optional conv
 * stem), class / distillation / register tokens, the image size the model runs at, and the
 * position embedding: whether it covers the prefix tokens (no_embed_class), its stored grid,
 * and its resampling to the run grid (antialiased bicubic, like timm's resample_abs_pos_embed
 * when a model runs at another size than it was trained at). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "families/vit.h"
#include "ops/preprocess.h"

/* A tensor the build reads sizes from, if present with ndim dims; not marked used. */
static const vit_st_tensor *peek(vit_binder *b, const char *name, int ndim)
{
    const vit_st_tensor *t = vit_binder_peek(b, "%s", name);
    return t && t->ndim == ndim ? t : NULL;
}

/* model_args boolean: 1 / 0, or dflt when absent; -EINVAL when not a boolean. */
int vit_arg_bool(const vit_config *cfg, const char *key, int dflt, vit_error *err)
{
    json_t *v = cfg->model_args ? json_object_get(cfg->model_args, key) : NULL;
    if (!v || json_is_null(v))
        return dflt;
    if (!json_is_boolean(v))
        return vit_errorf(err, -EINVAL, "%s: model_args.%s must be true or false", cfg->source,
                          key);
    return json_is_true(v);
}

/* ---- tokens and position embedding ------------------------------------------------------- */

/* The conv stem, when the file has one (checked against model_args.stem_chans). */
static int build_stem(vit_binder *b, vit_net *n)
{
    int cfg_stem = -1;
    int r = vit_config_arg_int(&b->model->config, "stem_chans", &cfg_stem, b->err);
    if (r == -ENOENT)
        cfg_stem = -1;
    else if (r < 0)
        return r;
    return vit_patch_embed_find_stem(&n->pe, b, "", cfg_stem, "model_args.stem_chans");
}

static int build_patch_embed(vit_binder *b, vit_net *n)
{
    int r = build_stem(b, n);
    if (r < 0)
        return r;
    const vit_st_tensor *pw = peek(b, "patch_embed.proj.weight", 4);
    if (!pw)
        return vit_binder_get(b, NULL, VIT_SHAPE(-1, -1, -1, -1), "patch_embed.proj.weight");
    int S = n->pe.stem_chans;
    if (pw->shape[2] != pw->shape[3] || pw->shape[2] < 1 || pw->shape[2] > 1024 ||
        (S ? pw->shape[1] != S : pw->shape[1] != 1 && pw->shape[1] != 3) || pw->shape[0] < 1 ||
        pw->shape[0] > 65536)
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor patch_embed.proj.weight: unsupported "
                          "shape (need [dim, %s, p, p])",
                          b->model->weights->path, S ? "stem_chans" : "1 or 3");
    n->dim = (int)pw->shape[0];
    n->in_chans = S ? n->pe.in_chans : (int)pw->shape[1];
    n->patch = (int)pw->shape[2];
    int64_t D = n->dim;
    r = vit_binder_get(b, &n->pe.proj_w, 4, pw->shape, "patch_embed.proj.weight");
    if (r == 0) /* CLIP's pre-norm models have no bias here */
        r = vit_binder_get_opt(b, &n->pe.proj_b, VIT_SHAPE(D), "patch_embed.proj.bias");
    if (r == 0)
        r = vit_binder_get_opt(b, &n->cls_token, VIT_SHAPE(1, 1, D), "cls_token");
    if (r == 0)
        r = vit_binder_get_opt(b, &n->dist_token, VIT_SHAPE(1, 1, D), "dist_token");
    const vit_st_tensor *reg = peek(b, "reg_token", 3);
    if (r == 0 && reg && reg->shape[1] >= 1 && reg->shape[1] <= 64) {
        n->num_reg = (int)reg->shape[1];
        r = vit_binder_get(b, &n->reg_token, VIT_SHAPE(1, n->num_reg, D), "reg_token");
    } else if (r == 0 && vit_binder_peek(b, "reg_token")) {
        r = vit_binder_get(b, NULL, VIT_SHAPE(1, -1, D), "reg_token");
        if (r == 0)
            r = vit_errorf(b->err, -EINVAL, "%s: tensor reg_token: 1 to 64 registers",
                           b->model->weights->path);
    }
    if (r < 0)
        return r;
    if (n->dist_token && !n->cls_token)
        return vit_errorf(b->err, -EINVAL, "%s: tensor dist_token without cls_token",
                          b->model->weights->path);
    n->num_prefix = !!n->cls_token + !!n->dist_token + n->num_reg;
    return 0;
}

static int square_side(int rows)
{
    int s = (int)sqrt((double)rows);
    while (s * s > rows)
        s--;
    while ((s + 1) * (s + 1) <= rows)
        s++;
    return s * s == rows ? s : 0;
}

/* The size the model runs at: pretrained_cfg.input_size, model_args.img_size, a _224-style
 * suffix, or (-ENOENT) none of them. */
static int run_size(const vit_config *cfg, int *h, int *w, vit_error *err)
{
    if (cfg->input_h > 0) {
        *h = cfg->input_h;
        *w = cfg->input_w;
        return 0;
    }
    int r = vit_config_arg_size(cfg, "img_size", h, w, err);
    if (r != -ENOENT)
        return r;
    const char *us = strrchr(cfg->architecture, '_');
    int side = us ? atoi(us + 1) : 0;
    if (side <= 0 || side > 8192)
        return -ENOENT;
    *h = *w = side;
    return 0;
}

/* Resamples the stored [gh0*gw0, D] grid to [gh*gw, D] the way PyTorch's antialiased bicubic
 * F.interpolate does (timm's resample_abs_pos_embed), one axis at a time. */
static float *resample_grid(const float *src, int gh0, int gw0, int gh, int gw, int D)
{
    int taps_max = 8 + 4 * ((gh0 + gh - 1) / gh + (gw0 + gw - 1) / gw);
    float *tmp = calloc((size_t)gh0 * gw * D, sizeof(float));
    float *dst = calloc((size_t)gh * gw * D, sizeof(float));
    float *w = calloc((size_t)taps_max, sizeof(float));
    if (!tmp || !dst || !w) {
        free(tmp);
        free(w);
        free(dst);
        return NULL;
    }
    for (int x = 0; x < gw; x++) { /* along the width: [gh0, gw0] -> [gh0, gw] */
        int start, k = vit_resample_taps(VIT_INTERP_BICUBIC, x, gw, gw0, &start, w);
        for (int y = 0; y < gh0; y++)
            for (int t = 0; t < k; t++)
                for (int c = 0; c < D; c++)
                    tmp[((size_t)y * gw + x) * D + c] +=
                        w[t] * src[((size_t)y * gw0 + start + t) * D + c];
    }
    for (int y = 0; y < gh; y++) { /* along the height: [gh0, gw] -> [gh, gw] */
        int start, k = vit_resample_taps(VIT_INTERP_BICUBIC, y, gh, gh0, &start, w);
        for (int t = 0; t < k; t++)
            for (size_t i = 0; i < (size_t)gw * D; i++)
                dst[(size_t)y * gw * D + i] += w[t] * tmp[(size_t)(start + t) * gw * D + i];
    }
    free(tmp);
    free(w);
    return dst;
}

/* pos_embed's stored grid (gh0 x gw0) from its patch rows and, when they agree, the sizes the
 * config names; else square. */
static int stored_grid(vit_binder *b, vit_net *n, int rows, int *gh0, int *gw0)
{
    int ih, iw;
    vit_config *cfg = &b->model->config;
    if (vit_config_arg_size(cfg, "img_size", &ih, &iw, b->err) == 0 &&
        (ih / n->patch) * (iw / n->patch) == rows) {
        *gh0 = ih / n->patch;
        *gw0 = iw / n->patch;
    } else if (n->num_patches == rows) {
        *gh0 = n->grid_h;
        *gw0 = n->grid_w;
    } else if ((*gh0 = *gw0 = square_side(rows)) == 0) {
        return vit_errorf(b->err, -EINVAL,
                          "%s: tensor pos_embed has %d patch rows: not a %dx%d grid nor a "
                          "square one to resample",
                          b->model->weights->path, rows, n->grid_h, n->grid_w);
    }
    return 0;
}

/* Whether pos_embed covers the prefix tokens: model_args.no_embed_class, else its rows (timm's
 * default, covering them, when a resampled grid fits both readings). */
static int embeds_prefix(vit_binder *b, vit_net *n, int rows)
{
    int r = vit_arg_bool(&b->model->config, "no_embed_class", 2, b->err);
    if (r < 0 || r != 2)
        return r < 0 ? r : !r;
    if (n->num_prefix == 0 || rows == n->num_patches + n->num_prefix)
        return 1;
    if (rows == n->num_patches)
        return 0;
    return square_side(rows - n->num_prefix) ? 1 : 0;
}

static int build_pos_embed(vit_binder *b, vit_net *n)
{
    vit_config *cfg = &b->model->config;
    int64_t D = n->dim;
    const char *kind = vit_config_arg_string(cfg, "pos_embed");
    if (kind && (!*kind || !strcmp(kind, "none")))
        return 0;
    const vit_st_tensor *pe = peek(b, "pos_embed", 3);
    if (!pe || pe->shape[1] < 1 || pe->shape[1] > 1 << 20)
        return vit_binder_get(b, NULL, VIT_SHAPE(1, n->tokens, D), "pos_embed");
    int rows = (int)pe->shape[1];
    int with_prefix = embeds_prefix(b, n, rows);
    if (with_prefix < 0)
        return with_prefix;
    n->pos_first = with_prefix ? 0 : n->num_prefix;
    int gh0, gw0, r = stored_grid(b, n, rows - (with_prefix ? n->num_prefix : 0), &gh0, &gw0);
    if (r < 0)
        return r;
    int stored_rows = gh0 * gw0 + (with_prefix ? n->num_prefix : 0);
    r = vit_binder_get(b, &n->pos_embed, VIT_SHAPE(1, stored_rows, D), "pos_embed");
    if (r < 0 || (gh0 == n->grid_h && gw0 == n->grid_w))
        return r;
    int skip = with_prefix ? n->num_prefix : 0;
    float *grid =
        resample_grid(n->pos_embed + (size_t)skip * D, gh0, gw0, n->grid_h, n->grid_w, n->dim);
    n->pos_owned = grid ? malloc(((size_t)skip + n->num_patches) * D * sizeof(float)) : NULL;
    if (!n->pos_owned) {
        free(grid);
        return vit_errorf(b->err, -ENOMEM, "out of memory");
    }
    memcpy(n->pos_owned, n->pos_embed, (size_t)skip * D * sizeof(float));
    memcpy(n->pos_owned + (size_t)skip * D, grid, (size_t)n->num_patches * D * sizeof(float));
    free(grid);
    n->pos_embed = n->pos_owned;
    return 0;
}

int vit_build_embed(vit_binder *b, vit_net *n)
{
    vit_model *m = b->model;
    int r = build_patch_embed(b, n);
    if (r < 0)
        return r;
    r = run_size(&m->config, &n->img_h, &n->img_w, b->err);
    if (r == -ENOENT) { /* the stored grid, square */
        const vit_st_tensor *pe = peek(b, "pos_embed", 3);
        int rows = pe ? (int)pe->shape[1] : 0;
        int side = rows > n->num_prefix ? square_side(rows - n->num_prefix) : 0;
        side = side ? side : square_side(rows);
        if (!side)
            return vit_errorf(b->err, -EINVAL,
                              "%s: cannot tell the image size (no pretrained_cfg.input_size "
                              "or model_args.img_size, and pos_embed is not a square grid)",
                              m->config.source);
        n->img_h = n->img_w = side * n->patch;
    } else if (r < 0) {
        return r;
    }
    if (n->img_h % n->patch || n->img_w % n->patch)
        return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is not a multiple of the patch %d",
                          m->config.source, n->img_h, n->img_w, n->patch);
    n->grid_h = n->img_h / n->patch;
    n->grid_w = n->img_w / n->patch;
    n->num_patches = n->grid_h * n->grid_w;
    if (n->num_patches < 1)
        return vit_errorf(b->err, -EINVAL, "%s: image %dx%d is smaller than the patch %d",
                          m->config.source, n->img_h, n->img_w, n->patch);
    n->tokens = n->num_prefix + n->num_patches;
    n->pe.in_chans = n->in_chans;
    n->pe.img_h = n->img_h;
    n->pe.img_w = n->img_w;
    n->pe.patch = n->patch;
    n->pe.grid_w = n->grid_w;
    n->pe.dim = n->dim;
    return build_pos_embed(b, n);
}
