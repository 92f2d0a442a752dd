/* test_gemm_weights.c — the fp32 packed weights (kernels/gemm_weights.c, vit_f32_pack and
 * vit_gemm_kernel_run_packed in kernels/gemm_kernel.c): a product reading a packed weight gives
 * exactly the bits of the same product packing B per call (same blocking, same sums), on ragged
 * sizes around every tile and K-block edge; a recorder in fp32 format lists and packs weights,
 * and with it in use products change speed only. Nothing is checked on a CPU without AVX-512. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/threadpool.h"
#include "kernels/gemm_kernel.h"
#include "ops/ops.h"

static float *packed_copy(const float *B, int ldb, int trans, int N, int K)
{
    float *p = aligned_alloc(64, (vit_f32_packed_floats(N, K) * 4 + 63) & ~(size_t)63);
    vit_f32_pack(B, ldb, trans, N, K, p);
    return p;
}

/* both B layouts, alpha, bias, accumulate and the fused GELU; K past one 768 block */
START_TEST(test_packed_matches_per_call_packing)
{
    if (vit_gemm_select("avx512") < 0)
        return;
    static const int dims[][3] = {{1, 1, 1},     {13, 33, 7},    {12, 32, 256}, {25, 70, 301},
                                  {6, 16, 1537}, {197, 64, 197}, {4, 100, 2},   {49, 96, 769}};
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
            float *packed = packed_copy(B, ldb, trans, N, K);
            vit_gemm_args g = {M,     N,    K,   0.5f, A,   lda,  NULL, ldb,
                               trans, bias, acc, C,    ldc, gelu, ls,   rs};
            vit_gemm_kernel_run_packed(&g, packed);
            vit_gemm_args r = {M,     N,    K,   0.5f, A,   lda,  B,  ldb,
                               trans, bias, acc, ref,  ldc, gelu, ls, rs};
            vit_gemm_kernel_run(VIT_GEMM_AVX512, &r);
            ck_assert_msg(!memcmp(C, ref, (size_t)M * ldc * 4), "%dx%dx%d variant %d differs", M, N,
                          K, v);
            free(A), free(B), free(bias), free(scales), free(C), free(ref), free(packed);
        }
    }
}
END_TEST

/* A recorder in fp32 format lists the weight once (not the product on the arena), packs it, and
 * the weight's products then read the packed copy, with the same bits as before. */
START_TEST(test_fp32_weights_recorded_and_found)
{
    if (vit_gemm_select("avx512") < 0)
        return;
    enum { M = 40, N = 48, K = 64 };
    ck_assert_int_eq(vit_gemm_fp32_packing(), 1);
    float *arena = vt_rand_array((size_t)M * K * 2), *W = vt_rand_array((size_t)N * K);
    float *C = malloc((size_t)M * N * 4), *plain = malloc((size_t)M * N * 4);
    vit_gemm_weights *w =
        vit_gemm_weights_recorder(VIT_GEMM_FORMAT_FP32, arena, (size_t)M * K * 2 * 4, NULL, 0);
    ck_assert_ptr_nonnull(w);
    vit_gemm_use(w);
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, C, N);
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, C, N);
    vit_gemm(M, M, K, 1.0f, arena, K, arena + M * K, K, 1, NULL, 0, C, M);
    vit_gemm_use(NULL);
    ck_assert_int_eq(vit_gemm_weights_finish(w), 0);
    int count = 0;
    ck_assert_uint_eq(vit_gemm_weights_bytes(w, &count), vit_f32_packed_floats(N, K) * 4);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(vit_gemm_weights_format(w), VIT_GEMM_FORMAT_FP32);

    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, plain, N);
    memset(W, 0, (size_t)N * K * 4); /* the packed copy is read, not W */
    vit_gemm_use(w);
    vit_linear(M, N, K, arena, K, W, NULL, 0.0f, C, N);
    vit_gemm_use(NULL);
    ck_assert_mem_eq(C, plain, (size_t)M * N * 4);
    vit_gemm_weights_free(w);
    free(arena), free(W), free(C), free(plain);
}
END_TEST

/* vit_linear_cols over a pool: each thread's whole 32-column panels come from the packed copy
 * (W is zeroed after packing), bias and accumulation included, with the bits of one product. */
START_TEST(test_cols_split_reads_packed_slices)
{
    if (vit_gemm_select("avx512") < 0)
        return;
    enum { N = 100, K = 72 }; /* 4 panels, the last of 4 columns */
    for (int M = 1; M <= 13; M += 12) {
        float *A = vt_rand_array((size_t)M * K), *W = vt_rand_array((size_t)N * K);
        float *b = vt_rand_array(N), *C = vt_rand_array((size_t)M * N);
        float *plain = malloc((size_t)M * N * 4), *start = malloc((size_t)M * N * 4);
        memcpy(start, C, (size_t)M * N * 4);
        vit_gemm_weights *w = vit_gemm_weights_recorder(VIT_GEMM_FORMAT_FP32, NULL, 0, NULL, 0);
        ck_assert_ptr_nonnull(w);
        vit_gemm_use(w);
        vit_linear_cols(NULL, M, N, K, A, K, W, b, 1.0f, C, N); /* one part: the whole weight */
        vit_gemm_use(NULL);
        ck_assert_int_eq(vit_gemm_weights_finish(w), 0);
        int count = 0;
        vit_gemm_weights_bytes(w, &count);
        ck_assert_int_eq(count, 1);

        memcpy(plain, start, (size_t)M * N * 4);
        vit_linear(M, N, K, A, K, W, b, 1.0f, plain, N);
        memset(W, 0, (size_t)N * K * 4);
        for (int threads = 1; threads <= 3; threads++) {
            vit_threadpool *pool;
            ck_assert_int_eq(vit_threadpool_new(threads, &pool, NULL), 0);
            memcpy(C, start, (size_t)M * N * 4);
            vit_gemm_use(w);
            vit_linear_cols(pool, M, N, K, A, K, W, b, 1.0f, C, N);
            vit_gemm_use(NULL);
            ck_assert_mem_eq(C, plain, (size_t)M * N * 4);
            vit_threadpool_free(pool);
        }
        vit_gemm_weights_free(w);
        free(A), free(W), free(b), free(C), free(plain), free(start);
    }
}
END_TEST

static Suite *weights_suite(void)
{
    Suite *s = suite_create("vit-gemm-weights");
    TCase *tc = tcase_create("fp32");
    tcase_add_test(tc, test_packed_matches_per_call_packing);
    tcase_add_test(tc, test_fp32_weights_recorded_and_found);
    tcase_add_test(tc, test_cols_split_reads_packed_slices);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    vt_rng_seed(4243u);
    return vt_run_suite(weights_suite());
}
