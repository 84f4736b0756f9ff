/* asm/codemem.c — packed executable memory: regions of 64-byte granules. See codemem.h. */
#define _GNU_SOURCE
#include "codemem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define REGION_BYTES ((size_t)1 << 20)
#define GRAIN OD_CODEMEM_GRAIN
#define TAIL 16
#define WORD_BYTES (64 * GRAIN)          /* bytes one 64-bit word of the map covers: 4 KiB */

typedef struct Region {
    struct Region *next;
    uint8_t *base;
    size_t bytes;                        /* a multiple of the page size */
    int near;                            /* within OD_CODEMEM_NEAR of the anchor */
    size_t live;                         /* granules in use */
    size_t first_free;                   /* every granule below it is in use */
    uint64_t *map;                       /* one bit per granule, 1 = holds live code */
} Region;

static Region *regions;                  /* oldest first: first fit keeps code dense */
static size_t page_size, words_per_page; /* the page size is a multiple of WORD_BYTES */
static size_t limit_bytes = (size_t)512 << 20;
static size_t in_use_bytes, resident_bytes, mapped_bytes;

void od_codemem_set_limit(size_t bytes) { limit_bytes = bytes; }
size_t od_codemem_limit(void) { return limit_bytes; }
size_t od_codemem_in_use(void) { return in_use_bytes; }
size_t od_codemem_resident(void) { return resident_bytes; }
size_t od_codemem_mapped(void) { return mapped_bytes; }

static int init(void)
{
    if (page_size)
        return 0;
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0 || ps % WORD_BYTES)
        return -1;
    page_size = (size_t)ps;
    words_per_page = page_size / WORD_BYTES;
    return 0;
}

/* The anchor of direct calls (codemem.h): an address in this library, whose helpers are
 * what generated code calls most. `far` is set once no region could be mapped near it. */
static uintptr_t anchor(void) { return (uintptr_t)(void *)&od_codemem_near; }
static int far;

static int within(uintptr_t x, uintptr_t span, uintptr_t a)
{
    return x >= a ? x - a < span : a - x < span;
}

int od_codemem_near(const void *target)
{
    return !far && within((uintptr_t)target, OD_CODEMEM_NEAR, anchor());
}

static int region_near(const void *p, size_t bytes)
{
    return within((uintptr_t)p, OD_CODEMEM_NEAR, anchor())
           && within((uintptr_t)p + bytes, OD_CODEMEM_NEAR, anchor());
}

/* Maps `bytes` PROT_NONE near the anchor if it can: where the kernel puts it (the mappings
 * of a process mostly lie together), else at hints on either side of the anchor, 64 MiB
 * apart; anywhere otherwise (sets `far`). */
static void *map_region(size_t bytes, int *near)
{
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if ((*near = region_near(p, bytes)) || far)
        return p;
    const uintptr_t step = (uintptr_t)64 << 20;
    uintptr_t a = anchor() & ~(step - 1);
    for (uintptr_t k = 1; k * step + bytes < OD_CODEMEM_NEAR; k++) {
        for (int side = 0; side < 2; side++) {
            uintptr_t hint = side ? a + k * step : a - k * step;
            void *q = mmap((void *)hint, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (q == MAP_FAILED)
                continue;
            if (region_near(q, bytes)) {
                munmap(p, bytes);
                *near = 1;
                return q;
            }
            munmap(q, bytes);
        }
    }
    far = 1;
    return p;
}

static Region *new_region(size_t min_bytes)
{
    size_t bytes = REGION_BYTES;
    if (bytes < min_bytes)
        bytes = (min_bytes + page_size - 1) / page_size * page_size;
    /* Pages without code stay PROT_NONE: a stray jump into them faults. */
    int near = 0;
    void *p = map_region(bytes, &near);
    if (!p)
        return NULL;
    Region *r = calloc(1, sizeof *r);
    if (r)
        r->map = calloc(bytes / WORD_BYTES, sizeof(uint64_t));
    if (!r || !r->map) {
        free(r);
        munmap(p, bytes);
        return NULL;
    }
    r->base = p;
    r->bytes = bytes;
    r->near = near;
    Region **tail = &regions;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    mapped_bytes += bytes;
    return r;
}

/* Unmaps r (no live code in it) and forgets it. */
static void unmap_region(Region *r)
{
    Region **link = &regions;
    while (*link != r)
        link = &(*link)->next;
    *link = r->next;
    munmap(r->base, r->bytes);
    mapped_bytes -= r->bytes;
    free(r->map);
    free(r);
}

static int bit(const Region *r, size_t g) { return (int)(r->map[g / 64] >> (g % 64) & 1); }

static void set_bits(Region *r, size_t g, size_t n, int on)
{
    for (size_t i = g; i < g + n; i++) {
        uint64_t m = (uint64_t)1 << (i % 64);
        if (on)
            r->map[i / 64] |= m;
        else
            r->map[i / 64] &= ~m;
    }
}

/* Whether page `pg` (index in the region) holds no live code. */
static int page_empty(const Region *r, size_t pg)
{
    for (size_t w = pg * words_per_page; w < (pg + 1) * words_per_page; w++)
        if (r->map[w])
            return 0;
    return 1;
}

/* First fit: the first granule of a run of n free granules in r, or -1. The scan starts
 * at the word of r->first_free; a word wholly used or wholly free is taken at once, and a
 * partly used one a run of equal bits at a time (count-trailing-zeros), not a bit at a
 * time: short programs install hundreds of units into regions whose words are mostly
 * partly used, and the bit-at-a-time walk cost 15,000 instructions an install (six's test
 * suite: 11M). */
static long find_run(const Region *r, size_t n)
{
    size_t nwords = r->bytes / WORD_BYTES, run = 0, start = 0;
    for (size_t wi = r->first_free / 64; wi < nwords; wi++) {
        uint64_t w = r->map[wi];
        if (w == UINT64_MAX) {
            run = 0;
            continue;
        }
        if (w == 0) {
            if (!run)
                start = wi * 64;
            run += 64;
            if (run >= n)
                return (long)start;
            continue;
        }
        for (unsigned b = 0; b < 64;) {
            uint64_t rest = w >> b;      /* bits b.. of the word; zeros shifted in above */
            if (rest & 1) {              /* a run of used granules: ~rest has a 1 above it */
                b += (unsigned)__builtin_ctzll(~rest);
                run = 0;
                continue;
            }
            unsigned zeros = rest ? (unsigned)__builtin_ctzll(rest) : 64 - b;
            if (!run)
                start = wi * 64 + b;
            run += zeros;
            if (run >= n)
                return (long)start;
            b += zeros;
        }
    }
    return -1;
}

static struct {
    const void *start;
    size_t size;
    const char *name;
} named[OD_CODEMEM_NAMED_MAX];
static int nnamed;

void od_codemem_name(const void *start, size_t size, const char *name)
{
    if (start && nnamed < OD_CODEMEM_NAMED_MAX) {
        named[nnamed].start = start;
        named[nnamed].size = size;
        named[nnamed].name = name;
        nnamed++;
    }
}

int od_codemem_named(int i, const void **start, size_t *size, const char **name)
{
    if (i < 0 || i >= nnamed)
        return 0;
    *start = named[i].start;
    *size = named[i].size;
    *name = named[i].name;
    return 1;
}

/* The rel32 a relocation needs with the code at `p`; 0 if it does not fit one. */
static int reloc_disp(const uint8_t *p, const OdCodeReloc *r, int32_t *disp)
{
    intptr_t d = (intptr_t)r->target - (intptr_t)(p + r->at + 4);
    *disp = (int32_t)d;
    return d >= INT32_MIN && d <= INT32_MAX;
}

/* Whether every relocation's displacement from code at `p` fits a rel32. */
static int relocs_fit(const uint8_t *p, const OdCodeReloc *relocs, int nrelocs)
{
    int32_t d;
    for (int i = 0; i < nrelocs; i++)
        if (!reloc_disp(p, &relocs[i], &d))
            return 0;
    return 1;
}

void *od_codemem_install(const void *code, size_t len, const OdCodeReloc *relocs, int nrelocs,
                         size_t *reserved)
{
    if (init() < 0 || len == 0)
        return NULL;
    /* At least TAIL bytes of int3 after the code, inside pages made executable with it: a
     * decoder that reads past a unit's last instruction (valgrind's translator does, by a
     * few bytes) must not find a PROT_NONE page there. A unit ending at a page's end
     * followed by an unused page made valgrind abort (SIGSEGV in its own code). */
    size_t n = (len + TAIL + GRAIN - 1) / GRAIN, bytes = n * GRAIN;
    if (in_use_bytes + bytes > limit_bytes)
        return NULL;
    Region *r;
    long at = -1;
    for (r = regions; r; r = r->next)
        if ((r->near || !nrelocs) && (at = find_run(r, n)) >= 0)
            break;
    if (!r) {
        r = new_region(bytes);
        if (!r)
            return NULL;
        at = 0;
    }
    uint8_t *p = r->base + (size_t)at * GRAIN;
    if (nrelocs && !relocs_fit(p, relocs, nrelocs)) {   /* a region mapped far */
        if (r->live == 0)
            unmap_region(r);
        return NULL;
    }
    size_t pg_lo = (size_t)(p - r->base) / page_size;
    size_t pg_hi = ((size_t)(p - r->base) + bytes + page_size - 1) / page_size;
    uint8_t *lo = r->base + pg_lo * page_size;
    size_t span = (pg_hi - pg_lo) * page_size;
    /* Which of the pages hold other live code (they are executable now, and must be again
     * when this returns: see codemem.h for why nothing runs them in between). */
    int shared = 0;
    size_t fresh = 0;
    for (size_t pg = pg_lo; pg < pg_hi; pg++) {
        if (page_empty(r, pg))
            fresh++;
        else
            shared = 1;
    }
    if (mprotect(lo, span, PROT_READ | PROT_WRITE) != 0) {
        if (r->live == 0)
            unmap_region(r);       /* a region made for this unit */
        return NULL;
    }
    for (size_t pg = pg_lo; pg < pg_hi; pg++)
        if (page_empty(r, pg))
            memset(r->base + pg * page_size, 0xCC, page_size);   /* int3 around code */
    memcpy(p, code, len);
    for (int i = 0; i < nrelocs; i++) {
        int32_t d;
        (void)reloc_disp(p, &relocs[i], &d);     /* relocs_fit checked them all */
        memcpy(p + relocs[i].at, &d, 4);
    }
    memset(p + len, 0xCC, bytes - len);
    if (mprotect(lo, span, PROT_READ | PROT_EXEC) != 0
        && mprotect(lo, span, PROT_READ | PROT_EXEC) != 0) {
        if (shared) {
            /* Live code of other units would stay non-executable: nothing sane is left. */
            fprintf(stderr, "overdrive: mprotect(PROT_READ|PROT_EXEC) failed on live code\n");
            abort();
        }
        if (r->live == 0)
            unmap_region(r);
        else
            mprotect(lo, span, PROT_NONE);
        return NULL;
    }
    __builtin___clear_cache((char *)p, (char *)p + bytes);
    set_bits(r, (size_t)at, n, 1);
    if ((size_t)at == r->first_free)
        r->first_free = (size_t)at + n;
    r->live += n;
    in_use_bytes += bytes;
    resident_bytes += fresh * page_size;
    *reserved = bytes;
    return p;
}

/* Give pages [pg, pg + npages) of r back to the OS: a fresh PROT_NONE mapping in their place
 * drops their contents (not resident any more, and stale code cannot run). */
static void drop_pages(Region *r, size_t pg, size_t npages)
{
    uint8_t *p = r->base + pg * page_size;
    size_t len = npages * page_size;
    if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        mprotect(p, len, PROT_NONE);
        madvise(p, len, MADV_DONTNEED);
    }
    resident_bytes -= len;
}

void od_codemem_release(void *code, size_t reserved)
{
    uint8_t *p = code;
    for (Region *r = regions; r; r = r->next) {
        if (p < r->base || p >= r->base + r->bytes)
            continue;
        size_t g = (size_t)(p - r->base) / GRAIN, n = reserved / GRAIN;
        set_bits(r, g, n, 0);
        if (g < r->first_free)
            r->first_free = g;
        r->live -= n;
        in_use_bytes -= reserved;
        if (r->live == 0) {
            /* No live code left in the region: unmap all of it. Its other pages were given
             * back when they became empty; the ones this unit touched are the last. */
            size_t pg_lo = (size_t)(p - r->base) / page_size;
            size_t pg_hi = ((size_t)(p - r->base) + reserved + page_size - 1) / page_size;
            resident_bytes -= (pg_hi - pg_lo) * page_size;
            unmap_region(r);
            return;
        }
        size_t pg_lo = (size_t)(p - r->base) / page_size;
        size_t pg_hi = ((size_t)(p - r->base) + reserved + page_size - 1) / page_size;
        for (size_t pg = pg_lo; pg < pg_hi;) {
            if (!page_empty(r, pg)) {
                pg++;
                continue;
            }
            size_t end = pg + 1;
            while (end < pg_hi && page_empty(r, end))
                end++;
            drop_pages(r, pg, end - pg);
            pg = end;
        }
        return;
    }
}

/* Mappings of /proc/self/maps: (start, end, permissions). */
typedef struct {
    uintptr_t s, e;
    char perms[4];
} Mapping;

/* Reads /proc/self/maps into *out (malloc'd); returns the count or -1. */
static long read_maps(Mapping **out)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    long n = 0, cap = 0;
    Mapping *m = NULL;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            Mapping *q = realloc(m, (size_t)cap * sizeof *m);
            if (!q) {
                free(m);
                fclose(f);
                return -1;
            }
            m = q;
        }
        m[n].s = s;
        m[n].e = e;
        memcpy(m[n].perms, perms, 3);
        m[n].perms[3] = 0;
        n++;
    }
    fclose(f);
    *out = m;
    return n;
}

/* 1 if all of [lo, hi) is mapped with exactly the permissions `want` ("r-x", "---"). */
static int covered_with(const Mapping *m, long n, uintptr_t lo, uintptr_t hi, const char *want)
{
    uintptr_t covered = 0;
    for (long i = 0; i < n; i++) {
        if (m[i].e <= lo || m[i].s >= hi)
            continue;
        if (strncmp(m[i].perms, want, 3) != 0)
            return 0;
        covered += (m[i].e < hi ? m[i].e : hi) - (m[i].s > lo ? m[i].s : lo);
    }
    return covered == hi - lo;
}

static int range_has_perms(uintptr_t lo, uintptr_t hi, const char *want)
{
    Mapping *m = NULL;
    long n = read_maps(&m);
    if (n < 0)
        return -1;
    int ok = covered_with(m, n, lo, hi, want);
    free(m);
    return ok;
}

int od_codemem_check_wx(const void *p, size_t len)
{
    if (init() < 0)
        return -1;
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page_size - 1);
    uintptr_t hi = ((uintptr_t)p + len + page_size - 1) & ~(uintptr_t)(page_size - 1);
    return range_has_perms(lo, hi, "r-x");
}

/* ---- self-test ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t len, reserved;
    uint32_t id;
} Block;

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static size_t draw_size(uint32_t *s)
{
    uint32_t k = rnd(s) % 100;
    if (k < 50)
        return 6 + rnd(s) % 400;          /* smaller than most compact units */
    if (k < 85)
        return 400 + rnd(s) % 4000;
    if (k < 99)
        return 4096 + rnd(s) % 40000;
    return REGION_BYTES + rnd(s) % 100000; /* a unit larger than a region */
}

/* `mov eax, id; ret`, then bytes that depend on id and position. */
static void fill(uint8_t *buf, size_t len, uint32_t id)
{
    buf[0] = 0xB8;
    memcpy(buf + 1, &id, 4);
    buf[5] = 0xC3;
    for (size_t i = 6; i < len; i++)
        buf[i] = (uint8_t)(id * 31 + i * 7);
}

static int cmp_block(const void *a, const void *b)
{
    const Block *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

/* find_run's answer by the plain definition, a granule at a time from the region's start:
 * the first run of n free granules (the self-test compares the two before every install). */
static long find_run_by_bits(const Region *r, size_t n)
{
    size_t run = 0;
    for (size_t g = 0; g < r->bytes / GRAIN; g++) {
        run = bit(r, g) ? 0 : run + 1;
        if (run >= n)
            return (long)(g + 1 - n);
    }
    return -1;
}

/* Whether every granule below r->first_free is in use. */
static int first_free_holds(const Region *r)
{
    for (size_t g = 0; g < r->first_free && g < r->bytes / GRAIN; g++)
        if (!bit(r, g))
            return 0;
    return 1;
}

#define FAIL(...)                                  \
    do {                                           \
        snprintf(err, errlen, __VA_ARGS__);        \
        goto out;                                  \
    } while (0)

/* Every live block intact and callable, no overlap, every region page r-x if it holds
 * live code and ---, not resident otherwise; resident_bytes agrees. */
static int check_all(Block *b, int nb, uint8_t *scratch, char *err, size_t errlen)
{
    int rc = -1;
    qsort(b, (size_t)nb, sizeof *b, cmp_block);
    for (int i = 0; i < nb; i++) {
        if ((uintptr_t)b[i].p % GRAIN || b[i].reserved % GRAIN
            || b[i].reserved < b[i].len + TAIL || b[i].reserved >= b[i].len + TAIL + GRAIN)
            FAIL("block %u: address %p or reserved %zu for %zu bytes", b[i].id,
                 (void *)b[i].p, b[i].reserved, b[i].len);
        if (i + 1 < nb && b[i].p + b[i].reserved > b[i + 1].p)
            FAIL("blocks %u and %u overlap", b[i].id, b[i + 1].id);
        fill(scratch, b[i].len, b[i].id);
        if (memcmp(scratch, b[i].p, b[i].len) != 0)
            FAIL("block %u: contents changed", b[i].id);
        for (size_t k = b[i].len; k < b[i].reserved; k++)
            if (b[i].p[k] != 0xCC)
                FAIL("block %u: padding is not int3", b[i].id);
        uint32_t got = (uint32_t)((int (*)(void))(void *)b[i].p)();
        if (got != b[i].id)
            FAIL("block %u returned %u", b[i].id, got);
    }
    size_t pages = 0;
    Mapping *maps = NULL;
    long nmaps = read_maps(&maps);
    if (nmaps < 0)
        FAIL("cannot read /proc/self/maps");
    for (Region *r = regions; r; r = r->next) {
        for (size_t pg = 0; pg < r->bytes / page_size; pg++) {
            uintptr_t lo = (uintptr_t)(r->base + pg * page_size);
            int empty = page_empty(r, pg);
            pages += !empty;
            if (!covered_with(maps, nmaps, lo, lo + page_size, empty ? "---" : "r-x")) {
                free(maps);
                FAIL("page %p of a region (%s) has other permissions than %s", (void *)lo,
                     empty ? "no live code" : "live code", empty ? "---" : "r-x");
            }
            if (empty) {
                unsigned char vec = 0;
                if (mincore((void *)lo, page_size, &vec) == 0 && (vec & 1)) {
                    free(maps);
                    FAIL("page %p holds no code but is resident", (void *)lo);
                }
            }
        }
    }
    free(maps);
    if (pages * page_size != resident_bytes)
        FAIL("resident_bytes %zu, but %zu pages hold code", resident_bytes, pages);
    rc = 0;
out:
    return rc;
}

int od_codemem_selftest(unsigned seed, int n, char *err, size_t errlen)
{
    if (init() < 0) {
        snprintf(err, errlen, "unsupported page size");
        return -1;
    }
    int rc = -1, nb = 0;
    uint32_t s = seed ? seed : 1;
    size_t saved_limit = limit_bytes;
    size_t in_use0 = in_use_bytes, resident0 = resident_bytes, mapped0 = mapped_bytes;
    size_t scratch_len = REGION_BYTES + 100000;
    Block *b = calloc((size_t)n * 2 + 1, sizeof *b);
    uint8_t *scratch = malloc(scratch_len);
    uint8_t *code = malloc(scratch_len);
    limit_bytes = (size_t)OD_CODEMEM_LIMIT_MAX;
    if (!b || !scratch || !code)
        FAIL("out of memory");
    uint32_t next_id = 1;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            size_t len = draw_size(&s);
            uint32_t id = next_id++;
            fill(code, len, id);
            size_t want = (len + TAIL + GRAIN - 1) / GRAIN;
            for (Region *r = regions; r; r = r->next)
                if (!first_free_holds(r) || find_run(r, want) != find_run_by_bits(r, want))
                    FAIL("first fit of %zu granules: %ld, expected %ld", want,
                         find_run(r, want), find_run_by_bits(r, want));
            size_t reserved = 0;
            uint8_t *p = od_codemem_install(code, len, NULL, 0, &reserved);
            if (!p)
                FAIL("install of %zu bytes failed", len);
            b[nb++] = (Block){p, len, reserved, id};
        }
        if (check_all(b, nb, scratch, err, errlen) < 0)
            goto out;
        /* Free about half, in random order, then check what is left. */
        for (int i = nb - 1; i > 0; i--) {
            int j = (int)(rnd(&s) % (uint32_t)(i + 1));
            Block t = b[i];
            b[i] = b[j];
            b[j] = t;
        }
        int keep = nb / 2;
        for (int i = keep; i < nb; i++)
            od_codemem_release(b[i].p, b[i].reserved);
        nb = keep;
        if (check_all(b, nb, scratch, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < nb; i++)
        od_codemem_release(b[i].p, b[i].reserved);
    if (rc == 0 && (in_use_bytes != in_use0 || resident_bytes != resident0
                    || mapped_bytes != mapped0)) {
        snprintf(err, errlen, "after freeing everything: in_use %zu (was %zu), resident %zu "
                 "(was %zu), mapped %zu (was %zu)", in_use_bytes, in_use0, resident_bytes,
                 resident0, mapped_bytes, mapped0);
        rc = -1;
    }
    limit_bytes = saved_limit;
    free(b);
    free(scratch);
    free(code);
    return rc;
}
