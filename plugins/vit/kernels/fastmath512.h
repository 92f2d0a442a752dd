/* fastmath512.h — AVX-512 forms of fastmath.h's exp (and the GELU and SiLU built on it), for
 * loops the compiler would not vectorise as well (scalef for 2^k, reciprocals without a
 * division, masked tails). x86-64 with GCC/Clang only. */
#ifndef VIT_FASTMATH512_H
#define VIT_FASTMATH512_H

#include <immintrin.h>

/* e^x for x <= 88, relative error ~2e-7 (same range reduction and polynomial as
 * vit_fast_expf). */
__attribute__((target("avx512f"))) static inline __m512 vit_exp512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

/* GELU, exact erf form, as vit_fast_gelu: Abramowitz & Stegun 7.1.26 with a Newton-refined
 * reciprocal instead of a division. */
__attribute__((target("avx512f"))) static inline __m512 vit_gelu512(__m512 v)
{
    const __m512 sign = _mm512_set1_ps(-0.0f), one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
    __m512 az =
        _mm512_castsi512_ps(_mm512_andnot_si512(_mm512_castps_si512(sign), _mm512_castps_si512(z)));
    __m512 d = _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), one);
    __m512 t = _mm512_rcp14_ps(d);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
    __m512 poly = _mm512_set1_ps(1.061405429f);
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-1.453152027f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
    poly = _mm512_mul_ps(poly, t);
    __m512 e = vit_exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), az), az));
    __m512 erf_abs = _mm512_fnmadd_ps(poly, e, one);
    __m512 erf = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(erf_abs),
                        _mm512_and_si512(_mm512_castps_si512(z), _mm512_castps_si512(sign))));
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(one, erf));
    return y;
}

/* SiLU x / (1 + e^-x) with a Newton-refined reciprocal instead of a division; e^-x is taken at
 * most e^80, so very negative x give x * ~0 rather than x / inf. */
__attribute__((target("avx512f"))) static inline __m512 vit_silu512(__m512 v)
{
    __m512 e =
        vit_exp512(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), v), _mm512_set1_ps(80.0f)));
    __m512 d = _mm512_add_ps(e, _mm512_set1_ps(1.0f));
    __m512 t = _mm512_rcp14_ps(d);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
    return _mm512_mul_ps(v, t);
}

/* Whether this CPU runs AVX-512F (checked once). */
static inline int vit_have_avx512(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return cached;
}

#endif
