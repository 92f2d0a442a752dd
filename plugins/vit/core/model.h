/* model.h — the inside of vit_model, shared by model.c, the families and the session. */
#ifndef VIT_MODEL_H
#define VIT_MODEL_H

#include <pthread.h>
#include <stdatomic.h>

#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "vit.h"

#define VIT_MAX_EXITS 8
#define VIT_MAX_BUDGETS 16

/* A compute budget of a cascade (config.json "budgets"): per-exit thresholds chosen on
 * validation data and the mean GFLOPs per image they gave there. */
typedef struct vit_budget {
    double gflops;
    float thresholds[VIT_MAX_EXITS];
} vit_budget;

struct vit_family;

struct vit_model {
    atomic_int refs;
    char *path;
    vit_safetensors *weights;
    vit_config config;
    const struct vit_family *family;
    void *net; /* the family's network description */
    int input_c, input_h, input_w;
    int num_classes;
    int num_exits;
    double exit_gflops[VIT_MAX_EXITS];
    /* Cascades (cascade_config.c): per-exit default thresholds and the budgets. */
    float exit_thresholds[VIT_MAX_EXITS];
    int num_budgets;
    vit_budget budgets[VIT_MAX_BUDGETS];
    char **fallback_labels; /* "class N", when the config names none */
    /* Packed copies of the GEMM weights (kernels/gemm.h), fp32 and bf16, each made by the first
     * session in that precision under weights_lock and never changed after; NULL until then. */
    pthread_mutex_t weights_lock;
    struct vit_gemm_weights *fp32, *bf16;
};

#endif
