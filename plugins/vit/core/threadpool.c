/* threadpool.c — caller-plus-workers pool with a short spin before sleeping.
 *
 * A run bumps a generation counter; workers spin briefly on it (a frame issues a dozen runs in
 * quick succession, and a condition-variable wake-up costs more than the spin), then sleep on a
 * condition variable. Tasks are claimed from a bit mask (runs of up to 64 tasks: each thread
 * its own first, see run_tasks) or an atomic counter; the last worker to finish wakes the
 * caller. Both waits re-check their condition under the mutex, so no wake-up is lost. */
#include "core/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/gemm.h"

#define SPIN_ITERATIONS 4000

typedef struct worker {
    struct vit_threadpool *pool;
    int id; /* 1 .. num_threads - 1; the caller is 0 */
    pthread_t thread;
} worker;

struct vit_threadpool {
    int num_threads;
    worker *workers;
    int num_workers_started;
    pthread_mutex_t mutex;
    pthread_cond_t wake, done;
    atomic_uint generation;
    atomic_int next_task;
    _Atomic unsigned long long claimed; /* runs of up to 64 tasks: bit i = task i taken */
    atomic_int busy;
    int num_tasks;
    vit_task_fn fn;
    void *ctx;
    vit_gemm_weights *gemm; /* the caller's packed weights (gemm.h), used by the workers too */
    int stop;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* A pause, and now and then a yield: on a busy machine the thread being waited for may be
 * queued behind this one on the same core. */
static inline void spin_pause(int i)
{
    if ((i & 255) == 255)
        sched_yield();
    else
        cpu_relax();
}

/* Takes task I of a short run; 0 if another thread has it already. */
static int claim(vit_threadpool *pool, int i)
{
    unsigned long long bit = 1ull << i;
    if (atomic_load_explicit(&pool->claimed, memory_order_relaxed) & bit)
        return 0;
    return !(atomic_fetch_or_explicit(&pool->claimed, bit, memory_order_relaxed) & bit);
}

/* Runs of up to 64 tasks keep an affinity: thread t first takes tasks t, t + T, ..., then
 * whatever is still untaken. Every row-parallel step of a block splits the rows the same way, so
 * a thread mostly reads rows its own core just wrote (they are still in its L2), and a late
 * thread's tasks are still picked up by the others. Longer runs share one counter. */
static void run_tasks(vit_threadpool *pool, int self)
{
    int n = pool->num_tasks, T = pool->num_threads;
    if (n <= 64) {
        for (int i = self; i < n; i += T)
            if (claim(pool, i))
                pool->fn(pool->ctx, i, n);
        for (int k = 1; k <= n; k++)
            if (claim(pool, (self + k) % n))
                pool->fn(pool->ctx, (self + k) % n, n);
        return;
    }
    for (;;) {
        int i = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
        if (i >= n)
            break;
        pool->fn(pool->ctx, i, n);
    }
}

static void *worker_main(void *arg)
{
    const worker *self = arg;
    vit_threadpool *pool = self->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int i = 0; i < SPIN_ITERATIONS && g == seen; i++) {
            spin_pause(i);
            g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mutex);
            while ((g = atomic_load(&pool->generation)) == seen && !pool->stop)
                pthread_cond_wait(&pool->wake, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
        }
        if (g == seen) /* woken to stop */
            break;
        seen = g;
        vit_gemm_use(pool->gemm);
        run_tasks(pool, self->id);
        if (atomic_fetch_sub_explicit(&pool->busy, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

int vit_threadpool_new(int threads, vit_threadpool **ret_pool, vit_error *err)
{
    if (threads < 1 || threads > 1024)
        return vit_errorf(err, -EINVAL, "threads must be in [1, 1024], not %d", threads);
    vit_threadpool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return vit_errorf(err, -ENOMEM, "out of memory creating a thread pool");
    pool->num_threads = threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (threads > 1) {
        pool->workers = calloc((size_t)threads - 1, sizeof(worker));
        if (!pool->workers) {
            vit_threadpool_free(pool);
            return vit_errorf(err, -ENOMEM, "out of memory creating a thread pool");
        }
    }
    for (int i = 0; i < threads - 1; i++) {
        pool->workers[i] = (worker){pool, i + 1, 0};
        int r = pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]);
        if (r) {
            vit_threadpool_free(pool);
            return vit_errorf(err, -r, "cannot start worker thread %d: %s", i + 1, strerror(r));
        }
        pool->num_workers_started++;
    }
    *ret_pool = pool;
    return 0;
}

vit_threadpool *vit_threadpool_free(vit_threadpool *pool)
{
    if (!pool)
        return NULL;
    pthread_mutex_lock(&pool->mutex);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 0; i < pool->num_workers_started; i++)
        pthread_join(pool->workers[i].thread, NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
    return NULL;
}

int vit_threadpool_threads(const vit_threadpool *pool)
{
    return pool ? pool->num_threads : 1;
}

void vit_threadpool_run(vit_threadpool *pool, int n, vit_task_fn fn, void *ctx)
{
    if (!pool || pool->num_threads == 1 || n <= 1) {
        for (int i = 0; i < n; i++)
            fn(ctx, i, n);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->gemm = vit_gemm_in_use();
    pool->num_tasks = n;
    atomic_store_explicit(&pool->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->claimed, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->busy, pool->num_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    run_tasks(pool, 0);
    for (int i = 0; i < SPIN_ITERATIONS && atomic_load(&pool->busy) > 0; i++)
        spin_pause(i);
    if (atomic_load(&pool->busy) > 0) {
        pthread_mutex_lock(&pool->mutex);
        while (atomic_load(&pool->busy) > 0)
            pthread_cond_wait(&pool->done, &pool->mutex);
        pthread_mutex_unlock(&pool->mutex);
    }
}
