/* resize.h — bilinear resizing of token-major maps ([H*W, C], see conv.h) as PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False) computes it, without antialiasing
 * (MobileViT stretches a map to a multiple of its patch size and back).
 *
 * Each axis on its own: output cell o reads source s = max((o + 0.5) * in / out - 0.5, 0),
 * cells floor(s) and floor(s) + 1 (clamped to the last) weighted 1 - f and f, f = s - floor(s).
 *
 * Either map may be stored with its rows in another order (MobileViT keeps the stretched map as
 * patch-offset sequences): rows[p] is where pixel p (row-major) lives, NULL for the plain
 * order. Output pixels [p0, p1) only, so callers split pixels over threads. */
#ifndef VIT_RESIZE_H
#define VIT_RESIZE_H

/* out pixel p of the OH x OW map = the bilinear sample of x (H x W, C channels, row stride C)
 * at p, for p in [p0, p1); x_rows / out_rows as above, ldo the output row stride. */
void vit_bilinear_rows(const float *x, const int *x_rows, int H, int W, int C, int OH, int OW,
                       int p0, int p1, float *out, const int *out_rows, int ldo);

#endif
