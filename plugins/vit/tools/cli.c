/* cli.c — option-argument parsing shared by vit-infer and vit-eval. */
#include "tools/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vit.h"

int vit_cli_number(const char *s, double lo, double hi, double *ret)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -EINVAL;
    *ret = v;
    return 0;
}

int vit_cli_int(const char *s, int lo, int hi, int *ret)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *ret = (int)v;
    return 0;
}

int vit_cli_threads(const char *prog, const char *s, int *ret)
{
    if (vit_cli_int(s, 0, VIT_MAX_THREADS, ret) == 0)
        return 0;
    fprintf(stderr, "%s: --threads needs an integer in [0, %d]\n", prog, VIT_MAX_THREADS);
    return -1;
}

int vit_cli_precision(const char *prog, const char *s, vit_precision *ret)
{
    if (vit_precision_from_string(s, ret) == 0)
        return 0;
    fprintf(stderr, "%s: --precision needs fp32, bf16 or auto\n", prog);
    return -1;
}
