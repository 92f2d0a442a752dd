/* vitd-spool.c — the MQTT sink's disk spool.
 *
 * Layout of the folder:
 *   00000000000000000001.jsonl   segments, named after the id of their first message; each line
 *   00000000000000004097.jsonl   is {"id":N,"topic":"...","payload":"...","retain":false}
 *   committed                    "N\n": every message up to id N was delivered (PUBACK)
 *
 * Messages get consecutive ids and are only ever appended to the last segment, which rotates
 * at a sixteenth of the size bound (16 KiB at least, a quarter at most, 4 MiB at most), so the
 * bound is kept by deleting whole older segments and a drop loses few messages at a time. Delivery
 * is tracked by one number: the committed id. Segments whose messages are all committed are
 * deleted; reading restarts after the committed id on every reconnect, so a message is sent at
 * least once and in order (duplicates after a crash or an outage, never gaps). When appending would
 * pass the size bound, the oldest segments are deleted and their undelivered messages counted as
 * dropped: the unsent ones at once; the ones sent and not yet acknowledged are kept as id ranges
 * (unacked_gone) until a commit shows they arrived or the next rewind (a reconnect) that they did
 * not. So every message is delivered or counted once.
 *
 * Durability: a line is written with one write(2), so once vitd_spool_append returned the
 * message survives the process being killed. vitd_spool_sync (fdatasync and the committed file
 * written to a temporary name and renamed) is the caller's policy; the MQTT sink calls it at
 * most once a second, so a power cut loses at most the last second of events, and a crash at
 * worst re-sends messages committed since the last sync.
 *
 * Recovery: only the last segment can end in a torn line (a write cut short by a crash or a
 * full disk); open() cuts the last segment after its last complete, parseable line.
 */
#include "vitd-spool.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_NAME_LEN 20
#define SEGMENT_SUFFIX ".jsonl"
#define COMMITTED_FILE "committed"
#define SEGMENT_MIN_BYTES (16 * 1024)
#define SEGMENT_MAX_BYTES (4 * 1024 * 1024)
#define READ_CHUNK (64 * 1024)
#define LINE_MAX_BYTES (4 * 1024 * 1024)

typedef struct {
    guint64 first_id;
    guint64 bytes;
} Segment;

typedef struct {
    guint64 first, last;
} Range;

typedef struct {
    int fd; /* -1: not open */
    guint64 first_id;
    GByteArray *buf; /* bytes read from fd, not yet consumed */
} Reader;

struct _VitdSpool {
    char *dir;
    guint64 max_bytes, segment_bytes;
    GArray *segments; /* of Segment, ascending; the last one is written; never empty */
    int fd;           /* the last segment, O_APPEND */
    guint64 next_id, committed, dropped, read_after;
    guint64 sent_upto;    /* the last id vitd_spool_next returned since the last rewind */
    GArray *unacked_gone; /* of Range: sent, not acknowledged, their segment deleted */
    gboolean commit_dirty;
    Reader reader;
};

void vitd_spool_message_clear(VitdSpoolMessage *msg)
{
    g_clear_pointer(&msg->topic, g_free);
    g_clear_pointer(&msg->payload, g_free);
}

static char *segment_path(const VitdSpool *s, guint64 first_id)
{
    return g_strdup_printf("%s/%020" G_GUINT64_FORMAT SEGMENT_SUFFIX, s->dir, first_id);
}

static Segment *segment_at(const VitdSpool *s, guint i)
{
    return &g_array_index(s->segments, Segment, i);
}

static Segment *last_segment(const VitdSpool *s)
{
    return segment_at(s, s->segments->len - 1);
}

/* The id after the last message of segment I. */
static guint64 segment_end(const VitdSpool *s, guint i)
{
    return i + 1 < s->segments->len ? segment_at(s, i + 1)->first_id : s->next_id;
}

/* ---- parsing lines ---- */

static gboolean parse_line(const char *line, size_t len, VitdSpoolMessage *ret)
{
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err);
    json_int_t id = 0;
    const char *topic = NULL, *payload = NULL;
    int retain = 0;
    gboolean ok = o &&
                  json_unpack(o, "{s:I, s:s, s:s, s?b}", "id", &id, "topic", &topic, "payload",
                              &payload, "retain", &retain) == 0 &&
                  id > 0;
    if (ok) {
        ret->id = (guint64)id;
        ret->topic = g_strdup(topic);
        ret->payload = g_strdup(payload);
        ret->retain = retain != 0;
    }
    json_decref(o);
    return ok;
}

/* ---- opening and recovery ---- */

static gboolean is_segment_name(const char *name, guint64 *ret_first)
{
    if (strlen(name) != SEGMENT_NAME_LEN + strlen(SEGMENT_SUFFIX) ||
        !g_str_has_suffix(name, SEGMENT_SUFFIX))
        return FALSE;
    for (int i = 0; i < SEGMENT_NAME_LEN; i++)
        if (!g_ascii_isdigit(name[i]))
            return FALSE;
    *ret_first = g_ascii_strtoull(name, NULL, 10);
    return *ret_first > 0;
}

static int compare_segments(gconstpointer a, gconstpointer b)
{
    guint64 x = ((const Segment *)a)->first_id, y = ((const Segment *)b)->first_id;
    return x < y ? -1 : x > y;
}

static int list_segments(VitdSpool *s)
{
    GError *error = NULL;
    GDir *d = g_dir_open(s->dir, 0, &error);
    if (!d) {
        int r = error->code == G_FILE_ERROR_NOENT ? -ENOENT : -EACCES;
        g_error_free(error);
        return r;
    }
    const char *name;
    while ((name = g_dir_read_name(d))) {
        Segment seg = {0, 0};
        struct stat st;
        g_autofree char *path = g_build_filename(s->dir, name, NULL);
        if (is_segment_name(name, &seg.first_id) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            seg.bytes = (guint64)st.st_size;
            g_array_append_val(s->segments, seg);
        }
    }
    g_dir_close(d);
    g_array_sort(s->segments, compare_segments);
    return 0;
}

static void read_committed(VitdSpool *s)
{
    g_autofree char *path = g_build_filename(s->dir, COMMITTED_FILE, NULL);
    g_autofree char *text = NULL;
    if (g_file_get_contents(path, &text, NULL, NULL))
        s->committed = g_ascii_strtoull(text, NULL, 10);
}

/* Cuts the last segment after its last good line and sets next_id from it. */
static int recover_last_segment(VitdSpool *s)
{
    Segment *seg = last_segment(s);
    g_autofree char *path = segment_path(s, seg->first_id);
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &text, &len, NULL))
        return -EIO;
    gsize good = 0;
    guint64 next = seg->first_id;
    for (gsize pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        VitdSpoolMessage msg = {0};
        if (!nl || !parse_line(text + pos, (size_t)(nl - text - pos), &msg))
            break;
        next = msg.id + 1;
        vitd_spool_message_clear(&msg);
        pos = good = (gsize)(nl - text) + 1;
    }
    if (good < len && truncate(path, (off_t)good) < 0)
        return -errno;
    seg->bytes = good;
    s->next_id = MAX(next, s->next_id);
    return 0;
}

static int open_segment_for_append(VitdSpool *s)
{
    g_autofree char *path = segment_path(s, last_segment(s)->first_id);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    return s->fd < 0 ? -errno : 0;
}

static int start_segment(VitdSpool *s)
{
    Segment seg = {s->next_id, 0};
    g_array_append_val(s->segments, seg);
    return open_segment_for_append(s);
}

int vitd_spool_open(const char *dir, guint64 max_bytes, VitdSpool **ret)
{
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return -errno;
    VitdSpool *s = g_new0(VitdSpool, 1);
    s->dir = g_strdup(dir);
    s->max_bytes = max_bytes;
    s->segment_bytes =
        MIN(MAX(max_bytes / 16, SEGMENT_MIN_BYTES), MIN(max_bytes / 4, SEGMENT_MAX_BYTES));
    s->segments = g_array_new(FALSE, FALSE, sizeof(Segment));
    s->unacked_gone = g_array_new(FALSE, FALSE, sizeof(Range));
    s->fd = -1;
    s->reader.fd = -1;
    s->reader.buf = g_byte_array_new();
    read_committed(s);
    s->next_id = s->committed + 1;
    int r = list_segments(s);
    if (r >= 0 && s->segments->len > 0)
        r = recover_last_segment(s);
    if (r >= 0)
        r = s->segments->len > 0 ? open_segment_for_append(s) : start_segment(s);
    if (r < 0) {
        vitd_spool_close(s);
        return r;
    }
    vitd_spool_rewind(s);
    *ret = s;
    return 0;
}

VitdSpool *vitd_spool_close(VitdSpool *s)
{
    if (!s)
        return NULL;
    if (s->fd >= 0) {
        vitd_spool_sync(s);
        close(s->fd);
    }
    if (s->reader.fd >= 0)
        close(s->reader.fd);
    g_byte_array_unref(s->reader.buf);
    g_array_unref(s->segments);
    g_array_unref(s->unacked_gone);
    g_free(s->dir);
    g_free(s);
    return NULL;
}

/* ---- writing ---- */

static void reader_close(Reader *rd)
{
    if (rd->fd >= 0)
        close(rd->fd);
    rd->fd = -1;
    g_byte_array_set_size(rd->buf, 0);
}

/* Deletes the oldest segment; its undelivered messages count as dropped (those in flight once
 * a rewind shows they were not acknowledged). */
static void drop_oldest_segment(VitdSpool *s)
{
    Segment *seg = segment_at(s, 0);
    guint64 end = segment_end(s, 0);
    guint64 from = MAX(seg->first_id, s->committed + 1);
    Range sent = {from, MIN(end - 1, s->sent_upto)};
    if (sent.last >= sent.first)
        g_array_append_val(s->unacked_gone, sent);
    guint64 unsent = MAX(from, s->sent_upto + 1);
    if (end > unsent)
        s->dropped += end - unsent;
    if (s->reader.fd >= 0 && s->reader.first_id == seg->first_id)
        reader_close(&s->reader);
    s->read_after = MAX(s->read_after, end - 1);
    g_autofree char *path = segment_path(s, seg->first_id);
    unlink(path);
    g_array_remove_index(s->segments, 0);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static char *format_line(guint64 id, const char *topic, const char *payload, gboolean retain)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)id, "topic", topic, "payload",
                          payload, "retain", retain);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    char *line = g_strconcat(text, "\n", NULL);
    free(text);
    return line;
}

int vitd_spool_append(VitdSpool *s, const char *topic, const char *payload, gboolean retain,
                      guint64 *ret_id)
{
    g_autofree char *line = format_line(s->next_id, topic, payload, retain);
    if (!line)
        return -EINVAL;
    size_t len = strlen(line);
    if (len > LINE_MAX_BYTES || len > s->segment_bytes)
        return -EMSGSIZE;
    int r = 0;
    if (last_segment(s)->bytes > 0 && last_segment(s)->bytes + len > s->segment_bytes)
        r = start_segment(s);
    while (r >= 0 && s->segments->len > 1 && vitd_spool_get_size(s) + len > s->max_bytes)
        drop_oldest_segment(s);
    if (r >= 0)
        r = write_all(s->fd, line, len);
    if (r < 0) {
        /* A partial line would be cut at the next open; keep counting from what is on disk. */
        return r;
    }
    last_segment(s)->bytes += len;
    if (ret_id)
        *ret_id = s->next_id;
    s->next_id++;
    return 0;
}

/* ---- reading ---- */

/* Opens the segment holding the first message after read_after, or returns 0 if there is none. */
static int reader_open_next(VitdSpool *s)
{
    Reader *rd = &s->reader;
    guint i = 0;
    while (i < s->segments->len && segment_end(s, i) <= s->read_after + 1)
        i++;
    if (i >= s->segments->len || segment_at(s, i)->first_id >= s->next_id)
        return 0;
    g_autofree char *path = segment_path(s, segment_at(s, i)->first_id);
    rd->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->fd < 0)
        return -errno;
    rd->first_id = segment_at(s, i)->first_id;
    g_byte_array_set_size(rd->buf, 0);
    return 1;
}

/* The next complete line of the reader's segment: returns its length (the line starts at
 * buf->data), 0 at the end of the segment, or a negative errno. */
static gssize reader_line(Reader *rd)
{
    for (;;) {
        /* an empty GByteArray may have no data at all: memchr(NULL, ...) is undefined */
        guint8 *nl = rd->buf->len ? memchr(rd->buf->data, '\n', rd->buf->len) : NULL;
        if (nl)
            return nl - rd->buf->data + 1;
        if (rd->buf->len > LINE_MAX_BYTES)
            return -EMSGSIZE;
        guint old = rd->buf->len;
        g_byte_array_set_size(rd->buf, old + READ_CHUNK);
        ssize_t n = read(rd->fd, rd->buf->data + old, READ_CHUNK);
        g_byte_array_set_size(rd->buf, old + (n > 0 ? (guint)n : 0));
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n == 0)
            return 0;
    }
}

int vitd_spool_next(VitdSpool *s, VitdSpoolMessage *ret_msg)
{
    for (;;) {
        if (s->read_after + 1 >= s->next_id)
            return 0;
        if (s->reader.fd < 0) {
            int r = reader_open_next(s);
            if (r <= 0)
                return r;
        }
        gssize len = reader_line(&s->reader);
        if (len < 0)
            return (int)len;
        if (len == 0) { /* end of this segment: on to the next one */
            if (s->reader.first_id == last_segment(s)->first_id)
                return 0;
            reader_close(&s->reader);
            continue;
        }
        VitdSpoolMessage msg = {0};
        gboolean ok = parse_line((const char *)s->reader.buf->data, (size_t)len - 1, &msg);
        g_byte_array_remove_range(s->reader.buf, 0, (guint)len);
        if (!ok) {
            s->dropped++;
            continue;
        }
        if (msg.id <= s->read_after) {
            vitd_spool_message_clear(&msg);
            continue;
        }
        s->read_after = s->sent_upto = msg.id;
        *ret_msg = msg;
        return 1;
    }
}

/* Messages sent, not acknowledged, whose segment was deleted. */
static guint64 unacked_gone_count(const VitdSpool *s)
{
    guint64 n = 0;
    for (guint i = 0; i < s->unacked_gone->len; i++) {
        const Range *r = &g_array_index(s->unacked_gone, Range, i);
        n += r->last - r->first + 1;
    }
    return n;
}

/* Forgets the deleted messages up to the committed id: they were acknowledged after all. */
static void unacked_gone_commit(VitdSpool *s)
{
    guint n = 0;
    while (n < s->unacked_gone->len &&
           g_array_index(s->unacked_gone, Range, n).last <= s->committed)
        n++;
    g_array_remove_range(s->unacked_gone, 0, n);
    if (s->unacked_gone->len > 0) {
        Range *r = &g_array_index(s->unacked_gone, Range, 0);
        r->first = MAX(r->first, s->committed + 1);
    }
}

void vitd_spool_rewind(VitdSpool *s)
{
    s->dropped += unacked_gone_count(s); /* the connection that sent them is gone */
    g_array_set_size(s->unacked_gone, 0);
    s->sent_upto = 0;
    reader_close(&s->reader);
    s->read_after = MAX(s->committed, segment_at(s, 0)->first_id - 1);
}

/* ---- delivery ---- */

void vitd_spool_commit(VitdSpool *s, guint64 id)
{
    if (id <= s->committed)
        return;
    s->committed = MIN(id, s->next_id - 1);
    s->commit_dirty = TRUE;
    unacked_gone_commit(s);
    while (s->segments->len > 1 && segment_end(s, 0) <= s->committed + 1) {
        if (s->reader.fd >= 0 && s->reader.first_id == segment_at(s, 0)->first_id)
            reader_close(&s->reader);
        g_autofree char *path = segment_path(s, segment_at(s, 0)->first_id);
        unlink(path);
        g_array_remove_index(s->segments, 0);
    }
    s->read_after = MAX(s->read_after, segment_at(s, 0)->first_id - 1);
}

static int write_committed(VitdSpool *s)
{
    g_autofree char *path = g_build_filename(s->dir, COMMITTED_FILE, NULL);
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", s->committed);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, text, strlen(text));
    if (r >= 0 && fdatasync(fd) < 0)
        r = -errno;
    close(fd);
    if (r >= 0 && rename(tmp, path) < 0)
        r = -errno;
    return r;
}

int vitd_spool_sync(VitdSpool *s)
{
    int r = s->fd >= 0 && fdatasync(s->fd) < 0 ? -errno : 0;
    if (s->commit_dirty) {
        int r2 = write_committed(s);
        if (r2 >= 0)
            s->commit_dirty = FALSE;
        else if (r >= 0)
            r = r2;
    }
    return r;
}

/* ---- counters ---- */

guint64 vitd_spool_get_pending(const VitdSpool *s)
{
    guint64 from = MAX(s->committed + 1, segment_at(s, 0)->first_id);
    return (s->next_id > from ? s->next_id - from : 0) + unacked_gone_count(s);
}

guint64 vitd_spool_get_dropped(const VitdSpool *s)
{
    return s->dropped;
}

guint64 vitd_spool_get_size(const VitdSpool *s)
{
    guint64 total = 0;
    for (guint i = 0; i < s->segments->len; i++)
        total += segment_at(s, i)->bytes;
    return total;
}

guint64 vitd_spool_get_committed(const VitdSpool *s)
{
    return s->committed;
}
