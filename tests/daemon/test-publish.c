/* test-publish.c — which classifications become Classification signals under each `publish:`
 * policy (daemon/vitd-publish.c). Emission is simulated: should_emit, then note_emitted when the
 * signal "went out". */
#include "check-runner.h"
#include "vitd-publish.h"

/* Feeds LABELS (one per frame, at TIMES_US) and returns how many were emitted, recording which. */
static int run(VpPublishMode mode, double rate, const char *const *labels, const gint64 *times_us,
               int n, gboolean *emitted)
{
    VitdPublishState st = {0};
    int count = 0;
    for (int i = 0; i < n; i++) {
        emitted[i] = vitd_publish_should_emit(&st, mode, rate, labels[i], times_us[i]);
        if (emitted[i]) {
            vitd_publish_note_emitted(&st, labels[i], times_us[i]);
            count++;
        }
    }
    vitd_publish_state_clear(&st);
    return count;
}

START_TEST(test_every_frame_emits_all)
{
    const char *labels[] = {"cat", "cat", "dog", NULL};
    const gint64 t[] = {0, 1, 2, 3};
    gboolean e[4];
    ck_assert_int_eq(run(VP_PUBLISH_EVERY_FRAME, 0, labels, t, 4, e), 4);
}
END_TEST

START_TEST(test_on_change_emits_first_and_changes)
{
    const char *labels[] = {"cat", "cat", "dog", "dog", "cat", NULL, NULL, "cat"};
    const gint64 t[] = {0, 1, 2, 3, 4, 5, 6, 7};
    const gboolean want[] = {TRUE, FALSE, TRUE, FALSE, TRUE, TRUE, FALSE, TRUE};
    gboolean e[8];
    ck_assert_int_eq(run(VP_PUBLISH_ON_CHANGE, 0, labels, t, 8, e), 5);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(e[i] == want[i], "frame %d: emitted=%d, want %d", i, e[i], want[i]);
}
END_TEST

START_TEST(test_on_change_resends_a_dropped_change)
{
    VitdPublishState st = {0};
    ck_assert(vitd_publish_should_emit(&st, VP_PUBLISH_ON_CHANGE, 0, "cat", 0));
    vitd_publish_note_emitted(&st, "cat", 0);
    /* "dog" is due but its signal is dropped (queue full): not noted... */
    ck_assert(vitd_publish_should_emit(&st, VP_PUBLISH_ON_CHANGE, 0, "dog", 1));
    /* ...so the next "dog" frame still counts as a change. */
    ck_assert(vitd_publish_should_emit(&st, VP_PUBLISH_ON_CHANGE, 0, "dog", 2));
    vitd_publish_state_clear(&st);
}
END_TEST

START_TEST(test_max_rate_spaces_signals)
{
    /* 100 frames at 100 fps (10 ms apart) under max-rate 5: one every 200 ms -> 20 signals. */
    const char *labels[100];
    gint64 t[100];
    gboolean e[100];
    for (int i = 0; i < 100; i++) {
        labels[i] = "cat";
        t[i] = (gint64)i * 10000;
    }
    ck_assert_int_eq(run(VP_PUBLISH_MAX_RATE, 5.0, labels, t, 100, e), 5);
    ck_assert(e[0] && e[20] && e[40] && !e[19] && !e[21]);
}
END_TEST

START_TEST(test_max_rate_zero_emits_nothing)
{
    const char *labels[] = {"cat", "dog"};
    const gint64 t[] = {0, 10000000};
    gboolean e[2];
    ck_assert_int_eq(run(VP_PUBLISH_MAX_RATE, 0.0, labels, t, 2, e), 0);
}
END_TEST

static Suite *publish_suite(void)
{
    const TTest *const tests[] = {
        test_every_frame_emits_all,
        test_on_change_emits_first_and_changes,
        test_on_change_resends_a_dropped_change,
        test_max_rate_spaces_signals,
        test_max_rate_zero_emits_nothing,
    };
    return check_runner_suite("publish", "policy", tests, CHECK_RUNNER_N(tests));
}

int main(void)
{
    const CheckSuiteMaker suites[] = {publish_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
