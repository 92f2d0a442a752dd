/* gstvitmodelcache.h — one loaded vit_model per model path and version of its files per process.
 *
 * Every vitclassify in a process that names the same model (after resolving the path) shares
 * one vit_model while the files stay the same (vit_model_stamp): weights are read once however
 * many streams use them, and a file changed on disk is opened anew by the next element to
 * start. Thread-safe; no lock is held while a model opens. */
#ifndef GST_VIT_MODEL_CACHE_H
#define GST_VIT_MODEL_CACHE_H

#include <glib.h>

#include "vit.h"

G_BEGIN_DECLS

/* Returns the cached model for PATH as its files are now, opening it on first use. On success
 * *ret_model holds a reference the caller gives back with gst_vit_model_cache_release(). On failure
 * returns vit_model_open()'s negative errno, fills err and leaves *ret_model untouched. */
int gst_vit_model_cache_acquire(const char *path, vit_model **ret_model, vit_error *err);

/* Gives back a model from gst_vit_model_cache_acquire(); the last user closes it. Accepts
 * NULL; returns NULL. */
vit_model *gst_vit_model_cache_release(vit_model *model);

G_END_DECLS

#endif /* GST_VIT_MODEL_CACHE_H */
