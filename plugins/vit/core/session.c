/* session.c — vit_session: one stream's threads, scratch arena and preprocessing tables, all
 * sized at creation so that classifying a frame allocates nothing. Also vit_result helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/model.h"
#include "core/family.h"
#include "ops/ops.h"
#include "ops/preprocess.h"

struct vit_session {
    vit_model *model;
    vit_threadpool *pool;
    vit_run run;
    float *input; /* [C, H, W] preprocessed frame */
    float *probs;
    vit_preprocess *pre;
    size_t arena_bytes;
    vit_precision precision;   /* FP32 or BF16 */
    vit_gemm_weights *weights; /* the model's packed weights in that precision, or NULL */
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *alloc_zeroed_aligned(size_t bytes)
{
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes); /* fault the pages in now, not during the first frame */
    return p;
}

static int create_preprocess(vit_session *s, vit_error *err)
{
    const vit_config *cfg = &s->model->config;
    vit_preprocess_params pp = {
        .channels = s->model->input_c,
        .height = s->model->input_h,
        .width = s->model->input_w,
        .crop_pct = cfg->crop_pct,
        .crop_mode = cfg->crop_mode,
        .interpolation = cfg->interpolation,
    };
    memcpy(pp.mean, cfg->mean, sizeof(pp.mean));
    memcpy(pp.std, cfg->std, sizeof(pp.std));
    return vit_preprocess_new(&pp, &s->pre, err);
}

/* Lists the model's GEMM weights with one run on the zero input, every exit answering late so
 * that a cascade runs them all, on this thread alone (gemm_weights.c), then packs them. */
static int record_weights(vit_session *s, vit_gemm_format format, vit_gemm_weights **ret,
                          vit_error *err)
{
    vit_model *m = s->model;
    const char *what = format == VIT_GEMM_FORMAT_BF16 ? "bf16" : "fp32";
    size_t in = (size_t)m->input_c * m->input_h * m->input_w * sizeof(float);
    vit_gemm_weights *w =
        vit_gemm_weights_recorder(format, s->run.arena, s->arena_bytes, s->input, in);
    if (!w)
        return vit_errorf(err, -ENOMEM, "%s: out of memory for %s weights", m->path, what);
    vit_run run = s->run;
    run.pool = NULL;
    run.exit_threshold = 2.0f;
    for (int k = 0; k < VIT_MAX_EXITS; k++)
        run.exit_thresholds[k] = 2.0f;
    vit_gemm_weights *old = vit_gemm_use(w);
    int r = m->family->run(m, &run, s->input);
    vit_gemm_use(old);
    if (r >= 0)
        r = vit_gemm_weights_finish(w);
    if (r < 0) {
        vit_gemm_weights_free(w);
        return vit_errorf(err, r, "%s: cannot make the packed %s weights", m->path, what);
    }
    *ret = w;
    return 0;
}

/* The model's packed weights in `format`, made under its lock by the first session to ask. */
static int share_weights(vit_session *s, vit_gemm_format format, vit_error *err)
{
    vit_model *m = s->model;
    vit_gemm_weights **slot = format == VIT_GEMM_FORMAT_BF16 ? &m->bf16 : &m->fp32;
    int r = 0;
    pthread_mutex_lock(&m->weights_lock);
    if (!*slot)
        r = record_weights(s, format, slot, err);
    s->weights = *slot;
    pthread_mutex_unlock(&m->weights_lock);
    return r;
}

static int session_set_precision(vit_session *s, vit_precision want, vit_error *err)
{
    if (want != VIT_PRECISION_FP32 && want != VIT_PRECISION_BF16 && want != VIT_PRECISION_AUTO)
        return vit_errorf(err, -EINVAL, "precision must be fp32, bf16 or auto, not %d", (int)want);
    if (want == VIT_PRECISION_FP32 || (want == VIT_PRECISION_AUTO && !vit_cpu_has_bf16())) {
        s->precision = VIT_PRECISION_FP32;
        return vit_gemm_fp32_packing() ? share_weights(s, VIT_GEMM_FORMAT_FP32, err) : 0;
    }
    if (!vit_cpu_has_bf16())
        return vit_errorf(err, -ENODEV,
                          "%s: precision bf16 needs the CPU feature AVX512-BF16 (avx512_bf16), "
                          "which this CPU lacks or VIT_GEMM turned off; use fp32 or auto",
                          s->model->path);
    s->precision = VIT_PRECISION_BF16;
    return share_weights(s, VIT_GEMM_FORMAT_BF16, err);
}

int vit_precision_from_string(const char *name, vit_precision *ret)
{
    static const char *const names[] = {"fp32", "bf16", "auto"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) {
            *ret = (vit_precision)i;
            return 0;
        }
    return -EINVAL;
}

const char *vit_precision_name(vit_precision precision)
{
    return precision == VIT_PRECISION_BF16   ? "bf16"
           : precision == VIT_PRECISION_AUTO ? "auto"
                                             : "fp32";
}

int vit_cpu_has_bf16(void)
{
    return vit_gemm_bf16_available();
}

vit_precision vit_session_precision(const vit_session *session)
{
    return session->precision;
}

int vit_session_new(vit_model *model, const vit_session_options *opts, vit_session **ret_session,
                    vit_error *err)
{
    int threads = opts ? opts->threads : 0;
    if (threads < 0 || threads > VIT_MAX_THREADS)
        return vit_errorf(err, -EINVAL, "threads must be in [0, %d], not %d", VIT_MAX_THREADS,
                          threads);
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > VIT_MAX_THREADS ? VIT_MAX_THREADS : (int)n;
    }
    vit_session *s = calloc(1, sizeof(*s));
    if (!s)
        return vit_errorf(err, -ENOMEM, "out of memory");
    s->model = vit_model_ref(model);
    s->run.threads = threads;
    vit_session_set_exit_threshold(s, opts ? opts->exit_threshold : -1.0f);
    size_t in = (size_t)model->input_c * model->input_h * model->input_w;
    s->arena_bytes = model->family->arena_bytes(model, threads);
    s->run.arena = alloc_zeroed_aligned(s->arena_bytes);
    s->input = alloc_zeroed_aligned(in * sizeof(float));
    s->run.logits = alloc_zeroed_aligned((size_t)model->num_classes * sizeof(float));
    s->probs = alloc_zeroed_aligned((size_t)model->num_classes * sizeof(float));
    int r = s->run.arena && s->input && s->run.logits && s->probs
                ? 0
                : vit_errorf(err, -ENOMEM, "%s: out of memory for the session arena", model->path);
    if (r == 0 && threads > 1)
        r = vit_threadpool_new(threads, &s->pool, err);
    if (r == 0)
        r = create_preprocess(s, err);
    if (r == 0)
        r = session_set_precision(s, opts ? opts->precision : VIT_PRECISION_FP32, err);
    if (r < 0) {
        vit_session_free(s);
        return r;
    }
    s->run.pool = s->pool;
    *ret_session = s;
    return 0;
}

vit_session *vit_session_free(vit_session *session)
{
    if (!session)
        return NULL;
    vit_threadpool_free(session->pool);
    vit_preprocess_free(session->pre);
    free(session->run.arena);
    free(session->run.logits);
    free(session->input);
    free(session->probs);
    vit_model_unref(session->model);
    free(session);
    return NULL;
}

const vit_model *vit_session_model(const vit_session *session)
{
    return session->model;
}

void vit_session_set_exit_threshold(vit_session *session, float threshold)
{
    session->run.exit_threshold =
        threshold < 0.0f ? vit_model_default_exit_threshold(session->model) : threshold;
    for (int k = 0; k < VIT_MAX_EXITS; k++)
        session->run.exit_thresholds[k] =
            threshold < 0.0f ? session->model->exit_thresholds[k] : threshold;
}

int vit_session_set_exit_thresholds(vit_session *session, const float *thresholds, int count,
                                    vit_error *err)
{
    if (!thresholds || count != session->model->num_exits)
        return vit_errorf(err, -EINVAL, "%s: %d thresholds for a model of %d exits",
                          session->model->path, count, session->model->num_exits);
    for (int k = 0; k < count; k++)
        session->run.exit_thresholds[k] = thresholds[k];
    session->run.exit_threshold = thresholds[0];
    return 0;
}

int vit_session_set_budget(vit_session *session, double gflops, vit_error *err)
{
    const vit_model *m = session->model;
    if (!(gflops >= 0.0))
        return vit_errorf(err, -EINVAL, "budget must be a non-negative number of GFLOPs");
    if (m->num_budgets == 0)
        return vit_errorf(err, -ENOENT, "%s: the model has no budgets (config.json \"budgets\")",
                          m->path);
    int best = -1, cheapest = 0;
    for (int b = 0; b < m->num_budgets; b++) {
        double g = m->budgets[b].gflops;
        if (g < m->budgets[cheapest].gflops)
            cheapest = b;
        if (g <= gflops && (best < 0 || g > m->budgets[best].gflops))
            best = b;
    }
    if (best < 0)
        best = cheapest;
    int r =
        vit_session_set_exit_thresholds(session, m->budgets[best].thresholds, m->num_exits, err);
    return r < 0 ? r : best;
}

static int run_network(vit_session *s, const float *chw, uint64_t t0, vit_result *ret)
{
    const vit_model *m = s->model;
    vit_gemm_weights *old = vit_gemm_use(s->weights);
    int exit_index = m->family->run(m, &s->run, chw);
    vit_gemm_use(old);
    if (exit_index < 0)
        return exit_index;
    int n = m->num_classes;
    memcpy(s->probs, s->run.logits, (size_t)n * sizeof(float));
    vit_softmax_rows(1, n, s->probs, n);
    ret->logits = s->run.logits;
    ret->probs = s->probs;
    ret->num_classes = n;
    ret->exit_index = exit_index;
    ret->gflops = vit_model_exit_gflops(m, exit_index);
    ret->latency_us = now_us() - t0;
    return 0;
}

int vit_session_run_tensor(vit_session *session, const float *chw, vit_result *ret_result,
                           vit_error *err)
{
    if (!chw || !ret_result)
        return vit_errorf(err, -EINVAL, "vit_session_run_tensor: NULL input or result");
    int r = run_network(session, chw, now_us(), ret_result);
    return r < 0 ? vit_errorf(err, r, "%s: run failed", session->model->path) : 0;
}

int vit_session_classify(vit_session *session, const vit_frame *frame, vit_result *ret_result,
                         vit_error *err)
{
    if (!frame || !ret_result)
        return vit_errorf(err, -EINVAL, "vit_session_classify: NULL frame or result");
    uint64_t t0 = now_us();
    int r = vit_preprocess_run(session->pre, frame, session->input, err);
    if (r < 0)
        return r;
    r = run_network(session, session->input, t0, ret_result);
    return r < 0 ? vit_errorf(err, r, "%s: run failed", session->model->path) : 0;
}

/* One pass over the classes: each is compared with the k-th best so far and only the rare
 * better one is inserted, O(N) for a handful of k. Ties keep the lower class first. */
int vit_result_top_k(const vit_result *result, int k, int *ret_classes, float *ret_probs)
{
    const float *probs = result->probs;
    int kept = 0;
    if (k > result->num_classes)
        k = result->num_classes;
    if (k <= 0)
        return 0;
    for (int i = 0; i < result->num_classes; i++) {
        float p = probs[i];
        if (kept == k && !(p > probs[ret_classes[k - 1]]))
            continue;
        int j = kept < k ? kept++ : k - 1;
        for (; j > 0 && p > probs[ret_classes[j - 1]]; j--)
            ret_classes[j] = ret_classes[j - 1];
        ret_classes[j] = i;
    }
    if (ret_probs)
        for (int j = 0; j < kept; j++)
            ret_probs[j] = probs[ret_classes[j]];
    return kept;
}
