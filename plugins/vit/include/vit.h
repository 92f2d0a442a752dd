/* vit.h — libvit, the vision-transformer runtime of vitd.
 *
 * Plain C11 on OpenBLAS: no GLib, no GStreamer. Three objects, used in this order:
 *
 *   vit_model    what was loaded from a model folder (model.safetensors + config.json, the
 *                layout timm publishes) or a single .safetensors whose __metadata__ holds the
 *                config. Weights are read into private memory (a file replaced or truncated
 *                on disk later changes nothing); a model is immutable after open and is
 *                shared (reference counted, thread-safe) by every stream that uses it.
 *   vit_session  one per streaming thread: a scratch arena sized once at creation from the
 *                model's plan, its own worker threads, its own exit threshold. Running a frame
 *                allocates nothing.
 *   vit_result   what one run produced; the arrays point into the session and stay valid until
 *                the next run on that session.
 *
 *   vit_model *m; vit_error err;
 *   if (vit_model_open("models/fmnist-vit", &m, &err) < 0) { fputs(err.message, stderr); ... }
 *   vit_session *s; vit_session_new(m, NULL, &s, &err);
 *   vit_result r;   vit_session_classify(s, &frame, &r, &err);
 *   s = vit_session_free(s); m = vit_model_unref(m);
 *
 * Errors: functions return 0 (or a count) on success and a negative errno on failure, fill
 * err->message with one line naming the file, tensor or value at fault, and leave their ret_
 * outputs untouched. err may be NULL when the caller does not want the text.
 */
#ifndef VIT_H
#define VIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIT_ERROR_MAX 512

typedef struct vit_error {
    char message[VIT_ERROR_MAX];
} vit_error;

typedef struct vit_model vit_model;
typedef struct vit_session vit_session;

/* The most worker threads one session takes: the element's `threads` property and the YAML
 * `threads:` key are bounded by the same number. */
#define VIT_MAX_THREADS 256

/* ---- labels files ----------------------------------------------------------------------- */

/* Reads PATH, one label per line (trailing white space and DOS line ends dropped, trailing
 * blank lines ignored; a blank line in the middle is an empty label). On success *ret_labels
 * holds *ret_count malloc'd strings (free with vit_labels_free). */
int vit_labels_read(const char *path, char ***ret_labels, int *ret_count, vit_error *err);
/* Frees what vit_labels_read returned; returns NULL. */
char **vit_labels_free(char **labels, int count);

/* ---- model ------------------------------------------------------------------------------ */

/* The architectures vit_model_open builds: family index's name, and in *ret_patterns its
 * NULL-terminated glob patterns of config.json "architecture" names ("vit_*"). NULL past the
 * last family. */
const char *vit_architectures(size_t family, const char *const **ret_patterns);

/* Opens PATH: a folder holding model.safetensors and config.json (and optionally a labels
 * file), or a single .safetensors file whose __metadata__ carries "config" as JSON text.
 * -ENOENT missing file, -EINVAL malformed file or config, -ENOTSUP unknown architecture,
 * -ENOMEM. */
int vit_model_open(const char *path, vit_model **ret_model, vit_error *err);
/* The identity of the files vit_model_open(PATH) reads — model.safetensors, config.json and
 * labels.txt of the folder (or the file itself and its folder's config.json and labels.txt):
 * "device:inode:size:mtime_ns|" per file, "-|" for one that does not exist. Two stamps differ
 * when any of the files was replaced, rewritten or truncated, so callers that cache models or
 * watch them compare stamps. On success *RET_STAMP is a string to free(). -ENOENT when PATH
 * does not exist, -EINVAL (naming the file) when one of the files is not a regular file. */
int vit_model_stamp(const char *path, char **ret_stamp, vit_error *err);
vit_model *vit_model_ref(vit_model *model);
/* Drops one reference; frees on the last. Accepts NULL. Always returns NULL. */
vit_model *vit_model_unref(vit_model *model);

const char *vit_model_path(const vit_model *model);
const char *vit_model_architecture(const vit_model *model);
int vit_model_num_classes(const vit_model *model);
/* Class name from config.json label_names (or "class N" when the model has none). */
const char *vit_model_label(const vit_model *model, int class_index);
/* The network's input: channels, height, width after resize and crop. */
void vit_model_input_size(const vit_model *model, int *ret_channels, int *ret_height,
                          int *ret_width);
/* Number of exits: 1 for a single network, K for an early-exit cascade. */
int vit_model_num_exits(const vit_model *model);
/* Cumulative GFLOPs (multiply-adds counted as 2 FLOPs) spent when exit k answers. */
double vit_model_exit_gflops(const vit_model *model, int exit_index);
/* The cascade's default confidence threshold (from config.json), 1.0 for single networks. */
float vit_model_default_exit_threshold(const vit_model *model);
/* Compute budgets of a cascade (config.json "budgets": per-exit thresholds chosen on validation
 * data, with the mean GFLOPs per image they gave there); 0 for single networks. */
int vit_model_num_budgets(const vit_model *model);
/* Expected mean GFLOPs per image of budget b (validation), 0.0 when b is out of range. */
double vit_model_budget_gflops(const vit_model *model, int budget);
/* Threshold of exit k under budget b, or under the model's defaults when b is -1 (config.json
 * "exit_thresholds", else "exit_threshold" for every exit). The last exit always answers. */
float vit_model_exit_threshold(const vit_model *model, int budget, int exit_index);

/* ---- session ---------------------------------------------------------------------------- */

/* The arithmetic of a session's matrix products. In bf16, every product with a weight (Linear,
 * patch and 1x1 convolutions, attention projections, heads) multiplies bf16 copies of the
 * weights (made once per model, shared by its bf16 sessions) by activations rounded to bf16,
 * summing in fp32 (AVX512-BF16 vdpbf16ps); attention's own products, norms, softmax and the
 * rest stay fp32. Logits move by about 1e-2 relative; top-1 rarely changes. */
typedef enum vit_precision {
    VIT_PRECISION_FP32 = 0, /* the default */
    VIT_PRECISION_BF16,     /* vit_session_new: -ENODEV on a CPU without AVX512-BF16 */
    VIT_PRECISION_AUTO,     /* bf16 where the CPU has AVX512-BF16, else fp32 */
} vit_precision;

/* "fp32", "bf16" or "auto" into *ret; -EINVAL for anything else. */
int vit_precision_from_string(const char *name, vit_precision *ret);
const char *vit_precision_name(vit_precision precision);
/* 1 when bf16 sessions can run here (AVX512-BF16, and VIT_GEMM has not forced avx2 or blas). */
int vit_cpu_has_bf16(void);

typedef struct vit_session_options {
    int threads;             /* worker threads for this session; 0 = every online core */
    float exit_threshold;    /* < 0: the model's default; else exits answer at p_max >= this */
    vit_precision precision; /* FP32 (zero) unless asked */
} vit_session_options;

/* opts may be NULL for the defaults. The session holds a reference on model. The first session
 * of a model in a precision makes the model's packed weights for it (one run of the network at
 * creation, then a copy of every GEMM weight in the kernel's layout: bf16, or fp32 where the
 * AVX-512 kernel runs; later sessions share it). -ENODEV: bf16 asked on a CPU without
 * AVX512-BF16. */
int vit_session_new(vit_model *model, const vit_session_options *opts, vit_session **ret_session,
                    vit_error *err);
vit_session *vit_session_free(vit_session *session);
const vit_model *vit_session_model(const vit_session *session);
/* What the session computes in: VIT_PRECISION_FP32 or VIT_PRECISION_BF16 (AUTO resolved). */
vit_precision vit_session_precision(const vit_session *session);
/* One threshold for every exit; < 0 returns to the model's per-exit defaults. */
void vit_session_set_exit_threshold(vit_session *session, float threshold);
/* Per-exit thresholds: count must be the model's number of exits (the last value is ignored:
 * the last exit always answers). -EINVAL otherwise. */
int vit_session_set_exit_thresholds(vit_session *session, const float *thresholds, int count,
                                    vit_error *err);
/* Budget mode: uses the thresholds of the model budget whose expected mean GFLOPs is the
 * largest not above `gflops`; when every budget costs more, the cheapest one. Returns the budget
 * index used, -ENOENT when the model has no budgets, -EINVAL for a negative or NaN target. */
int vit_session_set_budget(vit_session *session, double gflops, vit_error *err);

/* ---- frames and results ----------------------------------------------------------------- */

typedef enum vit_pixel_format {
    VIT_FORMAT_RGB, /* packed 24-bit */
    VIT_FORMAT_BGR,
    VIT_FORMAT_RGBX, /* packed 32-bit, X/A ignored */
    VIT_FORMAT_BGRX,
    VIT_FORMAT_XRGB,
    VIT_FORMAT_XBGR,
    VIT_FORMAT_RGBA,
    VIT_FORMAT_BGRA,
    VIT_FORMAT_GRAY8,
    VIT_FORMAT_I420, /* planar Y, U, V; chroma halved both ways */
    VIT_FORMAT_NV12, /* planar Y, interleaved UV */
} vit_pixel_format;

typedef struct vit_frame {
    vit_pixel_format format;
    int width, height;
    const uint8_t *planes[3]; /* packed formats use planes[0] only */
    int strides[3];           /* bytes per row of each plane */
} vit_frame;

typedef struct vit_result {
    const float *logits; /* [num_classes], owned by the session */
    const float *probs;  /* softmax of logits, [num_classes] */
    int num_classes;
    int exit_index;      /* 0-based exit that answered (always 0 for single networks) */
    double gflops;       /* cumulative GFLOPs spent to answer */
    uint64_t latency_us; /* wall time of this run, preprocessing included */
} vit_result;

/* Resizes (the config's interpolation, antialiased as PIL/torchvision do), centre-crops per
 * crop_pct, normalises with the config's mean/std, then runs the network. The first frame of a
 * new size builds that size's resize tables (the only allocation); later frames allocate
 * nothing. -EINVAL for a malformed frame (size, strides, planes), -ENOMEM. */
int vit_session_classify(vit_session *session, const vit_frame *frame, vit_result *ret_result,
                         vit_error *err);
/* Runs on an already-normalised float CHW tensor of exactly the model's input size. */
int vit_session_run_tensor(vit_session *session, const float *chw, vit_result *ret_result,
                           vit_error *err);

/* Fills up to k class indices (and their probabilities) in descending probability order;
 * returns how many were written. */
int vit_result_top_k(const vit_result *result, int k, int *ret_classes, float *ret_probs);

#ifdef __cplusplus
}
#endif

#endif /* VIT_H */
