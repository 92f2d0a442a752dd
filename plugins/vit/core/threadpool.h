/* threadpool.h — a session's own worker threads.
 *
 * A pool of T threads means the caller plus T-1 workers; T = 1 creates no thread at all. Work is
 * handed out as task indices [0, n): the caller runs tasks too, and run() returns when every
 * task is done. One run at a time per pool (a pool belongs to one session). */
#ifndef VIT_THREADPOOL_H
#define VIT_THREADPOOL_H

#include "vit.h"

typedef struct vit_threadpool vit_threadpool;
typedef void (*vit_task_fn)(void *ctx, int task, int num_tasks);

int vit_threadpool_new(int threads, vit_threadpool **ret_pool, vit_error *err);
/* Joins the workers. Accepts NULL; returns NULL. */
vit_threadpool *vit_threadpool_free(vit_threadpool *pool);
/* Total threads (caller included); 1 for a NULL pool. */
int vit_threadpool_threads(const vit_threadpool *pool);
/* Runs fn(ctx, i, n) for every i in [0, n); pool may be NULL (runs inline). */
void vit_threadpool_run(vit_threadpool *pool, int n, vit_task_fn fn, void *ctx);

#endif
