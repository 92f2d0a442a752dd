/* gstvitclassify.c — the vitclassify element: libvit on every Nth video frame, results as a
 * GstVitClassificationMeta on the buffer and a "vit-classification" message on the bus.
 *
 * The element is a passthrough, in-place GstBaseTransform: frames leave exactly as they came
 * and are never copied (a buffer shared with another branch gets a shallow copy, sharing its
 * pixel memory, so the meta can be attached). The model is loaded at READY->PAUSED through a
 * process-wide cache (gstvitmodelcache.c), so elements naming the same model share one
 * vit_model; each element has its own vit_session (scratch arena and worker threads). Whether a
 * frame is too late to classify is decided in gstvitlateness.c, the reported classes and the
 * message are built in gstvitresult.c.
 *
 * This file holds the type, its properties and the documentation; loading lives in
 * gstvitclassify-load.c and streaming in gstvitclassify-transform.c (see
 * gstvitclassify-private.h). */

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
 * Quality of service (the `qos` property, on by default): the element never queues frames. A
 * frame due for classification is passed through unclassified (and counted in `frames-skipped`)
 * when a downstream QoS event says its running time is already past, or when the source is live,
 * the pipeline is playing and the frame is already past its deadline (running time plus the
 * pipeline latency) when it arrives: inference is not keeping up, and skipping lets it catch up
 * with the newest frames, so whatever waits upstream (a queue) stays bounded by the latency. On a
 * live source the element adds its inference time (measured by a warm-up run at start) to the
 * latency it reports, so frames classified in time are shown in time. Late frames are never
 * dropped. With `qos=false` every due frame is classified however late (offline processing of a
 * file where each frame matters; a live source then backs up).
 *
 * A missing or unreadable model, or a labels file that does not match it, fails the
 * READY->PAUSED state change with a resource error naming the file.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=30 ! \
 *     vitclassify model=/usr/share/vitd/models/fmnist-vit-tiny ! fakesink
 * gst-launch-1.0 v4l2src ! vitclassify model=/path/to/model top-k=3 ! vitoverlay ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#include "config.h"

#include "gstvitclassify-private.h"
#include "gstvitfieldprops.h"
#include "gstvitpads.h"
#include "vitclassify-names.h"

/* The long description gst-inspect-1.0 prints: the message contract and example pipelines,
 * spelled with the contract's own names (vitclassify-names.h) so the two cannot drift. */
#define GST_VIT_CLASSIFY_DESCRIPTION                                                               \
    "Classifies video frames with a vision transformer (a timm-layout model folder: "              \
    "model.safetensors + config.json). Frames pass through unchanged. Each classified frame "      \
    "gets a GstVitClassificationMeta and, with post-messages=true, an element message "            \
    "\"" VIT_CLASSIFICATION_MESSAGE "\" on the bus with the fields:\n"                             \
    "    " VIT_CLASSIFICATION_FIELD_FRAME " (guint64): index of the frame since the stream "       \
    "started or was flushed (skipped frames count)\n"                                              \
    "    " VIT_CLASSIFICATION_FIELD_TIMESTAMP " (guint64, ns): the buffer's PTS\n"                 \
    "    " VIT_CLASSIFICATION_FIELD_STREAM_TIME " (guint64, ns): PTS in stream time\n"             \
    "    " VIT_CLASSIFICATION_FIELD_RUNNING_TIME " (guint64, ns): PTS in running time\n"           \
    "    " VIT_CLASSIFICATION_FIELD_DURATION " (guint64, ns): the buffer's duration\n"             \
    "    " VIT_CLASSIFICATION_FIELD_LABELS " (array of strings): at most top-k classes reaching "  \
    "threshold, most probable first\n"                                                             \
    "    " VIT_CLASSIFICATION_FIELD_SCORES " (array of doubles): softmax probability of each "     \
    "label\n"                                                                                      \
    "    " VIT_CLASSIFICATION_FIELD_CLASS_IDS " (array of ints): each label's index in the "       \
    "model's output\n"                                                                             \
    "    " VIT_CLASSIFICATION_FIELD_EXIT " (guint): the early exit of a cascade that answered, "   \
    "0 for single networks\n"                                                                      \
    "    " VIT_CLASSIFICATION_FIELD_LATENCY_US " (guint64): wall time of the inference, "          \
    "microseconds\n"                                                                               \
    "Frames are never queued or dropped: with qos=true (the default) a frame that is already "     \
    "late passes through unclassified and is counted in frames-skipped; qos=false classifies "     \
    "every due frame however late.\n"                                                              \
    "Examples:\n"                                                                                  \
    "    gst-launch-1.0 -m videotestsrc num-buffers=30 ! vitclassify "                             \
    "model=/usr/share/vitd/models/fmnist-vit-tiny ! fakesink\n"                                    \
    "    gst-launch-1.0 v4l2src ! videoconvert ! vitclassify model=/path/to/model top-k=3 "        \
    "interval=5 ! vitoverlay ! videoconvert ! autovideosink"

GST_DEBUG_CATEGORY(gst_vit_classify_debug);
#define GST_CAT_DEFAULT gst_vit_classify_debug

#define DEFAULT_TOP_K 5
#define DEFAULT_INTERVAL 1
#define DEFAULT_THRESHOLD 0.0
#define DEFAULT_EXIT_THRESHOLD -1.0
#define DEFAULT_EXIT_BUDGET 0.0
#define DEFAULT_THREADS 0
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_PRECISION VIT_PRECISION_FP32

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
    PROP_PRECISION,
    PROP_FRAMES_SEEN,
    PROP_FRAMES_CLASSIFIED,
    PROP_FRAMES_SKIPPED,
    PROP_MEAN_LATENCY_US,
};

G_DEFINE_TYPE(GstVitClassify, gst_vit_classify, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(
    vitclassify, "vitclassify", GST_RANK_NONE, GST_TYPE_VIT_CLASSIFY,
    GST_DEBUG_CATEGORY_INIT(gst_vit_classify_debug, "vitclassify", 0,
                            "vision-transformer video classifier"));

/* ---- properties ---------------------------------------------------------------------------- */

/* Where each property lives in the instance; all of them are under the object lock. */
static const gsize gst_vit_classify_fields[] = {
    [PROP_MODEL] = G_STRUCT_OFFSET(GstVitClassify, model_path),
    [PROP_LABELS] = G_STRUCT_OFFSET(GstVitClassify, labels_path),
    [PROP_TOP_K] = G_STRUCT_OFFSET(GstVitClassify, top_k),
    [PROP_INTERVAL] = G_STRUCT_OFFSET(GstVitClassify, interval),
    [PROP_THRESHOLD] = G_STRUCT_OFFSET(GstVitClassify, threshold),
    [PROP_EXIT_THRESHOLD] = G_STRUCT_OFFSET(GstVitClassify, exit_threshold),
    [PROP_EXIT_BUDGET] = G_STRUCT_OFFSET(GstVitClassify, exit_budget),
    [PROP_THREADS] = G_STRUCT_OFFSET(GstVitClassify, threads),
    [PROP_POST_MESSAGES] = G_STRUCT_OFFSET(GstVitClassify, post_messages),
    [PROP_PRECISION] = G_STRUCT_OFFSET(GstVitClassify, precision),
    [PROP_FRAMES_SEEN] = G_STRUCT_OFFSET(GstVitClassify, frames_seen),
    [PROP_FRAMES_CLASSIFIED] = G_STRUCT_OFFSET(GstVitClassify, frames_classified),
    [PROP_FRAMES_SKIPPED] = G_STRUCT_OFFSET(GstVitClassify, frames_skipped),
    [PROP_MEAN_LATENCY_US] = 0, /* computed */
};

#define GST_TYPE_VIT_PRECISION (gst_vit_precision_get_type())

/* libvit's vit_precision as a GEnum: gst-launch and gst-inspect use the nicks. */
static GType gst_vit_precision_get_type(void)
{
    static gsize type = 0;
    static const GEnumValue values[] = {
        {VIT_PRECISION_FP32, "Single precision everywhere", "fp32"},
        {VIT_PRECISION_BF16, "bf16 weight products (AVX512-BF16), fp32 sums; fails without it",
         "bf16"},
        {VIT_PRECISION_AUTO, "bf16 where the CPU has AVX512-BF16, else fp32", "auto"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstVitPrecision", values));
    return (GType)type;
}

/* Elements that exist in this process (init to finalize): `threads` 0 divides the cores by it. */
static gint gst_vit_classify_instances;

guint gst_vit_classify_auto_threads(void)
{
    guint cores = g_get_num_processors();
    guint live = (guint)MAX(1, g_atomic_int_get(&gst_vit_classify_instances));
    return MAX(1u, MIN(cores / live, (guint)VIT_MAX_THREADS));
}

static void gst_vit_classify_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(object);

    GST_OBJECT_LOCK(self);
    if (gst_vit_field_props_set(object, gst_vit_classify_fields,
                                G_N_ELEMENTS(gst_vit_classify_fields), prop_id, value, pspec) &&
        (prop_id == PROP_EXIT_THRESHOLD || prop_id == PROP_EXIT_BUDGET))
        self->exit_threshold_changed = TRUE; /* the session learns it with the next frame */
    GST_OBJECT_UNLOCK(self);
}

static void gst_vit_classify_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(object);

    GST_OBJECT_LOCK(self);
    if (prop_id == PROP_MEAN_LATENCY_US)
        g_value_set_uint64(value, self->frames_classified
                                      ? (self->latency_sum_us + self->frames_classified / 2) /
                                            self->frames_classified
                                      : 0);
    else if (!gst_vit_field_props_get(object, gst_vit_classify_fields,
                                      G_N_ELEMENTS(gst_vit_classify_fields), prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    GST_OBJECT_UNLOCK(self);
}

static void gst_vit_classify_finalize(GObject *object)
{
    GstVitClassify *self = GST_VIT_CLASSIFY(object);

    g_atomic_int_add(&gst_vit_classify_instances, -1);
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
            "Worker threads for this element's inference; 0 shares the online cores (those this "
            "process may run on) among the vitclassify elements of the process: each gets "
            "max(1, cores / elements), counted when it starts, so streams started together "
            "never oversubscribe the cores",
            0, VIT_MAX_THREADS, DEFAULT_THREADS, rw | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_POST_MESSAGES,
        g_param_spec_boolean(
            "post-messages", "Post messages",
            "Post a vit-classification element message on the bus for every classified frame; "
            "turn off when only the buffer meta is read (e.g. by vitoverlay or an appsink)",
            DEFAULT_POST_MESSAGES, rw | GST_PARAM_MUTABLE_PLAYING));
    g_object_class_install_property(
        gobject_class, PROP_PRECISION,
        g_param_spec_enum(
            "precision", "Precision",
            "Arithmetic of the matrix products: fp32; bf16 (weights in bfloat16, shared by the "
            "elements on one model, sums in fp32: faster, logits move by ~1e-2; fails to start "
            "on a CPU without AVX512-BF16); auto (bf16 where the CPU has it)",
            GST_TYPE_VIT_PRECISION, DEFAULT_PRECISION, rw | GST_PARAM_MUTABLE_READY));
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

    gst_vit_add_video_pad_templates(element_class);
    gst_element_class_set_static_metadata(element_class, "Vision transformer classifier",
                                          "Filter/Analyzer/Video", GST_VIT_CLASSIFY_DESCRIPTION,
                                          "vitd developers");

    gst_vit_classify_load_class_init(trans_class);
    gst_vit_classify_transform_class_init(trans_class);
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
    self->precision = DEFAULT_PRECISION;
    g_atomic_int_inc(&gst_vit_classify_instances);
    gst_vit_lateness_init(&self->lateness);
    gst_video_info_init(&self->info);
    gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
    gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), TRUE);
}
