/* model.c — vit_model: find the files of a model, parse its config, hand the weights to the
 * family that knows the architecture, and share the result by reference count.
 * vit_model_open_memory (core/model.h) runs the same steps on parts already in memory, for the
 * fuzz targets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/family.h"
#include "core/model.h"
#include "ops/ops.h"

#define MAX_CONFIG_BYTES (16u << 20)

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Reads a regular file of at most MAX_CONFIG_BYTES (O_NONBLOCK: a FIFO is refused, not waited
 * on). */
static int read_text_file(const char *path, char **ret_text, size_t *ret_len, vit_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)MAX_CONFIG_BYTES) {
        close(fd);
        return vit_errorf(err, -EINVAL, "%s: not a regular file of at most %u bytes", path,
                          MAX_CONFIG_BYTES);
    }
    size_t len = (size_t)sb.st_size, got = 0;
    char *text = malloc(len + 1);
    if (!text) {
        close(fd);
        return vit_errorf(err, -ENOMEM, "%s: out of memory", path);
    }
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int r = n < 0 ? -errno : -EIO;
            free(text);
            close(fd);
            return vit_errorf(err, r, "%s: read failed: %s", path, strerror(-r));
        }
        got += (size_t)n;
    }
    close(fd);
    text[len] = 0;
    *ret_text = text;
    *ret_len = len;
    return 0;
}

static int config_from_metadata(vit_model *m, const char *meta, vit_error *err)
{
    char source[VIT_ERROR_NAME_MAX + 32];
    snprintf(source, sizeof(source), "%.*s __metadata__.config", VIT_ERROR_NAME_MAX,
             m->weights->path);
    return vit_config_parse(meta, strlen(meta), source, &m->config, err);
}

/* Parses the config: a single file prefers its __metadata__["config"], a folder config.json
 * (TEXT of LEN bytes, read from CFG_PATH; NULL when there is none); each falls back to the
 * other. */
static int parse_config(vit_model *m, int is_dir, const char *cfg_path, const char *text,
                        size_t len, vit_error *err)
{
    const char *meta = vit_safetensors_metadata(m->weights, "config");
    if (meta && (!is_dir || !text))
        return config_from_metadata(m, meta, err);
    if (!text)
        return vit_errorf(err, -ENOENT, "%s: missing, and %s has no \"config\" in __metadata__",
                          cfg_path, m->weights->path);
    if (len > MAX_CONFIG_BYTES) /* as read_text_file refuses it, for text from memory */
        return vit_errorf(err, -EINVAL, "%s: not a regular file of at most %u bytes", cfg_path,
                          MAX_CONFIG_BYTES);
    return vit_config_parse(text, len, cfg_path, &m->config, err);
}

/* Reads DIR/config.json unless a single file's __metadata__ has the config, and parses it. */
static int load_config(vit_model *m, const char *dir, int is_dir, vit_error *err)
{
    if (vit_safetensors_metadata(m->weights, "config") && !is_dir)
        return parse_config(m, is_dir, NULL, NULL, 0, err);
    char *cfg_path = path_join(dir, "config.json");
    if (!cfg_path)
        return vit_errorf(err, -ENOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    int r = read_text_file(cfg_path, &text, &len, err);
    if (r == 0 || r == -ENOENT)
        r = parse_config(m, is_dir, cfg_path, text, len, err);
    free(text);
    free(cfg_path);
    return r;
}

static int load_labels_file(vit_model *m, const char *dir, vit_error *err)
{
    if (m->config.labels)
        return 0;
    char *p = path_join(dir, "labels.txt");
    if (!p)
        return vit_errorf(err, -ENOMEM, "out of memory");
    int r = access(p, F_OK) == 0 ? vit_config_load_labels(&m->config, p, err) : 0;
    free(p);
    return r;
}

static int check_labels(vit_model *m, vit_error *err)
{
    if (m->config.labels) {
        if (m->config.num_labels != m->num_classes)
            return vit_errorf(err, -EINVAL, "%s: %d label names for a model of %d classes",
                              m->config.source, m->config.num_labels, m->num_classes);
        return 0;
    }
    m->fallback_labels = calloc((size_t)m->num_classes, sizeof(char *));
    if (!m->fallback_labels)
        return vit_errorf(err, -ENOMEM, "out of memory");
    for (int i = 0; i < m->num_classes; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "class %d", i);
        if (!(m->fallback_labels[i] = strdup(buf)))
            return vit_errorf(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* What both opens share once the weights and the config are in: the family's build. */
static int model_build(vit_model *m, vit_error *err)
{
    m->family = vit_family_find(m->config.architecture);
    if (!m->family)
        return vit_family_unknown(m->config.architecture, m->config.source, err);
    int r = m->family->build(m, err);
    if (r == 0)
        r = check_labels(m, err);
    return r;
}

static int model_load(vit_model *m, const char *path, vit_error *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    int is_dir = S_ISDIR(sb.st_mode);
    char *dir = is_dir ? strdup(path) : path_dirname(path);
    char *weights = is_dir ? path_join(path, "model.safetensors") : strdup(path);
    int r = dir && weights ? 0 : vit_errorf(err, -ENOMEM, "out of memory");
    if (r == 0)
        r = vit_safetensors_open(weights, &m->weights, err);
    if (r == 0)
        r = load_config(m, dir, is_dir, err);
    if (r == 0)
        r = load_labels_file(m, dir, err);
    if (r == 0)
        r = model_build(m, err);
    free(dir);
    free(weights);
    return r;
}

/* model_load on parts in memory: the same steps after the weights, no file system. */
static int model_load_memory(vit_model *m, const vit_model_memory *parts, vit_error *err)
{
    char *dir = parts->is_dir ? strdup(parts->path) : path_dirname(parts->path);
    char *cfg_path = dir ? path_join(dir, "config.json") : NULL;
    int r = cfg_path ? 0 : vit_errorf(err, -ENOMEM, "out of memory");
    m->weights = vit_safetensors_ref(parts->weights);
    if (r == 0)
        r = parse_config(m, parts->is_dir, cfg_path, parts->config_json, parts->config_len, err);
    if (r == 0)
        r = model_build(m, err);
    free(dir);
    free(cfg_path);
    return r;
}

/* Appends "dev:ino:size:mtime_ns|" of FILE to the string at *S of *LEN bytes ("-|" when it
 * does not exist); a file that exists but is not a regular file is an error. */
static int stamp_file(const char *file, char **s, size_t *len, vit_error *err)
{
    struct stat sb;
    char one[128];
    if (stat(file, &sb) < 0)
        snprintf(one, sizeof(one), "-|");
    else if (!S_ISREG(sb.st_mode))
        return vit_errorf(err, -EINVAL, "%s: not a regular file (%s)", file,
                          vit_file_kind(sb.st_mode));
    else
        snprintf(one, sizeof(one), "%ju:%ju:%jd:%jd.%09ld|", (uintmax_t)sb.st_dev,
                 (uintmax_t)sb.st_ino, (intmax_t)sb.st_size, (intmax_t)sb.st_mtim.tv_sec,
                 sb.st_mtim.tv_nsec);
    size_t n = strlen(one);
    char *grown = realloc(*s, *len + n + 1);
    if (!grown)
        return vit_errorf(err, -ENOMEM, "out of memory");
    memcpy(grown + *len, one, n + 1);
    *s = grown;
    *len += n;
    return 0;
}

int vit_model_stamp(const char *path, char **ret_stamp, vit_error *err)
{
    static const char *const names[] = {"model.safetensors", "config.json", "labels.txt"};
    struct stat sb;
    if (stat(path, &sb) < 0) {
        int r = -errno;
        return vit_errorf(err, r, "%s: %s", path, strerror(-r));
    }
    int is_dir = S_ISDIR(sb.st_mode);
    char *dir = is_dir ? strdup(path) : path_dirname(path), *stamp = NULL;
    size_t len = 0;
    int r = dir ? 0 : vit_errorf(err, -ENOMEM, "out of memory");
    if (r == 0 && !is_dir) /* a single file: it is the weights */
        r = stamp_file(path, &stamp, &len, err);
    for (size_t i = is_dir ? 0 : 1; r == 0 && i < sizeof(names) / sizeof(names[0]); i++) {
        char *file = path_join(dir, names[i]);
        r = file ? stamp_file(file, &stamp, &len, err) : vit_errorf(err, -ENOMEM, "out of memory");
        free(file);
    }
    free(dir);
    if (r < 0) {
        free(stamp);
        return r;
    }
    *ret_stamp = stamp;
    return 0;
}

/* A model with one reference and nothing loaded yet, named PATH. */
static vit_model *model_new(const char *path)
{
    vit_gemm_init();
    vit_model *m = calloc(1, sizeof(*m));
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->weights_lock, NULL);
    return m;
}

int vit_model_open(const char *path, vit_model **ret_model, vit_error *err)
{
    vit_model *m = model_new(path);
    if (!m)
        return vit_errorf(err, -ENOMEM, "out of memory");
    int r = model_load(m, path, err);
    if (r < 0) {
        vit_model_unref(m);
        return r;
    }
    *ret_model = m;
    return 0;
}

int vit_model_open_memory(const vit_model_memory *parts, vit_model **ret_model, vit_error *err)
{
    vit_model *m = model_new(parts->path);
    if (!m)
        return vit_errorf(err, -ENOMEM, "out of memory");
    int r = model_load_memory(m, parts, err);
    if (r < 0) {
        vit_model_unref(m);
        return r;
    }
    *ret_model = m;
    return 0;
}

vit_model *vit_model_ref(vit_model *model)
{
    if (model)
        atomic_fetch_add(&model->refs, 1);
    return model;
}

vit_model *vit_model_unref(vit_model *model)
{
    if (!model || atomic_fetch_sub(&model->refs, 1) != 1)
        return NULL;
    if (model->family && model->net)
        model->family->destroy(model->net);
    if (model->fallback_labels)
        for (int i = 0; i < model->num_classes; i++)
            free(model->fallback_labels[i]);
    free(model->fallback_labels);
    vit_config_clear(&model->config);
    vit_safetensors_unref(model->weights);
    vit_gemm_weights_free(model->fp32);
    vit_gemm_weights_free(model->bf16);
    pthread_mutex_destroy(&model->weights_lock);
    free(model->path);
    free(model);
    return NULL;
}

const char *vit_model_path(const vit_model *model)
{
    return model->path;
}

const char *vit_model_architecture(const vit_model *model)
{
    return model->config.architecture;
}

int vit_model_num_classes(const vit_model *model)
{
    return model->num_classes;
}

const char *vit_model_label(const vit_model *model, int class_index)
{
    if (class_index < 0 || class_index >= model->num_classes)
        return NULL;
    return model->config.labels ? model->config.labels[class_index]
                                : model->fallback_labels[class_index];
}

void vit_model_input_size(const vit_model *model, int *ret_channels, int *ret_height,
                          int *ret_width)
{
    if (ret_channels)
        *ret_channels = model->input_c;
    if (ret_height)
        *ret_height = model->input_h;
    if (ret_width)
        *ret_width = model->input_w;
}

int vit_model_num_exits(const vit_model *model)
{
    return model->num_exits;
}

double vit_model_exit_gflops(const vit_model *model, int exit_index)
{
    if (exit_index < 0 || exit_index >= model->num_exits)
        return 0.0;
    return model->exit_gflops[exit_index];
}

float vit_model_default_exit_threshold(const vit_model *model)
{
    return model->num_exits > 1 ? model->config.exit_threshold : 1.0f;
}
