/* asm/scratch.h — memory for what one compilation needs and frees before it returns.
 *
 * Compiling a large code object needs megabytes of scratch (the code before it is
 * installed, labels, fix-ups, stubs, decoded instructions). From malloc, a block that large
 * is mmap'd, and freeing it makes glibc raise its mmap threshold to that size (the dynamic
 * threshold): from then on every such block comes from the heap, whose free pages stay
 * resident (bench/memory_census.py, docs/performance.md "Memory"). Blocks of at least
 * OD_SCRATCH_MMAP bytes are therefore mapped and unmapped here, without malloc; smaller ones
 * come from malloc. od_scratch_realloc(NULL, n) allocates, od_scratch_free(NULL) does
 * nothing, like realloc/free; a block must be freed here, never by free(). */
#ifndef OD_ASM_SCRATCH_H
#define OD_ASM_SCRATCH_H

#include <stddef.h>

#define OD_SCRATCH_MMAP ((size_t)64 * 1024)
/* Freed mappings kept for the next compilation, at most this many bytes (scratch.c). */
#define OD_SCRATCH_KEEP ((size_t)512 * 1024)

void *od_scratch_realloc(void *p, size_t size);
void *od_scratch_calloc(size_t n, size_t size);
void od_scratch_free(void *p);

/* Bytes of scratch held now (0 between compilations) and the most ever held at once
 * (stats(): compile_scratch_in_use, compile_scratch_peak). */
size_t od_scratch_in_use(void);
size_t od_scratch_peak(void);

/* Freed mappings not taken again by the next OD_SCRATCH_KEEP_COMPILES compilations are
 * given back (scratch.c): what a run of large compiles kept is not left resident once the
 * program has moved on to small ones. */
#define OD_SCRATCH_KEEP_COMPILES 2

/* Bytes of freed mappings kept for reuse, and giving them back to the OS. */
size_t od_scratch_kept(void);
void od_scratch_trim(void);

/* Called once at the end of every compilation (hook/codestate.c): counts it, and gives
 * back the kept mappings that have waited OD_SCRATCH_KEEP_COMPILES compilations. */
void od_scratch_end_compile(void);

/* Kept mappings given back because no compilation took them (stats():
 * compile_scratch_aged_out). */
size_t od_scratch_aged_out(void);

#endif /* OD_ASM_SCRATCH_H */
