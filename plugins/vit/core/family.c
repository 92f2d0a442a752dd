/* family.c — the table of network families, searched by architecture name, and what every
 * family's build does last (vit_family_set_net). */
#include "core/family.h"

#include <stddef.h>

static const vit_family *const families[] = {
    &vit_family_vit,   &vit_family_poolformer,    &vit_family_dvt,
    &vit_family_pvt,   &vit_family_swin,          &vit_family_hatnet,
    &vit_family_sret,  &vit_family_metaformer_v2, &vit_family_efficientformer,
    &vit_family_levit,
};

const vit_family *vit_family_find(const char *architecture)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (families[i]->match(architecture))
            return families[i];
    return NULL;
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
