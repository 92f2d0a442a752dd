/* model_config.c — parse config.json (timm layout) into vit_config, checking every value that
 * later code trusts: sizes and counts are bounded, mean/std/crop_pct are sane, names are known. */
#include "formats/model_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_CLASSES 1000000
#define MAX_INPUT_SIDE 8192

static int get_numbers(const vit_config *cfg, json_t *obj, const char *key, float *out, float lo,
                       float hi, vit_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (n != 1 && n != 3)
        return vit_errorf(err, -EINVAL, "%s: pretrained_cfg.%s must be a list of 1 or 3 numbers",
                          cfg->source, key);
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(v, n == 1 ? 0 : i);
        double d = json_number_value(e);
        if (!json_is_number(e) || !(d >= lo && d <= hi))
            return vit_errorf(err, -EINVAL,
                              "%s: pretrained_cfg.%s[%zu] must be a number in "
                              "[%g, %g]",
                              cfg->source, key, i, lo, hi);
        out[i] = (float)d;
    }
    return 0;
}

static int parse_input_size(vit_config *cfg, json_t *pc, vit_error *err)
{
    json_t *v = json_object_get(pc, "input_size");
    if (!v || json_is_null(v))
        return 0;
    int dims[3];
    if (!json_is_array(v) || json_array_size(v) != 3)
        return vit_errorf(err, -EINVAL,
                          "%s: pretrained_cfg.input_size must be [channels, height, "
                          "width]",
                          cfg->source);
    for (int i = 0; i < 3; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        json_int_t x = json_integer_value(e);
        json_int_t hi = i == 0 ? 3 : MAX_INPUT_SIDE;
        if (!json_is_integer(e) || x < 1 || x > hi || (i == 0 && x == 2))
            return vit_errorf(err, -EINVAL,
                              "%s: pretrained_cfg.input_size[%d] = %lld is out of "
                              "range",
                              cfg->source, i, (long long)x);
        dims[i] = (int)x;
    }
    cfg->input_c = dims[0];
    cfg->input_h = dims[1];
    cfg->input_w = dims[2];
    return 0;
}

static int parse_pretrained_cfg(vit_config *cfg, json_t *pc, vit_error *err)
{
    if (!json_is_object(pc))
        return vit_errorf(err, -EINVAL, "%s: pretrained_cfg is not an object", cfg->source);
    int r = parse_input_size(cfg, pc, err);
    if (r == 0)
        r = get_numbers(cfg, pc, "mean", cfg->mean, -1000.f, 1000.f, err);
    if (r == 0)
        r = get_numbers(cfg, pc, "std", cfg->std, 1e-6f, 1000.f, err);
    if (r < 0)
        return r;
    json_t *v = json_object_get(pc, "crop_pct");
    if (v && !json_is_null(v)) {
        double d = json_number_value(v);
        if (!json_is_number(v) || !(d > 0.05 && d <= 4.0))
            return vit_errorf(err, -EINVAL,
                              "%s: pretrained_cfg.crop_pct must be a number in "
                              "(0.05, 4]",
                              cfg->source);
        cfg->crop_pct = (float)d;
    }
    v = json_object_get(pc, "interpolation");
    if (v && !json_is_null(v)) {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "bilinear"))
            cfg->interpolation = VIT_INTERP_BILINEAR;
        else if (s && (!strcmp(s, "bicubic") || !strcmp(s, "random") || !*s))
            cfg->interpolation = VIT_INTERP_BICUBIC;
        else if (s && !strcmp(s, "nearest"))
            cfg->interpolation = VIT_INTERP_NEAREST;
        else
            return vit_errorf(err, -EINVAL,
                              "%s: pretrained_cfg.interpolation \"%.40s\" is not "
                              "bilinear, bicubic or nearest",
                              cfg->source, s ? s : "?");
    }
    v = json_object_get(pc, "crop_mode");
    if (v && !json_is_null(v)) {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, "center"))
            cfg->crop_mode = VIT_CROP_CENTER;
        else if (s && !strcmp(s, "squash"))
            cfg->crop_mode = VIT_CROP_SQUASH;
        else
            return vit_errorf(err, -EINVAL,
                              "%s: pretrained_cfg.crop_mode \"%.40s\" is not "
                              "center or squash",
                              cfg->source, s ? s : "?");
    }
    return 0;
}

static int set_labels_from_json(vit_config *cfg, json_t *names, vit_error *err)
{
    if (!json_is_array(names) || json_array_size(names) > MAX_CLASSES)
        return vit_errorf(err, -EINVAL, "%s: label_names must be a list of strings", cfg->source);
    size_t n = json_array_size(names);
    cfg->labels = calloc(n ? n : 1, sizeof(char *));
    if (!cfg->labels)
        return vit_errorf(err, -ENOMEM, "%s: out of memory", cfg->source);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(names, i);
        const char *s = json_string_value(v), *problem;
        if (!s)
            return vit_errorf(err, -EINVAL, "%s: label_names[%zu] is not a string", cfg->source, i);
        /* jansson refuses both already (no JSON_ALLOW_NUL); labels must never carry them */
        if (vit_labels_check_text(s, json_string_length(v), &problem) < 0)
            return vit_errorf(err, -EINVAL, "%s: label_names[%zu] %s", cfg->source, i, problem);
        if (!(cfg->labels[i] = strdup(s)))
            return vit_errorf(err, -ENOMEM, "%s: out of memory", cfg->source);
        cfg->num_labels = (int)i + 1;
    }
    return 0;
}

static int parse_root(vit_config *cfg, vit_error *err)
{
    json_t *root = cfg->root;
    if (!json_is_object(root))
        return vit_errorf(err, -EINVAL, "%s: not a JSON object", cfg->source);
    const char *arch = json_string_value(json_object_get(root, "architecture"));
    if (!arch || !*arch)
        return vit_errorf(err, -EINVAL, "%s: \"architecture\" (a string) is missing", cfg->source);
    if (!(cfg->architecture = strdup(arch)))
        return vit_errorf(err, -ENOMEM, "%s: out of memory", cfg->source);
    json_t *v = json_object_get(root, "num_classes");
    if (v) {
        json_int_t n = json_integer_value(v);
        if (json_is_integer(v) && n == 0)
            return vit_errorf(err, -ENOTSUP,
                              "%s: num_classes is 0: a feature extractor without a classifier "
                              "head; libvit runs classifiers only",
                              cfg->source);
        if (!json_is_integer(v) || n < 1 || n > MAX_CLASSES)
            return vit_errorf(err, -EINVAL, "%s: num_classes must be an integer in [1, %d]",
                              cfg->source, MAX_CLASSES);
        cfg->num_classes = (int)n;
    }
    v = json_object_get(root, "model_args");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v))
            return vit_errorf(err, -EINVAL, "%s: model_args is not an object", cfg->source);
        cfg->model_args = v;
    }
    v = json_object_get(root, "pretrained_cfg");
    int r = v && !json_is_null(v) ? parse_pretrained_cfg(cfg, v, err) : 0;
    if (r < 0)
        return r;
    v = json_object_get(root, "label_names");
    if (v && !json_is_null(v) && (r = set_labels_from_json(cfg, v, err)) < 0)
        return r;
    v = json_object_get(root, "exit_threshold");
    if (v) {
        double d = json_number_value(v);
        if (!json_is_number(v) || !(d >= 0.0 && d <= 1.0))
            return vit_errorf(err, -EINVAL, "%s: exit_threshold must be a number in [0, 1]",
                              cfg->source);
        cfg->exit_threshold = (float)d;
    }
    return 0;
}

int vit_config_parse(const char *text, size_t len, const char *source, vit_config *ret_cfg,
                     vit_error *err)
{
    vit_config cfg = {
        .num_classes = -1,
        .mean = {0.485f, 0.456f, 0.406f},
        .std = {0.229f, 0.224f, 0.225f},
        .crop_pct = 0.875f,
        .crop_mode = VIT_CROP_CENTER,
        .interpolation = VIT_INTERP_BICUBIC,
        .exit_threshold = 1.0f,
    };
    if (!(cfg.source = strdup(source)))
        return vit_errorf(err, -ENOMEM, "%s: out of memory", source);
    json_error_t jerr;
    cfg.root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int r;
    if (!cfg.root)
        r = vit_errorf(err, -EINVAL, "%s:%d:%d: invalid JSON: %s", source, jerr.line, jerr.column,
                       jerr.text);
    else
        r = parse_root(&cfg, err);
    if (r < 0) {
        vit_config_clear(&cfg);
        return r;
    }
    *ret_cfg = cfg;
    return 0;
}

int vit_config_load_labels(vit_config *cfg, const char *path, vit_error *err)
{
    char **labels;
    int n;
    int r = vit_labels_read(path, &labels, &n, err);
    if (r < 0)
        return r;
    vit_labels_free(cfg->labels, cfg->num_labels);
    cfg->labels = labels;
    cfg->num_labels = n;
    return 0;
}

void vit_config_clear(vit_config *cfg)
{
    for (int i = 0; i < cfg->num_labels; i++)
        free(cfg->labels[i]);
    free(cfg->labels);
    free(cfg->architecture);
    free(cfg->source);
    json_decref(cfg->root);
    memset(cfg, 0, sizeof(*cfg));
}

int vit_config_arg_int(const vit_config *cfg, const char *key, int *ret, vit_error *err)
{
    json_t *v = cfg->model_args ? json_object_get(cfg->model_args, key) : NULL;
    if (!v || json_is_null(v))
        return -ENOENT;
    json_int_t x = json_integer_value(v);
    if (!json_is_integer(v) || x < 0 || x > 1000000)
        return vit_errorf(err, -EINVAL, "%s: model_args.%s must be a non-negative integer",
                          cfg->source, key);
    *ret = (int)x;
    return 0;
}

int vit_config_arg_size(const vit_config *cfg, const char *key, int *ret_h, int *ret_w,
                        vit_error *err)
{
    json_t *v = cfg->model_args ? json_object_get(cfg->model_args, key) : NULL;
    if (!v || json_is_null(v))
        return -ENOENT;
    json_t *h = json_is_array(v) ? json_array_get(v, 0) : v;
    json_t *w = json_is_array(v) ? json_array_get(v, 1) : v;
    if ((json_is_array(v) && json_array_size(v) != 2) || !json_is_integer(h) ||
        !json_is_integer(w) || json_integer_value(h) < 1 || json_integer_value(w) < 1 ||
        json_integer_value(h) > MAX_INPUT_SIDE || json_integer_value(w) > MAX_INPUT_SIDE)
        return vit_errorf(err, -EINVAL, "%s: model_args.%s must be a size or [height, width]",
                          cfg->source, key);
    *ret_h = (int)json_integer_value(h);
    *ret_w = (int)json_integer_value(w);
    return 0;
}

const char *vit_config_arg_string(const vit_config *cfg, const char *key)
{
    return cfg->model_args ? json_string_value(json_object_get(cfg->model_args, key)) : NULL;
}

const char *vit_config_string(const vit_config *cfg, const char *key)
{
    const char *s = vit_config_arg_string(cfg, key);
    return s ? s : json_string_value(json_object_get(cfg->root, key));
}
