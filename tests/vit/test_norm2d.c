/* test_norm2d.c — norm2d.c against naive double-precision GroupNorm(1) and BatchNorm: the
 * partial sums split anywhere add up to the whole map's mean and variance (so threads may split
 * rows freely), the affine matches, and a map with a large offset keeps its small variance
 * (the two-pass form; E[x^2] - E[x]^2 would cancel). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "check_main.h"
#include "ops/norm2d.h"

static float *map(int N, int C, float offset)
{
    float *x = malloc(sizeof(float) * N * C);
    for (int i = 0; i < N * C; i++)
        x[i] = offset + (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    return x;
}

static void naive_stats(const float *x, int n, double *mean, double *var)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *var = q / n;
}

START_TEST(test_groupnorm_partials_split_anywhere)
{
    int N = 37, C = 19;
    float *x = map(N, C, 1000.0f); /* offset 1000, spread ~0.29: float E[x^2] would fail */
    double mean, var;
    naive_stats(x, N * C, &mean, &var);
    int splits[] = {0, 1, 17, 36, 37};
    double s = 0;
    for (int i = 0; i + 1 < 5; i++)
        s += vit_gn_partial_sum(x, C, C, splits[i], splits[i + 1]);
    double m = s / (N * C), q = 0;
    for (int i = 0; i + 1 < 5; i++)
        q += vit_gn_partial_sq_dev(x, C, C, splits[i], splits[i + 1], m);
    ck_assert_double_eq_tol(m, mean, 1e-9);
    ck_assert_double_eq_tol(q / (N * C), var, 1e-9 * var + 1e-12);
    ck_assert(var > 0.05);
    free(x);
}
END_TEST

START_TEST(test_affine_applies_gamma_beta_per_channel)
{
    int N = 5, C = 3;
    float *x = map(N, C, 0.0f), y[15];
    float gamma[3] = {1.0f, -2.0f, 0.5f}, beta[3] = {0.0f, 1.0f, -3.0f};
    vit_channel_affine_rows(x, C, C, 1, 4, 0.25f, 2.0f, gamma, beta, y, C);
    for (int r = 1; r < 4; r++)
        for (int c = 0; c < C; c++)
            ck_assert_float_eq_tol(y[r * C + c], (x[r * C + c] - 0.25f) * 2.0f * gamma[c] + beta[c],
                                   1e-6f);
    free(x);
}
END_TEST

START_TEST(test_batchnorm_as_affine)
{
    float g[2] = {2.0f, 0.5f}, b[2] = {1.0f, -1.0f}, m[2] = {3.0f, -4.0f}, v[2] = {4.0f, 0.25f};
    float scale[2], shift[2];
    vit_bn_to_affine(2, g, b, m, v, 1e-5f, scale, shift);
    for (int c = 0; c < 2; c++) {
        float xval = 1.5f;
        double want = (xval - m[c]) / sqrt(v[c] + 1e-5) * g[c] + b[c];
        ck_assert_double_eq_tol(xval * scale[c] + shift[c], want, 1e-5);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vit-norm2d");
    TCase *tc = tcase_create("norm2d");
    tcase_add_test(tc, test_groupnorm_partials_split_anywhere);
    tcase_add_test(tc, test_affine_applies_gamma_beta_per_channel);
    tcase_add_test(tc, test_batchnorm_as_affine);
    suite_add_tcase(s, tc);
    return vt_run_suite(s);
}
