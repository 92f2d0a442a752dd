/* test_vitclassify_alloc.c — classifying a frame in vitclassify allocates nothing once warm:
 * the model, session arena, thread pool, resize tables and (for bf16) the model's bf16 weights
 * are all made before or with the first frames, so a stream runs at a flat heap.
 *
 * The counting hook: this executable defines malloc, calloc, realloc and the aligned
 * allocators, which every shared library (GLib, GStreamer, the plugin with libvit inside,
 * OpenBLAS) then calls instead of libc's; each counts and forwards to glibc's __libc_ entry
 * points. Frames are prepared before counting; after 10 warm-up frames, 30 more are pushed
 * through the harness (post-messages off: a bus message is GStreamer's allocation, not the
 * element's) and every allocation on any thread is counted. The buffer meta keeps up to 8
 * classes inside itself (gstvitmeta.h), so the default top-k 5 needs no block of its own. */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vit-fixture.h"
#include "vit.h"

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);

static atomic_long allocations;

void *malloc(size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_memalign(align, size);
}

void *memalign(size_t align, size_t size)
{
    return aligned_alloc(align, size);
}

int posix_memalign(void **ret, size_t align, size_t size)
{
    void *p = aligned_alloc(align, size);
    if (!p)
        return ENOMEM;
    *ret = p;
    return 0;
}

#define WARM_UP 10
#define COUNTED 30

/* Allocations while COUNTED frames go through "vitclassify PROPS" after WARM_UP frames. */
/* Pushes IN through the harness and drops what comes out: no Check assertion on the way (Check
 * records every assertion's location on the heap). */
static void push(VitFixture *f, GstBuffer *in)
{
    GstFlowReturn r = gst_harness_push(f->h, in);
    GstBuffer *out = gst_harness_pull(f->h);
    if (r != GST_FLOW_OK || !out)
        g_error("push failed: %s", gst_flow_get_name(r));
    gst_buffer_unref(out);
}

static long allocations_per_run(const gchar *model, const gchar *props)
{
    g_auto(VitFixture) f = {0};
    GstBuffer *frames[WARM_UP + COUNTED];
    long before;
    gint i;

    vit_fixture_setup(&f, model, props, vit_caps_new("RGB", 64, 48));
    for (i = 0; i < WARM_UP + COUNTED; i++)
        frames[i] = vit_picture_new(f.caps, (GstClockTime)i * GST_SECOND / 30);
    for (i = 0; i < WARM_UP; i++)
        push(&f, frames[i]);
    before = atomic_load(&allocations);
    for (; i < WARM_UP + COUNTED; i++)
        push(&f, frames[i]);
    before = atomic_load(&allocations) - before;
    fail_unless_equals_int(vit_fixture_get_u64(&f, "frames-classified"), WARM_UP + COUNTED);
    return before;
}

GST_START_TEST(test_no_allocation_per_frame)
{
    static const gchar *props[] = {
        "threads=1 post-messages=false", "threads=2 post-messages=false",
        "threads=2 post-messages=false precision=auto", /* bf16 where the CPU has it */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(props); i++) {
        long n = allocations_per_run(SMALL_MODEL, props[i]);
        fail_unless(n == 0, "%s: %ld allocations in %d frames", props[i], n, COUNTED);
    }
}
GST_END_TEST;

static Suite *vitclassify_alloc_suite(void)
{
    Suite *s = suite_create("vitclassify-alloc");
    TCase *tc = tcase_create("alloc");
    tcase_add_test(tc, test_no_allocation_per_frame);
    suite_add_tcase(s, tc);
    return s;
}

GST_CHECK_MAIN(vitclassify_alloc);
