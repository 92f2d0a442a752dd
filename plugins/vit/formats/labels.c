/* labels.c — the labels file: one class name per line (vit_labels_read in vit.h). Only a
 * regular file of at most LABELS_MAX_BYTES is read: a FIFO or device must neither block nor
 * grow memory without end. Every line must be UTF-8 without NUL: labels go out as D-Bus strings
 * and MQTT JSON, which accept nothing else, so a bad one is refused here with its line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/error.h"
#include "formats/model_config.h"

#define LABELS_MAX_COUNT 1000000 /* as config.json's num_classes */
#define LABELS_MAX_BYTES (64 << 20)

char **vit_labels_free(char **labels, int count)
{
    for (int i = 0; labels && i < count; i++)
        free(labels[i]);
    free(labels);
    return NULL;
}

/* Drops the line end and trailing white space of line[0..len); returns the new length. */
static ssize_t chomp(char *line, ssize_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                       line[len - 1] == '\t'))
        line[--len] = 0;
    return len;
}

/* Length of the UTF-8 sequence at s[0..n) (1-4), or 0 when it is not one: truncated, a stray
 * continuation byte, an overlong form, a surrogate or above U+10FFFF (RFC 3629). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

int vit_labels_check_text(const char *text, size_t len, const char **ret_problem)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t n = s[i] ? utf8_sequence(s + i, len - i) : 0;
        if (n == 0) {
            *ret_problem = s[i] ? "is not valid UTF-8" : "contains a NUL byte";
            return -EINVAL;
        }
        i += n;
    }
    return 0;
}

/* err = "<path>: <strerror(errno)>"; returns -errno. */
static int errno_error(vit_error *err, const char *path)
{
    int e = errno ? errno : EIO;
    return vit_errorf(err, -e, "%s: %s", path, strerror(e));
}

/* Opens path for reading as a stream, if it is a regular file of at most LABELS_MAX_BYTES.
 * O_NONBLOCK keeps open from waiting for a FIFO's writer; it is cleared once fstat says the
 * file is regular. */
static int open_regular(const char *path, FILE **ret, vit_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno_error(err, path);
    struct stat st;
    int r;
    if (fstat(fd, &st) < 0)
        r = errno_error(err, path);
    else if (!S_ISREG(st.st_mode))
        r = vit_errorf(err, -EINVAL, "%s: not a regular file", path);
    else if (st.st_size > LABELS_MAX_BYTES)
        r = vit_errorf(err, -EFBIG, "%s: larger than %d MiB", path, LABELS_MAX_BYTES >> 20);
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 || !(*ret = fdopen(fd, "r")))
        r = errno_error(err, path);
    else
        return 0;
    close(fd);
    return r;
}

int vit_labels_read(const char *path, char ***ret_labels, int *ret_count, vit_error *err)
{
    FILE *f;
    int r = open_regular(path, &f, err);
    if (r < 0)
        return r;
    char **labels = NULL;
    int n = 0, cap = 0;
    char *line = NULL;
    size_t linecap = 0, total = 0;
    ssize_t len;
    while ((len = getline(&line, &linecap, f)) >= 0) {
        total += (size_t)len;
        if (total > LABELS_MAX_BYTES) { /* the file grew since fstat */
            r = vit_errorf(err, -EFBIG, "%s: larger than %d MiB", path, LABELS_MAX_BYTES >> 20);
            break;
        }
        const char *problem;
        if (vit_labels_check_text(line, (size_t)len, &problem) < 0) {
            r = vit_errorf(err, -EINVAL, "%s:%d: label %s", path, n + 1, problem);
            break;
        }
        chomp(line, len);
        if (n == LABELS_MAX_COUNT) {
            r = vit_errorf(err, -EINVAL, "%s: more than %d labels", path, LABELS_MAX_COUNT);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(labels, (size_t)cap * sizeof(char *));
            if (!grown) {
                r = vit_errorf(err, -ENOMEM, "%s: out of memory", path);
                break;
            }
            labels = grown;
        }
        if (!(labels[n] = strdup(line))) {
            r = vit_errorf(err, -ENOMEM, "%s: out of memory", path);
            break;
        }
        n++;
    }
    if (r == 0 && ferror(f)) /* getline's -1 was a read error, not the end of the file */
        r = errno_error(err, path);
    free(line);
    fclose(f);
    while (r == 0 && n > 0 && !labels[n - 1][0])
        free(labels[--n]);
    if (r < 0) {
        vit_labels_free(labels, n);
        return r;
    }
    *ret_labels = labels;
    *ret_count = n;
    return 0;
}
