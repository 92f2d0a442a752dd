/* vitd-pipeline.h — one supervised GstPipeline: build it from a spec, watch its bus, restart it
 * with backoff, keep its counters. Internal to vitd; the object is opaque, read through the
 * vitd_pipeline_get_* accessors. */
#pragma once

#include <gst/gst.h>
#include "vitpipeline.h"

typedef enum {
    VITD_PIPELINE_STOPPED,  /* not started, or stopped by StopPipeline / drain */
    VITD_PIPELINE_STARTING, /* built, going to PLAYING */
    VITD_PIPELINE_RUNNING,  /* PLAYING */
    VITD_PIPELINE_BACKOFF,  /* errored or ended; restarts when its backoff delay is over */
    VITD_PIPELINE_DRAINING, /* end-of-stream sent at shutdown, waiting for it to reach the sinks */
    VITD_PIPELINE_FINISHED, /* ended, and its restart policy says not to restart on end-of-stream */
    VITD_PIPELINE_FAILED,   /* errored, and its restart policy is `never` */
} VitdPipelineState;

const char *vitd_pipeline_state_to_string(VitdPipelineState state);

/* One `vit-classification` element message, as the element posted it. */
typedef struct {
    guint64 frame;
    gint64 pts_ns; /* -1 when the frame had no timestamp */
    guint n_labels;
    const char *const *labels;
    const double *scores;
    guint exit;
    guint64 latency_us;
} VitdClassification;

typedef struct _VitdPipeline VitdPipeline;

typedef struct {
    /* State, LastError or Restarts changed. */
    void (*changed)(VitdPipeline *p, gpointer user_data);
    /* A classification arrived (called on the main loop). */
    void (*classified)(VitdPipeline *p, const VitdClassification *c, gpointer user_data);
    /* A pipeline being drained reached STOPPED. */
    void (*drained)(VitdPipeline *p, gpointer user_data);
} VitdPipelineCallbacks;

/* What the element counted, totalled over the object's life (across restarts). */
typedef struct {
    guint64 frames_seen, frames_classified, frames_dropped;
    double fps, latency_ms;
} VitdPipelineCounters;

VitdPipeline *vitd_pipeline_new(const VpPipelineSpec *spec, const VitdPipelineCallbacks *cb,
                                gpointer cb_data);
/* Stops the pipeline (if running) and frees it. Accepts NULL. */
void vitd_pipeline_free(VitdPipeline *p);
/* Starts now, from any state, resetting the backoff. */
void vitd_pipeline_start(VitdPipeline *p);
/* An event of P that could not be emitted (MESSAGE), or NULL once events go out again: the
 * error shows in LastError (logged once while it lasts) until then, frames flowing or not. */
void vitd_pipeline_set_event_error(VitdPipeline *p, const char *message);
/* Restarts P because its model or labels files changed on disk (a reload saw them, validated):
 * counted in Restarts, like a restart after an error. */
void vitd_pipeline_restart_for_files(VitdPipeline *p);
/* Stops now; stays STOPPED until started again. */
void vitd_pipeline_stop(VitdPipeline *p);
/* Points at an equal spec from a newer config (no restart). */
void vitd_pipeline_set_spec(VitdPipeline *p, const VpPipelineSpec *spec);
/* The `launch-allow:` of the current config (copied), for checking the built launch: runs. */
void vitd_pipeline_set_launch_allow(VitdPipeline *p, const char *const *allow);
/* Sends end-of-stream; returns TRUE if the caller must wait for the drained callback. */
gboolean vitd_pipeline_drain(VitdPipeline *p);
/* Once a second: refreshes counters and Fps, and fails a run that stopped moving frames. */
void vitd_pipeline_poll(VitdPipeline *p, gint64 now_us);
/* Refreshes FramesSeen/Classified/Dropped and LatencyMs from the element. */
void vitd_pipeline_refresh_counters(VitdPipeline *p);
/* TRUE when the pipeline is RUNNING but no frame moved for longer than LIMIT_US. */
gboolean vitd_pipeline_is_stalled(const VitdPipeline *p, gint64 now_us, gint64 limit_us);

const char *vitd_pipeline_get_name(const VitdPipeline *p);
/* The D-Bus object path of the pipeline. */
const char *vitd_pipeline_get_path(const VitdPipeline *p);
/* Owned by the manager's current VpConfig. */
const VpPipelineSpec *vitd_pipeline_get_spec(const VitdPipeline *p);
VitdPipelineState vitd_pipeline_get_state(const VitdPipeline *p);
/* "" until the first error, and again once a later run is PLAYING and moves frames. */
const char *vitd_pipeline_get_last_error(const VitdPipeline *p);
/* vitd_validate_files_stamp() of the model and labels files as the last run began (NULL before
 * a run began, or when they could not be stat'ed). */
const char *vitd_pipeline_get_files_stamp(const VitdPipeline *p);
/* The last error that a recovery cleared (LastError before it), "" until then. */
const char *vitd_pipeline_get_previous_error(const VitdPipeline *p);
/* Automatic restarts after an error or end-of-stream. */
guint32 vitd_pipeline_get_restarts(const VitdPipeline *p);
/* Refreshes the counters from the element and returns them. */
VitdPipelineCounters vitd_pipeline_get_counters(VitdPipeline *p);
/* Classifications per exit index (RET_N of them). */
const guint64 *vitd_pipeline_get_exit_counts(const VitdPipeline *p, guint *ret_n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VitdPipeline, vitd_pipeline_free)
