/* alloc_count.c — the malloc/calloc/realloc wrappers behind alloc_count.h. */
#include "alloc_count.h"

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static int counting;
static long allocations;

void *__wrap_malloc(size_t n)
{
    allocations += counting;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    allocations += counting;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations += counting;
    return __real_realloc(p, n);
}

void vt_alloc_count_start(void)
{
    allocations = 0;
    counting = 1;
}

long vt_alloc_count_stop(void)
{
    counting = 0;
    return allocations;
}
