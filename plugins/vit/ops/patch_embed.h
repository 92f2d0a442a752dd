/* patch_embed.h — tokenizing an image for the ViT family and every exit of a DVT cascade:
 * an optional conv stem, then the patch conv (kernel = stride = patch) as one GEMM over
 * unfolded patches.
 *
 * The stem (tools/train/vit_model.PatchEmbed, stem_chans > 0) is Conv2d(C -> S, 3x3, stride 1,
 * pad 1, bias) + ReLU at full resolution; the patch conv then reads its S channels. Keys:
 * <prefix>patch_embed.stem.{weight [S, C, 3, 3], bias [S]} and <prefix>patch_embed.proj.*.
 * Without a stem the patch conv reads the planar input [C, H, W] directly.
 *
 * Running: the stem is one pool run over output pixels (vit_patch_embed_run_stem, a direct
 * kernel: no scratch) writing a token-major map [H*W, S] in the session arena; the patch rows
 * are then computed by the family's own embed pass (vit_patch_embed_rows). */
#ifndef VIT_PATCH_EMBED_H
#define VIT_PATCH_EMBED_H

#include <stddef.h>

#include "ops/conv.h"
#include "core/error.h"
#include "core/binder.h"
#include "core/model.h"
#include "core/threadpool.h"

typedef struct vit_patch_embed {
    int in_chans, img_h, img_w; /* the image the model takes */
    int patch, grid_w;          /* patch size; patches per grid row */
    int dim;                    /* output channels of the patch conv */
    int stem_chans;             /* S, or 0 without a stem */
    vit_conv2d stem;            /* valid when stem_chans > 0 */
    const float *proj_w;        /* [dim, S or C, patch, patch] */
    const float *proj_b;        /* [dim] */
} vit_patch_embed;

/* Stem detection at build, for the tensors under `prefix` ("" or "exits.K."). Reads
 * <prefix>patch_embed.stem.weight when present (it must be [S, C, 3, 3] with C 1 or 3, and its
 * bias [S] must exist) and cross-checks it with cfg_stem_chans, the config's stem_chans (-1 when
 * the config does not say; cfg_key names it in messages, e.g. "model_args.stem_chans"): a config
 * naming a stem the file lacks, or the reverse, or another width, is an error naming the file
 * and the tensor. On success sets pe->stem_chans (0: no stem) and, with a stem, pe->in_chans and
 * pe->stem, the two stem tensors taken through the family's binder b (so marked used). */
int vit_patch_embed_find_stem(vit_patch_embed *pe, vit_binder *b, const char *prefix,
                              int cfg_stem_chans, const char *cfg_key);

/* Channels the patch conv reads: stem_chans, or in_chans without a stem. */
int vit_patch_embed_proj_chans(const vit_patch_embed *pe);

/* Multiply-adds of the stem (H*W*S*C*9, 0 without one) and of the patch conv for num_patches
 * patches. */
double vit_patch_embed_macs(const vit_patch_embed *pe, int num_patches);

/* Arena floats of the stem's output map [H*W, S] (0 without a stem). */
size_t vit_patch_embed_map_floats(const vit_patch_embed *pe);
/* Floats of unfolded patch rows for num_patches patches (the `cols` of vit_patch_embed_rows). */
size_t vit_patch_embed_cols_floats(const vit_patch_embed *pe, int num_patches);

/* Runs the stem (conv + ReLU) over chw [C, H, W] into map (vit_patch_embed_map_floats(pe)
 * floats) as one pool run split over output pixels; does nothing without a stem. */
void vit_patch_embed_run_stem(const vit_patch_embed *pe, vit_threadpool *pool, int threads,
                              const float *chw, float *map);

/* Patch tokens [p0, p1) (row-major over the grid): out row p - p0 (row stride ldo) =
 * proj(patch p) + bias, read from the stem map when there is a stem, else from chw. cols:
 * vit_patch_embed_cols_floats(pe, p1 - p0) floats of scratch. */
void vit_patch_embed_rows(const vit_patch_embed *pe, const float *chw, const float *map, int p0,
                          int p1, float *cols, float *out, int ldo);

#endif
