/* check_main.h — test helper shared by the libvit Check tests: the suite runner every main()
 * ends with (the shared tests/common/check-runner.h under its libvit name), and the
 * deterministic pseudo-random stream the numeric tests draw inputs from. */
#ifndef VIT_TEST_CHECK_MAIN_H
#define VIT_TEST_CHECK_MAIN_H

#include <check.h>
#include <stddef.h>

#include "check-runner.h"

/* Runs every test of s (CK_NORMAL output) and frees the runner; returns the exit status:
 * EXIT_SUCCESS when all passed, else EXIT_FAILURE. */
static inline int vt_run_suite(Suite *s)
{
    return check_runner_run_suite(s);
}

/* Restarts the stream at seed (a test file calls this once, in main, before vt_run_suite). */
void vt_rng_seed(unsigned seed);
/* The next value of the stream, in [-1, 1) (a 32-bit LCG, bits 8..23). */
float vt_frand(void);
/* n values of the stream in a malloc'ed array. */
float *vt_rand_array(size_t n);

#endif
