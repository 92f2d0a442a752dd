/* source.c — the `source:` key of structured pipelines: which forms are accepted and the
 * gst-launch fragment each becomes.
 *
 *   test:PATTERN       videotestsrc pattern=PATTERN is-live=true (names below, as
 *                      gst-inspect-1.0 videotestsrc lists them in GStreamer 1.22)
 *   v4l2:/dev/videoN   v4l2src device=... ! videoconvert (any absolute device path, e.g.
 *                      /dev/v4l/by-id/...; cameras often offer only YUY2, hence the converter)
 *   file:///abs, rtsp[s|t|u]://, http(s)://
 *                      uridecodebin uri=... ! videoconvert
 *   a plain path       turned into a file:// URI, relative paths resolved against the folder of
 *                      the YAML file. Whether the file exists is NOT checked at load time (a
 *                      recording may appear later): a missing file fails that pipeline only,
 *                      at run time, like an unplugged camera.
 */
#include <string.h>

#include "vp-private.h"

const char *const vp_test_patterns[] = {
    "smpte",
    "snow",
    "black",
    "white",
    "red",
    "green",
    "blue",
    "checkers-1",
    "checkers-2",
    "checkers-4",
    "checkers-8",
    "circular",
    "blink",
    "smpte75",
    "zone-plate",
    "gamut",
    "chroma-zone-plate",
    "solid-color",
    "ball",
    "smpte100",
    "bar",
    "pinwheel",
    "spokes",
    "gradient",
    "colors",
    "smpte-rp-219",
    NULL,
};

static const char *const uri_schemes[] = {"file",  "rtsp", "rtsps", "rtspt",
                                          "rtspu", "http", "https", NULL};

static gboolean is_test_pattern(const char *name)
{
    for (size_t i = 0; vp_test_patterns[i]; i++)
        if (strcmp(name, vp_test_patterns[i]) == 0)
            return TRUE;
    return FALSE;
}

static char *normalise_test(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                            const char *source)
{
    const char *pattern = source + strlen("test:");
    const char *suggestion;

    if (is_test_pattern(pattern))
        return g_strdup(source);
    suggestion = *pattern ? vp_suggest(pattern, vp_test_patterns) : NULL;
    if (suggestion)
        vp_yaml_error(file, errs, node,
                      "unknown test pattern '%s' in 'source' (did you mean '%s'?)", pattern,
                      suggestion);
    else
        vp_yaml_error(file, errs, node,
                      "unknown test pattern '%s' in 'source' (videotestsrc knows smpte, snow, "
                      "ball, ... : see gst-inspect-1.0 videotestsrc)",
                      pattern);
    return NULL;
}

static char *normalise_uri(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                           const char *source)
{
    char *scheme = g_uri_parse_scheme(source);
    gboolean known = FALSE;
    char *result = NULL;

    for (size_t i = 0; scheme && uri_schemes[i]; i++)
        if (g_ascii_strcasecmp(scheme, uri_schemes[i]) == 0)
            known = TRUE;
    if (!known) {
        vp_yaml_error(file, errs, node,
                      "unsupported source '%s' (expected test:PATTERN, v4l2:/dev/videoN, "
                      "file://, rtsp://, http(s):// or a file path)",
                      source);
    } else if (!g_uri_is_valid(source, G_URI_FLAGS_ENCODED, NULL)) {
        vp_yaml_error(file, errs, node,
                      "source '%s' is not a valid URI (spaces and other special characters "
                      "must be %%-encoded, or give a plain file path)",
                      source);
    } else if (g_ascii_strcasecmp(scheme, "file") == 0) {
        char *host = NULL;
        char *path = g_filename_from_uri(source, &host, NULL);
        if (host && g_ascii_strcasecmp(host, "localhost") != 0)
            g_clear_pointer(&path, g_free);
        g_free(host);
        if (!path)
            vp_yaml_error(file, errs, node,
                          "source '%s' is not a local file URI (expected file:///absolute/path)",
                          source);
        else /* re-encoded: file:///a b.mp4 becomes file:///a%20b.mp4 */
            result = g_filename_to_uri(path, NULL, NULL);
        g_free(path);
    } else {
        result = g_strdup(source);
    }
    g_free(scheme);
    return result;
}

char *vp_source_normalise(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                          const char *source)
{
    if (g_str_has_prefix(source, "test:"))
        return normalise_test(file, errs, node, source);
    if (g_str_has_prefix(source, "v4l2:")) {
        const char *device = source + strlen("v4l2:");
        if (device[0] != '/') {
            vp_yaml_error(file, errs, node,
                          "'source' v4l2: needs an absolute device path, e.g. v4l2:/dev/video0, "
                          "got '%s'",
                          source);
            return NULL;
        }
        return g_strdup(source);
    }
    if (strstr(source, "://"))
        return normalise_uri(file, errs, node, source);
    {
        char *path = vp_resolve_path(file->dir, source);
        char *uri = g_filename_to_uri(path, NULL, NULL);
        if (!uri)
            vp_yaml_error(file, errs, node, "source '%s' is not a usable file path", source);
        g_free(path);
        return uri;
    }
}

char *vp_source_to_launch(const char *source)
{
    char *quoted, *fragment;

    if (g_str_has_prefix(source, "test:"))
        return g_strdup_printf("videotestsrc is-live=true pattern=%s", source + strlen("test:"));
    if (g_str_has_prefix(source, "v4l2:")) {
        quoted = vp_launch_quote(source + strlen("v4l2:"));
        fragment = g_strdup_printf("v4l2src device=%s ! videoconvert", quoted);
    } else {
        quoted = vp_launch_quote(source);
        fragment = g_strdup_printf("uridecodebin uri=%s ! videoconvert", quoted);
    }
    g_free(quoted);
    return fragment;
}
