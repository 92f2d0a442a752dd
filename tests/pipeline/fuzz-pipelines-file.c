/* fuzz-pipelines-file.c — libFuzzer target: any bytes as a pipelines file and as vitd.yaml.
 *
 * Built only with clang (`CC=clang meson setup build-fuzz`). libFuzzer takes seed folders
 * (not recursive) and writes new inputs into the first, so copy the examples to a corpus:
 *   mkdir corpus && find tests/pipeline/data -name '*.yaml' -exec cp {} corpus/ ';'
 *   build-fuzz/tests/pipeline/fuzz-pipelines-file -max_total_time=60 corpus
 * A finding is a crash, a sanitizer report, or a load whose outcome contradicts its return value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vitpipeline.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char *write_input(const char *dir, const char *name, const unsigned char *data, size_t size)
{
    char *path = g_build_filename(dir, name, NULL);
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    return path;
}

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

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char *dir;
    GPtrArray *specs = g_ptr_array_new_with_free_func((GDestroyNotify)vp_pipeline_spec_free);
    GError *error = NULL;
    char *path;
    VpConfig *config;

    if (!dir) { /* one scratch folder per run, with an empty pipelines.d beside vitd.yaml */
        dir = g_dir_make_tmp("vp-fuzz-XXXXXX", NULL);
        char *pipelines = g_build_filename(dir, "pipelines.d", NULL);
        g_mkdir_with_parents(pipelines, 0755);
        g_free(pipelines);
    }
    path = write_input(dir, "input.yaml", data, size);
    if (vp_pipelines_file_load(path, specs, &error) != (error == NULL))
        abort();
    check_specs(specs);
    g_clear_error(&error);
    g_ptr_array_free(specs, TRUE);
    unlink(path);
    g_free(path);

    path = write_input(dir, "vitd.yaml", data, size);
    config = vp_config_load(path, &error);
    if ((config == NULL) != (error != NULL))
        abort();
    if (config)
        check_specs(config->pipelines);
    vp_config_free(config);
    g_clear_error(&error);
    g_free(path);
    return 0;
}
