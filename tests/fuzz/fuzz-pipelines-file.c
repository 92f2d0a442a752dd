/* fuzz-pipelines-file.c — any bytes as a pipelines file (vp_pipelines_file_load) and as
 * vitd.yaml (vp_config_load). The scratch folder is laid out like tests/pipeline/data/example
 * (vitd.yaml, pipelines.d/, models/fmnist-vit and models/other.safetensors as fake weights), so
 * the seeds' model paths resolve and loads get past validation into spec building; the input as
 * a pipelines file lies in pipelines.in/, a sibling of pipelines.d.
 *
 * A finding is a crash, a sanitizer report, or a load whose outcome contradicts its return
 * value: a success must give complete specs that turn into launch descriptions. Seeds:
 * corpus/pipelines-file (the example configuration of tests/pipeline/data).
 */
#include <stdlib.h>

#include "fuzz.h"
#include "vitpipeline.h"

static void check_specs(GPtrArray *specs)
{
    for (guint i = 0; i < specs->len; i++) {
        const VpPipelineSpec *s = g_ptr_array_index(specs, i);
        char *launch = vp_spec_to_launch(s);
        if (!s->name || !s->model || (s->source == NULL) == (s->launch == NULL) || !launch)
            abort();
        g_free(launch);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gboolean ready;
    GPtrArray *specs = g_ptr_array_new_with_free_func((GDestroyNotify)vp_pipeline_spec_free);
    GError *error = NULL;
    const char *path;
    VpConfig *config;

    if (!ready) {
        static const uint8_t fake[] = "not really weights";
        fuzz_write("models/other.safetensors", fake, sizeof(fake));
        fuzz_write("models/fmnist-vit/model.safetensors", fake, sizeof(fake));
        fuzz_write("pipelines.d/.keep", NULL, 0);
        ready = TRUE;
    }
    /* Beside pipelines.d, not in it: relative paths resolve the same, and vitd.yaml's load below
     * does not find it there (no unlink and re-create per input). */
    path = fuzz_write("pipelines.in/input.yaml", data, size);
    if (vp_pipelines_file_load(path, specs, &error) != (error == NULL))
        abort();
    check_specs(specs);
    g_clear_error(&error);
    g_ptr_array_free(specs, TRUE);

    path = fuzz_write("vitd.yaml", data, size);
    config = vp_config_load(path, &error);
    if ((config == NULL) != (error != NULL))
        abort();
    if (config)
        check_specs(config->pipelines);
    vp_config_free(config);
    g_clear_error(&error);
    return 0;
}
