/* vitd-spool.h — a disk spool of outgoing MQTT messages that survives broker outages, crashes
 * and restarts: append-only segment files of one JSON line per message and a committed offset.
 * Used by one thread at a time (the MQTT sink's); unit-tested in tests/daemon/test-spool.c. */
#pragma once

#include <glib.h>

typedef struct _VitdSpool VitdSpool;

typedef struct {
    guint64 id; /* spool-wide, from 1, consecutive */
    char *topic;
    char *payload;
    gboolean retain;
} VitdSpoolMessage;

void vitd_spool_message_clear(VitdSpoolMessage *msg);

/* Opens (creating it, mode 0700) the spool folder DIR, holding at most MAX_BYTES of segments.
 * Recovers from a crash: a torn last line is cut off. The read position starts at the first
 * message not committed. Returns a negative errno on failure. */
int vitd_spool_open(const char *dir, guint64 max_bytes, VitdSpool **ret);
/* Writes the committed offset and syncs, then frees. Accepts NULL; returns NULL. */
VitdSpool *vitd_spool_close(VitdSpool *s);

/* Appends a message (write(2), no fsync: see vitd_spool_sync). Makes room first by deleting
 * the oldest segments, whose undelivered messages are counted in vitd_spool_get_dropped. */
int vitd_spool_append(VitdSpool *s, const char *topic, const char *payload, gboolean retain,
                      guint64 *ret_id);
/* Reads the next message after the read position into RET_MSG: returns 1, 0 when there is none,
 * or a negative errno. Lines that do not parse are skipped (and counted as dropped). */
int vitd_spool_next(VitdSpool *s, VitdSpoolMessage *ret_msg);
/* Moves the read position back to the first message not committed (after a reconnect). */
void vitd_spool_rewind(VitdSpool *s);
/* Every message up to ID was delivered: segments holding only such messages are deleted. */
void vitd_spool_commit(VitdSpool *s, guint64 id);
/* fdatasync()s the segment being written and stores the committed offset (write + rename). */
int vitd_spool_sync(VitdSpool *s);

/* Messages appended and not yet committed (nor dropped). */
guint64 vitd_spool_get_pending(const VitdSpool *s);
/* Messages deleted undelivered to keep the spool under its size, since open. */
guint64 vitd_spool_get_dropped(const VitdSpool *s);
/* Bytes of segment files on disk. */
guint64 vitd_spool_get_size(const VitdSpool *s);
guint64 vitd_spool_get_committed(const VitdSpool *s);
