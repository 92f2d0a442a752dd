/* test-spool.c — the MQTT sink's disk spool (daemon/vitd-spool.c): messages come back in order
 * and survive a reopen; commit deletes what was delivered and a rewind re-reads the rest; the
 * size bound drops the oldest, a sixteenth at a time, and counts every message it took exactly
 * once, also those in flight when their segment went; a torn last line (a crash mid-write) is cut.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "check-runner.h"
#include "vitd-spool.h"

static char *dir;

static void setup(void)
{
    dir = g_dir_make_tmp("vitd-spool-XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
}

static void rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(path, name, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(path);
}

static void teardown(void)
{
    rm_rf(dir);
    g_free(dir);
}

static VitdSpool *open_spool(guint64 max_bytes)
{
    VitdSpool *s = NULL;
    ck_assert_int_eq(vitd_spool_open(dir, max_bytes, &s), 0);
    return s;
}

static void append_n(VitdSpool *s, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        g_autofree char *payload = g_strdup_printf("{\"seq\":%d,\"pad\":\"%064d\"}", i, 0);
        guint64 id = 0;
        ck_assert_int_eq(
            vitd_spool_append(s, "vitd/box/pipeline/p/classification", payload, FALSE, &id), 0);
    }
}

/* Reads every message after the read position; returns how many, checking their seq runs on
 * from FIRST_SEQ. */
static int read_all(VitdSpool *s, int first_seq, guint64 *ret_last_id)
{
    VitdSpoolMessage msg = {0};
    int n = 0;
    while (vitd_spool_next(s, &msg) == 1) {
        g_autofree char *want = g_strdup_printf("{\"seq\":%d,", first_seq + n);
        ck_assert_msg(g_str_has_prefix(msg.payload, want), "got %s, want %s...", msg.payload, want);
        ck_assert_str_eq(msg.topic, "vitd/box/pipeline/p/classification");
        if (ret_last_id)
            *ret_last_id = msg.id;
        vitd_spool_message_clear(&msg);
        n++;
    }
    return n;
}

START_TEST(test_append_then_replay_in_order)
{
    VitdSpool *s = open_spool(1 << 20);
    append_n(s, 1, 100);
    ck_assert_uint_eq(vitd_spool_get_pending(s), 100);
    guint64 last = 0;
    ck_assert_int_eq(read_all(s, 1, &last), 100);
    ck_assert_uint_eq(last, 100);
    append_n(s, 101, 5); /* appended after the reader reached the end */
    ck_assert_int_eq(read_all(s, 101, NULL), 5);
    vitd_spool_rewind(s); /* nothing committed: everything again */
    ck_assert_int_eq(read_all(s, 1, NULL), 105);
    vitd_spool_close(s);
}
END_TEST

START_TEST(test_commit_survives_reopen)
{
    VitdSpool *s = open_spool(256 * 1024); /* 16 KiB segments: six of them */
    append_n(s, 1, 600);
    ck_assert_int_eq(read_all(s, 1, NULL), 600);
    vitd_spool_commit(s, 450);
    ck_assert_uint_eq(vitd_spool_get_pending(s), 150);
    guint64 size = vitd_spool_get_size(s);
    ck_assert_uint_lt(size, 600 * 100); /* delivered segments were deleted */
    vitd_spool_close(s);

    s = open_spool(256 * 1024);
    ck_assert_uint_eq(vitd_spool_get_committed(s), 450);
    ck_assert_uint_eq(vitd_spool_get_pending(s), 150);
    ck_assert_int_eq(read_all(s, 451, NULL), 150);
    append_n(s, 601, 10); /* ids go on after the last one on disk */
    ck_assert_int_eq(read_all(s, 601, NULL), 10);
    ck_assert_uint_eq(vitd_spool_get_dropped(s), 0);
    vitd_spool_close(s);
}
END_TEST

START_TEST(test_bound_drops_oldest_and_counts)
{
    VitdSpool *s = open_spool(16 * 1024);
    append_n(s, 1, 1000); /* ~140 bytes a line: far more than 16 KiB */
    ck_assert_uint_le(vitd_spool_get_size(s), 16 * 1024);
    guint64 dropped = vitd_spool_get_dropped(s), pending = vitd_spool_get_pending(s);
    ck_assert_uint_gt(dropped, 800);
    ck_assert_uint_eq(dropped + pending, 1000);
    /* What is left is the newest, in order, ending with the last appended. */
    int n = read_all(s, (int)dropped + 1, NULL);
    ck_assert_int_eq(n, (int)pending);
    vitd_spool_close(s);
}
END_TEST

START_TEST(test_bound_drops_a_sixteenth_at_a_time)
{
    VitdSpool *s = open_spool(1 << 20);
    int n = 0;
    while (vitd_spool_get_dropped(s) == 0)
        append_n(s, ++n, 1);
    /* ~140 bytes a line: 64 KiB segments hold about 470 lines; a quarter would be 1870. */
    ck_assert_uint_gt(vitd_spool_get_dropped(s), 100);
    ck_assert_uint_lt(vitd_spool_get_dropped(s), 600);
    ck_assert_uint_eq(vitd_spool_get_dropped(s) + vitd_spool_get_pending(s), (guint64)n);
    vitd_spool_close(s);
}
END_TEST

/* Sent, then their segment deleted: delivered if acknowledged later, dropped (once) if the
 * connection ends first. Every message is delivered or counted. */
START_TEST(test_bound_counts_messages_in_flight_once)
{
    VitdSpool *s = open_spool(64 * 1024); /* 16 KiB segments, ~115 lines each */
    append_n(s, 1, 100);
    ck_assert_int_eq(read_all(s, 1, NULL), 100); /* all sent */
    vitd_spool_commit(s, 20);                    /* 1..20 acknowledged */
    append_n(s, 101, 500);                       /* the first segments go */
    guint64 dropped = vitd_spool_get_dropped(s);
    ck_assert_uint_gt(dropped, 0);
    ck_assert_uint_eq(dropped + vitd_spool_get_pending(s), 600 - 20);
    vitd_spool_commit(s, 40); /* 21..40 arrived after all */
    ck_assert_uint_eq(vitd_spool_get_dropped(s), dropped);
    ck_assert_uint_eq(vitd_spool_get_dropped(s) + vitd_spool_get_pending(s), 600 - 40);
    vitd_spool_rewind(s); /* a reconnect: 41..100 were never acknowledged */
    VitdSpoolMessage msg = {0};
    ck_assert_int_eq(vitd_spool_next(s, &msg), 1);
    guint64 first = msg.id;
    vitd_spool_message_clear(&msg);
    ck_assert_uint_eq(vitd_spool_get_dropped(s), first - 1 - 40);
    ck_assert_uint_eq(vitd_spool_get_dropped(s) + vitd_spool_get_pending(s), 600 - 40);
    vitd_spool_rewind(s); /* counted once, not again */
    ck_assert_uint_eq(vitd_spool_get_dropped(s), first - 1 - 40);
    vitd_spool_close(s);
}
END_TEST

START_TEST(test_torn_last_line_is_cut)
{
    VitdSpool *s = open_spool(1 << 20);
    append_n(s, 1, 10);
    vitd_spool_close(s);
    /* A crash in the middle of a write: half a line at the end of the last segment. */
    g_autofree char *seg = g_build_filename(dir, "00000000000000000001.jsonl", NULL);
    FILE *f = fopen(seg, "a");
    ck_assert_ptr_nonnull(f);
    fputs("{\"id\":11,\"topic\":\"vitd/box/pipel", f);
    fclose(f);

    s = open_spool(1 << 20);
    ck_assert_uint_eq(vitd_spool_get_pending(s), 10);
    append_n(s, 11, 2); /* lands on a clean line, with the id the torn one would have had */
    guint64 last = 0;
    ck_assert_int_eq(read_all(s, 1, &last), 12);
    ck_assert_uint_eq(last, 12);
    vitd_spool_close(s);
}
END_TEST

START_TEST(test_unwritable_folder_is_an_error)
{
    VitdSpool *s = NULL;
    g_autofree char *file = g_build_filename(dir, "not-a-folder", NULL);
    ck_assert(g_file_set_contents(file, "x", 1, NULL));
    g_autofree char *below = g_build_filename(file, "spool", NULL);
    ck_assert_int_lt(vitd_spool_open(below, 1 << 20, &s), 0);
    ck_assert_ptr_null(s);
}
END_TEST

static Suite *spool_suite(void)
{
    Suite *suite = suite_create("spool");
    TCase *tc = tcase_create("spool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_append_then_replay_in_order);
    tcase_add_test(tc, test_commit_survives_reopen);
    tcase_add_test(tc, test_bound_drops_oldest_and_counts);
    tcase_add_test(tc, test_bound_drops_a_sixteenth_at_a_time);
    tcase_add_test(tc, test_bound_counts_messages_in_flight_once);
    tcase_add_test(tc, test_torn_last_line_is_cut);
    tcase_add_test(tc, test_unwritable_folder_is_an_error);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    const CheckSuiteMaker makers[] = {spool_suite};
    return check_runner_run(makers, CHECK_RUNNER_N(makers));
}
