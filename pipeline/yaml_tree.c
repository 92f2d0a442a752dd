/* yaml_tree.c — one YAML file loaded with libyaml's document API, and typed reads of its nodes
 * that report problems at the node's line and column.
 *
 * Files are size-checked before they are read. libyaml's loader is iterative and resolves
 * aliases to shared node indices without copying, so neither deep nesting nor alias "bombs"
 * cost more than the file's own size; callers only ever descend the fixed shape of a
 * configuration (never a generic recursive walk), so a self-referencing alias cannot loop.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "vp-private.h"

#define SHOW_MAX_CHARS 40

static void syntax_error(VpYamlFile *file, VpErrors *errs, const yaml_parser_t *parser,
                         const char *text, gsize length)
{
    const char *problem = parser->problem ? parser->problem : "malformed YAML";
    int line = (int)parser->problem_mark.line + 1;
    int column = (int)parser->problem_mark.column + 1;

    if (parser->error == YAML_READER_ERROR) {
        /* Encoding problems carry a byte offset, not a mark. */
        gsize offset = MIN(parser->problem_offset, length);
        line = 1;
        column = 1;
        for (gsize i = 0; i < offset; i++) {
            if (text[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
    }
    if (parser->context)
        vp_errors_add(errs, VP_CONFIG_ERROR_SYNTAX, file->path, line, column,
                      "syntax error: %s (%s at line %d column %d)", problem, parser->context,
                      (int)parser->context_mark.line + 1, (int)parser->context_mark.column + 1);
    else
        vp_errors_add(errs, VP_CONFIG_ERROR_SYNTAX, file->path, line, column, "syntax error: %s",
                      problem);
}

static gboolean read_file(VpYamlFile *file, VpErrors *errs, char **ret_text, gsize *ret_length)
{
    struct stat st;
    GError *error = NULL;

    if (stat(file->path, &st) < 0) {
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, file->path, 0, 0, "cannot read: %s",
                      g_strerror(errno));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, file->path, 0, 0, "not a regular file");
        return FALSE;
    }
    if (st.st_size > VP_MAX_FILE_SIZE) {
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, file->path, 0, 0,
                      "file too large (%lld bytes, the limit is %d)", (long long)st.st_size,
                      VP_MAX_FILE_SIZE);
        return FALSE;
    }
    if (!g_file_get_contents(file->path, ret_text, ret_length, &error)) {
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, file->path, 0, 0, "cannot read: %s",
                      error->message);
        g_error_free(error);
        return FALSE;
    }
    if (*ret_length > VP_MAX_FILE_SIZE) { /* grew after stat */
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, file->path, 0, 0, "file too large");
        g_free(*ret_text);
        return FALSE;
    }
    return TRUE;
}

/* libyaml's scanner is quadratic in the depth of flow collections ("[[[[..."), so a small
 * hostile file could stall a reload for minutes. Configurations nest a few levels; refuse
 * more than VP_MAX_NESTING before parsing. Quoted scalars and comments are skipped (a quote
 * counts only where a scalar can start, so "don't" in plain text is not one); block nesting
 * needs indentation and grows the file quadratically, so it needs no guard. Returns the byte
 * offset where the limit is passed, or -1. */
static gssize find_deep_nesting(const char *text, gsize length)
{
    int depth = 0;
    char prev = '\n';

    for (gsize i = 0; i < length; i++) {
        char c = text[i];
        gboolean token_start =
            g_ascii_isspace(prev) || prev == '[' || prev == '{' || prev == ',' || prev == ':';
        if (c == '#' && g_ascii_isspace(prev)) {
            while (i + 1 < length && text[i + 1] != '\n')
                i++;
        } else if ((c == '"' || c == '\'') && token_start) {
            for (i++; i < length && text[i] != c; i++)
                if (c == '"' && text[i] == '\\')
                    i++;
        } else if (c == '[' || c == '{') {
            if (++depth > VP_MAX_NESTING)
                return (gssize)i;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        prev = i < length ? text[i] : c;
    }
    return -1;
}

/* After the first document, anything but the end of the stream is an error. */
static gboolean check_single_document(VpYamlFile *file, VpErrors *errs, yaml_parser_t *parser,
                                      const char *text, gsize length)
{
    yaml_document_t next;
    gboolean ok = TRUE;

    if (!yaml_parser_load(parser, &next)) {
        syntax_error(file, errs, parser, text, length);
        return FALSE;
    }
    if (yaml_document_get_root_node(&next)) {
        vp_errors_add(errs, VP_CONFIG_ERROR_SYNTAX, file->path, (int)next.start_mark.line + 1,
                      (int)next.start_mark.column + 1,
                      "a second YAML document: a file holds exactly one");
        ok = FALSE;
    }
    yaml_document_delete(&next);
    return ok;
}

gboolean vp_yaml_file_load(VpYamlFile *file, const char *path, VpErrors *errs)
{
    yaml_parser_t parser;
    char *text = NULL, *absolute, *dir;
    gsize length = 0;
    gssize nested;
    gboolean ok = TRUE;

    memset(file, 0, sizeof(*file));
    file->path = g_strdup(path);
    absolute = g_canonicalize_filename(path, NULL);
    dir = g_path_get_dirname(absolute);
    file->dir = dir;
    g_free(absolute);

    if (!read_file(file, errs, &text, &length))
        return FALSE;
    nested = find_deep_nesting(text, length);
    if (nested >= 0) {
        int line = 1, column = 1;
        for (gssize i = 0; i < nested; i++) {
            column = text[i] == '\n' ? 1 : column + 1;
            line += text[i] == '\n';
        }
        vp_errors_add(errs, VP_CONFIG_ERROR_SYNTAX, path, line, column,
                      "nesting deeper than %d levels", VP_MAX_NESTING);
        g_free(text);
        return FALSE;
    }
    if (!yaml_parser_initialize(&parser)) {
        vp_errors_add(errs, VP_CONFIG_ERROR_IO, path, 0, 0, "out of memory");
        g_free(text);
        return FALSE;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    if (!yaml_parser_load(&parser, &file->doc)) {
        syntax_error(file, errs, &parser, text, length);
        ok = FALSE;
    } else {
        file->has_doc = TRUE;
        if (yaml_document_get_root_node(&file->doc))
            ok = check_single_document(file, errs, &parser, text, length);
    }
    yaml_parser_delete(&parser);
    g_free(text);
    return ok;
}

void vp_yaml_file_clear(VpYamlFile *file)
{
    if (file->has_doc)
        yaml_document_delete(&file->doc);
    g_free(file->path);
    g_free(file->dir);
    memset(file, 0, sizeof(*file));
}

yaml_node_t *vp_yaml_root(VpYamlFile *file)
{
    return file->has_doc ? yaml_document_get_root_node(&file->doc) : NULL;
}

yaml_node_t *vp_yaml_node(VpYamlFile *file, int index)
{
    return file->has_doc ? yaml_document_get_node(&file->doc, index) : NULL;
}

int vp_yaml_line(const yaml_node_t *node)
{
    return (int)node->start_mark.line + 1;
}

int vp_yaml_column(const yaml_node_t *node)
{
    return (int)node->start_mark.column + 1;
}

const char *vp_yaml_kind(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return vp_yaml_is_null(node) ? "nothing" : "a string";
    }
}

const char *vp_yaml_scalar(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

gboolean vp_yaml_is_null(const yaml_node_t *node)
{
    const char *v = vp_yaml_scalar(node);

    if (!v || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return FALSE;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Control characters (a tab, a newline in a quoted scalar) shown as escapes so an error stays
 * one line; everything else, UTF-8 included, as is. */
static char *escape_controls(const char *text)
{
    GString *s = g_string_new(NULL);

    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n')
            g_string_append(s, "\\n");
        else if (*p == '\t')
            g_string_append(s, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(s, "\\x%02x", *p);
        else
            g_string_append_c(s, (char)*p);
    }
    return g_string_free(s, FALSE);
}

char *vp_yaml_show(const yaml_node_t *node)
{
    const char *v = vp_yaml_scalar(node);
    char *shown, *escaped, *result;

    if (!v || vp_yaml_is_null(node))
        return g_strdup(vp_yaml_kind(node));
    /* libyaml guarantees UTF-8; shorten by characters, then escape control characters. */
    if (g_utf8_strlen(v, -1) > SHOW_MAX_CHARS) {
        char *head = g_utf8_substring(v, 0, SHOW_MAX_CHARS);
        shown = g_strconcat(head, "...", NULL);
        g_free(head);
    } else {
        shown = g_strdup(v);
    }
    escaped = escape_controls(shown);
    result = g_strdup_printf("'%s'", escaped);
    g_free(escaped);
    g_free(shown);
    return result;
}

void vp_yaml_error(VpYamlFile *file, VpErrors *errs, const yaml_node_t *node, const char *format,
                   ...)
{
    va_list ap;
    char *message;

    va_start(ap, format);
    message = g_strdup_vprintf(format, ap);
    va_end(ap);
    vp_errors_add(errs, VP_CONFIG_ERROR_INVALID, file->path, vp_yaml_line(node),
                  vp_yaml_column(node), "%s", message);
    g_free(message);
}

void vp_yaml_mapping_foreach(VpYamlFile *file, VpErrors *errs, yaml_node_t *mapping,
                             VpYamlPairFunc visit, void *user_data)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (yaml_node_pair_t *pair = mapping->data.mapping.pairs.start;
         pair < mapping->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = vp_yaml_node(file, pair->key);
        yaml_node_t *value = vp_yaml_node(file, pair->value);
        const char *key;
        yaml_node_t *first;

        if (!key_node || !value)
            continue;
        key = vp_yaml_scalar(key_node);
        if (!key) {
            vp_yaml_error(file, errs, key_node, "keys must be strings, got %s",
                          vp_yaml_kind(key_node));
            continue;
        }
        first = g_hash_table_lookup(seen, key);
        if (first) {
            char *shown = vp_yaml_show(key_node);
            vp_yaml_error(file, errs, key_node, "duplicate key %s (first at line %d column %d)",
                          shown, vp_yaml_line(first), vp_yaml_column(first));
            g_free(shown);
            continue;
        }
        g_hash_table_insert(seen, (gpointer)key, key_node);
        visit(file, errs, key, key_node, value, user_data);
    }
    g_hash_table_destroy(seen);
}

void vp_yaml_unknown_key(VpYamlFile *file, VpErrors *errs, const yaml_node_t *key_node,
                         const char *key, const char *const *known)
{
    const char *suggestion = vp_suggest(key, known);
    char *shown = vp_yaml_show(key_node);

    if (suggestion) {
        vp_yaml_error(file, errs, key_node, "unknown key %s (did you mean '%s'?)", shown,
                      suggestion);
    } else {
        char *choices = vp_join_choices(known);
        vp_yaml_error(file, errs, key_node, "unknown key %s (expected %s)", shown, choices);
        g_free(choices);
    }
    g_free(shown);
}

gboolean vp_yaml_get_int(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                         gint64 min, gint64 max, int *ret)
{
    const char *v = vp_yaml_scalar(value);
    gint64 number;
    char *shown;

    g_assert(min >= G_MININT && max <= G_MAXINT);
    if (v && !vp_yaml_is_null(value) && g_ascii_string_to_signed(v, 10, min, max, &number, NULL)) {
        *ret = (int)number;
        return TRUE;
    }
    shown = vp_yaml_show(value);
    if (max == G_MAXINT)
        vp_yaml_error(file, errs, value, "'%s' must be an integer >= %" G_GINT64_FORMAT ", got %s",
                      key, min, shown);
    else
        vp_yaml_error(file, errs, value,
                      "'%s' must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                      ", got %s",
                      key, min, max, shown);
    g_free(shown);
    return FALSE;
}

static gboolean parse_double(const char *v, double *ret)
{
    char *end = NULL;
    double d;

    if (!v || !*v || g_ascii_isspace(*v))
        return FALSE;
    errno = 0;
    d = g_ascii_strtod(v, &end);
    if (errno != 0 || !end || *end != '\0' || !isfinite(d))
        return FALSE;
    *ret = d;
    return TRUE;
}

gboolean vp_yaml_get_number(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            double min, gboolean min_inclusive, double max, double *ret)
{
    double d = 0;
    char *shown;

    if (!vp_yaml_is_null(value) && parse_double(vp_yaml_scalar(value), &d) &&
        (min_inclusive ? d >= min : d > min) && d <= max) {
        *ret = d;
        return TRUE;
    }
    shown = vp_yaml_show(value);
    if (isinf(max))
        vp_yaml_error(file, errs, value, "'%s' must be a number %s %g, got %s", key,
                      min_inclusive ? ">=" : ">", min, shown);
    else
        vp_yaml_error(file, errs, value, "'%s' must be a number in %c%g, %g], got %s", key,
                      min_inclusive ? '[' : '(', min, max, shown);
    g_free(shown);
    return FALSE;
}

gboolean vp_yaml_get_bool(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                          gboolean *ret)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    const char *v = vp_yaml_scalar(value);
    char *shown;

    for (size_t i = 0; v && i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(v, yes[i]) == 0) {
            *ret = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(v, no[i]) == 0) {
            *ret = FALSE;
            return TRUE;
        }
    }
    shown = vp_yaml_show(value);
    vp_yaml_error(file, errs, value, "'%s' must be true or false, got %s", key, shown);
    g_free(shown);
    return FALSE;
}

gboolean vp_yaml_get_string(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            const char **ret)
{
    const char *v = vp_yaml_scalar(value);

    if (!v || vp_yaml_is_null(value) || v[0] == '\0') {
        vp_yaml_error(file, errs, value, "'%s' must be a non-empty string, got %s", key,
                      v && v[0] == '\0' && !vp_yaml_is_null(value) ? "an empty string"
                                                                   : vp_yaml_kind(value));
        return FALSE;
    }
    *ret = v;
    return TRUE;
}

gboolean vp_yaml_get_choice(VpYamlFile *file, VpErrors *errs, const char *key, yaml_node_t *value,
                            const char *const *choices, const char *also, int *ret)
{
    const char *v = vp_yaml_scalar(value);
    const char *suggestion = NULL;
    char *shown, *list;

    for (int i = 0; v && choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0) {
            *ret = i;
            return TRUE;
        }
    }
    if (v && !vp_yaml_is_null(value))
        suggestion = vp_suggest(v, choices);
    shown = vp_yaml_show(value);
    list = vp_join_choices(choices);
    if (also) {
        char *longer = g_strdup_printf("%s, %s", list, also);
        g_free(list);
        list = longer;
    }
    if (suggestion)
        vp_yaml_error(file, errs, value, "'%s' must be %s, got %s (did you mean '%s'?)", key, list,
                      shown, suggestion);
    else
        vp_yaml_error(file, errs, value, "'%s' must be %s, got %s", key, list, shown);
    g_free(list);
    g_free(shown);
    return FALSE;
}
