/* suggest.c — closest-name suggestions for errors (suggest.h).
 *
 * One row of the edit-distance table at a time: d[j] is the distance between the word read so
 * far and the first j characters of the pattern. A '*' at pattern position j-1 may absorb the
 * current word character at no cost (d[j] stays reachable from the previous row's d[j]) or
 * match nothing (d[j] from d[j-1] of the same row). */
#include "core/suggest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define SUGGEST_MAX 128 /* longer names are compared on their first 128 characters */

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

int vit_suggest_distance(const char *word, const char *pattern)
{
    size_t n = strnlen(word, SUGGEST_MAX), m = strnlen(pattern, SUGGEST_MAX);
    int prev[SUGGEST_MAX + 1], cur[SUGGEST_MAX + 1];
    prev[0] = 0;
    for (size_t j = 1; j <= m; j++)
        prev[j] = prev[j - 1] + (pattern[j - 1] != '*');
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            if (pattern[j - 1] == '*')
                cur[j] = prev[j] < cur[j - 1] ? prev[j] : cur[j - 1];
            else
                cur[j] = min3(prev[j] + 1, cur[j - 1] + 1,
                              prev[j - 1] + (word[i - 1] != pattern[j - 1]));
        }
        memcpy(prev, cur, (m + 1) * sizeof(int));
    }
    return prev[m];
}

const char *vit_suggest_closest(const char *word, const char *const *candidates, size_t n,
                                int max_dist)
{
    const char *best = NULL;
    int best_d = max_dist + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        int d = vit_suggest_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

int vit_suggest_check_args(const vit_config *cfg, const char *const *known, const char *what,
                           vit_error *err)
{
    if (!cfg->model_args)
        return 0;
    size_t n = 0;
    while (known[n])
        n++;
    const char *key;
    json_t *value;
    json_object_foreach(cfg->model_args, key, value)
    {
        size_t i = 0;
        while (i < n && strcmp(key, known[i]))
            i++;
        if (i < n)
            continue;
        const char *near = vit_suggest_closest(key, known, n, 1 + (int)strlen(key) / 3);
        return vit_errorf(err, -EINVAL, "%s: unknown model_args key \"%.60s\" for %s%s%s%s",
                          cfg->source, key, what, near ? " (did you mean \"" : "", near ? near : "",
                          near ? "\"?)" : "");
    }
    return 0;
}
