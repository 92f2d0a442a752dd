/* st_writer.c — writes safetensors files for the loader and model tests, using jansson for
 * the header so the well-formed cases are well-formed by construction. */
#include "st_writer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tw_write_raw(const char *path, uint64_t hlen, const char *header, size_t data_len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++)
        fputc(0, f);
    return fclose(f) == 0 ? 0 : -EIO;
}

int tw_write(const char *path, const tw_tensor *t, int n, const char *metadata_config)
{
    json_t *root = json_object();
    size_t off = 0;
    size_t *offsets = calloc((size_t)n + 1, sizeof(size_t));
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++)
            json_array_append_new(shape, json_integer(t[i].shape[d]));
        offsets[i] = off;
        json_object_set_new(root, t[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", t[i].dtype, "shape", shape,
                                      "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + t[i].nbytes)));
        off += (t[i].nbytes + 7) & ~(size_t)7;
    }
    if (metadata_config)
        json_object_set_new(root, "__metadata__", json_pack("{s:s}", "config", metadata_config));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t hlen = strlen(text), padded = (hlen + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(text), free(offsets);
        return -errno;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(text, 1, hlen, f);
    for (size_t i = hlen; i < padded; i++)
        fputc(' ', f);
    for (int i = 0; i < n; i++) {
        if (t[i].data)
            fwrite(t[i].data, 1, t[i].nbytes, f);
        else
            for (size_t k = 0; k < t[i].nbytes; k++)
                fputc(0, f);
        for (size_t k = t[i].nbytes; k < ((t[i].nbytes + 7) & ~(size_t)7); k++)
            fputc(0, f);
    }
    free(text);
    free(offsets);
    return fclose(f) == 0 ? 0 : -EIO;
}

int tw_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -EIO;
}

char *tw_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof(tmpl), "%s/vit-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

const char *tw_path(const char *dir, const char *name)
{
    static char bufs[4][1024];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
    return b;
}
