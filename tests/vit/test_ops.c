/* test_ops.c — every numeric op of libvit against a naive double-precision reference:
 * the GEMM wrapper (bias, accumulate, residual scales, row split over threads), LayerNorm,
 * softmax, GELU,
 * attention on the fused qkv layout, the patch-embedding unfold, and the thread pool. */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check_main.h"
#include "ops/ops.h"
#include "core/threadpool.h"

static double max_abs_diff(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void naive_linear(int M, int N, int K, const float *A, const float *W, const float *bias,
                         double *C)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++)
                s += (double)A[m * K + k] * W[n * K + k];
            C[m * N + n] = s;
        }
}

static const char *const backends[] = {"blas", "avx2", "avx512"};

/* Selects backend i; false when this CPU lacks it (the test then checks nothing more). */
static int use_backend(int i)
{
    return vit_gemm_select(backends[i]) == 0;
}

START_TEST(test_linear_bias_and_accumulate)
{
    if (!use_backend(_i))
        return;
    int M = 7, N = 13, K = 19;
    float *A = vt_rand_array((size_t)M * K), *W = vt_rand_array((size_t)N * K),
          *b = vt_rand_array(N);
    float *C = vt_rand_array((size_t)M * N);
    double *ref = malloc(sizeof(double) * M * N);
    naive_linear(M, N, K, A, W, b, ref);
    for (int i = 0; i < M * N; i++)
        ref[i] += C[i]; /* beta = 1 keeps what was there: the fused residual add */
    vit_linear(M, N, K, A, K, W, b, 1.0f, C, N);
    ck_assert_double_lt(max_abs_diff(C, ref, (size_t)M * N), 1e-5);
    naive_linear(M, N, K, A, W, NULL, ref);
    vit_linear(M, N, K, A, K, W, NULL, 0.0f, C, N);
    ck_assert_double_lt(max_abs_diff(C, ref, (size_t)M * N), 1e-5);
    free(A), free(W), free(b), free(C), free(ref);
}
END_TEST

START_TEST(test_linear_rows_threaded_split)
{
    if (!use_backend(_i))
        return;
    vit_threadpool *pool;
    ck_assert_int_eq(vit_threadpool_new(3, &pool, NULL), 0);
    int M = 197, N = 40, K = 24; /* 197 rows do not divide by 3 */
    float *A = vt_rand_array((size_t)M * K), *W = vt_rand_array((size_t)N * K),
          *b = vt_rand_array(N);
    float *C = calloc((size_t)M * N, sizeof(float));
    double *ref = malloc(sizeof(double) * M * N);
    naive_linear(M, N, K, A, W, b, ref);
    vit_linear_rows(pool, M, N, K, A, K, W, b, C, N);
    ck_assert_double_lt(max_abs_diff(C, ref, (size_t)M * N), 1e-5);
    /* fewer rows than threads */
    naive_linear(2, N, K, A, W, b, ref);
    vit_linear_rows(pool, 2, N, K, A, K, W, b, C, N);
    ck_assert_double_lt(max_abs_diff(C, ref, (size_t)2 * N), 1e-5);
    vit_threadpool_free(pool);
    free(A), free(W), free(b), free(C), free(ref);
}
END_TEST

START_TEST(test_split_range_covers_everything)
{
    for (int n = 0; n < 50; n++)
        for (int parts = 1; parts < 9; parts++) {
            int expect = 0;
            for (int i = 0; i < parts; i++) {
                int r0, r1;
                vit_split_range(n, parts, i, &r0, &r1);
                ck_assert_int_eq(r0, expect);
                ck_assert_int_ge(r1, r0);
                ck_assert_int_le(r1 - r0, n / parts + 1);
                expect = r1;
            }
            ck_assert_int_eq(expect, n);
        }
}
END_TEST

START_TEST(test_layernorm)
{
    int rows = 5, C = 37;
    float *x = vt_rand_array((size_t)rows * C), *g = vt_rand_array(C), *b = vt_rand_array(C);
    for (int i = 0; i < rows * C; i++)
        x[i] = x[i] * 3.0f + 100.0f; /* a large mean: the one-pass variance would lose it */
    float *y = malloc(sizeof(float) * rows * C);
    double *ref = malloc(sizeof(double) * rows * C);
    for (int r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++)
            mean += x[r * C + c];
        mean /= C;
        for (int c = 0; c < C; c++)
            var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
        var /= C;
        for (int c = 0; c < C; c++)
            ref[r * C + c] = (x[r * C + c] - mean) / sqrt(var + 1e-6) * g[c] + b[c];
    }
    vit_layernorm_rows(rows, C, x, C, g, b, 1e-6f, y, C);
    ck_assert_double_lt(max_abs_diff(y, ref, (size_t)rows * C), 2e-4);
    free(x), free(g), free(b), free(y), free(ref);
}
END_TEST

START_TEST(test_softmax)
{
    int rows = 3, N = 197;
    float *x = vt_rand_array((size_t)rows * N);
    for (int i = 0; i < rows * N; i++)
        x[i] *= 30.0f; /* wide range: exercises the max subtraction */
    double *ref = malloc(sizeof(double) * rows * N);
    for (int r = 0; r < rows; r++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < N; j++)
            mx = fmax(mx, x[r * N + j]);
        for (int j = 0; j < N; j++)
            s += exp(x[r * N + j] - mx);
        for (int j = 0; j < N; j++)
            ref[r * N + j] = exp(x[r * N + j] - mx) / s;
    }
    vit_softmax_rows(rows, N, x, N);
    ck_assert_double_lt(max_abs_diff(x, ref, (size_t)rows * N), 1e-6);
    free(x), free(ref);
}
END_TEST

START_TEST(test_gelu_exact_erf_form)
{
    double worst = 0;
    for (double v = -12.0; v <= 12.0; v += 0.001) {
        double ref = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
        worst = fmax(worst, fabs(vit_gelu((float)v) - ref) / fmax(1.0, fabs(v)));
    }
    ck_assert_double_lt(worst, 1e-6);
    /* the row form (vectorised, with a ragged tail) over the same range */
    enum { NV = 24001 };
    float *row = malloc(sizeof(float) * NV), *inputs = malloc(sizeof(float) * NV);
    for (int i = 0; i < NV; i++)
        row[i] = inputs[i] = (float)(-12.0 + 0.001 * i);
    vit_bias_gelu_rows(1, NV, row, NV, NULL);
    for (int i = 0; i < NV; i++) {
        double v = inputs[i];
        double ref = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
        ck_assert_msg(fabs(row[i] - ref) <= 1e-6 * fmax(1.0, fabs(v)), "gelu(%g) = %g, not %g", v,
                      row[i], ref);
    }
    free(row);
    free(inputs);
    /* and the fused bias form */
    float x[4] = {-1.0f, 0.0f, 0.5f, 2.0f}, bias[4] = {0.5f, 0.0f, -0.5f, 1.0f};
    vit_bias_gelu_rows(1, 4, x, 4, bias);
    for (int i = 0; i < 4; i++) {
        double in = (double)((float[]){-0.5f, 0.0f, 0.0f, 3.0f})[i];
        ck_assert_double_lt(fabs(x[i] - 0.5 * in * (1.0 + erf(in / sqrt(2.0)))), 1e-6);
    }
}
END_TEST

START_TEST(test_gemm_shapes_and_layouts)
{
    if (!use_backend(_i))
        return;
    /* ragged sizes around every tile edge, both B layouts, alpha, accumulate, long K */
    static const int dims[][3] = {{1, 1, 1},     {13, 33, 7},  {12, 32, 256},
                                  {25, 70, 300}, {6, 16, 513}, {197, 64, 197}};
    for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
        int M = dims[t][0], N = dims[t][1], K = dims[t][2], lda = K + 3, ldc = N + 5;
        for (int trans = 0; trans < 2; trans++) {
            int ldb = trans ? K + 2 : N + 1;
            float *A = vt_rand_array((size_t)M * lda),
                  *B = vt_rand_array((size_t)(trans ? N : K) * ldb);
            float *C = vt_rand_array((size_t)M * ldc), *bias = vt_rand_array(N);
            double *ref = malloc(sizeof(double) * M * N);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)A[m * lda + k] * (trans ? B[n * ldb + k] : B[k * ldb + n]);
                    ref[m * N + n] = 0.5 * s + bias[n] + C[m * ldc + n];
                }
            vit_gemm(M, N, K, 0.5f, A, lda, B, ldb, trans, bias, 1, C, ldc);
            double worst = 0;
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++)
                    worst = fmax(worst, fabs(C[m * ldc + n] - ref[m * N + n]));
            ck_assert_msg(worst < 1e-4, "%s %dx%dx%d trans %d: error %g", backends[_i], M, N, K,
                          trans, worst);
            free(A), free(B), free(C), free(bias), free(ref);
        }
    }
}
END_TEST

START_TEST(test_linear_act_fused)
{
    if (!use_backend(_i))
        return;
    /* K = 1600 spans three K blocks: the activation must see the finished sum, once */
    int M = 29, N = 70, K = 1600;
    float *A = vt_rand_array((size_t)M * K), *W = vt_rand_array((size_t)N * K),
          *b = vt_rand_array(N);
    float *C = vt_rand_array((size_t)M * N);
    double *lin = malloc(sizeof(double) * M * N), *ref = malloc(sizeof(double) * M * N);
    naive_linear(M, N, K, A, W, b, lin);
    for (int i = 0; i < M * N; i++)
        ref[i] = 0.5 * lin[i] * (1.0 + erf(lin[i] / sqrt(2.0)));
    vit_linear_gelu(M, N, K, A, K, W, b, C, N);
    double e = max_abs_diff(C, ref, (size_t)M * N);
    ck_assert_msg(e < 1e-4, "%s GELU: error %g", backends[_i], e);
    for (int i = 0; i < M * N; i++)
        ref[i] = lin[i] / (1.0 + exp(-lin[i]));
    vit_linear_silu(M, N, K, A, K, W, b, C, N);
    e = max_abs_diff(C, ref, (size_t)M * N);
    ck_assert_msg(e < 1e-4, "%s SiLU: error %g", backends[_i], e);
    free(A), free(W), free(b), free(C), free(lin), free(ref);
}
END_TEST

START_TEST(test_linear_residual_scales)
{
    if (!use_backend(_i))
        return;
    /* K = 1600 spans three K blocks: rs scales the old C once, ls every block's part */
    static const int dims[][3] = {{29, 70, 300}, {13, 33, 1600}, {1, 5, 7}};
    for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
        int M = dims[t][0], N = dims[t][1], K = dims[t][2];
        float *A = vt_rand_array((size_t)M * K), *W = vt_rand_array((size_t)N * K);
        float *b = vt_rand_array(N), *ls = vt_rand_array(N), *rs = vt_rand_array(N);
        float *C = vt_rand_array((size_t)M * N);
        double *ref = malloc(sizeof(double) * M * N);
        naive_linear(M, N, K, A, W, b, ref);
        for (int i = 0; i < M * N; i++)
            ref[i] = (double)rs[i % N] * C[i] + (double)ls[i % N] * ref[i];
        vit_linear_residual(M, N, K, A, K, W, b, ls, rs, C, N);
        double e = max_abs_diff(C, ref, (size_t)M * N);
        ck_assert_msg(e < 1e-4, "%s %dx%dx%d: error %g", backends[_i], M, N, K, e);
        naive_linear(M, N, K, A, W, NULL, ref); /* layer scale alone, C = C + ls * (A W^T) */
        for (int i = 0; i < M * N; i++)
            ref[i] = C[i] + (double)ls[i % N] * ref[i];
        vit_linear_residual(M, N, K, A, K, W, NULL, ls, NULL, C, N);
        e = max_abs_diff(C, ref, (size_t)M * N);
        ck_assert_msg(e < 1e-4, "%s %dx%dx%d, ls only: error %g", backends[_i], M, N, K, e);
        free(A), free(W), free(b), free(ls), free(rs), free(C), free(ref);
    }
}
END_TEST

START_TEST(test_attention_fused_qkv)
{
    int N = 11, C = 12, heads = 3, d = C / heads;
    float *qkv = vt_rand_array((size_t)N * 3 * C);
    float *out = calloc((size_t)N * C, sizeof(float));
    float *scores = malloc(sizeof(float) * N * N);
    double *ref = malloc(sizeof(double) * N * C);
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < N; i++) {
            double logit[64], mx = -INFINITY, s = 0;
            for (int j = 0; j < N; j++) {
                double dot = 0;
                for (int k = 0; k < d; k++)
                    dot += (double)qkv[i * 3 * C + h * d + k] * qkv[j * 3 * C + C + h * d + k];
                logit[j] = dot / sqrt(d);
                mx = fmax(mx, logit[j]);
            }
            for (int j = 0; j < N; j++)
                s += exp(logit[j] - mx);
            for (int k = 0; k < d; k++) {
                double acc = 0;
                for (int j = 0; j < N; j++)
                    acc += exp(logit[j] - mx) / s * qkv[j * 3 * C + 2 * C + h * d + k];
                ref[i * C + h * d + k] = acc;
            }
        }
    /* two row ranges, as two threads would compute them */
    vit_attention_rows(N, C, heads, qkv, 0, 4, scores, out, C);
    vit_attention_rows(N, C, heads, qkv, 4, N, scores + 4 * N, out, C);
    ck_assert_double_lt(max_abs_diff(out, ref, (size_t)N * C), 1e-5);
    free(qkv), free(out), free(scores), free(ref);
}
END_TEST

START_TEST(test_patch_embed_matches_convolution)
{
    int Cin = 3, H = 12, W = 8, p = 4, D = 5, gh = H / p, gw = W / p, np = gh * gw;
    int K = Cin * p * p;
    float *img = vt_rand_array((size_t)Cin * H * W), *w = vt_rand_array((size_t)D * K);
    float *b = vt_rand_array(D);
    float *rows = malloc(sizeof(float) * np * K), *out = malloc(sizeof(float) * np * D);
    double *ref = malloc(sizeof(double) * np * D);
    for (int gy = 0; gy < gh; gy++)
        for (int gx = 0; gx < gw; gx++)
            for (int o = 0; o < D; o++) {
                double s = b[o];
                for (int c = 0; c < Cin; c++)
                    for (int ky = 0; ky < p; ky++)
                        for (int kx = 0; kx < p; kx++)
                            s += (double)w[((o * Cin + c) * p + ky) * p + kx] *
                                 img[(c * H + gy * p + ky) * W + gx * p + kx];
                ref[(gy * gw + gx) * D + o] = s;
            }
    /* in two parts, as the threads do */
    vit_patches_to_rows(img, Cin, H, W, p, gw, 0, 2, rows);
    vit_patches_to_rows(img, Cin, H, W, p, gw, 2, np, rows + 2 * K);
    vit_linear(np, D, K, rows, K, w, b, 0.0f, out, D);
    ck_assert_double_lt(max_abs_diff(out, ref, (size_t)np * D), 1e-5);
    free(img), free(w), free(b), free(rows), free(out), free(ref);
}
END_TEST

typedef struct count_ctx {
    int n;
    atomic_int hits[200];
} count_ctx;

static void count_task(void *ctx, int task, int n)
{
    count_ctx *c = ctx;
    ck_assert_int_eq(n, c->n);
    atomic_fetch_add(&c->hits[task], 1);
}

/* Both ways of handing out tasks: the per-thread-first bit mask (up to 64) and the counter. */
START_TEST(test_threadpool_runs_each_task_once)
{
    static const int sizes[] = {2, 3, 5, 63, 64, 65, 200};
    for (int threads = 1; threads <= 4; threads++) {
        vit_threadpool *pool;
        ck_assert_int_eq(vit_threadpool_new(threads, &pool, NULL), 0);
        ck_assert_int_eq(vit_threadpool_threads(pool), threads);
        for (int round = 0; round < 200; round++) {
            count_ctx c;
            c.n = sizes[round % 7];
            for (int i = 0; i < c.n; i++)
                atomic_init(&c.hits[i], 0);
            vit_threadpool_run(pool, c.n, count_task, &c);
            for (int i = 0; i < c.n; i++)
                ck_assert_int_eq(atomic_load(&c.hits[i]), 1);
        }
        vit_threadpool_free(pool);
    }
    vit_error err;
    vit_threadpool *pool = NULL;
    ck_assert_int_lt(vit_threadpool_new(0, &pool, &err), 0);
    ck_assert_ptr_null(pool);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("vit-ops");
    TCase *tc = tcase_create("ops");
    tcase_add_loop_test(tc, test_linear_bias_and_accumulate, 0, 3);
    tcase_add_loop_test(tc, test_linear_rows_threaded_split, 0, 3);
    tcase_add_loop_test(tc, test_gemm_shapes_and_layouts, 0, 3);
    tcase_add_loop_test(tc, test_linear_act_fused, 0, 3);
    tcase_add_loop_test(tc, test_linear_residual_scales, 0, 3);
    tcase_add_test(tc, test_split_range_covers_everything);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_gelu_exact_erf_form);
    tcase_add_test(tc, test_attention_fused_qkv);
    tcase_add_test(tc, test_patch_embed_matches_convolution);
    tcase_add_test(tc, test_threadpool_runs_each_task_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    vt_rng_seed(12345u);
    return vt_run_suite(ops_suite());
}
