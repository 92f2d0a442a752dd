/* vit-gemm-bench — what one core's matrix products reach, in GFLOP/s, for the README's
 * "GFLOP/s against the measured sgemm peak" and for judging GEMM shapes.
 *
 *   vit-gemm-bench                      FMA peak, then the sgemm peak: the best of libvit's
 *                                       kernel and OpenBLAS on square products (512, 1024)
 *   vit-gemm-bench --shape M,N,K[,t]... only those shapes (t: B transposed, a Linear weight),
 *                                       with every backend and, where the CPU has it, bf16
 *
 * Every figure is the median over --reps repetitions of per-thread CPU time (so preemption on
 * a shared machine does not count), each repetition long enough (>= 20 ms) to time. FLOPs are
 * 2 * M * N * K. The FMA peak is a loop of independent register FMAs, no memory: the ceiling
 * no product reaches. The last line is "sgemm_peak_gflops: X" (the best square sgemm). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_kernel.h"
#include "tools/cli.h"

#define MAX_SHAPES 32

typedef struct shape {
    int M, N, K, trans_b;
} shape;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* What one repetition calls: `iters` products (or FMA blocks) of `flops` each. */
typedef void (*work_fn)(void *ctx, int iters);

/* Median GFLOP/s over reps repetitions of fn, each with enough iterations for >= 20 ms. */
static double measure(work_fn fn, void *ctx, double flops, int reps)
{
    int iters = 1;
    fn(ctx, 1); /* warm-up: caches, page faults, packing buffers */
    for (;;) {
        double t0 = thread_cpu_s();
        fn(ctx, iters);
        if (thread_cpu_s() - t0 >= 0.02 || iters >= 1 << 20)
            break;
        iters *= 2;
    }
    double rate[64];
    reps = reps > 64 ? 64 : reps;
    for (int r = 0; r < reps; r++) {
        double t0 = thread_cpu_s();
        fn(ctx, iters);
        rate[r] = flops * iters / (thread_cpu_s() - t0) / 1e9;
    }
    qsort(rate, (size_t)reps, sizeof(double), cmp_double);
    return reps % 2 ? rate[reps / 2] : 0.5 * (rate[reps / 2 - 1] + rate[reps / 2]);
}

/* ---- the FMA ceiling ------------------------------------------------------------------- */

#define FMA_CHAINS 16
#define FMA_STEPS 1024

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* FMA_CHAINS independent accumulators, FMA_STEPS rounds: 16 * 2 * FMA_CHAINS * FMA_STEPS FLOPs. */
__attribute__((target("avx512f"))) static void fma_loop_512(void *ctx, int iters)
{
    __m512 acc[FMA_CHAINS], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (int i = 0; i < FMA_CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (int it = 0; it < iters; it++)
        for (int s = 0; s < FMA_STEPS; s++) {
#pragma GCC unroll 16
            for (int i = 0; i < FMA_CHAINS; i++)
                acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        }
    float sum = 0;
    for (int i = 0; i < FMA_CHAINS; i++)
        sum += _mm512_reduce_add_ps(acc[i]);
    *(volatile float *)ctx = sum;
}

static double fma_peak(int reps)
{
    if (vit_gemm_kernel_detect() < VIT_GEMM_AVX512)
        return 0;
    volatile float sink;
    return measure(fma_loop_512, (void *)&sink, 32.0 * FMA_CHAINS * FMA_STEPS, reps);
}
#else
static double fma_peak(int reps)
{
    (void)reps;
    return 0;
}
#endif

/* ---- products ---------------------------------------------------------------------------- */

typedef struct product {
    shape s;
    float *A, *B, *C;
    uint32_t *packed; /* bf16 copy of B, or NULL */
} product;

static void run_fp32(void *ctx, int iters)
{
    const product *p = ctx;
    const shape *s = &p->s;
    for (int i = 0; i < iters; i++)
        vit_gemm(s->M, s->N, s->K, 1.0f, p->A, s->K, p->B, s->trans_b ? s->K : s->N, s->trans_b,
                 NULL, 0, p->C, s->N);
}

static void run_bf16(void *ctx, int iters)
{
    const product *p = ctx;
    const shape *s = &p->s;
    vit_gemm_args g = {s->M,       s->N, s->K, 1.0f, p->A, s->K, p->B, s->trans_b ? s->K : s->N,
                       s->trans_b, NULL, 0,    p->C, s->N, 0,    NULL, NULL};
    for (int i = 0; i < iters; i++)
        vit_gemm_bf16_run(&g, p->packed);
}

static int product_init(product *p, shape s, int bf16)
{
    *p = (product){.s = s};
    size_t a = (size_t)s.M * s.K, b = (size_t)s.N * s.K, c = (size_t)s.M * s.N;
    p->A = aligned_alloc(64, (a * sizeof(float) + 63) & ~(size_t)63);
    p->B = aligned_alloc(64, (b * sizeof(float) + 63) & ~(size_t)63);
    p->C = aligned_alloc(64, (c * sizeof(float) + 63) & ~(size_t)63);
    if (bf16)
        p->packed = aligned_alloc(64, (vit_bf16_packed_words(s.N, s.K) * 4 + 63) & ~(size_t)63);
    if (!p->A || !p->B || !p->C || (bf16 && !p->packed))
        return -ENOMEM;
    for (size_t i = 0; i < a; i++)
        p->A[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < b; i++)
        p->B[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    if (bf16)
        vit_bf16_pack(p->B, s.trans_b ? s.K : s.N, s.trans_b, s.N, s.K, p->packed);
    return 0;
}

static void product_clear(product *p)
{
    free(p->A);
    free(p->B);
    free(p->C);
    free(p->packed);
}

/* One line per backend for shape s; returns the best fp32 GFLOP/s (bf16 not counted). */
static double bench_shape(shape s, int reps, int bf16)
{
    static const char *const backends[] = {"avx512", "avx2", "blas"};
    product p;
    double best = 0, flops = 2.0 * s.M * s.N * s.K;
    if (product_init(&p, s, bf16) < 0) {
        product_clear(&p);
        fprintf(stderr, "vit-gemm-bench: out of memory for %dx%dx%d\n", s.M, s.N, s.K);
        return 0;
    }
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (vit_gemm_select(backends[i]) < 0)
            continue;
        double g = measure(run_fp32, &p, flops, reps);
        printf("M=%-5d N=%-5d K=%-5d %s  fp32 %-22s %7.1f GFLOP/s\n", s.M, s.N, s.K,
               s.trans_b ? "B^T" : "B  ", vit_gemm_backend(), g);
        best = g > best ? g : best;
    }
    if (bf16)
        printf("M=%-5d N=%-5d K=%-5d %s  bf16 %-22s %7.1f GFLOP/s\n", s.M, s.N, s.K,
               s.trans_b ? "B^T" : "B  ", "libvit AVX512-BF16", measure(run_bf16, &p, flops, reps));
    product_clear(&p);
    fflush(stdout);
    return best;
}

static int parse_shape(const char *arg, shape *ret)
{
    char t = 0;
    int n = sscanf(arg, "%d,%d,%d,%c", &ret->M, &ret->N, &ret->K, &t);
    ret->trans_b = n == 4 && t == 't';
    if (n < 3 || (n == 4 && t != 't') || ret->M < 1 || ret->N < 1 || ret->K < 1 || ret->M > 16384 ||
        ret->N > 16384 || ret->K > 16384)
        return -EINVAL;
    return 0;
}

static void usage(FILE *out)
{
    fputs("Usage: vit-gemm-bench [--shape M,N,K[,t]]... [--reps R]\n"
          "One core's GFLOP/s (median of R repetitions, per-thread CPU time): the FMA peak and\n"
          "the sgemm peak (square products, libvit and OpenBLAS), or the given shapes with\n"
          "every backend (t: B is [N,K], a Linear weight) and bf16 where the CPU has it.\n"
          "The last line is \"sgemm_peak_gflops: X\" (without --shape).\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"shape", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    shape shapes[MAX_SHAPES];
    int count = 0, reps = 7, c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 's' && count < MAX_SHAPES && parse_shape(optarg, &shapes[count]) == 0) {
            count++;
        } else if (c == 'r' && vit_cli_int(optarg, 1, 64, &reps) == 0) {
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    vit_gemm_init();
    int bf16 = vit_gemm_bf16_available();
    if (count) {
        for (int i = 0; i < count; i++)
            bench_shape(shapes[i], reps, bf16);
        return 0;
    }
    double fma = fma_peak(reps), peak = 0;
    if (fma > 0)
        printf("fma_peak_gflops: %.1f (AVX-512, registers only)\n", fma);
    for (int n = 512; n <= 1024; n *= 2) {
        double g = bench_shape((shape){n, n, n, 1}, reps, bf16);
        peak = g > peak ? g : peak;
    }
    printf("sgemm_peak_gflops: %.1f\n", peak);
    return 0;
}
