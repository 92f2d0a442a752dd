/* family.c — the table of network families, searched by architecture name. */
#include "family.h"

#include <stddef.h>

static const vit_family *const families[] = {
    &vit_family_vit,
    &vit_family_poolformer,
    &vit_family_dvt,
    &vit_family_pvt,
    &vit_family_swin,
    &vit_family_hatnet,
    &vit_family_sret,
};

const vit_family *vit_family_find(const char *architecture)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (families[i]->match(architecture))
            return families[i];
    return NULL;
}
