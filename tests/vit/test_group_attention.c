/* test_group_attention.c — the group-attention token mixer against a naive double-precision
 * reference: one group is global attention (and agrees with attention.c's), G groups are G
 * independent global attentions, a permutation gathers before and scatters after (identity =
 * none, and with one group it cannot change anything), the pre-norm and the residual
 * coefficients, threads, the cost count, and the checks on bad shapes and bad permutations. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check-runner.h"
#include "ops/group_attention.h"
#include "ops/ops.h"
#include "core/threadpool.h"

static unsigned rng_state = 777;

static float frand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_array(size_t n, float scale)
{
    float *a = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        a[i] = scale * frand();
    return a;
}

/* Weights of one mixer of C channels (owned by the test). */
typedef struct weights {
    float *qkv_w, *qkv_b, *proj_w, *proj_b, *norm_w, *norm_b;
} weights;

static weights make_weights(int C)
{
    weights w = {
        rand_array((size_t)3 * C * C, 0.5f), rand_array((size_t)3 * C, 0.2f),
        rand_array((size_t)C * C, 0.3f),     rand_array((size_t)C, 0.2f),
        rand_array((size_t)C, 1.0f),         rand_array((size_t)C, 0.2f),
    };
    return w;
}

static void free_weights(weights *w)
{
    free(w->qkv_w), free(w->qkv_b), free(w->proj_w), free(w->proj_b), free(w->norm_w);
    free(w->norm_b);
}

static vit_group_attention mixer(const weights *w, int N, int C, int heads, int groups,
                                 const int32_t *perm, int with_norm)
{
    vit_group_attention ga = {
        .tokens = N,
        .dim = C,
        .heads = heads,
        .groups = groups,
        .perm = perm,
        .norm_w = with_norm ? w->norm_w : NULL,
        .norm_b = with_norm ? w->norm_b : NULL,
        .norm_eps = 1e-6f,
        .qkv_w = w->qkv_w,
        .qkv_b = w->qkv_b,
        .proj_w = w->proj_w,
        .proj_b = w->proj_b,
    };
    return ga;
}

/* x = alpha * x + beta * mixer(x) through the library, on a copy; returns the new rows. */
static float *run_lib(const vit_group_attention *ga, const float *x, float alpha, float beta,
                      int threads)
{
    size_t n = (size_t)ga->tokens * ga->dim;
    float *y = malloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    float *scratch = malloc(vit_group_attention_scratch_floats(ga, threads) * sizeof(float));
    vit_threadpool *pool = NULL;
    if (threads > 1)
        ck_assert_int_eq(vit_threadpool_new(threads, &pool, NULL), 0);
    vit_group_attention_run(ga, pool, threads, alpha, beta, y, scratch);
    vit_threadpool_free(pool);
    free(scratch);
    return y;
}

/* The same maths written out plainly in double: gather, norm, qkv, per-group softmax
 * attention, proj, scatter, residual. */
static double *run_naive(const vit_group_attention *ga, const float *x, float alpha, float beta)
{
    int N = ga->tokens, C = ga->dim, H = ga->heads, d = C / H, n = N / ga->groups;
    double *xn = calloc((size_t)N * C, sizeof(double)), *qkv = calloc((size_t)N * 3 * C, 8);
    double *att = calloc((size_t)N * C, sizeof(double)), *out = calloc((size_t)N * C, 8);
    double *p = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)(ga->perm ? ga->perm[i] : i) * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++)
            mean += xr[c] / (double)C;
        for (int c = 0; c < C; c++)
            var += (xr[c] - mean) * (xr[c] - mean) / C;
        for (int c = 0; c < C; c++)
            xn[(size_t)i * C + c] =
                ga->norm_w
                    ? (xr[c] - mean) / sqrt(var + ga->norm_eps) * ga->norm_w[c] + ga->norm_b[c]
                    : xr[c];
    }
    for (int i = 0; i < N; i++)
        for (int o = 0; o < 3 * C; o++) {
            double s = ga->qkv_b ? ga->qkv_b[o] : 0;
            for (int c = 0; c < C; c++)
                s += xn[(size_t)i * C + c] * ga->qkv_w[(size_t)o * C + c];
            qkv[(size_t)i * 3 * C + o] = s;
        }
    for (int i = 0; i < N; i++) {
        int g0 = i / n * n;
        for (int h = 0; h < H; h++) {
            double mx = -1e300, sum = 0;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int e = 0; e < d; e++)
                    s += qkv[(size_t)i * 3 * C + h * d + e] *
                         qkv[(size_t)(g0 + j) * 3 * C + C + h * d + e];
                p[j] = s / sqrt((double)d);
                mx = fmax(mx, p[j]);
            }
            for (int j = 0; j < n; j++)
                sum += (p[j] = exp(p[j] - mx));
            for (int e = 0; e < d; e++) {
                double s = 0;
                for (int j = 0; j < n; j++)
                    s += p[j] / sum * qkv[(size_t)(g0 + j) * 3 * C + 2 * C + h * d + e];
                att[(size_t)i * C + h * d + e] = s;
            }
        }
    }
    for (int i = 0; i < N; i++) {
        int t = ga->perm ? ga->perm[i] : i;
        for (int o = 0; o < C; o++) {
            double s = ga->proj_b ? ga->proj_b[o] : 0;
            for (int c = 0; c < C; c++)
                s += att[(size_t)i * C + c] * ga->proj_w[(size_t)o * C + c];
            out[(size_t)t * C + o] = alpha * x[(size_t)t * C + o] + beta * s;
        }
    }
    free(xn), free(qkv), free(att), free(p);
    return out;
}

static double max_diff(const float *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static double max_diff_f(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static int32_t *shuffled(int N, unsigned seed)
{
    int32_t *p = malloc((size_t)N * sizeof(int32_t));
    for (int i = 0; i < N; i++)
        p[i] = i;
    for (int i = N - 1; i > 0; i--) {
        seed = seed * 1664525u + 1013904223u;
        int j = (int)((seed >> 8) % (unsigned)(i + 1));
        int32_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

START_TEST(test_one_group_is_global_attention)
{
    int N = 70, C = 24, H = 3; /* 70 rows: two query blocks of 35 */
    weights w = make_weights(C);
    float *x = rand_array((size_t)N * C, 1.0f);
    vit_group_attention ga = mixer(&w, N, C, H, 1, NULL, 0);
    float *got = run_lib(&ga, x, 0.0f, 1.0f, 1);
    double *want = run_naive(&ga, x, 0.0f, 1.0f);
    ck_assert_double_lt(max_diff(got, want, (size_t)N * C), 2e-5);
    /* and the same as attention.c's global attention on the same qkv */
    float *qkv = malloc(sizeof(float) * N * 3 * C), *att = malloc(sizeof(float) * N * C);
    float *scores = malloc(sizeof(float) * N * N), *ref = malloc(sizeof(float) * N * C);
    vit_linear(N, 3 * C, C, x, C, w.qkv_w, w.qkv_b, 0.0f, qkv, 3 * C);
    vit_attention_rows(N, C, H, qkv, 0, N, scores, att, C);
    vit_linear(N, C, C, att, C, w.proj_w, w.proj_b, 0.0f, ref, C);
    ck_assert_double_lt(max_diff_f(got, ref, (size_t)N * C), 2e-5);
    free(qkv), free(att), free(scores), free(ref), free(got), free(want), free(x);
    free_weights(&w);
}
END_TEST

START_TEST(test_groups_are_independent_global_attentions)
{
    int N = 48, C = 16, H = 2, G = 4, n = N / G;
    weights w = make_weights(C);
    float *x = rand_array((size_t)N * C, 1.0f);
    vit_group_attention ga = mixer(&w, N, C, H, G, NULL, 0);
    float *got = run_lib(&ga, x, 0.0f, 1.0f, 1);
    double *want = run_naive(&ga, x, 0.0f, 1.0f);
    ck_assert_double_lt(max_diff(got, want, (size_t)N * C), 2e-5);
    for (int g = 0; g < G; g++) { /* group g alone, as a global attention over its n tokens */
        vit_group_attention one = mixer(&w, n, C, H, 1, NULL, 0);
        float *part = run_lib(&one, x + (size_t)g * n * C, 0.0f, 1.0f, 1);
        ck_assert_double_lt(max_diff_f(got + (size_t)g * n * C, part, (size_t)n * C), 1e-5);
        free(part);
    }
    /* and it is not global attention: the groups do change the answer */
    vit_group_attention global = mixer(&w, N, C, H, 1, NULL, 0);
    float *all = run_lib(&global, x, 0.0f, 1.0f, 1);
    ck_assert_double_gt(max_diff_f(got, all, (size_t)N * C), 1e-3);
    free(all), free(got), free(want), free(x);
    free_weights(&w);
}
END_TEST

START_TEST(test_permutation_gathers_then_scatters)
{
    int N = 36, C = 16, H = 4, G = 3;
    weights w = make_weights(C);
    float *x = rand_array((size_t)N * C, 1.0f);
    int32_t *perm = shuffled(N, 99);
    vit_group_attention ga = mixer(&w, N, C, H, G, perm, 0);
    float *got = run_lib(&ga, x, 0.0f, 1.0f, 1);
    double *want = run_naive(&ga, x, 0.0f, 1.0f);
    ck_assert_double_lt(max_diff(got, want, (size_t)N * C), 2e-5);
    /* round trip by hand: gather x by perm, attend without a permutation, scatter back */
    float *xp = malloc(sizeof(float) * N * C);
    for (int i = 0; i < N; i++)
        memcpy(xp + (size_t)i * C, x + (size_t)perm[i] * C, sizeof(float) * C);
    vit_group_attention plain = mixer(&w, N, C, H, G, NULL, 0);
    float *yp = run_lib(&plain, xp, 0.0f, 1.0f, 1);
    double m = 0;
    for (int i = 0; i < N; i++)
        m = fmax(m, max_diff_f(got + (size_t)perm[i] * C, yp + (size_t)i * C, (size_t)C));
    ck_assert_double_lt(m, 1e-5);
    /* a permutation matters with groups, not without them; the identity is no permutation */
    float *unperm = run_lib(&plain, x, 0.0f, 1.0f, 1);
    ck_assert_double_gt(max_diff_f(got, unperm, (size_t)N * C), 1e-3);
    vit_group_attention g1 = mixer(&w, N, C, H, 1, perm, 0), g1p = mixer(&w, N, C, H, 1, NULL, 0);
    float *a = run_lib(&g1, x, 0.0f, 1.0f, 1), *b = run_lib(&g1p, x, 0.0f, 1.0f, 1);
    ck_assert_double_lt(max_diff_f(a, b, (size_t)N * C), 1e-5);
    int32_t *ident = shuffled(N, 0);
    for (int i = 0; i < N; i++)
        ident[i] = i;
    vit_group_attention gi = mixer(&w, N, C, H, G, ident, 0);
    float *c = run_lib(&gi, x, 0.0f, 1.0f, 1);
    ck_assert_double_lt(max_diff_f(c, unperm, (size_t)N * C), 1e-6);
    free(c), free(ident), free(a), free(b), free(unperm), free(yp), free(xp), free(got);
    free(want), free(perm), free(x);
    free_weights(&w);
}
END_TEST

START_TEST(test_norm_coefficients_and_threads)
{
    int N = 200, C = 32, H = 2, G = 2; /* groups of 100 rows: two query blocks each */
    weights w = make_weights(C);
    float *x = rand_array((size_t)N * C, 2.0f);
    int32_t *perm = shuffled(N, 5);
    for (int variant = 0; variant < 2; variant++) {
        vit_group_attention ga = mixer(&w, N, C, H, G, variant ? perm : NULL, 1);
        double *want = run_naive(&ga, x, 0.8f, 0.6f);
        for (int threads = 1; threads <= 3; threads++) {
            float *got = run_lib(&ga, x, 0.8f, 0.6f, threads);
            ck_assert_double_lt(max_diff(got, want, (size_t)N * C), 5e-5);
            free(got);
        }
        free(want);
        /* the plain residual (alpha = beta = 1) takes the accumulating path */
        want = run_naive(&ga, x, 1.0f, 1.0f);
        float *got = run_lib(&ga, x, 1.0f, 1.0f, 2);
        ck_assert_double_lt(max_diff(got, want, (size_t)N * C), 5e-5);
        free(got), free(want);
    }
    free(perm), free(x);
    free_weights(&w);
}
END_TEST

START_TEST(test_cost_falls_with_groups)
{
    weights w = make_weights(8);
    vit_group_attention g1 = mixer(&w, 784, 64, 2, 1, NULL, 0);
    vit_group_attention g8 = mixer(&w, 784, 64, 2, 8, NULL, 0);
    double linear = 784.0 * 64 * 64 * 4, attn = 2.0 * 784 * 784 * 64;
    ck_assert_double_eq_tol(vit_group_attention_macs(&g1), linear + attn, 1);
    ck_assert_double_eq_tol(vit_group_attention_macs(&g8), linear + attn / 8, 1);
    free_weights(&w);
}
END_TEST

START_TEST(test_check_rejects_bad_shapes_and_permutations)
{
    weights w = make_weights(8);
    vit_error err;
    vit_group_attention ga = mixer(&w, 10, 8, 2, 3, NULL, 0);
    ck_assert_int_eq(vit_group_attention_check(&ga, "m: blocks.0", &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "m: blocks.0"));
    ga = mixer(&w, 10, 8, 3, 2, NULL, 0);
    ck_assert_int_eq(vit_group_attention_check(&ga, "x", &err), -EINVAL);
    int32_t perm[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    ga = mixer(&w, 10, 8, 2, 2, perm, 0);
    ck_assert_int_eq(vit_group_attention_check(&ga, "x", &err), 0);
    perm[4] = 7;
    ck_assert_int_eq(vit_group_attention_check(&ga, "f: t.perm", &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "repeated"));
    perm[4] = 10;
    ck_assert_int_eq(vit_group_attention_check(&ga, "f: t.perm", &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "entry 4 is 10"));
    free_weights(&w);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("group_attention");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_one_group_is_global_attention);
    tcase_add_test(tc, test_groups_are_independent_global_attentions);
    tcase_add_test(tc, test_permutation_gathers_then_scatters);
    tcase_add_test(tc, test_norm_coefficients_and_threads);
    tcase_add_test(tc, test_cost_falls_with_groups);
    tcase_add_test(tc, test_check_rejects_bad_shapes_and_permutations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_runner_run_suite(suite());
}
