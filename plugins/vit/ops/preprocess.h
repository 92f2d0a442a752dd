/* preprocess.h — video frame -> the network's normalised CHW input.
 *
 * timm's eval transform without antialiasing: resize (short side to floor(size / crop_pct), or
 * both sides for squash / non-square inputs) with the config's interpolation, centre crop,
 * scale to [0, 1], subtract mean, divide by std. Every vit_pixel_format, any size and strides.
 * Tables are sized at creation (they depend only on the output size) and refilled, without
 * allocating, when the frame size changes. */
#ifndef VIT_PREPROCESS_H
#define VIT_PREPROCESS_H

#include "formats/model_config.h"
#include "vit.h"

typedef struct vit_preprocess_params {
    int channels, height, width; /* output: 1 (luma) or 3 (RGB) channels */
    float mean[3], std[3];
    float crop_pct;
    vit_crop_mode crop_mode;
    vit_interpolation interpolation;
} vit_preprocess_params;

typedef struct vit_preprocess vit_preprocess;

int vit_preprocess_new(const vit_preprocess_params *params, vit_preprocess **ret_pre,
                       vit_error *err);
vit_preprocess *vit_preprocess_free(vit_preprocess *pre);
/* Writes channels*height*width floats to chw. -EINVAL (with message) for a bad frame. */
int vit_preprocess_run(vit_preprocess *pre, const vit_frame *frame, float *chw, vit_error *err);

/* The resized image size and crop offset used for a frame of w x h (exposed for tests). */
void vit_preprocess_geometry(const vit_preprocess_params *params, int frame_w, int frame_h,
                             int *ret_resized_w, int *ret_resized_h, int *ret_left, int *ret_top);

/* One axis of the resampling: for output position d of rsize, the first source index (of in)
 * in *ret_start, the weights in w (may be NULL; room for the returned count) and the tap count.
 * Bicubic / bilinear are PIL's and torchvision's antialiased filters (a = -0.5, support scaled
 * when shrinking, weights renormalised at the borders): F.interpolate(antialias=True). */
int vit_resample_taps(vit_interpolation interp, int d, int rsize, int in, int *ret_start, float *w);

#endif
