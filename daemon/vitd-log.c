/* vitd-log.c — logging to the journal with structured fields, or to stderr.
 *
 * Under systemd, stderr is a stream to journald and $JOURNAL_STREAM holds its device:inode; then
 * entries are sent natively with PRIORITY=, PIPELINE= and ERROR_DOMAIN= so that
 * `journalctl -u vitd PIPELINE=door` works. Anywhere else (a terminal, a test) lines go to stderr,
 * debug lines only when $VITD_DEBUG is set. */
#include "vitd-log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

static gboolean use_journal, show_debug;

static gboolean stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
        return FALSE;
    if (fstat(STDERR_FILENO, &st) < 0)
        return FALSE;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void vitd_log_init(void)
{
    use_journal = stderr_is_journal();
    show_debug = getenv("VITD_DEBUG") != NULL;
}

static void log_message(int priority, const char *pipeline, const char *error_domain,
                        const char *message)
{
    if (use_journal) {
        g_autofree char *msg = g_strconcat("MESSAGE=", message, NULL);
        g_autofree char *prio = g_strdup_printf("PRIORITY=%d", priority);
        g_autofree char *pl = pipeline ? g_strconcat("PIPELINE=", pipeline, NULL) : NULL;
        g_autofree char *dom =
            error_domain ? g_strconcat("ERROR_DOMAIN=", error_domain, NULL) : NULL;
        struct iovec iov[5];
        int n = 0;
        iov[n++] = (struct iovec){msg, strlen(msg)};
        iov[n++] = (struct iovec){prio, strlen(prio)};
        iov[n++] =
            (struct iovec){(char *)"SYSLOG_IDENTIFIER=vitd", strlen("SYSLOG_IDENTIFIER=vitd")};
        if (pl)
            iov[n++] = (struct iovec){pl, strlen(pl)};
        if (dom)
            iov[n++] = (struct iovec){dom, strlen(dom)};
        if (sd_journal_sendv(iov, n) >= 0)
            return;
    }
    if (priority >= LOG_DEBUG && !show_debug)
        return;
    if (pipeline)
        fprintf(stderr, "vitd: [%s] %s\n", pipeline, message);
    else
        fprintf(stderr, "vitd: %s\n", message);
}

void vitd_log_full(int priority, const char *pipeline, const char *error_domain, const char *format,
                   ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    log_message(priority, pipeline, error_domain, message);
}

int vitd_log_errno(int r, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_autofree char *full = g_strdup_printf("%s: %s", message, g_strerror(r < 0 ? -r : r));
    log_message(LOG_ERR, NULL, NULL, full);
    return r;
}
