/* fuzz.h — what every target in tests/fuzz shares: the libFuzzer entry point and a scratch
 * folder the targets write their input into (the parsers under test read files, not buffers).
 *
 * A target is one fuzz-<name>.c defining LLVMFuzzerTestOneInput. It is linked twice: with
 * clang's libFuzzer (-Dfuzz=true, for finding inputs) and with replay.c (any compiler, run by
 * `meson test` over corpus/<name> and crashers/<name>). A finding is a crash, a sanitizer report,
 * or an abort() where an outcome contradicts the API's contract.
 */
#ifndef VITD_FUZZ_H
#define VITD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private folder under $TMPDIR (or /tmp), made on first use and removed at exit. */
const char *fuzz_scratch_dir(void);
/* Writes SIZE bytes to scratch/NAME (NAME may hold folders, made as needed) and
 * returns the full path in a static buffer; aborts on I/O failure, which is no finding. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

/* fuzz-vit-open.c: the tiny ViT's config.json, and one checked vit_model_open() of PATH. */
extern const char fuzz_tiny_config_json[];
void fuzz_check_model_open(const char *path);

#endif
