/* dvt_resize.c — the token-grid resize of DVT's feature and relationship reuse.
 *
 * dvt.py resizes a g_up x g_up grid to g_dn x g_dn per axis: nearest up-sampling by the integer
 * factor f = ceil(g_dn / g_up) (cell c copies source c / f), then PyTorch's adaptive average
 * pooling from m = g_up * f cells to g_dn (output i averages cells floor(i*m/g_dn) ..
 * ceil((i+1)*m/g_dn) - 1). Both steps are linear, so one axis is a small g_dn x g_up weight
 * matrix, computed once at build; an output reads only the few sources between first[i] and
 * last[i]. A 2-D cell reads the product of its row's and column's taps (vit_dvt_resize_cells, for
 * rows of channels); vit_dvt_resize_matrix spells the same map out as one dense matrix for the
 * relation maps' key axis, where a GEMM over every (channel, query) row beats the taps. */
#include <string.h>

#include "families/dvt.h"

void vit_dvt_resize_init(vit_dvt_resize *rs, int g_up, int g_dn)
{
    memset(rs, 0, sizeof(*rs));
    rs->g_up = g_up;
    rs->g_dn = g_dn;
    int f = (g_dn + g_up - 1) / g_up, m = g_up * f;
    for (int i = 0; i < g_dn; i++) {
        int c0 = i * m / g_dn, c1 = ((i + 1) * m + g_dn - 1) / g_dn; /* [c0, c1) */
        float share = 1.0f / (float)(c1 - c0);
        rs->first[i] = c0 / f;
        rs->last[i] = (c1 - 1) / f;
        for (int c = c0; c < c1; c++)
            rs->w[i][c / f] += share;
    }
}

void vit_dvt_resize_cells(const vit_dvt_resize *rs, int c0, int c1, int channels, const float *in,
                          int ld_in, float *out, int ld_out)
{
    int gu = rs->g_up, gd = rs->g_dn;
    for (int cell = c0; cell < c1; cell++) {
        int y = cell / gd, x = cell % gd;
        float *o = out + (size_t)(cell - c0) * ld_out;
        memset(o, 0, (size_t)channels * sizeof(float));
        for (int sy = rs->first[y]; sy <= rs->last[y]; sy++) {
            for (int sx = rs->first[x]; sx <= rs->last[x]; sx++) {
                float w = rs->w[y][sy] * rs->w[x][sx];
                const float *src = in + (size_t)(sy * gu + sx) * ld_in;
                for (int c = 0; c < channels; c++)
                    o[c] += w * src[c];
            }
        }
    }
}

void vit_dvt_resize_matrix(const vit_dvt_resize *rs, float *m)
{
    int gu = rs->g_up, gd = rs->g_dn;
    for (int y = 0; y < gd; y++)
        for (int x = 0; x < gd; x++)
            for (int sy = 0; sy < gu; sy++)
                for (int sx = 0; sx < gu; sx++)
                    *m++ = rs->w[y][sy] * rs->w[x][sx];
}
