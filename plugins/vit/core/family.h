/* family.h — how a network family plugs into libvit.
 *
 * A family recognises its architecture names, builds an immutable network description from the
 * weights at model open (checking every tensor it uses), states how much scratch memory one
 * session needs, and runs the network inside that scratch arena. Adding a family (PoolFormer,
 * PVT, Swin, SReT, DVT cascades) is a new family_*.c plus one line in family.c's table.
 *
 * A family declares the architecture names it builds as glob patterns (fnmatch: "vit_*");
 * `vit-infer --list-architectures` prints them and an unknown name's error suggests the
 * closest. */
#ifndef VIT_FAMILY_H
#define VIT_FAMILY_H

#include <stddef.h>

#include "core/model.h"
#include "core/threadpool.h"

/* What one run has to work with; owned by the session. */
typedef struct vit_run {
    vit_threadpool *pool;
    int threads;          /* vit_threadpool_threads(pool) */
    void *arena;          /* arena_bytes(model, threads) bytes, 64-byte aligned */
    float exit_threshold; /* for cascades */
    /* Cascades: exit k answers when its top probability >= exit_thresholds[k] (the session fills
     * these from its threshold, the model's per-exit defaults or a budget). */
    float exit_thresholds[VIT_MAX_EXITS];
    float *logits; /* [num_classes]: the answering exit's logits go here */
} vit_run;

typedef struct vit_family {
    const char *name;
    const char *const *patterns; /* NULL-terminated globs of the architecture names it builds */
    /* Optional, for names a glob cannot say: tried after patterns (NULL: patterns only). */
    int (*match)(const char *architecture);
    /* Reads and checks the tensors; sets model->net, the input size, num_classes, num_exits
     * and exit_gflops. Errors name the file and the tensor. */
    int (*build)(vit_model *model, vit_error *err);
    void (*destroy)(void *net);
    size_t (*arena_bytes)(const vit_model *model, int threads);
    /* Runs on an input [input_c, input_h, input_w]; returns the answering exit (>= 0). Must not
     * allocate. */
    int (*run)(const vit_model *model, vit_run *run, const float *chw);
} vit_family;

const vit_family *vit_family_find(const char *architecture);
/* The registry in order, for listing: NULL past the end. */
const vit_family *vit_family_at(size_t index);
/* The error for an architecture no family builds (-ENOTSUP): a known-but-unsupported timm
 * family names what it lacks; anything else names the closest supported pattern. */
int vit_family_unknown(const char *architecture, const char *source, vit_error *err);

/* For a family's build: hands a built single-exit network to the model (model->net = net) and
 * sets its input size [in_c, h, w], num_classes, num_exits = 1 and exit_gflops[0] = gflops. */
void vit_family_set_net(vit_model *model, void *net, int in_c, int h, int w, int num_classes,
                        double gflops);

extern const vit_family vit_family_vit;
extern const vit_family vit_family_poolformer;
extern const vit_family vit_family_dvt;
extern const vit_family vit_family_pvt;
extern const vit_family vit_family_swin;
extern const vit_family vit_family_hatnet;
extern const vit_family vit_family_sret;
extern const vit_family vit_family_metaformer_v2;
extern const vit_family vit_family_efficientformer;
extern const vit_family vit_family_levit;
extern const vit_family vit_family_mobilevit;
extern const vit_family vit_family_efficientformer_v2;

#endif
