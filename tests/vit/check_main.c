/* check_main.c — test helper: pseudo-random inputs (check_main.h). The suite runner is the
 * shared one in tests/common/check-runner.c. */
#include "check_main.h"

#include <stdlib.h>

static unsigned rng_state;

void vt_rng_seed(unsigned seed)
{
    rng_state = seed;
}

float vt_frand(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

float *vt_rand_array(size_t n)
{
    float *a = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        a[i] = vt_frand();
    return a;
}
