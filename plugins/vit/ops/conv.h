/* conv.h — 2-D convolution for the convolutional parts of libvit's families (stems,
 * downsamplers, depthwise convs in MLPs and IRBs, TDB branches), and BatchNorm folding.
 *
 * Layouts. Activations inside libvit are TOKEN-MAJOR: a feature map of C channels on an H x W
 * grid is [H*W, C] (pixel y*W + x is row y*W + x, channels contiguous), the same rows Linear
 * and LayerNorm work on. A convolution reads either such a map (VIT_CONV_HWC) or a planar image
 * [C, H, W] (VIT_CONV_CHW: the preprocessed input), and always writes token-major rows [OH*OW,
 * cout] with a row stride ldo (so it can write into a wider buffer).
 *
 * Weights are PyTorch's [cout, cin/groups, kh, kw], used in place from the mapped file: im2col
 * orders each unfolded row (c, ky, kx), so a group's weight rows are a Linear weight
 * [cout/groups, (cin/groups)*kh*kw] and one vit_gemm per group does the work. A family may
 * reorder a conv's weight tap-major, [cout, kh, kw, cin/groups] (vit_conv2d_to_khwc); rows are
 * then (ky, kx, c), which on a token-major map are plain copies of channel vectors. A 1x1
 * stride-1 unpadded conv on a token-major map skips the unfold (it is a Linear).
 *
 * Depthwise convs (groups == cin, cout = m * cin for a channel multiplier m) take a direct kernel
 * instead: per block of output channels, the taps are gathered into a small stack tile
 * [kh*kw][block] and every output pixel accumulates contiguous channel vectors.
 *
 * Threads: every function computes the output pixels [p0, p1) only (row-major over OH x OW), so
 * callers split pixels over their pool; the parts write disjoint rows. */
#ifndef VIT_CONV_H
#define VIT_CONV_H

#include <stddef.h>

#include "core/threadpool.h"
#include "vit.h"

typedef enum vit_conv_layout {
    VIT_CONV_HWC, /* token-major [H*W, C] */
    VIT_CONV_CHW, /* planar [C, H, W] */
} vit_conv_layout;

typedef struct vit_conv2d {
    int cin, cout, kh, kw, stride_h, stride_w, pad_h, pad_w, groups;
    const float *weight; /* [cout, cin/groups, kh, kw], or with weight_khwc [cout, kh, kw,
                            cin/groups] (vit_conv2d_to_khwc) */
    const float *bias;   /* [cout], or NULL */
    int weight_khwc;
} vit_conv2d;

/* Output extent of one axis: (in + 2 pad - k) / stride + 1, or 0 when the kernel does not fit. */
int vit_conv_out_size(int in, int k, int stride, int pad);

/* 0 when the shape is usable (positive sizes, groups divide cin and cout), else -EINVAL. */
int vit_conv2d_check(const vit_conv2d *c);

/* True for the depthwise case the direct kernel handles (groups == cin, cout % cin == 0). */
int vit_conv2d_is_depthwise(const vit_conv2d *c);

/* Floats of im2col scratch vit_conv2d_rows needs for a range of `pixels` output pixels
 * (0 for depthwise and 1x1 token-major convs, which need none). */
size_t vit_conv2d_scratch_floats(const vit_conv2d *c, vit_conv_layout layout, int pixels);

/* Output pixels [p0, p1) of conv c on x (H x W, layout) into out rows p0..p1-1 (row stride ldo,
 * row p at out + p*ldo). scratch: vit_conv2d_scratch_floats(c, layout, p1 - p0) floats, private
 * to the caller's thread. Picks the depthwise, 1x1 or im2col path. */
void vit_conv2d_rows(const vit_conv2d *c, const float *x, vit_conv_layout layout, int H, int W,
                     int p0, int p1, float *scratch, float *out, int ldo);

/* The whole conv split over a pool: scratch holds threads * vit_conv2d_scratch_floats(c, layout,
 * ceil(OH*OW / threads)) floats (see vit_conv2d_pool_scratch_floats). */
size_t vit_conv2d_pool_scratch_floats(const vit_conv2d *c, vit_conv_layout layout, int H, int W,
                                      int threads);
void vit_conv2d_run(vit_threadpool *pool, const vit_conv2d *c, const float *x,
                    vit_conv_layout layout, int H, int W, float *scratch, float *out, int ldo);

/* Depthwise kernel on token-major input (groups == cin, cout = m * cin), output pixels [p0, p1).
 * Output channel o reads input channel o / m (PyTorch's grouping). */
void vit_dwconv2d_rows(const vit_conv2d *c, const float *x, int H, int W, int p0, int p1,
                       float *out, int ldo);
/* The same followed by SiLU, applied in registers before the store where AVX-512 runs it. */
void vit_dwconv2d_silu_rows(const vit_conv2d *c, const float *x, int H, int W, int p0, int p1,
                            float *out, int ldo);

/* BatchNorm (inference) folded into the conv before it: w'[o] = w[o] * s[o], b'[o] = (b[o] -
 * mean[o]) * s[o] + beta[o], s[o] = gamma[o] / sqrt(var[o] + eps); bias may be NULL (zero).
 * Writes dst_weight (as many floats as c->weight) and dst_bias [cout] (storage owned by the
 * model: the only copy of weights libvit makes), then points c at them. */
void vit_conv2d_fold_bn(vit_conv2d *c, const float *gamma, const float *beta, const float *mean,
                        const float *var, float eps, float *dst_weight, float *dst_bias);

/* Reorders the weight tap-major, [cout, kh, kw, cin/groups], into dst (as many floats as
 * c->weight; storage owned by the model), points c at it and sets weight_khwc. im2col of a
 * token-major map then copies whole channel vectors (a kernel row at a time inside the image)
 * instead of transposing them: worth it for kxk convs on token-major maps. (Depthwise and 1x1
 * weights read the same in both orders.) */
void vit_conv2d_to_khwc(vit_conv2d *c, float *dst);

/* Number of weight floats of c: cout * (cin / groups) * kh * kw. */
size_t vit_conv2d_weight_floats(const vit_conv2d *c);

/* Multiply-accumulates of the conv on an H x W input (for FLOP counts). */
double vit_conv2d_macs(const vit_conv2d *c, int H, int W);

#endif
