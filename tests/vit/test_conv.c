/* test_conv.c — conv.c against a naive double-precision convolution: every path (im2col on
 * planar and token-major input, grouped, 1x1, direct depthwise with and without a channel
 * multiplier), each with PyTorch's and the tap-major weight order, the pixel-range split over
 * a thread pool, and BatchNorm folding. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check_main.h"
#include "ops/conv.h"
#include "core/threadpool.h"

/* Naive conv: x planar [cin, H, W]; returns token-major [OH*OW, cout]. */
static double *naive_conv(const vit_conv2d *c, const float *x, int H, int W, int *ret_pixels)
{
    int OH = vit_conv_out_size(H, c->kh, c->stride_h, c->pad_h);
    int OW = vit_conv_out_size(W, c->kw, c->stride_w, c->pad_w);
    int cg = c->cin / c->groups, og = c->cout / c->groups;
    double *y = calloc((size_t)OH * OW * c->cout, sizeof(double));
    for (int o = 0; o < c->cout; o++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                double s = c->bias ? c->bias[o] : 0.0;
                int g = o / og;
                for (int ci = 0; ci < cg; ci++)
                    for (int ky = 0; ky < c->kh; ky++)
                        for (int kx = 0; kx < c->kw; kx++) {
                            int iy = oy * c->stride_h - c->pad_h + ky;
                            int ix = ox * c->stride_w - c->pad_w + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue;
                            s += (double)x[((size_t)(g * cg + ci) * H + iy) * W + ix] *
                                 c->weight[(((size_t)o * cg + ci) * c->kh + ky) * c->kw + kx];
                        }
                y[((size_t)oy * OW + ox) * c->cout + o] = s;
            }
    *ret_pixels = OH * OW;
    return y;
}

static float *to_hwc(const float *chw, int C, int H, int W)
{
    float *t = malloc((size_t)C * H * W * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int p = 0; p < H * W; p++)
            t[(size_t)p * C + c] = chw[(size_t)c * H * W + p];
    return t;
}

typedef struct conv_case {
    int cin, cout, k, stride, pad, groups, H, W;
    vit_conv_layout layout;
    int threads;
} conv_case;

static const conv_case cases[] = {
    {3, 16, 7, 4, 2, 1, 30, 27, VIT_CONV_CHW, 1},   /* PoolFormer stem */
    {3, 16, 7, 4, 3, 1, 32, 32, VIT_CONV_CHW, 2},   /* PVT stem */
    {8, 12, 3, 2, 1, 1, 11, 9, VIT_CONV_HWC, 1},    /* downsample */
    {8, 12, 3, 1, 1, 4, 7, 6, VIT_CONV_HWC, 2},     /* grouped */
    {10, 6, 1, 1, 0, 1, 5, 7, VIT_CONV_HWC, 2},     /* pointwise = Linear */
    {6, 6, 1, 1, 0, 2, 5, 7, VIT_CONV_HWC, 1},      /* grouped pointwise */
    {70, 70, 3, 1, 1, 70, 9, 8, VIT_CONV_HWC, 2},   /* depthwise, two channel tiles */
    {9, 18, 3, 2, 1, 9, 10, 9, VIT_CONV_HWC, 2},    /* depthwise x2 (SReT pools) */
    {40, 80, 3, 2, 1, 40, 9, 8, VIT_CONV_HWC, 2},   /* depthwise x2, two channel tiles */
    {3, 8, 3, 2, 1, 1, 28, 28, VIT_CONV_CHW, 2},    /* SReT stem conv */
    {5, 5, 5, 1, 2, 5, 6, 7, VIT_CONV_HWC, 1},      /* depthwise 5x5 */
    {5, 5, 3, 1, 1, 5, 6, 7, VIT_CONV_CHW, 1},      /* depthwise on planar: im2col path */
    {4, 8, 4, 4, 0, 1, 16, 12, VIT_CONV_HWC, 2},    /* patchify on token-major */
    {12, 12, 9, 1, 4, 12, 9, 9, VIT_CONV_HWC, 1},   /* depthwise 9x9: too many taps, im2col */
    {96, 96, 3, 2, 1, 96, 9, 8, VIT_CONV_HWC, 2},   /* depthwise, tiles of 64 and 32 */
    {48, 48, 3, 1, 1, 48, 7, 6, VIT_CONV_HWC, 1},   /* depthwise, one tile of 48 */
    {16, 16, 3, 2, 1, 16, 8, 9, VIT_CONV_HWC, 2},   /* depthwise, one tile of 16 */
    {32, 32, 7, 1, 3, 32, 12, 11, VIT_CONV_HWC, 2}, /* depthwise 7x7 (ConvFormer), interior */
    {64, 64, 3, 1, 0, 64, 6, 7, VIT_CONV_HWC, 1},   /* depthwise, no padding: all interior */
    {48, 48, 3, 2, 0, 48, 9, 10, VIT_CONV_HWC, 2},  /* depthwise x2, no padding */
};

START_TEST(test_conv_matches_naive)
{
    const conv_case *cc = &cases[_i];
    vit_conv2d c = {cc->cin, cc->cout, cc->k,      cc->k, cc->stride, cc->stride,
                    cc->pad, cc->pad,  cc->groups, NULL,  NULL,       0};
    float *w = vt_rand_array((size_t)cc->cout * (cc->cin / cc->groups) * cc->k * cc->k);
    float *b = vt_rand_array((size_t)cc->cout);
    c.weight = w;
    c.bias = _i % 3 == 1 ? NULL : b;
    ck_assert_int_eq(vit_conv2d_check(&c), 0);
    float *x = vt_rand_array((size_t)cc->cin * cc->H * cc->W);
    float *xin = cc->layout == VIT_CONV_HWC ? to_hwc(x, cc->cin, cc->H, cc->W) : x;
    int pixels;
    double *want = naive_conv(&c, x, cc->H, cc->W, &pixels);
    int ldo = cc->cout + 3; /* writes into a wider buffer must respect the stride */
    float *out = calloc((size_t)pixels * ldo, sizeof(float));
    vit_threadpool *pool = NULL;
    if (cc->threads > 1)
        ck_assert_int_eq(vit_threadpool_new(cc->threads, &pool, NULL), 0);
    size_t sf = vit_conv2d_pool_scratch_floats(&c, cc->layout, cc->H, cc->W, cc->threads);
    float *scratch = malloc((sf ? sf : 1) * sizeof(float));
    /* PyTorch's weight order, then the same weights tap-major (vit_conv2d_to_khwc) */
    float *wk = malloc(vit_conv2d_weight_floats(&c) * sizeof(float));
    for (int khwc = 0; khwc < 2; khwc++) {
        if (khwc)
            vit_conv2d_to_khwc(&c, wk);
        for (int p = 0; p < pixels; p++)
            out[(size_t)p * ldo + cc->cout] = 42.0f;
        vit_conv2d_run(pool, &c, xin, cc->layout, cc->H, cc->W, scratch, out, ldo);
        double err = 0;
        for (int p = 0; p < pixels; p++) {
            for (int o = 0; o < cc->cout; o++)
                err = fmax(err, fabs(out[(size_t)p * ldo + o] - want[(size_t)p * cc->cout + o]));
            ck_assert_float_eq(out[(size_t)p * ldo + cc->cout], 42.0f);
        }
        ck_assert_msg(err < 1e-4, "case %d (khwc %d): max|diff| %g", _i, khwc, err);
    }
    free(wk);
    vit_threadpool_free(pool);
    free(scratch);
    free(out);
    free(want);
    if (xin != x)
        free(xin);
    free(x);
    free(w);
    free(b);
}
END_TEST

/* vit_dwconv2d_silu_rows = the depthwise conv, then x / (1 + e^-x), on the AVX-512 tiles (16,
 * 48, 64 + 32 channels, 3x3 and 7x7 with interior and border pixels) and the plain path (70). */
START_TEST(test_dwconv_silu_matches_naive)
{
    static const int shapes[][5] = {{16, 3, 1, 9, 8},
                                    {48, 3, 2, 9, 10},
                                    {96, 3, 1, 7, 6},
                                    {32, 7, 1, 12, 11},
                                    {70, 3, 1, 6, 5}};
    const int *sh = shapes[_i];
    int C = sh[0], k = sh[1], stride = sh[2], H = sh[3], W = sh[4], pad = k / 2;
    vit_conv2d c = {C, C, k, k, stride, stride, pad, pad, C, NULL, NULL, 0};
    float *w = vt_rand_array((size_t)C * k * k), *b = vt_rand_array((size_t)C);
    c.weight = w;
    c.bias = b;
    float *x = vt_rand_array((size_t)C * H * W), *xin = to_hwc(x, C, H, W);
    int pixels;
    double *want = naive_conv(&c, x, H, W, &pixels);
    float *out = calloc((size_t)pixels * C, sizeof(float));
    vit_dwconv2d_silu_rows(&c, xin, H, W, 0, pixels, out, C);
    double err = 0;
    for (size_t i = 0; i < (size_t)pixels * C; i++)
        err = fmax(err, fabs(out[i] - want[i] / (1.0 + exp(-want[i]))));
    ck_assert_msg(err < 1e-4, "channels %d, %dx%d: max|diff| %g", C, k, k, err);
    free(w), free(b), free(x), free(xin), free(want), free(out);
}
END_TEST

START_TEST(test_out_size_and_checks)
{
    ck_assert_int_eq(vit_conv_out_size(224, 7, 4, 2), 56);
    ck_assert_int_eq(vit_conv_out_size(224, 7, 4, 3), 56);
    ck_assert_int_eq(vit_conv_out_size(7, 3, 2, 1), 4);
    ck_assert_int_eq(vit_conv_out_size(2, 5, 1, 0), 0);
    float w[4] = {0};
    vit_conv2d bad = {6, 4, 1, 1, 1, 1, 0, 0, 4, w, NULL, 0}; /* 4 groups do not divide 6 */
    ck_assert_int_eq(vit_conv2d_check(&bad), -EINVAL);
    vit_conv2d good = {8, 4, 3, 3, 2, 2, 1, 1, 4, w, NULL, 0};
    ck_assert_int_eq(vit_conv2d_check(&good), 0);
    ck_assert_double_eq(vit_conv2d_macs(&good, 8, 8), 4.0 * 4 * 4 * 2 * 9);
}
END_TEST

START_TEST(test_fold_bn_equals_conv_then_bn)
{
    int cin = 4, cout = 6, H = 6, W = 5;
    float *w = vt_rand_array((size_t)cout * cin * 9), *b = vt_rand_array(cout);
    float *gamma = vt_rand_array(cout), *beta = vt_rand_array(cout), *mean = vt_rand_array(cout);
    float var[6];
    for (int o = 0; o < cout; o++)
        var[o] = 0.5f + 0.4f * vt_frand();
    vit_conv2d c = {cin, cout, 3, 3, 1, 1, 1, 1, 1, w, b, 0};
    float *x = vt_rand_array((size_t)cin * H * W);
    int pixels;
    double *plain = naive_conv(&c, x, H, W, &pixels);
    float fw[6 * 4 * 9], fb[6];
    vit_conv2d_fold_bn(&c, gamma, beta, mean, var, 1e-5f, fw, fb);
    ck_assert_ptr_eq(c.weight, fw);
    float *out = malloc((size_t)pixels * cout * sizeof(float));
    float *scratch = malloc(vit_conv2d_scratch_floats(&c, VIT_CONV_CHW, pixels) * sizeof(float));
    vit_conv2d_rows(&c, x, VIT_CONV_CHW, H, W, 0, pixels, scratch, out, cout);
    double err = 0;
    for (int p = 0; p < pixels; p++)
        for (int o = 0; o < cout; o++) {
            double bn = (plain[p * cout + o] - mean[o]) / sqrt(var[o] + 1e-5) * gamma[o] + beta[o];
            err = fmax(err, fabs(out[p * cout + o] - bn));
        }
    ck_assert_msg(err < 1e-4, "max|diff| %g", err);
    free(w), free(b), free(gamma), free(beta), free(mean), free(x), free(plain), free(out);
    free(scratch);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("vit-conv");
    TCase *tc = tcase_create("conv");
    tcase_add_loop_test(tc, test_conv_matches_naive, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_loop_test(tc, test_dwconv_silu_matches_naive, 0, 5);
    tcase_add_test(tc, test_out_size_and_checks);
    tcase_add_test(tc, test_fold_bn_equals_conv_then_bn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    vt_rng_seed(777u);
    return vt_run_suite(conv_suite());
}
