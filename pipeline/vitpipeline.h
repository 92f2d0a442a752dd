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
    char *model_at;     /* "FILE:LINE:COL" of the `model:` key (the entry's, or `defaults:` in
                         * vitd.yaml) or of the `launch:` text; for the daemon's model checks */
    char *labels;       /* launch: the vitclassify labels= file (absolute), or NULL */
    int precision;      /* `precision:` fp32 (0, default) | bf16 (1) | auto (2), as libvit's
                         * vit_precision (vitclassify precision) */
} VpPipelineSpec;

/* `max-pipelines:` default and ceiling: the pipelines of one configuration. */
#define VP_MAX_PIPELINES_DEFAULT 64
#define VP_MAX_PIPELINES_LIMIT 1024

/* The `mqtt:` block of vitd.yaml (see README, "MQTT"): where vitd publishes its events. */
typedef struct {
    char *url; /* as written: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] */
    char *host;
    int port;            /* default 1883, or 8883 for mqtts */
    gboolean tls;        /* mqtts:// */
    char *client_id;     /* NULL: the daemon uses /etc/machine-id, else the hostname */
    char *topic_prefix;  /* default "vitd" */
    char *username;      /* NULL: none */
    char *password_file; /* absolute; read by the daemon at each connection; NULL: none */
    char *ca_file, *cert_file, *key_file; /* absolute, NULL when not set */
    int qos;                              /* 0 or 1 (default 1) */
    char *spool_path;                     /* default /var/lib/vitd/mqtt-spool */
    guint64 spool_max_size;               /* bytes, default 64 MiB */
    int stats_interval;                   /* seconds, 0 = no stats messages; default 10 */
    gboolean homeassistant;               /* Home Assistant MQTT discovery, default FALSE */
} VpMqttConfig;

void vp_mqtt_config_free(VpMqttConfig *mqtt);
/* TRUE when A and B (either may be NULL) are the same settings. */
gboolean vp_mqtt_config_equal(const VpMqttConfig *a, const VpMqttConfig *b);
VpMqttConfig *vp_mqtt_config_copy(const VpMqttConfig *mqtt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpMqttConfig, vp_mqtt_config_free)

typedef struct {
    char *config_file;    /* vitd.yaml that was read, or NULL when none */
    VpBus bus;            /* `bus: system|session`, default system */
    char *pipelines_dir;  /* `pipelines-dir:`, relative to the config's folder; default
                           * pipelines.d beside the config (/etc/vitd/pipelines.d for the usual
                           * /etc/vitd/vitd.yaml, and when config_file is NULL) */
    GPtrArray *pipelines; /* of VpPipelineSpec*, sorted by name, owned */
    /* Added after the first version of this header (append-only): */
    VpMqttConfig *mqtt;  /* the `mqtt:` block, NULL when there is none (MQTT off) */
    int max_pipelines;   /* `max-pipelines:`, default VP_MAX_PIPELINES_DEFAULT */
    char **launch_allow; /* `launch-allow:`: element names added to the allow-list, NULL-ended */
} VpConfig;

/* Reads CONFIG_FILE and every *.yaml in its pipelines directory (in name order).
 * Returns NULL and sets error (all problems found, one per line) on any failure. */
VpConfig *vp_config_load(const char *config_file, GError **error);
/* Like vp_config_load, but returns the config holding every entry that validated even when
 * others did not (NULL only when nothing could be read); ERROR lists every problem, unset when
 * there were none. For `vitd --check`, which reports all problems of all files in one run. */
VpConfig *vp_config_load_partial(const char *config_file, GError **error);
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

/* Least privilege for `launch:` text (launch_allow.c holds the list, documented in the README):
 * TRUE when an element of factory NAME may appear in a launch: entry. Allowed are the named
 * sources, converters, queues, the vit elements and harmless sinks; when GStreamer is
 * initialised, also any factory whose klass says Demuxer, Parser, Decoder or Depayloader (and
 * not Sink, Encoder or Muxer). Elements that write files or descriptors (filesink, fdsink, ...)
 * and everything else are refused unless EXTRA (vitd.yaml `launch-allow:`, NULL-terminated, may
 * be NULL) names them. */
gboolean vp_launch_element_allowed(const char *name, const char *const *extra);

G_END_DECLS

#endif /* VITPIPELINE_H */
