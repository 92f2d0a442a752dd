/* error.c — the one place that writes vit_error messages, so every message is one line. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

int vit_errorf(vit_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        for (char *p = err->message; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return code;
}
