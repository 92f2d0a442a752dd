/* alloc_count.h — counts the heap allocations a test makes between start and stop, libvit's
 * included (it is a static library). The test executable must link with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (see meson.build). */
#pragma once

/* Counting starts at zero. No Check assertion may run while counting: Check allocates. */
void vt_alloc_count_start(void);
/* Stops counting and returns the number of allocations since vt_alloc_count_start(). */
long vt_alloc_count_stop(void);
