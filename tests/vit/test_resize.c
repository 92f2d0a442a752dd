/* test_resize.c — resize.c against PyTorch's bilinear rule (align_corners=False, no antialias)
 * written out in double: stretching 7x5 to 8x6 and back, 3x3 to 4x4 (MobileViT at 96 and 224
 * input), row maps on either side (a permuted map reads and writes the same values), and a
 * few values worked by hand. Maps are token-major [H*W, C]. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "check_main.h"
#include "ops/resize.h"

/* Source cells and weight along one axis, as torch's upsample_bilinear2d computes them. */
static void taps(int in, int out, int o, int *i0, int *i1, double *f)
{
    double s = (o + 0.5) * in / out - 0.5;
    s = s < 0 ? 0 : s;
    *i0 = (int)s;
    *i1 = *i0 < in - 1 ? *i0 + 1 : *i0;
    *f = s - *i0;
}

static double naive(const float *x, int H, int W, int C, int OH, int OW, int p, int c)
{
    int y0, y1, x0, x1;
    double fy, fx;
    taps(H, OH, p / OW, &y0, &y1, &fy);
    taps(W, OW, p % OW, &x0, &x1, &fx);
#define X(y, xx) (double)x[((size_t)(y)*W + (xx)) * C + c]
    return (1 - fy) * ((1 - fx) * X(y0, x0) + fx * X(y0, x1)) +
           fy * ((1 - fx) * X(y1, x0) + fx * X(y1, x1));
#undef X
}

static void check_size(int H, int W, int OH, int OW, int C)
{
    float *x = vt_rand_array((size_t)H * W * C);
    int ldo = C + 2; /* the output stride is respected */
    float *out = calloc((size_t)OH * OW * ldo, sizeof(float));
    vit_bilinear_rows(x, NULL, H, W, C, OH, OW, 0, OH * OW / 2, out, NULL, ldo);
    vit_bilinear_rows(x, NULL, H, W, C, OH, OW, OH * OW / 2, OH * OW, out, NULL, ldo);
    for (int p = 0; p < OH * OW; p++)
        for (int c = 0; c < C; c++)
            ck_assert_msg(fabs(out[(size_t)p * ldo + c] - naive(x, H, W, C, OH, OW, p, c)) < 1e-6,
                          "%dx%d -> %dx%d pixel %d channel %d", H, W, OH, OW, p, c);
    free(x);
    free(out);
}

START_TEST(test_matches_torch_rule)
{
    check_size(7, 5, 8, 6, 3);
    check_size(8, 6, 7, 5, 3);
    check_size(3, 3, 4, 4, 5);
    check_size(4, 4, 3, 3, 5);
    check_size(7, 7, 14, 14, 2); /* EfficientFormerV2's x2 */
}
END_TEST

START_TEST(test_hand_values)
{
    /* 1 x 2 -> 1 x 4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last) */
    float x[2] = {0.0f, 4.0f}, out[4];
    vit_bilinear_rows(x, NULL, 1, 2, 1, 1, 4, 0, 4, out, NULL, 1);
    ck_assert_float_eq_tol(out[0], 0.0f, 1e-6f);
    ck_assert_float_eq_tol(out[1], 1.0f, 1e-6f);
    ck_assert_float_eq_tol(out[2], 3.0f, 1e-6f);
    ck_assert_float_eq_tol(out[3], 4.0f, 1e-6f);
}
END_TEST

START_TEST(test_row_maps)
{
    int H = 3, W = 3, OH = 4, OW = 4, C = 4;
    int in_rows[9], out_rows[16];
    for (int i = 0; i < 9; i++)
        in_rows[i] = (i * 4) % 9; /* a permutation of 0..8 */
    for (int i = 0; i < 16; i++)
        out_rows[i] = 15 - i;
    float *x = vt_rand_array((size_t)H * W * C), *xp = malloc(sizeof(float) * H * W * C);
    for (int i = 0; i < 9; i++)
        for (int c = 0; c < C; c++)
            xp[in_rows[i] * C + c] = x[i * C + c];
    float plain[16 * 4], mapped[16 * 4];
    vit_bilinear_rows(x, NULL, H, W, C, OH, OW, 0, 16, plain, NULL, C);
    vit_bilinear_rows(xp, in_rows, H, W, C, OH, OW, 0, 16, mapped, out_rows, C);
    for (int p = 0; p < 16; p++)
        for (int c = 0; c < C; c++)
            ck_assert_float_eq(mapped[out_rows[p] * C + c], plain[p * C + c]);
    free(x);
    free(xp);
}
END_TEST

int main(void)
{
    vt_rng_seed(7);
    Suite *s = suite_create("vit-resize");
    TCase *tc = tcase_create("resize");
    tcase_add_test(tc, test_matches_torch_rule);
    tcase_add_test(tc, test_hand_values);
    tcase_add_test(tc, test_row_maps);
    suite_add_tcase(s, tc);
    return vt_run_suite(s);
}
