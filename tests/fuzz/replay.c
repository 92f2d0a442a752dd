/* replay.c — main() for the fuzz targets without libFuzzer: feeds every file named on the
 * command line (folders: every regular file in them, in name order) to LLVMFuzzerTestOneInput.
 * `meson test` runs it over corpus/<target> and crashers/<target> with the normal compiler, so
 * every seed and every past finding is re-checked on each run, under ASan in the sanitizer build.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replayed;

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        exit(2);
    }
    /* An exact-size heap copy: ASan sees any read past the input's end. */
    data = malloc(size ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size)
        exit(2);
    fclose(f);
    fprintf(stderr, "replay: %s (%ld bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    replayed++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_path(const char *path)
{
    struct stat sb;
    struct dirent **entries;
    int n;

    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: no such file or folder %s\n", path);
        exit(2);
    }
    if (!S_ISDIR(sb.st_mode)) {
        replay_file(path);
        return;
    }
    n = scandir(path, &entries, NULL, by_name);
    if (n < 0)
        exit(2);
    for (int i = 0; i < n; i++) {
        char child[4096];
        struct stat cs;
        if (snprintf(child, sizeof(child), "%s/%s", path, entries[i]->d_name) >= (int)sizeof(child))
            exit(2);
        if (entries[i]->d_name[0] != '.' && stat(child, &cs) == 0 && S_ISREG(cs.st_mode))
            replay_file(child);
        free(entries[i]);
    }
    free(entries);
}

int main(int argc, char **argv)
{
    fuzz_replaying = 1;
    for (int i = 1; i < argc; i++)
        replay_path(argv[i]);
    printf("replayed %d inputs\n", replayed);
    return replayed > 0 ? 0 : 1;
}
