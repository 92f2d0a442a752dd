/* fastmath.h — exp and erf the compiler can vectorise (libm's are scalar calls).
 *
 * vit_fast_expf: 2^k * p(r) with x = k ln2 + r, |r| <= ln2/2, p of degree 6: relative error
 * ~2e-7 over the clamped range. vit_fast_erff: a rational function (no exp), absolute error
 * 4.2e-7 in float arithmetic. Both are branch-free so loops over arrays of them vectorise. */
#ifndef VIT_FASTMATH_H
#define VIT_FASTMATH_H

#include <stdint.h>

static inline float vit_fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float k = (x * 1.44269504088896341f + round_magic) - round_magic;
    float r = x - k * 0.693145751953125f;
    r = r - k * 1.428606765330187045e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        uint32_t u;
        float f;
    } scale = {.u = (uint32_t)((int32_t)k + 127) << 23};
    return p * scale.f;
}

/* erf(x) = x p(x^2) / q(x^2) on [-4, 4] (erf is +-1 in float beyond), p of degree 6, q of 4:
 * the rational minimax form of Eigen's and XLA's float erf. */
static inline float vit_fast_erff(float x)
{
    x = x < -4.0f ? -4.0f : x > 4.0f ? 4.0f : x;
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return x * p / q;
}

/* GELU, exact erf form: 0.5 x (1 + erf(x / sqrt 2)). */
static inline float vit_fast_gelu(float x)
{
    return 0.5f * x * (1.0f + vit_fast_erff(x * 0.70710678118654752f));
}

/* SiLU x / (1 + e^-x). */
static inline float vit_fast_silu(float x)
{
    return x / (1.0f + vit_fast_expf(-x));
}

#endif
