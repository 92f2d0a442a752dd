/* idx.c — IDX reader: a big-endian header (two zero bytes, a type byte, a dimension count, then
 * one 32-bit size per dimension) followed by the data. Only unsigned bytes (0x08) are accepted,
 * which is what MNIST-style image and label files hold. zlib's gzread reads gzip files and
 * passes plain files through unchanged, so IDX and IDX.gz take the same path. */
#include "tools/idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"

#define IDX_MAX_BYTES ((int64_t)1 << 32)

static int read_exact(gzFile f, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? 1u << 30 : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int read_header(gzFile f, const char *path, vit_idx *idx, vit_error *err)
{
    uint8_t magic[4];
    if (read_exact(f, magic, 4) < 0)
        return vit_errorf(err, -EINVAL, "%s: not an IDX file (shorter than its header)", path);
    if (magic[0] || magic[1] || magic[3] < 1 || magic[3] > IDX_MAX_DIMS)
        return vit_errorf(err, -EINVAL, "%s: not an IDX file (bad magic)", path);
    if (magic[2] != 0x08)
        return vit_errorf(err, -EINVAL,
                          "%s: IDX element type 0x%02x, only unsigned bytes "
                          "(0x08) are supported",
                          path, magic[2]);
    idx->ndim = magic[3];
    idx->item_bytes = 1;
    for (int i = 0; i < idx->ndim; i++) {
        uint8_t b[4];
        if (read_exact(f, b, 4) < 0)
            return vit_errorf(err, -EINVAL, "%s: truncated IDX header", path);
        idx->dims[i] = (int64_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
        if (i > 0)
            idx->item_bytes *= idx->dims[i];
        if (idx->dims[i] < 1 || idx->item_bytes > IDX_MAX_BYTES)
            return vit_errorf(err, -EINVAL, "%s: IDX dimension %d is %lld (out of range)", path, i,
                              (long long)idx->dims[i]);
    }
    if (idx->dims[0] * idx->item_bytes > IDX_MAX_BYTES)
        return vit_errorf(err, -EINVAL, "%s: IDX data larger than %lld bytes", path,
                          (long long)IDX_MAX_BYTES);
    return 0;
}

int vit_idx_read(const char *path, int64_t max_items, vit_idx *ret, vit_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int r = errno ? -errno : -ENOMEM;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    vit_idx idx = {0};
    int r = read_header(f, path, &idx, err);
    if (r == 0 && max_items > 0 && idx.dims[0] > max_items)
        idx.dims[0] = max_items;
    size_t bytes = r == 0 ? (size_t)(idx.dims[0] * idx.item_bytes) : 0;
    if (r == 0 && !(idx.data = malloc(bytes ? bytes : 1)))
        r = vit_errorf(err, -ENOMEM, "%s: out of memory", path);
    if (r == 0 && read_exact(f, idx.data, bytes) < 0)
        r = vit_errorf(err, -EINVAL,
                       "%s: truncated IDX data (%lld items of %lld bytes "
                       "announced)",
                       path, (long long)idx.dims[0], (long long)idx.item_bytes);
    gzclose(f);
    if (r < 0) {
        vit_idx_clear(&idx);
        return r;
    }
    *ret = idx;
    return 0;
}

void vit_idx_clear(vit_idx *idx)
{
    free(idx->data);
    memset(idx, 0, sizeof(*idx));
}
