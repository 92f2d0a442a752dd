/* safetensors.c — read a .safetensors file into private memory and check its header before
 * trusting it.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, "__metadata__": {..}},
 * then the data; offsets are relative to the first byte after the header. Every entry is
 * checked (known dtype, bounded shape whose byte size equals e - b, e within the file, F32 data
 * 4-byte aligned) and the byte ranges of all tensors must not overlap. */
#include "formats/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static const struct {
    const char *name;
    vit_st_dtype dtype;
    unsigned size;
} dtype_table[] = {
    {"BOOL", VIT_ST_BOOL, 1}, {"U8", VIT_ST_U8, 1},   {"I8", VIT_ST_I8, 1},
    {"I16", VIT_ST_I16, 2},   {"U16", VIT_ST_U16, 2}, {"F16", VIT_ST_F16, 2},
    {"BF16", VIT_ST_BF16, 2}, {"I32", VIT_ST_I32, 4}, {"U32", VIT_ST_U32, 4},
    {"F32", VIT_ST_F32, 4},   {"I64", VIT_ST_I64, 8}, {"U64", VIT_ST_U64, 8},
    {"F64", VIT_ST_F64, 8},
};

const char *vit_st_dtype_name(vit_st_dtype dtype)
{
    for (size_t i = 0; i < sizeof(dtype_table) / sizeof(dtype_table[0]); i++)
        if (dtype_table[i].dtype == dtype)
            return dtype_table[i].name;
    return "?";
}

void vit_st_format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < ndim && used < size; i++) {
        if (shape[i] < 0) /* a wildcard in an expected shape */
            n = snprintf(buf + used, size - used, "%s*", i ? "," : "");
        else
            n = snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)shape[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static void convert_to_f32(const vit_st_tensor *t, const uint8_t *src, float *dst)
{
    for (int64_t i = 0; i < t->numel; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        if (t->dtype == VIT_ST_F16) {
            dst[i] = f16_to_f32(h);
        } else {
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, sizeof(float));
        }
    }
}

static int parse_u64(json_t *v, uint64_t *ret)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

/* Fills t from one header entry; checks everything that does not need the other entries. */
static int parse_entry(const vit_safetensors *st, const char *name, json_t *entry,
                       uint64_t data_start, vit_st_tensor *t, vit_error *err)
{
    const char *path = st->path;
    if (!json_is_object(entry))
        return vit_errorf(err, -EINVAL, "%s: tensor %.200s: header entry is not an object", path,
                          name);
    json_t *jdtype = json_object_get(entry, "dtype");
    json_t *jshape = json_object_get(entry, "shape");
    json_t *joffs = json_object_get(entry, "data_offsets");
    if (!json_is_string(jdtype) || !json_is_array(jshape) || !json_is_array(joffs) ||
        json_array_size(joffs) != 2)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s: header entry needs dtype, shape and data_offsets "
                          "[begin,end]",
                          path, name);
    unsigned esize = 0;
    for (size_t i = 0; i < sizeof(dtype_table) / sizeof(dtype_table[0]); i++)
        if (!strcmp(json_string_value(jdtype), dtype_table[i].name)) {
            t->dtype = dtype_table[i].dtype;
            esize = dtype_table[i].size;
        }
    if (!esize)
        return vit_errorf(err, -EINVAL, "%s: tensor %.200s has unknown dtype \"%.32s\"", path, name,
                          json_string_value(jdtype));
    size_t ndim = json_array_size(jshape);
    if (ndim > VIT_ST_MAX_DIMS)
        return vit_errorf(err, -EINVAL, "%s: tensor %.200s has %zu dimensions (at most %d)", path,
                          name, ndim, VIT_ST_MAX_DIMS);
    t->ndim = (int)ndim;
    uint64_t data_size = st->size - data_start;
    uint64_t numel = 1;
    int too_big = 0;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t d;
        if (parse_u64(json_array_get(jshape, i), &d) < 0)
            return vit_errorf(err, -EINVAL,
                              "%s: tensor %.200s: shape must hold non-negative integers", path,
                              name);
        t->shape[i] = d > INT64_MAX ? INT64_MAX : (int64_t)d;
        if (d != 0 && numel > (data_size / esize) / d)
            too_big = 1; /* keep going: a zero dimension still makes it empty */
        else
            numel *= d;
    }
    for (size_t i = 0; i < ndim; i++)
        if (t->shape[i] == 0)
            too_big = 0, numel = 0;
    char shape_text[160];
    vit_st_format_shape(shape_text, sizeof(shape_text), t->ndim, t->shape);
    if (too_big)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s has shape %s, larger than the file's %llu data bytes",
                          path, name, shape_text, (unsigned long long)data_size);
    t->numel = (int64_t)numel;
    uint64_t b, e;
    if (parse_u64(json_array_get(joffs, 0), &b) < 0 || parse_u64(json_array_get(joffs, 1), &e) < 0)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s: data_offsets must be non-negative integers", path,
                          name);
    if (b > e || e > data_size)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s: data_offsets [%llu,%llu] out of range (data is %llu "
                          "bytes)",
                          path, name, (unsigned long long)b, (unsigned long long)e,
                          (unsigned long long)data_size);
    if (e - b != numel * esize)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s: %s %s needs %llu bytes but data_offsets [%llu,%llu] "
                          "hold %llu",
                          path, name, json_string_value(jdtype), shape_text,
                          (unsigned long long)(numel * esize), (unsigned long long)b,
                          (unsigned long long)e, (unsigned long long)(e - b));
    t->begin = data_start + b;
    t->end = data_start + e;
    if (t->dtype == VIT_ST_F32 && t->begin % 4)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s: F32 data at byte %llu is not 4-byte aligned", path,
                          name, (unsigned long long)t->begin);
    t->name = strdup(name);
    return t->name ? 0 : vit_errorf(err, -ENOMEM, "%s: out of memory", path);
}

static int parse_metadata(vit_safetensors *st, json_t *meta, vit_error *err)
{
    if (!json_is_object(meta))
        return vit_errorf(err, -EINVAL, "%s: __metadata__ is not an object", st->path);
    size_t n = json_object_size(meta);
    st->meta_keys = calloc(n ? n : 1, sizeof(char *));
    st->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_values)
        return vit_errorf(err, -ENOMEM, "%s: out of memory", st->path);
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value)
    {
        if (!json_is_string(value))
            return vit_errorf(err, -EINVAL, "%s: __metadata__ value of \"%.100s\" is not a string",
                              st->path, key);
        st->meta_keys[st->num_meta] = strdup(key);
        st->meta_values[st->num_meta] = strdup(json_string_value(value));
        st->num_meta++;
        if (!st->meta_keys[st->num_meta - 1] || !st->meta_values[st->num_meta - 1])
            return vit_errorf(err, -ENOMEM, "%s: out of memory", st->path);
    }
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const vit_st_tensor *)a)->name, ((const vit_st_tensor *)b)->name);
}

static int cmp_begin(const void *a, const void *b)
{
    const vit_st_tensor *x = *(const vit_st_tensor *const *)a,
                        *y = *(const vit_st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int check_overlaps(vit_safetensors *st, vit_error *err)
{
    if (st->num_tensors < 2)
        return 0;
    const vit_st_tensor **order = malloc(st->num_tensors * sizeof(*order));
    if (!order)
        return vit_errorf(err, -ENOMEM, "%s: out of memory", st->path);
    size_t n = 0;
    for (size_t i = 0; i < st->num_tensors; i++)
        if (st->tensors[i].end > st->tensors[i].begin)
            order[n++] = &st->tensors[i];
    qsort(order, n, sizeof(*order), cmp_begin);
    int r = 0;
    for (size_t i = 1; i < n && r == 0; i++)
        if (order[i]->begin < order[i - 1]->end)
            r = vit_errorf(err, -EINVAL, "%s: tensors %.150s and %.150s overlap in the file",
                           st->path, order[i - 1]->name, order[i]->name);
    free(order);
    return r;
}

static int convert_half_tensors(vit_safetensors *st, vit_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < st->num_tensors; i++)
        if (st->tensors[i].dtype == VIT_ST_F16 || st->tensors[i].dtype == VIT_ST_BF16)
            total += (size_t)st->tensors[i].numel; /* bounded by the file size */
    if (!total)
        return 0;
    st->converted = malloc(total * sizeof(float));
    if (!st->converted)
        return vit_errorf(err, -ENOMEM, "%s: out of memory converting half-precision tensors",
                          st->path);
    float *dst = st->converted;
    for (size_t i = 0; i < st->num_tensors; i++) {
        vit_st_tensor *t = &st->tensors[i];
        if (t->dtype != VIT_ST_F16 && t->dtype != VIT_ST_BF16)
            continue;
        convert_to_f32(t, st->map + t->begin, dst);
        t->f32 = dst;
        dst += t->numel;
    }
    return 0;
}

static int parse_header(vit_safetensors *st, vit_error *err)
{
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | st->map[i];
    if (hlen > st->size - 8)
        return vit_errorf(err, -EINVAL,
                          "%s: header length %llu runs past the end of the file (%zu bytes): "
                          "truncated or not a safetensors file",
                          st->path, (unsigned long long)hlen, st->size);
    if (hlen > VIT_ST_MAX_HEADER_BYTES)
        return vit_errorf(err, -EINVAL, "%s: header length %llu exceeds the %u-byte limit",
                          st->path, (unsigned long long)hlen, VIT_ST_MAX_HEADER_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)st->map + 8, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return vit_errorf(err, -EINVAL, "%s: header is not valid JSON: %d:%d: %s", st->path,
                          jerr.line, jerr.column, jerr.text);
    int r = 0;
    if (!json_is_object(root)) {
        r = vit_errorf(err, -EINVAL, "%s: header is not a JSON object", st->path);
        goto out;
    }
    size_t n = json_object_size(root);
    st->tensors = calloc(n ? n : 1, sizeof(vit_st_tensor));
    if (!st->tensors) {
        r = vit_errorf(err, -ENOMEM, "%s: out of memory", st->path);
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (!strcmp(key, "__metadata__"))
            r = parse_metadata(st, value, err);
        else if ((r = parse_entry(st, key, value, 8 + hlen, &st->tensors[st->num_tensors], err)) ==
                 0)
            st->num_tensors++;
        if (r < 0)
            goto out;
    }
    qsort(st->tensors, st->num_tensors, sizeof(vit_st_tensor), cmp_name);
    for (size_t i = 0; i < st->num_tensors; i++)
        if (st->tensors[i].dtype == VIT_ST_F32)
            st->tensors[i].f32 = (const float *)(const void *)(st->map + st->tensors[i].begin);
    r = check_overlaps(st, err);
    if (r == 0)
        r = convert_half_tensors(st, err);
out:
    json_decref(root);
    return r;
}

const char *vit_file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a folder"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a plain file";
}

/* A file of SIZE bytes is no smaller than the header length field and no larger than
 * VIT_ST_MAX_FILE_BYTES. */
static int check_size(const char *path, uint64_t size, vit_error *err)
{
    if (size < 8)
        return vit_errorf(err, -EINVAL,
                          "%s: truncated file (%llu bytes; the header length alone needs 8)", path,
                          (unsigned long long)size);
    if (size > VIT_ST_MAX_FILE_BYTES || size > SIZE_MAX / 2)
        return vit_errorf(err, -EFBIG, "%s: %llu bytes, larger than the %llu-byte limit", path,
                          (unsigned long long)size, (unsigned long long)VIT_ST_MAX_FILE_BYTES);
    return 0;
}

/* Checks what fstat says of the file before anything is read: a regular file of a size
 * check_size accepts. */
static int check_file(const char *path, const struct stat *sb, vit_error *err)
{
    if (!S_ISREG(sb->st_mode))
        return vit_errorf(err, -EINVAL, "%s: not a regular file (%s)", path,
                          vit_file_kind(sb->st_mode));
    return check_size(path, sb->st_size < 0 ? 0 : (uint64_t)sb->st_size, err);
}

/* Reads all SIZE bytes of FD into BUF; a file that shrank or changed meanwhile is an error
 * (its owner is rewriting it: the caller may try again later). */
static int read_all(int fd, const char *path, const struct stat *before, uint8_t *buf, size_t size,
                    vit_error *err)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            return vit_errorf(err, r, "%s: read failed: %s", path, strerror(-r));
        }
        if (n == 0)
            return vit_errorf(err, -EIO, "%s: file shrank to %zu bytes while being read (was %zu)",
                              path, got, size);
        got += (size_t)n;
    }
    struct stat after;
    if (fstat(fd, &after) < 0 || after.st_size != before->st_size ||
        after.st_mtim.tv_sec != before->st_mtim.tv_sec ||
        after.st_mtim.tv_nsec != before->st_mtim.tv_nsec)
        return vit_errorf(err, -EIO, "%s: file changed while being read", path);
    return 0;
}

/* The weights are copied into private, read-only memory rather than mapped from the file: the
 * file's owner may truncate or rewrite it at any time, which would turn a shared mapping into
 * SIGBUS or into different weights under a running model. */
static int load_file(vit_safetensors *st, vit_error *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below). */
    int fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", st->path, strerror(-r));
    }
    struct stat sb;
    int r = fstat(fd, &sb) < 0 ? -errno : 0;
    if (r < 0)
        r = vit_errorf(err, r, "%s: %s", st->path, strerror(-r));
    else
        r = check_file(st->path, &sb, err);
    void *buf = MAP_FAILED;
    if (r == 0) {
        st->size = (size_t)sb.st_size;
        buf = mmap(NULL, st->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED)
            r = vit_errorf(err, -ENOMEM, "%s: cannot allocate %zu bytes for the weights", st->path,
                           st->size);
    }
    if (r == 0) {
        st->map = buf;
        r = read_all(fd, st->path, &sb, buf, st->size, err);
    }
    if (r == 0)
        mprotect(buf, st->size, PROT_READ); /* the weights are immutable from here on */
    close(fd);
    return r;
}

/* The copy of vit_safetensors_open_memory: on the heap, exactly SIZE bytes, so that under
 * AddressSanitizer a read past the end of the data is caught. */
static int load_memory(vit_safetensors *st, const void *data, size_t size, vit_error *err)
{
    int r = check_size(st->path, size, err);
    if (r < 0)
        return r;
    uint8_t *copy = malloc(size);
    if (!copy)
        return vit_errorf(err, -ENOMEM, "%s: cannot allocate %zu bytes for the weights", st->path,
                          size);
    memcpy(copy, data, size);
    st->map = copy;
    st->size = size;
    st->map_on_heap = 1;
    return 0;
}

/* Both opens: the bytes from the file at PATH, or from DATA when it is not NULL. */
static int safetensors_open(const char *path, const void *data, size_t size,
                            vit_safetensors **ret_st, vit_error *err)
{
    vit_safetensors *st = calloc(1, sizeof(*st));
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return vit_errorf(err, -ENOMEM, "%s: out of memory", path);
    }
    atomic_init(&st->refs, 1);
    int r = data ? load_memory(st, data, size, err) : load_file(st, err);
    if (r == 0)
        r = parse_header(st, err);
    if (r < 0) {
        vit_safetensors_unref(st);
        return r;
    }
    *ret_st = st;
    return 0;
}

int vit_safetensors_open(const char *path, vit_safetensors **ret_st, vit_error *err)
{
    return safetensors_open(path, NULL, 0, ret_st, err);
}

int vit_safetensors_open_memory(const char *path, const void *data, size_t size,
                                vit_safetensors **ret_st, vit_error *err)
{
    static const uint8_t empty[1];
    return safetensors_open(path, data ? data : empty, data ? size : 0, ret_st, err);
}

vit_safetensors *vit_safetensors_ref(vit_safetensors *st)
{
    if (st)
        atomic_fetch_add(&st->refs, 1);
    return st;
}

vit_safetensors *vit_safetensors_unref(vit_safetensors *st)
{
    if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
        return NULL;
    if (st->map && st->map_on_heap)
        free((void *)st->map);
    else if (st->map)
        munmap((void *)st->map, st->size);
    for (size_t i = 0; i < st->num_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    for (size_t i = 0; i < st->num_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    free(st->converted);
    free(st->path);
    free(st);
    return NULL;
}

const vit_st_tensor *vit_safetensors_find(const vit_safetensors *st, const char *name)
{
    vit_st_tensor key = {.name = (char *)name};
    return bsearch(&key, st->tensors, st->num_tensors, sizeof(vit_st_tensor), cmp_name);
}

const char *vit_safetensors_metadata(const vit_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->num_meta; i++)
        if (!strcmp(st->meta_keys[i], key))
            return st->meta_values[i];
    return NULL;
}

int vit_safetensors_get_f32(const vit_safetensors *st, const char *name, int ndim,
                            const int64_t *shape, const float **ret_data,
                            const vit_st_tensor **ret_tensor, vit_error *err)
{
    const vit_st_tensor *t = vit_safetensors_find(st, name);
    if (!t)
        return vit_errorf(err, -ENOENT, "%s: tensor %.200s is missing", st->path, name);
    if (!t->f32)
        return vit_errorf(err, -EINVAL,
                          "%s: tensor %.200s has dtype %s, expected F32 (or F16/BF16)", st->path,
                          name, vit_st_dtype_name(t->dtype));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char have[160], want[160];
        vit_st_format_shape(have, sizeof(have), t->ndim, t->shape);
        vit_st_format_shape(want, sizeof(want), ndim, shape);
        return vit_errorf(err, -EINVAL, "%s: tensor %.200s has shape %s, expected %s", st->path,
                          name, have, want);
    }
    if (ret_data)
        *ret_data = t->f32;
    if (ret_tensor)
        *ret_tensor = t;
    return 0;
}
