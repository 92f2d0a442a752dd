/* transpose512.h — a 16 x 16 transpose of 32-bit items in AVX-512F registers, for packing a
 * product's B operand when its rows are the product's columns: fp32 weights and keys
 * (gemm_kernel.c) and bf16 pairs of keys (gemm_bf16.c). Included by those two files only. */
#ifndef VIT_TRANSPOSE512_H
#define VIT_TRANSPOSE512_H

#include <immintrin.h>
#include <stddef.h>

/* dst[k * ldd + j] = src[j * lds + k] for j, k < 16 (strides in 32-bit items; dst 64-byte
 * aligned, ldd a multiple of 16). Within 128-bit lanes: 32-bit then 64-bit unpacks turn each
 * group of 4 rows into vectors holding those rows at k = 4 * lane + e; two rounds of 128-bit
 * lane shuffles then gather the four groups' lane l into one vector per k. */
__attribute__((target("avx512f"), always_inline)) static inline void
vit_transpose16x16_512(const void *src, size_t lds, void *dst, size_t ldd)
{
    const float *s = src;
    float *d = dst;
    __m512 q[4][4];
    for (int g = 0; g < 4; g++) {
        __m512 a = _mm512_loadu_ps(s + (size_t)(4 * g) * lds);
        __m512 b = _mm512_loadu_ps(s + (size_t)(4 * g + 1) * lds);
        __m512 c = _mm512_loadu_ps(s + (size_t)(4 * g + 2) * lds);
        __m512 e = _mm512_loadu_ps(s + (size_t)(4 * g + 3) * lds);
        __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(a, b));
        __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(a, b));
        __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(c, e));
        __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(c, e));
        q[g][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        q[g][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        q[g][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        q[g][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int e = 0; e < 4; e++) {
        __m512 x0 = _mm512_shuffle_f32x4(q[0][e], q[1][e], 0x44);
        __m512 x1 = _mm512_shuffle_f32x4(q[2][e], q[3][e], 0x44);
        __m512 x2 = _mm512_shuffle_f32x4(q[0][e], q[1][e], 0xee);
        __m512 x3 = _mm512_shuffle_f32x4(q[2][e], q[3][e], 0xee);
        _mm512_store_ps(d + (size_t)e * ldd, _mm512_shuffle_f32x4(x0, x1, 0x88));
        _mm512_store_ps(d + (size_t)(4 + e) * ldd, _mm512_shuffle_f32x4(x0, x1, 0xdd));
        _mm512_store_ps(d + (size_t)(8 + e) * ldd, _mm512_shuffle_f32x4(x2, x3, 0x88));
        _mm512_store_ps(d + (size_t)(12 + e) * ldd, _mm512_shuffle_f32x4(x2, x3, 0xdd));
    }
}

#endif
