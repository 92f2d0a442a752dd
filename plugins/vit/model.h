/* model.h — the inside of vit_model, shared by model.c, the families and the session. */
#ifndef VIT_MODEL_H
#define VIT_MODEL_H

#include <stdatomic.h>

#include "model_config.h"
#include "safetensors.h"
#include "vit.h"

#define VIT_MAX_EXITS 8

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
    char **fallback_labels; /* "class N", when the config names none */
};

#endif
