/* gemm_weights.c — the packed copies of a model's GEMM weights (bf16, or fp32 in the AVX-512
 * kernel's panels), and which thread uses them.
 *
 * The families hand vit_linear / vit_gemm plain float pointers, so a weight is known by its
 * address and the shape it is used with. Rather than teach every family about packing, the
 * first session of a model in a precision runs the network once with a recorder in use
 * (session.c): every product whose B lies outside that session's arena and input is a weight,
 * and is listed with (address, N, K, ldb, trans_b). finish() sorts the list, drops repeats and
 * packs each weight into one 64-byte aligned block. A run then finds each product's copy by
 * binary search on the same key; a product without one (attention's activations, a weight used
 * with another shape) packs its B per call, in fp32. Which table a thread uses is thread-local:
 * the session sets it around a run and the thread pool passes the caller's to its workers. */
#include "kernels/gemm_weights.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_kernel.h"

typedef struct weight_entry {
    const float *b;
    int n, k, ldb, trans_b;
    size_t offset; /* words into storage */
} weight_entry;

struct vit_gemm_weights {
    vit_gemm_format format;
    int recording;
    const char *skip_lo[2], *skip_hi[2]; /* recording: the session's own buffers */
    weight_entry *items;
    size_t count, cap;
    uint32_t *storage; /* 32-bit words: bf16 pairs or floats */
    size_t words;
};

static _Thread_local vit_gemm_weights *thread_weights;

vit_gemm_weights *vit_gemm_use(vit_gemm_weights *w)
{
    vit_gemm_weights *old = thread_weights;
    thread_weights = w;
    return old;
}

vit_gemm_weights *vit_gemm_in_use(void)
{
    return thread_weights;
}

vit_gemm_weights *vit_gemm_weights_recorder(vit_gemm_format format, const void *arena,
                                            size_t arena_bytes, const void *input,
                                            size_t input_bytes)
{
    vit_gemm_weights *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->format = format;
    w->recording = 1;
    w->skip_lo[0] = arena;
    w->skip_hi[0] = (const char *)arena + arena_bytes;
    w->skip_lo[1] = input;
    w->skip_hi[1] = (const char *)input + input_bytes;
    return w;
}

vit_gemm_weights *vit_gemm_weights_free(vit_gemm_weights *w)
{
    if (w) {
        free(w->items);
        free(w->storage);
        free(w);
    }
    return NULL;
}

static int entry_cmp(const weight_entry *x, const weight_entry *y)
{
    if (x->b != y->b)
        return (uintptr_t)x->b < (uintptr_t)y->b ? -1 : 1;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->ldb != y->ldb)
        return x->ldb < y->ldb ? -1 : 1;
    return (x->trans_b > y->trans_b) - (x->trans_b < y->trans_b);
}

static int entry_qsort_cmp(const void *x, const void *y)
{
    return entry_cmp(x, y);
}

static void record(vit_gemm_weights *w, const vit_gemm_args *g)
{
    const char *b = (const char *)g->B;
    for (int i = 0; i < 2; i++)
        if (b >= w->skip_lo[i] && b < w->skip_hi[i])
            return;
    if (!b || g->K <= 0)
        return;
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        weight_entry *items = realloc(w->items, cap * sizeof(*items));
        if (!items) {
            w->recording = -ENOMEM; /* reported by finish */
            return;
        }
        w->items = items;
        w->cap = cap;
    }
    w->items[w->count++] = (weight_entry){g->B, g->N, g->K, g->ldb, g->trans_b, 0};
}

/* Words of one packed weight; a multiple of 16, so every weight starts 64-byte aligned. */
static size_t packed_words(vit_gemm_format format, int n, int k)
{
    size_t words =
        format == VIT_GEMM_FORMAT_BF16 ? vit_bf16_packed_words(n, k) : vit_f32_packed_floats(n, k);
    return (words + 15) & ~(size_t)15;
}

int vit_gemm_weights_finish(vit_gemm_weights *w)
{
    if (w->recording < 0)
        return w->recording;
    w->recording = 0;
    if (w->count)
        qsort(w->items, w->count, sizeof(*w->items), entry_qsort_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < w->count; i++) {
        if (kept && entry_cmp(&w->items[kept - 1], &w->items[i]) == 0)
            continue;
        w->items[kept] = w->items[i];
        w->items[kept].offset = w->words;
        w->words += packed_words(w->format, w->items[i].n, w->items[i].k);
        kept++;
    }
    w->count = kept;
    w->storage = aligned_alloc(64, (w->words * sizeof(uint32_t) + 63) & ~(size_t)63);
    if (w->words && !w->storage)
        return -ENOMEM;
    for (size_t i = 0; i < w->count; i++) {
        const weight_entry *e = &w->items[i];
        if (w->format == VIT_GEMM_FORMAT_BF16)
            vit_bf16_pack(e->b, e->ldb, e->trans_b, e->n, e->k, w->storage + e->offset);
        else
            vit_f32_pack(e->b, e->ldb, e->trans_b, e->n, e->k,
                         (float *)(void *)(w->storage + e->offset));
    }
    return 0;
}

vit_gemm_format vit_gemm_weights_format(const vit_gemm_weights *w)
{
    return w->format;
}

int vit_gemm_weights_bf16_session(const vit_gemm_weights *w)
{
    return w && !w->recording && w->format == VIT_GEMM_FORMAT_BF16;
}

size_t vit_gemm_weights_bytes(const vit_gemm_weights *w, int *ret_count)
{
    if (ret_count)
        *ret_count = w ? (int)w->count : 0;
    return w ? w->words * sizeof(uint32_t) : 0;
}

const void *vit_gemm_weights_lookup(vit_gemm_weights *w, const vit_gemm_args *g)
{
    if (!w)
        return NULL;
    if (w->recording) {
        if (w->recording > 0)
            record(w, g);
        return NULL;
    }
    weight_entry key = {g->B, g->N, g->K, g->ldb, g->trans_b, 0};
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = entry_cmp(&w->items[mid], &key);
        if (c == 0)
            return w->storage + w->items[mid].offset;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
