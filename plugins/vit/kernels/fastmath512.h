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

/* GELU, exact erf form, as vit_fast_gelu: erf by the rational function of vit_fast_erff, its
 * division a Newton-refined reciprocal. */
__attribute__((target("avx512f"))) static inline __m512 vit_gelu512(__m512 v)
{
    __m512 z = _mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f));
    z = _mm512_max_ps(_mm512_min_ps(z, _mm512_set1_ps(4.0f)), _mm512_set1_ps(-4.0f));
    __m512 z2 = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-1.60960333262415e-02f));
    __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-2.13374055278905e-04f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.68282697438203e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-7.37332916720468e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.42647390514189e-02f));
    __m512 t = _mm512_rcp14_ps(q);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(q, t, _mm512_set1_ps(2.0f)));
    __m512 erf = _mm512_mul_ps(_mm512_mul_ps(z, p), t);
    __m512 half_v = _mm512_mul_ps(_mm512_set1_ps(0.5f), v);
    return _mm512_fmadd_ps(half_v, erf, half_v);
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
