/* gstvitplugin.c — the GStreamer plugin "vit": registers vitclassify and vitoverlay. */
#include "config.h"

#include <gst/gst.h>

#include "gstvitclassify.h"
#include "gstvitmeta.h"
#include "gstvitoverlay.h"

static gboolean plugin_init(GstPlugin *plugin)
{
    gboolean ok = TRUE;

    /* Register the meta up front so readers find it by name as soon as the plugin is loaded. */
    gst_vit_classification_meta_get_info();
    ok &= GST_ELEMENT_REGISTER(vitclassify, plugin);
    ok &= GST_ELEMENT_REGISTER(vitoverlay, plugin);
    return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, vit,
                  "Vision-transformer video classification (vitd)", plugin_init, PACKAGE_VERSION,
                  "LGPL", PACKAGE, PACKAGE_ORIGIN)
