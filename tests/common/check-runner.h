/* check-runner.h — the one Check runner of vitd's C unit tests (tests/vit, tests/pipeline,
 * tests/daemon): each test file builds its suites and ends main() with check_runner_run.
 * Element tests (tests/gst) link gstcheck, which bundles its own Check, and do not use this. */
#pragma once

#include <check.h>
#include <stddef.h>

/* Seconds a test case may run when neither CK_DEFAULT_TIMEOUT nor tcase_set_timeout says
 * otherwise. Check's own 4 s is too short for the thread-pool and fuzz tests on a loaded box. */
#define CHECK_RUNNER_DEFAULT_TIMEOUT "60"

/* Makes one suite (the suite_create / tcase_add_test part of a test file). */
typedef Suite *(*CheckSuiteMaker)(void);

/* Makes the N suites of MAKERS and runs them all in one runner (CK_NORMAL output). Test cases
 * get CHECK_RUNNER_DEFAULT_TIMEOUT unless CK_DEFAULT_TIMEOUT is set. Returns the exit status:
 * EXIT_SUCCESS when every test passed, else EXIT_FAILURE. */
int check_runner_run(const CheckSuiteMaker *makers, size_t n);
/* The same for S, a suite already made (its test cases keep the timeout they were made with). */
int check_runner_run_suite(Suite *s);
/* A suite NAME of one test case TCASE holding the N TESTS. */
Suite *check_runner_suite(const char *name, const char *tcase, const TTest *const *tests, size_t n);

/* The number of elements of an array (for the N arguments above). */
#define CHECK_RUNNER_N(array) (sizeof(array) / sizeof((array)[0]))
