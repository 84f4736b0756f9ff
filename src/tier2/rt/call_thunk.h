/* tier2/rt/call_thunk.h — the machine-code fast path of tier 2's Call and CallMethod.
 *
 * Contract: od_t2_call_thunk(method) returns the address of a function with the helper
 * signature (rt/helpers.h) that tier-2 code calls instead of od_t2_call (method 0) or
 * od_t2_call_method (method 1), or NULL when it cannot be built (the hook not installed
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

const void *od_t2_call_thunk(int method);

#endif /* OD_TIER2_RT_CALL_THUNK_H */
