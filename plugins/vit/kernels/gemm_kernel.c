/* gemm_kernel.c — a small GotoBLAS-style SGEMM: C = alpha * A op(B) (+ C) (+ bias).
 *
 * Why not only OpenBLAS: a distribution's OpenBLAS may run kernels older than the CPU (Debian
 * 12's 0.3.21 picks Haswell kernels on AVX-512 Zen 4, and OPENBLAS_CORETYPE can pin any
 * machine to them), which halves GEMM speed at ViT shapes; libvit's GEMMs are the whole cost.
 *
 * Blocking: K in blocks of KC; for each block, B is packed one panel of NR columns at a time
 * (KC x NR floats, zero-padded past N), then every MR-row strip of A is multiplied against it
 * straight from A (broadcast loads; A is never packed). The register tile is MR x NR
 * accumulators (AVX-512: 12 x 32 in 24 zmm; AVX2: 6 x 16 in 12 ymm). Ragged edges: rows past M
 * reuse the strip's first row and are not stored; columns past N are masked (AVX-512) or go
 * through a small tile (AVX2). The first K block writes (or accumulates into) C, later blocks add
 * to it; bias (and GELU or SiLU, for fc1) are applied once, with the last block, while the tile is
 * still in registers. KC is large (768: one block for every K of a ViT up to ViT-B's 768): each
 * extra block stores and reloads all of C, which at ViT shapes (C of 0.3-1.2 MB) misses the L2 and
 * cost more than a panel outgrowing the L1 does.
 *
 * Weights packed once (vit_f32_pack, AVX-512 only): a model's weights go through the same
 * panels every frame, and transposing them per call cost 9-15% of a frame at one thread (more
 * where few rows share a weight: the 49 tokens of a last stage, or each thread's half of the
 * rows). vit_f32_pack lays a weight out as the panels pack_b would make, for all of K at once,
 * and vit_gemm_kernel_run_packed reads them in place. */
#include "kernels/gemm_kernel.h"

#include <stddef.h>
#include <string.h>

#define KC 768
#define PACK_NR 32 /* the AVX-512 kernel's panel width */

size_t vit_f32_packed_floats(int n, int k)
{
    return (size_t)((n + PACK_NR - 1) / PACK_NR) * PACK_NR * (size_t)k;
}

/* Once per model: each panel is zeroed, then filled one source row at a time (sequential
 * reads; the panel's strided writes stay in the L2). */
void vit_f32_pack(const float *b, int ldb, int trans_b, int n, int k, float *dst)
{
    for (int n0 = 0; n0 < n; n0 += PACK_NR, dst += (size_t)k * PACK_NR) {
        int cols = n - n0 < PACK_NR ? n - n0 : PACK_NR;
        if (cols < PACK_NR)
            memset(dst, 0, (size_t)k * PACK_NR * sizeof(float));
        for (int kk = 0; !trans_b && kk < k; kk++)
            memcpy(dst + (size_t)kk * PACK_NR, b + (size_t)kk * ldb + n0, cols * sizeof(float));
        for (int j = 0; trans_b && j < cols; j++) {
            const float *src = b + (size_t)(n0 + j) * ldb;
            for (int kk = 0; kk < k; kk++)
                dst[(size_t)kk * PACK_NR + j] = src[kk];
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/fastmath.h"
#include "kernels/tile512.h"
#include "kernels/transpose512.h"

vit_gemm_isa vit_gemm_kernel_detect(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return VIT_GEMM_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return VIT_GEMM_AVX2;
    return VIT_GEMM_BLAS;
}

/* Packs B's k range [k0, k0+kc) x columns [n0, n0+nr) as bp[k][j], zeros past N. */
static inline void pack_b(const vit_gemm_args *g, int k0, int kc, int n0, int nr, float *bp)
{
    int cols = g->N - n0 < nr ? g->N - n0 : nr;
    if (g->trans_b) {
        if (cols < nr)
            memset(bp, 0, (size_t)kc * nr * sizeof(float));
        for (int j = 0; j < cols; j++) {
            const float *src = g->B + (size_t)(n0 + j) * g->ldb + k0;
            for (int k = 0; k < kc; k++)
                bp[k * nr + j] = src[k];
        }
    } else {
        for (int k = 0; k < kc; k++) {
            const float *src = g->B + (size_t)(k0 + k) * g->ldb + n0;
            memcpy(bp + (size_t)k * nr, src, (size_t)cols * sizeof(float));
            if (cols < nr)
                memset(bp + (size_t)k * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
        }
    }
}

/* Transposes a blk x blk block of a Linear weight (rows j, stride ldw, from k) into
 * bp[k][j] with row stride 2 * blk: transpose16_512 or transpose8_256 below. */
typedef void (*transpose_fn)(const float *w, int ldw, float *bp);

/* pack_b for a panel of 2 * blk columns, blk x blk blocks at a time through transpose when B is
 * transposed and the panel is full; the generic pack_b otherwise. Plain code calling the ISA's
 * transpose through a pointer: only gemm_blocked, behind the CPU check, calls it. */
static void pack_b_blocks(const vit_gemm_args *g, int k0, int kc, int n0, int blk,
                          transpose_fn transpose, float *bp)
{
    const int nr = 2 * blk;
    if (!g->trans_b || g->N - n0 < nr) {
        pack_b(g, k0, kc, n0, nr, bp);
        return;
    }
    const float *w = g->B + (size_t)n0 * g->ldb + k0;
    int k = 0;
    for (; k + blk <= kc; k += blk) {
        transpose(w + k, g->ldb, bp + (size_t)k * nr);
        transpose(w + (size_t)blk * g->ldb + k, g->ldb, bp + (size_t)k * nr + blk);
    }
    for (; k < kc; k++)
        for (int j = 0; j < nr; j++)
            bp[k * nr + j] = w[(size_t)j * g->ldb + k];
}

/* One register tile: C rows [0, rows) x columns [0, cols) (at c, stride ldc) from the A rows
 * arow (k0 applied; mr of them, short strips repeating the first) and the packed panel bp. */
typedef void (*tile_fn)(int kc, const float *const *arow, const float *bp, float *c, int ldc,
                        int rows, int cols, const vit_tile_epilogue *ep);

/* An ISA's kernel: mr x (2 * blk) register tiles, its block transpose for packing, and the tile
 * for a strip of `rows` rows. Its functions carry the ISA's target attribute: only
 * vit_gemm_kernel_run, for an isa the CPU was checked for, hands one to gemm_blocked. */
typedef struct gemm_kernel {
    int mr, blk;
    transpose_fn transpose;
    tile_fn (*tile_for)(int rows, int cols);
} gemm_kernel;

#define GEMM_MR_MAX 12
#define GEMM_NR_MAX 32

/* The blocking of the file comment with kernel kn (plain code calling kn's functions). With
 * `packed` (vit_f32_pack's panels of B, nr wide), B is read from there instead of packed. */
static void gemm_blocked(const gemm_kernel *kn, const vit_gemm_args *g, const float *packed)
{
    const int mr = kn->mr, nr = 2 * kn->blk;
    float stack_bp[KC * GEMM_NR_MAX] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < g->K; k0 += KC) {
        int kc = g->K - k0 < KC ? g->K - k0 : KC;
        int last = k0 + kc == g->K;
        for (int n0 = 0; n0 < g->N; n0 += nr) {
            int cols = g->N - n0 < nr ? g->N - n0 : nr;
            const float *bp = stack_bp;
            if (packed)
                bp = packed + ((size_t)(n0 / nr) * g->K + k0) * nr;
            else
                pack_b_blocks(g, k0, kc, n0, kn->blk, kn->transpose, stack_bp);
            vit_tile_epilogue ep = vit_tile_epilogue_at(g, k0, last, n0);
            for (int m0 = 0; m0 < g->M; m0 += mr) {
                int rows = g->M - m0 < mr ? g->M - m0 : mr;
                const float *arow[GEMM_MR_MAX];
                for (int i = 0; i < mr; i++)
                    arow[i] = g->A + (size_t)(m0 + (i < rows ? i : 0)) * g->lda + k0;
                kn->tile_for(rows, cols)(kc, arow, bp, g->C + (size_t)m0 * g->ldc + n0, g->ldc,
                                         rows, cols, &ep);
            }
        }
    }
}

/* ---- AVX-512: 12 x 32 ------------------------------------------------------------------- */

/* Transposes 16 rows x 16 k of a Linear weight into bp[k][j0 .. j0+15] (row stride 32),
 * prefetching the next block's lines (weights not packed at load stream from memory). */
__attribute__((target("avx512f"))) static void transpose16_512(const float *w, int ldw, float *bp)
{
    for (int j = 0; j < 16; j++)
        _mm_prefetch((const char *)(w + (size_t)j * ldw + 64), _MM_HINT_T0);
    vit_transpose16x16_512(w, (size_t)ldw, bp, 32);
}

#define MR512 12
#define NR512 32

/* One MR x (16 * nv) tile for mr in {1, 2, 4, 8, 12} and nv in {1, 2} (a last panel of at most
 * 16 columns computes only its first vector): inlined into a wrapper per (mr, nv) so every loop
 * over rows unrolls with a constant count and the accumulators stay in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
tile512(const int mr, const int nv, int kc, const float *const *arow, const float *bp, float *c,
        int ldc, int rows, int cols, const vit_tile_epilogue *ep)
{
    __m512 acc[MR512][2];
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp + k * NR512);
        __m512 b1 = nv == 2 ? _mm512_load_ps(bp + k * NR512 + 16) : b0;
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(arow[i][k]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            if (nv == 2)
                acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    vit_tile512_store(mr, acc, c, ldc, rows, cols, ep);
}

#define TILE512_WRAPPER(MR, NV)                                                                    \
    __attribute__((target("avx512f"))) static void tile512_##MR##x##NV(                            \
        int kc, const float *const *arow, const float *bp, float *c, int ldc, int rows, int cols,  \
        const vit_tile_epilogue *ep)                                                               \
    {                                                                                              \
        tile512(MR, NV, kc, arow, bp, c, ldc, rows, cols, ep);                                     \
    }
TILE512_WRAPPER(12, 2)
TILE512_WRAPPER(8, 2)
TILE512_WRAPPER(4, 2)
TILE512_WRAPPER(2, 2)
TILE512_WRAPPER(1, 2)
TILE512_WRAPPER(12, 1)
TILE512_WRAPPER(8, 1)
TILE512_WRAPPER(4, 1)
TILE512_WRAPPER(2, 1)
TILE512_WRAPPER(1, 1)

/* Short last strips take a shorter tile rather than computing padding rows (49 tokens: four
 * strips of 12 and one row), and a last panel of at most 16 columns a half-width one (N = 48:
 * 32 + 16 columns of work, not 64). */
static tile_fn tile512_for(int rows, int cols)
{
    static const tile_fn full[] = {tile512_1x2, tile512_2x2, tile512_4x2, tile512_8x2,
                                   tile512_12x2};
    static const tile_fn half[] = {tile512_1x1, tile512_2x1, tile512_4x1, tile512_8x1,
                                   tile512_12x1};
    int i = rows > 8 ? 4 : rows > 4 ? 3 : rows > 2 ? 2 : rows > 1 ? 1 : 0;
    return cols > 16 ? full[i] : half[i];
}

/* ---- AVX2 + FMA: 6 x 16 ----------------------------------------------------------------- */

#define MR256 6
#define NR256 16

/* Transposes 8 rows x 8 k of a Linear weight into bp[k][j0 .. j0+7] (row stride 16): 32-bit
 * unpacks pair rows, 64-bit shuffles make groups of four per 128-bit lane, and a lane permute
 * joins rows 0-3 with rows 4-7. */
__attribute__((target("avx2,fma"))) static void transpose8_256(const float *w, int ldw, float *bp)
{
    __m256 r[8], t[8], u[8];
    for (int j = 0; j < 8; j++)
        r[j] = _mm256_loadu_ps(w + (size_t)j * ldw);
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int g = 0; g < 8; g += 4) {
        u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xee);
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xee);
    }
    for (int k = 0; k < 4; k++) {
        _mm256_store_ps(bp + (size_t)k * 16, _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
        _mm256_store_ps(bp + (size_t)(k + 4) * 16, _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
    }
}

__attribute__((target("avx2,fma"))) static void tile256(int kc, const float *const *arow,
                                                        const float *bp, float *c, int ldc,
                                                        int rows, int cols,
                                                        const vit_tile_epilogue *ep)
{
    __m256 acc[MR256][2];
    for (int i = 0; i < MR256; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(bp + k * NR256);
        __m256 b1 = _mm256_load_ps(bp + k * NR256 + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR256; i++) {
            __m256 a = _mm256_broadcast_ss(arow[i] + k);
            acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    float tile[MR256][NR256] __attribute__((aligned(32)));
    __m256 va = _mm256_set1_ps(ep->alpha);
#pragma GCC unroll 6
    for (int i = 0; i < MR256; i++) { /* constant indices keep acc in registers */
        _mm256_store_ps(tile[i], _mm256_mul_ps(acc[i][0], va));
        _mm256_store_ps(tile[i] + 8, _mm256_mul_ps(acc[i][1], va));
    }
    for (int i = 0; i < rows; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int j = 0; j < cols; j++) {
            float v =
                (tile[i][j] + (ep->bias ? ep->bias[j] : 0.0f)) * (ep->scale ? ep->scale[j] : 1.0f);
            if (ep->flags & TILE_LOAD_C)
                v += ci[j] * (ep->flags & TILE_SCALE_C ? ep->c_scale[j] : 1.0f);
            ci[j] = ep->flags & TILE_GELU   ? vit_fast_gelu(v)
                    : ep->flags & TILE_SILU ? vit_fast_silu(v)
                                            : v;
        }
    }
}

static tile_fn tile256_for(int rows, int cols)
{
    (void)rows;
    (void)cols;
    return tile256;
}

void vit_gemm_kernel_run(vit_gemm_isa isa, const vit_gemm_args *g)
{
    if (g->M <= 0 || g->N <= 0)
        return;
    if (g->K <= 0) { /* empty sum: only bias / accumulate remain */
        for (int i = 0; i < g->M; i++)
            for (int j = 0; j < g->N; j++) {
                float *c = g->C + (size_t)i * g->ldc + j;
                float v = (g->bias ? g->bias[j] : 0.0f) * (g->ls ? g->ls[j] : 1.0f);
                if (g->accumulate)
                    v += *c * (g->rs ? g->rs[j] : 1.0f);
                *c = g->act == VIT_GEMM_ACT_GELU   ? vit_fast_gelu(v)
                     : g->act == VIT_GEMM_ACT_SILU ? vit_fast_silu(v)
                                                   : v;
            }
        return;
    }
    _Static_assert(MR512 <= GEMM_MR_MAX && MR256 <= GEMM_MR_MAX, "arow holds a strip");
    _Static_assert(NR512 <= GEMM_NR_MAX && NR256 <= GEMM_NR_MAX, "bp holds a panel");
    static const gemm_kernel avx512 = {MR512, NR512 / 2, transpose16_512, tile512_for};
    static const gemm_kernel avx2 = {MR256, NR256 / 2, transpose8_256, tile256_for};
    gemm_blocked(isa == VIT_GEMM_AVX512 ? &avx512 : &avx2, g, NULL);
}

void vit_gemm_kernel_run_packed(const vit_gemm_args *g, const float *packed)
{
    static const gemm_kernel avx512 = {MR512, NR512 / 2, transpose16_512, tile512_for};
    if (g->M > 0 && g->N > 0 && g->K > 0)
        gemm_blocked(&avx512, g, packed);
}

#else /* not x86-64: cblas only */

void vit_gemm_kernel_run_packed(const vit_gemm_args *g, const float *packed)
{
    (void)g;
    (void)packed;
}

vit_gemm_isa vit_gemm_kernel_detect(void)
{
    return VIT_GEMM_BLAS;
}

void vit_gemm_kernel_run(vit_gemm_isa isa, const vit_gemm_args *g)
{
    (void)isa;
    (void)g;
}

#endif
