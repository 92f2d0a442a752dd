/* cli.h — option-argument parsing shared by vit-infer and vit-eval. */
#ifndef VIT_CLI_H
#define VIT_CLI_H

#include "vit.h"

/* s as a whole decimal number (strtod) in [lo, hi] into *ret: 0, else -EINVAL (*ret kept). */
int vit_cli_number(const char *s, double lo, double hi, double *ret);
/* s as a whole base-10 integer in [lo, hi] into *ret: 0, else -EINVAL (*ret kept). */
int vit_cli_int(const char *s, int lo, int hi, int *ret);
/* The --threads argument s, an integer in [0, VIT_MAX_THREADS], into *ret: 0, else prints
 * "<prog>: --threads needs an integer in [0, VIT_MAX_THREADS]" on stderr and returns -1. */
int vit_cli_threads(const char *prog, const char *s, int *ret);

/* The --precision argument s ("fp32", "bf16" or "auto") into *ret: 0, else prints
 * "<prog>: --precision needs fp32, bf16 or auto" on stderr and returns -1. */
int vit_cli_precision(const char *prog, const char *s, vit_precision *ret);

#endif
