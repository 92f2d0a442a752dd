/* st_writer.h — test helper: write .safetensors files, well-formed or deliberately broken. */
#ifndef VIT_TEST_ST_WRITER_H
#define VIT_TEST_ST_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tw_tensor {
    const char *name;
    const char *dtype; /* "F32", "F16", ... */
    int ndim;
    int64_t shape[4];
    const void *data; /* NULL: zero bytes */
    size_t nbytes;    /* bytes of data */
} tw_tensor;

/* Writes tensors back to back (8-byte aligned) with a valid header; metadata_config, when
 * non-NULL, becomes __metadata__["config"]. Returns 0 or -errno. */
int tw_write(const char *path, const tw_tensor *tensors, int n, const char *metadata_config);
/* Writes exactly: the 8-byte length hlen, the header text, then data_len bytes of data. */
int tw_write_raw(const char *path, uint64_t hlen, const char *header, size_t data_len);
/* Writes text to path. */
int tw_write_text(const char *path, const char *text);
/* A fresh temporary directory (caller frees the string). */
char *tw_tempdir(void);
/* dir + "/" + name in a static buffer rotation (valid for a few calls). */
const char *tw_path(const char *dir, const char *name);

#endif
