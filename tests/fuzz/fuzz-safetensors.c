/* fuzz-safetensors.c — any bytes as model.safetensors, opened through vit_model_open() twice:
 * as a folder's weights beside the tiny ViT's valid config.json, and as a single .safetensors
 * file (whose __metadata__ must then carry the config). Seeds: corpus/safetensors. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char folder[4096];

    if (!folder[0]) {
        fuzz_write("model/config.json", (const uint8_t *)fuzz_tiny_config_json,
                   strlen(fuzz_tiny_config_json));
        snprintf(folder, sizeof(folder), "%s/model", fuzz_scratch_dir());
    }
    fuzz_write("model/model.safetensors", data, size);
    fuzz_check_model_open(folder);
    fuzz_check_model_open(fuzz_write("single.safetensors", data, size));
    return 0;
}
