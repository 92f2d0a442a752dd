/* tile512.h — the end of an AVX-512 register tile, shared by the fp32 kernel (gemm_kernel.c)
 * and the bf16 one (gemm_bf16.c): scale by alpha, add bias, the layer scale, add what C holds
 * (res-scaled), GELU or SiLU, and store the rows and columns that exist (columns past N masked).
 * Included by those two files only. */
#ifndef VIT_TILE512_H
#define VIT_TILE512_H

#include <immintrin.h>
#include <stddef.h>

#include "kernels/fastmath512.h"
#include "kernels/gemm_kernel.h"

/* Stores rows [0, min(mr, rows)) x columns [0, cols <= 32) of the accumulators acc[i][0..1] to
 * c (row stride ldc) as ep says (gemm_kernel.h). Always inlined with a constant mr, so acc
 * stays in registers. */
__attribute__((target("avx512f"), always_inline)) static inline void
vit_tile512_store(const int mr, __m512 (*acc)[2], float *c, int ldc, int rows, int cols,
                  const vit_tile_epilogue *ep)
{
    __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    const int flags = ep->flags;
    __m512 va = _mm512_set1_ps(ep->alpha);
    __m512 bias0 = ep->bias ? _mm512_maskz_loadu_ps(m0, ep->bias) : _mm512_setzero_ps();
    __m512 bias1 = ep->bias ? _mm512_maskz_loadu_ps(m1, ep->bias + 16) : _mm512_setzero_ps();
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, cs0 = s0, cs1 = s0;
    if (ep->scale) {
        s0 = _mm512_maskz_loadu_ps(m0, ep->scale);
        s1 = _mm512_maskz_loadu_ps(m1, ep->scale + 16);
    }
    if (flags & TILE_SCALE_C) {
        cs0 = _mm512_maskz_loadu_ps(m0, ep->c_scale);
        cs1 = _mm512_maskz_loadu_ps(m1, ep->c_scale + 16);
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) { /* constant indices keep acc in registers */
        if (i >= rows)
            break;
        float *ci = c + (size_t)i * ldc;
        __m512 r0 = _mm512_fmadd_ps(acc[i][0], va, bias0);
        __m512 r1 = _mm512_fmadd_ps(acc[i][1], va, bias1);
        if (ep->scale) {
            r0 = _mm512_mul_ps(r0, s0);
            r1 = _mm512_mul_ps(r1, s1);
        }
        if (flags & TILE_SCALE_C) {
            r0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, ci), cs0, r0);
            r1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, ci + 16), cs1, r1);
        } else if (flags & TILE_LOAD_C) {
            r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(m0, ci));
            r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        if (flags & TILE_GELU) {
            r0 = vit_gelu512(r0);
            r1 = vit_gelu512(r1);
        } else if (flags & TILE_SILU) {
            r0 = vit_silu512(r0);
            r1 = vit_silu512(r1);
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

#endif
