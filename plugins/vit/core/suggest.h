/* suggest.h — "did you mean" for errors: the closest of a list of names to a misspelt one.
 *
 * The distance is Levenshtein's (insert, delete, substitute: 1 each), where a '*' in a
 * candidate matches any run of characters for free, so an architecture name can be compared
 * with the registry's glob patterns ("vit_*"). */
#ifndef VIT_SUGGEST_H
#define VIT_SUGGEST_H

#include <stddef.h>

#include "formats/model_config.h"

/* Edit distance between word and pattern ('*' in pattern matches any run at no cost). */
int vit_suggest_distance(const char *word, const char *pattern);
/* The candidate (of n; NULL entries skipped) closest to word, or NULL when none is within
 * max_dist. */
const char *vit_suggest_closest(const char *word, const char *const *candidates, size_t n,
                                int max_dist);

/* 0 when every key of config.json's model_args is one of known (NULL-terminated); else
 * -EINVAL with "<config>: unknown model_args key "depht" (did you mean "depth"?)". */
int vit_suggest_check_args(const vit_config *cfg, const char *const *known, const char *what,
                           vit_error *err);

#endif
