/* launch.c — vp_spec_to_launch(): the gst-launch description the daemon hands to
 * gst_parse_launch().
 *
 * Structured specs become
 *   SOURCE ! vitclassify name=vit model="..." top-k=N interval=N [exit-threshold=X] threads=N
 *          [precision=bf16|auto]
 *          ! fakesink name=sink sync=true qos=true          (realtime: false -> sync=false)
 * where SOURCE comes from source.c. Launch specs are the user's text with two edits only:
 * an unnamed vitclassify gets `name=vit` (a differently named one, which validation rejects,
 * is renamed to vit); a relative model= path is replaced by the absolute path it resolved to
 * (relative to the YAML file's folder, as for structured entries).
 */
#include <string.h>

#include "vitclassify-names.h"
#include "vp-private.h"

typedef struct {
    gsize start, end;
    char *text;
} Edit;

static char *apply_edits(const char *text, Edit *edits, int n)
{
    GString *s = g_string_new(text);

    /* Edits never overlap; apply from the end so earlier offsets stay valid. */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (edits[j].start > edits[i].start) {
                Edit t = edits[i];
                edits[i] = edits[j];
                edits[j] = t;
            }
    for (int i = 0; i < n; i++) {
        g_string_erase(s, (gssize)edits[i].start, (gssize)(edits[i].end - edits[i].start));
        g_string_insert(s, (gssize)edits[i].start, edits[i].text);
        g_free(edits[i].text);
    }
    return g_string_free(s, FALSE);
}

/* VALUE (owned), followed by a space when TEXT goes on without one at END: gst-launch values
 * run to the next space, so an edit must not merge with what follows it ("vitclassify!sink",
 * "name='x'y"). */
static char *spaced(const char *text, gsize end, char *value)
{
    char *s;

    if (!text[end] || g_ascii_isspace(text[end]))
        return value;
    s = g_strconcat(value, " ", NULL);
    g_free(value);
    return s;
}

static char *launch_from_text(const VpPipelineSpec *spec)
{
    VpLaunchScan scan;
    Edit edits[3];
    int n = 0;
    char *result;

    vp_launch_scan(spec->launch, &scan);
    if (scan.n_vitclassify > 0) {
        if (!scan.name)
            edits[n++] = (Edit){scan.element_end, scan.element_end,
                                g_strdup(" name=" VIT_CLASSIFY_ELEMENT_NAME)};
        else if (strcmp(scan.name, VIT_CLASSIFY_ELEMENT_NAME) != 0)
            edits[n++] =
                (Edit){scan.name_start, scan.name_end, g_strdup(VIT_CLASSIFY_ELEMENT_NAME)};
        if (scan.model && spec->model && !g_path_is_absolute(scan.model))
            edits[n++] = (Edit){scan.model_start, scan.model_end, vp_launch_quote(spec->model)};
    }
    for (int i = 0; i < n; i++)
        edits[i].text = spaced(spec->launch, edits[i].end, edits[i].text);
    result = apply_edits(spec->launch, edits, n);
    vp_launch_scan_clear(&scan);
    return result;
}

static char *launch_from_structure(const VpPipelineSpec *spec)
{
    GString *s = g_string_new(NULL);
    char *source = vp_source_to_launch(spec->source ? spec->source : "test:smpte");
    char *model = vp_launch_quote(spec->model ? spec->model : "");

    g_string_append_printf(
        s, "%s ! vitclassify name=" VIT_CLASSIFY_ELEMENT_NAME " model=%s top-k=%d interval=%d",
        source, model, spec->top_k, spec->interval);
    if (spec->early_exit >= 0) {
        char number[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_formatd(number, sizeof(number), "%.6g", spec->early_exit);
        g_string_append_printf(s, " exit-threshold=%s", number);
    }
    if (spec->exit_budget > 0) {
        char number[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_formatd(number, sizeof(number), "%.6g", spec->exit_budget);
        g_string_append_printf(s, " exit-budget=%s", number);
    }
    g_string_append_printf(s, " threads=%d", spec->threads);
    if (spec->precision != 0)
        g_string_append_printf(s, " precision=%s", vp_precision_choices[spec->precision]);
    g_string_append_printf(s, " ! fakesink name=sink %s",
                           spec->realtime ? "sync=true qos=true" : "sync=false");
    g_free(model);
    g_free(source);
    return g_string_free(s, FALSE);
}

char *vp_spec_to_launch(const VpPipelineSpec *spec)
{
    g_return_val_if_fail(spec != NULL, NULL);
    if (spec->launch)
        return launch_from_text(spec);
    return launch_from_structure(spec);
}
