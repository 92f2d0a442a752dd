/* gemm_bf16.c — C = alpha * A . B (+ C) (+ bias) with B in bf16, packed once, and A converted to
 * bf16 as it is read; products in AVX512-BF16, sums in fp32.
 *
 * vdpbf16ps multiplies pairs: lane j of the result gains a[2j] * b[2j] + a[2j+1] * b[2j+1]
 * (both bf16, exact products, fp32 sum). So a k pair (2p, 2p+1) of one A row is one 32-bit word,
 * broadcast to every lane, and B is packed so that the word of lane j holds column j's pair:
 * panels of 32 columns, each [K/2][32] words (vit_bf16_pack). The tile is 12 rows x 32 columns,
 * 24 zmm accumulators, like the fp32 kernel, but one instruction does 2 k steps.
 *
 * Blocking: K in blocks of KCB; for every 12-row strip of A, the block of those rows is
 * converted to bf16 once (a 6 KB buffer on the stack) and multiplied by every panel's slice of
 * the block (16 KB each, streamed from L2). Ragged rows reuse the strip's first row and are not
 * stored; ragged columns are zero in the packed panel and masked at the store. */
#include "kernels/gemm_bf16.h"

#include <string.h>

#define KCB 256 /* k per block: 128 pairs */
#define MRB 12
#define NRB 32

uint16_t vit_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet and a NaN */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

size_t vit_bf16_packed_words(int n, int k)
{
    return (size_t)((n + NRB - 1) / NRB) * (size_t)((k + 1) / 2) * NRB;
}

static inline uint16_t b_at(const float *b, int ldb, int trans_b, int n, int k, int row, int col)
{
    if (col >= n || row >= k)
        return 0;
    return vit_f32_to_bf16(trans_b ? b[(size_t)col * ldb + row] : b[(size_t)row * ldb + col]);
}

void vit_bf16_pack(const float *b, int ldb, int trans_b, int n, int k, uint32_t *dst)
{
    int pairs = (k + 1) / 2;
    for (int n0 = 0; n0 < n; n0 += NRB)
        for (int p = 0; p < pairs; p++)
            for (int j = 0; j < NRB; j++) {
                uint32_t lo = b_at(b, ldb, trans_b, n, k, 2 * p, n0 + j);
                uint32_t hi = b_at(b, ldb, trans_b, n, k, 2 * p + 1, n0 + j);
                *dst++ = lo | hi << 16;
            }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#include "kernels/tile512.h"

int vit_cpu_has_avx512bf16(void)
{
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__get_cpuid_count(7, 1, &a, &b, &c, &d))
        return 0;
    return (a >> 5) & 1;
}

/* Converts kc floats of one A row to bf16 pairs (an odd tail pairs with a zero). */
__attribute__((target("avx512f,avx512bf16"))) static void convert_row(const float *src, int kc,
                                                                      uint32_t *dst)
{
    int k = 0;
    for (; k + 32 <= kc; k += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + 16), _mm512_loadu_ps(src + k));
        _mm512_store_si512(dst + k / 2, (__m512i)v);
    }
    for (; k < kc; k += 16) { /* dst has room for whole 8-word groups up to KCB */
        int left = kc - k < 16 ? kc - k : 16;
        __m512 x = _mm512_maskz_loadu_ps((__mmask16)((1u << left) - 1), src + k);
        _mm256_store_si256((__m256i *)(dst + k / 2), (__m256i)_mm512_cvtneps_pbh(x));
    }
}

/* One MR x 32 tile over `pairs` k pairs, as tile512 in gemm_kernel.c. */
__attribute__((target("avx512f,avx512bf16"), always_inline)) static inline void
tile_bf16(const int mr, int pairs, const uint32_t *const *arow, const uint32_t *bp, float *c,
          int ldc, int rows, int cols, float alpha, int flags, const float *bias)
{
    __m512 acc[MRB][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int p = 0; p < pairs; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(bp + (size_t)p * NRB);
        __m512bh b1 = (__m512bh)_mm512_load_si512(bp + (size_t)p * NRB + 16);
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)arow[i][p]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
        }
    }
    vit_tile512_store(mr, acc, c, ldc, rows, cols, alpha, flags, bias);
}

typedef void (*tile_bf16_fn)(int pairs, const uint32_t *const *arow, const uint32_t *bp, float *c,
                             int ldc, int rows, int cols, float alpha, int flags,
                             const float *bias);

#define TILE_BF16_WRAPPER(MR)                                                                      \
    __attribute__((target("avx512f,avx512bf16"))) static void tile_bf16_##MR(                      \
        int pairs, const uint32_t *const *arow, const uint32_t *bp, float *c, int ldc, int rows,   \
        int cols, float alpha, int flags, const float *bias)                                       \
    {                                                                                              \
        tile_bf16(MR, pairs, arow, bp, c, ldc, rows, cols, alpha, flags, bias);                    \
    }
TILE_BF16_WRAPPER(12)
TILE_BF16_WRAPPER(8)
TILE_BF16_WRAPPER(4)

static tile_bf16_fn tile_bf16_for(int rows)
{
    return rows > 8 ? tile_bf16_12 : rows > 4 ? tile_bf16_8 : tile_bf16_4;
}

void vit_gemm_bf16_run(const vit_gemm_args *g, const uint32_t *packed)
{
    if (g->M <= 0 || g->N <= 0 || g->K <= 0)
        return;
    const size_t panel_words = (size_t)((g->K + 1) / 2) * NRB;
    uint32_t strip[MRB][KCB / 2] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < g->K; k0 += KCB) {
        int kc = g->K - k0 < KCB ? g->K - k0 : KCB, last = k0 + kc == g->K;
        int flags = (k0 > 0 || g->accumulate ? TILE_LOAD_C : 0) | (last && g->gelu ? TILE_GELU : 0);
        for (int m0 = 0; m0 < g->M; m0 += MRB) {
            int rows = g->M - m0 < MRB ? g->M - m0 : MRB;
            const uint32_t *arow[MRB];
            for (int i = 0; i < MRB; i++) {
                if (i < rows)
                    convert_row(g->A + (size_t)(m0 + i) * g->lda + k0, kc, strip[i]);
                arow[i] = strip[i < rows ? i : 0];
            }
            tile_bf16_fn tile = tile_bf16_for(rows);
            for (int n0 = 0; n0 < g->N; n0 += NRB) {
                int cols = g->N - n0 < NRB ? g->N - n0 : NRB;
                const uint32_t *bp =
                    packed + (size_t)(n0 / NRB) * panel_words + (size_t)k0 / 2 * NRB;
                tile((kc + 1) / 2, arow, bp, g->C + (size_t)m0 * g->ldc + n0, g->ldc, rows, cols,
                     g->alpha, flags, last && g->bias ? g->bias + n0 : NULL);
            }
        }
    }
}

#else /* not x86-64: no bf16 kernel */

int vit_cpu_has_avx512bf16(void)
{
    return 0;
}

void vit_gemm_bf16_run(const vit_gemm_args *g, const uint32_t *packed)
{
    (void)g;
    (void)packed;
}

#endif
