/* gstvitmodelcache.c — the process-wide model cache behind vitclassify's "model" property.
 *
 * A table from "resolved path|stamp" to {model, users} under one mutex, where the stamp is
 * vit_model_stamp(): the device, inode, size and mtime of the model's files. A file replaced,
 * rewritten or truncated on disk has a new stamp, so the next element to start opens the new
 * file while running elements keep the model they hold (libvit reads the weights into private
 * memory, so the old one stays intact). The mutex is never held while a model opens: an open
 * that blocks (a hung mount) must not hold up elements stopping or starting on other models.
 * Two elements starting together on one new file may both open it; the first to finish is
 * inserted and the other's copy is dropped. An entry (and its model) goes with its last user. */
#include "gstvitmodelcache.h"

#include <stdlib.h>

typedef struct {
    vit_model *model;
    guint users;
} CacheEntry;

static GMutex cache_lock;
static GHashTable *cache_entries; /* "resolved path|stamp" (owned) -> CacheEntry* (owned) */

/* The cache key of PATH: folders and files reached through different spellings (relative,
 * symlinks) share the path part; the stamp tells versions of the files apart. */
static int cache_key(const char *path, gchar **ret_key, vit_error *err)
{
    char *real = realpath(path, NULL), *stamp = NULL;
    int r = vit_model_stamp(path, &stamp, err);

    if (r == 0)
        *ret_key = g_strconcat(real ? real : path, "|", stamp, NULL);
    free(real);
    free(stamp);
    return r;
}

/* Under cache_lock: a new reference to the model of KEY for one more user, or NULL. */
static vit_model *cache_take_locked(const gchar *key)
{
    CacheEntry *entry = cache_entries ? g_hash_table_lookup(cache_entries, key) : NULL;

    if (entry == NULL)
        return NULL;
    entry->users++;
    return vit_model_ref(entry->model);
}

int gst_vit_model_cache_acquire(const char *path, vit_model **ret_model, vit_error *err)
{
    g_autofree gchar *key = NULL;
    vit_model *model, *opened = NULL;
    int r = cache_key(path, &key, err);

    if (r < 0)
        return r;
    g_mutex_lock(&cache_lock);
    model = cache_take_locked(key);
    g_mutex_unlock(&cache_lock);
    if (model != NULL) {
        *ret_model = model;
        return 0;
    }

    r = vit_model_open(path, &opened, err); /* unlocked: may take long, or block */
    if (r < 0)
        return r;

    g_mutex_lock(&cache_lock);
    if (cache_entries == NULL)
        cache_entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    model = cache_take_locked(key); /* another element opened it meanwhile: share that one */
    if (model == NULL) {
        CacheEntry *entry = g_new0(CacheEntry, 1);

        entry->model = vit_model_ref(opened);
        entry->users = 1;
        g_hash_table_insert(cache_entries, g_steal_pointer(&key), entry);
        model = g_steal_pointer(&opened);
    }
    g_mutex_unlock(&cache_lock);
    vit_model_unref(opened);
    *ret_model = model;
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
    vit_model_unref(model); /* the last reference: frees outside the lock */
    return NULL;
}
