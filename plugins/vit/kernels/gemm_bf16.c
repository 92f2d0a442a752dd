/* gemm_bf16.c — C = alpha * A . B (+ C) (+ bias) with B in bf16, packed once (a weight) or per
 * call (an activation: attention's keys and values), and A converted to bf16 as it is read;
 * products in AVX512-BF16, sums in fp32.
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
 * stored; ragged columns are zero in the packed panel and masked at the store.
 *
 * B an activation (vit_gemm_bf16_act: q k^T, where B = k is [N, d] and transposed, and P v,
 * where B = v is [N, d] as it is): columns in chunks of NCB; for each chunk and K block the
 * chunk's panels are packed on the stack (64 KB), then every strip of A is converted and
 * multiplied by them. Keys: 16 rows converted to pairs, then 16 x 16 word transposes; values:
 * rows 2p and 2p+1 converted together and interleaved (vpermw). */
#include "kernels/gemm_bf16.h"

#include <string.h>

#define KCB 256 /* k per block: 128 pairs */
#define MRB 12
#define NRB 32
#define NCB 128 /* columns per chunk of an activation B */

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
#include "kernels/transpose512.h"

int vit_cpu_has_avx512bf16(void)
{
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__get_cpuid_count(7, 1, &a, &b, &c, &d))
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
          int ldc, int rows, int cols, const vit_tile_epilogue *ep)
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
    vit_tile512_store(mr, acc, c, ldc, rows, cols, ep);
}

typedef void (*tile_bf16_fn)(int pairs, const uint32_t *const *arow, const uint32_t *bp, float *c,
                             int ldc, int rows, int cols, const vit_tile_epilogue *ep);

#define TILE_BF16_WRAPPER(MR)                                                                      \
    __attribute__((target("avx512f,avx512bf16"))) static void tile_bf16_##MR(                      \
        int pairs, const uint32_t *const *arow, const uint32_t *bp, float *c, int ldc, int rows,   \
        int cols, const vit_tile_epilogue *ep)                                                     \
    {                                                                                              \
        tile_bf16(MR, pairs, arow, bp, c, ldc, rows, cols, ep);                                    \
    }
TILE_BF16_WRAPPER(12)
TILE_BF16_WRAPPER(8)
TILE_BF16_WRAPPER(4)
TILE_BF16_WRAPPER(2)
TILE_BF16_WRAPPER(1)

static tile_bf16_fn tile_bf16_for(int rows)
{
    return rows > 8   ? tile_bf16_12
           : rows > 4 ? tile_bf16_8
           : rows > 2 ? tile_bf16_4
           : rows > 1 ? tile_bf16_2
                      : tile_bf16_1;
}

/* C columns [n0, n1) for the K block [k0, k0 + kc): each strip of A is converted once and
 * multiplied by the block's panels, panel i of the range at bp + i * panel_words. */
static void strips_times_panels(const vit_gemm_args *g, int k0, int kc, int n0, int n1,
                                const uint32_t *bp, size_t panel_words)
{
    int last = k0 + kc == g->K;
    uint32_t strip[MRB][KCB / 2] __attribute__((aligned(64)));
    for (int m0 = 0; m0 < g->M; m0 += MRB) {
        int rows = g->M - m0 < MRB ? g->M - m0 : MRB;
        const uint32_t *arow[MRB];
        for (int i = 0; i < MRB; i++) {
            if (i < rows)
                convert_row(g->A + (size_t)(m0 + i) * g->lda + k0, kc, strip[i]);
            arow[i] = strip[i < rows ? i : 0];
        }
        tile_bf16_fn tile = tile_bf16_for(rows);
        for (int n = n0; n < n1; n += NRB) {
            int cols = g->N - n < NRB ? g->N - n : NRB;
            vit_tile_epilogue ep = vit_tile_epilogue_at(g, k0, last, n);
            tile((kc + 1) / 2, arow, bp + (size_t)((n - n0) / NRB) * panel_words,
                 g->C + (size_t)m0 * g->ldc + n, g->ldc, rows, cols, &ep);
        }
    }
}

void vit_gemm_bf16_run(const vit_gemm_args *g, const uint32_t *packed)
{
    if (g->M <= 0 || g->N <= 0 || g->K <= 0)
        return;
    const size_t panel_words = (size_t)((g->K + 1) / 2) * NRB;
    for (int k0 = 0; k0 < g->K; k0 += KCB) {
        int kc = g->K - k0 < KCB ? g->K - k0 : KCB;
        strips_times_panels(g, k0, kc, 0, g->N, packed + (size_t)k0 / 2 * NRB, panel_words);
    }
}

/* B^T packing (B [N, K] rows are the product's columns): columns [n0, n0 + ncols) and k
 * [k0, k0 + kc) into panels of `pairs` rows at dst (64-byte aligned), zero up to the last
 * panel's edge: 16 rows at a time converted to pairs, then transposed 16 x 16. */
__attribute__((target("avx512f,avx512bf16"))) static void
pack_act_trans(const float *b, int ldb, int n0, int ncols, int k0, int kc, uint32_t *dst)
{
    const int pairs = (kc + 1) / 2, padded = (pairs + 15) & ~15;
    const int width = (ncols + NRB - 1) / NRB * NRB;
    uint32_t rows[16][KCB / 2] __attribute__((aligned(64)));
    uint32_t block[16][16] __attribute__((aligned(64)));
    for (int j0 = 0; j0 < width; j0 += 16) {
        for (int i = 0; i < 16; i++) {
            int filled = 0; /* convert_row writes whole 8-word groups */
            if (j0 + i < ncols) {
                convert_row(b + (size_t)(n0 + j0 + i) * ldb + k0, kc, rows[i]);
                filled = ((kc + 15) & ~15) / 2;
            }
            memset(rows[i] + filled, 0, (size_t)(padded - filled) * sizeof(uint32_t));
        }
        uint32_t *panel = dst + (size_t)(j0 / NRB) * pairs * NRB + j0 % NRB;
        for (int p0 = 0; p0 < pairs; p0 += 16) {
            if (pairs - p0 >= 16) {
                vit_transpose16x16_512(rows[0] + p0, KCB / 2, panel + (size_t)p0 * NRB, NRB);
                continue;
            }
            vit_transpose16x16_512(rows[0] + p0, KCB / 2, block, 16);
            for (int p = 0; p < pairs - p0; p++)
                _mm512_store_si512(panel + (size_t)(p0 + p) * NRB, _mm512_load_si512(block[p]));
        }
    }
}

/* B packing (B [K, N] as it is): columns [n0, n0 + ncols) and k [k0, k0 + kc) into panels of
 * `pairs` rows at dst; word j of pair p holds rows 2p (low half) and 2p + 1 of column j. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
pack_act_plain(const float *b, int ldb, int n0, int ncols, int k0, int kc, uint32_t *dst)
{
    const int pairs = (kc + 1) / 2;
    const __m512i interleave =
        _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const int width = (ncols + NRB - 1) / NRB * NRB;
    for (int c0 = 0; c0 < width; c0 += 16) {
        int left = ncols - c0;
        __mmask16 m = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
        uint32_t *col = dst + (size_t)(c0 / NRB) * pairs * NRB + c0 % NRB;
        const float *src = b + (size_t)k0 * ldb + n0 + c0;
        for (int p = 0; p < pairs; p++) {
            __m512 lo = _mm512_maskz_loadu_ps(m, src + (size_t)(2 * p) * ldb);
            __m512 hi = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps(m, src + (size_t)(2 * p + 1) * ldb)
                                       : _mm512_setzero_ps();
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            _mm512_store_si512(col + (size_t)p * NRB, _mm512_permutexvar_epi16(interleave, both));
        }
    }
}

void vit_gemm_bf16_act(const vit_gemm_args *g)
{
    if (g->M <= 0 || g->N <= 0 || g->K <= 0)
        return;
    uint32_t bp[NCB / NRB * (KCB / 2) * NRB] __attribute__((aligned(64)));
    for (int n0 = 0; n0 < g->N; n0 += NCB) {
        int n1 = g->N - n0 < NCB ? g->N : n0 + NCB;
        for (int k0 = 0; k0 < g->K; k0 += KCB) {
            int kc = g->K - k0 < KCB ? g->K - k0 : KCB;
            if (g->trans_b)
                pack_act_trans(g->B, g->ldb, n0, n1 - n0, k0, kc, bp);
            else
                pack_act_plain(g->B, g->ldb, n0, n1 - n0, k0, kc, bp);
            strips_times_panels(g, k0, kc, n0, n1, bp, (size_t)((kc + 1) / 2) * NRB);
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

void vit_gemm_bf16_act(const vit_gemm_args *g)
{
    (void)g;
}

#endif
