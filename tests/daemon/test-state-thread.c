/* test-state-thread.c — PLAYING and NULL off the main loop (daemon/vitd-state-thread.c).
 *
 * vitd starts its pipelines before its main loop runs. A start that returns then must still be
 * reported on the main thread, once the loop runs, and never from the start thread: reported
 * from there, the job could be reported and freed before vitd_state_play() had returned it to
 * its owner, which kept a dangling pointer and hung the main loop on the next StopPipeline.
 * These tests hold the default main context unrun until the start thread has returned. */
#include <gst/gst.h>

#include "check-runner.h"
#include "vitd-state-thread.h"

#define WAIT_US (20 * G_USEC_PER_SEC)

typedef struct {
    guint calls;
    GThread *thread; /* where DONE ran */
    GstStateChangeReturn ret;
} Done;

static void on_done(GstStateChangeReturn ret, const char *stamp, gpointer data)
{
    Done *d = data;
    d->calls++;
    d->thread = g_thread_self();
    d->ret = ret;
}

/* Waits (without running the main context) until no start or stop thread is busy. */
static void wait_jobs(void)
{
    vitd_state_wait_jobs(WAIT_US);
    ck_assert_uint_eq(vitd_state_jobs_pending(), 0);
}

/* Runs the default main context until nothing is left to dispatch (the start thread attached
 * its report before it stopped counting in vitd_state_jobs_pending). */
static void run_context(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

static GstElement *new_pipeline(void)
{
    gst_init(NULL, NULL);
    GError *err = NULL;
    GstElement *p = gst_parse_launch("fakesrc ! fakesink", &err);
    ck_assert_msg(p, "%s", err ? err->message : "?");
    return p;
}

static GstState current_state(GstElement *p)
{
    GstState state = GST_STATE_VOID_PENDING;
    gst_element_get_state(p, &state, NULL, 5 * GST_SECOND);
    return state;
}

START_TEST(test_start_is_reported_on_the_main_thread_once_the_loop_runs)
{
    GstElement *p = new_pipeline();
    Done d = {0};
    VitdStateJob *job = vitd_state_play(p, NULL, NULL, on_done, &d);
    ck_assert_ptr_nonnull(job);
    wait_jobs(); /* PLAYING returned, and no loop ran the default context meanwhile */
    ck_assert_msg(d.calls == 0, "the start was reported from the start thread");
    run_context();
    ck_assert_uint_eq(d.calls, 1);
    ck_assert_ptr_eq(d.thread, g_thread_self());
    ck_assert_int_ne(d.ret, GST_STATE_CHANGE_FAILURE);
    ck_assert_int_eq(current_state(p), GST_STATE_PLAYING);
    vitd_state_stop(p);
    wait_jobs();
}
END_TEST

START_TEST(test_abandoned_after_it_returned_the_pipeline_stops_and_nothing_reports)
{
    GstElement *p = new_pipeline();
    Done d = {0};
    VitdStateJob *job = vitd_state_play(p, NULL, NULL, on_done, &d);
    ck_assert_ptr_nonnull(job);
    wait_jobs();
    vitd_state_abandon(job); /* its report is queued but has not run */
    wait_jobs();
    ck_assert_int_eq(current_state(p), GST_STATE_NULL);
    run_context(); /* the queued report runs and finds the job abandoned */
    ck_assert_uint_eq(d.calls, 0);
    gst_object_unref(p);
}
END_TEST

static Suite *state_thread_suite(void)
{
    const TTest *const tests[] = {
        test_start_is_reported_on_the_main_thread_once_the_loop_runs,
        test_abandoned_after_it_returned_the_pipeline_stops_and_nothing_reports,
    };
    return check_runner_suite("state-thread", "jobs", tests, CHECK_RUNNER_N(tests));
}

int main(void)
{
    const CheckSuiteMaker suites[] = {state_thread_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
