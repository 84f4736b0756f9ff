/* asm/codemem.c — chunked, page-granular executable memory. See codemem.h. */
#define _GNU_SOURCE
#include "codemem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_BYTES (1u << 20)

typedef struct Chunk {
    struct Chunk *next;
    uint8_t *base;
    size_t npages;
    uint8_t *used;  /* one byte per page: 1 = holds code */
} Chunk;

static Chunk *chunks;
static size_t page_size;
static size_t limit_bytes = (size_t)512 << 20;
static size_t in_use_bytes, mapped_bytes;

void od_codemem_set_limit(size_t bytes) { limit_bytes = bytes; }
size_t od_codemem_limit(void) { return limit_bytes; }
size_t od_codemem_in_use(void) { return in_use_bytes; }
size_t od_codemem_mapped(void) { return mapped_bytes; }

static Chunk *new_chunk(size_t min_bytes)
{
    size_t bytes = CHUNK_BYTES;
    if (bytes < min_bytes)
        bytes = (min_bytes + page_size - 1) / page_size * page_size;
    /* Unused pages stay PROT_NONE: a stray jump into them faults instead of running junk. */
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    Chunk *c = calloc(1, sizeof *c);
    if (c)
        c->used = calloc(bytes / page_size, 1);
    if (!c || !c->used) {
        free(c);
        munmap(p, bytes);
        return NULL;
    }
    c->base = p;
    c->npages = bytes / page_size;
    c->next = chunks;
    chunks = c;
    mapped_bytes += bytes;
    return c;
}

/* First fit: index of a run of n free pages in c, or -1. */
static long find_run(Chunk *c, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < c->npages; i++) {
        run = c->used[i] ? 0 : run + 1;
        if (run == n)
            return (long)(i + 1 - n);
    }
    return -1;
}

/* Where in its first page a unit's code starts. Were every unit page-aligned, the first
 * lines of all functions would fall into the same few sets of the L1 instruction cache
 * (one way of it spans 4 KiB) and evict each other: measured with cachegrind on chaos,
 * 3x the interpreter's I1 misses. Successive units start 5 cache lines further on,
 * cycling through all 64 line positions of a page (5 and 64 are coprime). */
#define COLOR_STEP 320
static size_t next_color;

void *od_codemem_install(const void *code, size_t len, size_t *reserved)
{
    if (!page_size)
        page_size = (size_t)sysconf(_SC_PAGESIZE);
    size_t offset = (next_color++ * COLOR_STEP) % page_size;
    size_t n = (offset + len + page_size - 1) / page_size;
    if (n == 0 || in_use_bytes + n * page_size > limit_bytes)
        return NULL;
    Chunk *c;
    long at = -1;
    for (c = chunks; c; c = c->next)
        if ((at = find_run(c, n)) >= 0)
            break;
    if (!c) {
        c = new_chunk(n * page_size);
        if (!c)
            return NULL;
        at = 0;
    }
    uint8_t *p = c->base + (size_t)at * page_size;
    size_t bytes = n * page_size;
    if (mprotect(p, bytes, PROT_READ | PROT_WRITE) != 0)
        return NULL;
    memset(p, 0xCC, bytes); /* int3 around the code */
    memcpy(p + offset, code, len);
    if (mprotect(p, bytes, PROT_READ | PROT_EXEC) != 0) {
        mprotect(p, bytes, PROT_NONE);
        return NULL;
    }
    __builtin___clear_cache((char *)p, (char *)p + bytes);
    memset(c->used + at, 1, n);
    in_use_bytes += bytes;
    *reserved = bytes;
    return p + offset;
}

/* The first page of the run holding `code` (the code starts at a colour offset in it). */
static uint8_t *run_start(const void *code)
{
    return (uint8_t *)((uintptr_t)code & ~(uintptr_t)(page_size - 1));
}

void od_codemem_release(void *code, size_t reserved)
{
    uint8_t *p = run_start(code);
    for (Chunk *c = chunks; c; c = c->next) {
        if (p >= c->base && p < c->base + c->npages * page_size) {
            size_t at = (size_t)(p - c->base) / page_size;
            /* Nothing runs this code any more (its code object is gone): take the pages
             * back to PROT_NONE so they can be rewritten later without ever being W+X. */
            mprotect(p, reserved, PROT_NONE);
            memset(c->used + at, 0, reserved / page_size);
            in_use_bytes -= reserved;
            return;
        }
    }
}

int od_codemem_check_wx(const void *p, size_t len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    if (!page_size)
        page_size = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)run_start(p), hi = lo + len;
    char line[512];
    int ok = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3)
            continue;
        if (s <= lo && hi <= e) {
            ok = perms[0] == 'r' && perms[1] == '-' && perms[2] == 'x';
            break;
        }
    }
    fclose(f);
    return ok;
}
