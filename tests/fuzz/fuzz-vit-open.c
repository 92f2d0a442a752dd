/* fuzz-vit-open.c — what the two libvit model targets (fuzz-safetensors.c,
 * fuzz-model-config.c) share: the tiny ViT's config.json and the check of one vit_model_open().
 *
 * Contract checked: 0 with a usable model (positive sizes, a label for every class, finite
 * non-negative costs) or a negative errno with a one-line message and *ret_model untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vit.h"

/* The config of tests/fuzz/corpus/safetensors/tiny.safetensors (see make_corpus.py). */
const char fuzz_tiny_config_json[] =
    "{\"architecture\": \"vit_fuzz_patch4_8\", \"num_classes\": 3,\n"
    " \"model_args\": {\"num_heads\": 2, \"img_size\": 8, \"in_chans\": 1},\n"
    " \"pretrained_cfg\": {\"input_size\": [1, 8, 8], \"mean\": [0.5], \"std\": [0.5],\n"
    "   \"crop_pct\": 1.0, \"interpolation\": \"bilinear\"},\n"
    " \"label_names\": [\"cat\", \"dog\", \"fox\"]}\n";

void fuzz_check_model_open(const char *path)
{
    vit_model *sentinel = (vit_model *)&sentinel, *model = sentinel;
    vit_error err;
    int c = 0, h = 0, w = 0;

    memset(&err, 0, sizeof(err));
    int r = vit_model_open(path, &model, &err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "  vit_model_open: %d %s\n", r, r < 0 ? err.message : "");
    if (r < 0) {
        if (model != sentinel || !err.message[0] || strchr(err.message, '\n'))
            abort();
        return;
    }
    int classes = vit_model_num_classes(model), exits = vit_model_num_exits(model);
    vit_model_input_size(model, &c, &h, &w);
    if (classes <= 0 || exits <= 0 || c <= 0 || h <= 0 || w <= 0 || !vit_model_architecture(model))
        abort();
    for (int k = 0; k < classes; k++)
        if (!vit_model_label(model, k))
            abort();
    for (int e = 0; e < exits; e++)
        if (!(vit_model_exit_gflops(model, e) >= 0.0))
            abort();
    vit_model_unref(model);
}
