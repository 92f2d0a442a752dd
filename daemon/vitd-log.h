/* vitd-log.h — vitd's logging: structured journal entries when stderr is the journal, else
 * plain lines on stderr. */
#pragma once

#include <glib.h>
#include <syslog.h>

/* Decides once where logs go: the journal when $JOURNAL_STREAM names our stderr. */
void vitd_log_init(void);
/* Logs FORMAT at PRIORITY (LOG_ERR...). PIPELINE and ERROR_DOMAIN, when not NULL, become the
 * journal fields PIPELINE= and ERROR_DOMAIN= (and a "[pipeline]" prefix on stderr). */
void vitd_log_full(int priority, const char *pipeline, const char *error_domain, const char *format,
                   ...) G_GNUC_PRINTF(4, 5);
/* Logs "FORMAT: strerror(-R)" as an error and returns R (negative errno). */
int vitd_log_errno(int r, const char *format, ...) G_GNUC_PRINTF(2, 3);

#define vitd_log_info(...) vitd_log_full(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define vitd_log_warning(...) vitd_log_full(LOG_WARNING, NULL, NULL, __VA_ARGS__)
#define vitd_log_error(...) vitd_log_full(LOG_ERR, NULL, NULL, __VA_ARGS__)
