/* gstvitclassify-transform.c — vitclassify while streaming: caps select the pixel layout
 * handed to libvit; stream-start and flushes restart frame indices; latency queries and QoS
 * events feed gstvitlateness.c, which decides whether a frame is too late; and each frame due
 * under `interval` is classified, its top classes attached as a GstVitClassificationMeta and
 * posted as a `vit-classification` message (built in gstvitresult.c). */
#include "gstvitclassify-private.h"

#include <string.h>

#include "gstvitmeta.h"
#include "gstvitresult.h"

#define GST_CAT_DEFAULT gst_vit_classify_debug

static GstBaseTransformClass *parent_class;

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
    return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_vit_classify_src_event(GstBaseTransform *trans, GstEvent *event)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    gst_vit_lateness_observe_event(&self->lateness, event);
    /* QoS goes on upstream past the base class, which (with qos on) would drop late frames:
     * here they pass through, unclassified. */
    if (GST_EVENT_TYPE(event) == GST_EVENT_QOS)
        return gst_pad_push_event(GST_BASE_TRANSFORM_SINK_PAD(trans), event);
    return GST_BASE_TRANSFORM_CLASS(parent_class)->src_event(trans, event);
}

/* A latency query passing through on its way upstream: remember what upstream answered
 * (the live check needs it) and add the time inference holds each frame. */
static gboolean gst_vit_classify_query(GstBaseTransform *trans, GstPadDirection direction,
                                       GstQuery *query)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(trans);

    if (!GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query))
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
    if (!gst_base_transform_is_qos_enabled(GST_BASE_TRANSFORM(self)))
        return FALSE; /* qos=false: every due frame is classified, however late */
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

void gst_vit_classify_transform_class_init(GstBaseTransformClass *trans_class)
{
    parent_class = g_type_class_peek_parent(trans_class);
    trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_vit_classify_set_caps);
    trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_vit_classify_sink_event);
    trans_class->src_event = GST_DEBUG_FUNCPTR(gst_vit_classify_src_event);
    trans_class->query = GST_DEBUG_FUNCPTR(gst_vit_classify_query);
    trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR(gst_vit_classify_prepare_output_buffer);
    trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_vit_classify_transform_ip);
    trans_class->transform_ip_on_passthrough = TRUE;
    trans_class->passthrough_on_same_caps = TRUE;
}
