/* fuzz-launch-text.c — the rewriting of a user's `launch:` text (vp_spec_to_launch() on a
 * launch spec; launch.c, launch_text.c). Input: the launch text, optionally followed by a NUL
 * byte and the model path the YAML loader resolved (absolute, as the loader makes it).
 *
 * Contract checked, by scanning the output again with the same scanner (vp_launch_scan):
 * a text without vitclassify comes back unchanged; otherwise the first vitclassify is now
 * named "vit", no vitclassify appeared or vanished, and its model= is the resolved path when
 * it was relative, untouched when absolute. Seeds: corpus/launch-text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vitpipeline.h"
#include "vp-private.h"

static gboolean same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *)data, size);
    size_t text_len = strlen(text);
    char *model = NULL;
    VpPipelineSpec spec = {0};
    VpLaunchScan in, out;
    char *launch;

    if (text_len + 1 < size) { /* a model path after the NUL, made absolute */
        char *tail = g_strndup((const char *)data + text_len + 1, size - text_len - 1);
        model = tail[0] == '/' ? g_strdup(tail) : g_strconcat("/", tail, NULL);
        g_free(tail);
    }
    spec.name = "fuzz";
    spec.launch = text;
    spec.model = model;
    launch = vp_spec_to_launch(&spec);
    if (!launch)
        abort();

    vp_launch_scan(text, &in);
    vp_launch_scan(launch, &out);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "  in:  %s\n  out: %s\n  name %s -> %s, model %s -> %s (resolved %s)\n",
                text, launch, in.name, out.name, in.model, out.model, model);
    if (in.n_vitclassify == 0) {
        if (strcmp(launch, text) != 0)
            abort();
    } else {
        gboolean relative = in.model && model && !g_path_is_absolute(in.model);
        if (out.n_vitclassify != in.n_vitclassify || !same(out.name, "vit") ||
            !same(out.model, relative ? model : in.model))
            abort();
    }
    vp_launch_scan_clear(&in);
    vp_launch_scan_clear(&out);
    g_free(launch);
    g_free(model);
    g_free(text);
    return 0;
}
