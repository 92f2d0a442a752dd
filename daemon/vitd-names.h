/* vitd-names.h — the D-Bus names of vitd and the mapping pipeline name <-> object path. */
#pragma once

#define VITD_BUS_NAME "org.vitd1"
/* Owned by the event connection, so `gdbus monitor --dest` / `busctl monitor` can name it. */
#define VITD_EVENTS_BUS_NAME "org.vitd1.Events"
#define VITD_MANAGER_PATH "/org/vitd1"
#define VITD_MANAGER_INTERFACE "org.vitd1.Manager"
#define VITD_PIPELINE_PATH_PREFIX "/org/vitd1/pipeline"
#define VITD_PIPELINE_INTERFACE "org.vitd1.Pipeline"
#define VITD_ERROR_NO_SUCH_PIPELINE "org.vitd1.Error.NoSuchPipeline"
#define VITD_ERROR_INVALID_CONFIG "org.vitd1.Error.InvalidConfig"
#define VITD_CONTROL_GROUP "vitd"

/* Object path of pipeline NAME (sd_bus_path_encode: any byte outside [A-Za-z0-9] escaped as _XX).
 * Returns a malloc()ed string or NULL on allocation failure. */
char *vitd_pipeline_path(const char *name);
/* Pipeline name from an object path below VITD_PIPELINE_PATH_PREFIX; NULL when PATH is not one. */
char *vitd_pipeline_name_from_path(const char *path);

/* Longest piece of a caller-supplied name quoted in errors and logs (a name may be megabytes). */
#define VITD_NAME_SHOWN_MAX 64
/* NAME for messages: as is up to VITD_NAME_SHOWN_MAX bytes, else its first bytes (cut at a UTF-8
 * character boundary) followed by "…". Returns a malloc()ed string or NULL on allocation
 * failure. */
char *vitd_name_shorten(const char *name);
