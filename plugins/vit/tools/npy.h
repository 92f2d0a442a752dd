/* npy.h — float32 arrays in NumPy's .npy format (read and write), for vit-infer and tests. */
#ifndef VIT_NPY_H
#define VIT_NPY_H

#include <stdint.h>

#include "vit.h"

#define NPY_MAX_DIMS 8

/* Reads a little-endian float32, C-order array. *ret_data is malloc'd (caller frees). */
int vit_npy_read_f32(const char *path, float **ret_data, int *ret_ndim, int64_t *ret_shape,
                     vit_error *err);
int vit_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape,
                      vit_error *err);

#endif
