/* fuzz-model-config.c — any bytes as config.json beside a fixed valid model.safetensors (the
 * tiny ViT, read from FUZZ_TINY_MODEL at start-up), opened as a folder (fuzz-vit-open.c). The
 * loader's JSON checks (types, ranges, label_names, budgets, architecture) are all reached
 * because the weights themselves are sound. Seeds: corpus/model-config. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

static size_t read_tiny_model(uint8_t *buffer, size_t size)
{
    FILE *f = fopen(FUZZ_TINY_MODEL, "rb");
    size_t n;

    if (!f || (n = fread(buffer, 1, size, f)) == 0 || !feof(f)) {
        fprintf(stderr, "fuzz-model-config: cannot read %s\n", FUZZ_TINY_MODEL);
        abort();
    }
    fclose(f);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t weights[1 << 16];
    static size_t weights_size;
    static char folder[4096];

    if (!folder[0]) {
        weights_size = read_tiny_model(weights, sizeof(weights));
        snprintf(folder, sizeof(folder), "%s/model", fuzz_scratch_dir());
    }
    fuzz_check_model_open(&(fuzz_model_files){.path = folder,
                                              .is_dir = 1,
                                              .weights = weights,
                                              .weights_size = weights_size,
                                              .config_json = (const char *)data,
                                              .config_len = size});
    return 0;
}
