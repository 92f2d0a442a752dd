/* errors.c — the error domain and the collector that turns every problem found while loading a
 * configuration into one GError of "FILE:LINE:COLUMN: message" lines.
 *
 * Loading never stops at the first problem: a person fixing a file wants the whole list. The
 * collector keeps the code of the first error (I/O, syntax or invalid) and caps the number of
 * lines so hostile input cannot produce unbounded text.
 */
#include <stdarg.h>

#include "vp-private.h"

G_DEFINE_QUARK(vp - config - error - quark, vp_config_error)

void vp_errors_init(VpErrors *errs)
{
    errs->text = g_string_new(NULL);
    errs->code = -1;
    errs->count = 0;
}

void vp_errors_clear(VpErrors *errs)
{
    if (errs->text)
        g_string_free(errs->text, TRUE);
    errs->text = NULL;
    errs->code = -1;
    errs->count = 0;
}

void vp_errors_add(VpErrors *errs, int code, const char *file, int line, int column,
                   const char *format, ...)
{
    va_list ap;

    if (errs->code < 0)
        errs->code = code;
    errs->count++;
    if (errs->count > VP_MAX_ERRORS)
        return;
    if (errs->text->len > 0)
        g_string_append_c(errs->text, '\n');
    if (errs->count == VP_MAX_ERRORS) {
        g_string_append_printf(errs->text, "%s: too many errors, stopped listing them", file);
        return;
    }
    if (line > 0)
        g_string_append_printf(errs->text, "%s:%d:%d: ", file, line, column);
    else
        g_string_append_printf(errs->text, "%s: ", file);
    va_start(ap, format);
    g_string_append_vprintf(errs->text, format, ap);
    va_end(ap);
}

gboolean vp_errors_take(VpErrors *errs, GError **error)
{
    if (errs->count == 0)
        return FALSE;
    g_set_error_literal(error, VP_CONFIG_ERROR, errs->code, errs->text->str);
    g_string_truncate(errs->text, 0);
    errs->count = 0;
    errs->code = -1;
    return TRUE;
}
