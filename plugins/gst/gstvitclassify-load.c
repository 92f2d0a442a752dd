/* gstvitclassify-load.c — vitclassify between READY and PAUSED: start() takes the model from
 * the process-wide cache (gstvitmodelcache.c), applies the labels file (libvit's
 * vit_labels_read), creates this element's session and times a warm-up run for the latency it
 * reports; stop() gives all of it back. Failures become resource errors naming the file. */
#include "gstvitclassify-private.h"

#include <errno.h>

#include "gstvitmodelcache.h"

#define GST_CAT_DEFAULT gst_vit_classify_debug

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
    vit_session_options opts = {0};
    vit_error err;
    gint i, r;

    GST_OBJECT_LOCK(self);
    model_path = g_strdup(self->model_path);
    labels_path = g_strdup(self->labels_path);
    opts.threads = self->threads ? (int)self->threads : (int)gst_vit_classify_auto_threads();
    opts.exit_threshold = (float)self->exit_threshold;
    opts.precision = (vit_precision)self->precision;
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
    GST_INFO_OBJECT(self, "model %s (%s, %d classes, %d exits), %d threads, %s", model_path,
                    vit_model_architecture(self->model), self->num_classes,
                    vit_model_num_exits(self->model), opts.threads,
                    vit_precision_name(vit_session_precision(self->session)));
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

void gst_vit_classify_load_class_init(GstBaseTransformClass *trans_class)
{
    trans_class->start = GST_DEBUG_FUNCPTR(gst_vit_classify_start);
    trans_class->stop = GST_DEBUG_FUNCPTR(gst_vit_classify_stop);
}
