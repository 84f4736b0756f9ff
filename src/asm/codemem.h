/* asm/codemem.h — executable memory for generated code, W^X.
 *
 * Contract: od_codemem_install() copies finished machine code into pages that are never
 * writable and executable at once: a run of pages is written while PROT_READ|PROT_WRITE,
 * then switched to PROT_READ|PROT_EXEC before anyone can jump into it, and never written
 * again while it holds live code. Pages come from 1 MiB chunks (so adjacent code shares one
 * kernel mapping instead of one VMA per function); a freed run of pages returns to the
 * chunk's free map for reuse. The total is bounded by od_codemem_set_limit(). Not thread
 * safe: callers hold the GIL. */
#ifndef OD_ASM_CODEMEM_H
#define OD_ASM_CODEMEM_H

#include <stddef.h>

/* Copy `len` bytes of code into fresh executable pages; returns the code address or NULL
 * (out of memory, or the limit reached). *reserved gets the bytes reserved (whole pages).
 * The code starts at an offset in its first page that differs from one unit to the next
 * (cache-set colouring); the rest of the pages is int3. */
void *od_codemem_install(const void *code, size_t len, size_t *reserved);
void od_codemem_release(void *code, size_t reserved);

/* Bounds of the limit (config max_code_bytes): one page at least; at most 2**47 bytes,
 * the whole x86-64 user address space with 4-level page tables (128 TiB). A larger limit
 * could never be reached, and this bound keeps in_use + a request far from overflowing
 * size_t. The module refuses values outside it; the setter trusts its caller. */
#define OD_CODEMEM_LIMIT_MIN 4096LL
#define OD_CODEMEM_LIMIT_MAX (1LL << 47)

void od_codemem_set_limit(size_t bytes);
size_t od_codemem_limit(void);
size_t od_codemem_in_use(void);   /* bytes of pages holding live code */
size_t od_codemem_mapped(void);   /* bytes of chunks mapped from the OS */

/* 1 if every page of the run holding `p` (`len` = its reserved bytes) is currently mapped readable+executable and not writable
 * (used by the tests to check the W^X invariant through /proc/self/maps). */
int od_codemem_check_wx(const void *p, size_t len);

#endif /* OD_ASM_CODEMEM_H */
