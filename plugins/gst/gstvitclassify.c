/* gstvitclassify.c — the vitclassify element: libvit on every Nth video frame, results as a
 * GstVitClassificationMeta on the buffer and a "vit-classification" message on the bus.
 *
 * The element is a passthrough, in-place GstBaseTransform: frames leave exactly as they came
 * and are never copied (a buffer shared with another branch gets a shallow copy, sharing its
 * pixel memory, so the meta can be attached). The model is loaded at READY->PAUSED through a
 * process-wide cache (gstvitmodelcache.c), so elements naming the same model share one
 * vit_model; each element has its own vit_session (scratch arena and worker threads). Whether a
 * frame is too late to classify is decided in gstvitlateness.c, the reported classes and the
 * message are built in gstvitresult.c. */

/**
 * SECTION:element-vitclassify
 * @title: vitclassify
 * @see_also: vitoverlay
 *
 * Classifies video frames with a vision transformer (a timm-layout model folder holding
 * `model.safetensors` and `config.json`, or a single `.safetensors` file). Frames pass through
 * unchanged; resizing, cropping and normalisation to the model's input happen inside the
 * runtime, so no converter is needed upstream for the supported formats.
 *
 * For every classified frame the element attaches a #GstVitClassificationMeta (see
 * `gstvitmeta.h`) to the buffer and (unless #GstVitClassify:post-messages is off) posts an
 * element message named `vit-classification` with these fields:
 *
 * * `frame` (#guint64): index of the frame among the buffers this element has received since
 *   the stream started or was last flushed (a flushing seek restarts it at 0). Frames skipped
 *   by `interval` or QoS still count, so it is the position in the stream, not a count of
 *   results.
 * * `timestamp` (#guint64, a #GstClockTime): the buffer's presentation timestamp, or
 *   GST_CLOCK_TIME_NONE when it had none.
 * * `stream-time` (#guint64): the PTS converted to stream time (the position a player shows).
 * * `running-time` (#guint64): the PTS converted to running time (what synchronises with the
 *   pipeline clock; compare with the clock minus the base time).
 * * `duration` (#guint64): the buffer's duration, or GST_CLOCK_TIME_NONE.
 * * `labels` (#GstValueArray of #gchararray): the reported classes, most probable first: at
 *   most `top-k` of them, only those whose probability reaches `threshold` (so it may be
 *   empty). Printed by `gst-launch-1.0 -m` as `labels=(string)< cat, dog >`.
 * * `scores` (#GstValueArray of #gdouble): the softmax probability of each label, same order.
 * * `class-ids` (#GstValueArray of #gint): each label's index in the model's output.
 * * `exit` (#guint): which exit of an early-exit cascade answered (0-based; always 0 for a
 *   single network).
 * * `latency-us` (#guint64): wall time of the inference call for this frame, microseconds
 *   (preprocessing included).
 *
 * The read-only properties `frames-seen`, `frames-classified`, `frames-skipped` and
 * `mean-latency-us` count since the element last went READY->PAUSED.
 *
 * Quality of service: the element never queues frames. A frame due for classification is
 * passed through unclassified (and counted in `frames-skipped`) when a downstream QoS event
 * says its running time is already past, or when the source is live, the pipeline is playing
 * and the frame is already past its deadline (running time plus the pipeline latency) when it
 * arrives: inference is not keeping up, and skipping lets it catch up with the newest frames,
 * so whatever waits upstream (a queue) stays bounded by the latency. On a live source the
 * element adds its inference time (measured by a warm-up run at start) to the latency it
 * reports, so frames classified in time are shown in time.
 *
 * A missing or unreadable model, or a labels file that does not match it, fails the
 * READY->PAUSED state change with a resource error naming the file.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=30 ! vitclassify model=models/fmnist-vit-tiny !
 * fakesink gst-launch-1.0 v4l2src ! vitclassify model=/path/to/model top-k=3 ! vitoverlay !
 * videoconvert ! autovideosink
 * ]|
 */
#include "config.h"

#include "gstvitclassify.h"

#include <errno.h>
#include <string.h>

#include <gst/video/video.h>

#include "gstvitlateness.h"
#include "gstvitmeta.h"
#include "gstvitmodelcache.h"
#include "gstvitresult.h"
#include "vit.h"

GST_DEBUG_CATEGORY_STATIC(gst_vit_classify_debug);
#define GST_CAT_DEFAULT gst_vit_classify_debug

#define DEFAULT_TOP_K 5
#define DEFAULT_INTERVAL 1
#define DEFAULT_THRESHOLD 0.0
#define DEFAULT_EXIT_THRESHOLD -1.0
#define DEFAULT_EXIT_BUDGET 0.0
#define DEFAULT_THREADS 0
#define DEFAULT_POST_MESSAGES TRUE

enum {
    PROP_0,
    PROP_MODEL,
    PROP_LABELS,
    PROP_TOP_K,
    PROP_INTERVAL,
    PROP_THRESHOLD,
    PROP_EXIT_THRESHOLD,
    PROP_EXIT_BUDGET,
    PROP_THREADS,
    PROP_POST_MESSAGES,
    PROP_FRAMES_SEEN,
    PROP_FRAMES_CLASSIFIED,
    PROP_FRAMES_SKIPPED,
    PROP_MEAN_LATENCY_US,
};

#define VIT_CLASSIFY_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, GRAY8, I420, NV12 }"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIT_CLASSIFY_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(VIT_CLASSIFY_FORMATS)));

struct _GstVitClassify {
    GstBaseTransform parent;

    /* Properties and counters: under the object lock. */
    gchar *model_path;
    gchar *labels_path;
    guint top_k;
    guint interval;
    gdouble threshold;
    gdouble exit_threshold;
    gdouble exit_budget;             /* GFLOPs per frame; 0 = off */
    gboolean exit_threshold_changed; /* exit-threshold or exit-budget changed */
    gboolean budget_warned;          /* streaming thread only: warned about no budgets */
    guint threads;
    gboolean post_messages;
    guint64 frames_seen;
    guint64 frames_classified;
    guint64 frames_skipped;
    guint64 latency_sum_us;
    GstVitLateness lateness; /* QoS: has its own lock */

    /* Set in start(), freed in stop(); used by the streaming thread in between. */
    vit_model *model;
    vit_session *session;
    gint num_classes;
    GQuark *class_quarks; /* [num_classes] label of each class */
    gint *top_classes;    /* [num_classes] scratch for top-k */
    gfloat *top_probs;    /* [num_classes] */

    /* Streaming thread only. */
    GstVideoInfo info;
    vit_pixel_format format;
    guint64 frame_index; /* next frame's index since stream start / flush */
};

G_DEFINE_TYPE(GstVitClassify, gst_vit_classify, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(
    vitclassify, "vitclassify", GST_RANK_NONE, GST_TYPE_VIT_CLASSIFY,
    GST_DEBUG_CATEGORY_INIT(gst_vit_classify_debug, "vitclassify", 0,
                            "vision-transformer video classifier"));

/* ---- model, labels and session: READY <-> PAUSED ------------------------------------------ */

static gboolean gst_vit_classify_stop(GstBaseTransform *trans);

/* Maps a vit_model_open() failure onto the GStreamer error a user expects. */
static void gst_vit_classify_post_model_error(GstVitClassify *self, const gchar *path, int r,
                                              const vit_error *err)
{
    if (r == -ENOENT) {
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND,
                          ("Model \"%s\" not found: %s", path, err->message),
                          ("vit_model_open: %s", g_strerror(-r)));
    } else if (r == -EACCES || r == -EPERM || r == -EIO || r == -EISDIR) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                          ("Could not read model \"%s\": %s", path, err->message),
                          ("vit_model_open: %s", g_strerror(-r)));
    } else {
        GST_ELEMENT_ERROR(self, RESOURCE, FAILED,
                          ("Could not load model \"%s\": %s", path, err->message),
                          ("vit_model_open: %s", g_strerror(-r)));
    }
}

/* Reads PATH (one label per line, libvit's labels-file format) into self->class_quarks. An
 * empty line keeps the model's own name for that class; the number of lines (trailing empty
 * lines ignored) must equal the model's class count, since a mismatched file silently
 * mislabels every result. */
static gboolean gst_vit_classify_load_labels(GstVitClassify *self, const gchar *path)
{
    char **labels = NULL;
    vit_error err;
    int n = 0, i, r;

    r = vit_labels_read(path, &labels, &n, &err);
    if (r == -ENOENT) {
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("Labels file \"%s\" not found", path),
                          ("vit_labels_read: %s", err.message));
        return FALSE;
    }
    if (r < 0) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Could not read labels file \"%s\"", path),
                          ("vit_labels_read: %s", err.message));
        return FALSE;
    }

    if (n != self->num_classes) {
        GST_ELEMENT_ERROR(self, RESOURCE, FAILED,
                          ("Labels file \"%s\" has %d labels but model \"%s\" has %d classes", path,
                           n, vit_model_path(self->model), self->num_classes),
                          (NULL));
        vit_labels_free(labels, n);
        return FALSE;
    }
    for (i = 0; i < n; i++) {
        if (labels[i][0] != '\0')
            self->class_quarks[i] = g_quark_from_string(labels[i]);
    }
    vit_labels_free(labels, n);
    return TRUE;
}

/* One inference on a black input, so the first real frame does not pay for cold caches and
 * page faults on the mapped weights, and so the live latency can be reported up front. */
static void gst_vit_classify_warm_up(GstVitClassify *self)
{
    gint c, h, w;
    g_autofree gfloat *zeros = NULL;
    vit_result result;
    vit_error err;
    GstClockTime took = 0;
    gint64 t0;
    gint i;

    vit_model_input_size(self->model, &c, &h, &w);
    zeros = g_new0(gfloat, (gsize)c * h * w);
    /* The first run pays the cold start; the second measures what a frame will cost. */
    for (i = 0; i < 2; i++) {
        t0 = g_get_monotonic_time();
        if (vit_session_run_tensor(self->session, zeros, &result, &err) < 0) {
            GST_WARNING_OBJECT(self, "warm-up run failed: %s", err.message);
            return;
        }
        took = (GstClockTime)(g_get_monotonic_time() - t0) * GST_USECOND;
    }
    GST_INFO_OBJECT(self, "warm-up inference took %" GST_TIME_FORMAT, GST_TIME_ARGS(took));
    gst_vit_lateness_set_own_latency(&self->lateness, took);
}

static gboolean gst_vit_classify_start(GstBaseTransform *trans)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);
    g_autofree gchar *model_path = NULL;
    g_autofree gchar *labels_path = NULL;
    vit_session_options opts;
    vit_error err;
    gint i, r;

    GST_OBJECT_LOCK(self);
    model_path = g_strdup(self->model_path);
    labels_path = g_strdup(self->labels_path);
    opts.threads = (int)self->threads;
    opts.exit_threshold = (float)self->exit_threshold;
    self->exit_threshold_changed = self->exit_budget > 0; /* applied with the first frame */
    self->budget_warned = FALSE;
    self->frames_seen = self->frames_classified = self->frames_skipped = 0;
    self->latency_sum_us = 0;
    GST_OBJECT_UNLOCK(self);
    gst_vit_lateness_reset(&self->lateness);

    if (model_path == NULL || model_path[0] == '\0') {
        GST_ELEMENT_ERROR(
            self, RESOURCE, NOT_FOUND,
            ("No model given: set the \"model\" property to a model folder or .safetensors file"),
            (NULL));
        return FALSE;
    }

    r = gst_vit_model_cache_acquire(model_path, &self->model, &err);
    if (r < 0) {
        gst_vit_classify_post_model_error(self, model_path, r, &err);
        return FALSE;
    }

    self->num_classes = vit_model_num_classes(self->model);
    self->class_quarks = g_new0(GQuark, self->num_classes);
    self->top_classes = g_new0(gint, self->num_classes);
    self->top_probs = g_new0(gfloat, self->num_classes);
    for (i = 0; i < self->num_classes; i++)
        self->class_quarks[i] = g_quark_from_string(vit_model_label(self->model, i));
    if (labels_path != NULL && labels_path[0] != '\0' &&
        !gst_vit_classify_load_labels(self, labels_path))
        goto fail;

    r = vit_session_new(self->model, &opts, &self->session, &err);
    if (r < 0) {
        GST_ELEMENT_ERROR(
            self, RESOURCE, FAILED,
            ("Could not prepare model \"%s\" for inference: %s", model_path, err.message),
            ("vit_session_new: %s", g_strerror(-r)));
        goto fail;
    }
    gst_vit_classify_warm_up(self);
    self->frame_index = 0;
    GST_INFO_OBJECT(self, "model %s (%s, %d classes, %d exits)", model_path,
                    vit_model_architecture(self->model), self->num_classes,
                    vit_model_num_exits(self->model));
    return TRUE;

fail:
    /* A failed start is not followed by stop(): undo it here, or the next attempt leaks. */
    gst_vit_classify_stop(trans);
    return FALSE;
}

static gboolean gst_vit_classify_stop(GstBaseTransform *trans)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    self->session = vit_session_free(self->session);
    self->model = gst_vit_model_cache_release(self->model);
    g_clear_pointer(&self->class_quarks, g_free);
    g_clear_pointer(&self->top_classes, g_free);
    g_clear_pointer(&self->top_probs, g_free);
    self->num_classes = 0;
    gst_vit_lateness_set_own_latency(&self->lateness, 0);
    return TRUE;
}

/* ---- caps ---------------------------------------------------------------------------------- */

static gboolean gst_vit_classify_format_from_video(GstVideoFormat format,
                                                   vit_pixel_format *ret_format)
{
    static const struct {
        GstVideoFormat video;
        vit_pixel_format vit;
    } map[] = {
        {GST_VIDEO_FORMAT_RGB, VIT_FORMAT_RGB},     {GST_VIDEO_FORMAT_BGR, VIT_FORMAT_BGR},
        {GST_VIDEO_FORMAT_RGBx, VIT_FORMAT_RGBX},   {GST_VIDEO_FORMAT_BGRx, VIT_FORMAT_BGRX},
        {GST_VIDEO_FORMAT_xRGB, VIT_FORMAT_XRGB},   {GST_VIDEO_FORMAT_xBGR, VIT_FORMAT_XBGR},
        {GST_VIDEO_FORMAT_RGBA, VIT_FORMAT_RGBA},   {GST_VIDEO_FORMAT_BGRA, VIT_FORMAT_BGRA},
        {GST_VIDEO_FORMAT_GRAY8, VIT_FORMAT_GRAY8}, {GST_VIDEO_FORMAT_I420, VIT_FORMAT_I420},
        {GST_VIDEO_FORMAT_NV12, VIT_FORMAT_NV12},
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS(map); i++) {
        if (map[i].video == format) {
            *ret_format = map[i].vit;
            return TRUE;
        }
    }
    return FALSE;
}

/* Also called again on renegotiation: later frames are read with the new layout. */
static gboolean gst_vit_classify_set_caps(GstBaseTransform *trans, GstCaps *incaps,
                                          GstCaps *outcaps)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);
    GstVideoInfo info;
    vit_pixel_format format;

    if (!gst_video_info_from_caps(&info, incaps)) {
        GST_WARNING_OBJECT(self, "cannot parse caps %" GST_PTR_FORMAT, incaps);
        return FALSE;
    }
    if (!gst_vit_classify_format_from_video(GST_VIDEO_INFO_FORMAT(&info), &format) ||
        GST_VIDEO_INFO_WIDTH(&info) < 1 || GST_VIDEO_INFO_HEIGHT(&info) < 1) {
        GST_WARNING_OBJECT(self, "unsupported caps %" GST_PTR_FORMAT, incaps);
        return FALSE;
    }
    GST_DEBUG_OBJECT(self, "classifying %s %dx%d", GST_VIDEO_INFO_NAME(&info),
                     GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
    self->info = info;
    self->format = format;
    return TRUE;
}

/* ---- events, latency and QoS (decided in gstvitlateness.c) -------------------------------- */

static gboolean gst_vit_classify_sink_event(GstBaseTransform *trans, GstEvent *event)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_STREAM_START:
    case GST_EVENT_FLUSH_STOP:
        /* A new stream or a flushing seek: frame indices and lateness start over. */
        self->frame_index = 0;
        gst_vit_lateness_flush(&self->lateness);
        break;
    default:
        break;
    }
    return GST_BASE_TRANSFORM_CLASS(gst_vit_classify_parent_class)->sink_event(trans, event);
}

static gboolean gst_vit_classify_src_event(GstBaseTransform *trans, GstEvent *event)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    gst_vit_lateness_observe_event(&self->lateness, event);
    return GST_BASE_TRANSFORM_CLASS(gst_vit_classify_parent_class)->src_event(trans, event);
}

/* A latency query passing through on its way upstream: remember what upstream answered
 * (the live check needs it) and add the time inference holds each frame. */
static gboolean gst_vit_classify_query(GstBaseTransform *trans, GstPadDirection direction,
                                       GstQuery *query)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    if (!GST_BASE_TRANSFORM_CLASS(gst_vit_classify_parent_class)->query(trans, direction, query))
        return FALSE;
    if (direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
        gst_vit_lateness_store_upstream(&self->lateness, query);
        gst_vit_lateness_add_own_latency(&self->lateness, query);
    }
    return TRUE;
}

/* The pipeline clock's current running time, or GST_CLOCK_TIME_NONE when not playing. */
static GstClockTime gst_vit_classify_now(GstVitClassify *self)
{
    GstClockTime base_time, now;
    gboolean playing;
    GstClock *clock;

    GST_OBJECT_LOCK(self);
    playing = GST_STATE(self) == GST_STATE_PLAYING;
    clock = GST_ELEMENT_CLOCK(self) ? gst_object_ref(GST_ELEMENT_CLOCK(self)) : NULL;
    base_time = GST_ELEMENT_CAST(self)->base_time;
    GST_OBJECT_UNLOCK(self);
    if (clock == NULL)
        return GST_CLOCK_TIME_NONE;
    now = gst_clock_get_time(clock);
    gst_object_unref(clock);
    return playing && now >= base_time ? now - base_time : GST_CLOCK_TIME_NONE;
}

static gboolean gst_vit_classify_frame_is_late(GstVitClassify *self, GstClockTime running_time)
{
    if (!gst_vit_lateness_upstream_known(&self->lateness)) {
        GstQuery *query = gst_query_new_latency();
        gboolean answered = gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(self), query);

        /* Nobody answering means not live; either way, ask once, not per frame. */
        gst_vit_lateness_store_upstream(&self->lateness, answered ? query : NULL);
        gst_query_unref(query);
    }
    if (!gst_vit_lateness_is_late(&self->lateness, running_time, gst_vit_classify_now(self)))
        return FALSE;
    GST_LOG_OBJECT(self, "frame at running time %" GST_TIME_FORMAT " is late: not classified",
                   GST_TIME_ARGS(running_time));
    return TRUE;
}

/* ---- per frame ----------------------------------------------------------------------------- */

/* Whether the frame with the next index is due for classification under `interval`. */
static gboolean gst_vit_classify_frame_is_due(GstVitClassify *self)
{
    guint interval;

    GST_OBJECT_LOCK(self);
    interval = self->interval;
    GST_OBJECT_UNLOCK(self);
    return self->frame_index % interval == 0;
}

/* Adding the meta needs a writable buffer. One shared with another branch (a tee) gets a
 * shallow copy: a new GstBuffer over the same memory, so no pixels are copied. */
static GstFlowReturn gst_vit_classify_prepare_output_buffer(GstBaseTransform *trans,
                                                            GstBuffer *input, GstBuffer **outbuf)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    if (gst_buffer_is_writable(input) || !gst_vit_classify_frame_is_due(self)) {
        *outbuf = input;
    } else {
        GST_LOG_OBJECT(self, "buffer not writable: attaching the meta to a shallow copy");
        *outbuf = gst_buffer_copy(input);
    }
    return GST_FLOW_OK;
}

/* Runs the session on BUF, frame FRAME_INDEX of the stream; fills *ret_result and
 * *ret_latency_us. */
static GstFlowReturn gst_vit_classify_run(GstVitClassify *self, GstBuffer *buf, guint64 frame_index,
                                          vit_result *ret_result, guint64 *ret_latency_us)
{
    GstVideoFrame vframe;
    vit_frame frame;
    vit_error err;
    gboolean exit_changed;
    gdouble exit_threshold, exit_budget;
    gint64 t0, t1;
    guint i;
    int r;

    GST_OBJECT_LOCK(self);
    exit_changed = self->exit_threshold_changed;
    exit_threshold = self->exit_threshold;
    exit_budget = self->exit_budget;
    self->exit_threshold_changed = FALSE;
    GST_OBJECT_UNLOCK(self);
    if (exit_changed) {
        vit_session_set_exit_threshold(
            self->session, exit_threshold < 0 ? vit_model_default_exit_threshold(self->model)
                                              : (float)exit_threshold);
        if (exit_budget > 0) {
            r = vit_session_set_budget(self->session, exit_budget, &err);
            if (r >= 0) {
                GST_INFO_OBJECT(self, "exit-budget %g GFLOPs: model budget %d (%g GFLOPs)",
                                exit_budget, r, vit_model_budget_gflops(self->model, r));
            } else if (!self->budget_warned) {
                self->budget_warned = TRUE;
                GST_ELEMENT_WARNING(
                    self, LIBRARY, SETTINGS,
                    ("exit-budget %g ignored: the model has no usable budgets", exit_budget),
                    ("%s; exit-threshold is used instead", err.message));
            }
        }
    }

    if (!gst_video_frame_map(&vframe, &self->info, buf, GST_MAP_READ)) {
        GST_ELEMENT_ERROR(self, STREAM, FAILED,
                          ("Could not map video frame %" G_GUINT64_FORMAT, frame_index),
                          ("buffer %" GST_PTR_FORMAT, buf));
        return GST_FLOW_ERROR;
    }
    memset(&frame, 0, sizeof frame);
    frame.format = self->format;
    frame.width = GST_VIDEO_FRAME_WIDTH(&vframe);
    frame.height = GST_VIDEO_FRAME_HEIGHT(&vframe);
    for (i = 0; i < GST_VIDEO_FRAME_N_PLANES(&vframe) && i < 3; i++) {
        frame.planes[i] = GST_VIDEO_FRAME_PLANE_DATA(&vframe, i);
        frame.strides[i] = GST_VIDEO_FRAME_PLANE_STRIDE(&vframe, i);
    }

    t0 = g_get_monotonic_time();
    r = vit_session_classify(self->session, &frame, ret_result, &err);
    t1 = g_get_monotonic_time();
    gst_video_frame_unmap(&vframe);
    if (r < 0) {
        GST_ELEMENT_ERROR(
            self, STREAM, FAILED,
            ("Classification failed on frame %" G_GUINT64_FORMAT ": %s", frame_index, err.message),
            ("vit_session_classify: %s", g_strerror(-r)));
        return GST_FLOW_ERROR;
    }
    *ret_latency_us = (guint64)(t1 - t0);
    return GST_FLOW_OK;
}

static GstFlowReturn gst_vit_classify_transform_ip(GstBaseTransform *trans, GstBuffer *buf)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);
    GstVitClassificationMeta res = {0}, *meta;
    GstClockTime running_time = GST_CLOCK_TIME_NONE;
    gboolean due = gst_vit_classify_frame_is_due(self);
    guint64 frame_index = self->frame_index++;
    guint64 latency_us = 0;
    GQuark quarks[64], *quark_buf;
    vit_result result;
    GstFlowReturn ret;
    gboolean post;
    guint top_k;
    gdouble threshold;
    gint n, kept, i;

    if (GST_BUFFER_PTS_IS_VALID(buf) && trans->segment.format == GST_FORMAT_TIME)
        running_time =
            gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));

    GST_OBJECT_LOCK(self);
    self->frames_seen++;
    top_k = self->top_k;
    threshold = self->threshold;
    GST_OBJECT_UNLOCK(self);

    /* Gap buffers carry no picture to classify. */
    if (!due || GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_GAP))
        return GST_FLOW_OK;
    if (gst_vit_classify_frame_is_late(self, running_time)) {
        GST_OBJECT_LOCK(self);
        self->frames_skipped++;
        GST_OBJECT_UNLOCK(self);
        return GST_FLOW_OK;
    }

    ret = gst_vit_classify_run(self, buf, frame_index, &result, &latency_us);
    if (ret != GST_FLOW_OK)
        return ret;

    n = gst_vit_result_top_k(&result, (gint)MIN(top_k, (guint)self->num_classes), self->top_classes,
                             self->top_probs);
    for (kept = 0; kept < n && self->top_probs[kept] >= threshold; kept++)
        ;
    quark_buf = kept <= (gint)G_N_ELEMENTS(quarks) ? quarks : g_new(GQuark, kept);
    for (i = 0; i < kept; i++)
        quark_buf[i] = self->class_quarks[self->top_classes[i]];

    GST_OBJECT_LOCK(self);
    self->frames_classified++;
    self->latency_sum_us += latency_us;
    GST_OBJECT_UNLOCK(self);

    /* The result as the meta will hold it (top_probs is already in descending order). */
    res.frame = frame_index;
    res.exit_index = (guint)result.exit_index;
    res.latency_us = latency_us;
    res.length = (gsize)kept;
    res.class_quarks = quark_buf;
    res.confidence_levels = self->top_probs;
    res.class_ids = self->top_classes;

    /* prepare_output_buffer() made due frames writable; the check is a safety net. */
    meta = NULL;
    if (gst_buffer_is_writable(buf))
        meta = gst_buffer_add_vit_classification_meta(buf, res.length, res.confidence_levels,
                                                      res.class_quarks, res.class_ids);
    if (meta != NULL) {
        meta->frame = res.frame;
        meta->exit_index = res.exit_index;
        meta->latency_us = res.latency_us;
    } else {
        GST_WARNING_OBJECT(self, "buffer not writable, no meta on frame %" G_GUINT64_FORMAT,
                           frame_index);
    }
    GST_OBJECT_LOCK(self);
    post = self->post_messages;
    GST_OBJECT_UNLOCK(self);
    if (post)
        gst_element_post_message(
            GST_ELEMENT_CAST(self),
            gst_message_new_element(GST_OBJECT_CAST(self),
                                    gst_vit_result_to_structure(&res, buf, &trans->segment)));
    if (quark_buf != quarks)
        g_free(quark_buf);
    return GST_FLOW_OK;
}

/* ---- properties ---------------------------------------------------------------------------- */

static void gst_vit_classify_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(object);

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MODEL:
        g_free(self->model_path);
        self->model_path = g_value_dup_string(value);
        break;
    case PROP_LABELS:
        g_free(self->labels_path);
        self->labels_path = g_value_dup_string(value);
        break;
    case PROP_TOP_K:
        self->top_k = g_value_get_uint(value);
        break;
    case PROP_INTERVAL:
        self->interval = g_value_get_uint(value);
        break;
    case PROP_THRESHOLD:
        self->threshold = g_value_get_double(value);
        break;
    case PROP_EXIT_THRESHOLD:
        self->exit_threshold = g_value_get_double(value);
        self->exit_threshold_changed = TRUE;
        break;
    case PROP_EXIT_BUDGET:
        self->exit_budget = g_value_get_double(value);
        self->exit_threshold_changed = TRUE;
        break;
    case PROP_THREADS:
        self->threads = g_value_get_uint(value);
        break;
    case PROP_POST_MESSAGES:
        self->post_messages = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_vit_classify_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(object);

    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MODEL:
        g_value_set_string(value, self->model_path);
        break;
    case PROP_LABELS:
        g_value_set_string(value, self->labels_path);
        break;
    case PROP_TOP_K:
        g_value_set_uint(value, self->top_k);
        break;
    case PROP_INTERVAL:
        g_value_set_uint(value, self->interval);
        break;
    case PROP_THRESHOLD:
        g_value_set_double(value, self->threshold);
        break;
    case PROP_EXIT_THRESHOLD:
        g_value_set_double(value, self->exit_threshold);
        break;
    case PROP_EXIT_BUDGET:
        g_value_set_double(value, self->exit_budget);
        break;
    case PROP_THREADS:
        g_value_set_uint(value, self->threads);
        break;
    case PROP_POST_MESSAGES:
        g_value_set_boolean(value, self->post_messages);
        break;
    case PROP_FRAMES_SEEN:
        g_value_set_uint64(value, self->frames_seen);
        break;
    case PROP_FRAMES_CLASSIFIED:
        g_value_set_uint64(value, self->frames_classified);
        break;
    case PROP_FRAMES_SKIPPED:
        g_value_set_uint64(value, self->frames_skipped);
        break;
    case PROP_MEAN_LATENCY_US:
        g_value_set_uint64(value, self->frames_classified
                                      ? (self->latency_sum_us + self->frames_classified / 2) /
                                            self->frames_classified
                                      : 0);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_vit_classify_finalize(GObject *object)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(object);

    gst_vit_lateness_clear(&self->lateness);
    g_free(self->model_path);
    g_free(self->labels_path);
    G_OBJECT_CLASS(gst_vit_classify_parent_class)->finalize(object);
}

static void gst_vit_classify_install_properties(GObjectClass *gobject_class)
{
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

    g_object_class_install_property(
        gobject_class, PROP_MODEL,
        g_param_spec_string(
            "model", "Model",
            "Model to run: a folder holding model.safetensors and config.json (the layout "
            "timm publishes), or a single .safetensors file with its config in the metadata. "
            "Loaded when the element goes to PAUSED; elements naming the same model share it",
            NULL, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_LABELS,
        g_param_spec_string(
            "labels", "Labels file",
            "Text file with one class name per line, in the model's class order, replacing the "
            "names in the model's config.json (an empty line keeps the model's name). Its line "
            "count must match the model's classes",
            NULL, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_TOP_K,
        g_param_spec_uint("top-k", "Top K",
                          "Report at most this many classes per frame, most probable first", 1,
                          G_MAXINT, DEFAULT_TOP_K, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_INTERVAL,
        g_param_spec_uint(
            "interval", "Interval",
            "Classify every Nth frame (the first of a stream always); the others pass "
            "through without results",
            1, G_MAXUINT, DEFAULT_INTERVAL, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_THRESHOLD,
        g_param_spec_double(
            "threshold", "Threshold",
            "Lowest probability reported: classes below it are left out of the meta and the "
            "message (which may then list none)",
            0.0, 1.0, DEFAULT_THRESHOLD, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_EXIT_THRESHOLD,
        g_param_spec_double(
            "exit-threshold", "Exit threshold",
            "Early-exit cascades: an exit answers when its top probability reaches this "
            "(lower is faster, higher is more accurate); -1 uses the model's own default. "
            "No effect on single networks",
            -1.0, 1.0, DEFAULT_EXIT_THRESHOLD, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_EXIT_BUDGET,
        g_param_spec_double(
            "exit-budget", "Exit budget",
            "Early-exit cascades: target mean GFLOPs per frame; uses the model's budget "
            "(config.json) costing the most without exceeding it, or its cheapest one. When > 0 "
            "it overrides exit-threshold; 0 turns budget mode off. A model without budgets "
            "gets a warning and keeps exit-threshold",
            0.0, G_MAXDOUBLE, DEFAULT_EXIT_BUDGET, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_THREADS,
        g_param_spec_uint(
            "threads", "Threads",
            "Worker threads for this element's inference; 0 uses every online core. With "
            "several streams on one machine, give each a share of the cores",
            0, VIT_MAX_THREADS, DEFAULT_THREADS, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_POST_MESSAGES,
        g_param_spec_boolean(
            "post-messages", "Post messages",
            "Post a vit-classification element message on the bus for every classified frame; "
            "turn off when only the buffer meta is read (e.g. by vitoverlay or an appsink)",
            DEFAULT_POST_MESSAGES, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_FRAMES_SEEN,
        g_param_spec_uint64("frames-seen", "Frames seen",
                            "Frames received since the element last started", 0, G_MAXUINT64, 0,
                            ro));
    g_object_class_install_property(
        gobject_class, PROP_FRAMES_CLASSIFIED,
        g_param_spec_uint64(
            "frames-classified", "Frames classified",
            "Frames classified (with a meta and a message) since the element last started", 0,
            G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        gobject_class, PROP_FRAMES_SKIPPED,
        g_param_spec_uint64(
            "frames-skipped", "Frames skipped",
            "Frames due for classification but passed through unclassified because they were "
            "already late (QoS), since the element last started",
            0, G_MAXUINT64, 0, ro));
    g_object_class_install_property(
        gobject_class, PROP_MEAN_LATENCY_US,
        g_param_spec_uint64(
            "mean-latency-us", "Mean latency",
            "Mean wall time of one inference over the classified frames, in microseconds", 0,
            G_MAXUINT64, 0, ro));
}

static void gst_vit_classify_class_init(GstVitClassifyClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

    gobject_class->set_property = gst_vit_classify_set_property;
    gobject_class->get_property = gst_vit_classify_get_property;
    gobject_class->finalize = gst_vit_classify_finalize;
    gst_vit_classify_install_properties(gobject_class);

    gst_element_class_add_static_pad_template(element_class, &sink_template);
    gst_element_class_add_static_pad_template(element_class, &src_template);
    gst_element_class_set_static_metadata(
        element_class, "Vision transformer classifier", "Filter/Analyzer/Video",
        "Classifies video frames with a vision transformer; posts vit-classification "
        "messages and attaches GstVitClassificationMeta",
        "vitd developers");

    trans_class->start = GST_DEBUG_FUNCPTR(gst_vit_classify_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_vit_classify_stop);
    trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_vit_classify_set_caps);
    trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_vit_classify_sink_event);
    trans_class->src_event = GST_DEBUG_FUNCPTR(gst_vit_classify_src_event);
    trans_class->query = GST_DEBUG_FUNCPTR(gst_vit_classify_query);
    trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR(gst_vit_classify_prepare_output_buffer);
    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_vit_classify_transform_ip);
    trans_class->transform_ip_on_passthrough = TRUE;
    trans_class->passthrough_on_same_caps = TRUE;
}

static void gst_vit_classify_init(GstVitClassify *self)
{
    self->top_k = DEFAULT_TOP_K;
    self->interval = DEFAULT_INTERVAL;
    self->threshold = DEFAULT_THRESHOLD;
    self->exit_threshold = DEFAULT_EXIT_THRESHOLD;
    self->exit_budget = DEFAULT_EXIT_BUDGET;
    self->threads = DEFAULT_THREADS;
    self->post_messages = DEFAULT_POST_MESSAGES;
    gst_vit_lateness_init(&self->lateness);
    gst_video_info_init(&self->info);
    gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
