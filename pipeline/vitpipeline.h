/* vitpipeline.h — libvitpipeline: YAML configuration -> validated pipeline specs -> GStreamer
 * launch descriptions.
 *
 * The daemon's whole view of configuration. vitd.yaml holds the daemon settings; every *.yaml in
 * its pipelines directory holds a top-level `pipelines:` list. Loading is all-or-nothing: a
 * vp_config is returned only when every file validated, so a reload can swap configs atomically.
 * Every error is one line "FILE:LINE:COLUMN: message" (GError domain VP_CONFIG_ERROR; problems
 * of a whole file — unreadable, too large, missing folder — are "FILE: message"); several
 * errors are joined with newlines in the same GError, whose code is the first error's.
 *
 * Uses GLib and libyaml; knows nothing of D-Bus. vp_spec_to_launch() builds the gst-launch
 * description the daemon hands to gst_parse_launch().
 */
#ifndef VITPIPELINE_H
#define VITPIPELINE_H

#include <glib.h>

G_BEGIN_DECLS

#define VP_CONFIG_ERROR (vp_config_error_quark())
GQuark vp_config_error_quark(void);

typedef enum {
    VP_CONFIG_ERROR_IO,      /* a file could not be read */
    VP_CONFIG_ERROR_SYNTAX,  /* YAML syntax error */
    VP_CONFIG_ERROR_INVALID, /* unknown key, wrong type, bad value, duplicate name, missing model */
} VpConfigError;

typedef enum {
    VP_BUS_SYSTEM,
    VP_BUS_SESSION,
} VpBus;

typedef enum {
    VP_PUBLISH_EVERY_FRAME, /* `publish: every-frame` (default) */
    VP_PUBLISH_ON_CHANGE,   /* `publish: on-change`: only when the top label changes */
    VP_PUBLISH_MAX_RATE,    /* `publish: {max-rate: N}`: at most N signals per second */
} VpPublishMode;

typedef enum {
    VP_RESTART_ALWAYS,     /* restart on error and on end-of-stream (default) */
    VP_RESTART_ON_FAILURE, /* restart on error only */
    VP_RESTART_NEVER,
} VpRestartMode;

typedef struct {
    char *name;       /* unique across all files; [A-Za-z0-9_-]+ */
    char *file;       /* file it came from */
    int line, column; /* where its entry starts (1-based) */

    /* structured form; NULL source when launch is set */
    char *source; /* as written: rtsp://, file://, http(s)://, v4l2:/dev/videoN, test:PATTERN */
    char *model;  /* absolute path (relative paths resolve against the file's folder) */
    int top_k;    /* default 5 */
    int interval; /* classify every Nth frame, default 1 */
    double early_exit; /* exit threshold in (0,1], or < 0 for the model's default */
    int threads;       /* 0 = default */

    /* raw form: a gst-launch description containing vitclassify; NULL for structured */
    char *launch;

    VpPublishMode publish;
    double max_rate; /* signals per second, for VP_PUBLISH_MAX_RATE */

    VpRestartMode restart;
    double backoff_initial_s; /* default 1 */
    double backoff_max_s;     /* default 60 */

    /* Added after the first version of this header (append-only): */
    gboolean realtime;  /* `realtime:` (structured only), default TRUE: the sink syncs to the
                         * clock, so files play at their frame rate; FALSE = as fast as possible */
    double exit_budget; /* `early-exit: {budget-gflops: G}`: mean GFLOPs per frame for a
                         * cascade's budget mode (vitclassify exit-budget); 0 = none */
    int precision;      /* `precision:` fp32 (0, default) | bf16 (1) | auto (2), as libvit's
                         * vit_precision (vitclassify precision) */
} VpPipelineSpec;

typedef struct {
    char *config_file;    /* vitd.yaml that was read, or NULL when none */
    VpBus bus;            /* `bus: system|session`, default system */
    char *pipelines_dir;  /* `pipelines-dir:`, relative to the config's folder; default
                           * pipelines.d beside the config (/etc/vitd/pipelines.d for the usual
                           * /etc/vitd/vitd.yaml, and when config_file is NULL) */
    GPtrArray *pipelines; /* of VpPipelineSpec*, sorted by name, owned */
} VpConfig;

/* Reads CONFIG_FILE and every *.yaml in its pipelines directory (in name order).
 * Returns NULL and sets error (all problems found, one per line) on any failure. */
VpConfig *vp_config_load(const char *config_file, GError **error);
/* Parses one pipelines file into APPEND_TO (used by vp_config_load and tests).
 * (Added precision: built-in defaults apply; names must not clash with specs already in
 * APPEND_TO; on failure nothing is appended; APPEND_TO should free with vp_pipeline_spec_free.) */
gboolean vp_pipelines_file_load(const char *path, GPtrArray *append_to, GError **error);
void vp_config_free(VpConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpConfig, vp_config_free)

const VpPipelineSpec *vp_config_find(const VpConfig *config, const char *name);
void vp_pipeline_spec_free(VpPipelineSpec *spec);
/* A deep copy of SPEC (added: lets the daemon keep a spec beyond the VpConfig it came from). */
VpPipelineSpec *vp_pipeline_spec_copy(const VpPipelineSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpPipelineSpec, vp_pipeline_spec_free)
/* TRUE when the two specs would build the same pipeline (file/line excluded): reload restarts
 * only pipelines whose specs differ. */
gboolean vp_pipeline_spec_equal(const VpPipelineSpec *a, const VpPipelineSpec *b);

/* The gst-launch description for SPEC. The vitclassify element is always named "vit" so the
 * daemon can find it; for launch: specs the user's text is returned with that name ensured.
 * Returns a newly allocated string. */
char *vp_spec_to_launch(const VpPipelineSpec *spec);

G_END_DECLS

#endif /* VITPIPELINE_H */
