/* gemm.c — every matrix product of libvit goes through vit_gemm.
 *
 * Backends: libvit's own AVX-512 / AVX2 kernels (gemm_kernel.c) where the CPU has them, else
 * cblas_sgemm. VIT_GEMM=blas|avx2|avx512 in the environment overrides the choice (benchmarks,
 * tests). With the AVX-512 kernel, fp32 sessions read their weights from a copy packed once
 * per model (gemm_weights.c); VIT_GEMM_PACK=0 uses them in place instead (one copy of the GEMM
 * weights less in memory, B packed per call). OpenBLAS's own pool barely helps at ViT-Tiny
 * shapes and would oversubscribe next to the session's threads, so it is pinned to one thread
 * once per process; parallel work splits rows of A over the session's pool, each part a
 * single-threaded product. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_kernel.h"
#include "kernels/gemm_weights.h"
#include "ops/ops.h" /* the BLAS path's bias, GELU and SiLU epilogues (activation.c) */

void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static vit_gemm_isa gemm_isa = VIT_GEMM_BLAS;
static int gemm_pack_fp32 = 1; /* VIT_GEMM_PACK=0: fp32 weights used in place, packed per call */

static void gemm_init_once(void)
{
    openblas_set_num_threads(1);
    vit_gemm_isa best = vit_gemm_kernel_detect();
    const char *want = getenv("VIT_GEMM"), *pack = getenv("VIT_GEMM_PACK");
    gemm_pack_fp32 = !(pack && !strcmp(pack, "0"));
    gemm_isa = best;
    if (want && !strcmp(want, "blas"))
        gemm_isa = VIT_GEMM_BLAS;
    else if (want && !strcmp(want, "avx2") && best >= VIT_GEMM_AVX2)
        gemm_isa = VIT_GEMM_AVX2;
}

void vit_gemm_init(void)
{
    pthread_once(&gemm_once, gemm_init_once);
}

int vit_gemm_select(const char *name)
{
    vit_gemm_init();
    vit_gemm_isa best = vit_gemm_kernel_detect(), want;
    if (!strcmp(name, "blas"))
        want = VIT_GEMM_BLAS;
    else if (!strcmp(name, "avx2"))
        want = VIT_GEMM_AVX2;
    else if (!strcmp(name, "avx512"))
        want = VIT_GEMM_AVX512;
    else
        return -1;
    if (want > best)
        return -1;
    gemm_isa = want;
    return 0;
}

const char *vit_gemm_backend(void)
{
    static char name[64];
    vit_gemm_init();
    if (gemm_isa == VIT_GEMM_AVX512)
        return "libvit AVX-512";
    if (gemm_isa == VIT_GEMM_AVX2)
        return "libvit AVX2";
    snprintf(name, sizeof(name), "OpenBLAS %s", openblas_get_corename());
    return name;
}

void vit_split_range(int n, int parts, int i, int *r0, int *r1)
{
    int base = n / parts, extra = n % parts;
    *r0 = i * base + (i < extra ? i : extra);
    *r1 = *r0 + base + (i < extra);
}

static void gemm_blas(const vit_gemm_args *g);

/* A product: in a bf16 session (the thread's weights are a bf16 table) in bf16, B from its
 * packed copy or, for an activation (attention's keys and values), converted per call; else
 * from the packed fp32 copy when the weights hold one (and the AVX-512 kernel is still the one
 * in use), else the fp32 backend packing B per call. `packed` is what the lookup found. */
static void gemm_run(const vit_gemm_args *g, vit_gemm_weights *w, const void *packed)
{
    if (vit_gemm_weights_bf16_session(w) && g->K > 0) {
        if (packed)
            vit_gemm_bf16_run(g, packed);
        else
            vit_gemm_bf16_act(g);
    } else if (packed && gemm_isa == VIT_GEMM_AVX512)
        vit_gemm_kernel_run_packed(g, packed);
    else if (gemm_isa == VIT_GEMM_BLAS)
        gemm_blas(g);
    else
        vit_gemm_kernel_run(gemm_isa, g);
}

static void gemm_dispatch(const vit_gemm_args *g)
{
    vit_gemm_weights *w = vit_gemm_in_use();
    gemm_run(g, w, vit_gemm_weights_lookup(w, g));
}

/* Columns [n0, n1) of product g, n0 a multiple of 32: the packed copies (fp32 and bf16) are
 * panels of 32 columns, so the slice's panels are the whole weight's from panel n0 / 32 on.
 * The lookup is made with the whole product, as the recording run saw it. */
static void gemm_dispatch_cols(const vit_gemm_args *g, int n0, int n1)
{
    vit_gemm_weights *w = vit_gemm_in_use();
    const void *packed = vit_gemm_weights_lookup(w, g);
    vit_gemm_args s = *g;
    s.N = n1 - n0;
    s.B = g->B + (g->trans_b ? (size_t)n0 * g->ldb : (size_t)n0);
    s.bias = g->bias ? g->bias + n0 : NULL;
    s.ls = g->ls ? g->ls + n0 : NULL;
    s.rs = g->rs ? g->rs + n0 : NULL;
    s.C = g->C + n0;
    if (packed && vit_gemm_weights_bf16_session(w))
        packed = (const uint32_t *)packed + (size_t)n0 * ((g->K + 1) / 2);
    else if (packed)
        packed = (const float *)packed + (size_t)n0 * g->K;
    gemm_run(&s, w, packed);
}

int vit_gemm_fp32_packing(void)
{
    vit_gemm_init();
    return gemm_isa == VIT_GEMM_AVX512 && gemm_pack_fp32;
}

int vit_gemm_bf16_available(void)
{
    vit_gemm_init();
    return gemm_isa == VIT_GEMM_AVX512 && vit_cpu_has_avx512bf16();
}

/* The BLAS path of a product with a residual's scales: one row and up to 256 columns at a
 * time through sgemv, then C = rs * C + ls * (that + bias). */
static void gemm_blas_scaled(const vit_gemm_args *g)
{
    float tmp[256];
    for (int r = 0; r < g->M; r++) {
        const float *a = g->A + (size_t)r * g->lda;
        float *c = g->C + (size_t)r * g->ldc;
        for (int n0 = 0; n0 < g->N; n0 += 256) {
            int nc = g->N - n0 < 256 ? g->N - n0 : 256;
            if (g->trans_b)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, nc, g->K, g->alpha,
                            g->B + (size_t)n0 * g->ldb, g->ldb, a, 1, 0.0f, tmp, 1);
            else
                cblas_sgemv(CblasRowMajor, CblasTrans, g->K, nc, g->alpha, g->B + n0, g->ldb, a, 1,
                            0.0f, tmp, 1);
            for (int j = 0; j < nc; j++) {
                float v =
                    (tmp[j] + (g->bias ? g->bias[n0 + j] : 0.0f)) * (g->ls ? g->ls[n0 + j] : 1.0f);
                if (g->accumulate)
                    v += c[n0 + j] * (g->rs ? g->rs[n0 + j] : 1.0f);
                c[n0 + j] = g->act == VIT_GEMM_ACT_GELU   ? vit_gelu(v)
                            : g->act == VIT_GEMM_ACT_SILU ? v / (1.0f + expf(-v))
                                                          : v;
            }
        }
    }
}

static void gemm_blas(const vit_gemm_args *g)
{
    if (g->ls || g->rs) {
        gemm_blas_scaled(g);
        return;
    }
    float beta = g->accumulate ? 1.0f : 0.0f;
    if (g->bias) {
        for (int r = 0; r < g->M; r++) {
            float *c = g->C + (size_t)r * g->ldc;
            if (g->accumulate)
                vit_add_bias_rows(1, g->N, c, g->ldc, g->bias);
            else
                memcpy(c, g->bias, (size_t)g->N * sizeof(float));
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans, g->M, g->N,
                g->K, g->alpha, g->A, g->lda, g->B, g->ldb, beta, g->C, g->ldc);
    if (g->act == VIT_GEMM_ACT_GELU)
        vit_bias_gelu_rows(g->M, g->N, g->C, g->ldc, NULL);
    else if (g->act == VIT_GEMM_ACT_SILU)
        vit_silu_rows(g->M, g->N, g->C, g->ldc);
}

void vit_gemm(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              int trans_b, const float *bias, int accumulate, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    vit_gemm_args g = {M,       N,    K,          alpha, A,   lda, B,    ldb,
                       trans_b, bias, accumulate, C,     ldc, 0,   NULL, NULL};
    gemm_dispatch(&g);
}

/* C[M,N] = act(A . W^T + bias): a Linear layer with its activation in the epilogue. */
static void linear_act(int M, int N, int K, const float *A, int lda, const float *W,
                       const float *bias, float *C, int ldc, int act)
{
    if (M <= 0 || N <= 0)
        return;
    vit_gemm_args g = {M, N, K, 1.0f, A, lda, W, K, 1, bias, 0, C, ldc, act, NULL, NULL};
    gemm_dispatch(&g);
}

void vit_linear_gelu(int M, int N, int K, const float *A, int lda, const float *W,
                     const float *bias, float *C, int ldc)
{
    linear_act(M, N, K, A, lda, W, bias, C, ldc, VIT_GEMM_ACT_GELU);
}

void vit_linear_silu(int M, int N, int K, const float *A, int lda, const float *W,
                     const float *bias, float *C, int ldc)
{
    linear_act(M, N, K, A, lda, W, bias, C, ldc, VIT_GEMM_ACT_SILU);
}

void vit_linear_residual(int M, int N, int K, const float *A, int lda, const float *W,
                         const float *bias, const float *ls, const float *rs, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    vit_gemm_args g = {M, N, K, 1.0f, A, lda, W, K, 1, bias, 1, C, ldc, 0, ls, rs};
    gemm_dispatch(&g);
}

void vit_linear(int M, int N, int K, const float *A, int lda, const float *W, const float *bias,
                float beta, float *C, int ldc)
{
    vit_gemm(M, N, K, 1.0f, A, lda, W, K, 1, bias, beta != 0.0f, C, ldc);
}

void vit_split_cols(int N, int parts, int i, int *n0, int *n1)
{
    int p0, p1;
    vit_split_range((N + 31) / 32, parts, i, &p0, &p1);
    *n0 = 32 * p0;
    *n1 = 32 * p1 < N ? 32 * p1 : N;
}

void vit_linear_part(const vit_linear_spec *l, int n0, int n1)
{
    if (l->M <= 0 || n1 <= n0)
        return;
    vit_gemm_args g = {l->M, l->N,    l->K,          1.0f, l->A,   l->lda, l->W,  l->K,
                       1,    l->bias, l->accumulate, l->C, l->ldc, l->act, l->ls, l->rs};
    gemm_dispatch_cols(&g, n0, n1);
}

static void cols_task(void *ctx, int task, int num_tasks)
{
    const vit_linear_spec *l = ctx;
    int n0, n1;
    vit_split_cols(l->N, num_tasks, task, &n0, &n1);
    vit_linear_part(l, n0, n1);
}

void vit_linear_spec_cols(vit_threadpool *pool, const vit_linear_spec *l)
{
    if (l->M <= 0 || l->N <= 0)
        return;
    int parts = vit_threadpool_threads(pool), panels = (l->N + 31) / 32;
    vit_threadpool_run(pool, parts < panels ? parts : panels, cols_task, (void *)l);
}

void vit_linear_cols(vit_threadpool *pool, int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, float beta, float *C, int ldc)
{
    vit_linear_spec l = {M,    N,    K, A,  lda, W, bias, VIT_GEMM_ACT_NONE, beta != 0.0f,
                         NULL, NULL, C, ldc};
    vit_linear_spec_cols(pool, &l);
}

typedef struct linear_job {
    int M, N, K, lda, ldc;
    const float *A, *W, *bias;
    float *C;
} linear_job;

static void linear_task(void *ctx, int task, int num_tasks)
{
    const linear_job *j = ctx;
    int r0, r1;
    vit_split_range(j->M, num_tasks, task, &r0, &r1);
    vit_linear(r1 - r0, j->N, j->K, j->A + (size_t)r0 * j->lda, j->lda, j->W, j->bias, 0.0f,
               j->C + (size_t)r0 * j->ldc, j->ldc);
}

void vit_linear_rows(vit_threadpool *pool, int M, int N, int K, const float *A, int lda,
                     const float *W, const float *bias, float *C, int ldc)
{
    linear_job job = {M, N, K, lda, ldc, A, W, bias, C};
    int parts = vit_threadpool_threads(pool);
    if (parts > M)
        parts = M > 0 ? M : 1;
    vit_threadpool_run(pool, parts, linear_task, &job);
}
