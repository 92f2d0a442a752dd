/* vitd-state-thread.c — PLAYING and NULL for pipelines, each in a thread of its own.
 *
 * A PLAYING job is shared by its thread and its owner (two references). The thread reports on
 * the main context through g_main_context_invoke; the owner may abandon the job before that,
 * after which the thread itself stops and drops the pipeline. `abandoned` is the only field both
 * sides touch, under the job's lock. A thread stuck for ever just stays (counted in
 * jobs_pending, so main() does not deinitialise GStreamer under it). */
#include "vitd-state-thread.h"

#include "vitd-validate.h"

struct _VitdStateJob {
    gint ref;
    GMutex lock;
    gboolean abandoned;
    GstElement *pipeline;
    GstStateChangeReturn ret;
    char *model, *labels, *stamp; /* the run's files, and their identity before PLAYING */
    VitdStateDone done;
    gpointer user_data;
};

static gint jobs_pending;

guint vitd_state_jobs_pending(void)
{
    return (guint)g_atomic_int_get(&jobs_pending);
}

void vitd_state_wait_jobs(gint64 timeout_us)
{
    gint64 end = g_get_monotonic_time() + timeout_us;
    while (vitd_state_jobs_pending() > 0 && g_get_monotonic_time() < end)
        g_usleep(10 * 1000);
}

static void job_unref(VitdStateJob *job)
{
    if (!g_atomic_int_dec_and_test(&job->ref))
        return;
    gst_object_unref(job->pipeline);
    g_free(job->model);
    g_free(job->labels);
    g_free(job->stamp);
    g_mutex_clear(&job->lock);
    g_free(job);
}

static gboolean job_is_abandoned(VitdStateJob *job)
{
    g_mutex_lock(&job->lock);
    gboolean abandoned = job->abandoned;
    g_mutex_unlock(&job->lock);
    return abandoned;
}

/* On the main context: the state change returned. */
static gboolean job_report(gpointer data)
{
    VitdStateJob *job = data;
    if (job_is_abandoned(job)) {
        /* Abandoned after the thread looked (the bus watch saw the element's error first): the
         * pipeline was left where PLAYING failed, so it still has to go to NULL, off this loop. */
        vitd_state_stop(gst_object_ref(job->pipeline));
    } else {
        job->done(job->ret, job->stamp, job->user_data);
        job_unref(job); /* the owner's reference: the job is gone for the owner now */
    }
    job_unref(job);
    return G_SOURCE_REMOVE;
}

static gpointer job_run(gpointer data)
{
    VitdStateJob *job = data;
    /* Before the element opens the files: a change after this shows at the next reload. */
    job->stamp = vitd_validate_files_stamp(job->model, job->labels);
    job->ret = gst_element_set_state(job->pipeline, GST_STATE_PLAYING);
    if (job_is_abandoned(job)) {
        gst_element_set_state(job->pipeline, GST_STATE_NULL);
        job_unref(job);
    } else {
        g_main_context_invoke(NULL, job_report, job);
    }
    g_atomic_int_dec_and_test(&jobs_pending);
    return NULL;
}

VitdStateJob *vitd_state_play(GstElement *pipeline, const char *model, const char *labels,
                              VitdStateDone done, gpointer user_data)
{
    VitdStateJob *job = g_new0(VitdStateJob, 1);
    job->ref = 2; /* the owner's and the thread's */
    g_mutex_init(&job->lock);
    job->pipeline = gst_object_ref(pipeline);
    job->model = g_strdup(model);
    job->labels = g_strdup(labels);
    job->done = done;
    job->user_data = user_data;
    g_atomic_int_inc(&jobs_pending);
    GThread *thread = g_thread_try_new("vitd-start", job_run, job, NULL);
    if (thread) {
        g_thread_unref(thread); /* detached */
        return job;
    }
    g_atomic_int_dec_and_test(&jobs_pending);
    job->ref = 1;
    job_unref(job);
    return NULL;
}

void vitd_state_abandon(VitdStateJob *job)
{
    g_mutex_lock(&job->lock);
    job->abandoned = TRUE;
    g_mutex_unlock(&job->lock);
    job_unref(job);
}

static gpointer stop_run(gpointer data)
{
    GstElement *pipeline = data;
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
    g_atomic_int_dec_and_test(&jobs_pending);
    return NULL;
}

void vitd_state_stop(GstElement *pipeline)
{
    g_atomic_int_inc(&jobs_pending);
    GThread *thread = g_thread_try_new("vitd-stop", stop_run, pipeline, NULL);
    if (thread)
        g_thread_unref(thread);
    else
        stop_run(pipeline); /* no thread to be had: stop it here */
}
