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

/* A model's parts already in memory, for vit_model_open_memory. */
typedef struct vit_model_memory {
    const char *path; /* as vit_model_open's PATH: vit_model_path() and messages name it */
    int is_dir;       /* PATH is a folder (config.json wins) or a single file (__metadata__ wins) */
    /* The weights, parsed (vit_safetensors_open_memory) under the name vit_model_open would
     * read them from: PATH/model.safetensors, or PATH. The model takes a reference. */
    vit_safetensors *weights;
    const char *config_json; /* config.json (in the folder, or beside the file); NULL: none */
    size_t config_len;
} vit_model_memory;

/* vit_model_open() of parts in memory: the same config choice, parsing and family build, and
 * the same messages, without touching the file system (no labels.txt). Internal, for the fuzz
 * targets (tests/fuzz), which open a model hundreds of thousands of times a minute and share
 * one parse of weights that do not change; everything else opens files. */
int vit_model_open_memory(const vit_model_memory *parts, vit_model **ret_model, vit_error *err);

#endif
