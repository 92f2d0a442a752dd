/* vitd-names.c — pipeline object paths. Pipeline names may contain '-' and '_', which are not
 * valid in object path elements, so they go through sd-bus' reversible path encoding. Names
 * from callers are shortened before they reach an error or a log line. */
#include "vitd-names.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

char *vitd_pipeline_path(const char *name)
{
    char *path = NULL;
    if (sd_bus_path_encode(VITD_PIPELINE_PATH_PREFIX, name, &path) < 0)
        return NULL;
    return path;
}

char *vitd_pipeline_name_from_path(const char *path)
{
    char *name = NULL;
    if (sd_bus_path_decode(path, VITD_PIPELINE_PATH_PREFIX, &name) <= 0)
        return NULL;
    /* sd_bus_path_decode() accepts any depth; a pipeline is exactly one element below. */
    if (name[0] == '\0' || strchr(name, '/')) {
        free(name);
        return NULL;
    }
    return name;
}

char *vitd_name_shorten(const char *name)
{
    size_t n = strlen(name);
    if (n <= VITD_NAME_SHOWN_MAX)
        return strdup(name);
    n = VITD_NAME_SHOWN_MAX;
    while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) /* not inside a UTF-8 character */
        n--;
    char *s = malloc(n + sizeof("…"));
    if (!s)
        return NULL;
    memcpy(s, name, n);
    memcpy(s + n, "…", sizeof("…"));
    return s;
}
