/* test_gemm_bf16.c — the bf16 GEMM (kernels/gemm_bf16.c; B packed once, or per call for an
 * activation) and the model's bf16 weights (kernels/gemm_weights.c): the kernel against the fp32
 * kernel fed the same bf16-rounded operands (only the order of the fp32 sums may differ),
 * against plain fp32 within bf16's error, the recording of weights and the lookup by address and
 * shape, the hand-over to a pool's workers, and the precision names. The kernel tests check
 * nothing on a CPU without AVX512-BF16. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/threadpool.h"
#include "kernels/gemm_bf16.h"
#include "ops/ops.h"

static float round_bf16(float x)
{
    uint32_t u = (uint32_t)vit_f32_to_bf16(x) << 16;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static float *rounded_copy(const float *x, size_t n)
{
    float *y = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        y[i] = round_bf16(x[i]);
    return y;
}

static double max_rel(const float *x, const float *y, int M, int N, int ld)
{
    double worst = 0, scale = 1e-3;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            worst = fmax(worst, fabs(x[m * ld + n] - y[m * ld + n]));
            scale = fmax(scale, fabs(y[m * ld + n]));
        }
    return worst / scale;
}

static uint32_t *packed_copy(const float *B, int ldb, int trans, int N, int K)
{
    uint32_t *p = aligned_alloc(64, (vit_bf16_packed_words(N, K) * 4 + 63) & ~(size_t)63);
    vit_bf16_pack(B, ldb, trans, N, K, p);
    return p;
}

/* ragged sizes around every tile edge (12 x 32, k blocks of 256, odd K, column chunks of 128 for
 * an activation B), both B layouts, alpha, bias, accumulate and the fused GELU; B packed once
 * (a weight) and per call (an activation) */
START_TEST(test_kernel_matches_fp32_on_rounded_operands)
{
    if (!vit_cpu_has_avx512bf16() || vit_gemm_select("avx512") < 0)
        return;
    static const int dims[][3] = {{1, 1, 1},     {13, 33, 7},    {12, 32, 256},  {25, 70, 301},
                                  {6, 16, 513},  {197, 64, 197}, {4, 100, 2},    {9, 31, 258},
                                  {50, 197, 64}, {49, 49, 32},   {30, 300, 129}, {7, 129, 17}};
    for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
        int M = dims[t][0], N = dims[t][1], K = dims[t][2], lda = K + 3, ldc = N + 5;
        for (int v = 0; v < 4; v++) {
            int trans = v & 1, gelu = v == 3, acc = v == 1;
            int ldb = trans ? K + 2 : N + 1;
            size_t na = (size_t)M * lda, nb = (size_t)(trans ? N : K) * ldb;
            float *A = vt_rand_array(na), *B = vt_rand_array(nb), *bias = vt_rand_array(N);
            float *scales = vt_rand_array(2 * (size_t)N);
            const float *ls = v == 1 || v == 2 ? scales : NULL, *rs = v == 1 ? scales + N : NULL;
            float *C = vt_rand_array((size_t)M * ldc), *ref = malloc((size_t)M * ldc * 4);
            memcpy(ref, C, (size_t)M * ldc * 4);
            float *Ar = rounded_copy(A, na), *Br = rounded_copy(B, nb);
            uint32_t *packed = packed_copy(B, ldb, trans, N, K);
            float *Cact = malloc((size_t)M * ldc * 4);
            memcpy(Cact, C, (size_t)M * ldc * 4);
            vit_gemm_args g = {M,     N,    K,   0.5f, A,   lda,  NULL, ldb,
                               trans, bias, acc, C,    ldc, gelu, ls,   rs};
            vit_gemm_bf16_run(&g, packed);
            vit_gemm_args ga = {M,     N,    K,   0.5f, A,   lda,  B,  ldb,
                                trans, bias, acc, Cact, ldc, gelu, ls, rs};
            vit_gemm_bf16_act(&ga); /* B converted per call: the same bits as packed once */
            vit_gemm_args r = {M,     N,    K,   0.5f, Ar,  lda,  Br, ldb,
                               trans, bias, acc, ref,  ldc, gelu, ls, rs};
            vit_gemm_kernel_run(VIT_GEMM_AVX512, &r);
            double e = max_rel(C, ref, M, N, ldc);
            ck_assert_msg(e < 2e-5, "%dx%dx%d variant %d: relative error %g", M, N, K, v, e);
            ck_assert_msg(!memcmp(C, Cact, (size_t)M * ldc * 4), "%dx%dx%d variant %d: act differs",
                          M, N, K, v);
            free(A), free(B), free(bias), free(scales), free(C), free(ref), free(Ar), free(Br),
                free(packed);
            free(Cact);
        }
    }
}
END_TEST

START_TEST(test_kernel_within_bf16_error_of_fp32)
{
    if (!vit_cpu_has_avx512bf16() || vit_gemm_select("avx512") < 0)
        return;
    int M = 50, N = 96, K = 384;
    float *A = vt_rand_array((size_t)M * K), *W = vt_rand_array((size_t)N * K);
    float *C = malloc((size_t)M * N * 4), *ref = malloc((size_t)M * N * 4);
    uint32_t *packed = packed_copy(W, K, 1, N, K);
    vit_gemm_args g = {M, N, K, 1.0f, A, K, W, K, 1, NULL, 0, C, N, 0, NULL, NULL};
    vit_gemm_bf16_run(&g, packed);
    vit_linear(M, N, K, A, K, W, NULL, 0.0f, ref, N);
    double e = max_rel(C, ref, M, N, N);
    ck_assert_msg(e > 1e-6 && e < 2e-2, "bf16 vs fp32: relative error %g", e);
    free(A), free(W), free(C), free(ref), free(packed);
}
END_TEST

typedef struct rows_job {
    int M, N, K;
    const float *A, *W;
    float *C;
} rows_job;

static void rows_task(void *ctx, int task, int num_tasks)
{
    const rows_job *j = ctx;
    int r0, r1;
    vit_split_range(j->M, num_tasks, task, &r0, &r1);
    vit_linear(r1 - r0, j->N, j->K, j->A + (size_t)r0 * j->K, j->K, j->W, NULL, 0.0f,
               j->C + (size_t)r0 * j->N, j->N);
}

/* A recorder lists the weights (not the products on the session's own buffers), finish packs
 * them, and with the table in use a weight's product is bf16 on the caller and on the pool's
 * workers alike; a product without a packed copy (another shape) is bf16 too, its B converted
 * per call. */
START_TEST(test_weights_recorded_and_found)
{
    if (!vit_cpu_has_avx512bf16() || vit_gemm_select("avx512") < 0)
        return;
    enum { M = 40, N = 48, K = 64 };
    float *arena = vt_rand_array((size_t)M * K * 2), *W = vt_rand_array((size_t)N * K);
    float *C = malloc((size_t)M * N * 4), *fp32 = malloc((size_t)M * N * 4);
    float *pooled = malloc((size_t)M * N * 4), *direct = malloc((size_t)M * N * 4);
    vit_gemm_weights *w =
        vit_gemm_weights_recorder(VIT_GEMM_FORMAT_BF16, arena, (size_t)M * K * 2 * 4, NULL, 0);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_null(vit_gemm_use(w));
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, C, N);
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, C, N);                    /* listed once */
    vit_gemm(M, M, K, 1.0f, arena, K, arena + M * K, K, 1, NULL, 0, C, M); /* activations */
    ck_assert_ptr_eq(vit_gemm_use(NULL), w);
    ck_assert_int_eq(vit_gemm_weights_finish(w), 0);
    int count = 0;
    ck_assert_uint_eq(vit_gemm_weights_bytes(w, &count), vit_bf16_packed_words(N, K) * 4);
    ck_assert_int_eq(count, 1);

    uint32_t *packed = packed_copy(W, K, 1, N, K);
    vit_gemm_args g = {M, N, K, 1.0f, arena, K, NULL, K, 1, NULL, 0, direct, N, 0, NULL, NULL};
    vit_gemm_bf16_run(&g, packed);
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, fp32, N);
    vit_gemm_use(w);
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, C, N);
    ck_assert_mem_eq(C, direct, (size_t)M * N * 4);
    vit_linear(M, N - 1, K, arena, K, W, NULL, 0.0f, C, N); /* another shape: B converted */
    for (int m = 0; m < M; m++)
        ck_assert_mem_eq(C + m * N, direct + m * N, (size_t)(N - 1) * 4);
    vit_threadpool *pool = NULL;
    ck_assert_int_eq(vit_threadpool_new(2, &pool, NULL), 0);
    rows_job job = {M, N, K, arena, W, pooled};
    vit_threadpool_run(pool, 2, rows_task, &job);
    ck_assert_mem_eq(pooled, direct, (size_t)M * N * 4); /* row by row, the same sums */
    vit_gemm_use(NULL);
    vit_threadpool_run(pool, 2, rows_task, &job);
    ck_assert_mem_eq(pooled, fp32, (size_t)M * N * 4);
    vit_threadpool_free(pool);
    vit_gemm_weights_free(w);
    free(arena), free(W), free(C), free(fp32), free(pooled), free(direct), free(packed);
}
END_TEST

START_TEST(test_precision_names)
{
    vit_precision p = VIT_PRECISION_FP32;
    ck_assert_int_eq(vit_precision_from_string("bf16", &p), 0);
    ck_assert_int_eq(p, VIT_PRECISION_BF16);
    ck_assert_int_eq(vit_precision_from_string("auto", &p), 0);
    ck_assert_int_eq(p, VIT_PRECISION_AUTO);
    ck_assert_int_eq(vit_precision_from_string("BF16", &p), -EINVAL);
    ck_assert_int_eq(vit_precision_from_string(NULL, &p), -EINVAL);
    ck_assert_int_eq(p, VIT_PRECISION_AUTO);
    ck_assert_str_eq(vit_precision_name(VIT_PRECISION_FP32), "fp32");
    ck_assert_str_eq(vit_precision_name(VIT_PRECISION_BF16), "bf16");
    ck_assert_int_eq(vit_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_int_eq(vit_f32_to_bf16(1.00390625f), 0x3f80); /* a tie: to even */
    ck_assert_int_eq(vit_f32_to_bf16(1.01171875f), 0x3f82); /* a tie: to even, upwards */
    ck_assert_int_eq(vit_f32_to_bf16(NAN) & 0x7fc0, 0x7fc0);
}
END_TEST

static Suite *bf16_suite(void)
{
    Suite *s = suite_create("vit-gemm-bf16");
    TCase *tc = tcase_create("bf16");
    tcase_add_test(tc, test_kernel_matches_fp32_on_rounded_operands);
    tcase_add_test(tc, test_kernel_within_bf16_error_of_fp32);
    tcase_add_test(tc, test_weights_recorded_and_found);
    tcase_add_test(tc, test_precision_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    vt_rng_seed(4242u);
    return vt_run_suite(bf16_suite());
}
