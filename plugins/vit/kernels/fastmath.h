/* fastmath.h — exp and erf the compiler can vectorise (libm's are scalar calls).
 *
 * vit_fast_expf: 2^k * p(r) with x = k ln2 + r, |r| <= ln2/2, p of degree 6: relative error
 * ~2e-7 over the clamped range. vit_fast_erff: Abramowitz & Stegun 7.1.26, absolute error
 * 1.5e-7. Both are branch-free so loops over arrays of them vectorise. */
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

static inline float vit_fast_erff(float x)
{
    float ax = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    float y = 1.0f - poly * t * vit_fast_expf(-ax * ax);
    return x < 0 ? -y : y;
}

/* GELU, exact erf form: 0.5 x (1 + erf(x / sqrt 2)). */
static inline float vit_fast_gelu(float x)
{
    return 0.5f * x * (1.0f + vit_fast_erff(x * 0.70710678118654752f));
}

#endif
