/* tier1/compile.c — bytecode to x86-64, one instruction at a time. See compile.h.
 * Register plan and shared primitives: emit.h. */
#include "compile.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../asm/codemem.h"
#include "../asm/scratch.h"
#include "census.h"
#include "emit.h"
#include "../runtime/clock.h"
#include "../runtime/frames.h"
#include "../runtime/gen_resume.h"

int32_t od_tier1_osr_backedges;
int od_tier1_osr_per_call;
int od_tier1_mid_run;

/* ---- helpers ---------------------------------------------------------------------- */

int od_tier1_helper_for(int opcode, HelperFn *fn, int *released)
{
    switch (opcode) {
#define OD_HELPER_CASE(helper, op, rel) \
    case op: *fn = helper; *released = rel; return 1;
        OD_HELPER_OPS(OD_HELPER_CASE)
#undef OD_HELPER_CASE
    default:
        return 0;
    }
}

int od_tier1_supports(int opcode)
{
    HelperFn fn;
    int rel;
    switch (opcode) {
    case NOP: case RESUME: case LOAD_FAST: case LOAD_CLOSURE: case STORE_FAST:
    case LOAD_CONST: case POP_TOP: case PUSH_NULL: case COPY: case SWAP: case KW_NAMES:
    case JUMP_FORWARD: case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
    case POP_JUMP_FORWARD_IF_FALSE: case POP_JUMP_FORWARD_IF_TRUE:
    case POP_JUMP_BACKWARD_IF_FALSE: case POP_JUMP_BACKWARD_IF_TRUE:
    case POP_JUMP_FORWARD_IF_NONE: case POP_JUMP_FORWARD_IF_NOT_NONE:
    case POP_JUMP_BACKWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE:
    case JUMP_IF_FALSE_OR_POP: case JUMP_IF_TRUE_OR_POP:
    case RETURN_VALUE: case FOR_ITER: case RAISE_VARARGS: case RERAISE: case YIELD_VALUE:
    case SEND: case RETURN_GENERATOR:
        return 1;
    default:
        return od_tier1_helper_for(opcode, &fn, &rel);
    }
}

/* SEND or FOR_ITER (rdi = the frame, rsi = &stack[d], rdx = the site) as two halves
 * around a call of the receiver's native code made here (runtime/gen_resume.h: `begin`,
 * `end`): a chain of `yield from`, `await` or `async for` then costs one native call per
 * level. The callee's body gets its unit's register plan as a direct call gives it
 * (fast_call.c): the thread-state, cframe and eval-breaker registers are ours; the frame,
 * code and unit registers are saved, and after the call hold the callee's (its body keeps
 * them). Three pushes: rsp is 8 off 16 at the call, as in a unit's entry, so that the body
 * runs aligned. eax = od_rt_send's result. */
static void emit_send_call(Compiler *c, int d, const void *begin, const void *end)
{
    OdAsm *a = &c->a;
    OdLabel handled = od_label_new(a), out = od_label_new(a);
    od_call_abs(a, begin);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, handled);
    od_push(a, R_UNIT);
    od_push(a, R_FRAME);
    od_push(a, R_CODE);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_rt_send_unit);
    od_mov_rm(a, R_UNIT, OD_RCX, 0);
    od_lea(a, R_FRAME, OD_RDX, FRAME_BIAS);
    od_mov_rm(a, R_CODE, OD_RDX, (int32_t)offsetof(_PyInterpreterFrame, f_code));
    od_add_ri(a, R_CODE, (int32_t)offsetof(PyCodeObject, co_code_adaptive));
    od_call_r(a, OD_RAX);
    od_mov_rr(a, OD_RCX, R_UNIT);
    od_pop(a, R_CODE);
    od_pop(a, R_FRAME);
    od_pop(a, R_UNIT);
    frame_to(a, OD_RDI);
    od_lea(a, OD_RSI, R_FRAME, slot_disp(c, d));
    od_mov_rr(a, OD_RDX, OD_RAX);
    od_call_abs(a, end);
    od_jmp(a, out);
    od_label_bind(a, handled);
    od_mov_rr(a, OD_RAX, OD_RDX);   /* the whole SEND done: od_rt_send's result */
    od_label_bind(a, out);
}

/* The per-site constant a helper receives. */
static void *site_arg(Compiler *c, const OdInstr *in)
{
    PyObject *names = c->co->co_names;
    int off = c->cache_at_unit[in->index];
    void *site = off >= 0 ? c->sites + off : NULL;
    switch (in->opcode) {
    case LOAD_GLOBAL: case LOAD_NAME:
        ((OdGlobalSite *)site)->name =
            PyTuple_GET_ITEM(names, in->opcode == LOAD_GLOBAL ? in->oparg >> 1 : in->oparg);
        ((OdGlobalSite *)site)->globals_only = 0;   /* a copy keeps its predecessor's */
        return site;
    case LOAD_ATTR: case STORE_ATTR: case DELETE_ATTR: case LOAD_METHOD:
        ((OdAttrSite *)site)->name = PyTuple_GET_ITEM(names, in->oparg);
        return site;
    case CALL:
        ((OdCallSite *)site)->kwnames = c->kwnames;
        c->kwnames = NULL; /* KW_NAMES applies to exactly the next CALL */
        if (!((OdCallSite *)site)->fn)   /* a recompiled unit's copy keeps its form */
            ((OdCallSite *)site)->fn = od_rt_call;
        return site;
    case BINARY_OP: case COMPARE_OP: case BINARY_SUBSCR: case FOR_ITER:
        return site;
    case STORE_NAME: case DELETE_NAME: case STORE_GLOBAL:
    case DELETE_GLOBAL: case IMPORT_NAME: case IMPORT_FROM:
        return PyTuple_GET_ITEM(names, in->oparg);
    default:
        return NULL;
    }
}

static size_t site_size(int opcode)
{
    switch (opcode) {
    case LOAD_GLOBAL: case LOAD_NAME: return sizeof(OdGlobalSite);
    case LOAD_ATTR: case STORE_ATTR: case DELETE_ATTR: case LOAD_METHOD:
        return sizeof(OdAttrSite);
    case CALL: return sizeof(OdCallSite);
    case BINARY_OP: case COMPARE_OP: case BINARY_SUBSCR: case FOR_ITER: return sizeof(OdOpCache);
    default: return 0;
    }
}

/* Where a site of `size` bytes starts: at a multiple of the next power of two up to a
 * cache line, so that a small site never straddles two lines and a large one starts a line
 * (its first entry, which inline code reads, is the line). */
_Static_assert(sizeof(OdAttrCache) == 64 && offsetof(OdAttrSite, cache) == 0,
               "an attribute site's first entry is exactly one cache line");

static size_t site_align(size_t offset, size_t size)
{
    size_t align = 16;
    while (align < size && align < 64)
        align *= 2;
    return (offset + align - 1) & ~(align - 1);
}

/* The real number of values on the stack before `in`. The compiler's stack-effect table
 * books PRECALL as popping the arguments and CALL as popping only the callable pair, but
 * physically CALL still finds [NULL-or-method, callable, args...] on the stack. */
static int physical_depth(const OdInstr *in)
{
    return in->depth + (in->opcode == CALL ? in->oparg : 0);
}

/* Instructions with an inline fast path in front of their helper (fast_*.c). */
static int has_fast_path(Compiler *c, const OdInstr *in, const void *site)
{
    if (c->compact)
        return 0;    /* every instruction through its helper */
    switch (in->opcode) {
    case CALL:
        return call_has_fast_path(c, in, site);
    case LOAD_ATTR: case LOAD_METHOD: case STORE_ATTR:
        if (attr_helper_only(c, in)) {
            c->nhelper_only++;
            return 0;
        }
        return 1;
    case LOAD_GLOBAL: case LOAD_NAME: case STORE_SUBSCR:
        return 1;
    case COMPARE_OP:
        if (compare_generic_only(c, in)) {
            c->nsingle_kind++;
            return 0;
        }
        return 1;
    case BINARY_SUBSCR:
        return binary_subscr_has_fast_path(c, in);
    case BINARY_OP:
        if (binary_op_other_kind(c, in)) {
            c->nsingle_kind++;
            return 0;
        }
        return binary_op_has_fast_path(c, in);
    case UNPACK_SEQUENCE:
        return unpack_sequence_has_fast_path(in->oparg);
    default:
        return 0;
    }
}

static void emit_fast_path(Compiler *c, const OdInstr *in, void *site, OdLabel miss, OdLabel done)
{
    switch (in->opcode) {
    case LOAD_GLOBAL: emit_load_global_fast(c, in, site, miss, done); break;
    case LOAD_NAME: emit_load_name_fast(c, in, site, miss, done); break;
    case LOAD_ATTR: emit_load_attr_fast(c, in, site, miss, done); break;
    case LOAD_METHOD: emit_load_method_fast(c, in, site, miss, done); break;
    case STORE_ATTR: emit_store_attr_fast(c, in, site, miss, done); break;
    case BINARY_OP: emit_binary_op_fast(c, in, site, miss, done); break;
    case BINARY_SUBSCR: emit_binary_subscr_fast(c, in, site, miss, done); break;
    case STORE_SUBSCR: emit_store_subscr_fast(c, in, miss, done); break;
    case COMPARE_OP: emit_compare_fast(c, in, site, miss, done); break;
    case CALL: emit_call_fast(c, in, site, miss, done); break;
    case UNPACK_SEQUENCE: emit_unpack_sequence_fast(c, in, miss, done); break;
    }
}

/* r = an argument of a call about to be made (the flags are dead): a zero (oparg 0, no
 * per-site argument) in 2 bytes instead of 5. */
static void set_arg(Compiler *c, OdReg r, int64_t v)
{
    if (v == 0)
        od_xor32_rr(&c->a, r, r);
    else
        od_mov_ri(&c->a, r, v);
}

/* The helper call of `in` (with its per-site argument) and the checks after it; then on
 * to `done`, or on to what follows when done < 0. */
static void emit_helper_call(Compiler *c, const OdInstr *in, HelperFn fn, int released,
                             void *arg, OdLabel done)
{
    int d = physical_depth(in);
    int live_on_error = released < 0 ? d : d - released;
    int after = in->opcode != PRECALL ? depth_after(in) : 0;
    Stub fail = {.kind = STUB_HELPER_FAIL, .index = in->index, .depth = live_on_error,
                 .resume = in->start, .phys = d, .next = in->next, .after = after,
                 .opcode = in->opcode};
    OdLabel fail_label = -1;
    Stub s = {.kind = STUB_HELPER};
    if (helper_fail_ok(c, &fail)) {
        fail_label = add_stub(c, fail);
    } else {
        s.error = error_stub(c, in->index, live_on_error);
        s.exit = exit_stub(c, in->start, d, OD_EXIT_HELPER_DEOPT, in->opcode);
    }
    set_prev(c, in->index);
    frame_to(&c->a, OD_RDI);
    od_lea(&c->a, OD_RSI, R_FRAME, slot_disp(c, d));
    set_arg(c, OD_RDX, in->oparg);
    set_arg(c, OD_RCX, (int64_t)(intptr_t)arg);
    if (in->opcode == CALL && fn == od_rt_call)
        /* The helper the site picked for the callables it calls (runtime/ccall.h) */
        od_call_m(&c->a, OD_RCX, (int32_t)offsetof(OdCallSite, fn));
    else
        od_call_abs(&c->a, (const void *)fn);
    if (fail_label >= 0 && in->opcode != PRECALL) {
        /* One test for a failed helper and tracing switched on by the code it ran (the
         * interpreter takes over): the failure stub reads eax, the helper's result, which
         * is 0 for the latter. 12 bytes and 3 instructions instead of 18 and 4. */
        od_movzx8_rm(&c->a, OD_RCX, R_CFRAME, 0);     /* cframe->use_tracing */
        od_or32_rr(&c->a, OD_RCX, OD_RAX);
        od_jcc(&c->a, OD_CC_NE, fail_label);
    } else {
        od_test32_rr(&c->a, OD_RAX, OD_RAX);
        od_jcc(&c->a, OD_CC_NE, fail_label >= 0 ? fail_label : add_stub(c, s));
    }
    if (in->opcode != PRECALL) { /* nothing can switch tracing on, and no exit may
                                     separate KW_NAMES from CALL */
        if (fail_label < 0) {
            /* Tracing switched on by the code we just ran: the interpreter takes over. */
            od_cmp8_mi(&c->a, R_CFRAME, 0, 0);
            od_jcc(&c->a, OD_CC_NE, exit_stub(c, in->next, after, OD_EXIT_TRACING, in->opcode));
        }
        if (in->opcode == CALL || in->opcode == CALL_FUNCTION_EX) {
            OdLabel cont = od_label_new(&c->a);
            check_breaker(c, in->index, after, cont);
            od_label_bind(&c->a, cont);
        }
    }
    if (done >= 0)
        od_jmp(&c->a, done);
}

/* Whether the site of `in` recorded no execution at all (feedback of a previous unit). */
static int site_never_ran(const OdInstr *in, const void *site)
{
    switch (in->opcode) {
    case LOAD_GLOBAL: case LOAD_NAME: {
        const OdGlobalCache *g = &((const OdGlobalSite *)site)->cache;
        return g->hits == 0 && g->misses == 0 && g->value == NULL;
    }
    case LOAD_ATTR: case LOAD_METHOD: case STORE_ATTR: {
        const OdAttrSite *at = site;
        /* `more` (copied from the previous unit, not read through): a second type came */
        return !at->cache[0].type && !at->cache[0].hits && !at->cache[0].misses && !at->more;
    }
    case BINARY_OP: case COMPARE_OP: case BINARY_SUBSCR: {
        const OdOpCache *op = site;
        return op->inline_hits == 0 && op->fast == 0 && op->slow == 0 && op->left == NULL;
    }
    default:
        return 0;
    }
}

/* An instruction done by its helper. With an inline fast path, the fast path is the hot
 * code and the helper call goes out of line with the stubs (hot/cold splitting: the
 * compiled code's size in the instruction cache is what it costs against the
 * interpreter, whose hot loop is small). */
static void emit_helper(Compiler *c, const OdInstr *in, HelperFn fn, int released)
{
    void *arg = site_arg(c, in);
    if (compact_call_ok(c, in)) {
        emit_compact_call(c, in);
        return;
    }
    if (!has_fast_path(c, in, arg)) {
        emit_helper_call(c, in, fn, released, arg, -1);
        return;
    }
    /* Cold: its own site recorded nothing in the first unit's calls, or, in a first unit,
     * the interpreter never ran it in the calls before (emit.h quickened_state). */
    int cold = c->feedback ? site_never_ran(in, arg) && !od_tier1_mid_run
                           : quickened_state(c, in) == QUICK_NEVER_RAN && in->opcode != CALL;
    if (cold && compact_form_ok(in)) {
        /* Cold code inside a warm function: the compact unit's call through the thunk,
         * 11 bytes, in place of the jump to a slow path and its failure stub. */
        flush_pending(c);                             /* the helper reads the stack */
        emit_compact_call(c, in);
        c->ncold++;
        return;
    }
    OdLabel done = od_label_new(&c->a);
    OdLabel first_label = done;
    Stub s = {.kind = STUB_SLOW_PATH, .instr = in, .fn = fn, .released = released, .site = arg,
              .back = done};
    OdLabel slow = flushed(c, add_stub(c, s), -1);    /* the helper reads the stack */
    if (cold) {
        /* Cold, but its fields do not fit the descriptor: all of it out of line. */
        od_jmp(&c->a, slow);
        od_label_bind(&c->a, done);
        return;
    }
    emit_fast_path(c, in, arg, slow, done);
    od_drop_trailing_jmp(&c->a, done, first_label);
    od_label_bind(&c->a, done);
}

/* The word an exact int, str, list, tuple and dict each keep at the same offset, which is
 * zero exactly when the object is false: ob_size (an int's sign and digits; a list's or a
 * tuple's length), a str's length, a dict's ma_used. What their nb_bool, sq_length or
 * mp_length read; none of these types runs Python code for its truth. */
#define OD_SIZE_WORD offsetof(PyVarObject, ob_size)
_Static_assert(offsetof(PyLongObject, ob_base.ob_size) == OD_SIZE_WORD
               && offsetof(PyListObject, ob_base.ob_size) == OD_SIZE_WORD
               && offsetof(PyTupleObject, ob_base.ob_size) == OD_SIZE_WORD
               && offsetof(PyASCIIObject, length) == OD_SIZE_WORD
               && offsetof(PyDictObject, ma_used) == OD_SIZE_WORD,
               "the size words the inline truth test reads");

/* Out of line: the truth of a value in rdi that is neither True nor False, consumed (its
 * reference released; a container's items may run finalizers then, as in the helper):
 * None is false; an exact int, list, tuple or dict by its size word, an exact str when
 * its length is not zero; anything else through PyObject_IsTrue (od_rt_truth_consume). To `join` when true, `join2` when false.
 * `depth`: the values live if it raises. */
static void truth_other_cold(Compiler *c, const Stub *s)
{
    OdAsm *a = &c->a;
    static PyTypeObject *const sized[] = {&PyLong_Type, &PyList_Type, &PyTuple_Type,
                                          &PyDict_Type};
    OdLabel by_size = od_label_new(a), call = od_label_new(a), zero = od_label_new(a);
    OdLabel not_none = od_label_new(a), not_str = od_label_new(a), nonzero = od_label_new(a);
    od_cmp_r_imm64(a, OD_RDI, (int64_t)(intptr_t)Py_None, OD_RAX);
    od_jcc(a, OD_CC_NE, not_none);
    decref_immortalish(c, OD_RDI);
    od_jmp(a, s->join2);
    od_label_bind(a, not_none);
    od_mov_rm(a, OD_RCX, OD_RDI, (int32_t)offsetof(PyObject, ob_type));
    /* A str's length is 0 before it is ready too (a legacy string of the deprecated
     * Py_UNICODE API being filled): only a non-zero one is an answer here. */
    od_cmp_r_imm64(a, OD_RCX, (int64_t)(intptr_t)&PyUnicode_Type, OD_RAX);
    od_jcc(a, OD_CC_NE, not_str);
    od_cmp_mi(a, OD_RDI, (int32_t)OD_SIZE_WORD, 0);
    od_jcc(a, OD_CC_NE, nonzero);
    od_jmp(a, call);
    od_label_bind(a, not_str);
    for (size_t i = 0; i < sizeof sized / sizeof *sized; i++) {
        od_cmp_r_imm64(a, OD_RCX, (int64_t)(intptr_t)sized[i], OD_RAX);
        od_jcc(a, OD_CC_E, by_size);
    }
    od_jmp(a, call);
    od_label_bind(a, by_size);
    od_cmp_mi(a, OD_RDI, (int32_t)OD_SIZE_WORD, 0);
    od_jcc(a, OD_CC_E, zero);
    od_label_bind(a, nonzero);
    set_prev(c, s->instr->index);      /* a container's items may have finalizers */
    decref_reg(c, OD_RDI, s->instr->index);
    od_jmp(a, s->join);
    od_label_bind(a, zero);
    set_prev(c, s->instr->index);
    decref_reg(c, OD_RDI, s->instr->index);
    od_jmp(a, s->join2);
    od_label_bind(a, call);
    set_prev(c, s->instr->index);
    od_call_abs(a, (const void *)od_rt_truth_consume);
    od_test32_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_S, error_stub(c, s->instr->index, s->depth));
    od_jcc(a, OD_CC_NE, s->join);
    od_jmp(a, s->join2);
}

/* Branch on the truth of the value in rdi, which is consumed: True and False in line,
 * anything else out of line (truth_other_cold). */
static void emit_truth_branch(Compiler *c, const OdInstr *in, int live_on_error,
                              OdLabel if_true, OdLabel if_false)
{
    OdLabel not_true = od_label_new(&c->a);
    od_cmp_r_imm64(&c->a, OD_RDI, (int64_t)(intptr_t)Py_True, OD_RAX);
    od_jcc(&c->a, OD_CC_NE, not_true);
    decref_immortalish(c, OD_RDI);
    od_jmp(&c->a, if_true);
    od_label_bind(&c->a, not_true);
    od_cmp_r_imm64(&c->a, OD_RDI, (int64_t)(intptr_t)Py_False, OD_RAX);
    od_jcc(&c->a, OD_CC_NE, cold_stub(c, truth_other_cold,
                                      (Stub){.instr = in, .depth = live_on_error,
                                             .join = if_true, .join2 = if_false}));
    decref_immortalish(c, OD_RDI);
    od_jmp(&c->a, if_false);
}

/* Label for "take the jump" of instruction `in`: straight to the target, or through the
 * eval-breaker poll for backward jumps. */
static OdLabel taken_label(Compiler *c, const OdInstr *in, OdLabel *pending)
{
    if (!od_opcode_is_backward_jump(in->opcode))
        return label_at(c, in->target);
    *pending = od_label_new(&c->a);
    return *pending;
}

static void emit_pending_backedge(Compiler *c, const OdInstr *in, OdLabel pending)
{
    if (pending < 0)
        return;
    od_label_bind(&c->a, pending);
    jump_to(c, in, in->target, 1);
}

static int is_pop_jump_on_truth(int op)
{
    return op == POP_JUMP_FORWARD_IF_FALSE || op == POP_JUMP_FORWARD_IF_TRUE
           || op == POP_JUMP_BACKWARD_IF_FALSE || op == POP_JUMP_BACKWARD_IF_TRUE;
}

/* COMPARE_OP directly followed by a conditional jump nothing else jumps to: branch on the
 * comparison without creating the bool. Returns 1 if `jmp` was consumed. */
static int emit_compare_branch(Compiler *c, const OdInstr *in, const OdInstr *jmp, OdLabel next)
{
    OdAsm *a = &c->a;
    if (c->compact)
        return 0;    /* COMPARE_OP through the thunk and the jump on its bool: smaller */
    if (!jmp || jmp->is_target || jmp->depth != in->depth - 1 || !is_pop_jump_on_truth(jmp->opcode))
        return 0;
    int d = in->depth;
    OdLabel pending = -1;
    int on_true = jmp->opcode == POP_JUMP_FORWARD_IF_TRUE || jmp->opcode == POP_JUMP_BACKWARD_IF_TRUE;
    OdLabel taken = taken_label(c, jmp, &pending);
    OdLabel miss = od_label_new(a);
    void *site = site_arg(c, in);
    if (compare_generic_only(c, in))
        c->nsingle_kind++;    /* the helper only: nothing inline would be taken */
    else
        emit_compare_branch_fast(c, in, site, miss, on_true ? taken : next,
                                 on_true ? next : taken);
    od_label_bind(a, miss);
    flush_pending(c);                                  /* the helper reads the stack */
    set_prev(c, in->index);
    frame_to(a, OD_RDI);
    od_lea(a, OD_RSI, R_FRAME, slot_disp(c, d));
    od_mov_ri(a, OD_RDX, in->oparg);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)site);
    od_call_abs(a, (const void *)od_rt_compare_branch);
    od_test32_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_S, error_stub(c, in->index, d - 2));
    /* Tracing switched on by a rich comparison: leave with the bool the jump expects. */
    Stub s = {.kind = STUB_BOX_BOOL, .resume = jmp->start, .depth = d - 1, .opcode = in->opcode};
    od_cmp8_mi(a, R_CFRAME, 0, 0);
    od_jcc(a, OD_CC_NE, add_stub(c, s));
    od_test32_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_NE, on_true ? taken : next);
    od_jmp(a, on_true ? next : taken);
    emit_pending_backedge(c, jmp, pending);
    return 1;
}

/* IS_OP inline: compare the two pointers, release both operands (a release may run any
 * __del__, so the outcome is a branch, not a flag in a register), then go to `if_is` or
 * `if_not` ("is not" swaps them). */
static void emit_is_branch(Compiler *c, const OdInstr *in, OdLabel if_true, OdLabel if_false)
{
    OdAsm *a = &c->a;
    OdLabel differ = od_label_new(a);
    int d = in->depth;
    load_operand(c, OD_RAX, d - 2);
    load_operand(c, OD_RCX, d - 1);
    od_cmp_rr(a, OD_RAX, OD_RCX);
    od_jcc(a, OD_CC_NE, differ);
    for (int same = 1; same >= 0; same--) {
        if (!same)
            od_label_bind(a, differ);
        release_operand_slot(c, d - 2, in->index);
        release_operand_slot(c, d - 1, in->index);
        od_jmp(a, (same != in->oparg) ? if_true : if_false);
    }
}

/* IS_OP directly followed by a conditional jump nothing else jumps to: no bool is made.
 * Returns 1 if `jmp` was consumed. */
static int emit_is_op_branch(Compiler *c, const OdInstr *in, const OdInstr *jmp, OdLabel next)
{
    if (c->compact || !jmp || jmp->is_target || jmp->depth != in->depth - 1
        || !is_pop_jump_on_truth(jmp->opcode))
        return 0;
    OdLabel pending = -1;
    int on_true = jmp->opcode == POP_JUMP_FORWARD_IF_TRUE || jmp->opcode == POP_JUMP_BACKWARD_IF_TRUE;
    OdLabel taken = taken_label(c, jmp, &pending);
    emit_is_branch(c, in, on_true ? taken : next, on_true ? next : taken);
    emit_pending_backedge(c, jmp, pending);
    return 1;
}

/* IS_OP with its bool pushed. */
static void emit_is_op(Compiler *c, const OdInstr *in, OdLabel next)
{
    OdAsm *a = &c->a;
    OdLabel yes = od_label_new(a), no = od_label_new(a);
    emit_is_branch(c, in, yes, no);
    for (int truth = 1; truth >= 0; truth--) {
        od_label_bind(a, truth ? yes : no);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)(truth ? Py_True : Py_False));
        incref_reg(c, OD_RAX);
        od_mov_mr(a, R_FRAME, slot_disp(c, in->depth - 2), OD_RAX);
        if (truth)
            od_jmp(a, next);
    }
}

static void emit_instr(Compiler *c, const OdInstr *in, OdLabel next)
{
    OdAsm *a = &c->a;
    int d = in->depth, op = in->opcode, arg = in->oparg;
    HelperFn fn;
    int released;
    OdLabel pending = -1;

    if (op != KW_NAMES && op != PRECALL && op != CALL)
        c->kwnames = NULL;
    switch (op) {
    case NOP:
        return;
    case RESUME:
        /* Keep CPython's warm-up count; the RESUME that would quicken the code object is
         * run by the interpreter (once), so adaptive bytecode specializes as without us.
         * Code already quickened needs no count: co_warmup stays 0 from then on (only
         * _PyCode_Warmup changes it, and only while it is not 0; _PyStaticCode_Dealloc
         * resets it at finalization, with co_extra and so this unit): 45-57 bytes and 3
         * instructions per call fewer in first units compiled at the 201st call and in
         * every recompiled unit. */
        if (c->co->co_warmup != 0) {
            Stub s = {.kind = STUB_WARMUP, .index = in->index, .back = od_label_new(a),
                      .exit = exit_stub(c, in->start, d, OD_EXIT_WARMUP, op)};
            od_cmp16_mi(a, R_CODE, (int32_t)offsetof(PyCodeObject, co_warmup)
                                       - (int32_t)offsetof(PyCodeObject, co_code_adaptive), 0);
            od_jcc(a, OD_CC_NE, add_stub(c, s));
            od_label_bind(a, s.back);
        }
        /* The frame is "complete" from here on. Nothing before the next instruction looks
         * at prev_instr (the eval-breaker stub stores its own), so when that instruction
         * stores it first, this store is left out: 8 bytes and 2 instructions at every
         * function's first line. */
        if (!c->next_sets_prev)
            set_prev(c, in->index);
        if (arg < 2) {
            OdLabel cont = od_label_new(a);
            check_breaker(c, in->index, d, cont);
            od_label_bind(a, cont);
        }
        return;
    case LOAD_FAST:
    case LOAD_CLOSURE: {
        int defer = c->deferred[in - c->bc.instrs];
        int check = !(op == LOAD_FAST
                      && (c->always_bound[arg] || c->bound_in[arg] == c->block_gen));
        if (check || !defer)
            od_mov_rm(a, OD_RAX, R_FRAME, local_disp(arg));
        if (check) {
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_E, exit_stub(c, in->start, d, OD_EXIT_UNBOUND_LOCAL, op));
        }
        if (defer) {                                   /* its consumer borrows the local */
            c->pending[c->npending++] = (Pending){.depth = d, .local = arg};
            return;
        }
        incref_reg(c, OD_RAX);
        od_mov_mr(a, R_FRAME, slot_disp(c, d), OD_RAX);
        return;
    }
    case LOAD_CONST: {
        PyObject *k = PyTuple_GET_ITEM(c->co->co_consts, arg);
        if (c->deferred[in - c->bc.instrs]) {          /* its consumer borrows the constant */
            c->pending[c->npending++] = (Pending){.depth = d, .local = -1, .constant = k};
            return;
        }
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)k);
        incref_reg(c, OD_RAX);
        od_mov_mr(a, R_FRAME, slot_disp(c, d), OD_RAX);
        return;
    }
    case STORE_FAST: {
        /* The old value is released; a local known bound (an argument nothing deletes, or
         * one stored or checked earlier in this stretch) needs no test for NULL first,
         * unless a BINARY_OP comes just before: its helper unbinds the local to append to
         * the str in place (runtime/ops_arith.c append_to_local). */
        int bound = (c->always_bound[arg] || c->bound_in[arg] == c->block_gen)
                    && !(in > c->bc.instrs && in[-1].opcode == BINARY_OP);
        OdLabel done = od_label_new(a);
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 1));
        od_mov_rm(a, OD_RDI, R_FRAME, local_disp(arg));
        od_mov_mr(a, R_FRAME, local_disp(arg), OD_RAX);
        if (!bound) {
            od_test_rr(a, OD_RDI, OD_RDI);
            od_jcc(a, OD_CC_E, done);
        }
        decref_reg(c, OD_RDI, in->index);
        od_label_bind(a, done);
        return;
    }
    case POP_TOP:
        od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 1));
        decref_reg(c, OD_RDI, in->index);
        return;
    case PUSH_NULL:
        od_mov_mi(a, R_FRAME, slot_disp(c, d), 0);
        return;
    case COPY:
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - arg));
        incref_reg(c, OD_RAX);
        od_mov_mr(a, R_FRAME, slot_disp(c, d), OD_RAX);
        return;
    case SWAP:
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 1));
        od_mov_rm(a, OD_RCX, R_FRAME, slot_disp(c, d - arg));
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 1), OD_RCX);
        od_mov_mr(a, R_FRAME, slot_disp(c, d - arg), OD_RAX);
        return;
    case KW_NAMES:
        c->kwnames = PyTuple_GET_ITEM(c->co->co_consts, arg);
        return;
    case PRECALL:
        /* Its one job, unpacking a bound method found in a plain call's callable slot, is
         * done by CALL (od_rt_call; the direct-call thunk leaves such calls to it). */
        return;
    case JUMP_FORWARD:
    case JUMP_BACKWARD_NO_INTERRUPT:
        od_jmp(a, label_at(c, in->target));
        return;
    case JUMP_BACKWARD:
        jump_to(c, in, in->target, 1);
        return;
    case POP_JUMP_FORWARD_IF_FALSE: case POP_JUMP_BACKWARD_IF_FALSE:
    case POP_JUMP_FORWARD_IF_TRUE: case POP_JUMP_BACKWARD_IF_TRUE: {
        int on_true = op == POP_JUMP_FORWARD_IF_TRUE || op == POP_JUMP_BACKWARD_IF_TRUE;
        OdLabel taken = taken_label(c, in, &pending);
        od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 1));
        emit_truth_branch(c, in, d - 1, on_true ? taken : next, on_true ? next : taken);
        emit_pending_backedge(c, in, pending);
        return;
    }
    case POP_JUMP_FORWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NONE:
    case POP_JUMP_FORWARD_IF_NOT_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE: {
        int on_none = op == POP_JUMP_FORWARD_IF_NONE || op == POP_JUMP_BACKWARD_IF_NONE;
        OdLabel taken = taken_label(c, in, &pending);
        OdLabel not_none = od_label_new(a);
        od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 1));
        od_cmp_r_imm64(a, OD_RDI, (int64_t)(intptr_t)Py_None, OD_RAX);
        od_jcc(a, OD_CC_NE, not_none);
        decref_immortalish(c, OD_RDI);
        od_jmp(a, on_none ? taken : next);
        od_label_bind(a, not_none);
        decref_reg(c, OD_RDI, in->index);
        od_jmp(a, on_none ? next : taken);
        emit_pending_backedge(c, in, pending);
        return;
    }
    case JUMP_IF_FALSE_OR_POP:
    case JUMP_IF_TRUE_OR_POP: {
        /* Jump keeping the value, or pop it and fall through. */
        int jump_on_true = op == JUMP_IF_TRUE_OR_POP;
        OdLabel pop = od_label_new(a);
        od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 1));
        set_prev(c, in->index);
        od_call_abs(a, (const void *)PyObject_IsTrue);
        od_test32_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_S, error_stub(c, in->index, d));
        od_jcc(a, jump_on_true ? OD_CC_NE : OD_CC_E, label_at(c, in->target));
        od_label_bind(a, pop);
        od_mov_rm(a, OD_RDI, R_FRAME, slot_disp(c, d - 1));
        decref_reg(c, OD_RDI, in->index);
        return;
    }
    case RETURN_VALUE:
        set_prev(c, in->index);
        /* Frames are cleared using stacktop; a generator's is not kept while it runs. */
        od_mov32_mi(a, R_FRAME, OFF_STACKTOP, c->nlocalsplus);
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 1));
        od_ret(a);   /* the epilogue's `ret` here: not a jump to the unit's end, whose
                      * cache line a call would touch only for that */
        return;
    case RETURN_GENERATOR: {
        /* The frame moves into a new generator object, which the call returns; its first
         * resume enters at the next instruction. */
        OdLabel slow = od_label_new(a);
        set_prev(c, in->index);
        frame_to(a, OD_RDI);
        od_lea(a, OD_RSI, R_FRAME, slot_disp(c, d));
        od_call_abs(a, (const void *)od_rt_return_generator);
        od_test32_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_NE, slow);
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d));
        od_ret(a);                                   /* as RETURN_VALUE */
        od_label_bind(a, slow);
        od_jcc(a, OD_CC_S, error_stub(c, in->index, d));
        od_jmp(a, exit_stub(c, in->start, d, OD_EXIT_HELPER_DEOPT, op));
        return;
    }
    case YIELD_VALUE: {
        /* Suspend: the generator machinery (gen_send_ex2) sees FRAME_SUSPENDED and returns
         * the value to next()/send(); the next resume enters at the following instruction
         * with the sent value pushed by the caller. */
        int32_t state = (int32_t)offsetof(PyGenObject, gi_frame_state)
                        - (int32_t)offsetof(PyGenObject, gi_iframe);
        set_prev(c, in->index);
        od_mov8_mi(a, R_FRAME, FRAME_DISP(state), FRAME_SUSPENDED);
        od_mov32_mi(a, R_FRAME, OFF_STACKTOP, c->nlocalsplus + d - 1);
        od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - 1));
        od_ret(a);                                   /* as RETURN_VALUE */
        return;
    }
    case FOR_ITER: {
        OdLabel slow = od_label_new(a), done = od_label_new(a), miss = od_label_new(a);
        void *site = site_arg(c, in);
        if (!c->compact)
            emit_for_iter_fast(c, in, site, miss, done);
        od_label_bind(a, miss);
        set_prev(c, in->index);
        frame_to(a, OD_RDI);
        od_lea(a, OD_RSI, R_FRAME, slot_disp(c, d));
        /* The in-line call where the site met a generator (a recompiled unit's feedback):
         * elsewhere its bytes would only lengthen every loop's FOR_ITER. */
        if (c->compact || !c->feedback || ((OdOpCache *)site)->left != &PyGen_Type) {
            od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)site);
            od_call_abs(a, (const void *)od_rt_for_iter);
        } else {
            od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)site);
            emit_send_call(c, d, (const void *)od_rt_for_iter_begin,
                           (const void *)od_rt_for_iter_end);
        }
        od_test32_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_NE, slow);
        od_cmp8_mi(a, R_CFRAME, 0, 0);
        od_jcc(a, OD_CC_NE, exit_stub(c, in->next, d + 1, OD_EXIT_TRACING, op));
        od_jmp(a, done);
        od_label_bind(a, slow);
        od_jcc(a, OD_CC_S, error_stub(c, in->index, d));
        od_jmp(a, label_at(c, in->target)); /* OD_JUMP: exhausted */
        od_label_bind(a, done);
        return;
    }
    case SEND: {
        OdLabel slow = od_label_new(a), done = od_label_new(a);
        set_prev(c, in->index);
        frame_to(a, OD_RDI);
        od_lea(a, OD_RSI, R_FRAME, slot_disp(c, d));
        if (c->compact)
            od_call_abs(a, (const void *)od_rt_send);
        else
            emit_send_call(c, d, (const void *)od_rt_send_begin, (const void *)od_rt_send_end);
        od_test32_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_NE, slow);
        od_cmp8_mi(a, R_CFRAME, 0, 0);
        od_jcc(a, OD_CC_NE, exit_stub(c, in->next, d, OD_EXIT_TRACING, op));
        od_jmp(a, done);
        od_label_bind(a, slow);
        od_jcc(a, OD_CC_S, error_stub(c, in->index, d - 1));
        od_cmp_ri(a, OD_RAX, OD_JUMP);
        od_jcc(a, OD_CC_E, label_at(c, in->target));
        od_jmp(a, exit_stub(c, in->start, d, OD_EXIT_HELPER_DEOPT, op));
        od_label_bind(a, done);
        return;
    }
    case RAISE_VARARGS:
    case RERAISE:
        frame_to(a, OD_RDI);
        od_mov_rr(a, OD_RSI, R_UNIT);
        od_mov_ri(a, OD_RDX, in->index);
        od_mov_ri(a, OD_RCX, d);
        od_mov_ri(a, OD_R8, arg);
        od_call_abs(a, op == RERAISE ? (const void *)od_rt_reraise : (const void *)od_rt_raise);
        od_test_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_E, c->ret_null);
        od_jmp_r(a, OD_RAX);
        return;
    case IS_OP:
        if (!c->compact) {                      /* compact units: the thunk (smaller) */
            emit_is_op(c, in, next);
            return;
        }
        /* fall through */
    default:
        if (od_tier1_helper_for(op, &fn, &released)) {
            emit_helper(c, in, fn, released);
            return;
        }
        od_jmp(a, exit_stub(c, in->start, d, OD_EXIT_UNSUPPORTED_OPCODE, op));
        return;
    }
}

/* Exits and error unwinds are many and rarely taken: each stub only loads its own
 * numbers and jumps to one shared tail per unit (emitted once, after the stubs). */
static void emit_exit_sequence(Compiler *c, int resume, int depth, int reason, int opcode)
{
    OdAsm *a = &c->a;
    od_mov_ri(a, OD_RDX, resume);
    od_mov_ri(a, OD_RCX, depth);
    od_mov_ri(a, OD_R8, reason | opcode << 8);
    od_jmp(a, c->exit_tail);
}

static void emit_shared_tails(Compiler *c)
{
    OdAsm *a = &c->a;
    od_label_bind(a, c->exit_tail);
    frame_to(a, OD_RDI);
    od_mov_rr(a, OD_RSI, R_UNIT);
    od_call_abs(a, (const void *)od_rt_set_exit);
    od_jmp(a, c->ret_null);
    od_label_bind(a, c->error_tail);
    frame_to(a, OD_RDI);
    od_mov_rr(a, OD_RSI, R_UNIT);
    od_call_abs(a, (const void *)od_rt_error);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, c->ret_null);
    od_jmp_r(a, OD_RAX);   /* the handler's native address */
}

/* Stubs are emitted after the code that jumps to them, which is where the hot path wants
 * them. A large unit holds many (regex_v8's block11: 4,787 instructions, 8,265 stubs of
 * 160 bytes, 1.3 MB of scratch alongside the code buffer and fix-ups: compiling it raised
 * the worker's peak RSS by 2.6 MB for 0.9 MB kept), so once OD_STUB_BATCH of them are
 * waiting, the body jumps over them and they are emitted there, between two instructions
 * where nothing is deferred. The array then never holds much more than a batch. Units
 * with fewer stubs (almost all: about 1.7 per instruction) are laid out as before; the
 * code census (which wants every stub of the unit at the end) turns batching off. A
 * batch's stubs only refer to labels, and the stub memo (emit.c) maps fields to labels,
 * so later jumps may reuse a stub of an earlier batch (a backward jump). */
#define OD_STUB_BATCH 1024

/* Where a batch goes costs a jump on the paths through it, unless the code before it does
 * not fall through. A jump inside a small loop would run at every iteration (go's
 * functions of ~700 instructions: +1.2% of the benchmark's instructions when batches went
 * anywhere), so a batch goes only where the innermost loop around it (the instructions from
 * a backward jump's target to the jump) spans OD_STUB_BATCH_LOOP instructions or more, or
 * outside every loop, or after code that does not fall through. */
#define OD_STUB_BATCH_LOOP 1024

static int falls_through(const Compiler *c, int i)
{
    if (i == 0)
        return 1;
    switch (c->bc.instrs[i - 1].opcode) {
    case RETURN_VALUE: case RAISE_VARARGS: case RERAISE: case JUMP_FORWARD:
    case JUMP_BACKWARD: case JUMP_BACKWARD_NO_INTERRUPT:
        return 0;
    default:
        return 1;
    }
}

/* Per instruction, the span of the innermost loop around it (INT_MAX outside loops), for
 * units that may need batches; NULL otherwise or without memory (then no batches). */
static int *loop_spans(const Compiler *c)
{
    int n = c->bc.ninstrs;
    if (od_tier1_census_on || (size_t)n * 2 < OD_STUB_BATCH)
        return NULL;
    int *span = od_scratch_realloc(NULL, ((size_t)n + 1) * sizeof(int));
    if (!span)
        return NULL;
    for (int i = 0; i < n; i++)
        span[i] = INT_MAX;
    for (int j = 0; j < n; j++) {
        const OdInstr *in = &c->bc.instrs[j];
        if (!od_opcode_is_backward_jump(in->opcode) || in->target < 0)
            continue;
        int t = c->bc.instr_at_unit[in->target];
        for (int k = t; k >= 0 && k <= j; k++)
            if (j - t < span[k])
                span[k] = j - t;
    }
    return span;
}

static int batch_here(const Compiler *c, int i, const int *loop_span)
{
    if (!loop_span || c->npending || c->kwnames)
        return 0;
    return !falls_through(c, i) || loop_span[i] >= OD_STUB_BATCH_LOOP;
}

static void emit_stubs(Compiler *c)
{
    OdAsm *a = &c->a;
    /* Stubs may add stubs (none do today); iterate by index so growth is safe. */
    for (int i = 0; i < c->nstubs; i++) {
        Stub s = c->stubs[i];
        od_label_bind(a, s.label);
        c->cur_op = s.owner;            /* stubs it adds belong to the same instruction */
        switch (s.kind) {
        case STUB_EXIT:
            if (!emit_exit_desc(c, s.resume, s.depth, s.reason, s.opcode))
                emit_exit_sequence(c, s.resume, s.depth, s.reason, s.opcode);
            break;
        case STUB_ERROR:
            if (emit_error_desc(c, s.index, s.depth))
                break;
            od_mov_ri(a, OD_RDX, s.index);
            od_mov_ri(a, OD_RCX, s.depth);
            od_jmp(a, c->error_tail);
            break;
        case STUB_HELPER:
            od_jcc(a, OD_CC_S, s.error);
            od_jmp(a, s.exit);
            break;
        case STUB_DEALLOC:
            if (s.reg != OD_RDI)
                od_mov_rr(a, OD_RDI, s.reg);   /* first: set_prev clobbers rax */
            set_prev(c, s.index);
            od_call_abs(a, (const void *)od_rt_dealloc);
            od_jmp(a, s.back);
            break;
        case STUB_WARMUP:
            od_mov_ri(a, OD_RDI, (int64_t)(intptr_t)c->co);
            od_call_abs(a, (const void *)od_rt_warmup);
            od_test32_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_NE, s.exit);
            od_jmp(a, s.back);
            break;
        case STUB_SLOW_PATH:
            emit_helper_call(c, s.instr, s.fn, s.released, s.site, s.back);
            break;
        case STUB_COLD:
            memcpy(c->pending, s.pending, sizeof c->pending);  /* as where it branched off */
            c->npending = s.npending;
            s.cold(c, &s);
            c->npending = 0;
            break;
        case STUB_FLUSH:
            emit_pushes(c, s.pending, s.npending);
            od_jmp(a, s.back);
            break;
        case STUB_BOX_BOOL:
            od_mov_rr(a, OD_RDI, OD_RAX);
            od_call_abs(a, (const void *)od_rt_box_bool);
            od_mov_mr(a, R_FRAME, slot_disp(c, s.depth - 1), OD_RAX);
            emit_exit_sequence(c, s.resume, s.depth, OD_EXIT_TRACING, s.opcode);
            break;
        case STUB_HELPER_FAIL:
            emit_helper_fail_stub(c, &s);
            break;
        case STUB_BREAKER:
            if (s.error < 0) {
                emit_breaker_desc(c, s.index, s.depth, s.back);
                break;
            }
            set_prev(c, s.index);
            od_mov_rr(a, OD_RDI, R_TS);
            od_call_abs(a, (const void *)od_rt_handle_eval_breaker);
            od_test32_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_NE, s.error);
            od_jmp(a, s.back);
            break;
        }
    }
}

/* The entry of every tier-1 unit, one routine for the process (u->entry): save the
 * callee-saved registers, load the register plan (emit.h) from the arguments (frame, thread
 * state, unit; rcx = where to resume, passed through), then call the unit's code (its first
 * byte), whose returns are plain `ret`s back here; restore and return its result. The code
 * register is read from the frame (its f_code is the unit's code). One copy for all units:
 * a per-unit copy (60 bytes) was the first cache line of every function the interpreter
 * called, and it missed at each call of a function that runs briefly between other code.
 * The body is a call of its own so that a direct call (fast_call.c) can enter it with the
 * caller's thread-state, cframe and eval-breaker registers, which are the callee's too,
 * saving and loading only the three registers that differ. */
static void emit_shared_entry(OdAsm *a, int unused)
{
    (void)unused;
    static const OdReg saved[] = {OD_RBP, OD_RBX, OD_R12, OD_R13, OD_R14, OD_R15};
    for (size_t i = 0; i < sizeof saved / sizeof *saved; i++)
        od_push(a, saved[i]);
    od_lea(a, R_FRAME, OD_RDI, FRAME_BIAS);  /* emit.h FRAME_BIAS */
    od_mov_rr(a, R_TS, OD_RSI);
    od_mov_rr(a, R_UNIT, OD_RDX);
    od_mov_rm(a, R_CODE, OD_RDI, (int32_t)offsetof(_PyInterpreterFrame, f_code));
    od_add_ri(a, R_CODE, (int32_t)offsetof(PyCodeObject, co_code_adaptive));
    od_mov_rm(a, R_BREAKER, R_TS, (int32_t)offsetof(PyThreadState, interp));
    od_add_ri(a, R_BREAKER, (int32_t)offsetof(PyInterpreterState, ceval.eval_breaker));
    od_mov_rm(a, R_CFRAME, R_TS, (int32_t)offsetof(PyThreadState, cframe));
    od_mov_rm(a, OD_RAX, R_UNIT, (int32_t)offsetof(OdUnit, mem));   /* emit_prologue */
    od_call_r(a, OD_RAX);     /* 6 pushes + return address + this call: aligned to 16 */
    for (size_t i = sizeof saved / sizeof *saved; i-- > 0;)
        od_pop(a, saved[i]);
    od_ret(a);
}

/* The shared entry, built at the first compile; NULL if it cannot be (no unit then). */
static OdEntry shared_entry(void)
{
    static OdEntry addr;
    static int failed;
    if (!addr && !failed) {
        addr = (OdEntry)od_tier1_install_routine(emit_shared_entry, 0, "overdrive::tier1_entry");
        failed = addr == NULL;
    }
    return addr;
}

/* The unit's first bytes (u->mem, what the shared entry calls): a resumed generator's or
 * OSR frame's dispatch on rcx; then the start of the body proper (u->body, body_start: what
 * direct calls call, for fresh frames). */
static void emit_prologue(Compiler *c)
{
    OdAsm *a = &c->a;
    if (c->osr || c->enter_mid
        || (c->co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR))) {
        /* Resuming a suspended generator, coroutine or async generator: continue at the
         * instruction after its yield. A frame that left at a back edge for an OSR entry
         * tier 2 did not give (hook/enter.c): continue at the loop header. */
        OdLabel fresh = od_label_new(a);
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, fresh);
        od_jmp_r(a, OD_RCX);
        od_label_bind(a, fresh);
    }
    c->body_start = od_label_new(a);
    od_label_bind(a, c->body_start);
    /* Counting within one call: set at every fresh entry, the shared one's and a direct
     * call's (which enters here). Set before body_start, direct calls from compiled code
     * carried the count over from call to call, and regex_v8's block functions (3-45
     * iterations a call) moved to their full units after a few calls (0.45 MB of code in
     * a pyperf worker). */
    if (c->osr && od_tier1_osr_per_call)
        od_mov32_mi(a, R_UNIT, (int32_t)offsetof(OdUnit, osr_counter), od_tier1_osr_backedges);
}

/* The body's return (rax = the result, NULL: exit or exception) to the entry that called
 * it. */
static void emit_epilogue(Compiler *c)
{
    OdAsm *a = &c->a;
    od_label_bind(a, c->ret_null);
    od_mov_ri(a, OD_RAX, 0);
    od_label_bind(a, c->epilogue);
    od_ret(a);
}

void od_unit_release_code(OdUnit *u)
{
    if (u->mem)
        od_codemem_release(u->mem, u->mem_reserved);
    od_unit_table_free(&u->native_at_unit);
    free(u->exc);
    od_rt_attr_sites_release(u->caches, u->cache_bytes);
    free(u->caches);
    od_unit_table_free(&u->site_at_unit);
    u->mem = NULL;
    u->entry = NULL;
    u->body = u->direct_entry = NULL;
    u->mem_reserved = u->cache_bytes = 0;
    u->exc = NULL;
    u->nexc = 0;
    u->caches = NULL;
}

void od_unit_free(OdUnit *u)
{
    if (!u)
        return;
    od_unit_release_code(u);
    od_unit_free(u->retired);
    free(u);
}

static void compiler_free(Compiler *c)
{
    od_asm_free(&c->a);
    od_bytecode_free(&c->bc);
    od_scratch_free(c->label_of);
    od_scratch_free(c->stubs);
    if (c->sites)       /* a failed compile: the blocks its copied sites were given */
        od_rt_attr_sites_release(c->sites, c->nsite_bytes);
    free(c->sites);
    od_scratch_free(c->cache_at_unit);
    free(c->always_bound);
    free(c->bound_in);
    free(c->deferred);
}

/* Loads whose push can be left out (Pending): a LOAD_FAST or LOAD_CONST followed directly,
 * with no jump landing in between, by an instruction that borrows that stack slot; at most
 * the two values on top. */
static int find_deferred(Compiler *c)
{
    int n = c->bc.ninstrs;
    c->deferred = calloc((size_t)n + 1, 1);
    if (!c->deferred)
        return -1;
    if (c->compact)
        return 0;    /* the consumers' borrowing lives in their fast paths */
    for (int j = 1; j < n; j++) {
        const OdInstr *use = &c->bc.instrs[j];
        if (use->depth < 0)
            continue;
        for (int k = j - 1, taken = 0; k >= 0 && taken < OD_MAX_PENDING; k--, taken++) {
            const OdInstr *ld = &c->bc.instrs[k];
            if (c->bc.instrs[k + 1].is_target || ld->depth < 0
                || (ld->opcode != LOAD_FAST && ld->opcode != LOAD_CONST)
                || !consumer_borrows(c, use, ld->depth))
                break;
            c->deferred[k] = 1;
            c->ndeferred++;
        }
    }
    return 0;
}

/* Arguments are bound when the frame starts, and only DELETE_FAST unbinds a local while
 * compiled code runs (a tracer writing f_locals back runs in the interpreter): LOAD_FAST of
 * an argument no instruction deletes needs no unbound check. */
static int find_always_bound(Compiler *c)
{
    PyCodeObject *co = c->co;
    int nargs = co->co_argcount + co->co_kwonlyargcount + !!(co->co_flags & CO_VARARGS)
                + !!(co->co_flags & CO_VARKEYWORDS);
    c->always_bound = calloc((size_t)c->nlocalsplus + 1, 1);
    c->bound_in = calloc((size_t)c->nlocalsplus + 1, sizeof(int));
    if (!c->always_bound || !c->bound_in)
        return -1;
    for (int i = 0; i < nargs && i < c->nlocalsplus; i++)
        c->always_bound[i] = !(_PyLocals_GetKind(co->co_localspluskinds, i) & CO_FAST_CELL);
    for (int i = 0; i < c->bc.ninstrs; i++)
        if (c->bc.instrs[i].opcode == DELETE_FAST)
            c->always_bound[c->bc.instrs[i].oparg] = 0;
    return 0;
}

static OdUnit *compile_unit(PyCodeObject *co, const OdUnit *prev, int compact,
                           const char **why_not);

OdUnit *od_tier1_compile(PyCodeObject *co, const char **why_not)
{
    return compile_unit(co, NULL, 0, why_not);
}

OdUnit *od_tier1_compile_compact(PyCodeObject *co, const char **why_not)
{
    return compile_unit(co, NULL, 1, why_not);
}

OdUnit *od_tier1_recompile(PyCodeObject *co, const OdUnit *prev, const char **why_not)
{
    return compile_unit(co, prev, 0, why_not);   /* always the full unit */
}

static OdUnit *compile_unit(PyCodeObject *co, const OdUnit *prev, int compact,
                           const char **why_not)
{
    uint64_t t0 = od_clock_ns();
    Compiler c;
    memset(&c, 0, sizeof c);
    c.co = co;
    c.compact = compact;
    c.compact_thunk = -1;
    c.stub_thunk = -1;
    c.direct_entry = -1;
    c.nlocalsplus = co->co_nlocalsplus;
    c.osr = od_tier1_osr_backedges > 0
            && !(co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR));
    /* A frame of the unit this one replaces may move over at a loop header: a compact
     * unit's, or any that counted its back edges (hook/codestate.c, od_upgrade_loop). */
    c.enter_mid = prev && (prev->compact || prev->counts_backedges);
    od_asm_init(&c.a);
    c.a.no_relax = compact;
    c.a.pool = 1;          /* 64-bit immediates as constants after the code (asm/x64.h) */
    if (od_bytecode_decode(co, &c.bc) < 0) {
        PyErr_Clear();
        *why_not = "bytecode could not be decoded";
        return NULL;
    }
    OdUnit *u = NULL;
    *why_not = "executable memory limit reached (config max_code_bytes)";
    if (!shared_entry())
        goto fail;
    *why_not = "out of memory while compiling";
    /* Sized from what units take per instruction (docs/performance.md: about 100-150
     * bytes, 4-5 labels, 6 fix-ups on average and 2-3 stubs full; 31-37 bytes compact), so
     * the buffers are rarely grown (each growth copies them: a fifth of compile time
     * before). Fix-ups get 8 per instruction: at 6, 230 of bench/compile_speed.py's 1,758
     * units grew their array (2,435 -> 2,412 machine instructions per bytecode
     * instruction). */
    size_t n = (size_t)c.bc.ninstrs;
    od_asm_reserve(&c.a, 1024 + n * (compact ? 48 : 192), 64 + (int)n * (compact ? 2 : 6),
                   64 + (int)n * (compact ? 2 : 8));
    c.capstubs = 16 + (int)n * (compact ? 1 : 3);
    if (c.capstubs > 2 * OD_STUB_BATCH)
        c.capstubs = 2 * OD_STUB_BATCH;   /* a batch and what its last instructions add */
    c.stubs = od_scratch_realloc(NULL, (size_t)c.capstubs * sizeof *c.stubs);
    if (!c.stubs)
        c.capstubs = 0;
    if (!compact)
        stub_memo_begin(&c);
    c.label_of = od_scratch_realloc(NULL, ((size_t)c.bc.ninstrs + 1) * sizeof(OdLabel));
    c.cache_at_unit = od_scratch_realloc(NULL, ((size_t)c.bc.ncodeunits + 1) * sizeof(int));
    if (!c.label_of || !c.cache_at_unit || find_always_bound(&c) < 0)
        goto fail;
    size_t nbytes = 0;
    for (int i = 0; i < c.bc.ninstrs; i++) {
        const OdInstr *in = &c.bc.instrs[i];
        size_t sz = site_size(in->opcode);
        if (sz)
            nbytes = site_align(nbytes, sz);
        c.cache_at_unit[in->index] = sz ? (int)nbytes : -1;
        nbytes += sz;
    }
    for (int i = 0; i <= c.bc.ncodeunits; i++)
        if (c.bc.instr_at_unit[i] >= 0 && c.bc.instrs[c.bc.instr_at_unit[i]].index != i)
            c.cache_at_unit[i] = -1;
    nbytes = (nbytes + 63) & ~(size_t)63;
    c.sites = aligned_alloc(64, nbytes ? nbytes : 64);   /* lines as site_align assumes */
    c.nsite_bytes = nbytes;
    if (!c.sites)
        goto fail;
    memset(c.sites, 0, nbytes ? nbytes : 64);
    /* The per-site pointers are used once or twice each: immediates, not constants. */
    c.a.pool_skip_lo = (uintptr_t)c.sites;
    c.a.pool_skip_hi = (uintptr_t)c.sites + nbytes;
    if (prev && prev->caches && prev->cache_bytes == nbytes) {
        memcpy(c.sites, prev->caches, nbytes);   /* same code, same layout */
        /* the copies' entries 1.. in blocks of their own: what tier 2 reads as the types a
         * site met, after prev is gone (out of memory: only entry 0, as before) */
        (void)od_rt_attr_sites_copy_blocks(c.sites, prev->caches, nbytes);
        c.feedback = 1;
        c.prev = prev;
    }
    if (find_deferred(&c) < 0)       /* after the sites: whether a consumer borrows reads them */
        goto fail;
    for (int i = 0; i < c.bc.ninstrs; i++)
        c.label_of[i] = od_label_new(&c.a);
    c.epilogue = od_label_new(&c.a);
    c.ret_null = od_label_new(&c.a);
    c.exit_tail = od_label_new(&c.a);
    c.error_tail = od_label_new(&c.a);

    /* prev_instr is also kept current at every new source line, so that sampling
     * profilers and debuggers reading frames from outside see the right line even in
     * stretches of code that call nothing. */
    int *lines = od_scratch_realloc(NULL, ((size_t)c.bc.ncodeunits + 1) * sizeof(int));
    if (!lines)
        goto fail;
    od_bytecode_lines(co, lines);
    int *loop_span = loop_spans(&c);
    emit_prologue(&c);
    int last_line = -2;
    for (int i = 0; i < c.bc.ninstrs; i++) {
        const OdInstr *in = &c.bc.instrs[i];
        if (c.nstubs >= OD_STUB_BATCH && batch_here(&c, i, loop_span)) {
            if (falls_through(&c, i))
                od_jmp(&c.a, c.label_of[i]);  /* the body jumps over the batch */
            emit_stubs(&c);
            c.nstubs = 0;
        }
        od_label_bind(&c.a, c.label_of[i]);
        if (in->depth < 0)
            continue; /* unreachable */
        int line = lines[in->index];
        if (line != last_line || in->is_target) {
            if (in->opcode != RESUME && in->index > 0)
                set_prev(&c, in->index);
            last_line = line;
        }
        OdLabel next = i + 1 < c.bc.ninstrs ? c.label_of[i + 1] : c.ret_null;
        c.cur_op = in->opcode;
        if (in->opcode == RESUME) {   /* as the test above will find for the next one */
            const OdInstr *nx = i + 1 < c.bc.ninstrs ? &c.bc.instrs[i + 1] : NULL;
            c.next_sets_prev = nx && nx->depth >= 0 && nx->opcode != RESUME && nx->index > 0
                               && (lines[nx->index] != line || nx->is_target);
        }
        /* A new stretch where something may enter the code: a jump or exception handler
         * target, the start, or where a generator resumes (after YIELD_VALUE, and after
         * RETURN_GENERATOR for its first resume). Frames enter nowhere else (docs/design.md:
         * an exit hands the frame to the interpreter for good, except a generator's next
         * resumption), and only DELETE_FAST unbinds a local while compiled code runs (a
         * tracer's f_locals write-back runs in the interpreter): within a stretch, a local
         * that was stored or passed a check stays bound. */
        if (i == 0 || in->is_target || c.bc.instrs[i - 1].opcode == YIELD_VALUE
            || c.bc.instrs[i - 1].opcode == RETURN_GENERATOR)
            c.block_gen++;
        if (in->opcode == COMPARE_OP && i + 1 < c.bc.ninstrs) {
            const OdInstr *jmp = &c.bc.instrs[i + 1];
            OdLabel after = i + 2 < c.bc.ninstrs ? c.label_of[i + 2] : c.ret_null;
            if (emit_compare_branch(&c, in, jmp, after)) {
                od_label_bind(&c.a, c.label_of[++i]); /* the jump's own code is folded in */
                continue;
            }
        }
        if (in->opcode == IS_OP && i + 1 < c.bc.ninstrs && !c.deferred[i]) {
            const OdInstr *jmp = &c.bc.instrs[i + 1];
            OdLabel after = i + 2 < c.bc.ninstrs ? c.label_of[i + 2] : c.ret_null;
            if (emit_is_op_branch(&c, in, jmp, after)) {
                od_label_bind(&c.a, c.label_of[++i]);
                c.npending = 0;                 /* the branch took the borrowed operands */
                continue;
            }
        }
        if (c.deferred[i]) {
            emit_instr(&c, in, next);
        } else {
            if (c.npending && !consumer_borrows(&c, in, c.pending[0].depth))
                flush_pending(&c);              /* cannot happen: find_deferred pairs them */
            emit_instr(&c, in, next);
            c.npending = 0;                     /* the consumer took them */
        }
        if (in->opcode == LOAD_FAST || in->opcode == STORE_FAST)
            c.bound_in[in->oparg] = c.block_gen;   /* bound from here on in the stretch */
        else if (in->opcode == DELETE_FAST)
            c.bound_in[in->oparg] = 0;
    }
    od_scratch_free(lines);
    od_scratch_free(loop_span);
    od_int3(&c.a); /* falling off the end of the bytecode cannot happen */
    emit_stubs(&c);
    OdLabel stubs_end = od_label_new(&c.a);
    od_label_bind(&c.a, stubs_end);
    OdCensusStub *census_stubs = NULL;
    if (od_tier1_census_on && c.nstubs) {
        census_stubs = malloc((size_t)c.nstubs * sizeof *census_stubs);
        for (int i = 0; census_stubs && i < c.nstubs; i++)
            census_stubs[i] = (OdCensusStub){.label = c.stubs[i].label,
                                             .kind = (unsigned char)c.stubs[i].kind,
                                             .owner = (unsigned char)c.stubs[i].owner};
    }
    int census_nstubs = census_stubs ? c.nstubs : 0;
    od_scratch_free(c.stubs);       /* the largest scratch: gone before the code is copied */
    c.stubs = NULL;
    c.nstubs = c.capstubs = 0;
    emit_direct_entry(&c);
    emit_compact_thunk(&c);
    emit_stub_thunk(&c);
    emit_shared_tails(&c);
    emit_epilogue(&c);
    od_emit_plt(&c.a);
    if (od_asm_finish(&c.a) < 0) {
        free(census_stubs);
        goto fail;
    }
    if (od_tier1_census_on)
        od_census_add(&c, census_stubs, census_nstubs, stubs_end);
    free(census_stubs);

    u = calloc(1, sizeof *u);
    if (!u)
        goto fail;
    u->code = co;
    u->tier = 1;
    u->osr_counter = c.osr ? od_tier1_osr_backedges : 0;
    u->counts_backedges = (uint8_t)c.osr;
    u->ninstrs = c.bc.ninstrs;
    u->ncodeunits = c.bc.ncodeunits;
    if (od_unit_table_init(&u->native_at_unit, c.bc.ncodeunits, (uint32_t)c.a.len + 1) < 0
        || od_unit_table_init(&u->site_at_unit, c.bc.ncodeunits, (uint32_t)c.nsite_bytes) < 0)
        goto fail;
    /* What the unit keeps of the labels and the decoded bytecode is read out before the code
     * is installed, and that scratch freed: the code then exists twice (the buffer and its
     * installed copy) but the labels, fix-ups and instructions no longer alongside it
     * (regex_v8's block11: 0.8 MB of them, at the compile's peak RSS). */
    for (int i = 0; i < c.bc.ninstrs; i++)
        if (c.bc.instrs[i].depth >= 0)
            od_unit_table_set(&u->native_at_unit, c.bc.instrs[i].start,
                              (uint32_t)od_label_offset(&c.a, c.label_of[i]) + 1);
    for (int i = 0; i <= c.bc.ncodeunits; i++)
        if (c.cache_at_unit[i] >= 0)
            od_unit_table_set(&u->site_at_unit, i, (uint32_t)c.cache_at_unit[i] + 1);
    size_t data_offset = c.a.pool_start >= 0 ? (size_t)od_label_offset(&c.a, c.a.pool_start)
                                             : c.a.len;
    size_t body_offset = (size_t)od_label_offset(&c.a, c.body_start);
    ptrdiff_t direct_offset = c.direct_entry >= 0 ? od_label_offset(&c.a, c.direct_entry) : -1;
    od_asm_drop_labels(&c.a);
    od_scratch_free(c.label_of);
    c.label_of = NULL;
    od_scratch_free(c.cache_at_unit);
    c.cache_at_unit = NULL;
    u->nexc = c.bc.nexc;
    u->exc = c.bc.exc;        /* ownership moves to the unit */
    c.bc.exc = NULL;
    od_bytecode_free(&c.bc);
    u->mem = od_asm_install(&c.a, &u->mem_reserved);
    if (!u->mem) {
        *why_not = "executable memory limit reached (config max_code_bytes)";
        goto fail;
    }
    u->code_size = c.a.len;
    u->data_offset = data_offset;
    u->entry = shared_entry();
    u->body = (char *)u->mem + body_offset;
    if (direct_offset >= 0)
        u->direct_entry = (char *)u->mem + direct_offset;
    u->caches = c.sites;
    u->cache_bytes = c.nsite_bytes;
    u->with_feedback = c.feedback;
    u->compact = c.compact;
    u->deferred_loads = c.ndeferred;
    u->fixed_attr_sites = c.nfixed_attr;
    u->cold_sites = c.ncold;
    u->single_kind_sites = c.nsingle_kind;
    u->helper_only_sites = c.nhelper_only;
    c.sites = NULL;
    compiler_free(&c);
    od_rt_unit_set_direct(u, co);
    u->compile_ns = od_clock_ns() - t0;
    *why_not = NULL;
    return u;

fail:
    od_unit_free(u);
    compiler_free(&c);
    return NULL;
}
