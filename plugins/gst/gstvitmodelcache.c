/* gstvitmodelcache.c — the process-wide model cache behind vitclassify's "model" property.
 *
 * A table from resolved path to {model, users} under one mutex. Opening happens with the mutex
 * held, so two elements starting together on the same path load it once rather than racing;
 * model loading is an mmap plus a plan, short next to a state change. The cache holds one
 * vit_model reference per entry and drops the entry (closing the model) with its last user:
 * a model edited on disk is reread once every element using it has stopped. */
#include "gstvitmodelcache.h"

#include <stdlib.h>

typedef struct {
    vit_model *model;
    guint users;
} CacheEntry;

static GMutex cache_lock;
static GHashTable *cache_entries; /* resolved path (owned) -> CacheEntry* (owned) */

/* Folders and files reached through different spellings (relative, symlinks) share an entry. */
static gchar *resolve_path(const char *path)
{
    char *real = realpath(path, NULL);
    gchar *key = g_strdup(real ? real : path);

    free(real);
    return key;
}

int gst_vit_model_cache_acquire(const char *path, vit_model **ret_model, vit_error *err)
{
    g_autofree gchar *key = resolve_path(path);
    CacheEntry *entry;
    vit_model *model = NULL;
    int r;

    g_mutex_lock(&cache_lock);
    if (cache_entries == NULL)
        cache_entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    entry = g_hash_table_lookup(cache_entries, key);
    if (entry == NULL) {
        r = vit_model_open(path, &model, err);
        if (r < 0) {
            g_mutex_unlock(&cache_lock);
            return r;
        }
        entry = g_new0(CacheEntry, 1);
        entry->model = model;
        g_hash_table_insert(cache_entries, g_steal_pointer(&key), entry);
    }
    entry->users++;
    *ret_model = vit_model_ref(entry->model);
    g_mutex_unlock(&cache_lock);
    return 0;
}

vit_model *gst_vit_model_cache_release(vit_model *model)
{
    GHashTableIter iter;
    gpointer key, value;

    if (model == NULL)
        return NULL;

    g_mutex_lock(&cache_lock);
    /* A handful of entries at most: a scan is simpler than a second index by pointer. */
    g_hash_table_iter_init(&iter, cache_entries);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        CacheEntry *entry = value;

        if (entry->model != model)
            continue;
        if (--entry->users == 0) {
            vit_model_unref(entry->model);
            g_hash_table_iter_remove(&iter);
        }
        break;
    }
    g_mutex_unlock(&cache_lock);
    vit_model_unref(model);
    return NULL;
}
