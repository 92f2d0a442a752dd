/* error.h — filling vit_error: one line of context, returned as a negative errno. */
#ifndef VIT_ERROR_H
#define VIT_ERROR_H

#include "vit.h"

/* Formats the message into err (if non-NULL) and returns code (a negative errno). */
int vit_errorf(vit_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Largest number of characters of a path or name quoted in an error. */
#define VIT_ERROR_NAME_MAX 200

#endif
