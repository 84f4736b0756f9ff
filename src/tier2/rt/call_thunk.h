/* tier2/rt/call_thunk.h — the machine-code fast path of tier 2's Call and CallMethod.
 *
 * Contract: od_t2_call_thunk(method) returns the address of a function with the helper
 * signature (rt/helpers.h) that tier-2 code calls instead of od_t2_call (method 0) or
 * od_t2_call_method (method 1) for a call without keywords (kwnames NULL: the thunk does
 * not look), or NULL when it cannot be built (the hook not installed
 * yet, no executable memory): the code then calls the C helper. The thunk makes the commonest
 * call itself (a Python function, or a bound method of one, called with its positional
 * parameters, trailing defaults filled, no keywords, its code compiled and the hook's checks
 * passed), and
 * jumps to the C helper with the same operands for everything else. It is called only
 * from tier-2 code: it reads the thread state and the cframe from the caller's frame
 * (lir.h OD_LIR_OFF_TS, OD_LIR_OFF_CFRAME), and on a refusal passes rbx (tier 2's frame
 * register) as the helper's frame. Built once per process (rt/call_thunk.c). */
#ifndef OD_TIER2_RT_CALL_THUNK_H
#define OD_TIER2_RT_CALL_THUNK_H

#include "../../od_python.h"
#include "../../asm/x64.h"
#include "../../runtime/unit.h"

const void *od_t2_call_thunk(int method);

/* A unit's own entry for the thunk: emits into `a` (the code of the tier-2 unit `unit`,
 * whose entry, the function entry(frame, ts, unit, NULL), is `unit_entry`) the rest of the
 * call the thunk makes, for code object `co`, with the frame's sizes and the unit's
 * address as immediates and the loops
 * over arguments and locals unrolled; binds *at to its start and returns 1, or returns 0
 * (nothing emitted) for code the thunk keeps to itself (*args, **kwargs, keyword-only
 * parameters, generators, more than 32 locals, or no thunk). The unit stores the address
 * in OdUnit.t2_direct_entry; the thunk jumps there, past all its checks, for a call with
 * exactly co_argcount arguments (self included). With `at_short` (not NULL) and at least
 * one parameter, also a second entry, bound to *at_short (else *at_short is untouched),
 * for a call one argument short whose function has defaults: the last parameter takes
 * the last item of func_defaults (OdUnit.t2_short_entry). Counted in stats()["tier2"]
 * ["entry_calls"] (and in "fast_calls"). */
int od_t2_emit_direct_entry(OdAsm *a, PyCodeObject *co, const OdUnit *unit,
                            OdLabel unit_entry, OdLabel *at, OdLabel *at_short);

#endif /* OD_TIER2_RT_CALL_THUNK_H */
