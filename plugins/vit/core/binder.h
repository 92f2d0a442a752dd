/* binder.h — the one way a family's build takes its weights out of the model's safetensors file.
 *
 * A binder looks tensors up by printf-style name, checks their dims and shape (entries < 0
 * match any size) and dtype, and hands out float data (F32 in place in the mapping, F16/BF16
 * converted at open: safetensors.h). Every tensor handed out is marked used; tensors a family
 * deliberately leaves alone (a buffer the runtime rebuilds) are marked with
 * vit_binder_ignore. When the build is done, vit_binder_check_all_used names the first tensor
 * nothing took: a file with weights the family does not know is an unsupported variant and
 * must not run silently wrong. */
#ifndef VIT_BINDER_H
#define VIT_BINDER_H

#include <stdint.h>

#include "core/model.h"

typedef struct vit_binder {
    vit_model *model;
    unsigned char *used; /* one flag per tensor of model->weights */
    vit_error *err;
} vit_binder;

/* VIT_SHAPE(a, b) expands to the ndim and shape arguments of vit_binder_get. */
#define VIT_SHAPE(...)                                                                             \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[])                         \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

/* -ENOMEM (in err) when the flags cannot be allocated. */
int vit_binder_init(vit_binder *b, vit_model *m, vit_error *err);
void vit_binder_clear(vit_binder *b);

/* A float tensor of ndim dims and the given shape; *ret (may be NULL) gets its data. Marks it
 * used. Errors as vit_safetensors_get_f32: -ENOENT missing, -EINVAL wrong dtype or shape. */
int vit_binder_get(vit_binder *b, const float **ret, int ndim, const int64_t *shape,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Like vit_binder_get, but a missing tensor sets *ret NULL and returns 0. */
int vit_binder_get_opt(vit_binder *b, const float **ret, int ndim, const int64_t *shape,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The tensor if present (any dtype and shape), without marking it: for reading sizes. */
const vit_st_tensor *vit_binder_peek(vit_binder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Marks a tensor the family read itself (e.g. an integer permutation) as used. */
void vit_binder_mark(vit_binder *b, const vit_st_tensor *t);
/* Marks a tensor (if present) as deliberately ignored. */
void vit_binder_ignore(vit_binder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Counts i = 0, 1, ... while some tensor name starts with "<prefix><i><suffix>". */
int vit_binder_count(vit_binder *b, const char *prefix, const char *suffix);
/* 0 when every tensor was taken, marked or ignored; else -ENOTSUP with
 * "<file>: tensor <name> is not part of <what>", what formatted from fmt (the family and,
 * usually, the architecture: "a plain ViT/DeiT (unsupported variant of %.100s)"). */
int vit_binder_check_all_used(vit_binder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
