/* fuzz-vit-open.c — what the two libvit model targets (fuzz-safetensors.c,
 * fuzz-model-config.c) share: the tiny ViT's config.json and the check of one model open.
 *
 * Files cost more than parsing them: writing, reading and mapping a model's files took most of
 * an execution. So the weights are parsed from the input's bytes (vit_safetensors_open_memory)
 * and the model is opened from them and config.json's text (vit_model_open_memory,
 * core/model.h), which run vit_model_open's checks without the file system. Weights whose bytes
 * have not changed since the last open (the fixed model of fuzz-model-config, the second open
 * of one fuzz-safetensors input) are not parsed again. Replay (`meson test`) also writes the
 * files to the scratch folder and opens them with vit_model_open, which must give the same
 * outcome and message, so the two opens cannot drift apart.
 *
 * Contract checked: 0 with a usable model (positive sizes, a label for every class, finite
 * non-negative costs) or a negative errno with a one-line message and the output untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h"
#include "fuzz.h"
#include "vit.h"

/* The config of tests/fuzz/corpus/safetensors/tiny.safetensors (see make_corpus.py). */
const char fuzz_tiny_config_json[] =
    "{\"architecture\": \"vit_fuzz_patch4_8\", \"num_classes\": 3,\n"
    " \"model_args\": {\"num_heads\": 2, \"img_size\": 8, \"in_chans\": 1},\n"
    " \"pretrained_cfg\": {\"input_size\": [1, 8, 8], \"mean\": [0.5], \"std\": [0.5],\n"
    "   \"crop_pct\": 1.0, \"interpolation\": \"bilinear\"},\n"
    " \"label_names\": [\"cat\", \"dog\", \"fox\"]}\n";

/* The last weights parsed: their name and bytes, and the outcome. */
static struct {
    char name[4096];
    uint8_t *bytes;
    size_t size;
    int r;
    vit_safetensors *st;
    vit_error err;
} last;

static void check_error(int r, const vit_error *err)
{
    if (r >= 0 || !err->message[0] || strchr(err->message, '\n'))
        abort();
}

/* The weights of FILES parsed as NAME, from the last parse when the bytes are the same. */
static int open_weights(const fuzz_model_files *files, const char *name, vit_safetensors **ret_st,
                        vit_error *err)
{
    if (strcmp(last.name, name) || last.size != files->weights_size || !last.bytes ||
        memcmp(last.bytes, files->weights, files->weights_size)) {
        vit_safetensors *sentinel = (vit_safetensors *)&sentinel;
        last.st = vit_safetensors_unref(last.st);
        free(last.bytes);
        if (!(last.bytes = malloc(files->weights_size ? files->weights_size : 1)))
            abort();
        memcpy(last.bytes, files->weights, files->weights_size);
        last.size = files->weights_size;
        snprintf(last.name, sizeof(last.name), "%s", name);
        memset(&last.err, 0, sizeof(last.err));
        last.st = sentinel;
        last.r = vit_safetensors_open_memory(name, files->weights, files->weights_size, &last.st,
                                             &last.err);
        if (last.r < 0 && last.st != sentinel)
            abort();
        if (last.r < 0)
            check_error(last.r, &last.err), last.st = NULL;
    }
    *ret_st = last.st;
    *err = last.err;
    return last.r;
}

static void check_model(const vit_model *model)
{
    int classes = vit_model_num_classes(model), exits = vit_model_num_exits(model);
    int c = 0, h = 0, w = 0;

    vit_model_input_size(model, &c, &h, &w);
    if (classes <= 0 || exits <= 0 || c <= 0 || h <= 0 || w <= 0 || !vit_model_architecture(model))
        abort();
    for (int k = 0; k < classes; k++)
        if (!vit_model_label(model, k))
            abort();
    for (int e = 0; e < exits; e++)
        if (!(vit_model_exit_gflops(model, e) >= 0.0))
            abort();
}

/* A model returned by either open, or the error it gave; checked against the contract. */
static int check_open(int r, vit_model *model, const vit_model *sentinel, const vit_error *err)
{
    if (r < 0) {
        if (model != sentinel)
            abort();
        check_error(r, err);
        return r;
    }
    check_model(model);
    vit_model_unref(model);
    return r;
}

/* The open the fuzzer runs: weights and config from memory. */
static int open_memory(const fuzz_model_files *files, const char *weights_name, vit_error *err)
{
    vit_model *sentinel = (vit_model *)&sentinel, *model = sentinel;
    vit_safetensors *st;

    int r = open_weights(files, weights_name, &st, err);
    if (r == 0) {
        memset(err, 0, sizeof(*err));
        r = vit_model_open_memory(&(vit_model_memory){.path = files->path,
                                                      .is_dir = files->is_dir,
                                                      .weights = st,
                                                      .config_json = files->config_json,
                                                      .config_len = files->config_len},
                                  &model, err);
    }
    return check_open(r, model, sentinel, err);
}

/* vit_model_open of FILES written out to where their path says (replay only). */
static int open_files(const fuzz_model_files *files, const char *weights_name, vit_error *err)
{
    vit_model *sentinel = (vit_model *)&sentinel, *model = sentinel;
    const char *scratch = fuzz_scratch_dir();
    size_t n = strlen(scratch);
    char config[4096];

    if (strncmp(weights_name, scratch, n) != 0 || weights_name[n] != '/')
        abort(); /* a target's mistake: its files must lie in the scratch folder */
    fuzz_write(weights_name + n + 1, files->weights, files->weights_size);
    snprintf(config, sizeof(config), "%.*s/config.json",
             (int)(strrchr(weights_name, '/') - weights_name), weights_name);
    if (files->config_json)
        fuzz_write(config + n + 1, (const uint8_t *)files->config_json, files->config_len);
    else
        unlink(config);
    memset(err, 0, sizeof(*err));
    int r = vit_model_open(files->path, &model, err);
    return check_open(r, model, sentinel, err);
}

void fuzz_check_model_open(const fuzz_model_files *files)
{
    char weights_name[4096];
    vit_error err, file_err;

    snprintf(weights_name, sizeof(weights_name), "%s%s", files->path,
             files->is_dir ? "/model.safetensors" : "");
    int r = open_memory(files, weights_name, &err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "  %s: %d %s\n", files->path, r, r < 0 ? err.message : "");
    if (fuzz_replaying && (open_files(files, weights_name, &file_err) != r ||
                           (r < 0 && strcmp(err.message, file_err.message)))) {
        fprintf(stderr, "from memory: %d %s\nvit_model_open: %s\n", r, err.message,
                file_err.message);
        abort();
    }
}
