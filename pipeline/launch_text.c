/* launch_text.c — just enough of gst-launch syntax to find the vitclassify element in a user's
 * `launch:` text, read its name=, model= and labels= properties, know where they are written,
 * and list every element type name (for the allow-list in launch_allow.c).
 *
 * The text is split the way GStreamer's own lexer splits it (gst/parse/parse.l): whitespace
 * separates tokens; '!' and brackets separate elements; "..." and '...' quote (with \" inside);
 * a backslash escapes the next character; `key = value` (spaces allowed around '=') is a
 * property of the element named by the identifier before it. A token that is a bare
 * identifier starts a new element; references (name.pad), caps and URLs start none.
 * We never build anything from this scan: gst_parse_launch stays the judge of the syntax.
 */
#include <string.h>

#include "vp-private.h"

static gboolean is_ident_start(char c)
{
    return g_ascii_isalpha(c);
}

static gboolean is_ident_char(char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '%';
}

static gboolean is_separator(char c)
{
    return c == '!' || c == '(' || c == ')' || c == '{' || c == '}';
}

/* End of a quoted string starting at TEXT[I] (a quote), or of the text when unterminated. */
static gsize skip_quoted(const char *text, gsize i)
{
    char quote = text[i++];

    while (text[i] && text[i] != quote) {
        if (text[i] == '\\' && text[i + 1])
            i++;
        i++;
    }
    return text[i] ? i + 1 : i;
}

/* End of a value: a quoted string, or a run of non-space characters (backslash escapes). */
static gsize skip_value(const char *text, gsize i)
{
    if (text[i] == '"' || text[i] == '\'')
        return skip_quoted(text, i);
    while (text[i] && !g_ascii_isspace(text[i])) {
        if (text[i] == '\\' && text[i + 1])
            i++;
        i++;
    }
    return i;
}

/* End of any other word (caps, URL, reference): up to whitespace or a separator. */
static gsize skip_word(const char *text, gsize i)
{
    while (text[i] && !g_ascii_isspace(text[i]) && !is_separator(text[i])) {
        if (text[i] == '"' || text[i] == '\'')
            i = skip_quoted(text, i);
        else
            i += (text[i] == '\\' && text[i + 1]) ? 2 : 1;
    }
    return i;
}

/* A property value as the element will receive it: outer quotes removed, escapes resolved. */
static char *unquote(const char *text, gsize start, gsize end)
{
    GString *s = g_string_new(NULL);

    if (end - start >= 2 && (text[start] == '"' || text[start] == '\'') &&
        text[end - 1] == text[start]) {
        start++;
        end--;
    }
    for (gsize i = start; i < end; i++) {
        if (text[i] == '\\' && i + 1 < end)
            i++;
        g_string_append_c(s, text[i]);
    }
    return g_string_free(s, FALSE);
}

static void note_property(VpLaunchScan *scan, const char *text, gsize key_start, gsize key_end,
                          gsize value_start, gsize value_end)
{
    gsize key_len = key_end - key_start;

    if (key_len == 4 && strncmp(text + key_start, "name", 4) == 0) {
        g_free(scan->name);
        scan->name = unquote(text, value_start, value_end);
        scan->name_start = value_start;
        scan->name_end = value_end;
    } else if (key_len == 5 && strncmp(text + key_start, "model", 5) == 0) {
        g_free(scan->model);
        scan->model = unquote(text, value_start, value_end);
        scan->model_start = value_start;
        scan->model_end = value_end;
    } else if (key_len == 6 && strncmp(text + key_start, "labels", 6) == 0) {
        g_free(scan->labels);
        scan->labels = unquote(text, value_start, value_end);
    }
}

void vp_launch_scan(const char *text, VpLaunchScan *ret_scan)
{
    gsize i = 0;
    gboolean in_vit = FALSE; /* properties now belong to the first vitclassify */

    memset(ret_scan, 0, sizeof(*ret_scan));
    ret_scan->elements = g_ptr_array_new_with_free_func(g_free);
    while (text[i]) {
        gsize start, ident_end, after;

        if (g_ascii_isspace(text[i])) {
            i++;
            continue;
        }
        if (is_separator(text[i])) {
            in_vit = FALSE;
            i++;
            continue;
        }
        start = i;
        ident_end = i;
        if (is_ident_start(text[i])) {
            while (is_ident_char(text[ident_end]))
                ident_end++;
        }
        after = ident_end;
        while (ident_end > start && g_ascii_isspace(text[after]))
            after++;
        if (ident_end > start && text[after] == '=') {
            gsize value_start = after + 1, value_end;
            while (g_ascii_isspace(text[value_start]))
                value_start++;
            value_end = skip_value(text, value_start);
            if (in_vit)
                note_property(ret_scan, text, start, ident_end, value_start, value_end);
            i = value_end;
            continue;
        }
        if (ident_end > start && (!text[ident_end] || g_ascii_isspace(text[ident_end]) ||
                                  is_separator(text[ident_end]))) {
            /* A bare identifier: an element's type name. */
            gboolean vit = ident_end - start == 11 && strncmp(text + start, "vitclassify", 11) == 0;
            g_ptr_array_add(ret_scan->elements, g_strndup(text + start, ident_end - start));
            if (vit && ++ret_scan->n_vitclassify == 1) {
                ret_scan->element_end = ident_end;
                in_vit = TRUE;
            } else {
                in_vit = FALSE;
            }
            i = ident_end;
            continue;
        }
        in_vit = FALSE;
        i = skip_word(text, i);
        if (i == start) /* a lone quote or escape at the end: never loop */
            i++;
        /* A URI is an element too: gst_parse_launch makes a source or sink for it. */
        if (g_strstr_len(text + start, (gssize)(i - start), "://"))
            g_ptr_array_add(ret_scan->elements, g_strndup(text + start, i - start));
    }
}

void vp_launch_scan_clear(VpLaunchScan *scan)
{
    g_free(scan->name);
    g_free(scan->model);
    g_free(scan->labels);
    if (scan->elements)
        g_ptr_array_free(scan->elements, TRUE);
    memset(scan, 0, sizeof(*scan));
}

char *vp_launch_quote(const char *value)
{
    GString *s = g_string_new("\"");

    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(s, '\\');
        g_string_append_c(s, *p);
    }
    g_string_append_c(s, '"');
    return g_string_free(s, FALSE);
}
