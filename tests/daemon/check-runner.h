/* check-runner.h — the one main() body of the daemon's Check unit tests (test-*.c): each test
 * file lists its START_TEST cases and hands them to vitd_check_run. */
#pragma once

#include <check.h>
#include <stddef.h>

/* Runs the N TESTS as test case TCASE of suite SUITE (CK_NORMAL output) and returns the exit
 * status: EXIT_SUCCESS when every test passed, else EXIT_FAILURE. */
int vitd_check_run(const char *suite, const char *tcase, const TTest *const *tests, size_t n);

/* The number of elements of a test array, for vitd_check_run's N. */
#define VITD_CHECK_N(tests) (sizeof(tests) / sizeof((tests)[0]))
