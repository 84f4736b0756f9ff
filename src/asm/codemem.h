/* asm/codemem.h — executable memory for generated code, W^X, packed.
 *
 * Contract: od_codemem_install() copies finished machine code into executable memory that is
 * never writable and executable at once. Units are packed: many small units share pages.
 * Memory comes from 1 MiB regions (larger for a larger unit) mapped PROT_NONE; a region is
 * divided into 64-byte granules with one bit each, and a unit takes the first run of free
 * granules that fits it (first fit, lowest address first, so live code stays dense).
 *
 * Writing: the pages the new unit touches are switched to PROT_READ|PROT_WRITE, the unit is
 * copied in, and they go back to PROT_READ|PROT_EXEC before the call returns. Those pages
 * may hold other units' live code, which is then not executable for the few instructions
 * of the copy. That is safe because nothing can run it then: every caller (the compiler,
 * the co_extra free function) holds the GIL; compiled code only runs in a thread that holds
 * the GIL (a thread that released it inside a helper reacquires it before returning into
 * compiled code); and between the two mprotect calls this thread runs only memset/memcpy
 * (no Python code, no allocation, no GC). A second interpreter or a free-threaded build
 * would need a lock here and a dual mapping instead (see docs/design.md, "Memory").
 *
 * Freeing: a unit's granules go back to its region's free map when its code object dies.
 * A page left with no live code is given back to the OS at once (remapped PROT_NONE, so it
 * neither stays resident nor runs stale code); a region left with no live code is unmapped.
 * Bytes of a freed unit inside a page that still holds other code are left as they were
 * (executable, never jumped to: nothing refers to a dead unit) until a new unit reuses them.
 *
 * The total reserved is bounded by od_codemem_set_limit(). Not thread safe: callers hold
 * the GIL. */
#ifndef OD_ASM_CODEMEM_H
#define OD_ASM_CODEMEM_H

#include <stddef.h>
#include <stdint.h>

/* Granule of the allocator: every unit starts at a multiple of it (a cache line). */
#define OD_CODEMEM_GRAIN 64

/* Direct calls. A `call rel32` reaches 2 GiB either way; generated code that calls a helper
 * through it, rather than through an entry `mov rax, fn; jmp rax` of its own, saves two
 * instructions, an indirect jump (a branch-target-buffer entry per unit and helper, missed
 * at the first call of each: most compiled code runs a few hundred times) and the cache
 * line of the entry. Every region is therefore mapped within OD_CODEMEM_NEAR of an anchor
 * (an address in this library), and a target within OD_CODEMEM_NEAR of the same anchor is
 * within reach of any code: od_codemem_near() says which targets are. When no region can be
 * mapped near the anchor any more, od_codemem_near() answers 0 from then on (code calls
 * through entries again) and an install with relocations fails (its caller keeps the code
 * interpreted, as for any failed install).
 *
 * A relocation is a rel32 field at offset `at` of the code that must hold `target` minus
 * the address of the field's end, written once the code's address is known. */
#define OD_CODEMEM_NEAR (((size_t)1 << 30) - ((size_t)1 << 24))

typedef struct {
    int32_t at;
    const void *target;
} OdCodeReloc;

int od_codemem_near(const void *target);

/* Copy `len` bytes of code into executable memory, its `nrelocs` relocations resolved;
 * returns the code address (a multiple of OD_CODEMEM_GRAIN) or NULL (out of memory, the
 * limit reached, or relocations and no region near the anchor). *reserved gets the bytes
 * reserved: len plus at least 16 bytes, rounded up to the granule (a decoder that reads
 * past the last instruction, valgrind's, finds int3 in an executable page); the bytes past
 * `len` are int3, and so is every byte of a page that held no code before. */
void *od_codemem_install(const void *code, size_t len, const OdCodeReloc *relocs, int nrelocs,
                         size_t *reserved);
/* Code that belongs to no unit (the thunks every unit calls) under a name, for profilers:
 * od_codemem_name() remembers [start, start + size) as `name` (a string that lives as long
 * as the process), od_codemem_named() gives the i-th one remembered (0 when there is no
 * i-th: at most OD_CODEMEM_NAMED_MAX are kept). hook/events.c writes them to perf maps. */
#define OD_CODEMEM_NAMED_MAX 8
void od_codemem_name(const void *start, size_t size, const char *name);
int od_codemem_named(int i, const void **start, size_t *size, const char **name);

/* Give back what od_codemem_install returned (`reserved` as it reported). */
void od_codemem_release(void *code, size_t reserved);

/* Bounds of the limit (config max_code_bytes): one page at least; at most 2**47 bytes,
 * the whole x86-64 user address space with 4-level page tables (128 TiB). A larger limit
 * could never be reached, and this bound keeps in_use + a request far from overflowing
 * size_t. The module refuses values outside it; the setter trusts its caller. */
#define OD_CODEMEM_LIMIT_MIN 4096LL
#define OD_CODEMEM_LIMIT_MAX (1LL << 47)

void od_codemem_set_limit(size_t bytes);
size_t od_codemem_limit(void);
size_t od_codemem_in_use(void);   /* bytes reserved by live units (granules) */
size_t od_codemem_resident(void); /* bytes of the pages holding live code */
size_t od_codemem_mapped(void);   /* bytes of regions mapped from the OS */

/* 1 if every page that [p, p + len) touches is currently mapped readable+executable and not
 * writable, 0 if not, -1 if /proc/self/maps cannot be read (used by the tests). */
int od_codemem_check_wx(const void *p, size_t len);

/* The allocator's self-test (tests/test_codemem.py): `n` units of sizes drawn from `seed`,
 * installed, run, checked (alignment, no overlap, contents, W^X of every page of every
 * region in /proc/self/maps, freed pages not resident), half freed, more installed into the
 * holes and checked again, all freed; in_use, resident and mapped must return to what they
 * were. Returns 0, or -1 with a message in err. */
int od_codemem_selftest(unsigned seed, int n, char *err, size_t errlen);

#endif /* OD_ASM_CODEMEM_H */
