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
    size_t mapped;   /* 0 from malloc; 1 a fresh mapping (zero); 2 a kept one (not zero) */
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

/* Mapped blocks freed by one compilation are kept for the next, up to OD_SCRATCH_KEEP
 * bytes: a fresh mapping costs an mmap, a munmap and a page fault per page touched (about
 * 3 per compile in a short program, 11% of its compile time: email_parse), and every
 * compile needs blocks of about the same sizes (the stubs, the code buffer). What is kept
 * stays resident; od_scratch_trim() gives it back (with the heap's trim), and so does
 * od_scratch_end_compile() for a block that OD_SCRATCH_KEEP_COMPILES compilations in a row
 * did not take: the blocks of a few large functions' compiles (regex_v8's block
 * functions, a pyperf worker's 0.4-0.5 MiB) otherwise stayed resident for the rest of the
 * process, through the small compiles that follow, which use malloc or smaller blocks. */
#define KEEP_BLOCKS 4
static Header *kept[KEEP_BLOCKS];
static uint64_t kept_at[KEEP_BLOCKS];   /* `compiles` when the block was kept */
static size_t kept_bytes, aged_out;
static uint64_t compiles;

/* The smallest kept block that holds `total` bytes (header included), or NULL. */
static Header *take_kept(size_t total)
{
    int best = -1;
    for (int i = 0; i < KEEP_BLOCKS; i++)
        if (kept[i] && kept[i]->size + sizeof(Header) >= total
            && (best < 0 || kept[i]->size < kept[best]->size))
            best = i;
    if (best < 0)
        return NULL;
    Header *h = kept[best];
    kept[best] = NULL;
    kept_bytes -= h->size + sizeof(Header);
    return h;
}

static void unmap_or_keep(Header *h)
{
    size_t total = h->size + sizeof(Header);
    if (kept_bytes + total <= OD_SCRATCH_KEEP)
        for (int i = 0; i < KEEP_BLOCKS; i++)
            if (!kept[i]) {
                kept[i] = h;
                kept_at[i] = compiles;
                kept_bytes += total;
                return;
            }
    munmap(h, total);
}

void od_scratch_trim(void)
{
    for (int i = 0; i < KEEP_BLOCKS; i++)
        if (kept[i]) {
            munmap(kept[i], kept[i]->size + sizeof(Header));
            kept[i] = NULL;
        }
    kept_bytes = 0;
}

size_t od_scratch_kept(void) { return kept_bytes; }
size_t od_scratch_aged_out(void) { return aged_out; }

void od_scratch_end_compile(void)
{
    compiles++;
    for (int i = 0; i < KEEP_BLOCKS; i++)
        if (kept[i] && compiles - kept_at[i] > OD_SCRATCH_KEEP_COMPILES) {
            size_t total = kept[i]->size + sizeof(Header);
            munmap(kept[i], total);
            kept[i] = NULL;
            kept_bytes -= total;
            aged_out += total;
        }
}

static void *map_block(size_t size)
{
    size_t total = (sizeof(Header) + size + 4095) & ~(size_t)4095;
    Header *k = take_kept(total);
    if (k) {
        count(k->size, 0);
        k->mapped = 2;                              /* not zero, unlike a fresh mapping */
        return k + 1;
    }
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
    if (p && ((Header *)p - 1)->mapped != 1)
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
        unmap_or_keep(h);
    else
        free(h);
}
