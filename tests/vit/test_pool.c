/* test_pool.c — pool.c against naive loops: PoolFormer's mixer (3x3 average with
 * count_include_pad False, border cells dividing by the cells inside; with its residual and
 * scales), strided k x k averages, 2x2 max, adaptive average bins (PyTorch's floor/ceil edges,
 * overlapping when the size does not divide), and the token mean. Maps are token-major
 * [H*W, C]. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "check_main.h"
#include "ops/pool.h"

static float *ramp_map(int H, int W, int C)
{
    float *x = malloc((size_t)H * W * C * sizeof(float));
    for (int i = 0; i < H * W * C; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    return x;
}

#define AT(x, W, C, y, xx, c) (x)[((size_t)(y) * (W) + (xx)) * (C) + (c)]

/* out = rs * x + scale * g * ls * (AvgPool3x3(x) - x); C = 70 spans two channel blocks */
START_TEST(test_pool_mixer_excludes_padding)
{
    int H = 5, W = 4, C = 70;
    float *x = ramp_map(H, W, C), *out = calloc((size_t)H * W * C, sizeof(float));
    float *g = ramp_map(1, 1, C), *ls = ramp_map(1, 2, C), *rs = ls + C, scale = 0.7f;
    vit_pool_mixer_residual_rows(x, H, W, C, 0, H * W, scale, g, ls, rs, out);
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                int n = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        if (y + dy >= 0 && y + dy < H && xx + dx >= 0 && xx + dx < W) {
                            s += AT(x, W, C, y + dy, xx + dx, c);
                            n++;
                        }
                double v = AT(x, W, C, y, xx, c);
                double want = rs[c] * v + (double)scale * g[c] * ls[c] * (s / n - v);
                ck_assert_double_eq_tol(AT(out, W, C, y, xx, c), want, 1e-5);
            }
    /* corner: 4 cells, not 9; no vectors: plain x + (AvgPool(x) - x) */
    vit_pool_mixer_residual_rows(x, H, W, C, 0, H * W, 1.0f, NULL, NULL, NULL, out);
    double corner = (AT(x, W, C, 0, 0, 0) + AT(x, W, C, 0, 1, 0) + AT(x, W, C, 1, 0, 0) +
                     AT(x, W, C, 1, 1, 0)) /
                    4.0;
    ck_assert_double_eq_tol(out[0], corner, 1e-6);
    free(x), free(out), free(g), free(ls);
}
END_TEST

START_TEST(test_strided_average_and_max)
{
    int H = 8, W = 6, C = 5, k = 2;
    float *x = ramp_map(H, W, C);
    float *avg = calloc((size_t)(H / k) * (W / k) * C, sizeof(float));
    float *mx = calloc((size_t)(H / 2) * (W / 2) * C, sizeof(float));
    vit_avgpool_rows(x, H, W, C, k, k, 0, 1, 0, (H / k) * (W / k), avg, C);
    vit_maxpool2_rows(x, H, W, C, 0, (H / 2) * (W / 2), mx, C);
    for (int y = 0; y < H / 2; y++)
        for (int xx = 0; xx < W / 2; xx++)
            for (int c = 0; c < C; c++) {
                float a = AT(x, W, C, 2 * y, 2 * xx, c), b = AT(x, W, C, 2 * y, 2 * xx + 1, c);
                float d = AT(x, W, C, 2 * y + 1, 2 * xx, c);
                float e = AT(x, W, C, 2 * y + 1, 2 * xx + 1, c);
                ck_assert_double_eq_tol(AT(avg, W / 2, C, y, xx, c), (a + b + d + e) / 4.0, 1e-6);
                ck_assert_float_eq(AT(mx, W / 2, C, y, xx, c), fmaxf(fmaxf(a, b), fmaxf(d, e)));
            }
    free(x);
    free(avg);
    free(mx);
}
END_TEST

START_TEST(test_adaptive_bins_overlap)
{
    int H = 4, W = 4, C = 1, O = 7; /* 4 -> 7: bins of 1 or 2 cells that overlap */
    float *x = ramp_map(H, W, C), *out = calloc((size_t)O * O, sizeof(float));
    vit_adaptive_avgpool_rows(x, H, W, C, O, O, 0, O * O, out, C);
    for (int i = 0; i < O; i++)
        for (int j = 0; j < O; j++) {
            int y0 = i * H / O, y1 = (int)ceil((i + 1) * H / (double)O);
            int x0 = j * W / O, x1 = (int)ceil((j + 1) * W / (double)O);
            double s = 0;
            for (int y = y0; y < y1; y++)
                for (int xx = x0; xx < x1; xx++)
                    s += x[y * W + xx];
            ck_assert_double_eq_tol(out[i * O + j], s / ((y1 - y0) * (x1 - x0)), 1e-6);
        }
    free(x);
    free(out);
}
END_TEST

START_TEST(test_token_mean)
{
    float x[6] = {1, 2, 3, 4, 5, 9}, m[2];
    vit_token_mean(x, 2, 3, 2, m);
    ck_assert_float_eq_tol(m[0], 3.0f, 1e-6f);
    ck_assert_float_eq_tol(m[1], 5.0f, 1e-6f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vit-pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, test_pool_mixer_excludes_padding);
    tcase_add_test(tc, test_strided_average_and_max);
    tcase_add_test(tc, test_adaptive_bins_overlap);
    tcase_add_test(tc, test_token_mean);
    suite_add_tcase(s, tc);
    return vt_run_suite(s);
}
