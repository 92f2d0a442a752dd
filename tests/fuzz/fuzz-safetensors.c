/* fuzz-safetensors.c — any bytes as model.safetensors, opened twice (fuzz-vit-open.c): as a
 * folder's weights beside the tiny ViT's valid config.json, and as a single .safetensors file
 * with no config.json beside it (its __metadata__ must then carry the config). Seeds:
 * corpus/safetensors. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char folder[4096], single[sizeof(folder) + 32];

    if (!folder[0]) {
        snprintf(folder, sizeof(folder), "%s/model", fuzz_scratch_dir());
        snprintf(single, sizeof(single), "%s/model.safetensors", folder);
    }
    fuzz_check_model_open(&(fuzz_model_files){.path = folder,
                                              .is_dir = 1,
                                              .weights = data,
                                              .weights_size = size,
                                              .config_json = fuzz_tiny_config_json,
                                              .config_len = strlen(fuzz_tiny_config_json)});
    fuzz_check_model_open(
        &(fuzz_model_files){.path = single, .is_dir = 0, .weights = data, .weights_size = size});
    return 0;
}
