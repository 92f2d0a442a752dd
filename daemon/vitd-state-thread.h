/* vitd-state-thread.h — GStreamer state changes off the main loop. Internal to vitd.
 *
 * The element opens its model while going to PAUSED, and a model file can block for ever (a
 * FIFO, a hung mount); an element stopping may then wait on a lock that stuck open holds. So
 * vitd never changes a pipeline's state on the main loop: PLAYING and NULL are set in threads of
 * their own, and the outcome of PLAYING comes back on the main context. */
#pragma once

#include <gst/gst.h>

typedef struct _VitdStateJob VitdStateJob;

/* Called on the main context with what gst_element_set_state(PLAYING) returned, and the
 * identity of the run's files (vitd_validate_files_stamp, taken just before; may be NULL). */
typedef void (*VitdStateDone)(GstStateChangeReturn ret, const char *stamp, gpointer user_data);

/* Sets PIPELINE (a reference is taken) to PLAYING in a new thread, after taking the stamp of
 * MODEL and LABELS (either may be NULL) there; DONE(ret, stamp, USER_DATA) runs when that returns,
 * unless the job was abandoned first, from an idle source on the default main context: in the
 * thread that runs that context's loop, never within this call nor in the start thread, even when
 * no loop runs yet. The job is gone once DONE has run. Returns NULL when no thread could be
 * started. */
VitdStateJob *vitd_state_play(GstElement *pipeline, const char *model, const char *labels,
                              VitdStateDone done, gpointer user_data);
/* Gives JOB up (on the main context, before its DONE ran): DONE is never called, and the
 * pipeline goes to NULL in a thread, now if its state change returned, else when (if ever) it
 * does. */
void vitd_state_abandon(VitdStateJob *job);
/* Sets PIPELINE to NULL and drops the caller's reference, in a new thread. */
void vitd_state_stop(GstElement *pipeline);

/* Threads of this module still busy (a state change that has not returned, maybe never will). */
guint vitd_state_jobs_pending(void);
/* Waits until none is busy, at most TIMEOUT_US. */
void vitd_state_wait_jobs(gint64 timeout_us);
