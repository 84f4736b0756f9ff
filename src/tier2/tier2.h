/* tier2/tier2.h — what the optimizing tier offers the rest of overdrive (so far: its HIR,
 * built, optimized and printed, for tools and tests; nothing executes yet).
 *
 * Contract: these take a code object the caller keeps alive and return new Python objects,
 * or NULL with an exception set. Tier 2 includes nothing of tier1/. */
#ifndef OD_TIER2_TIER2_H
#define OD_TIER2_TIER2_H

#include "../od_python.h"
#include "../hook/hook.h"

/* [(stage, text), ...]: the HIR after building, then after each pass of `passes` (a
 * sequence of pass names; None: the default pipeline), the verifier run after every stage.
 * The speculation passes read the feedback the code has now (and `func`'s globals when it
 * is a function).
 * ValueError (naming the reason) when the builder refuses the function or a pass name is
 * unknown; AssertionError when the verifier finds a problem. */
PyObject *od_tier2_hir_stages(PyCodeObject *co, PyObject *func, PyObject *passes);

/* Builds the HIR, damages it deliberately (`what`: see od_hir_corrupt) and returns what the
 * verifier says: a str, or None when it found nothing wrong. ValueError for an unknown
 * `what` or a function with nothing of that kind. */
PyObject *od_tier2_hir_corrupt(PyCodeObject *co, const char *what);

/* [(name, description), ...] of the passes, in default pipeline order. */
PyObject *od_tier2_passes(void);

/* The type lattice for tests. A type is given as its text ("Long", "Str|NoneType",
 * "Object?"), a class (its instances: int -> Long, a user class -> Instance(C)), a pair
 * (class, version), or a handle (bits, class-or-None, version) as returned here.
 * `op`: "join"/"meet" -> a handle; "sub" -> bool (a ⊑ b); "str" (b NULL) -> a's text. */
PyObject *od_tier2_type_op(const char *op, PyObject *a, PyObject *b);
/* The names of the lattice's named types. */
PyObject *od_tier2_type_names(void);

/* ---- running tier-2 code ----
 * od_tier2_promote: compile `co` (whose frame `f` is being entered; its globals are the
 * feedback for LoadGlobal) with tier 2 and make it what fresh frames enter (st->unit; tier
 * 1's unit kept in st->tier1). Refused or failed: st->tier2_off is set and tier 1 stays.
 * Never raises (an exception already set is kept). The state it keeps in st->tier2 (units,
 * exit counts, what not to speculate on) is freed by od_tier2_state_free. */
void od_tier2_promote(PyCodeObject *co, OdCodeState *st, _PyInterpreterFrame *f);
void od_tier2_state_free(void *state);
/* A frame of tier-1 unit `u` left at a loop header (OD_EXIT_OSR: its back edges counted
 * out; unlinked, f->prev_instr before the header): continue it in tier 2's OSR unit for
 * that header (made on first use, with the code's normal tier-2 unit), or, refused, in `u`
 * at the header (which then stops counting). Returns what running the frame returns. */
PyObject *od_tier2_osr(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u);
/* Back to tier 1's unit (tier 2 switched off); the tier-2 unit stays alive with the code. */
void od_tier2_demote(OdCodeState *st);

/* dis(f, tier=2): the LIR (after register allocation) of a fresh compile of `co`, as a str;
 * ValueError naming the reason when tier 2 refuses it. Nothing is installed. */
PyObject *od_tier2_lir_text(PyCodeObject *co, PyObject *func);
/* info(f)['tier2']: {'compiles', 'active', 'off', 'exits': {reason: n}, 'exit_places':
 * [(byte offset, reason, unit number, count)], 'why_not'}. */
PyObject *od_tier2_info(PyCodeObject *co);
/* Adds {address: name} of the functions tier-2 code calls (dis_native names them). 0/-1. */
int od_tier2_symbols(PyObject *dict);
/* stats()['tier2']: {'functions', 'refused', 'recompiled', 'given_up', 'exits': {...}}. */
PyObject *od_tier2_stats(void);
/* Zeroes what stats()['tier2'] reports (reset_stats()). */
void od_tier2_reset_stats(void);

#endif /* OD_TIER2_TIER2_H */
