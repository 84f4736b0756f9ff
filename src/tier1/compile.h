/* tier1/compile.h — the baseline compiler: one pass over the bytecode, straight to x86-64.
 *
 * Contract: od_tier1_compile() turns a code object into an OdUnit whose native code keeps
 * every value exactly where the interpreter keeps it (locals in localsplus, the value stack
 * in the frame's stack area at statically known depths), so every instruction boundary is a
 * place to hand the frame to the interpreter. Instructions it does not handle become exits
 * to the interpreter at that instruction. Returns NULL with *why_not set (a static string)
 * when the code object is not compiled at all; never raises. */
#ifndef OD_TIER1_COMPILE_H
#define OD_TIER1_COMPILE_H

#include "../runtime/unit.h"

OdUnit *od_tier1_compile(PyCodeObject *co, const char **why_not);
/* Back edges a unit compiled from now on counts before its loop asks tier 2 for an OSR entry
 * (runtime/unit.h osr_counter); 0: units count nothing (tier 2 off: the back edge costs
 * what it did). Set by the hook (hook/codestate.c) before each compile, from
 * tier2_threshold. Generators never count. */
extern int32_t od_tier1_osr_backedges;
/* Nonzero: the unit's counter starts again at od_tier1_osr_backedges at every entry, so
 * that only a loop that runs that many iterations within one call leaves (the compact
 * units of rented loop code, hook/codestate.c). Set by the hook with the above. */
extern int od_tier1_osr_per_call;
/* Nonzero while od_tier1_recompile() runs for a frame that left at a loop header
 * (hook/codestate.c od_upgrade_loop): the code after that loop has not run yet, so a site
 * that never ran is not known to be cold, and keeps its fast path and slow path. */
extern int od_tier1_mid_run;
/* The same, starting from the site caches of `prev` (a unit of the same code object that
 * has run): what each site saw picks the variant its fast path keeps inline, and sites that
 * never ran get no fast path at all (their helper call is out of line). The new unit's
 * caches start as copies of prev's (they only hold borrowed, version-guarded pointers). */
/* A compact unit for code that is not (yet) hot: the same frame layout, exits, unwinding and
 * semantics, but every instruction goes through its helper (no inline fast paths, no operand
 * borrowing), and the helper calls share one per-unit thunk (a 5-byte call followed by a
 * 6-byte descriptor: tier1/compact.c). The helpers still fill the site caches, so
 * od_tier1_recompile() of a compact unit makes the full unit with feedback. */
OdUnit *od_tier1_compile_compact(PyCodeObject *co, const char **why_not);
/* The thunk's C side (tier1/compact.c): runs the instruction `desc` describes. */
typedef struct {
    intptr_t stop;   /* 0: continue after the descriptor */
    void *handler;   /* stop: the exception handler's native address, or NULL: return NULL */
} OdCompactResult;
OdCompactResult od_rt_compact_op(_PyInterpreterFrame *f, const uint8_t *desc, OdUnit *u,
                                 PyThreadState *ts);
/* The descriptor stubs' thunk's C side (tier1/stub_thunk.c): unwinds an error (returns the
 * handler's native address, or NULL: return NULL), records an exit (deopt, tracing) and
 * returns NULL, or handles the eval breaker and returns where to continue. `result` is a
 * failed helper's (0: tracing came on). */
void *od_rt_stub(_PyInterpreterFrame *f, const uint8_t *desc, OdUnit *u, int result,
                 PyThreadState *ts);
OdUnit *od_tier1_recompile(PyCodeObject *co, const OdUnit *prev, const char **why_not);
void od_unit_free(OdUnit *u);
/* Frees what u holds (code, tables, sites) and keeps the OdUnit itself, empty: a retired
 * unit that nothing can run any more (hook/codestate.c od_recompile_code). */
void od_unit_release_code(OdUnit *u);

/* The direct-call thunk every unit's CALL sites share (tier1/fast_call.c): built on first
 * use, once the hook is installed; NULL before that, or if it could not be built. One
 * entry per variant, the OR of: OD_THUNK_RECORD keeps the site's record (a first unit's
 * sites; a recompiled unit has read it), OD_THUNK_KEYWORDS takes a call with keywords
 * whose names are the callee's last parameters, in order. */
enum { OD_THUNK_RECORD = 1, OD_THUNK_KEYWORDS = 2, OD_THUNK_VARIANTS = 4 };
void *od_tier1_direct_thunk(int variant);

/* Whether tier 1 emits native code for this (base) opcode; otherwise it is an exit. */
int od_tier1_supports(int opcode);

#endif /* OD_TIER1_COMPILE_H */
