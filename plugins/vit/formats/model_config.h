/* model_config.h — a model's config.json (timm / Hugging Face layout) as plain C values.
 *
 * Read from config.json beside the weights or from the "config" entry of a single
 * .safetensors file's __metadata__. Fields absent from the file keep the defaults documented
 * below; families fill the input size from the weights when the config does not give it. */
#ifndef VIT_MODEL_CONFIG_H
#define VIT_MODEL_CONFIG_H

#include <jansson.h>

#include "vit.h"

typedef enum vit_interpolation {
    VIT_INTERP_BILINEAR,
    VIT_INTERP_BICUBIC,
    VIT_INTERP_NEAREST,
} vit_interpolation;

typedef enum vit_crop_mode {
    VIT_CROP_CENTER, /* resize short side to input/crop_pct, centre crop (timm's default) */
    VIT_CROP_SQUASH, /* resize both sides to input/crop_pct, centre crop */
} vit_crop_mode;

typedef struct vit_config {
    char *source;                  /* where it came from, for errors */
    char *architecture;            /* required */
    int num_classes;               /* -1 when absent */
    int input_c, input_h, input_w; /* pretrained_cfg.input_size, 0 when absent */
    float mean[3], std[3];         /* default ImageNet's */
    float crop_pct;                /* default 0.875 */
    vit_crop_mode crop_mode;
    vit_interpolation interpolation; /* default bicubic */
    char **labels;                   /* label_names, or a labels file; NULL when none */
    int num_labels;
    json_t *root;         /* the whole document (owned reference) */
    json_t *model_args;   /* borrowed from root; NULL when absent */
    float exit_threshold; /* "exit_threshold" for cascades; default 1.0 */
} vit_config;

/* Parses JSON text; source names it in errors ("models/x/config.json"). */
int vit_config_parse(const char *text, size_t len, const char *source, vit_config *ret_cfg,
                     vit_error *err);
/* 0 when TEXT[0..LEN) is UTF-8 without NUL; else -EINVAL and *RET_PROBLEM says which
 * ("is not valid UTF-8", "contains a NUL byte"). Labels must be both (labels.c). */
int vit_labels_check_text(const char *text, size_t len, const char **ret_problem);
/* Reads one label per line from path (blank trailing lines ignored); replaces any labels. */
int vit_config_load_labels(vit_config *cfg, const char *path, vit_error *err);
void vit_config_clear(vit_config *cfg);

/* model_args lookups: 0 and *ret set when present and of the right type, -ENOENT when absent,
 * -EINVAL (with message) when present but wrong. */
int vit_config_arg_int(const vit_config *cfg, const char *key, int *ret, vit_error *err);
/* An int or a [h, w] pair (img_size). */
int vit_config_arg_size(const vit_config *cfg, const char *key, int *ret_h, int *ret_w,
                        vit_error *err);
/* Returns the string or NULL. */
const char *vit_config_arg_string(const vit_config *cfg, const char *key);
/* Looks in model_args then at the top level (timm writes global_pool at top level). */
const char *vit_config_string(const vit_config *cfg, const char *key);

#endif
