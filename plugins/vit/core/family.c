/* family.c — the table of network families, searched by architecture name (each family's glob
 * patterns), the error for a name none builds, and what every family's build does last
 * (vit_family_set_net). */
#include "core/family.h"

#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>

#include "core/error.h"
#include "core/suggest.h"

static const vit_family *const families[] = {
    &vit_family_vit,   &vit_family_poolformer,    &vit_family_dvt,
    &vit_family_pvt,   &vit_family_swin,          &vit_family_hatnet,
    &vit_family_sret,  &vit_family_metaformer_v2, &vit_family_efficientformer,
    &vit_family_levit, &vit_family_mobilevit,     &vit_family_efficientformer_v2,
};

#define NUM_FAMILIES (sizeof(families) / sizeof(families[0]))

/* timm families people bring that libvit does not build, and what they would need. */
static const struct {
    const char *pattern, *lacks;
} unsupported[] = {
    {"eva02_*", "EVA-02 (rotary position embeddings, SwiGLU MLP)"},
    {"eva_*", "EVA (rotary position embeddings)"},
    {"aimv2_*", "AIMv2 (RmsNorm, SwiGLU MLP)"},
    {"beit*", "BEiT (relative position bias)"},
    {"swinv2_*", "Swin v2 (cosine attention, log-spaced position bias)"},
    {"mobilevitv2_*", "MobileViT v2 (separable linear self-attention, GroupNorm transformers)"},
    {"levit_conv_*", "LeViT with convolutional weights (levit_conv_*: 1x1 convs on NCHW maps in "
                     "place of levit_*'s Linear layers; the levit_* checkpoint of the same size "
                     "runs)"},
};

static int matches(const vit_family *f, const char *architecture)
{
    for (const char *const *p = f->patterns; p && *p; p++)
        if (fnmatch(*p, architecture, 0) == 0)
            return 1;
    return f->match && f->match(architecture);
}

const vit_family *vit_family_find(const char *architecture)
{
    for (size_t i = 0; i < NUM_FAMILIES; i++)
        if (matches(families[i], architecture))
            return families[i];
    return NULL;
}

const vit_family *vit_family_at(size_t index)
{
    return index < NUM_FAMILIES ? families[index] : NULL;
}

const char *vit_architectures(size_t family, const char *const **ret_patterns)
{
    static const char *const none[] = {NULL};
    const vit_family *f = vit_family_at(family);
    if (f && ret_patterns)
        *ret_patterns = f->patterns ? f->patterns : none;
    return f ? f->name : NULL;
}

int vit_family_unknown(const char *architecture, const char *source, vit_error *err)
{
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (fnmatch(unsupported[i].pattern, architecture, 0) == 0)
            return vit_errorf(err, -ENOTSUP, "%s: architecture \"%.100s\": %s is not supported",
                              source, architecture, unsupported[i].lacks);
    const char *best = NULL;
    int best_d = 1 << 30;
    for (size_t i = 0; i < NUM_FAMILIES; i++)
        for (const char *const *p = families[i]->patterns; p && *p; p++) {
            int d = vit_suggest_distance(architecture, *p);
            if (d < best_d) {
                best_d = d;
                best = *p;
            }
        }
    return vit_errorf(err, -ENOTSUP,
                      "%s: unknown architecture \"%.100s\" (closest supported: \"%s\"; "
                      "vit-infer --list-architectures lists them all)",
                      source, architecture, best ? best : "vit_*");
}

void vit_family_set_net(vit_model *model, void *net, int in_c, int h, int w, int num_classes,
                        double gflops)
{
    model->net = net;
    model->input_c = in_c;
    model->input_h = h;
    model->input_w = w;
    model->num_classes = num_classes;
    model->num_exits = 1;
    model->exit_gflops[0] = gflops;
}
