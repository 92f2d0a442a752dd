/* binder.c — weights lookups for the families' builds (binder.h): one used flag per tensor of
 * the file, set by every lookup that hands a tensor out, checked once at the end. */
#include "core/binder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Longest tensor name a lookup formats; longer names are cut (and then not found). */
#define NAME_MAX_BYTES 160

int vit_binder_init(vit_binder *b, vit_model *m, vit_error *err)
{
    b->model = m;
    b->err = err;
    b->used = calloc(m->weights->num_tensors + 1, 1);
    return b->used ? 0 : vit_errorf(err, -ENOMEM, "out of memory");
}

void vit_binder_clear(vit_binder *b)
{
    free(b->used);
    b->used = NULL;
}

void vit_binder_mark(vit_binder *b, const vit_st_tensor *t)
{
    b->used[t - b->model->weights->tensors] = 1;
}

static int get_v(vit_binder *b, int optional, const float **ret, int ndim, const int64_t *shape,
                 const char *fmt, va_list ap)
{
    char name[NAME_MAX_BYTES];
    vsnprintf(name, sizeof(name), fmt, ap);
    if (optional && !vit_safetensors_find(b->model->weights, name)) {
        *ret = NULL;
        return 0;
    }
    const vit_st_tensor *t;
    int r = vit_safetensors_get_f32(b->model->weights, name, ndim, shape, ret, &t, b->err);
    if (r == 0)
        vit_binder_mark(b, t);
    return r;
}

int vit_binder_get(vit_binder *b, const float **ret, int ndim, const int64_t *shape,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = get_v(b, 0, ret, ndim, shape, fmt, ap);
    va_end(ap);
    return r;
}

int vit_binder_get_opt(vit_binder *b, const float **ret, int ndim, const int64_t *shape,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = get_v(b, 1, ret, ndim, shape, fmt, ap);
    va_end(ap);
    return r;
}

static const vit_st_tensor *find_v(vit_binder *b, const char *fmt, va_list ap)
{
    char name[NAME_MAX_BYTES];
    vsnprintf(name, sizeof(name), fmt, ap);
    return vit_safetensors_find(b->model->weights, name);
}

const vit_st_tensor *vit_binder_peek(vit_binder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const vit_st_tensor *t = find_v(b, fmt, ap);
    va_end(ap);
    return t;
}

void vit_binder_ignore(vit_binder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const vit_st_tensor *t = find_v(b, fmt, ap);
    va_end(ap);
    if (t)
        vit_binder_mark(b, t);
}

int vit_binder_count(vit_binder *b, const char *prefix, const char *suffix)
{
    const vit_safetensors *st = b->model->weights;
    char name[NAME_MAX_BYTES];
    int n = 0;
    for (; n < 100000; n++) {
        snprintf(name, sizeof(name), "%s%d%s", prefix, n, suffix);
        size_t len = strlen(name);
        /* a prefix: any tensor whose name starts with it counts */
        int found = 0;
        for (size_t i = 0; i < st->num_tensors && !found; i++)
            found = !strncmp(st->tensors[i].name, name, len);
        if (!found)
            break;
    }
    return n;
}

int vit_binder_check_all_used(vit_binder *b, const char *fmt, ...)
{
    const vit_safetensors *st = b->model->weights;
    for (size_t i = 0; i < st->num_tensors; i++)
        if (!b->used[i]) {
            char what[256];
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(what, sizeof(what), fmt, ap);
            va_end(ap);
            return vit_errorf(b->err, -ENOTSUP, "%s: tensor %.200s is not part of %s", st->path,
                              st->tensors[i].name, what);
        }
    return 0;
}
