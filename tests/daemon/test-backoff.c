/* test-backoff.c — the restart schedule a failing pipeline follows (daemon/vitd-backoff.c). */
#include "check-runner.h"
#include "vitd-backoff.h"

START_TEST(test_doubles_from_initial_until_max)
{
    const double want[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_double_eq_tol(vitd_backoff_delay(1.0, 60.0, i), want[i], 1e-9);
}
END_TEST

START_TEST(test_fractional_initial)
{
    ck_assert_double_eq_tol(vitd_backoff_delay(0.2, 1.0, 0), 0.2, 1e-9);
    ck_assert_double_eq_tol(vitd_backoff_delay(0.2, 1.0, 1), 0.4, 1e-9);
    ck_assert_double_eq_tol(vitd_backoff_delay(0.2, 1.0, 2), 0.8, 1e-9);
    ck_assert_double_eq_tol(vitd_backoff_delay(0.2, 1.0, 3), 1.0, 1e-9);
}
END_TEST

START_TEST(test_huge_attempt_stays_at_max)
{
    ck_assert_double_eq_tol(vitd_backoff_delay(1.0, 60.0, 100000), 60.0, 1e-9);
    ck_assert_double_eq_tol(vitd_backoff_delay(1.0, 60.0, ~0u), 60.0, 1e-9);
}
END_TEST

START_TEST(test_initial_above_max_is_capped)
{
    ck_assert_double_eq_tol(vitd_backoff_delay(10.0, 3.0, 0), 3.0, 1e-9);
}
END_TEST

START_TEST(test_nonpositive_bounds_mean_no_wait)
{
    ck_assert_double_eq(vitd_backoff_delay(0.0, 60.0, 3), 0.0);
    ck_assert_double_eq(vitd_backoff_delay(-1.0, 60.0, 0), 0.0);
    ck_assert_double_eq(vitd_backoff_delay(1.0, 0.0, 0), 0.0);
}
END_TEST

static Suite *backoff_suite(void)
{
    const TTest *const tests[] = {
        test_doubles_from_initial_until_max,  test_fractional_initial,
        test_huge_attempt_stays_at_max,       test_initial_above_max_is_capped,
        test_nonpositive_bounds_mean_no_wait,
    };
    return check_runner_suite("backoff", "schedule", tests, CHECK_RUNNER_N(tests));
}

int main(void)
{
    const CheckSuiteMaker suites[] = {backoff_suite};
    return check_runner_run(suites, CHECK_RUNNER_N(suites));
}
