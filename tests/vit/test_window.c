/* test_window.c — window.c against a literal Swin: roll the map by -shift, partition into
 * windows, attention with the relative-position bias and the -100 mask built as timm builds
 * them (an image of region ids, compared per window), reverse and roll back. Also the relative
 * index itself, and that no shift means plain attention inside each window. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "ops/window.h"

/* The literal algorithm in double precision; out [H*W, C]. */
static void naive_swin(int H, int W, int C, int heads, int ws, int s, const float *qkv,
                       const float *table, double *out)
{
    int n = ws * ws, d = C / heads, T = 2 * ws - 1;
    int *img = malloc(sizeof(int) * H * W); /* region ids of the rolled image */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int ry = y < H - ws ? 0 : y < H - s ? 1 : 2, rx = x < W - ws ? 0 : x < W - s ? 1 : 2;
            img[y * W + x] = s ? ry * 3 + rx : 0;
        }
    double *sc = malloc(sizeof(double) * n);
    for (int wy = 0; wy < H / ws; wy++)
        for (int wx = 0; wx < W / ws; wx++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < n; i++) {
                    int yi = wy * ws + i / ws, xi = wx * ws + i % ws; /* rolled coords */
                    int oi = ((yi + s) % H) * W + (xi + s) % W;       /* source token */
                    double mx = -1e300, sum = 0;
                    for (int j = 0; j < n; j++) {
                        int yj = wy * ws + j / ws, xj = wx * ws + j % ws;
                        int oj = ((yj + s) % H) * W + (xj + s) % W;
                        const float *q = qkv + oi * 3 * C + h * d,
                                    *kk = qkv + oj * 3 * C + C + h * d;
                        double a = 0;
                        for (int k = 0; k < d; k++)
                            a += (double)q[k] * kk[k];
                        a /= sqrt(d);
                        int idx = (i / ws - j / ws + ws - 1) * T + (i % ws - j % ws + ws - 1);
                        if (table)
                            a += table[idx * heads + h];
                        if (img[yi * W + xi] != img[yj * W + xj])
                            a -= 100.0;
                        sc[j] = a;
                        mx = fmax(mx, a);
                    }
                    for (int j = 0; j < n; j++)
                        sum += (sc[j] = exp(sc[j] - mx));
                    for (int k = 0; k < d; k++) {
                        double v = 0;
                        for (int j = 0; j < n; j++) {
                            int yj = wy * ws + j / ws, xj = wx * ws + j % ws;
                            int oj = ((yj + s) % H) * W + (xj + s) % W;
                            v += sc[j] / sum * qkv[oj * 3 * C + 2 * C + h * d + k];
                        }
                        out[oi * C + h * d + k] = v;
                    }
                }
    free(img);
    free(sc);
}

static void check_case(int H, int W, int C, int heads, int ws, int shift, int with_bias)
{
    int N = H * W, T = (2 * ws - 1) * (2 * ws - 1);
    float *qkv = malloc(sizeof(float) * N * 3 * C), *table = malloc(sizeof(float) * T * heads);
    for (int i = 0; i < N * 3 * C; i++)
        qkv[i] = 2.0f * vt_frand();
    for (int i = 0; i < T * heads; i++)
        table[i] = vt_frand();
    int *idx = malloc(sizeof(int) * ws * ws * ws * ws);
    vit_window_rel_index(ws, idx);
    vit_window_attn wa = {H, W, C, heads, ws, shift, with_bias ? table : NULL, idx};
    float *scratch = malloc(sizeof(float) * vit_window_scratch_floats(&wa));
    float *out = calloc((size_t)N * C, sizeof(float));
    double *want = calloc((size_t)N * C, sizeof(double));
    vit_window_attention(&wa, qkv, 0, vit_window_count(&wa), scratch, out, C);
    naive_swin(H, W, C, heads, ws, shift, qkv, with_bias ? table : NULL, want);
    double err = 0;
    for (int i = 0; i < N * C; i++)
        err = fmax(err, fabs(out[i] - want[i]));
    ck_assert_msg(err < 1e-5, "%dx%d ws %d shift %d: max|diff| %g", H, W, ws, shift, err);
    free(qkv), free(table), free(idx), free(scratch), free(out), free(want);
}

START_TEST(test_shifted_windows_match_roll_and_mask)
{
    check_case(14, 14, 12, 3, 7, 3, 1);
    check_case(8, 12, 8, 2, 4, 2, 1);
}
END_TEST

START_TEST(test_unshifted_cells_without_bias)
{
    check_case(8, 8, 8, 2, 4, 0, 0);
    check_case(6, 6, 4, 1, 6, 0, 1); /* one window over the whole grid */
}
END_TEST

START_TEST(test_relative_index)
{
    int idx[16 * 16];
    vit_window_rel_index(4, idx);
    ck_assert_int_eq(idx[0], 3 * 7 + 3);           /* same token: the table's centre */
    ck_assert_int_eq(idx[0 * 16 + 15], 0);         /* (0,0) vs (3,3) */
    ck_assert_int_eq(idx[15 * 16 + 0], 6 * 7 + 6); /* (3,3) vs (0,0) */
    ck_assert_int_eq(idx[1 * 16 + 4], 2 * 7 + 4);  /* (0,1) vs (1,0) */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vit-window");
    TCase *tc = tcase_create("window");
    tcase_add_test(tc, test_shifted_windows_match_roll_and_mask);
    tcase_add_test(tc, test_unshifted_cells_without_bias);
    tcase_add_test(tc, test_relative_index);
    suite_add_tcase(s, tc);
    vt_rng_seed(99u);
    return vt_run_suite(s);
}
