/* patch_embed.c — the patch-embedding convolution (kernel = stride = patch) as rows for a GEMM,
 * and the optional conv stem before it (see patch_embed.h).
 *
 * Each patch becomes one row of C*patch*patch values in the conv weight's (c, ky, kx) order, so
 * patch_embed.proj.weight [D, C, p, p] is used in place as a [D, C*p*p] Linear weight. With a
 * stem the values are gathered from the stem's token-major map [H*W, S] in the same order. */
#include "ops/patch_embed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"

/* Output channels of the stem per register tile, and the most taps (C * 3 * 3, C <= 3). */
#define STEM_BLOCK 32
#define STEM_MAX_TAPS 27
/* Fewest stem pixels worth a task of their own (a 28x28 image splits in two at most). */
#define STEM_MIN_PIXELS 392

void vit_patches_to_rows(const float *chw, int C, int H, int W, int patch, int grid_w, int p0,
                         int p1, float *rows)
{
    size_t row_len = (size_t)C * patch * patch;
    for (int p = p0; p < p1; p++) {
        int gy = p / grid_w, gx = p % grid_w;
        float *dst = rows + (size_t)(p - p0) * row_len;
        for (int c = 0; c < C; c++)
            for (int ky = 0; ky < patch; ky++) {
                const float *src =
                    chw + ((size_t)c * H + (size_t)gy * patch + ky) * W + (size_t)gx * patch;
                memcpy(dst, src, (size_t)patch * sizeof(float));
                dst += patch;
            }
    }
}

/* The same rows from a token-major map [H*W, S]. */
static void map_patches_to_rows(const float *map, int S, int W, int patch, int grid_w, int p0,
                                int p1, float *rows)
{
    size_t row_len = (size_t)S * patch * patch, pp = (size_t)patch * patch;
    for (int p = p0; p < p1; p++) {
        int gy = p / grid_w, gx = p % grid_w;
        float *dst = rows + (size_t)(p - p0) * row_len;
        for (int ky = 0; ky < patch; ky++) {
            const float *src = map + (((size_t)gy * patch + ky) * W + (size_t)gx * patch) * S;
            for (int kx = 0; kx < patch; kx++, src += S) {
                float *d = dst + (size_t)ky * patch + kx;
                for (int c = 0; c < S; c++)
                    d[c * pp] = src[c];
            }
        }
    }
}

/* ---- building ------------------------------------------------------------------------------ */

static int stem_missing(const vit_model *m, const char *name, const char *cfg_key, int cfg_stem,
                        vit_error *err)
{
    return vit_errorf(err, -EINVAL, "%s: tensor %s is missing but %s: %s is %d", m->weights->path,
                      name, m->config.source, cfg_key, cfg_stem);
}

int vit_patch_embed_find_stem(vit_patch_embed *pe, vit_binder *b, const char *prefix, int cfg_stem,
                              const char *cfg_key)
{
    const vit_model *m = b->model;
    vit_error *err = b->err;
    char wname[128], bname[128];
    snprintf(wname, sizeof(wname), "%spatch_embed.stem.weight", prefix);
    snprintf(bname, sizeof(bname), "%spatch_embed.stem.bias", prefix);
    const vit_st_tensor *w = vit_safetensors_find(m->weights, wname);
    if (!w) {
        if (cfg_stem > 0)
            return stem_missing(m, wname, cfg_key, cfg_stem, err);
        if (vit_safetensors_find(m->weights, bname))
            return vit_errorf(err, -EINVAL, "%s: tensor %s without %s", m->weights->path, bname,
                              wname);
        pe->stem_chans = 0;
        return 0;
    }
    char shape[96];
    vit_st_format_shape(shape, sizeof(shape), w->ndim, w->shape);
    if (w->ndim != 4 || w->shape[0] < 1 || w->shape[0] > 65536 ||
        (w->shape[1] != 1 && w->shape[1] != 3) || w->shape[2] != 3 || w->shape[3] != 3)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %s has shape %s, need [stem_chans, 1 or 3, 3, 3] (a 3x3 "
                          "conv stem)",
                          m->weights->path, wname, shape);
    int S = (int)w->shape[0];
    if (cfg_stem == 0)
        return vit_errorf(err, -EINVAL, "%s: tensor %s is present but %s: %s is 0 (no stem)",
                          m->weights->path, wname, m->config.source, cfg_key);
    if (cfg_stem > 0 && cfg_stem != S)
        return vit_errorf(err, -EINVAL, "%s: tensor %s has %d output channels but %s: %s is %d",
                          m->weights->path, wname, S, m->config.source, cfg_key, cfg_stem);
    const float *wd, *bd;
    int r = vit_binder_get(b, &wd, 4, w->shape, "%s", wname);
    if (r == 0)
        r = vit_binder_get(b, &bd, VIT_SHAPE(S), "%s", bname);
    if (r < 0)
        return r;
    pe->stem_chans = S;
    pe->in_chans = (int)w->shape[1];
    pe->stem = (vit_conv2d){.cin = pe->in_chans,
                            .cout = S,
                            .kh = 3,
                            .kw = 3,
                            .stride_h = 1,
                            .stride_w = 1,
                            .pad_h = 1,
                            .pad_w = 1,
                            .groups = 1,
                            .weight = wd,
                            .bias = bd};
    return 0;
}

int vit_patch_embed_proj_chans(const vit_patch_embed *pe)
{
    return pe->stem_chans ? pe->stem_chans : pe->in_chans;
}

double vit_patch_embed_macs(const vit_patch_embed *pe, int num_patches)
{
    double stem = (double)pe->img_h * pe->img_w * pe->stem_chans * pe->in_chans * 9;
    return stem +
           (double)num_patches * pe->dim * vit_patch_embed_proj_chans(pe) * pe->patch * pe->patch;
}

/* ---- running ------------------------------------------------------------------------------- */

size_t vit_patch_embed_map_floats(const vit_patch_embed *pe)
{
    return pe->stem_chans ? (size_t)pe->img_h * pe->img_w * pe->stem_chans : 0;
}

size_t vit_patch_embed_cols_floats(const vit_patch_embed *pe, int num_patches)
{
    return (size_t)num_patches * vit_patch_embed_proj_chans(pe) * pe->patch * pe->patch;
}

/* What one stem pool run reads and writes. */
typedef struct stem_job {
    const vit_patch_embed *pe;
    const float *chw; /* input [C, H, W] */
    float *map;       /* vit_patch_embed_map_floats(pe) */
} stem_job;

/* Stem output channels s0 .. s0 + nb - 1 of pixel (y, x): ReLU(bias + the 3x3 taps inside the
 * image over every input channel), with the weights of those channels gathered tap-major in wt
 * ([taps][STEM_BLOCK]). Always inlined, so the full-tile caller's constant nb gives constant trip
 * counts and the accumulators stay in vector registers. */
__attribute__((always_inline)) static inline void stem_pixel(const vit_patch_embed *pe,
                                                             const float *chw, int y, int x, int s0,
                                                             int nb, const float *wt, float *out)
{
    int H = pe->img_h, W = pe->img_w;
    float acc[STEM_BLOCK];
    for (int j = 0; j < nb; j++)
        acc[j] = pe->stem.bias[s0 + j];
    for (int c = 0; c < pe->in_chans; c++)
        for (int ky = 0; ky < 3; ky++) {
            int iy = y + ky - 1;
            if (iy < 0 || iy >= H)
                continue;
            for (int kx = 0; kx < 3; kx++) {
                int ix = x + kx - 1;
                if (ix < 0 || ix >= W)
                    continue;
                float v = chw[((size_t)c * H + iy) * W + ix];
                const float *w = wt + ((c * 3 + ky) * 3 + kx) * STEM_BLOCK;
                for (int j = 0; j < nb; j++)
                    acc[j] += v * w[j];
            }
        }
    for (int j = 0; j < nb; j++)
        out[j] = acc[j] > 0.0f ? acc[j] : 0.0f;
}

static void stem_pixel_full(const vit_patch_embed *pe, const float *chw, int y, int x, int s0,
                            const float *wt, float *out)
{
    stem_pixel(pe, chw, y, x, s0, STEM_BLOCK, wt, out);
}

static void stem_pixel_any(const vit_patch_embed *pe, const float *chw, int y, int x, int s0,
                           int nb, const float *wt, float *out)
{
    stem_pixel(pe, chw, y, x, s0, nb, wt, out);
}

/* A direct kernel rather than im2col + GEMM: with 9 or 27 taps a GEMM's K is too short to pay
 * for unfolding and packing, while broadcasting each input value against a register tile of
 * output channels is a handful of FMAs per pixel, with the ReLU applied before the store. */
VIT_HOT static void stem_task(void *ctx, int task, int num_tasks)
{
    const stem_job *j = ctx;
    const vit_patch_embed *pe = j->pe;
    int S = pe->stem_chans, taps = pe->in_chans * 9, W = pe->img_w, p0, p1;
    vit_split_range(pe->img_h * W, num_tasks, task, &p0, &p1);
    float wt[STEM_MAX_TAPS * STEM_BLOCK];
    for (int s0 = 0; s0 < S; s0 += STEM_BLOCK) {
        int nb = S - s0 < STEM_BLOCK ? S - s0 : STEM_BLOCK;
        for (int t = 0; t < taps; t++)
            for (int k = 0; k < nb; k++)
                wt[t * STEM_BLOCK + k] = pe->stem.weight[(size_t)(s0 + k) * taps + t];
        for (int q = p0; q < p1; q++) {
            float *out = j->map + (size_t)q * S + s0;
            if (nb == STEM_BLOCK)
                stem_pixel_full(pe, j->chw, q / W, q % W, s0, wt, out);
            else
                stem_pixel_any(pe, j->chw, q / W, q % W, s0, nb, wt, out);
        }
    }
}

void vit_patch_embed_run_stem(const vit_patch_embed *pe, vit_threadpool *pool, int threads,
                              const float *chw, float *map)
{
    if (!pe->stem_chans)
        return;
    int parts = pe->img_h * pe->img_w / STEM_MIN_PIXELS;
    parts = parts < 1 ? 1 : parts < threads ? parts : threads;
    stem_job job = {pe, chw, map};
    vit_threadpool_run(pool, parts, stem_task, &job);
}

void vit_patch_embed_rows(const vit_patch_embed *pe, const float *chw, const float *map, int p0,
                          int p1, float *cols, float *out, int ldo)
{
    if (p1 <= p0)
        return;
    int K = vit_patch_embed_proj_chans(pe) * pe->patch * pe->patch;
    if (pe->stem_chans)
        map_patches_to_rows(map, pe->stem_chans, pe->img_w, pe->patch, pe->grid_w, p0, p1, cols);
    else
        vit_patches_to_rows(chw, pe->in_chans, pe->img_h, pe->img_w, pe->patch, pe->grid_w, p0, p1,
                            cols);
    vit_linear(p1 - p0, pe->dim, K, cols, K, pe->proj_w, pe->proj_b, 0.0f, out, ldo);
}
