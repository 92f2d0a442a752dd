/* vp-private.h — internal interfaces shared by libvitpipeline's source files.
 *
 * errors.c      collects "FILE:LINE:COLUMN: message" lines into one GError
 * suggest.c     "did you mean" for unknown keys and values
 * yaml_tree.c   loads one YAML file (libyaml document API) and reads typed values with marks
 * settings.c    the per-pipeline settings shared by entries and vitd.yaml `defaults:`
 * source.c      `source:` validation and its gst-launch fragment
 * launch_text.c scans a user's `launch:` text for the vitclassify element
 * pipeline_spec.c  pipeline files and entries; spec free/copy/equal
 * config.c      vitd.yaml and the whole-configuration load
 * mqtt_config.c the `mqtt:` block of vitd.yaml
 * launch.c      vp_spec_to_launch()
 * launch_allow.c  the allow-list of elements in `launch:` text
 *
 * Nothing here is exported from the library.
 */
#ifndef VP_PRIVATE_H
#define VP_PRIVATE_H

#include <yaml.h>

#include "vitpipeline.h"

/* ---- errors.c ----------------------------------------------------------------------------- */

/* Stop collecting after this many errors: a file of junk must not produce megabytes of text. */
#define VP_MAX_ERRORS 50

typedef struct {
    GString *text; /* error lines joined with '\n' */
    int code;      /* VpConfigError of the first error, -1 while there is none */
    guint count;
} VpErrors;

void vp_errors_init(VpErrors *errs);
void vp_errors_clear(VpErrors *errs);
/* Adds "FILE:LINE:COLUMN: message"; LINE <= 0 gives "FILE: message" (whole-file problems). */
void vp_errors_add(VpErrors *errs, int code, const char *file, int line, int column,
                   const char *format, ...) G_GNUC_PRINTF(6, 7);
/* Moves the collected errors into ERROR; returns TRUE when there were any. */
gboolean vp_errors_take(VpErrors *errs, GError **error);

/* ---- suggest.c ---------------------------------------------------------------------------- */

/* The candidate closest to WORD (NULL-terminated list) if it is close enough to be a likely
 * typo ('top_k' -> 'top-k', 'intervall' -> 'interval'), else NULL. */
const char *vp_suggest(const char *word, const char *const *candidates);
/* "'a', 'b' or 'c'" for messages; newly allocated. */
char *vp_join_choices(const char *const *choices);

/* ---- yaml_tree.c -------------------------------------------------------------------------- */

/* Files larger than this are refused before they are parsed. */
#define VP_MAX_FILE_SIZE (1024 * 1024)
/* Deepest flow nesting ([ and {) accepted; see yaml_tree.c. */
#define VP_MAX_NESTING 32

typedef struct {
    char *path; /* as given, used in messages */
    char *dir;  /* absolute folder of the file, for relative paths */
    yaml_document_t doc;
    gboolean has_doc;
} VpYamlFile;

/* Reads and parses PATH. Returns FALSE (errors added) on I/O or syntax errors. An empty file
 * loads fine with a NULL root. */
gboolean vp_yaml_file_load(VpYamlFile *file, const char *path, VpErrors *errs);
void vp_yaml_file_clear(VpYamlFile *file);
yaml_node_t *vp_yaml_root(VpYamlFile *file);
yaml_node_t *vp_yaml_node(VpYamlFile *file, int index);
int vp_yaml_line(const yaml_node_t *node);   /* 1-based */
int vp_yaml_column(const yaml_node_t *node); /* 1-based */
/* "a string", "a mapping", "a list" — for "must be X, got Y" messages. */
const char *vp_yaml_kind(const yaml_node_t *node);
/* The text of a scalar node, or NULL for mappings and sequences. */
const char *vp_yaml_scalar(const yaml_node_t *node);
/* TRUE for `~`, `null`, an empty plain value. */
gboolean vp_yaml_is_null(const yaml_node_t *node);

/* Adds an error at NODE. */
void vp_yaml_error(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node, const char *format,
                   ...) G_GNUC_PRINTF(4, 5);

/* Walks the pairs of MAPPING, checking that keys are strings and not repeated. For each good
 * pair calls VISIT(file, errs, key, key_node, value_node, user_data). */
typedef void (*VpYamlPairFunc)(VpYamlFile *file, VpErrors *errs, const char *key,
                               yaml_node_t *key_node, yaml_node_t *value, void *user_data);
void vp_yaml_mapping_foreach(VpYamlFile *file, VpErrors *errs, yaml_node_t *mapping,
                             VpYamlPairFunc visit, void *user_data);
/* "unknown key 'top_k' (did you mean 'top-k'?)" or "... (expected one of ...)". */
void vp_yaml_unknown_key(VpYamlFile *file, VpErrors *errs, const yaml_node_t *key_node,
                         const char *key, const char *const *known);

/* Typed reads: on a bad value add "'KEY' must be ..., got '...'" and return FALSE. */
gboolean vp_yaml_get_int(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                         gint64 min, gint64 max, int *ret);
gboolean vp_yaml_get_number(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            double min, gboolean min_inclusive, double max, double *ret);
gboolean vp_yaml_get_bool(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                          gboolean *ret);
/* A non-empty string (any scalar style). */
gboolean vp_yaml_get_string(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            const char **ret);
/* One of CHOICES (NULL-terminated); returns its index through RET. ALSO (may be NULL) names
 * another accepted form in the message: "'publish' must be 'every-frame', 'on-change' or
 * a mapping {max-rate: N}, got ...". */
gboolean vp_yaml_get_choice(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            const char *const *choices, const char *also, int *ret);
/* How a value is shown in messages: "'abc'" (shortened, quoted), "nothing", "a mapping". */
char *vp_yaml_show(const yaml_node_t *node);

/* ---- settings.c --------------------------------------------------------------------------- */

/* Bits for the settings an entry or `defaults:` set explicitly. */
enum {
    VP_SET_MODEL = 1 << 0,
    VP_SET_TOP_K = 1 << 1,
    VP_SET_INTERVAL = 1 << 2,
    VP_SET_EARLY_EXIT = 1 << 3,
    VP_SET_THREADS = 1 << 4,
    VP_SET_PUBLISH = 1 << 5,
    VP_SET_RESTART = 1 << 6,
    VP_SET_REALTIME = 1 << 7,
    VP_SET_PRECISION = 1 << 8,
};
/* Settings that only make sense for structured entries (launch: text carries its own). */
#define VP_SET_STRUCTURED_ONLY                                                                     \
    (VP_SET_MODEL | VP_SET_TOP_K | VP_SET_INTERVAL | VP_SET_EARLY_EXIT | VP_SET_THREADS |          \
     VP_SET_REALTIME | VP_SET_PRECISION)

/* The per-pipeline setting keys, NULL-terminated. */
extern const char *const vp_setting_keys[];
/* `precision:` values, NULL-terminated, index = vit_precision. */
extern const char *const vp_precision_choices[];

/* Fills SPEC's settings with the built-in defaults (top-k 5, interval 1, ...). */
void vp_settings_init(VpPipelineSpec *spec);
/* If KEY is a setting, parses VALUE into SPEC (errors added), returns its VP_SET_ bit;
 * returns 0 when KEY is not a setting. */
guint vp_settings_parse(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                        VpPipelineSpec *spec);
/* Checks MODEL (absolute) exists as a model folder or .safetensors file; adds an error at NODE
 * and returns FALSE when not. */
gboolean vp_model_check(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                        const char *model);
/* PATH made absolute against DIR and normalised; newly allocated. */
char *vp_resolve_path(const char *dir, const char *path);

/* ---- source.c ----------------------------------------------------------------------------- */

/* Validates a `source:` value; returns the normalised source (plain paths become file:// URIs
 * resolved against the file's folder) or NULL with an error added. */
char *vp_source_normalise(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                          const char *source);
/* The gst-launch fragment producing raw video for a normalised SOURCE. */
char *vp_source_to_launch(const char *source);
/* The videotestsrc pattern names, NULL-terminated. */
extern const char *const vp_test_patterns[];

/* ---- launch_text.c ------------------------------------------------------------------------ */

/* What a scan of a launch description found. Offsets are byte offsets into the text. */
typedef struct {
    int n_vitclassify;            /* vitclassify elements found */
    gsize element_end;            /* just after the (first) vitclassify type name */
    char *name;                   /* its name= value (unquoted), or NULL */
    gsize name_start, name_end;   /* span of the name value as written */
    char *model;                  /* its model= value (unquoted), or NULL */
    gsize model_start, model_end; /* span of the model value as written */
    char *labels;                 /* its labels= value (unquoted), or NULL */
    GPtrArray *elements;          /* every element type name, in order (owned strings) */
} VpLaunchScan;

void vp_launch_scan(const char *text, VpLaunchScan *ret_scan);
void vp_launch_scan_clear(VpLaunchScan *scan);
/* VALUE quoted for gst_parse_launch: "..." with '"' and '\' escaped; newly allocated. */
char *vp_launch_quote(const char *value);

/* ---- launch_allow.c ----------------------------------------------------------------------- */

/* Adds an error at NODE for every element of SCAN that vp_launch_element_allowed refuses. */
void vp_launch_check_elements(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                              const VpLaunchScan *scan, const char *const *extra);

/* ---- pipeline_spec.c ---------------------------------------------------------------------- */

/* What a pipelines file is parsed against. */
typedef struct {
    const VpPipelineSpec *defaults;  /* entries start from these settings (NULL: built-in) */
    const char *const *launch_allow; /* vitd.yaml `launch-allow:` (may be NULL) */
    GHashTable *names; /* name -> "FILE:LINE:COL" of every entry seen, valid or not (may be
                        * NULL: then names are checked against APPEND_TO only) */
} VpFileContext;

/* Parses the pipelines file PATH in context CTX (NULL: built-in defaults).
 * Entries that validate are appended to APPEND_TO even when others fail; names are checked
 * against every entry seen before (even one with errors). Returns FALSE when any error was
 * added. */
gboolean vp_pipelines_file_parse(const char *path, const VpFileContext *ctx, GPtrArray *append_to,
                                 VpErrors *errs);

/* ---- mqtt_config.c ----------------------------------------------------------------------- */

/* Parses the `mqtt:` mapping VALUE of vitd.yaml; returns the settings, or NULL with errors
 * added. */
VpMqttConfig *vp_mqtt_config_parse(VpYamlFile *file, VpErrors *errs, yaml_node_t *value);

#endif /* VP_PRIVATE_H */
