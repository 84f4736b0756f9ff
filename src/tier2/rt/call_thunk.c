/* tier2/rt/call_thunk.c — Call and CallMethod of a Python function in machine code.
 *
 * Why: the C road (rt/call.c od_t2_call_method -> call_function -> runtime/frames.c
 * od_rt_call_python) cost about 277 instructions per call in richards (callgrind: 30 in
 * the helper, 59 in call_function, 188 in od_rt_call_python: its shape analysis, the
 * argument references taken in one function and moved in another, three function
 * prologues), where tier 1's direct-call thunk does the same work in machine code. This
 * thunk is tier 2's: one per process, two entries (Call: [callable, args...]; CallMethod:
 * [method or NULL, self or callable, args...]), with the helper signature, so tier-2 code
 * calls it exactly as it calls the helper (lower.c only picks the address).
 *
 * What it does is od_rt_call_python's direct case, restated (runtime/frames.h): the callee
 * is a PyFunction, or a PyMethod of one (self goes first, as method_vectorcall passes it);
 * its code has a unit (co_extra -> code state -> unit) taking this many positional
 * arguments (OdUnit.direct_argc: no *args, **kwargs or keyword-only parameters), or more
 * when func_defaults covers the rest (filled from it, as CALL_PY_WITH_DEFAULTS does); no
 * keywords at the call; the tiering allows a direct entry (rt/call.c
 * tiering_allows: a tier-1 callee tier 2 may still promote, or a tier-2 callee while tier 2
 * is off, goes through the hook); the hook is the installed eval-frame function; tracing
 * is off; the recursion limit is not reached; the C stack has room; the unit is not due for
 * tier 1's recompilation; the data stack's current chunk has room. Then it pushes the frame
 * (the function, code, arguments and defaults referenced by the frame: tier-2 operands are
 * borrowed), links it, counts it (recursion depth, the unit's entries, od_rt_calls_direct,
 * stats()["tier2"]["fast_calls"]), enters the unit, unlinks it, and clears and pops it
 * inline while no reference it drops is the last one; otherwise (an object to free, an
 * escaped frame object, a NULL result: exception or exit to the interpreter) it finishes
 * in C, od_rt_direct_return, as tier 1's thunk does. Every refusal happens before anything
 * changed and jumps to the C helper with the operands unchanged, which takes the other
 * roads (vectorcall, the hook, keywords through od_rt_call_python).
 *
 * Registers (System V): rsi = the operands, rdx = their count, rcx = kwnames or NULL; rdi
 * (the frame) is not read. The thread state and cframe are the caller's frame slots
 * (tier-2 code only: lir.h), at [rsp + 8 + OD_LIR_OFF_*] on entry. */
#include "call_thunk.h"

#include "exit.h"
#include "helpers.h"
#include "../../asm/codemem.h"
#include "../../asm/x64.h"
#include "../../hook/hook.h"
#include "../../runtime/frames.h"

#include <string.h>

#define TS_OFF(field) ((int32_t)offsetof(PyThreadState, field))
#define FR_OFF(field) ((int32_t)offsetof(_PyInterpreterFrame, field))
#define FN_OFF(field) ((int32_t)offsetof(PyFunctionObject, field))
#define UNIT_OFF(field) ((int32_t)offsetof(OdUnit, field))
#define OFF_TYPE ((int32_t)offsetof(PyObject, ob_type))
/* The caller's frame slots, seen from the thunk (its return address on top). */
#define CALLER_TS (8 + OD_LIR_OFF_TS)
#define CALLER_CFRAME (8 + OD_LIR_OFF_CFRAME)

static void emit_abs_jump(OdAsm *a, const void *fn)
{
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)fn);
    od_jmp_r(a, OD_RAX);
}

/* To `to` if tier 2 is on (`on`) or off (not): config tier2_threshold >= 0, read at each
 * call (it may change at any time). Uses rdi. */
static void jump_if_tier2(OdAsm *a, int on, OdLabel to)
{
    od_mov_ri(a, OD_RDI, (int64_t)(intptr_t)od_rt_direct_entry.tier2_threshold);
    od_cmp32_mi(a, OD_RDI, 0, 0);
    od_jcc(a, on ? OD_CC_GE : OD_CC_L, to);
}

/* The checks of every frame entry, for the unit in r11: recursion limit, tracing, the hook
 * installed, C stack room; then data stack room. Leaves rcx = the thread state, rdi = the
 * new frame, rax = the data stack's top past it; to `refuse` with nothing changed. */
static void emit_checks(OdAsm *a, OdLabel refuse)
{
    od_mov_rm(a, OD_RCX, OD_RSP, CALLER_TS);
    od_cmp32_mi(a, OD_RCX, TS_OFF(recursion_remaining), 0);
    od_jcc(a, OD_CC_LE, refuse);
    od_mov_rm(a, OD_RAX, OD_RSP, CALLER_CFRAME);
    od_cmp8_mi(a, OD_RAX, (int32_t)offsetof(_PyCFrame, use_tracing), 0);
    od_jcc(a, OD_CC_NE, refuse);
    od_mov_rm(a, OD_RAX, OD_RCX, TS_OFF(interp));
    od_mov_rm(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyInterpreterState, eval_frame));
    od_mov_ri(a, OD_RDI, (int64_t)(intptr_t)od_rt_direct_entry.hook_eval);
    od_cmp_rr(a, OD_RAX, OD_RDI);
    od_jcc(a, OD_CC_NE, refuse);
    {   /* mov rax, fs:[tpoff]: the C stack floor (hook/cstack.h) */
        int32_t tpoff = (int32_t)od_rt_cstack_floor_tpoff();
        uint8_t bytes[9] = {0x64, 0x48, 0x8B, 0x04, 0x25};
        memcpy(bytes + 5, &tpoff, 4);
        od_emit_bytes(a, bytes, 9);
    }
    od_cmp_rr(a, OD_RSP, OD_RAX);
    od_jcc(a, OD_CC_B, refuse);
    od_mov_rm(a, OD_RDI, OD_RCX, TS_OFF(datastack_top));
    od_mov_rm(a, OD_RAX, OD_RCX, TS_OFF(datastack_chunk));
    od_add_ri(a, OD_RAX, (int32_t)offsetof(_PyStackChunk, data));
    od_cmp_rr(a, OD_RDI, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);                 /* a chunk's first slot is its owner's */
    od_mov_rm(a, OD_RAX, OD_R11, UNIT_OFF(frame_bytes));
    od_add_rr(a, OD_RAX, OD_RDI);
    od_cmp_rm(a, OD_RAX, OD_RCX, TS_OFF(datastack_limit));
    od_jcc(a, OD_CC_AE, refuse);
}

/* Push the frame (rdi; rax = the data stack top past it, rcx = the thread state) and fill
 * its specials as _PyFrame_InitializeSpecials does, for the function in r8 (new references
 * to it and its code). `co`: the code a per-callee entry is compiled for, its size and first
 * instruction as immediates; NULL: the code read from the function, the size from the unit
 * in r11. Clobbers rax and rsi. */
static void emit_push_frame(OdAsm *a, PyCodeObject *co)
{
    od_mov_mr(a, OD_RCX, TS_OFF(datastack_top), OD_RAX);
    od_mov_mr(a, OD_RDI, FR_OFF(f_func), OD_R8);
    od_add_mi(a, OD_R8, 0, 1);
    if (co)
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)co);
    else
        od_mov_rm(a, OD_RAX, OD_R8, FN_OFF(func_code));
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_mr(a, OD_RDI, FR_OFF(f_code), OD_RAX);
    od_mov_rm(a, OD_RSI, OD_R8, FN_OFF(func_builtins));
    od_mov_mr(a, OD_RDI, FR_OFF(f_builtins), OD_RSI);
    od_mov_rm(a, OD_RSI, OD_R8, FN_OFF(func_globals));
    od_mov_mr(a, OD_RDI, FR_OFF(f_globals), OD_RSI);
    od_mov_mi(a, OD_RDI, FR_OFF(f_locals), 0);
    od_mov_mi(a, OD_RDI, FR_OFF(frame_obj), 0);
    if (co) {
        od_mov32_mi(a, OD_RDI, FR_OFF(stacktop), co->co_nlocalsplus);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)(_PyCode_CODE(co) - 1));
    } else {
        od_mov32_rm(a, OD_RSI, OD_R11, UNIT_OFF(nlocalsplus));
        od_mov32_mr(a, OD_RDI, FR_OFF(stacktop), OD_RSI);
        od_lea(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyCodeObject, co_code_adaptive)
                                      - (int32_t)sizeof(_Py_CODEUNIT));
    }
    od_mov_mr(a, OD_RDI, FR_OFF(prev_instr), OD_RAX);
    od_mov8_mi(a, OD_RDI, FR_OFF(is_entry), 0);
    od_mov8_mi(a, OD_RDI, FR_OFF(owner), FRAME_OWNED_BY_THREAD);
}

/* Link the pushed frame (rdi) under the caller's cframe, take a recursion level (rcx =
 * the thread state), count the entry in the unit (r11) and in `calls`, and keep frame,
 * unit and thread state on the machine stack (three pushes after the return address:
 * aligned to 16; `frame_only`: the frame alone, one push, for an entry that knows its
 * unit and reads the thread state back from the caller's frame slots) with rsi = thread
 * state, rdx = unit: entry(frame, ts, unit, ...)'s arguments but the last. */
static void emit_link_and_count(OdAsm *a, uint64_t *calls, int frame_only)
{
    od_mov_rm(a, OD_RAX, OD_RSP, CALLER_CFRAME);
    od_mov_rm(a, OD_RDX, OD_RAX, (int32_t)offsetof(_PyCFrame, current_frame));
    od_mov_mr(a, OD_RDI, FR_OFF(previous), OD_RDX);
    od_mov_mr(a, OD_RAX, (int32_t)offsetof(_PyCFrame, current_frame), OD_RDI);
    od_add32_mi(a, OD_RCX, TS_OFF(recursion_remaining), -1);
    od_add_mi(a, OD_R11, UNIT_OFF(native_entries), 1);
    od_add_mi(a, OD_R11, UNIT_OFF(direct_entries), 1);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&od_rt_calls_direct);
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)calls);
    od_add_mi(a, OD_RAX, 0, 1);
    od_push(a, OD_RDI);
    if (!frame_only) {
        od_push(a, OD_R11);
        od_push(a, OD_RCX);
    }
    od_mov_rr(a, OD_RSI, OD_RCX);
    od_mov_rr(a, OD_RDX, OD_R11);
}

/* After the call: frame, unit and thread state back (rdi, r11, rcx; `frame_only`: rdi
 * and rcx, r11 is left to the caller), the frame unlinked, the recursion level given
 * back. rax (the result) is kept. */
static void emit_unlink(OdAsm *a, int frame_only)
{
    if (frame_only) {
        od_pop(a, OD_RDI);
        od_mov_rm(a, OD_RCX, OD_RSP, CALLER_TS);
    } else {
        od_pop(a, OD_RCX);
        od_pop(a, OD_R11);
        od_pop(a, OD_RDI);
    }
    od_mov_rm(a, OD_RDX, OD_RDI, FR_OFF(previous));
    od_mov_rm(a, OD_RSI, OD_RSP, CALLER_CFRAME);
    od_mov_mr(a, OD_RSI, (int32_t)offsetof(_PyCFrame, current_frame), OD_RDX);
    od_add32_mi(a, OD_RCX, TS_OFF(recursion_remaining), 1);
}

/* From `shape` on, for either entry: r8 = the callable, r9 = its first argument, rcx = the
 * number of arguments from r9 on; rsi and rdx the operands as the helper takes them (kept
 * until the call is committed). Refusals go to `refuse`. */
static void emit_body(OdAsm *a, OdLabel shape, OdLabel refuse)
{
    OdLabel func = od_label_new(a), tier1 = od_label_new(a),
            t1ok = od_label_new(a), ready = od_label_new(a), tiered = od_label_new(a),
            fill = od_label_new(a), filled = od_label_new(a), noself = od_label_new(a),
            args = od_label_new(a), copy = od_label_new(a), clear = od_label_new(a),
            link = od_label_new(a), slow = od_label_new(a), loop = od_label_new(a),
            next = od_label_new(a), end = od_label_new(a), last = od_label_new(a),
            unit = od_label_new(a);
    od_label_bind(a, shape);
    /* A function, or a bound method of one (r10 = self, else NULL; rcx then counts self:
     * the positional arguments the callee gets). */
    od_xor32_rr(a, OD_R10, OD_R10);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyFunction_Type);
    od_cmp_rm(a, OD_RAX, OD_R8, OFF_TYPE);
    od_jcc(a, OD_CC_E, func);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyMethod_Type);
    od_cmp_rm(a, OD_RAX, OD_R8, OFF_TYPE);
    od_jcc(a, OD_CC_NE, refuse);
    od_mov_rm(a, OD_R10, OD_R8, (int32_t)offsetof(PyMethodObject, im_self));
    od_mov_rm(a, OD_R8, OD_R8, (int32_t)offsetof(PyMethodObject, im_func));
    od_add_ri(a, OD_RCX, 1);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyFunction_Type);
    od_cmp_rm(a, OD_RAX, OD_R8, OFF_TYPE);
    od_jcc(a, OD_CC_NE, refuse);
    od_label_bind(a, func);
    /* rax = the code state, r11 = its unit */
    od_mov_rm(a, OD_R11, OD_R8, FN_OFF(func_code));
    od_mov_rm(a, OD_RAX, OD_R11, (int32_t)offsetof(PyCodeObject, co_extra));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);
    Py_ssize_t idx = od_rt_direct_entry.extra_index;
    if (idx > 0) {  /* a co_extra holds at least one slot */
        od_cmp_mi(a, OD_RAX, (int32_t)offsetof(OdCodeExtraLayout, ce_size), (int32_t)idx);
        od_jcc(a, OD_CC_LE, refuse);
    }
    od_mov_rm(a, OD_RAX, OD_RAX,
              (int32_t)(offsetof(OdCodeExtraLayout, ce_extras) + sizeof(void *) * (size_t)idx));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);
    od_mov_rm(a, OD_R11, OD_RAX, (int32_t)offsetof(OdCodeState, unit));
    od_test_rr(a, OD_R11, OD_R11);
    od_jcc(a, OD_CC_E, refuse);
    /* The commonest call first: exactly as many arguments as a unit with its own entry
     * (od_t2_emit_direct_entry) takes; only tier-2 units have one, so the tiering rule
     * left is tier 2's (on); then the checks, then that entry. */
    od_cmp32_rm(a, OD_RCX, OD_R11, UNIT_OFF(direct_argc));
    od_jcc(a, OD_CC_NE, unit);
    od_cmp_mi(a, OD_R11, UNIT_OFF(t2_direct_entry), 0);
    od_jcc(a, OD_CC_E, unit);
    jump_if_tier2(a, 0, refuse);
    emit_checks(a, refuse);
    od_mov_rm(a, OD_RDX, OD_R11, UNIT_OFF(t2_direct_entry));
    od_jmp_r(a, OD_RDX);
    od_label_bind(a, unit);
    /* The tiering (rt/call.c tiering_allows) and tier 1's recompilation: a tier-2 unit only
     * while tier 2 is on; a tier-1 unit only when tier 2 will not promote it (off, or
     * refused for it) and it is not due for recompilation (retired: never again). */
    od_cmp32_mi(a, OD_R11, UNIT_OFF(tier), 2);
    od_jcc(a, OD_CC_NE, tier1);
    jump_if_tier2(a, 0, refuse);
    od_label_bind(a, tiered);
    /* The unit takes rcx arguments directly (direct_argc: its positional parameters; -1
     * for none), or more, when the function's defaults cover the rest (as the
     * interpreter's CALL_PY_WITH_DEFAULTS fills them). */
    od_cmp32_rm(a, OD_RCX, OD_R11, UNIT_OFF(direct_argc));
    od_jcc(a, OD_CC_E, ready);
    od_jcc(a, OD_CC_G, refuse);
    od_mov_rm(a, OD_RAX, OD_R8, FN_OFF(func_defaults));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);
    od_mov_rm(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyVarObject, ob_size));
    od_add_rr(a, OD_RAX, OD_RCX);
    od_cmp32_rm(a, OD_RAX, OD_R11, UNIT_OFF(direct_argc));
    od_jcc(a, OD_CC_L, refuse);
    /* One argument short, into a unit with an entry for that (only tier 2's, allowed
     * here): the checks, then that entry, which takes the default itself. */
    od_lea(a, OD_RAX, OD_RCX, 1);
    od_cmp32_rm(a, OD_RAX, OD_R11, UNIT_OFF(direct_argc));
    od_jcc(a, OD_CC_NE, ready);
    od_cmp_mi(a, OD_R11, UNIT_OFF(t2_short_entry), 0);
    od_jcc(a, OD_CC_E, ready);
    emit_checks(a, refuse);
    od_mov_rm(a, OD_RDX, OD_R11, UNIT_OFF(t2_short_entry));
    od_jmp_r(a, OD_RDX);
    /* (out of the tier-2 callee's way) */
    od_label_bind(a, tier1);
    od_cmp8_mi(a, OD_RAX, (int32_t)offsetof(OdCodeState, tier2_off), 0);
    od_jcc(a, OD_CC_NE, t1ok);
    jump_if_tier2(a, 1, refuse);
    od_label_bind(a, t1ok);
    od_cmp_mi(a, OD_R11, UNIT_OFF(retired), 0);
    od_jcc(a, OD_CC_NE, tiered);
    od_mov_ri(a, OD_RDI, (int64_t)(intptr_t)od_rt_direct_entry.recompile_after);
    od_mov_rm(a, OD_RDI, OD_RDI, 0);
    od_mov_rm(a, OD_RAX, OD_R11, UNIT_OFF(native_entries));
    od_cmp_rr(a, OD_RAX, OD_RDI);
    od_jcc(a, OD_CC_B, tiered);
    od_test_rr(a, OD_RDI, OD_RDI);
    od_jcc(a, OD_CC_NE, refuse);                /* due: the hook's road recompiles */
    od_jmp(a, tiered);
    od_label_bind(a, ready);
    emit_checks(a, refuse);
    /* Committed: rdx = the end of the operands; push the frame. */
    od_shl_ri(a, OD_RDX, 3);
    od_add_rr(a, OD_RDX, OD_RSI);
    emit_push_frame(a, NULL);
    /* The locals (rsi walks them): self, the arguments (r9 to rdx), the defaults for the
     * parameters left, each with the reference the frame owns; the rest NULL. */
    od_lea(a, OD_RSI, OD_RDI, FR_OFF(localsplus));
    od_test_rr(a, OD_R10, OD_R10);
    od_jcc(a, OD_CC_E, noself);
    od_add_mi(a, OD_R10, 0, 1);
    od_mov_mr(a, OD_RSI, 0, OD_R10);
    od_add_ri(a, OD_RSI, 8);
    od_label_bind(a, noself);
    od_cmp_rr(a, OD_R9, OD_RDX);
    od_jcc(a, OD_CC_AE, args);
    od_label_bind(a, copy);
    od_mov_rm(a, OD_RAX, OD_R9, 0);
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_mr(a, OD_RSI, 0, OD_RAX);
    od_add_ri(a, OD_R9, 8);
    od_add_ri(a, OD_RSI, 8);
    od_cmp_rr(a, OD_R9, OD_RDX);
    od_jcc(a, OD_CC_B, copy);
    od_label_bind(a, args);
    /* rdx = the end of the parameters; a parameter left takes its default: r9 = the
     * defaults' item for the parameter at rsi (the last ones have defaults) */
    od_mov32_rm(a, OD_RDX, OD_R11, UNIT_OFF(direct_argc));
    od_shl_ri(a, OD_RDX, 3);
    od_lea(a, OD_RAX, OD_RDI, FR_OFF(localsplus));
    od_add_rr(a, OD_RDX, OD_RAX);
    od_cmp_rr(a, OD_RSI, OD_RDX);
    od_jcc(a, OD_CC_AE, filled);
    od_mov_rm(a, OD_RAX, OD_R8, FN_OFF(func_defaults));
    od_mov_rm(a, OD_R9, OD_RAX, (int32_t)offsetof(PyVarObject, ob_size));
    od_shl_ri(a, OD_R9, 3);
    od_add_rr(a, OD_R9, OD_RAX);
    od_add_ri(a, OD_R9, (int32_t)offsetof(PyTupleObject, ob_item));
    od_sub_rr(a, OD_R9, OD_RDX);
    od_add_rr(a, OD_R9, OD_RSI);
    od_label_bind(a, fill);
    od_mov_rm(a, OD_RAX, OD_R9, 0);
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_mr(a, OD_RSI, 0, OD_RAX);
    od_add_ri(a, OD_R9, 8);
    od_add_ri(a, OD_RSI, 8);
    od_cmp_rr(a, OD_RSI, OD_RDX);
    od_jcc(a, OD_CC_B, fill);
    od_label_bind(a, filled);
    od_mov32_rm(a, OD_RDX, OD_R11, UNIT_OFF(nlocalsplus));
    od_shl_ri(a, OD_RDX, 3);
    od_lea(a, OD_RAX, OD_RDI, FR_OFF(localsplus));
    od_add_rr(a, OD_RDX, OD_RAX);
    od_cmp_rr(a, OD_RSI, OD_RDX);
    od_jcc(a, OD_CC_AE, link);
    od_label_bind(a, clear);
    od_mov_mi(a, OD_RSI, 0, 0);
    od_add_ri(a, OD_RSI, 8);
    od_cmp_rr(a, OD_RSI, OD_RDX);
    od_jcc(a, OD_CC_B, clear);
    od_label_bind(a, link);
    /* Link and count it (hook/enter.c od_unit_enter), call entry(frame, ts, unit, NULL)
     * with frame, unit and thread state kept on the machine stack (three pushes after the
     * return address: aligned to 16), then unlink it. */
    emit_link_and_count(a, &od_t2_stats.fast_calls, 0);
    od_xor32_rr(a, OD_RCX, OD_RCX);
    od_mov_rm(a, OD_RAX, OD_R11, UNIT_OFF(entry));
    od_call_r(a, OD_RAX);
    emit_unlink(a, 0);
    /* Clear and pop (_PyFrame_Clear): inline while nothing is freed; from the first local
     * whose reference is the last (r10 walks them to r8), an escaped frame object, f_locals
     * or a NULL result, in C. */
    od_lea(a, OD_R10, OD_RDI, FR_OFF(localsplus));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, slow);
    od_cmp_mi(a, OD_RDI, FR_OFF(frame_obj), 0);
    od_jcc(a, OD_CC_NE, slow);
    od_cmp_mi(a, OD_RDI, FR_OFF(f_locals), 0);
    od_jcc(a, OD_CC_NE, slow);
    od_movsxd_rm(a, OD_R8, OD_RDI, FR_OFF(stacktop));
    od_shl_ri(a, OD_R8, 3);
    od_add_rr(a, OD_R8, OD_R10);
    od_cmp_rr(a, OD_R10, OD_R8);
    od_jcc(a, OD_CC_AE, end);
    od_label_bind(a, loop);
    od_mov_rm(a, OD_RSI, OD_R10, 0);
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, next);
    od_sub_mi(a, OD_RSI, 0, 1);
    od_jcc(a, OD_CC_E, last);                   /* the last reference: C frees it */
    od_label_bind(a, next);
    od_add_ri(a, OD_R10, 8);
    od_cmp_rr(a, OD_R10, OD_R8);
    od_jcc(a, OD_CC_B, loop);
    od_label_bind(a, end);
    od_mov_rm(a, OD_RSI, OD_RDI, FR_OFF(f_func));
    od_cmp_mi(a, OD_RSI, 0, 1);
    od_jcc(a, OD_CC_E, slow);
    od_mov_rm(a, OD_RDX, OD_RDI, FR_OFF(f_code));
    od_cmp_mi(a, OD_RDX, 0, 1);
    od_jcc(a, OD_CC_E, slow);
    od_sub_mi(a, OD_RSI, 0, 1);
    od_sub_mi(a, OD_RDX, 0, 1);
    od_mov_mr(a, OD_RCX, TS_OFF(datastack_top), OD_RDI);     /* pop */
    od_ret(a);
    od_label_bind(a, last);
    od_add_mi(a, OD_RSI, 0, 1);                 /* given back: released from r10 on in C */
    od_label_bind(a, slow);
    /* od_rt_direct_return(frame, ts, result, unit, first local not released), a tail call */
    od_mov_rr(a, OD_R8, OD_R10);
    od_mov_rr(a, OD_RDX, OD_RAX);
    od_mov_rr(a, OD_RSI, OD_RCX);
    od_mov_rr(a, OD_RCX, OD_R11);
    emit_abs_jump(a, (const void *)od_rt_direct_return);
}

static const void *thunks[2];
static int built, failed;

static void build(void)
{
    OdAsm a;
    size_t reserved;
    od_asm_init(&a);
    OdLabel entry[2], shape = od_label_new(&a), refuse = od_label_new(&a),
            refuse_method = od_label_new(&a);
    /* Call: [callable, args...]. Only calls without keywords come here (lower.c: rcx, the
     * kwnames, is NULL). */
    entry[0] = od_label_new(&a);
    od_label_bind(&a, entry[0]);
    od_mov_rm(&a, OD_R8, OD_RSI, 0);
    od_lea(&a, OD_R9, OD_RSI, 8);
    od_lea(&a, OD_RCX, OD_RDX, -1);
    emit_body(&a, shape, refuse);
    /* CallMethod: [method, self, args...] or [NULL, callable, args...]; its own copy of the
     * body, for its own refusal target */
    OdLabel shape_method = od_label_new(&a);
    entry[1] = od_label_new(&a);
    od_label_bind(&a, entry[1]);
    od_mov_rm(&a, OD_R8, OD_RSI, 0);
    od_lea(&a, OD_R9, OD_RSI, 8);                /* self is the first argument */
    od_lea(&a, OD_RCX, OD_RDX, -1);
    od_test_rr(&a, OD_R8, OD_R8);
    od_jcc(&a, OD_CC_NE, shape_method);
    od_mov_rm(&a, OD_R8, OD_RSI, 8);
    od_lea(&a, OD_R9, OD_RSI, 16);
    od_lea(&a, OD_RCX, OD_RDX, -2);
    emit_body(&a, shape_method, refuse_method);
    /* Refused: nothing changed but the scratch registers; rcx was NULL (kwnames), rdi the
     * caller's frame (rbx in tier-2 code). */
    od_label_bind(&a, refuse);
    od_xor32_rr(&a, OD_RCX, OD_RCX);
    od_mov_rr(&a, OD_RDI, OD_RBX);
    emit_abs_jump(&a, (const void *)od_t2_call);
    od_label_bind(&a, refuse_method);
    od_xor32_rr(&a, OD_RCX, OD_RCX);
    od_mov_rr(&a, OD_RDI, OD_RBX);
    emit_abs_jump(&a, (const void *)od_t2_call_method);
    if (!a.failed && od_asm_finish(&a) == 0) {
        char *mem = od_asm_install(&a, &reserved);
        od_codemem_name(mem, a.len, "overdrive::tier2_call_thunks");
        if (mem) {
            thunks[0] = mem + od_label_offset(&a, entry[0]);
            thunks[1] = mem + od_label_offset(&a, entry[1]);
        }
    }
    od_asm_free(&a);
    failed = thunks[0] == NULL;
}

const void *od_t2_call_thunk(int method)
{
    if (!built) {
        /* Only once the hook has filled what the thunk bakes in (runtime/frames.h). */
        if (od_rt_direct_entry.extra_index < 0 || !od_rt_direct_entry.hook_eval
            || !od_rt_direct_entry.recompile_after || !od_rt_direct_entry.tier2_threshold)
            return NULL;
        build();
        built = 1;
    }
    return failed ? NULL : thunks[method != 0];
}

/* A unit's own continuation of the thunk (call_thunk.h): what the thunk's body does from
 * "Committed" on, for one code object, with its sizes as immediates and the loops over its
 * arguments and locals unrolled (tier 1's hot units have the same, tier1/fast_call.c
 * emit_direct_entry, for tier 1's thunk). From the thunk (a jump, after its checks): rdi =
 * the new frame, rax = the data stack's top past it, rcx = the thread state, r8 = the
 * function, r9 = its first argument after self, r10 = self (a bound method's) or NULL, r11
 * = the unit; exactly co_argcount arguments, self included; the caller's return address on
 * top of the machine stack and the caller's frame slots above it. */
#define OD_T2_DIRECT_ENTRY_MAX_LOCALS 32

/* The first `given` arguments (self included) into the frame (rdi) from r10 (self, or
 * NULL) and r9, each with the reference the frame owns (tier-2 operands are borrowed). */
static void emit_entry_args(OdAsm *a, int given)
{
    int32_t lp = FR_OFF(localsplus);
    if (given <= 0)
        return;             /* (self would make at least one) */
    OdLabel noself = od_label_new(a), done = od_label_new(a);
    od_test_rr(a, OD_R10, OD_R10);
    od_jcc(a, OD_CC_E, noself);
    od_add_mi(a, OD_R10, 0, 1);
    od_mov_mr(a, OD_RDI, lp, OD_R10);
    for (int i = 1; i < given; i++) {
        od_mov_rm(a, OD_RAX, OD_R9, 8 * (i - 1));
        od_add_mi(a, OD_RAX, 0, 1);
        od_mov_mr(a, OD_RDI, lp + 8 * i, OD_RAX);
    }
    od_jmp(a, done);
    od_label_bind(a, noself);
    for (int i = 0; i < given; i++) {
        od_mov_rm(a, OD_RAX, OD_R9, 8 * i);
        od_add_mi(a, OD_RAX, 0, 1);
        od_mov_mr(a, OD_RDI, lp + 8 * i, OD_RAX);
    }
    od_label_bind(a, done);
}

int od_t2_emit_direct_entry(OdAsm *a, PyCodeObject *co, const OdUnit *unit,
                            OdLabel unit_entry, OdLabel *at, OdLabel *at_short)
{
    int argc = co->co_argcount, n = co->co_nlocalsplus;
    int32_t lp = FR_OFF(localsplus);
    if (!od_t2_call_thunk(0)
        || (co->co_flags & (CO_VARARGS | CO_VARKEYWORDS | CO_OPTIMIZED | CO_GENERATOR
                            | CO_COROUTINE | CO_ASYNC_GENERATOR)) != CO_OPTIMIZED
        || co->co_kwonlyargcount != 0 || n > OD_T2_DIRECT_ENTRY_MAX_LOCALS)
        return 0;
    OdLabel args_done = od_label_new(a);
    if (at_short && argc >= 1) {
        /* One argument short: argc - 1 given, the last parameter the last item of the
         * function's defaults (the thunk checked that it has one), as
         * CALL_PY_WITH_DEFAULTS fills it. */
        *at_short = od_label_new(a);
        od_label_bind(a, *at_short);
        emit_push_frame(a, co);
        emit_entry_args(a, argc - 1);
        od_mov_rm(a, OD_RAX, OD_R8, FN_OFF(func_defaults));
        od_mov_rm(a, OD_RDX, OD_RAX, (int32_t)offsetof(PyVarObject, ob_size));
        od_shl_ri(a, OD_RDX, 3);
        od_add_rr(a, OD_RAX, OD_RDX);
        od_mov_rm(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyTupleObject, ob_item) - 8);
        od_add_mi(a, OD_RAX, 0, 1);
        od_mov_mr(a, OD_RDI, lp + 8 * (argc - 1), OD_RAX);
        od_jmp(a, args_done);
    }
    *at = od_label_new(a);
    od_label_bind(a, *at);
    emit_push_frame(a, co);
    /* The arguments, each with the reference the frame owns (tier-2 operands are
     * borrowed): self first when r10 has one; then the other locals NULL. */
    emit_entry_args(a, argc);
    od_label_bind(a, args_done);
    for (int i = argc; i < n; i++)
        od_mov_mi(a, OD_RDI, lp + 8 * i, 0);
    /* Link and count it, call this unit's entry(frame, ts, unit, NULL), unlink it: as the
     * thunk does, with only the frame kept across the call (the thread state is the
     * caller's frame slot, the unit `unit`: three instructions a call fewer). */
    emit_link_and_count(a, &od_t2_stats.entry_calls, 1);   /* (fast_calls too) */
    od_call_label(a, unit_entry);
    emit_unlink(a, 1);
    /* Clear and pop, one local at a time, while nothing is freed; from the first local
     * whose reference is the last (r10 = where C goes on), an escaped frame object,
     * f_locals or a NULL result, in C. After a result stacktop is still co_nlocalsplus:
     * tier-2 code writes it only at its exits, which return NULL. */
    OdLabel slow = od_label_new(a), from[OD_T2_DIRECT_ENTRY_MAX_LOCALS + 1];
    for (int i = 0; i <= n; i++)
        from[i] = od_label_new(a);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, from[0]);
    od_cmp_mi(a, OD_RDI, FR_OFF(frame_obj), 0);
    od_jcc(a, OD_CC_NE, from[0]);
    od_cmp_mi(a, OD_RDI, FR_OFF(f_locals), 0);
    od_jcc(a, OD_CC_NE, from[0]);
    OdLabel last[OD_T2_DIRECT_ENTRY_MAX_LOCALS];
    for (int i = 0; i < n; i++) {
        OdLabel next = od_label_new(a);
        last[i] = od_label_new(a);
        od_mov_rm(a, OD_RSI, OD_RDI, lp + 8 * i);
        od_test_rr(a, OD_RSI, OD_RSI);
        od_jcc(a, OD_CC_E, next);
        od_sub_mi(a, OD_RSI, 0, 1);
        od_jcc(a, OD_CC_E, last[i]);            /* the last reference: C frees it */
        od_label_bind(a, next);
    }
    od_mov_rm(a, OD_RSI, OD_RDI, FR_OFF(f_func));
    od_cmp_mi(a, OD_RSI, 0, 1);
    od_jcc(a, OD_CC_E, from[n]);
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)co);
    od_cmp_mi(a, OD_RDX, 0, 1);
    od_jcc(a, OD_CC_E, from[n]);
    od_sub_mi(a, OD_RSI, 0, 1);
    od_sub_mi(a, OD_RDX, 0, 1);
    od_mov_mr(a, OD_RCX, TS_OFF(datastack_top), OD_RDI);     /* pop */
    od_ret(a);
    for (int i = 0; i < n; i++) {
        od_label_bind(a, last[i]);
        od_add_mi(a, OD_RSI, 0, 1);             /* given back: released from here on in C */
        od_jmp(a, from[i]);
    }
    for (int i = 0; i <= n; i++) {
        od_label_bind(a, from[i]);
        od_lea(a, OD_R10, OD_RDI, lp + 8 * i);
        od_jmp(a, slow);
    }
    od_label_bind(a, slow);
    /* od_rt_direct_return(frame, ts, result, unit, first local not released), a tail call */
    od_mov_rr(a, OD_R8, OD_R10);
    od_mov_rr(a, OD_RDX, OD_RAX);
    od_mov_rr(a, OD_RSI, OD_RCX);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)unit);
    emit_abs_jump(a, (const void *)od_rt_direct_return);
    return 1;
}
