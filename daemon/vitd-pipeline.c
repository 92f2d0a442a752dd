/* vitd-pipeline.c — supervision of one GstPipeline.
 *
 * Life of a run: vp_spec_to_launch() -> gst_parse_launch() -> PLAYING. The bus watch (on the main
 * loop) turns `vit-classification` element messages into the classified callback, and errors or
 * end-of-stream into the restart policy: an error restarts unless `restart: never`, an
 * end-of-stream only under `restart: always`. Restarts wait vitd_backoff_delay(attempt), where
 * attempt counts consecutive runs that delivered no frame, so a missing camera backs off up to
 * backoff-max while a file that loops restarts promptly. A run that stops moving frames for
 * STALL_TIMEOUT_US counts as an error. Nothing here touches another pipeline.
 *
 * Counters come from the element named "vit" (frames-seen, frames-classified, frames-skipped,
 * mean-latency-us) and are accumulated over runs, so D-Bus readers see totals.
 *
 * The main loop never waits on a pipeline's state change (vitd-state-thread.c): PLAYING is
 * requested in a thread and its outcome comes back to on_started(); a run torn down before that
 * is abandoned to its thread, and runs are stopped (NULL) in a thread too.
 *
 * LastError is kept while the pipeline fails; once a later run is PLAYING and moves frames it
 * becomes PreviousError and LastError is cleared, so a health check sees the pipeline is well. */
#include "vitd-pipeline.h"

#include "vitd-backoff.h"
#include "vitd-log.h"
#include "vitd-names.h"
#include "vitd-state-thread.h"
#include "vitd-validate.h"

#include "gstvitclassification.h"

#include <stdlib.h>
#include <string.h>

#define STALL_TIMEOUT_US (20 * G_USEC_PER_SEC)

struct _VitdPipeline {
    char *name;
    char *path;                 /* D-Bus object path */
    const VpPipelineSpec *spec; /* owned by the manager's current VpConfig */
    VitdPipelineState state;
    char *last_error;     /* "" until the first error, and again once a later run moves frames */
    char *previous_error; /* the error a recovery cleared, "" until then */
    char **launch_allow;  /* vitd.yaml `launch-allow:` for checking launch: runs */
    guint32 restarts;     /* automatic restarts after an error or end-of-stream */
    char *files_stamp;    /* identity of the model and labels files as the last run began */

    /* Counters over the object's life, across restarts (refresh with vitd_pipeline_poll). */
    guint64 frames_seen, frames_classified, frames_dropped;
    double fps, latency_ms;
    GArray *exit_counts; /* guint64 per exit index */

    /* Supervision internals. */
    const VitdPipelineCallbacks *cb;
    gpointer cb_data;
    GstElement *pipeline, *vit;
    VitdStateJob *start_job; /* the run's PLAYING request, until it returned */
    guint bus_watch, restart_timer;
    unsigned attempt; /* consecutive failed runs, for the backoff delay */
    gboolean run_had_frames;
    gboolean event_error; /* last_error is an event that could not be emitted */
    guint64 base_seen, base_classified, base_dropped; /* totals of finished runs */
    guint64 fps_last_seen;
    gint64 fps_last_us, progress_us; /* progress_us: last time frames moved (or the run began) */
};

static void pipeline_launch(VitdPipeline *p);
static void pipeline_recovered(VitdPipeline *p);
static void on_started(GstStateChangeReturn ret, const char *stamp, gpointer data);

const char *vitd_pipeline_state_to_string(VitdPipelineState state)
{
    switch (state) {
    case VITD_PIPELINE_STOPPED:
        return "stopped";
    case VITD_PIPELINE_STARTING:
        return "starting";
    case VITD_PIPELINE_RUNNING:
        return "running";
    case VITD_PIPELINE_BACKOFF:
        return "backoff";
    case VITD_PIPELINE_DRAINING:
        return "draining";
    case VITD_PIPELINE_FINISHED:
        return "finished";
    case VITD_PIPELINE_FAILED:
        return "failed";
    }
    return "unknown";
}

static void pipeline_set_state(VitdPipeline *p, VitdPipelineState state)
{
    if (p->state == state)
        return;
    p->state = state;
    if (state == VITD_PIPELINE_RUNNING || state == VITD_PIPELINE_STARTING)
        p->progress_us = g_get_monotonic_time();
    p->cb->changed(p, p->cb_data);
}

/* Reads a numeric property of the element as G_TYPE (guint64 or gdouble); 0 when it has none. */
static void element_get_number(GstElement *e, const char *name, GType type, GValue *out)
{
    g_value_init(out, type);
    GParamSpec *pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(e), name);
    if (!pspec || !(pspec->flags & G_PARAM_READABLE))
        return;
    GValue v = G_VALUE_INIT;
    g_value_init(&v, pspec->value_type);
    g_object_get_property(G_OBJECT(e), name, &v);
    if (!g_value_transform(&v, out))
        g_value_reset(out);
    g_value_unset(&v);
}

static guint64 element_get_u64(GstElement *e, const char *name)
{
    GValue v = G_VALUE_INIT;
    element_get_number(e, name, G_TYPE_UINT64, &v);
    guint64 r = g_value_get_uint64(&v);
    g_value_unset(&v);
    return r;
}

void vitd_pipeline_refresh_counters(VitdPipeline *p)
{
    guint64 seen = 0, classified = 0, dropped = 0;
    if (p->vit) {
        seen = element_get_u64(p->vit, "frames-seen");
        classified = element_get_u64(p->vit, "frames-classified");
        dropped = element_get_u64(p->vit, "frames-skipped");
        GValue v = G_VALUE_INIT;
        element_get_number(p->vit, "mean-latency-us", G_TYPE_DOUBLE, &v);
        if (classified > 0)
            p->latency_ms = g_value_get_double(&v) / 1000.0;
        g_value_unset(&v);
    }
    p->frames_seen = p->base_seen + seen;
    p->frames_classified = p->base_classified + classified;
    p->frames_dropped = p->base_dropped + dropped;
}

static void pipeline_teardown(VitdPipeline *p)
{
    if (!p->pipeline)
        return;
    vitd_pipeline_refresh_counters(p);
    p->base_seen = p->frames_seen;
    p->base_classified = p->frames_classified;
    p->base_dropped = p->frames_dropped;
    if (p->frames_seen != p->fps_last_seen)
        p->run_had_frames = TRUE;
    if (p->bus_watch) {
        g_source_remove(p->bus_watch);
        p->bus_watch = 0;
    }
    gst_clear_object(&p->vit);
    if (p->start_job) /* its thread stops the pipeline once the state change returns */
        vitd_state_abandon(g_steal_pointer(&p->start_job));
    else
        vitd_state_stop(g_steal_pointer(&p->pipeline));
    gst_clear_object(&p->pipeline);
    p->fps = 0.0;
    p->fps_last_seen = p->frames_seen;
}

static gboolean restart_timer_fired(gpointer data)
{
    VitdPipeline *p = data;
    p->restart_timer = 0;
    p->restarts++;
    pipeline_launch(p);
    return G_SOURCE_REMOVE;
}

static void cancel_restart(VitdPipeline *p)
{
    if (p->restart_timer) {
        g_source_remove(p->restart_timer);
        p->restart_timer = 0;
    }
}

/* The run is over (error or end-of-stream): wait and restart, or park in FINAL. */
static void pipeline_run_over(VitdPipeline *p, gboolean restart, VitdPipelineState final)
{
    pipeline_teardown(p);
    if (!restart) {
        pipeline_set_state(p, final);
        return;
    }
    if (p->run_had_frames)
        p->attempt = 0;
    double delay =
        vitd_backoff_delay(p->spec->backoff_initial_s, p->spec->backoff_max_s, p->attempt);
    p->attempt++;
    vitd_log_full(LOG_INFO, p->name, NULL, "restarting in %.1f s", delay);
    cancel_restart(p);
    p->restart_timer = g_timeout_add((guint)(delay * 1000.0), restart_timer_fired, p);
    pipeline_set_state(p, VITD_PIPELINE_BACKOFF);
}

static void pipeline_fail(VitdPipeline *p, const char *domain, const char *message)
{
    g_free(p->last_error);
    p->last_error = g_strdup(message);
    p->event_error = FALSE;
    vitd_log_full(LOG_ERR, p->name, domain, "%s", message);
    if (p->state == VITD_PIPELINE_DRAINING) {
        pipeline_teardown(p);
        pipeline_set_state(p, VITD_PIPELINE_STOPPED);
        p->cb->drained(p, p->cb_data);
        return;
    }
    pipeline_run_over(p, p->spec->restart != VP_RESTART_NEVER, VITD_PIPELINE_FAILED);
}

/* The detail of a GStreamer error is its debug string after the "file(line): function ():
 * /object/path:\n" prefix. It often says what the translated message leaves out: filesrc says
 * only "Resource not found." and puts `No such file "/srv/door.mp4"` there. NULL if none. */
static char *error_detail(const char *debug)
{
    const char *d = debug ? strstr(debug, ":\n") : NULL;
    if (!d || !d[2])
        return NULL;
    d += 2;
    char *detail = g_utf8_make_valid(d, (gssize)MIN(strlen(d), (size_t)256));
    return g_strdelimit(detail, "\r\n", ' ');
}

static void pipeline_fail_gerror(VitdPipeline *p, GstObject *src, const GError *err,
                                 const char *debug)
{
    g_autofree char *detail = error_detail(debug);
    g_autofree char *text =
        detail ? g_strdup_printf("%s (%s)", err->message, detail) : g_strdup(err->message);
    g_autofree char *msg =
        src ? g_strdup_printf("%s: %s", GST_OBJECT_NAME(src), text) : g_steal_pointer(&text);
    if (debug)
        vitd_log_full(LOG_DEBUG, p->name, NULL, "debug: %s", debug);
    pipeline_fail(p, g_quark_to_string(err->domain), msg);
}

/* Appends the strings of V (a strv, a GstValueList/Array of strings, or one string). */
static void handle_classification(VitdPipeline *p, const GstStructure *s)
{
    g_auto(GstVitClassification) m = GST_VIT_CLASSIFICATION_INIT;

    if (!gst_vit_classification_parse(s, &m))
        return;
    VitdClassification c = {
        .frame = m.frame,
        .pts_ns = GST_CLOCK_TIME_IS_VALID(m.timestamp) && m.timestamp <= G_MAXINT64
                      ? (gint64)m.timestamp
                      : -1,
        .n_labels = m.n_classes,
        .labels = (const char *const *)m.labels,
        .scores = m.scores,
        .exit = m.exit,
        .latency_us = m.latency_us,
    };

    if (c.exit < 64) {
        if (p->exit_counts->len <= c.exit)
            g_array_set_size(p->exit_counts, c.exit + 1);
        g_array_index(p->exit_counts, guint64, c.exit)++;
    }
    p->run_had_frames = TRUE;
    p->progress_us = g_get_monotonic_time();
    pipeline_recovered(
        p); /* a classification proves frames flow, even in a run shorter than a poll */
    p->cb->classified(p, &c, p->cb_data);
}

static gboolean on_bus_message(GstBus *bus, GstMessage *msg, gpointer data)
{
    VitdPipeline *p = data;

    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(msg);
        if (s && gst_structure_has_name(s, VIT_CLASSIFICATION_MESSAGE))
            handle_classification(p, s);
        break;
    }
    case GST_MESSAGE_STATE_CHANGED:
        if (GST_MESSAGE_SRC(msg) == GST_OBJECT(p->pipeline)) {
            GstState new_state;
            gst_message_parse_state_changed(msg, NULL, &new_state, NULL);
            if (new_state == GST_STATE_PLAYING && p->state == VITD_PIPELINE_STARTING) {
                vitd_log_full(LOG_INFO, p->name, NULL, "running");
                pipeline_set_state(p, VITD_PIPELINE_RUNNING);
            }
        }
        break;
    case GST_MESSAGE_WARNING: {
        g_autoptr(GError) err = NULL;
        gst_message_parse_warning(msg, &err, NULL);
        vitd_log_full(LOG_WARNING, p->name, g_quark_to_string(err->domain), "%s: %s",
                      GST_MESSAGE_SRC_NAME(msg), err->message);
        break;
    }
    case GST_MESSAGE_ERROR: {
        g_autoptr(GError) err = NULL;
        g_autofree char *debug = NULL;
        gst_message_parse_error(msg, &err, &debug);
        p->bus_watch = 0; /* removed by returning G_SOURCE_REMOVE */
        pipeline_fail_gerror(p, GST_MESSAGE_SRC(msg), err, debug);
        return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
        p->bus_watch = 0;
        if (p->state == VITD_PIPELINE_DRAINING) {
            pipeline_teardown(p);
            pipeline_set_state(p, VITD_PIPELINE_STOPPED);
            p->cb->drained(p, p->cb_data);
        } else {
            vitd_log_full(LOG_INFO, p->name, NULL, "end of stream");
            pipeline_run_over(p, p->spec->restart == VP_RESTART_ALWAYS, VITD_PIPELINE_FINISHED);
        }
        return G_SOURCE_REMOVE;
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

static GstElement *parse_launch(VitdPipeline *p, GError **error)
{
    g_autofree char *desc = vp_spec_to_launch(p->spec);
    GstElement *e = gst_parse_launch_full(desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, error);
    if (!e)
        return NULL;
    if (p->spec->launch && GST_IS_BIN(e) &&
        !vitd_validate_elements(e, (const char *const *)p->launch_allow, error)) {
        gst_object_unref(e);
        return NULL;
    }
    if (GST_IS_PIPELINE(e))
        return e;
    GstElement *pipeline = gst_pipeline_new(NULL);
    gst_bin_add(GST_BIN(pipeline), e);
    return pipeline;
}

static void pipeline_launch(VitdPipeline *p)
{
    g_autoptr(GError) err = NULL;

    p->run_had_frames = FALSE;
    p->pipeline = parse_launch(p, &err);
    if (!p->pipeline) {
        pipeline_fail_gerror(p, NULL, err, NULL);
        return;
    }
    p->vit = gst_bin_get_by_name(GST_BIN(p->pipeline), VIT_CLASSIFY_ELEMENT_NAME);
    g_autoptr(GstBus) bus = gst_element_get_bus(p->pipeline);
    p->bus_watch = gst_bus_add_watch(bus, on_bus_message, p);
    pipeline_set_state(p, VITD_PIPELINE_STARTING);
    p->start_job = vitd_state_play(p->pipeline, p->spec->model, p->spec->labels, on_started, p);
    if (!p->start_job)
        pipeline_fail(p, "vitd-thread", "could not start a thread to start the pipeline");
}

/* On the main loop: the run's PLAYING request returned. */
static void on_started(GstStateChangeReturn ret, const char *stamp, gpointer data)
{
    VitdPipeline *p = data;
    p->start_job = NULL;
    g_free(p->files_stamp);
    p->files_stamp = g_strdup(stamp);
    if (ret != GST_STATE_CHANGE_FAILURE)
        return;
    /* The failing element posted its error on the bus; unless the bus watch already reported
     * it, report that rather than a generic text. */
    g_autoptr(GstBus) bus = gst_element_get_bus(p->pipeline);
    g_autoptr(GstMessage) msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    if (msg) {
        g_autoptr(GError) e = NULL;
        g_autofree char *debug = NULL;
        gst_message_parse_error(msg, &e, &debug);
        pipeline_fail_gerror(p, GST_MESSAGE_SRC(msg), e, debug);
    } else {
        pipeline_fail(p, "gst-core-error-quark", "failed to start the pipeline");
    }
}

VitdPipeline *vitd_pipeline_new(const VpPipelineSpec *spec, const VitdPipelineCallbacks *cb,
                                gpointer cb_data)
{
    char *path = vitd_pipeline_path(spec->name);
    if (!path)
        return NULL;
    VitdPipeline *p = g_new0(VitdPipeline, 1);
    p->name = g_strdup(spec->name);
    p->path = g_strdup(path);
    free(path);
    p->spec = spec;
    p->last_error = g_strdup("");
    p->previous_error = g_strdup("");
    p->exit_counts = g_array_new(FALSE, TRUE, sizeof(guint64));
    p->cb = cb;
    p->cb_data = cb_data;
    p->state = VITD_PIPELINE_STOPPED;
    p->fps_last_us = g_get_monotonic_time();
    return p;
}

void vitd_pipeline_free(VitdPipeline *p)
{
    if (!p)
        return;
    cancel_restart(p);
    pipeline_teardown(p);
    g_array_unref(p->exit_counts);
    g_free(p->last_error);
    g_free(p->previous_error);
    g_free(p->files_stamp);
    g_strfreev(p->launch_allow);
    g_free(p->path);
    g_free(p->name);
    g_free(p);
}

void vitd_pipeline_start(VitdPipeline *p)
{
    cancel_restart(p);
    pipeline_teardown(p);
    p->attempt = 0;
    vitd_log_full(LOG_INFO, p->name, NULL, "starting");
    pipeline_launch(p);
}

void vitd_pipeline_restart_for_files(VitdPipeline *p)
{
    vitd_log_full(LOG_INFO, p->name, NULL, "model files changed on disk (%s), restarting",
                  p->spec->model ? p->spec->model : "labels");
    p->restarts++;
    p->cb->changed(p, p->cb_data);
    vitd_pipeline_start(p);
}

void vitd_pipeline_stop(VitdPipeline *p)
{
    cancel_restart(p);
    pipeline_teardown(p);
    pipeline_set_state(p, VITD_PIPELINE_STOPPED);
}

void vitd_pipeline_set_spec(VitdPipeline *p, const VpPipelineSpec *spec)
{
    p->spec = spec;
}

void vitd_pipeline_set_launch_allow(VitdPipeline *p, const char *const *allow)
{
    g_strfreev(p->launch_allow);
    p->launch_allow = g_strdupv((char **)allow);
}

/* A run that is PLAYING and moved frames has recovered: LastError moves to PreviousError. */
static void pipeline_recovered(VitdPipeline *p)
{
    if (p->state != VITD_PIPELINE_RUNNING || !p->last_error[0] || p->event_error)
        return;
    g_free(p->previous_error);
    p->previous_error = p->last_error;
    p->last_error = g_strdup("");
    vitd_log_full(LOG_INFO, p->name, NULL, "frames flow again; cleared the last error");
    p->cb->changed(p, p->cb_data);
}

void vitd_pipeline_set_event_error(VitdPipeline *p, const char *message)
{
    if (!message) { /* events go out again: heal like a recovered run */
        if (p->event_error) {
            p->event_error = FALSE;
            pipeline_recovered(p);
        }
        return;
    }
    if (p->event_error && !strcmp(p->last_error, message))
        return; /* logged and shown once while it lasts */
    g_free(p->last_error);
    p->last_error = g_strdup(message);
    p->event_error = TRUE;
    vitd_log_full(LOG_ERR, p->name, "vitd-events", "%s", message);
    p->cb->changed(p, p->cb_data);
}

gboolean vitd_pipeline_drain(VitdPipeline *p)
{
    cancel_restart(p);
    /* Only a PLAYING pipeline has frames in flight worth draining. A live source that is still
     * prerolling holds its live lock while the sink waits for preroll, so sending it EOS then
     * would block the main loop; such a pipeline is simply stopped. */
    if (!p->pipeline || p->state != VITD_PIPELINE_RUNNING) {
        pipeline_teardown(p);
        pipeline_set_state(p, VITD_PIPELINE_STOPPED);
        return FALSE;
    }
    pipeline_set_state(p, VITD_PIPELINE_DRAINING);
    gst_element_send_event(p->pipeline, gst_event_new_eos());
    return TRUE;
}

void vitd_pipeline_poll(VitdPipeline *p, gint64 now_us)
{
    vitd_pipeline_refresh_counters(p);
    gint64 dt = now_us - p->fps_last_us;
    if (dt > 0 && p->pipeline) {
        p->fps = (double)(p->frames_seen - p->fps_last_seen) * 1e6 / (double)dt;
        if (p->frames_seen != p->fps_last_seen) {
            p->progress_us = now_us;
            p->run_had_frames = TRUE;
            pipeline_recovered(p);
        }
    }
    p->fps_last_seen = p->frames_seen;
    p->fps_last_us = now_us;

    if (!p->vit)
        return; /* nothing tells us frames flow */
    if ((p->state == VITD_PIPELINE_RUNNING || p->state == VITD_PIPELINE_STARTING) &&
        now_us - p->progress_us > STALL_TIMEOUT_US) {
        g_autofree char *msg =
            g_strdup_printf("no frame for %d s", (int)(STALL_TIMEOUT_US / G_USEC_PER_SEC));
        pipeline_fail(p, "vitd-stall", msg);
    }
}

gboolean vitd_pipeline_is_stalled(const VitdPipeline *p, gint64 now_us, gint64 limit_us)
{
    return p->state == VITD_PIPELINE_RUNNING && now_us - p->progress_us > limit_us;
}

const char *vitd_pipeline_get_name(const VitdPipeline *p)
{
    return p->name;
}

const char *vitd_pipeline_get_path(const VitdPipeline *p)
{
    return p->path;
}

const VpPipelineSpec *vitd_pipeline_get_spec(const VitdPipeline *p)
{
    return p->spec;
}

VitdPipelineState vitd_pipeline_get_state(const VitdPipeline *p)
{
    return p->state;
}

const char *vitd_pipeline_get_files_stamp(const VitdPipeline *p)
{
    return p->files_stamp;
}

const char *vitd_pipeline_get_last_error(const VitdPipeline *p)
{
    return p->last_error;
}

const char *vitd_pipeline_get_previous_error(const VitdPipeline *p)
{
    return p->previous_error;
}

guint32 vitd_pipeline_get_restarts(const VitdPipeline *p)
{
    return p->restarts;
}

VitdPipelineCounters vitd_pipeline_get_counters(VitdPipeline *p)
{
    vitd_pipeline_refresh_counters(p);
    return (VitdPipelineCounters){
        .frames_seen = p->frames_seen,
        .frames_classified = p->frames_classified,
        .frames_dropped = p->frames_dropped,
        .fps = p->fps,
        .latency_ms = p->latency_ms,
    };
}

const guint64 *vitd_pipeline_get_exit_counts(const VitdPipeline *p, guint *ret_n)
{
    *ret_n = p->exit_counts->len;
    return (const guint64 *)(void *)p->exit_counts->data;
}
