/* reduce.h — sum and max over a float row, written with 16 independent partial results so the
 * compiler vectorises them without -ffast-math (a single running float sum must stay in order
 * under IEEE rules, which forbids vector code). */
#ifndef VIT_REDUCE_H
#define VIT_REDUCE_H

#define VIT_LANES 16

static inline float vit_row_sum(const float *x, int n)
{
    float acc[VIT_LANES] = {0};
    int j = 0;
    for (; j + VIT_LANES <= n; j += VIT_LANES)
        for (int l = 0; l < VIT_LANES; l++)
            acc[l] += x[j + l];
    float s = 0.0f;
    for (; j < n; j++)
        s += x[j];
    for (int l = 0; l < VIT_LANES; l++)
        s += acc[l];
    return s;
}

/* Sum of (x - c)^2. */
static inline float vit_row_sq_dev(const float *x, int n, float c)
{
    float acc[VIT_LANES] = {0};
    int j = 0;
    for (; j + VIT_LANES <= n; j += VIT_LANES)
        for (int l = 0; l < VIT_LANES; l++) {
            float d = x[j + l] - c;
            acc[l] += d * d;
        }
    float s = 0.0f;
    for (; j < n; j++)
        s += (x[j] - c) * (x[j] - c);
    for (int l = 0; l < VIT_LANES; l++)
        s += acc[l];
    return s;
}

static inline float vit_row_max(const float *x, int n)
{
    float m = x[0];
    int j = 0;
    if (n >= VIT_LANES) {
        float acc[VIT_LANES];
        for (int l = 0; l < VIT_LANES; l++)
            acc[l] = x[l];
        for (j = VIT_LANES; j + VIT_LANES <= n; j += VIT_LANES)
            for (int l = 0; l < VIT_LANES; l++)
                acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
        for (int l = 0; l < VIT_LANES; l++)
            m = acc[l] > m ? acc[l] : m;
    }
    for (; j < n; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

#endif
