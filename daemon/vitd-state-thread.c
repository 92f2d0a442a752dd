/* vitd-state-thread.c — PLAYING and NULL for pipelines, each in a thread of its own.
 *
 * A PLAYING job is shared by its thread and its owner (two references). When the state change
 * returns, the thread hands its reference to an idle source on the default main context, whose
 * job_report() tells the owner; the owner may abandon the job before that. `abandoned` and
 * `returned` are the only fields both sides touch, under the job's lock, and they decide who
 * takes the pipeline to NULL: the thread, if it returns after the owner gave up; the owner, if
 * it gives up after the thread returned. A thread stuck for ever just stays (counted in
 * jobs_pending, so main() does not deinitialise GStreamer under it).
 *
 * The report is an idle source, never g_main_context_invoke(): that calls the function at once
 * in the calling thread whenever no g_main_loop_run() holds the context, as while vitd starts its
 * pipelines (before its loop runs). The owner's callback then ran in the start thread, and could
 * report (and free) a job before vitd_state_play() had returned it to the owner. */
#include "vitd-state-thread.h"

#include "vitd-validate.h"

struct _VitdStateJob {
    gint ref;
    GMutex lock;
    gboolean abandoned; /* the owner gave the job up */
    gboolean returned;  /* the state change returned */
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

/* On the main context: the state change returned. Owner and report both run here, so an owner
 * that abandoned the job did so before this ran (and stopped the pipeline, see abandon). */
static gboolean job_report(gpointer data)
{
    VitdStateJob *job = data;
    if (!job_is_abandoned(job)) {
        job->done(job->ret, job->stamp, job->user_data);
        job_unref(job); /* the owner's reference: the job is gone for the owner now */
    }
    job_unref(job); /* the thread's, which it handed to this source */
    return G_SOURCE_REMOVE;
}

static gpointer job_run(gpointer data)
{
    VitdStateJob *job = data;
    /* Before the element opens the files: a change after this shows at the next reload. */
    job->stamp = vitd_validate_files_stamp(job->model, job->labels);
    job->ret = gst_element_set_state(job->pipeline, GST_STATE_PLAYING);
    g_mutex_lock(&job->lock);
    job->returned = TRUE;
    gboolean abandoned = job->abandoned;
    g_mutex_unlock(&job->lock);
    if (abandoned) {
        gst_element_set_state(job->pipeline, GST_STATE_NULL);
        job_unref(job);
    } else {
        g_idle_add_full(G_PRIORITY_DEFAULT, job_report, job, NULL);
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
    gboolean returned = job->returned;
    g_mutex_unlock(&job->lock);
    /* Returned, its report not yet run: the pipeline reached (or failed) PLAYING and nobody
     * else will take it to NULL. */
    if (returned)
        vitd_state_stop(gst_object_ref(job->pipeline));
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
