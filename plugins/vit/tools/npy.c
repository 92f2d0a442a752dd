/* npy.c — the .npy format: magic "\x93NUMPY", version, header length (2 bytes in v1, 4 in v2/3),
 * a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (..)} padded with
 * spaces to a multiple of 64 bytes, then the raw data. */
#include "tools/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_HEADER 65536

static int parse_shape(const char *hdr, int *ret_ndim, int64_t *shape)
{
    const char *p = strstr(hdr, "'shape'");
    if (!p || !(p = strchr(p, '(')))
        return -EINVAL;
    p++;
    int ndim = 0;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v > (1LL << 40) || ndim == NPY_MAX_DIMS)
            return -EINVAL;
        shape[ndim++] = v;
        p = end;
        while (*p == 'L')
            p++;
    }
    *ret_ndim = ndim;
    return 0;
}

int vit_npy_read_f32(const char *path, float **ret_data, int *ret_ndim, int64_t *ret_shape,
                     vit_error *err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    unsigned char pre[12];
    char *hdr = NULL;
    float *data = NULL;
    int r = -EINVAL, ndim = 0;
    int64_t shape[NPY_MAX_DIMS];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        vit_errorf(err, r, "%s: not a .npy file", path);
        goto out;
    }
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    if (pre[6] >= 2) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            vit_errorf(err, r, "%s: truncated .npy header", path);
            goto out;
        }
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (hlen > MAX_HEADER || !(hdr = calloc(1, hlen + 1)) || fread(hdr, 1, hlen, f) != hlen) {
        vit_errorf(err, r, "%s: truncated or oversized .npy header", path);
        goto out;
    }
    if (!strstr(hdr, "'<f4'") || !strstr(hdr, "'fortran_order': False") ||
        parse_shape(hdr, &ndim, shape) < 0) {
        vit_errorf(err, r, "%s: need a C-order float32 ('<f4') array", path);
        goto out;
    }
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    if (n > (1LL << 32) || !(data = malloc((size_t)(n ? n : 1) * sizeof(float)))) {
        vit_errorf(err, -ENOMEM, "%s: array too large", path);
        goto out;
    }
    if (fread(data, sizeof(float), (size_t)n, f) != (size_t)n) {
        vit_errorf(err, r, "%s: truncated data (%lld floats expected)", path, (long long)n);
        goto out;
    }
    *ret_data = data;
    data = NULL;
    *ret_ndim = ndim;
    memcpy(ret_shape, shape, (size_t)ndim * sizeof(int64_t));
    r = 0;
out:
    free(data);
    free(hdr);
    fclose(f);
    return r;
}

int vit_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape,
                      vit_error *err)
{
    char dict[512];
    int len = snprintf(dict, sizeof(dict), "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    int64_t n = 1;
    for (int i = 0; i < ndim && len < 400; i++) {
        len += snprintf(dict + len, sizeof(dict) - (size_t)len, "%lld,%s", (long long)shape[i],
                        i + 1 < ndim ? " " : "");
        n *= shape[i];
    }
    len += snprintf(dict + len, sizeof(dict) - (size_t)len, "), }");
    int total = ((10 + len + 1 + 63) / 64) * 64; /* preamble + dict + '\n', 64-aligned */
    int hlen = total - 10;
    while (len < hlen - 1)
        dict[len++] = ' ';
    dict[len++] = '\n';
    FILE *f = fopen(path, "wbe");
    if (!f) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)hlen, f) == (size_t)hlen &&
             fwrite(data, sizeof(float), (size_t)n, f) == (size_t)n;
    if (fclose(f) != 0 || !ok)
        return vit_errorf(err, -EIO, "%s: write failed", path);
    return 0;
}
