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
 * ERRORS (newline-separated) and returns FALSE when there was any. STAMPS (may be NULL; owns
 * strings) receives pipeline name -> vitd_validate_files_stamp() of its files as checked. May
 * block for up to VITD_VALIDATE_TIMEOUT_US per unresponsive file: never call it on the main
 * loop. */
gboolean vitd_validate_config(const VpConfig *config, GString *errors, GHashTable *stamps);

/* Loads CONFIG_PATH and validates it (vp_config_load + vitd_validate_config, STAMPS as there).
 * Returns the config, or NULL with every problem in ERROR (domain VP_CONFIG_ERROR). Blocks like
 * vitd_validate_config. */
VpConfig *vitd_validate_load(const char *config_path, GHashTable *stamps, GError **error);

/* The identity of the files a pipeline on MODEL (may be NULL) with the labels file LABELS (may
 * be NULL) reads: vit_model_stamp() of the model and device, inode, size and mtime of LABELS.
 * A new string, or NULL when one of them cannot be stat'ed as a model file. Stats files, so it
 * may block: never call it on the main loop. */
char *vitd_validate_files_stamp(const char *model, const char *labels);

/* FALSE when any element of the built PIPELINE (a launch: spec's) is off the allow-list (error
 * names it). */
gboolean vitd_validate_elements(GstElement *pipeline, const char *const *extra, GError **error);
