/* launch_allow.c — least privilege for `launch:` text: which GStreamer elements a raw pipeline
 * may use. This is the one place the list lives; README.md ("Raw pipelines and the element
 * allow-list") documents it.
 *
 * vitd runs with the rights to read cameras and models, so a configuration must not turn it
 * into a tool that writes files or file descriptors (filesink, multifilesink, fdsink,
 * splitmuxsink, hlssink...) or runs anything else nobody reviewed. Deny by default: an element
 * is allowed when its factory name is on the list below, or when GStreamer is initialised (in
 * the daemon) and its factory klass says it only demuxes, parses, decodes or depayloads. Every
 * other element, and a URI (gst_parse_launch would make a source or sink for it), is refused
 * unless vitd.yaml names it in `launch-allow:`. The daemon checks the built pipeline again by
 * factory name, so nothing this scanner misses gets through.
 */
#include <gst/gst.h>
#include <string.h>

#include "vp-private.h"

static const char *const allowed_elements[] = {
    /* sources */
    "v4l2src",
    "rtspsrc",
    "uridecodebin",
    "uridecodebin3",
    "filesrc",
    "souphttpsrc",
    "videotestsrc",
    "appsrc",
    /* demuxing, parsing and decoding by name (klass covers the rest) */
    "decodebin",
    "decodebin3",
    "parsebin",
    "rawvideoparse",
    "videoparse",
    /* converters, scalers, rate, caps */
    "videoconvert",
    "videoscale",
    "videorate",
    "capsfilter",
    "videoflip",
    "videocrop",
    /* plumbing */
    "queue",
    "queue2",
    "tee",
    "identity",
    /* vitd's own elements and sinks that write nothing */
    "vitclassify",
    "vitoverlay",
    "fakesink",
    "appsink",
    NULL,
};

/* Klass words of elements that only turn bytes into frames. */
static const char *const allowed_klass_words[] = {"Demuxer", "Parser", "Decoder", "Depayloader",
                                                  NULL};

static gboolean in_list(const char *name, const char *const *list)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return TRUE;
    return FALSE;
}

static gboolean klass_allowed(const char *name)
{
    if (!gst_is_initialized() || strstr(name, "://"))
        return FALSE;
    GstElementFactory *factory = gst_element_factory_find(name);
    if (!factory)
        return FALSE;
    const char *klass = gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS);
    gboolean ok = FALSE;
    if (klass && !strstr(klass, "Sink") && !strstr(klass, "Encoder") && !strstr(klass, "Muxer"))
        for (const char *const *w = allowed_klass_words; *w && !ok; w++)
            ok = strstr(klass, *w) != NULL;
    gst_object_unref(factory);
    return ok;
}

gboolean vp_launch_element_allowed(const char *name, const char *const *extra)
{
    g_return_val_if_fail(name != NULL, FALSE);
    return in_list(name, allowed_elements) || in_list(name, extra) || klass_allowed(name);
}

/* An element GStreamer does not have: gst_parse_launch reports it better ("no element X"). */
static gboolean is_unknown(const char *name)
{
    if (!gst_is_initialized() || strstr(name, "://"))
        return FALSE;
    GstElementFactory *factory = gst_element_factory_find(name);
    if (factory)
        gst_object_unref(factory);
    return factory == NULL;
}

void vp_launch_check_elements(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node,
                              const VpLaunchScan *scan, const char *const *extra)
{
    for (guint i = 0; scan->elements && i < scan->elements->len; i++) {
        const char *name = g_ptr_array_index(scan->elements, i);
        gboolean seen = FALSE;
        for (guint j = 0; j < i && !seen; j++)
            seen = strcmp(name, g_ptr_array_index(scan->elements, j)) == 0;
        if (seen || vp_launch_element_allowed(name, extra) || is_unknown(name))
            continue;
        if (strstr(name, "://"))
            vp_yaml_error(file, errs, node,
                          "'launch': the URI '%.64s' would make vitd open it directly; name the "
                          "source element (e.g. filesrc location=..., rtspsrc location=...)",
                          name);
        else
            vp_yaml_error(file, errs, node,
                          "'launch': element '%.64s' is not on vitd's allow-list (it may write "
                          "files or descriptors); add it to 'launch-allow:' in vitd.yaml to "
                          "permit it",
                          name);
    }
}
