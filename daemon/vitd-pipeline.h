/* vitd-pipeline.h — one supervised GstPipeline: build it from a spec, watch its bus, restart it
 * with backoff, keep its counters. Internal to vitd. */
#pragma once

#include <gst/gst.h>
#include "vitd-publish.h"
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

struct _VitdPipeline {
    char *name;
    char *path;                 /* D-Bus object path */
    const VpPipelineSpec *spec; /* owned by the manager's current VpConfig */
    VitdPipelineState state;
    char *last_error; /* "" until the first error */
    guint32 restarts; /* automatic restarts after an error or end-of-stream */

    /* Counters over the object's life, across restarts (refresh with vitd_pipeline_poll). */
    guint64 frames_seen, frames_classified, frames_dropped;
    double fps, latency_ms;
    GArray *exit_counts; /* guint64 per exit index */

    /* Event stream state, owned by vitd-events. */
    guint64 seq; /* last emitted Classification seq (first signal is 1) */
    guint64 events_dropped;
    VitdPublishState publish;

    /* Supervision internals. */
    const VitdPipelineCallbacks *cb;
    gpointer cb_data;
    GstElement *pipeline, *vit;
    guint bus_watch, restart_timer;
    unsigned attempt; /* consecutive failed runs, for the backoff delay */
    gboolean run_had_frames;
    guint64 base_seen, base_classified, base_dropped; /* totals of finished runs */
    guint64 fps_last_seen;
    gint64 fps_last_us, progress_us; /* progress_us: last time frames moved (or the run began) */
};

VitdPipeline *vitd_pipeline_new(const VpPipelineSpec *spec, const VitdPipelineCallbacks *cb,
                                gpointer cb_data);
/* Stops the pipeline (if running) and frees it. Accepts NULL. */
void vitd_pipeline_free(VitdPipeline *p);
/* Starts now, from any state, resetting the backoff. */
void vitd_pipeline_start(VitdPipeline *p);
/* Stops now; stays STOPPED until started again. */
void vitd_pipeline_stop(VitdPipeline *p);
/* Points at an equal spec from a newer config (no restart). */
void vitd_pipeline_set_spec(VitdPipeline *p, const VpPipelineSpec *spec);
/* Sends end-of-stream; returns TRUE if the caller must wait for the drained callback. */
gboolean vitd_pipeline_drain(VitdPipeline *p);
/* Once a second: refreshes counters and Fps, and fails a run that stopped moving frames. */
void vitd_pipeline_poll(VitdPipeline *p, gint64 now_us);
/* Refreshes FramesSeen/Classified/Dropped and LatencyMs from the element. */
void vitd_pipeline_refresh_counters(VitdPipeline *p);
/* TRUE when the pipeline is RUNNING but no frame moved for longer than LIMIT_US. */
gboolean vitd_pipeline_is_stalled(const VitdPipeline *p, gint64 now_us, gint64 limit_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VitdPipeline, vitd_pipeline_free)
