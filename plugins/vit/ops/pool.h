/* pool.h — pooling on token-major feature maps ([H*W, C], see conv.h): average pooling k x k
 * (any stride and padding, padding counted or not), 2x2 max pooling, adaptive average pooling
 * (PyTorch's bins), and the global mean over tokens. Output pixels [p0, p1) only, so callers
 * split pixels over threads. */
#ifndef VIT_POOL_H
#define VIT_POOL_H

/* Average over each k x k window (stride s, padding pad); count_include_pad 0 divides by the
 * number of window cells inside the map (PoolFormer), 1 by k*k. Output grid: vit_conv_out_size. */
void vit_avgpool_rows(const float *x, int H, int W, int C, int k, int s, int pad,
                      int count_include_pad, int p0, int p1, float *out, int ldo);

/* The pooling mixer with its residual, one pass: out[p][c] = a[c] * x[p][c] + coef[c] *
 * (AvgPool3x3(x)[p][c] - x[p][c]) (stride 1, padding 1, count_include_pad=False; out != x)
 * with a = rs and coef = scale * g * ls (NULL vectors count as 1). With a GroupNorm(1)
 * y = GN(x) (g = its gamma, scale = its 1/sqrt(var + eps)) this is rs * x + ls * (AvgPool(y) -
 * y), since the average's weights sum to 1. */
void vit_pool_mixer_residual_rows(const float *x, int H, int W, int C, int p0, int p1, float scale,
                                  const float *g, const float *ls, const float *rs, float *out);

/* 2x2 max pooling, stride 2, floor mode (output H/2 x W/2). */
void vit_maxpool2_rows(const float *x, int H, int W, int C, int p0, int p1, float *out, int ldo);

/* AdaptiveAvgPool2d to OH x OW: output cell i covers rows [floor(i*H/OH), ceil((i+1)*H/OH)). */
void vit_adaptive_avgpool_rows(const float *x, int H, int W, int C, int OH, int OW, int p0, int p1,
                               float *out, int ldo);

/* out[c] = mean over the N rows of x [N, C] (stride ldx). */
void vit_token_mean(const float *x, int ldx, int N, int C, float *out);

#endif
