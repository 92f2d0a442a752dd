/* check-runner.c — the shared Check runner (check-runner.h).
 *
 * Check reads CK_DEFAULT_TIMEOUT when a test case is created, so the default is put in the
 * environment (never over a value the caller set) before the suite makers run. */
#include "check-runner.h"

#include <stdlib.h>

static int run_all(SRunner *sr)
{
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int check_runner_run(const CheckSuiteMaker *makers, size_t n)
{
    if (n == 0)
        return EXIT_FAILURE;
    setenv("CK_DEFAULT_TIMEOUT", CHECK_RUNNER_DEFAULT_TIMEOUT, 0);
    SRunner *sr = srunner_create(makers[0]());
    for (size_t i = 1; i < n; i++)
        srunner_add_suite(sr, makers[i]());
    return run_all(sr);
}

int check_runner_run_suite(Suite *s)
{
    return run_all(srunner_create(s));
}

Suite *check_runner_suite(const char *name, const char *tcase, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(tcase);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}
