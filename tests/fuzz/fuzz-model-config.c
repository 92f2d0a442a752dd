/* fuzz-model-config.c — any bytes as config.json beside a fixed valid model.safetensors (the
 * tiny ViT, read from FUZZ_TINY_MODEL at start-up), opened through vit_model_open(). The
 * loader's JSON checks (types, ranges, label_names, budgets, architecture) are all reached
 * because the weights themselves are sound. Seeds: corpus/model-config. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

static void copy_tiny_model(void)
{
    FILE *f = fopen(FUZZ_TINY_MODEL, "rb");
    static uint8_t buffer[1 << 16];
    size_t n;

    if (!f || (n = fread(buffer, 1, sizeof(buffer), f)) == 0 || !feof(f)) {
        fprintf(stderr, "fuzz-model-config: cannot read %s\n", FUZZ_TINY_MODEL);
        abort();
    }
    fclose(f);
    fuzz_write("model/model.safetensors", buffer, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char folder[4096];

    if (!folder[0]) {
        copy_tiny_model();
        snprintf(folder, sizeof(folder), "%s/model", fuzz_scratch_dir());
    }
    fuzz_write("model/config.json", data, size);
    fuzz_check_model_open(folder);
    return 0;
}
