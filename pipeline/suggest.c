/* suggest.c — "did you mean" for misspelt keys and values.
 *
 * Keys are compared after folding case and treating '_' and ' ' as '-', then by edit distance
 * (insert, delete, substitute or swap two neighbours each cost 1). A candidate is offered when the
 * distance is at most a third of the word's length (at least 1), which catches 'top_k',
 * 'TopK'-style slips and one- or two-letter typos without suggesting unrelated keys.
 */
#include <string.h>

#include "vp-private.h"

#define MAX_WORD 64

static void fold(const char *in, char *out)
{
    size_t i;

    for (i = 0; in[i] && i < MAX_WORD - 1; i++) {
        char c = g_ascii_tolower(in[i]);
        out[i] = (c == '_' || c == ' ') ? '-' : c;
    }
    out[i] = '\0';
}

/* Optimal-string-alignment distance: Levenshtein plus adjacent transpositions ('smtpe'). */
static guint edit_distance(const char *a, const char *b)
{
    guint rows[3][MAX_WORD + 1];
    size_t la = strlen(a), lb = strlen(b);
    guint *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    for (size_t j = 0; j <= lb; j++)
        prev[j] = (guint)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (guint)i;
        for (size_t j = 1; j <= lb; j++) {
            guint cost = a[i - 1] == b[j - 1] ? 0u : 1u;
            guint best = MIN(prev[j] + 1, cur[j - 1] + 1);
            best = MIN(best, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                best = MIN(best, prev2[j - 2] + 1);
            cur[j] = best;
        }
        guint *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *vp_suggest(const char *word, const char *const *candidates)
{
    char w[MAX_WORD], c[MAX_WORD];
    const char *best = NULL;
    guint best_distance = G_MAXUINT;
    guint limit;

    if (strlen(word) >= MAX_WORD)
        return NULL;
    fold(word, w);
    limit = MAX(1u, (guint)strlen(w) / 3);
    for (size_t i = 0; candidates[i]; i++) {
        guint d;
        fold(candidates[i], c);
        d = edit_distance(w, c);
        if (d < best_distance) {
            best_distance = d;
            best = candidates[i];
        }
    }
    return best_distance <= limit ? best : NULL;
}

char *vp_join_choices(const char *const *choices)
{
    GString *s = g_string_new(NULL);
    size_t n = 0;

    while (choices[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            g_string_append(s, i + 1 == n ? " or " : ", ");
        g_string_append_printf(s, "'%s'", choices[i]);
    }
    return g_string_free(s, FALSE);
}
