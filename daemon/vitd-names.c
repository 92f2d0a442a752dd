/* vitd-names.c — pipeline object paths. Pipeline names may contain '-' and '_', which are not
 * valid in object path elements, so they go through sd-bus' reversible path encoding. */
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
