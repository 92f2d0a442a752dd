/* idx.h — reading IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed, for
 * vit-eval. Not part of libvit's API. */
#ifndef VIT_IDX_H
#define VIT_IDX_H

#include <stdint.h>

#include "vit.h"

#define IDX_MAX_DIMS 4

/* An unsigned-byte IDX array (type 0x08): dims[0] items of dims[1] x ... bytes. */
typedef struct vit_idx {
    int ndim;
    int64_t dims[IDX_MAX_DIMS];
    int64_t item_bytes; /* product of dims[1..] (1 for labels) */
    uint8_t *data;      /* dims[0] * item_bytes bytes, malloc'd */
} vit_idx;

/* Reads path (gzip or not); at most max_items items are kept (<= 0: all). -EINVAL for a
 * truncated, oversized or non-uint8 file, with the file named in err. */
int vit_idx_read(const char *path, int64_t max_items, vit_idx *ret, vit_error *err);
void vit_idx_clear(vit_idx *idx);

#endif
