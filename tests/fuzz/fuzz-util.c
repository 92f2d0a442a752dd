/* fuzz-util.c — the scratch folder of a fuzz target (see fuzz.h). Plain POSIX, so the libvit
 * targets need nothing beyond libvit. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

int fuzz_replaying;

static char scratch[PATH_MAX];

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_dir(void)
{
    if (!scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        if (snprintf(scratch, sizeof(scratch) / 2, "%s/vitd-fuzz-XXXXXX",
                     tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(scratch) / 2 ||
            !mkdtemp(scratch))
            abort();
        atexit(remove_scratch);
    }
    return scratch;
}

/* Creates the folders of scratch/NAME (it is about to be written). */
static void make_folders(const char *name)
{
    char path[PATH_MAX];

    for (const char *slash = strchr(name, '/'); slash; slash = strchr(slash + 1, '/')) {
        if (snprintf(path, sizeof(path), "%s/%.*s", fuzz_scratch_dir(), (int)(slash - name),
                     name) >= (int)sizeof(path))
            abort();
        mkdir(path, 0700);
    }
}

/* Plain open/write/close, no stdio: a FILE's buffer is one more allocation per input, and the
 * folders are made only when the file cannot be created without them. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[PATH_MAX];
    int fd;

    if (snprintf(path, sizeof(path), "%s/%s", fuzz_scratch_dir(), name) >= (int)sizeof(path))
        abort();
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        make_folders(name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        abort();
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    if (close(fd) != 0)
        abort();
    return path;
}
