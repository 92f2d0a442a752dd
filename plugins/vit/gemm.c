/* gemm.c — Linear layers on cblas_sgemm, with weights used in place from the mmapped file.
 *
 * OpenBLAS's own pool barely helps at ViT-Tiny shapes and would oversubscribe next to the
 * session's threads, so it is pinned to one thread once per process; parallel work splits rows
 * of A over the session's pool, each part a single-threaded sgemm. */
#include <cblas.h>
#include <pthread.h>
#include <string.h>

#include "ops.h"

void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_init_once(void)
{
    openblas_set_num_threads(1);
}

void vit_gemm_init(void)
{
    pthread_once(&blas_once, blas_init_once);
}

/* The OpenBLAS kernel set in use, for vit-infer's benchmark report. */
const char *vit_gemm_backend(void)
{
    vit_gemm_init();
    return openblas_get_corename();
}

void vit_split_range(int n, int parts, int i, int *r0, int *r1)
{
    int base = n / parts, extra = n % parts;
    *r0 = i * base + (i < extra ? i : extra);
    *r1 = *r0 + base + (i < extra);
}

void vit_linear(int M, int N, int K, const float *A, int lda, const float *W, const float *bias,
                float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (bias) {
        if (beta == 0.0f) {
            for (int r = 0; r < M; r++)
                memcpy(C + (size_t)r * ldc, bias, (size_t)N * sizeof(float));
        } else {
            vit_add_bias_rows(M, N, C, ldc, bias);
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, W, K, beta, C,
                ldc);
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
