/* safetensors.h — read-only, bounds-checked access to a .safetensors file.
 *
 * The whole file is read once, at open, into private read-only memory (never mapped from the
 * file, which its owner may truncate or replace at any time); every header entry's dtype, shape
 * and data_offsets are checked before any tensor is handed out. F32 tensors point into that
 * copy; F16/BF16 tensors
 * are converted once, at open, into one owned buffer so families see float data only. */
#ifndef VIT_SAFETENSORS_H
#define VIT_SAFETENSORS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vit.h"

#define VIT_ST_MAX_DIMS 8
/* Headers larger than this are refused before they are read (the format's own limit). */
#define VIT_ST_MAX_HEADER_BYTES (100u << 20)
/* Weight files larger than this are refused before they are read. */
#define VIT_ST_MAX_FILE_BYTES (8ull << 30)

typedef enum vit_st_dtype {
    VIT_ST_BOOL,
    VIT_ST_U8,
    VIT_ST_I8,
    VIT_ST_I16,
    VIT_ST_U16,
    VIT_ST_F16,
    VIT_ST_BF16,
    VIT_ST_I32,
    VIT_ST_U32,
    VIT_ST_F32,
    VIT_ST_I64,
    VIT_ST_U64,
    VIT_ST_F64,
} vit_st_dtype;

typedef struct vit_st_tensor {
    char *name;
    vit_st_dtype dtype;
    int ndim;
    int64_t shape[VIT_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte offsets from the start of the file */
    const float *f32;    /* float view: F32 in the copy, F16/BF16 converted; else NULL */
} vit_st_tensor;

typedef struct vit_safetensors {
    atomic_int refs; /* immutable after open, so shareable: a model holds one reference */
    char *path;
    const uint8_t *map; /* the file's bytes: a private, read-only copy */
    size_t size;
    int map_on_heap;        /* map is malloc'd (vit_safetensors_open_memory), not mapped */
    vit_st_tensor *tensors; /* sorted by name */
    size_t num_tensors;
    float *converted; /* owned storage for F16/BF16 tensors */
    char **meta_keys, **meta_values;
    size_t num_meta;
} vit_safetensors;

/* Opens with one reference. */
int vit_safetensors_open(const char *path, vit_safetensors **ret_st, vit_error *err);
/* The same checks on SIZE bytes at DATA, which are copied (to the heap, not read-only); PATH
 * only names them in errors. For vit_model_open_memory (core/model.h). */
int vit_safetensors_open_memory(const char *path, const void *data, size_t size,
                                vit_safetensors **ret_st, vit_error *err);
vit_safetensors *vit_safetensors_ref(vit_safetensors *st);
/* Drops a reference and frees at the last. Accepts NULL; always returns NULL. */
vit_safetensors *vit_safetensors_unref(vit_safetensors *st);

const char *vit_st_dtype_name(vit_st_dtype dtype);
const vit_st_tensor *vit_safetensors_find(const vit_safetensors *st, const char *name);
/* __metadata__ value for key, or NULL. */
const char *vit_safetensors_metadata(const vit_safetensors *st, const char *key);

/* Looks up a float tensor (F32/F16/BF16) named name with ndim dims; shape entries < 0 match any
 * size. On success stores the data in *ret_data and the tensor in *ret_tensor (either may be
 * NULL). Errors: -ENOENT missing, -EINVAL wrong dtype or shape; the message names the file and
 * the tensor. */
int vit_safetensors_get_f32(const vit_safetensors *st, const char *name, int ndim,
                            const int64_t *shape, const float **ret_data,
                            const vit_st_tensor **ret_tensor, vit_error *err);

/* What a file that is not a regular file is ("a FIFO", "a folder", ...), for errors. */
const char *vit_file_kind(mode_t mode);

/* Writes "[a,b,c]" into buf. */
void vit_st_format_shape(char *buf, size_t size, int ndim, const int64_t *shape);

#endif
