/* vitd-validate.c — the checks vitd makes before it trusts a configuration, beyond its YAML:
 *
 *   - each pipeline description builds (gst_parse_launch), errors at the entry's FILE:LINE:COL;
 *   - a launch: pipeline, once built, holds only allowed elements (vp_launch_element_allowed),
 *     which catches what a text scan cannot see (URI elements, bins);
 *   - each model opens with libvit's vit_model_open(), as the element will open it, and each
 *     launch: labels= file reads and matches the model's class count; errors at the `model:`
 *     key's FILE:LINE:COL with libvit's message (which names the file and tensor).
 *
 * Opening a file can block forever (a FIFO named labels.txt, a hung network mount), so every
 * open runs in its own thread; the caller waits at most VITD_VALIDATE_TIMEOUT_US and then
 * reports the file as unresponsive, leaving the stuck thread behind (it owns its job). Files that
 * are not regular files are refused before anything opens them. Results are cached within one
 * pass by (path, device, inode, size, mtime) of the files (vit_model_stamp), so N pipelines on
 * one model open it once; the same identity, per pipeline, tells reload which pipelines run on
 * files that changed since they started. */
#include "vitd-validate.h"

#include "vit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef enum { JOB_MODEL, JOB_LABELS } JobKind;

/* One open in its own thread. Shared by the thread and the waiter; the last unref frees. */
typedef struct {
    gint ref;
    GMutex lock;
    GCond cond;
    gboolean done;
    JobKind kind;
    char *path;
    int r;
    int count; /* classes of the model, labels in the file */
    vit_error err;
} Job;

static void job_unref(Job *job)
{
    if (!g_atomic_int_dec_and_test(&job->ref))
        return;
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->cond);
    g_free(job->path);
    g_free(job);
}

static gpointer job_run(gpointer data)
{
    Job *job = data;
    int r, count = 0;
    vit_error err = {{0}};

    if (job->kind == JOB_MODEL) {
        vit_model *m = NULL;
        r = vit_model_open(job->path, &m, &err);
        if (r >= 0)
            count = vit_model_num_classes(m);
        vit_model_unref(m);
    } else {
        char **labels = NULL;
        r = vit_labels_read(job->path, &labels, &count, &err);
        if (r >= 0)
            vit_labels_free(labels, count);
    }
    g_mutex_lock(&job->lock);
    job->r = r;
    job->count = count;
    job->err = err;
    job->done = TRUE;
    g_cond_signal(&job->cond);
    g_mutex_unlock(&job->lock);
    job_unref(job);
    return NULL;
}

/* Runs KIND on PATH in a thread; returns its result, or -ETIMEDOUT after the timeout. */
static int job_open(JobKind kind, const char *path, int *ret_count, char **ret_message)
{
    Job *job = g_new0(Job, 1);
    job->ref = 2;
    g_mutex_init(&job->lock);
    g_cond_init(&job->cond);
    job->kind = kind;
    job->path = g_strdup(path);

    GError *error = NULL;
    GThread *thread = g_thread_try_new("vitd-validate", job_run, job, &error);
    if (!thread) {
        *ret_message = g_strdup_printf("cannot start a thread to open it: %s", error->message);
        g_error_free(error);
        job->ref = 1;
        job_unref(job);
        return -EAGAIN;
    }
    g_thread_unref(thread); /* detached: a stuck open must not hold anyone up */

    gint64 deadline = g_get_monotonic_time() + VITD_VALIDATE_TIMEOUT_US;
    int r;
    g_mutex_lock(&job->lock);
    while (!job->done)
        if (!g_cond_wait_until(&job->cond, &job->lock, deadline))
            break;
    if (job->done) {
        r = job->r;
        *ret_count = job->count;
        *ret_message = r < 0 ? g_strdup(job->err.message) : NULL;
    } else {
        r = -ETIMEDOUT;
        *ret_message = g_strdup_printf("%s did not open within %d s (a FIFO, a device or a hung "
                                       "mount?)",
                                       path, (int)(VITD_VALIDATE_TIMEOUT_US / G_USEC_PER_SEC));
    }
    g_mutex_unlock(&job->lock);
    job_unref(job);
    return r;
}

/* Appends "dev:ino:size:mtime" of PATH to KEY; refuses anything but a regular file (or, for
 * DIR_OK, a folder). A missing file is fine here (libvit decides whether it is needed). */
static gboolean stat_into_key(const char *path, gboolean dir_ok, GString *key, char **ret_message)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        g_string_append(key, "-|");
        return TRUE;
    }
    if (!S_ISREG(st.st_mode) && !(dir_ok && S_ISDIR(st.st_mode))) {
        *ret_message = g_strdup_printf("%s is not a regular file (%s): vitd will not open it", path,
                                       S_ISFIFO(st.st_mode)   ? "a FIFO"
                                       : S_ISCHR(st.st_mode)  ? "a character device"
                                       : S_ISSOCK(st.st_mode) ? "a socket"
                                                              : "not a plain file");
        return FALSE;
    }
    g_string_append_printf(key, "%ju:%ju:%jd:%jd.%09ld|", (uintmax_t)st.st_dev,
                           (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
                           st.st_mtim.tv_nsec);
    return TRUE;
}

/* The cache key of model PATH: the path and vit_model_stamp(), the identity of the files libvit
 * reads. NULL with a message when one of them must not be opened. */
static char *model_key(const char *path, char **ret_message)
{
    vit_error err = {{0}};
    char *stamp = NULL;
    if (vit_model_stamp(path, &stamp, &err) < 0) {
        *ret_message = g_strdup(err.message);
        return NULL;
    }
    char *key = g_strconcat(path, "|", stamp, NULL);
    free(stamp);
    return key;
}

char *vitd_validate_files_stamp(const char *model, const char *labels)
{
    g_autofree char *message = NULL;
    g_autofree char *key = model ? model_key(model, &message) : g_strdup("-");
    g_autoptr(GString) stamp = g_string_new(key);
    if (!key)
        return NULL;
    g_string_append(stamp, "|labels=");
    if (labels && !stat_into_key(labels, FALSE, stamp, &message))
        return NULL;
    return g_string_free(g_steal_pointer(&stamp), FALSE);
}

/* One finished model check, cached for the pass. */
typedef struct {
    char *message; /* NULL when the model opened */
    int num_classes;
} ModelResult;

static void model_result_free(gpointer data)
{
    ModelResult *res = data;
    g_free(res->message);
    g_free(res);
}

static const ModelResult *check_model(GHashTable *cache, const char *path)
{
    char *message = NULL;
    char *key = model_key(path, &message);
    ModelResult *res;

    if (key && (res = g_hash_table_lookup(cache, key))) {
        g_free(key);
        return res;
    }
    res = g_new0(ModelResult, 1);
    if (!key) {
        res->message = message;
        g_hash_table_insert(cache, g_strconcat("!", path, NULL), res);
        return res;
    }
    if (job_open(JOB_MODEL, path, &res->num_classes, &res->message) >= 0)
        g_clear_pointer(&res->message, g_free);
    g_hash_table_insert(cache, key, res);
    return res;
}

static void add_line(GString *errors, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void add_line(GString *errors, const char *format, ...)
{
    va_list ap;
    if (errors->len > 0)
        g_string_append_c(errors, '\n');
    va_start(ap, format);
    g_string_append_vprintf(errors, format, ap);
    va_end(ap);
}

static void check_labels(const VpPipelineSpec *spec, const ModelResult *model, GString *errors)
{
    g_autofree char *message = NULL;
    g_autoptr(GString) key = g_string_new(NULL);
    int count = 0;

    if (!stat_into_key(spec->labels, FALSE, key, &message) ||
        job_open(JOB_LABELS, spec->labels, &count, &message) < 0)
        add_line(errors, "%s: pipeline '%s': labels: %s", spec->model_at, spec->name, message);
    else if (model && !model->message && count != model->num_classes)
        add_line(errors, "%s: pipeline '%s': labels file %s has %d labels, model %s has %d classes",
                 spec->model_at, spec->name, spec->labels, count, spec->model, model->num_classes);
}

/* Checks the elements of BIN the launch text made: descends into plain bins ("( ... )"), not
 * into allowed elements, whose insides (decodebin's typefind...) are theirs. */
static gboolean check_bin(GstBin *bin, const char *const *extra, GError **error)
{
    g_autoptr(GstIterator) it = gst_bin_iterate_elements(bin);
    GValue item = G_VALUE_INIT;
    gboolean ok = TRUE;

    while (ok && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
        GstElement *e = g_value_get_object(&item);
        GstElementFactory *f = gst_element_get_factory(e);
        const char *name = f ? gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(f)) : NULL;
        if (GST_IS_BIN(e) && (!name || !strcmp(name, "bin") || !strcmp(name, "pipeline"))) {
            ok = check_bin(GST_BIN(e), extra, error);
        } else if (!name || !vp_launch_element_allowed(name, extra)) {
            g_set_error(error, VP_CONFIG_ERROR, VP_CONFIG_ERROR_INVALID,
                        "element '%s' (%s) is not on vitd's allow-list (it may write files or "
                        "descriptors); add '%s' to 'launch-allow:' in vitd.yaml to permit it",
                        GST_ELEMENT_NAME(e), name ? name : "no factory", name ? name : "?");
            ok = FALSE;
        }
        g_value_reset(&item);
    }
    g_value_unset(&item);
    return ok;
}

gboolean vitd_validate_elements(GstElement *pipeline, const char *const *extra, GError **error)
{
    return check_bin(GST_BIN(pipeline), extra, error);
}

static void check_launch(const VpConfig *config, const VpPipelineSpec *spec, GString *errors)
{
    g_autofree char *desc = vp_spec_to_launch(spec);
    g_autoptr(GError) err = NULL;
    g_autoptr(GstElement) e = gst_parse_launch_full(desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &err);

    if (e && spec->launch && GST_IS_BIN(e))
        vitd_validate_elements(e, (const char *const *)config->launch_allow, &err);
    if (err)
        add_line(errors, "%s:%d:%d: pipeline '%s': %s", spec->file, spec->line, spec->column,
                 spec->name, err->message);
}

gboolean vitd_validate_config(const VpConfig *config, GString *errors, GHashTable *stamps)
{
    g_autoptr(GHashTable) cache =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, model_result_free);
    gsize before = errors->len;

    for (guint i = 0; i < config->pipelines->len; i++) {
        const VpPipelineSpec *spec = config->pipelines->pdata[i];
        const ModelResult *model = NULL;

        if (stamps) /* before the checks: what they see is then at least as new */
            g_hash_table_replace(stamps, g_strdup(spec->name),
                                 vitd_validate_files_stamp(spec->model, spec->labels));
        check_launch(config, spec, errors);
        if (spec->model) {
            model = check_model(cache, spec->model);
            if (model->message)
                add_line(errors, "%s: pipeline '%s': model %s: %s",
                         spec->model_at ? spec->model_at : spec->file, spec->name, spec->model,
                         model->message);
        }
        if (spec->labels)
            check_labels(spec, model, errors);
    }
    return errors->len == before;
}

VpConfig *vitd_validate_load(const char *config_path, GHashTable *stamps, GError **error)
{
    VpConfig *config = vp_config_load(config_path, error);
    if (!config)
        return NULL;
    g_autoptr(GString) errors = g_string_new(NULL);
    if (vitd_validate_config(config, errors, stamps))
        return config;
    g_set_error_literal(error, VP_CONFIG_ERROR, VP_CONFIG_ERROR_INVALID, errors->str);
    vp_config_free(config);
    return NULL;
}
