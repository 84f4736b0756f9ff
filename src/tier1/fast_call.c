/* tier1/fast_call.c — inline parts of the call sequence.
 *
 * PRECALL compiles to nothing: CALL unpacks a bound method found in a plain call's
 * callable slot (runtime/ops_call.c od_rt_call), as the interpreter's PRECALL would have.
 * CALL's helper is called through the site (tier1 compile.c emit_helper_call): the helper
 * of the form its callables took (runtime/ccall.h).
 *
 * `list.append(x)` of quickened code, where the interpreter's PRECALL or the site's form
 * says list.append: in line while the list has room (emit_list_append), else the helper.
 *
 * CALL of a Python function whose code is compiled, with exactly as many arguments as it
 * has parameters, any keywords naming the last of them in order (so the call binds as a
 * positional one; the callee has no defaults left to fill, no *args, **kwargs or
 * keyword-only parameters): the compiled code pushes the callee's frame and enters its
 * native code itself, through the direct-call thunk below (one per process, in variants),
 * with none of the generic helpers (od_rt_call, od_rt_call_python, the eval-frame hook,
 * od_unit_run).
 * The guard reads everything from the live objects (function -> code -> co_extra -> unit),
 * so a site caches nothing that a freed or recompiled callee could leave stale. Anything
 * else, and any check the thunk refuses (tracing, hook not installed, recursion limit near,
 * C stack low, unit due for recompilation, data stack chunk full), takes the helper
 * (od_rt_call), which pushes the frame in C (keywords and defaults too). See emit.h. */
#include "emit.h"

#include <string.h>

#include "../asm/codemem.h"
#include "compile.h"
#include "../runtime/ccall.h"
#include "../runtime/frames.h"

/* Whether the interpreter specialized the PRECALL before `in` for a callable that is not a
 * Python function (a builtin, a method descriptor, a type, len, isinstance...): PRECALL's
 * forms are not refused under the eval-frame hook, as CALL's are, so they last. */
static int precall_specialized_for_c(Compiler *c, const OdInstr *in)
{
    const OdInstr *pre = in - 1;
    if (in == c->bc.instrs || pre->opcode != PRECALL || quickened_state(c, pre) != QUICK_SPECIALIZED)
        return 0;
    int op = quickened_opcode(c, pre);
    return op != PRECALL_PYFUNC && op != PRECALL_BOUND_METHOD;
}

/* The thunk a site calls: a first unit's keeps the site's record, a recompiled unit's
 * has read it; a call with keywords passes their names. */
static int thunk_variant(const Compiler *c, const OdCallSite *s)
{
    return (c->feedback ? 0 : OD_THUNK_RECORD) | (s->kwnames ? OD_THUNK_KEYWORDS : 0);
}

/* Whether the call `in` is compiled in line as the form whose interpreter opcode is
 * `precall_op` and whose helper is `helper` (ccall.h): the code is quickened (co_warmup 0
 * stays 0, so the form's road is the uncounted one), and either the site's helper took that
 * form (a recompiled unit's copy of the site) or the site never reached its helper (a first
 * unit; or a recompiled unit whose first unit's in-line code always hit) and the
 * interpreter specialized the PRECALL before it to that form. */
static int in_line_form(Compiler *c, const OdInstr *in, const OdCallSite *s, int precall_op,
                        OdCallHelper helper)
{
    if (c->compact || s->kwnames || in->oparg != 1 || c->co->co_warmup != 0)
        return 0;
    if (s->fn && s->fn != od_rt_call)
        return s->fn == helper;
    const OdInstr *pre = in - 1;
    return in != c->bc.instrs && pre->opcode == PRECALL && quickened_opcode(c, pre) == precall_op;
}

/* `list.append(x)` in line (PRECALL_NO_KW_LIST_APPEND's road, ccall.h LIST_APPEND). */
static int list_append_in_line(Compiler *c, const OdInstr *in, const OdCallSite *s)
{
    return in_line_form(c, in, s, PRECALL_NO_KW_LIST_APPEND, od_rt_call_list_append);
}

/* [list.append, list, x] -> [None] when the list has room: x's reference moves into the
 * list (_PyList_AppendTakeRef), the list's and the descriptor's are released. Anything
 * else (another callable, not an exact list, no room) to `miss`, the site's helper. */
static void emit_list_append(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    int x = in->depth - 2;
    PyObject *descr = _PyInterpreterState_GET()->callable_cache.list_append;
    od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, x));
    od_cmp_r_imm64(a, OD_RAX, (int64_t)(intptr_t)descr, OD_RCX);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, x + 1));
    od_mov_rm(a, OD_RCX, OD_RDI, OFF_TYPE);
    od_cmp_r_imm64(a, OD_RCX, (int64_t)(intptr_t)&PyList_Type, OD_RDX);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RDX, OD_RDI, OFF_SIZE);
    od_cmp_rm(a, OD_RDX, OD_RDI, (int32_t)offsetof(PyListObject, allocated));
    od_jcc(a, OD_CC_GE, miss);
    od_mov_rm(a, OD_RCX, OD_RDI, (int32_t)offsetof(PyListObject, ob_item));
    od_mov_rm(a, OD_RSI, R_FRAME, slot_disp(c, x + 2));
    {   /* mov [rcx + rdx*8], rsi */
        static const uint8_t store[4] = {0x48, 0x89, 0x34, 0xD1};
        od_emit_bytes(a, store, sizeof store);
    }
    od_add_mi(a, OD_RDI, OFF_SIZE, 1);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)Py_None);
    incref_reg(c, OD_RCX);
    od_mov_mr(a, R_FRAME, slot_disp(c, x), OD_RCX);
    decref_immortalish(c, OD_RAX);      /* the list type's dict holds the descriptor */
    decref_reg(c, OD_RDI, in->index);
    od_jmp(a, done);
}

/* `len(x)` in line (PRECALL_NO_KW_LEN's road, ccall.h LEN). */
static int len_in_line(Compiler *c, const OdInstr *in, const OdCallSite *s)
{
    return in_line_form(c, in, s, PRECALL_NO_KW_LEN, od_rt_call_len);
}

/* The length every exact str, list, tuple and dict keeps at the same offset. */
_Static_assert(offsetof(PyASCIIObject, length) == offsetof(PyVarObject, ob_size)
               && offsetof(PyDictObject, ma_used) == offsetof(PyVarObject, ob_size),
               "one load for the four kinds");

/* [NULL, len, x] -> [len(x)] for an exact str, list, tuple or dict whose length is a
 * small int; anything else to `miss`, the site's helper. */
static void emit_len(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    int x = in->depth - 2;
    OdLabel sized = od_label_new(a), have = od_label_new(a);
    od_cmp_mi(a, R_FRAME, slot_disp(c, x), 0);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, x + 1));
    od_cmp_r_imm64(a, OD_RAX, (int64_t)(intptr_t)_PyInterpreterState_GET()->callable_cache.len,
                   OD_RCX);
    od_jcc(a, OD_CC_NE, miss);
    od_mov_rm(a, OD_RCX, R_FRAME, slot_disp(c, x + 2));
    od_mov_rm(a, OD_RDX, OD_RCX, OFF_TYPE);
    PyTypeObject *const kinds[4] = {&PyUnicode_Type, &PyList_Type, &PyTuple_Type, &PyDict_Type};
    for (int i = 0; i < 4; i++) {
        od_cmp_r_imm64(a, OD_RDX, (int64_t)(intptr_t)kinds[i], OD_RSI);
        od_jcc(a, i < 3 ? OD_CC_E : OD_CC_NE, i < 3 ? sized : miss);
    }
    od_label_bind(a, sized);
    od_mov_rm(a, OD_RDX, OD_RCX, OFF_SIZE);
    small_int_or_jump(c, OD_RDX, have, miss);    /* rdi = the int, a new reference */
    od_label_bind(a, have);
    od_mov_mr(a, R_FRAME, slot_disp(c, x), OD_RDI);
    decref_reg(c, OD_RAX, in->index);            /* len: a dealloc would clobber rcx */
    od_mov_rm(a, OD_RCX, R_FRAME, slot_disp(c, x + 2));
    decref_reg(c, OD_RCX, in->index);
    od_jmp(a, done);
}

int call_has_fast_path(Compiler *c, const OdInstr *in, const void *site)
{
    const OdCallSite *s = site;
    if (list_append_in_line(c, in, s) || len_in_line(c, in, s)) {
        if (!c->feedback)
            c->nsingle_kind++;      /* the interpreter's form, as below */
        return 1;
    }
    /* A recompiled unit's site that only ever called builtins, types and other non-Python
     * callables goes straight to the helper: the thunk would refuse each call after its
     * checks (about 24 instructions), and the helper then does them again. A first unit
     * knows as much from the interpreter's PRECALL. */
    if (c->feedback && s->feedback.calls > 0 && s->feedback.py_calls == 0)
        return 0;
    if (precall_specialized_for_c(c, in)) {
        c->nsingle_kind++;
        return 0;
    }
    /* Keywords: the thunk's variant that checks they name the last parameters in order
     * (then the call is a positional one); it walks a non-empty tuple. */
    return !c->compact && (s->kwnames == NULL || PyTuple_GET_SIZE(s->kwnames) > 0)
           && od_tier1_direct_thunk(thunk_variant(c, s)) != NULL;
}

/* The thunk's three answers that are not a result, out of line: 1 (refused, nothing
 * consumed: the helper's road, s->miss), NULL (the callee raised: s->join, the error stub)
 * and 2 (the result stored, tracing switched on by the callee: s->exit). */
static void emit_call_not_a_result(Compiler *c, const Stub *s)
{
    od_cmp_ri(&c->a, OD_RAX, 1);
    od_jcc(&c->a, OD_CC_E, s->miss);
    od_jcc(&c->a, OD_CC_B, s->join);
    od_jmp(&c->a, s->exit);
}

/* Registers of compiled code the thunk relies on (emit.h): R_TS, R_CFRAME. */
void emit_call_fast(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done)
{
    if (list_append_in_line(c, in, site)) {
        emit_list_append(c, in, miss, done);
        return;
    }
    if (len_in_line(c, in, site)) {
        emit_len(c, in, miss, done);
        return;
    }
    OdAsm *a = &c->a;
    int x = in->depth - 2;                       /* CALL's booked depth excludes the args */
    const OdCallSite *s = site;
    int variant = thunk_variant(c, s);
    /* The thunk stores prev_instr (rax), the result, and checks tracing after the call: 18
     * bytes a site fewer, in one copy for all sites. */
    od_lea(a, OD_RAX, R_CODE, 2 * in->index);
    od_lea(a, OD_RDX, R_FRAME, slot_disp(c, x));
    od_mov_ri(a, OD_RCX, in->oparg);
    /* The site's record is kept by the thunk, as od_rt_call keeps it; a recompiled unit
     * has read it and calls the variant that records nothing. */
    if (variant & OD_THUNK_RECORD)
        od_mov_ri(a, OD_R11, (int64_t)(intptr_t)site);
    if (variant & OD_THUNK_KEYWORDS)
        od_mov_ri(a, OD_R8, (int64_t)(intptr_t)s->kwnames);   /* the code's constant */
    od_call_pool(a, od_tier1_direct_thunk(variant));
    /* 1, NULL or 2 (rarely): out of line, from one compare. 2: as after the helper, tracing
     * switched on by the callee. No eval breaker poll: the callee's RESUME polled, and
     * CPython's own Python-to-Python call polls nothing after the return either. */
    Stub rare = {.instr = in, .site = site, .miss = miss,
                 .join = error_stub(c, in->index, x),   /* the callable and the arguments
                                                         * moved into the callee's frame */
                 .exit = exit_stub(c, in->next, depth_after(in), OD_EXIT_TRACING, in->opcode)};
    od_cmp_ri(a, OD_RAX, 2);
    od_jcc(a, OD_CC_BE, cold_stub(c, emit_call_not_a_result, rare));
    od_jmp(a, done);
}

#define TS_OFF(field) ((int32_t)offsetof(PyThreadState, field))
#define FR_OFF(field) ((int32_t)offsetof(_PyInterpreterFrame, field))
#define UNIT_OFF(field) ((int32_t)offsetof(OdUnit, field))
#define SITE_OFF(field) ((int32_t)offsetof(OdCallSite, feedback.field))

/* Py_REF_DEBUG (a debug build of CPython): _Py_RefTotal follows every reference change,
 * as in emit.c. Clobbers r11. */
static void ref_total_dec(OdAsm *a, int n)
{
#ifdef Py_REF_DEBUG
    od_mov_ri(a, OD_R11, (int64_t)(intptr_t)&_Py_RefTotal);
    od_sub_mi(a, OD_R11, 0, n);
#else
    (void)a;
    (void)n;
#endif
}

/* The thunk, called from compiled code with rdx = &the call's first stack slot ([NULL or
 * function, callable or self, args...]), ecx = oparg, rax = the caller's prev_instr (the
 * CALL), r11 = the call site (the recording variants only), r8 = the keywords' names (the
 * keyword variants only: a non-empty tuple, the last of the arguments), and the caller's
 * registers (emit.h). Stores prev_instr. Returns 1 having consumed nothing when the call is
 * not one it makes; NULL when the callee raised (exception set); otherwise the result, also
 * stored into the call's first slot, or 2 with it stored when tracing is on after the call.
 * The function and the arguments are consumed (moved into the callee's frame) unless it
 * returned 1. Preserves every callee-saved register (it uses none). */
/* Push the callee's frame (r9; r10 = the data stack top past it) and fill its specials as
 * _PyFrame_InitializeSpecials does, for the function in rdi. `co`: the code a specialised
 * entry is compiled for; NULL: read from the function, and r8 = the unit's (rsi)
 * co_nlocalsplus, which the caller goes on using. */
static void emit_push_frame(OdAsm *a, PyCodeObject *co)
{
    od_mov_mr(a, R_TS, TS_OFF(datastack_top), OD_R10);
    od_mov_mr(a, OD_R9, FR_OFF(f_func), OD_RDI);
    if (co)
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)co);
    else
        od_mov_rm(a, OD_RAX, OD_RDI, (int32_t)offsetof(PyFunctionObject, func_code));
    od_inc_m(a, OD_RAX, 0);
#ifdef Py_REF_DEBUG
    od_mov_ri(a, OD_R11, (int64_t)(intptr_t)&_Py_RefTotal);
    od_add_mi(a, OD_R11, 0, 1);
#endif
    od_mov_mr(a, OD_R9, FR_OFF(f_code), OD_RAX);
    od_mov_rm(a, OD_R8, OD_RDI, (int32_t)offsetof(PyFunctionObject, func_builtins));
    od_mov_mr(a, OD_R9, FR_OFF(f_builtins), OD_R8);
    od_mov_rm(a, OD_R8, OD_RDI, (int32_t)offsetof(PyFunctionObject, func_globals));
    od_mov_mr(a, OD_R9, FR_OFF(f_globals), OD_R8);
    od_mov_mi(a, OD_R9, FR_OFF(f_locals), 0);
    od_mov_mi(a, OD_R9, FR_OFF(frame_obj), 0);
    if (co) {
        od_mov32_mi(a, OD_R9, FR_OFF(stacktop), co->co_nlocalsplus);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)(_PyCode_CODE(co) - 1));
        od_mov_mr(a, OD_R9, FR_OFF(prev_instr), OD_RAX);
    } else {
        od_mov32_rm(a, OD_R8, OD_RSI, UNIT_OFF(nlocalsplus));
        od_mov32_mr(a, OD_R9, FR_OFF(stacktop), OD_R8);
        od_lea(a, OD_R10, OD_RAX, (int32_t)offsetof(PyCodeObject, co_code_adaptive)
                                      - (int32_t)sizeof(_Py_CODEUNIT));
        od_mov_mr(a, OD_R9, FR_OFF(prev_instr), OD_R10);
    }
    od_mov8_mi(a, OD_R9, FR_OFF(is_entry), 0);
    od_mov8_mi(a, OD_R9, FR_OFF(owner), FRAME_OWNED_BY_THREAD);
}

/* With the frame (r9) filled, for the unit in rsi: link it as od_unit_run does (previous,
 * current frame, recursion depth, counters). */
static void emit_link(OdAsm *a)
{
    od_mov_rm(a, OD_RAX, R_CFRAME, (int32_t)offsetof(_PyCFrame, current_frame));
    od_mov_mr(a, OD_R9, FR_OFF(previous), OD_RAX);
    od_mov_mr(a, R_CFRAME, (int32_t)offsetof(_PyCFrame, current_frame), OD_R9);
    od_add32_mi(a, R_TS, TS_OFF(recursion_remaining), -1);
    od_inc_m(a, OD_RSI, UNIT_OFF(native_entries));
    od_inc_m(a, OD_RSI, UNIT_OFF(direct_entries));
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&od_rt_calls_direct);
    od_inc_m(a, OD_RAX, 0);
}

/* After the callee returned (rax = its result, r9 = its frame): unlink the frame and give
 * the recursion depth back. */
static void emit_unlink(OdAsm *a)
{
    od_mov_rm(a, OD_RCX, OD_R9, FR_OFF(previous));
    od_mov_mr(a, R_CFRAME, (int32_t)offsetof(_PyCFrame, current_frame), OD_RCX);
    od_add32_mi(a, R_TS, TS_OFF(recursion_remaining), 1);
}

/* Link the frame (r9) of the unit in rsi, save the caller's frame, code and unit registers
 * (above the result's slot the thunk pushed first) and point the frame and unit registers
 * at the callee's. The thread-state, cframe and
 * eval-breaker registers are the caller's, which are the callee's too (the same thread):
 * a tier-1 body called with R_CODE set too runs as its unit's entry would run it. After
 * the call those registers hold the callee's frame and unit (the body keeps them; any
 * entry preserves them). */
static void emit_link_and_switch(OdAsm *a)
{
    emit_link(a);
    od_push(a, R_UNIT);
    od_push(a, R_FRAME);
    od_push(a, R_CODE);           /* the site's call, the slot and 3 pushes: rsp is 8 off 16,
                                   * as in the shared entry after its 6 pushes, so that the
                                   * body it calls runs aligned to 16 (emit.h) */
    od_lea(a, R_FRAME, OD_R9, FRAME_BIAS);
    od_mov_rr(a, R_UNIT, OD_RSI);
}

/* After the call: r9 = the frame, unlinked. */
static void emit_back_and_unlink(OdAsm *a)
{
    frame_to(a, OD_R9);
    emit_unlink(a);
}

/* Give the call site back the caller's frame, code and unit registers (the result's slot
 * stays on the stack). */
static void emit_restore_caller(OdAsm *a)
{
    od_pop(a, R_CODE);
    od_pop(a, R_FRAME);
    od_pop(a, R_UNIT);
}

/* The frame's locals released: release its function and code (`co`, or read from the
 * frame when NULL), pop it and return the result (rax) to the call site, unless one of them
 * would be freed (then to `slow`, with nothing released). */
static void emit_release_and_pop(OdAsm *a, PyCodeObject *co, OdLabel slow)
{
    od_mov_rm(a, OD_RDI, OD_R9, FR_OFF(f_func));
    od_cmp_mi(a, OD_RDI, 0, 1);
    od_jcc(a, OD_CC_E, slow);
    if (co)
        od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)co);
    else
        od_mov_rm(a, OD_RSI, OD_R9, FR_OFF(f_code));
    od_cmp_mi(a, OD_RSI, 0, 1);
    od_jcc(a, OD_CC_E, slow);
    od_dec_m(a, OD_RDI, 0);
    od_dec_m(a, OD_RSI, 0);
    ref_total_dec(a, 2);
    od_mov_mr(a, R_TS, TS_OFF(datastack_top), OD_R9);   /* pop */
    emit_restore_caller(a);
    /* The result into the call's first slot, which the thunk pushed; 2 to the site when the
     * callee switched tracing on (the site then exits, as after the helper). */
    OdLabel traced = od_label_new(a);
    od_pop(a, OD_RDX);
    od_mov_mr(a, OD_RDX, 0, OD_RAX);
    od_cmp8_mi(a, R_CFRAME, (int32_t)offsetof(_PyCFrame, use_tracing), 0);
    od_jcc(a, OD_CC_NE, traced);
    od_ret(a);
    od_label_bind(a, traced);
    od_mov_ri(a, OD_RAX, 2);
    od_ret(a);
}

/* Clear and pop the frame in C: od_rt_direct_return_into(frame, ts, result, unit, first
 * local not yet released = r10, the call's first slot), as a tail call; it answers as
 * emit_release_and_pop does. */
static void emit_return_through_c(OdAsm *a)
{
    od_mov_rr(a, OD_RDI, OD_R9);
    od_mov_rr(a, OD_RSI, R_TS);
    od_mov_rr(a, OD_RDX, OD_RAX);
    od_mov_rr(a, OD_RCX, R_UNIT);
    od_mov_rr(a, OD_R8, OD_R10);
    emit_restore_caller(a);
    od_pop(a, OD_R9);
    od_mov_ri(a, OD_R11, (int64_t)(intptr_t)od_rt_direct_return_into);
    od_jmp_r(a, OD_R11);
}

/* A call with keywords (r8 = their names, a non-empty tuple; ecx = all the arguments, as
 * many as the function in rdi has parameters) that binds exactly as the positional call:
 * the names are the last parameters', in order (identical objects: both interned, as a
 * compiler leaves them; anything else is the helper's, which binds or raises as CPython
 * does), and none of them is positional-only. Otherwise to `refuse`. Clobbers rax, r8-r10. */
static void emit_keywords_positional(OdAsm *a, OdLabel refuse)
{
    OdLabel next = od_label_new(a);
    int32_t items = (int32_t)offsetof(PyTupleObject, ob_item);
    od_mov_rm(a, OD_RAX, OD_RDI, (int32_t)offsetof(PyFunctionObject, func_code));
    od_mov_rm(a, OD_R10, OD_R8, OFF_SIZE);        /* the keywords */
    od_mov_rr(a, OD_R9, OD_RCX);
    od_sub_rr(a, OD_R9, OD_R10);                  /* the positional arguments */
    od_cmp32_rm(a, OD_R9, OD_RAX, (int32_t)offsetof(PyCodeObject, co_posonlyargcount));
    od_jcc(a, OD_CC_L, refuse);
    od_mov_rm(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyCodeObject, co_localsplusnames));
    od_shl_ri(a, OD_R9, 3);
    od_add_rr(a, OD_RAX, OD_R9);                  /* rax + items = the first keyword's name */
    od_label_bind(a, next);
    od_mov_rm(a, OD_R9, OD_R8, items);
    od_cmp_rm(a, OD_R9, OD_RAX, items);
    od_jcc(a, OD_CC_NE, refuse);
    od_add_ri(a, OD_R8, 8);
    od_add_ri(a, OD_RAX, 8);
    od_sub_ri(a, OD_R10, 1);
    od_jcc(a, OD_CC_NE, next);
}

/* After a body returned (rax = its result, r9 = its frame, unlinked; R_TS; R_UNIT = the
 * callee's unit; the caller's registers on the machine stack as emit_link_and_switch pushed
 * them): clear and pop the frame (_PyFrame_Clear) and return to the call site. Inline while
 * nothing is freed (the locals' references released, f_func's and f_code's); from the first
 * object that would be, or an escaped frame object, f_locals, a NULL result, in C. r10
 * walks the locals. */
static void emit_clear_and_pop(OdAsm *a)
{
    OdLabel slow = od_label_new(a), loop = od_label_new(a), next = od_label_new(a),
            end = od_label_new(a);
    od_lea(a, OD_R10, OD_R9, FR_OFF(localsplus));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, slow);
    od_cmp_mi(a, OD_R9, FR_OFF(frame_obj), 0);
    od_jcc(a, OD_CC_NE, slow);
    od_cmp_mi(a, OD_R9, FR_OFF(f_locals), 0);
    od_jcc(a, OD_CC_NE, slow);
    od_movsxd_rm(a, OD_R8, OD_R9, FR_OFF(stacktop));
    od_shl_ri(a, OD_R8, 3);
    od_add_rr(a, OD_R8, OD_R10);                 /* r8 = end of the locals */
    od_cmp_rr(a, OD_R10, OD_R8);
    od_jcc(a, OD_CC_AE, end);
    od_label_bind(a, loop);
    od_mov_rm(a, OD_RDI, OD_R10, 0);
    od_test_rr(a, OD_RDI, OD_RDI);
    od_jcc(a, OD_CC_E, next);
    od_cmp_mi(a, OD_RDI, 0, 1);
    od_jcc(a, OD_CC_E, slow);                    /* the last reference: C frees it */
    od_dec_m(a, OD_RDI, 0);
    ref_total_dec(a, 1);
    od_label_bind(a, next);
    od_add_ri(a, OD_R10, 8);
    od_cmp_rr(a, OD_R10, OD_R8);
    od_jcc(a, OD_CC_B, loop);
    od_label_bind(a, end);
    emit_release_and_pop(a, NULL, slow);
    od_label_bind(a, slow);
    emit_return_through_c(a);
}

static void emit_thunk(OdAsm *a, int variant)
{
    OdLabel refuse = od_label_new(a), plain = od_label_new(a), shape = od_label_new(a),
            room = od_label_new(a), copy = od_label_new(a), copied = od_label_new(a),
            clear = od_label_new(a), cleared = od_label_new(a);
    /* The call's first slot, where the result goes (emit_release_and_pop), kept on the
     * stack; the caller's prev_instr (rax, emit_call_fast). */
    od_push(a, OD_RDX);
    od_mov_mr(a, R_FRAME, OFF_PREV, OD_RAX);
    /* The shape: LOAD_METHOD's [function, self, args] or [NULL, callable, args]. */
    od_mov_rm(a, OD_RDI, OD_RDX, 0);
    od_test_rr(a, OD_RDI, OD_RDI);
    od_jcc(a, OD_CC_E, plain);
    od_add_ri(a, OD_RDX, 8);                     /* self is the first argument */
    od_add_ri(a, OD_RCX, 1);
    od_jmp(a, shape);
    od_label_bind(a, plain);
    od_mov_rm(a, OD_RDI, OD_RDX, 8);
    od_add_ri(a, OD_RDX, 16);
    od_label_bind(a, shape);
    /* A function whose code is compiled (rsi = its unit) and takes exactly ecx positional
     * arguments. */
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyFunction_Type);
    od_cmp_rm(a, OD_RAX, OD_RDI, OFF_TYPE);
    od_jcc(a, OD_CC_NE, refuse);
    od_mov_rm(a, OD_RSI, OD_RDI, (int32_t)offsetof(PyFunctionObject, func_code));
    od_mov_rm(a, OD_RAX, OD_RSI, (int32_t)offsetof(PyCodeObject, co_extra));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);
    Py_ssize_t idx = od_rt_direct_entry.extra_index;
    if (idx > 0) {    /* a co_extra holds at least one slot */
        od_cmp_mi(a, OD_RAX, (int32_t)offsetof(OdCodeExtraLayout, ce_size), (int32_t)idx);
        od_jcc(a, OD_CC_LE, refuse);
    }
    od_mov_rm(a, OD_RAX, OD_RAX,
              (int32_t)(offsetof(OdCodeExtraLayout, ce_extras) + sizeof(void *) * (size_t)idx));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);
    od_mov_rm(a, OD_RSI, OD_RAX, 0);             /* the code state's first field: the unit */
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, refuse);
    od_cmp32_rm(a, OD_RCX, OD_RSI, UNIT_OFF(direct_argc));
    od_jcc(a, OD_CC_NE, refuse);
    if (variant & OD_THUNK_KEYWORDS)
        emit_keywords_positional(a, refuse);
    /* The checks of od_unit_run and the hook: recursion limit, tracing, the hook installed,
     * C stack room, not due for recompilation; then data stack room. */
    od_cmp32_mi(a, R_TS, TS_OFF(recursion_remaining), 0);
    od_jcc(a, OD_CC_LE, refuse);
    od_cmp8_mi(a, R_CFRAME, (int32_t)offsetof(_PyCFrame, use_tracing), 0);
    od_jcc(a, OD_CC_NE, refuse);
    od_mov_rm(a, OD_RAX, R_TS, TS_OFF(interp));
    od_mov_rm(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyInterpreterState, eval_frame));
    od_cmp_rpool(a, OD_RAX, (int64_t)(intptr_t)od_rt_direct_entry.hook_eval);
    od_jcc(a, OD_CC_NE, refuse);
    {   /* mov rax, fs:[tpoff]: the C stack floor (hook/cstack.h) */
        int32_t tpoff = (int32_t)od_rt_cstack_floor_tpoff();
        uint8_t bytes[9] = {0x64, 0x48, 0x8B, 0x04, 0x25};
        memcpy(bytes + 5, &tpoff, 4);
        od_emit_bytes(a, bytes, 9);
    }
    od_cmp_rr(a, OD_RSP, OD_RAX);
    od_jcc(a, OD_CC_B, refuse);
    od_cmp_mi(a, OD_RSI, UNIT_OFF(retired), 0);
    od_jcc(a, OD_CC_NE, room);                   /* a recompiled unit: never again */
    OdLabel tier1 = od_label_new(a);
    od_cmp32_mi(a, OD_RSI, UNIT_OFF(tier), 1);
    od_jcc(a, OD_CC_E, tier1);
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)od_rt_direct_entry.tier2_threshold);
    od_cmp32_mi(a, OD_R8, 0, 0);
    od_jcc(a, OD_CC_GE, room);                   /* tier 2's, tier 2 on: never recompiled */
    od_label_bind(a, tier1);
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)od_rt_direct_entry.recompile_after);
    od_mov_rm(a, OD_R8, OD_R8, 0);
    od_mov_rm(a, OD_RAX, OD_RSI, UNIT_OFF(native_entries));
    od_cmp_rr(a, OD_RAX, OD_R8);
    od_jcc(a, OD_CC_B, room);
    od_test_rr(a, OD_R8, OD_R8);
    od_jcc(a, OD_CC_NE, refuse);                 /* due: the hook's path recompiles */
    od_label_bind(a, room);                      /* (recompile_after=0: never) */
    /* The caller's frame is on the data stack: its top is not NULL. */
    od_mov_rm(a, OD_R9, R_TS, TS_OFF(datastack_top));
    od_mov_rm(a, OD_R10, OD_RSI, UNIT_OFF(frame_bytes));
    od_add_rr(a, OD_R10, OD_R9);
    od_cmp_rm(a, OD_R10, R_TS, TS_OFF(datastack_limit));
    od_jcc(a, OD_CC_AE, refuse);
    od_mov_rm(a, OD_RAX, R_TS, TS_OFF(datastack_chunk));
    od_add_ri(a, OD_RAX, (int32_t)offsetof(_PyStackChunk, data));
    od_cmp_rr(a, OD_R9, OD_RAX);
    od_jcc(a, OD_CC_E, refuse);                  /* a chunk's first slot is its owner's */
    /* Committed. The site's record, as od_rt_call keeps it. */
    if (variant & OD_THUNK_RECORD) {
        od_add32_mi(a, OD_R11, SITE_OFF(calls), 1);
        od_add32_mi(a, OD_R11, SITE_OFF(py_calls), 1);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyFunction_Type);
        od_mov_mr(a, OD_R11, SITE_OFF(callee_type), OD_RAX);
    }
    /* A hot callee continues in its own unit (emit_direct_entry): r9 = the frame, r10 =
     * the new data stack top, rdi/rsi/rdx as here. */
    OdLabel generic = od_label_new(a);
    od_mov_rm(a, OD_RAX, OD_RSI, UNIT_OFF(direct_entry));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, generic);
    od_jmp_r(a, OD_RAX);
    od_label_bind(a, generic);
    emit_push_frame(a, NULL);
    /* The arguments' references move in; the other locals start NULL. */
    od_lea(a, OD_R10, OD_R9, FR_OFF(localsplus));
    od_shl_ri(a, OD_R8, 3);
    od_add_rr(a, OD_R8, OD_R10);                 /* r8 = end of the locals */
    od_test32_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, copied);
    od_label_bind(a, copy);
    od_mov_rm(a, OD_RAX, OD_RDX, 0);
    od_mov_mr(a, OD_R10, 0, OD_RAX);
    od_add_ri(a, OD_RDX, 8);
    od_add_ri(a, OD_R10, 8);
    od_sub_ri(a, OD_RCX, 1);
    od_jcc(a, OD_CC_NE, copy);
    od_label_bind(a, copied);
    od_cmp_rr(a, OD_R10, OD_R8);
    od_jcc(a, OD_CC_AE, cleared);
    od_label_bind(a, clear);
    od_mov_mi(a, OD_R10, 0, 0);
    od_add_ri(a, OD_R10, 8);
    od_cmp_rr(a, OD_R10, OD_R8);
    od_jcc(a, OD_CC_B, clear);
    od_label_bind(a, cleared);
    /* A tier-1 unit's body, called as its direct entry does (r13 from the frame's code);
     * another unit (tier 2's) through its entry(frame, ts, unit, NULL). */
    OdLabel through_entry = od_label_new(a), returned = od_label_new(a);
    emit_link_and_switch(a);
    od_mov_rm(a, OD_RAX, OD_RSI, UNIT_OFF(body));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, through_entry);
    od_mov_rm(a, R_CODE, OD_R9, FR_OFF(f_code));
    od_add_ri(a, R_CODE, (int32_t)offsetof(PyCodeObject, co_code_adaptive));
    od_call_r(a, OD_RAX);
    od_jmp(a, returned);
    od_label_bind(a, through_entry);
    od_sub_ri(a, OD_RSP, 8);      /* a function is called with rsp aligned to 16 */
    od_mov_rr(a, OD_RDI, OD_R9);
    od_mov_rr(a, OD_RDX, OD_RSI);
    od_mov_rr(a, OD_RSI, R_TS);
    od_mov_ri(a, OD_RCX, 0);
    od_mov_rm(a, OD_RAX, OD_RDX, UNIT_OFF(entry));
    od_call_r(a, OD_RAX);
    od_add_ri(a, OD_RSP, 8);
    od_label_bind(a, returned);
    emit_back_and_unlink(a);
    emit_clear_and_pop(a);
    od_label_bind(a, refuse);
    od_add_ri(a, OD_RSP, 8);                     /* the slot */
    od_mov_ri(a, OD_RAX, 1);
    od_ret(a);
}

/* The unlink and emit_clear_and_pop as a routine of its own, built once: each unit's direct
 * entry jumps there after its body returned (R_FRAME = the callee's frame), so that one copy
 * stays in the instruction cache for all of them (the unlink: 24 bytes a unit fewer).
 * Unrolled into every unit (5 instructions a local) it was up to 400 bytes a unit that the
 * calls of a lukewarm function missed on: raytrace, 2 iterations under cachegrind, 73.3M
 * I1 misses with a full copy in each unit against 56.7M with none.
 * NULL if it cannot be built. */
static void emit_return_tail(OdAsm *a, int unused)
{
    (void)unused;
    emit_back_and_unlink(a);
    emit_clear_and_pop(a);
}

static void *direct_return_tail(void)
{
    static void *addr;
    static int failed;
    if (!addr && !failed) {
        addr = od_tier1_install_routine(emit_return_tail, 0, "overdrive::tier1_direct_call_return");
        failed = addr == NULL;
    }
    return addr;
}

/* The largest frame (co_nlocalsplus) a unit specialises its direct entry for: its locals
 * are stored one by one. */
#define OD_DIRECT_ENTRY_MAX_LOCALS 16

void emit_direct_entry(Compiler *c)
{
    OdAsm *a = &c->a;
    PyCodeObject *co = c->co;
    int argc = co->co_argcount, n = co->co_nlocalsplus;
    void *tail = NULL;
    /* Hot units only (recompiled with feedback), of plain functions. */
    if (!c->feedback || c->compact || !od_tier1_direct_thunk(0)
        || !(tail = direct_return_tail())
        || (co->co_flags & (CO_VARARGS | CO_VARKEYWORDS | CO_OPTIMIZED | CO_GENERATOR
                            | CO_COROUTINE | CO_ASYNC_GENERATOR)) != CO_OPTIMIZED
        || co->co_kwonlyargcount != 0 || n > OD_DIRECT_ENTRY_MAX_LOCALS)
        return;
    c->direct_entry = od_label_new(a);
    od_label_bind(a, c->direct_entry);
    /* From the thunk: rdi = function, rsi = this unit, rdx = &argc arguments, r9 = the
     * frame, r10 = the data stack top past it; the call site's return address on top. */
    emit_push_frame(a, co);
    for (int i = 0; i < argc; i++) {
        od_mov_rm(a, OD_RAX, OD_RDX, 8 * i);
        od_mov_mr(a, OD_R9, FR_OFF(localsplus) + 8 * i, OD_RAX);
    }
    for (int i = argc; i < n; i++)
        od_mov_mi(a, OD_R9, FR_OFF(localsplus) + 8 * i, 0);
    /* Enter the body itself (compile.c emit_prologue): the thread state, cframe and eval
     * breaker registers are the caller's, as the unit's entry would load them; only the
     * frame, code and unit registers change, and they then hold the frame and unit across
     * the call. */
    emit_link_and_switch(a);
    od_mov_ri(a, R_CODE, (int64_t)(intptr_t)_PyCode_CODE(co));
    od_call_label(a, c->body_start);
    /* Unlink, clear, pop and return in the routine all direct entries share. */
    od_jmp_pool(a, tail);
}

/* Each variant built once, when the first site needs it (the hook installed: the extra
 * index, the eval-frame function and the recompile setting it reads are known then), from
 * the one emitter. */
static void *thunk_addr[OD_THUNK_VARIANTS];
static int thunk_failed[OD_THUNK_VARIANTS];

void *od_tier1_direct_thunk(int variant)
{
    if (thunk_addr[variant] || thunk_failed[variant])
        return thunk_addr[variant];
    if (od_rt_direct_entry.extra_index < 0 || !od_rt_direct_entry.hook_eval
        || !od_rt_direct_entry.recompile_after || !od_rt_direct_entry.tier2_threshold)
        return NULL;
    static const char *const names[OD_THUNK_VARIANTS] = {
        [0] = "overdrive::tier1_direct_call_thunk_quiet",
        [OD_THUNK_RECORD] = "overdrive::tier1_direct_call_thunk",
        [OD_THUNK_KEYWORDS] = "overdrive::tier1_direct_call_thunk_keywords_quiet",
        [OD_THUNK_RECORD | OD_THUNK_KEYWORDS] = "overdrive::tier1_direct_call_thunk_keywords"};
    thunk_addr[variant] = od_tier1_install_routine(emit_thunk, variant, names[variant]);
    thunk_failed[variant] = thunk_addr[variant] == NULL;
    return thunk_addr[variant];
}
