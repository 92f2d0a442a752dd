/* vitd-validate.h — what vitd checks beyond the YAML (libvitpipeline) before it trusts a
 * configuration: every pipeline description builds, launch: pipelines hold only allowed
 * elements, and every model and labels file opens as the runtime would open it.
 * Used by `vitd --check` and by reload (in a worker thread); internal to vitd. */
#pragma once

#include <gst/gst.h>
#include "vitpipeline.h"

/* A model or labels file that does not open within this time is an error naming it. */
#define VITD_VALIDATE_TIMEOUT_US (10 * G_USEC_PER_SEC)

/* Checks every pipeline of CONFIG. Appends one "FILE:LINE:COL: message" line per problem to
 * ERRORS (newline-separated) and returns FALSE when there was any. May block for up to
 * VITD_VALIDATE_TIMEOUT_US per unresponsive file: never call it on the main loop. */
gboolean vitd_validate_config(const VpConfig *config, GString *errors);

/* Loads CONFIG_PATH and validates it (vp_config_load + vitd_validate_config). Returns the
 * config, or NULL with every problem in ERROR (domain VP_CONFIG_ERROR). Blocks like
 * vitd_validate_config. */
VpConfig *vitd_validate_load(const char *config_path, GError **error);

/* FALSE when any element of the built PIPELINE (a launch: spec's) is off the allow-list (error
 * names it). */
gboolean vitd_validate_elements(GstElement *pipeline, const char *const *extra, GError **error);
