/* fuzz-util.c — the scratch folder of a fuzz target (see fuzz.h). Plain POSIX, so the libvit
 * targets need nothing beyond libvit. */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

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

const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[PATH_MAX];
    FILE *f;

    for (const char *slash = strchr(name, '/'); slash; slash = strchr(slash + 1, '/')) {
        if (snprintf(path, sizeof(path), "%s/%.*s", fuzz_scratch_dir(), (int)(slash - name),
                     name) >= (int)sizeof(path))
            abort();
        mkdir(path, 0700);
    }
    if (snprintf(path, sizeof(path), "%s/%s", fuzz_scratch_dir(), name) >= (int)sizeof(path))
        abort();
    f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return path;
}
