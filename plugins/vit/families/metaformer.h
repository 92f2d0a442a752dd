/* metaformer.h — the block shape shared by the hierarchical families (PoolFormer, PVT v2,
 * Swin, HAT-Net/TransCNN), the build and allocation helpers their builders use (tensors come
 * through core/binder.h),
 * and the row-parallel plumbing (including the window-attention passes) their runs use.
 *
 * A block on a token-major map x [H*W, C] (see conv.h) is
 *     y = norm1(x);  x += ls1 * mixer(y, x);  y = norm2(x);  x += ls2 * mlp(y)
 * where the norms are LayerNorm (per token), GroupNorm(1) (whole map) or a folded BatchNorm
 * (per-channel affine), the layer scales are optional, and the MLP is
 *     fc1 -> act1 [-> depthwise conv -> act2] -> fc2 [-> post-norm].
 * Families differ only in their mixer (a function that fills s->t from s->y and s->x), their
 * stems, downsamplers and heads. */
#ifndef VIT_METAFORMER_H
#define VIT_METAFORMER_H

#include <stddef.h>
#include <stdint.h>

#include "ops/conv.h"
#include "core/binder.h"
#include "core/model.h"
#include "core/threadpool.h"
#include "ops/window.h"

/* ---- building (tensors come through core/binder.h) ------------------------------------- */

/* What a family's net allocates besides itself (blocks, mixer parameters, tables): recorded by
 * vit_mf_calloc, freed by vit_mf_net_free. */
typedef struct vit_mf_allocs {
    void **ptrs;
    int n, cap;
} vit_mf_allocs;
/* The first member of a hierarchical family's net: its allocations, and what vit_mf_build
 * tells the model (input channels and size, classes). */
typedef struct vit_mf_net {
    vit_mf_allocs allocs;
    int in_chans, img_h, img_w, num_classes;
} vit_mf_net;
/* calloc(count, size), recorded in a; NULL when out of memory. */
void *vit_mf_calloc(vit_mf_allocs *a, size_t count, size_t size);
/* A family's destroy for a net that starts with a vit_mf_net: frees what it recorded, then net
 * (NULL: nothing). */
void vit_mf_net_free(void *net);

/* A family's whole build: allocates a zeroed net of net_size bytes (starting with a
 * vit_mf_net), runs build(b, net) with a binder over m, then hands the net, its input, classes
 * and gflops(net) to the model (vit_family_set_net). On failure the net is freed and the error
 * returned. */
int vit_mf_build(vit_model *m, size_t net_size, int (*build)(vit_binder *b, void *net),
                 double (*gflops)(const void *net), vit_error *err);
/* vit_binder_check_all_used with the hierarchical families' wording: "... is not part of a
 * <family_name> network (unsupported variant of <architecture>)". */
int vit_mf_check_all_used(vit_binder *b, const char *family_name);
/* A conv layer "<prefix>.weight" [cout, cin/groups, k, k] (+ optional "<prefix>.bias"), checked
 * against cin and cout (< 0: any), with stride, pad, groups; kernel size from the tensor. */
int vit_mf_get_conv(vit_binder *b, vit_conv2d *ret, int cin, int cout, int stride, int pad,
                    int groups, int with_bias, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/* A BatchNorm "<prefix>.{weight,bias,running_mean,running_var}" [C] (num_batches_tracked
 * ignored). */
typedef struct vit_mf_bn {
    const float *gamma, *beta, *mean, *var;
} vit_mf_bn;
int vit_mf_get_bn(vit_binder *b, vit_mf_bn *bn, int C, const char *prefix);
/* Folds the BatchNorm "<prefix>" (eps) into conv c: model-owned copies of its weight and bias,
 * recorded in a. */
int vit_mf_fold_bn(vit_binder *b, vit_mf_allocs *a, vit_conv2d *c, float eps, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A model-owned tap-major copy of c's weight (vit_conv2d_to_khwc), recorded in a, for a kxk conv
 * that unfolds token-major maps; 1x1 and depthwise convs (same order either way) are left alone. */
int vit_mf_conv_khwc(vit_binder *b, vit_mf_allocs *a, vit_conv2d *c);

/* model_args list of ints (e.g. "depths"): 0 with *ret_n set, -ENOENT when absent, -EINVAL when
 * not a list of at most max ints in [lo, hi]. */
int vit_mf_config_int_list(const vit_model *m, const char *key, int *out, int max, int lo, int hi,
                           int *ret_n, vit_error *err);
/* 0 when model_args has no list `key` or it equals actual[0..n); else -EINVAL naming both. */
int vit_mf_check_arg_list(const vit_model *m, const char *key, const int *actual, int n,
                          vit_error *err);
/* vit_mf_check_arg_list for two lists of n stage values (e.g. "depths" and "dims"): the first
 * error, else 0. */
int vit_mf_check_arg_lists(const vit_model *m, const char *key1, const int *actual1,
                           const char *key2, const int *actual2, int n, vit_error *err);
/* pretrained_cfg / model_args input size, else default_side (square); checks the config's
 * num_classes, input_size and in_chans (1 or 3) against the weights. */
int vit_mf_input_size(vit_model *m, int in_chans, int default_side, int num_classes, int *ret_h,
                      int *ret_w, vit_error *err);

/* ---- the block ------------------------------------------------------------------------- */

typedef enum vit_mf_norm_kind {
    VIT_MF_NORM_NONE,
    VIT_MF_NORM_LAYER,  /* LayerNorm over C per token */
    VIT_MF_NORM_GROUP1, /* GroupNorm(1): over the whole map */
    VIT_MF_NORM_AFFINE, /* y = x * weight + bias (BatchNorm folded at load) */
} vit_mf_norm_kind;

typedef struct vit_mf_norm {
    vit_mf_norm_kind kind;
    const float *weight, *bias;
    float eps;
} vit_mf_norm;

typedef enum vit_mf_act {
    VIT_MF_ACT_NONE,
    VIT_MF_ACT_GELU,
    VIT_MF_ACT_SILU,
    VIT_MF_ACT_RELU,
    VIT_MF_ACT_STARRELU, /* s * relu(x)^2 + b (MetaFormer baselines); s, b in the MLP */
    VIT_MF_ACT_HARDSWISH /* x * relu6(x + 3) / 6 (LeViT) */
} vit_mf_act;

typedef struct vit_mf_mlp {
    int hidden;
    const float *fc1_w, *fc1_b, *fc2_w, *fc2_b; /* [hidden, C], [C, hidden]; biases optional */
    vit_mf_act act1;                            /* after fc1 */
    float act1_scale, act1_bias;                /* StarReLU's s and b when act1 is one */
    int has_dw;
    vit_conv2d dw; /* depthwise on the hidden map, then act2 */
    vit_mf_act act2;
    vit_mf_norm post_norm; /* after fc2 (HAT-Net's IRB) */
} vit_mf_mlp;

/* A GroupNorm's whole-map statistics (mean, 1/sqrt(var + eps)); (0, 1) for the other norms. */
typedef struct vit_mf_norm_stats {
    float mean, inv;
} vit_mf_norm_stats;

/* What a run works on: the map and its scratch, all inside the session arena. */
typedef struct vit_mf_state {
    vit_threadpool *pool;
    int threads;
    int H, W, C;
    float *x, *y, *t;        /* [H*W, C]: residual stream, normed input, branch output */
    float *hidden, *hidden2; /* [H*W, hidden] */
    double *partials;        /* [3 * threads]: GroupNorm partial statistics */
    int x_stats;             /* 1: partials hold x's GroupNorm statistics, taken by the pass
                                that last wrote x (a pooling mixer for the MLP's norm2, an MLP
                                for the next block's norm1), so no statistics run is needed;
                                whatever else writes x clears it */
    vit_mf_norm_stats norm1; /* the current block's norm1 statistics (GroupNorm) */
    float *work;             /* the family's mixer scratch */
    float *conv_scratch;     /* vit_conv2d_pool_scratch_floats of the largest conv */
} vit_mf_state;

struct vit_mf_block;
typedef void (*vit_mf_mixer_fn)(const struct vit_mf_block *blk, vit_mf_state *s);

typedef struct vit_mf_block {
    vit_mf_norm norm1, norm2;
    const float *ls1, *ls2;   /* [C] or NULL */
    const float *rs1, *rs2;   /* res scales [C] or NULL: x = rs * x + ls * branch (mixers with
                                 mixer_residual apply rs1 themselves) */
    vit_mf_mixer_fn mixer_fn; /* reads s->y (= norm1(x)) and s->x, writes s->t (or adds to s->x) */
    const void *mixer;        /* the family's mixer parameters */
    int mixer_residual;       /* the mixer adds ls1 * its output to s->x itself (saves a pass) */
    int mixer_norms;          /* the mixer fills s->y rows itself (vit_mf_block_norm1_rows) in its
                                 first row pass, or never reads s->y (saves a pass) */
    vit_mf_mlp mlp;
} vit_mf_block;

/* The separable-conv mixer (ConvFormer/CAFormer): blk->mixer is a vit_mf_mlp run on s->y as
 * pwconv1 -> act1 -> depthwise conv -> act2 -> pwconv2, residual fused (mixer_residual = 1,
 * mixer_norms = 0). Its hidden width must fit the state's hidden maps. */
void vit_mf_sepconv_mixer(const vit_mf_block *blk, vit_mf_state *s);

/* The pooling mixer with its residual: x = rs1 * x + ls1 * (AvgPool3x3(y) - y)
 * (count_include_pad=False) with y = norm1(x) for norm1 NONE, GROUP1 or AFFINE (per-channel
 * scale g: the pool's weights sum to 1, so AvgPool(y) - y = g * inv * (AvgPool(x) - x) and y is
 * never formed), in one pass (ops/pool.h); for a GroupNorm norm2 it also leaves the new x's
 * statistics (x_stats). The new x is written to s->y and the two swap. mixer_norms = 1,
 * mixer_residual = 1. */
void vit_mf_pool_mixer(const vit_mf_block *blk, vit_mf_state *s);

/* A stage's blocks "<prefix><j>.*", j = 0, 1, ...: *ret_depth (>= 1, else -EINVAL naming the
 * stage) zeroed blocks in *ret, recorded in a. */
int vit_mf_alloc_blocks(vit_binder *b, vit_mf_allocs *a, const char *prefix, int stage,
                        vit_mf_block **ret, int *ret_depth);

/* Runs one block on s->x (s->H, s->W, s->C set). */
void vit_mf_block_run(const vit_mf_block *blk, vit_mf_state *s);
/* Its second half alone: x = rs2 * x + ls2 * mlp(norm2(x)) (LeViT's downsampling MLP). */
void vit_mf_block_mlp_run(const vit_mf_block *blk, vit_mf_state *s);

/* y = norm(x) over the map's H*W rows of C (y may be x). NONE copies nothing and returns x;
 * otherwise returns y. */
const float *vit_mf_norm_run(const vit_mf_norm *n, vit_mf_state *s, const float *x, float *y,
                             int C);
/* The statistics norm n needs on x (one pool run for GroupNorm, none for the others). */
vit_mf_norm_stats vit_mf_norm_stats_run(const vit_mf_norm *n, vit_mf_state *s, const float *x,
                                        int C);
/* y rows [r0, r1) = n(x rows) with statistics st (NONE copies when y != x). */
void vit_mf_norm_rows(const vit_mf_norm *n, vit_mf_norm_stats st, const float *x, float *y, int C,
                      int r0, int r1);
/* s->y rows [r0, r1) = norm1(s->x rows): for mixers with mixer_norms. */
void vit_mf_block_norm1_rows(const vit_mf_block *blk, const vit_mf_state *s, int r0, int r1);
/* GroupNorm statistics fused into another row pass: part `task` records its rows of x [.., C];
 * after the pool run, vit_mf_stats_combine over vit_mf_parts(s, rows) parts gives the map's. */
void vit_mf_stats_rows(vit_mf_state *s, int task, const float *x, int C, int r0, int r1);
int vit_mf_parts(const vit_mf_state *s, int rows);
vit_mf_norm_stats vit_mf_stats_combine(const vit_mf_state *s, int parts, float eps);

/* Up to this many rows, with several threads, a block's products split by columns rather than
 * rows (each thread then streams its share of the weights, not all of them). bench_ab at 2
 * threads: 64 beat 0 (EfficientFormer-L1 -12%) and 200. */
#define VIT_MF_COLS_MAX_ROWS 64

/* fn(ctx, r0, r1, task) over nearly equal parts of [0, rows), at most s->threads parts. */
typedef void (*vit_mf_rows_fn)(void *ctx, int r0, int r1, int task);
void vit_mf_parallel(vit_mf_state *s, int rows, vit_mf_rows_fn fn, void *ctx);

/* x[r] += ls * t[r] (ls NULL: plain add) for all H*W rows. */
void vit_mf_residual(vit_mf_state *s, const float *ls, const float *t);

/* In place, rows [r0, r1) of x [.., N] (stride ldx). */
void vit_mf_act_rows(vit_mf_act act, float *x, int ldx, int N, int r0, int r1);
/* In place, the s->H * s->W rows of x [.., C], split over the pool. */
void vit_mf_act_run(vit_mf_state *s, vit_mf_act act, float *x, int C);

/* A conv over the pool into out (stride ldo), using s->conv_scratch. */
void vit_mf_conv(vit_mf_state *s, const vit_conv2d *c, const float *x, vit_conv_layout layout,
                 int H, int W, float *out, int ldo);
/* The same followed by act, each part a chunk of rows at a time (act on cache-hot rows). The
 * scratch is vit_mf_conv's (vit_conv2d_pool_scratch_floats for s->threads). */
void vit_mf_conv_act(vit_mf_state *s, const vit_conv2d *c, const float *x, vit_conv_layout layout,
                     int H, int W, float *out, int ldo, vit_mf_act act);

/* A stage's downsampling on the map in s->x: x = c(norm(x)) (norm NULL or NONE: no norm), with
 * s->H, s->W, s->C set to the conv's output (s->y is scratch). */
void vit_mf_downsample(vit_mf_state *s, const vit_mf_norm *norm, const vit_conv2d *c);

/* Multi-head attention for query rows [r0, r1): out[r] (head h at column h*d) =
 * softmax(q_h k_h^T * d^-0.5) v_h over M keys; q, k, v are row-major with strides ldq, ldk,
 * ldv and head h at column h*d. scores: VIT_MF_ATTN_CHUNK * M floats. */
#define VIT_MF_ATTN_CHUNK 64
void vit_mf_attention_rows(const float *q, int ldq, const float *k, int ldk, const float *v,
                           int ldv, int M, int heads, int d, int r0, int r1, float *scores,
                           float *out, int ldo);

/* ---- stages of the conv-downsampling families (PoolFormer, MetaFormer v2, EfficientFormer) -- */

typedef struct vit_mf_stage {
    int dim, depth, H, W; /* width, blocks, grid */
    int hidden;           /* the widest hidden map of its blocks (MLP or mixer) */
    int has_down;
    vit_mf_norm down_norm; /* before the downsample conv (NONE: no norm) */
    vit_conv2d down;
    vit_mf_block *blocks;
} vit_mf_stage;

/* The grids of stages[0..n) from the stem's output H x W through each downsample conv (its own
 * kernel, stride and pad); -EINVAL naming net's image size when a grid vanishes. */
int vit_mf_stage_sizes(vit_binder *b, const vit_mf_net *net, vit_mf_stage *stages, int n, int H,
                       int W);
/* model_args "depths" and dims_key (when present) against the stages, then
 * vit_mf_check_all_used(b, family_name). */
int vit_mf_check_stages(vit_binder *b, const vit_mf_stage *stages, int n, const char *dims_key,
                        const char *family_name);
/* Grows *max_nc (maps), *max_nh (hidden maps) and *conv (the downsamples' pool scratch) to
 * what the stages need. */
void vit_mf_stages_extent(const vit_mf_stage *stages, int n, int threads, size_t *max_nc,
                          size_t *max_nh, size_t *conv);
/* The stem conv on the CHW image [*, H, W] into s->x, setting s->pool and s->H, s->W, s->C. */
void vit_mf_stem_run(vit_mf_state *s, vit_threadpool *pool, const vit_conv2d *stem,
                     const float *chw, int H, int W);
/* Runs the stages on s->x: each one's downsample (if any), then its blocks. */
void vit_mf_stages_run(vit_mf_state *s, const vit_mf_stage *stages, int n);

/* Attention with a relative-position bias table (EfficientFormer, LeViT) for query rows
 * [r0, r1): per head h, logits = q_h k_h^T kd^-0.5 + table[h, |qy*stride - ky| * kw + |qx*stride -
 * kx|] with query r at (r / qw, r % qw) and key m at (m / kw, m % kw) of the kh x kw key grid,
 * softmax over the keys, out[r, h*vd + j] = (. v_h)[j]. Head h's q, k, v start at columns
 * h*hq, h*hk, h*hv of rows with strides ldq, ldk, ldv. scores: VIT_MF_ATTN_CHUNK * kh*kw floats. */
typedef struct vit_mf_bias_attn {
    int heads, kd, vd;
    int ldq, ldk, ldv, hq, hk, hv;
    int kh, kw, qw, stride;
    const float *table; /* [heads, kh * kw] */
} vit_mf_bias_attn;
void vit_mf_bias_attention_rows(const vit_mf_bias_attn *a, const float *q, const float *k,
                                const float *v, int r0, int r1, float *scores, float *out, int ldo);

/* ---- window attention passes (Swin's window mixer, H-MHSA's local cells) ------------------ */

typedef struct vit_mf_window_job {
    const vit_mf_block *blk;
    vit_mf_state *s;
    const float *qkv_w, *qkv_b; /* [3C, C], [3C] with C = wa.C */
    vit_window_attn wa;
    float *qkv;              /* [H*W, 3C] (the fused layout of window.h) */
    float *out;              /* [H*W, C] */
    float *scratch;          /* scratch_per_task floats per task */
    size_t scratch_per_task; /* vit_window_scratch_floats(&wa) */
} vit_mf_window_job;

/* ctx is an vit_mf_window_job. s->y rows [r0, r1) = norm1(s->x rows) (vit_mf_block_norm1_rows),
 * then their qkv rows. */
void vit_mf_window_qkv_task(void *ctx, int r0, int r1, int task);
/* ctx is an vit_mf_window_job. Attention inside windows [w0, w1) of qkv into out. */
void vit_mf_window_attn_task(void *ctx, int w0, int w1, int task);

/* ---- arena carving --------------------------------------------------------------------- */

typedef struct vit_mf_carve {
    char *base; /* NULL: only count */
    size_t off; /* bytes */
} vit_mf_carve;

/* n floats, 64-byte aligned; NULL when only counting. */
float *vit_mf_take(vit_mf_carve *c, size_t n);
/* Carves the vit_mf_state buffers: maps of max_nc floats, hidden maps of max_nh. */
void vit_mf_carve_state(vit_mf_carve *c, vit_mf_state *s, int threads, size_t max_nc, size_t max_nh,
                        size_t work, size_t conv_scratch);

/* The pre-norm half every LayerNorm block shares: "<p>.norm1/norm2.{weight,bias}" [C] and
 * "<p>.mlp.fc1.{weight,bias}" [hidden, C], [hidden]. Sets blk's norms (LayerNorm, eps) and
 * mlp.hidden; *stage_hidden is the stage's MLP width, set by block k 0 and checked by the rest. */
int vit_mf_get_ln_block(vit_binder *b, vit_mf_block *blk, const char *p, int64_t C, float eps,
                        int k, int *stage_hidden);
/* The classifier "<prefix>.weight" [num_classes, C] and "<prefix>.bias" [num_classes]:
 * *ret_num_classes (1 to 1000000) from the weight's rows, then *ret_w and *ret_b. */
int vit_mf_get_head(vit_binder *b, int64_t C, const char *prefix, int *ret_num_classes,
                    const float **ret_w, const float **ret_b);
/* A DeiT-style pair of classifiers, "head" and "head_dist" (vit_mf_get_head each), which must
 * have as many classes: -EINVAL naming both counts otherwise. */
int vit_mf_get_distilled_heads(vit_binder *b, int64_t C, int *ret_num_classes,
                               const float **ret_head_w, const float **ret_head_b,
                               const float **ret_dist_w, const float **ret_dist_b);
/* The classifier of a map: logits[num_classes] = head_w . mean over tokens of x [H*W, C] +
 * head_b (s->work holds the mean). */
void vit_mf_mean_head(vit_mf_state *s, const float *x, const float *head_w, const float *head_b,
                      int num_classes, float *logits);
/* The distilled classifier (DeiT-style heads of EfficientFormer, LeViT): logits =
 * (head(m) + dist(m)) / 2 with m = the mean over tokens of x [H*W, C] (dist_w NULL: head(m)). */
void vit_mf_distilled_head(vit_mf_state *s, const float *x, const float *head_w,
                           const float *head_b, const float *dist_w, const float *dist_b,
                           int num_classes, float *logits);

#endif
