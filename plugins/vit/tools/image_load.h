/* image_load.h — PNG, JPEG and PPM/PGM files as vit_frames (vit-infer only, not in libvit). */
#ifndef VIT_IMAGE_LOAD_H
#define VIT_IMAGE_LOAD_H

#include <stdint.h>

#include "vit.h"

typedef struct vit_image {
    uint8_t *pixels; /* owned */
    vit_frame frame; /* RGB or GRAY8 over pixels */
} vit_image;

/* Decodes by content (not extension). -EINVAL with a one-line message for bad files. */
int vit_image_load(const char *path, vit_image *ret_image, vit_error *err);
void vit_image_clear(vit_image *image);

#endif
