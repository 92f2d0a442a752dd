/* dvt.h — the DVT early-exit cascade (architecture "dvt_cascade") inside libvit.
 *
 * Shared by dvt.c (building the network from config.json and the weights), dvt_run.c
 * (the forward pass, exit by exit) and dvt_resize.c (the token-grid resize both reuse paths
 * use). The maths and key names are tools/train/dvt.py's; ../shared/MODELS.md "DVT" is the
 * summary. */
#ifndef VIT_DVT_H
#define VIT_DVT_H

#include "core/family.h"
#include "core/model.h"
#include "ops/patch_embed.h"

/* Largest token grid side an exit may have (28x28 images with patch 1 fit). */
#define DVT_MAX_GRID 64

/* One axis of resize(g_up -> g_dn): out[i] = sum over s in [first[i], last[i]] of
 * w[i][s] * in[s]. Nearest up-sampling by ceil(g_dn / g_up) then adaptive average pooling is a
 * linear map, precomputed at build. */
typedef struct vit_dvt_resize {
    int g_up, g_dn;
    int first[DVT_MAX_GRID], last[DVT_MAX_GRID];
    float w[DVT_MAX_GRID][DVT_MAX_GRID];
} vit_dvt_resize;

typedef struct vit_dvt_block {
    const float *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
    const float *norm2_w, *norm2_b; /* over dim + ctx channels */
    const float *fc1_w, *fc1_b;     /* [hidden, dim + ctx] */
    const float *fc2_w, *fc2_b;
} vit_dvt_block;

typedef struct vit_dvt_exit {
    int patch, grid, tokens; /* tokens = 1 + grid * grid (cls first) */
    int dim, depth, heads, hidden;
    int ctx;            /* feature-reuse channels appended before each MLP: 0 for exit 0 */
    int ld;             /* row stride of the token buffer: dim + ctx (the context rides along) */
    int cfg_stem_chans; /* model_args.exits[k].stem_chans, -1 when absent */
    vit_patch_embed pe; /* optional conv stem + patch conv (patch_embed.h) */
    const float *cls_token, *pos_embed, *norm_w, *norm_b, *head_w, *head_b;
    vit_dvt_block *blocks;
    /* Reuse from the exit before (exits >= 1). */
    const float *fr_norm_w, *fr_norm_b, *fr_fc1_w, *fr_fc1_b, *fr_fc2_w, *fr_fc2_b;
    const float *rr_conv1_w, *rr_conv1_b, *rr_conv2_w, *rr_conv2_b;
    int rel_in, rel_mid, rel_out; /* heads_up * depth_up, 3 * rel_in, heads * depth */
    vit_dvt_resize resize;        /* upstream grid -> this grid */
    /* The same resize over both axes as one matrix [grid^2, grid_up^2] (cell-major, row-major
     * cells): the relation maps' key axis is resized by one GEMM with it. */
    float *resize2d;
} vit_dvt_exit;

typedef struct vit_dvt_net {
    int in_chans, img, num_classes, num_exits;
    int ctx_hidden, ctx_dim;
    float eps;
    vit_dvt_exit exits[VIT_MAX_EXITS];
} vit_dvt_net;

/* dvt_resize.c */
void vit_dvt_resize_init(vit_dvt_resize *rs, int g_up, int g_dn);
/* Output cells [c0, c1) (row-major cell index of the g_dn x g_dn grid) of the resize of a
 * g_up x g_up grid whose cells are rows of `channels` floats: cell (y, x) of the input is the
 * row at in + (y * g_up + x) * ld_in; output cell c goes to out + (c - c0) * ld_out. */
void vit_dvt_resize_cells(const vit_dvt_resize *rs, int c0, int c1, int channels, const float *in,
                          int ld_in, float *out, int ld_out);
/* Fills m [g_dn^2, g_up^2]: m[cell_dn][cell_up] = w[y_dn][y_up] * w[x_dn][x_up]. */
void vit_dvt_resize_matrix(const vit_dvt_resize *rs, float *m);

/* dvt_run.c */
size_t vit_dvt_arena_bytes(const vit_model *model, int threads);
int vit_dvt_run(const vit_model *model, vit_run *run, const float *chw);

/* Multiply-adds of each exit on its own, reuse modules included: dvt.py's exit_macs. */
double vit_dvt_exit_macs(const vit_dvt_net *net, int exit_index);

#endif
