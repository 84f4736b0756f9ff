/* asm/scratch.c — compile-time scratch memory. See scratch.h. */
#define _GNU_SOURCE
#include "scratch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Before every block: its usable size and whether it is mapped; 16 bytes keep the
 * block aligned as malloc's are. */
typedef struct {
    size_t size;
    size_t mapped;
} Header;
_Static_assert(sizeof(Header) == 16, "scratch header keeps 16-byte alignment");

/* Compilation holds the GIL: plain counters. */
static size_t in_use, peak;

static void count(size_t add, size_t sub)
{
    in_use = in_use + add - sub;
    if (in_use > peak)
        peak = in_use;
}

size_t od_scratch_in_use(void) { return in_use; }
size_t od_scratch_peak(void) { return peak; }

static void *map_block(size_t size)
{
    size_t total = (sizeof(Header) + size + 4095) & ~(size_t)4095;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    Header *h = m;
    h->size = total - sizeof(Header);
    h->mapped = 1;
    count(h->size, 0);
    return h + 1;
}

static void *malloc_block(size_t size)
{
    Header *h = malloc(sizeof(Header) + size);
    if (!h)
        return NULL;
    h->size = size;
    h->mapped = 0;
    count(size, 0);
    return h + 1;
}

void *od_scratch_realloc(void *p, size_t size)
{
    if (size == 0)
        size = 1;
    if (!p)
        return size >= OD_SCRATCH_MMAP ? map_block(size) : malloc_block(size);
    Header *h = (Header *)p - 1;
    if (size <= h->size && (h->mapped || size < OD_SCRATCH_MMAP))
        return p;                                   /* fits (a mapped block never shrinks) */
    if (h->mapped) {
        size_t old = h->size + sizeof(Header);
        size_t total = (sizeof(Header) + size + 4095) & ~(size_t)4095;
        void *m = mremap(h, old, total, MREMAP_MAYMOVE);
        if (m == MAP_FAILED)
            return NULL;
        h = m;
        count(total - sizeof(Header), h->size);
        h->size = total - sizeof(Header);
        return h + 1;
    }
    if (size < OD_SCRATCH_MMAP) {
        Header *q = realloc(h, sizeof(Header) + size);
        if (!q)
            return NULL;
        count(size, q->size);
        q->size = size;
        return q + 1;
    }
    void *n = map_block(size);                      /* outgrew malloc: move to a mapping */
    if (!n)
        return NULL;
    memcpy(n, p, h->size);
    count(0, h->size);
    free(h);
    return n;
}

void *od_scratch_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = od_scratch_realloc(NULL, n * size);
    if (p && !((Header *)p - 1)->mapped)
        memset(p, 0, n * size);                     /* fresh mappings are zero already */
    return p;
}

void od_scratch_free(void *p)
{
    if (!p)
        return;
    Header *h = (Header *)p - 1;
    count(0, h->size);
    if (h->mapped)
        munmap(h, h->size + sizeof(Header));
    else
        free(h);
}
