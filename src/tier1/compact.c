/* tier1/compact.c — compact units: every helper call through one shared per-unit thunk.
 *
 * In a compact unit (compile.h od_tier1_compile_compact) an instruction done by its helper
 * is 11 bytes of code:
 *     call thunk                      ; rel32, 5 bytes
 *     .byte opcode, oparg             ; the descriptor, 6 bytes, skipped on return
 *     .word index, depth
 * instead of the ~60 bytes of the full unit's inline sequence (set_prev, four argument
 * registers, the call, the result and tracing tests) plus ~60 bytes of its error, exit and
 * tracing stubs. The thunk, emitted once per unit, passes the frame, the descriptor (its
 * return address), the unit and the thread state to od_rt_compact_op() below, which does in
 * C what that sequence and its stubs do: prev_instr, the per-site argument, the helper, an
 * error unwound (od_rt_error) or an exit taken (od_rt_set_exit), the tracing and eval-breaker
 * checks. The thunk then returns past the descriptor, or leaves through the unit's return
 * (NULL) or jumps to the exception handler's native address, exactly as the stubs would.
 *
 * Only instructions with no EXTENDED_ARG prefix (oparg < 256), unit index and depth below
 * 65536 take this form; the others keep the full sequence.
 *
 * A full unit compiled with feedback uses the same form for the sites that never ran
 * (compile.c emit_helper): code that did not run in a thousand calls gets the smallest
 * form, not a slow path and its failure stub (~85 bytes). */
#include "emit.h"
#include "compile.h"

#include <string.h>

#define DESC_SIZE 6


/* The per-site argument, as compile.c's site_arg() gives it (which also stored the names
 * and keyword names in the sites when the unit was compiled). */
static void *site_arg_rt(PyCodeObject *co, OdUnit *u, int op, int index, int oparg)
{
    switch (op) {
    case LOAD_GLOBAL: case LOAD_NAME: case LOAD_ATTR: case STORE_ATTR: case DELETE_ATTR:
    case LOAD_METHOD: case CALL: case BINARY_OP: case COMPARE_OP: case BINARY_SUBSCR:
    case FOR_ITER: {
        return od_unit_site(u, index);
    }
    case STORE_NAME: case DELETE_NAME: case STORE_GLOBAL:
    case DELETE_GLOBAL: case IMPORT_NAME: case IMPORT_FROM:
        return PyTuple_GET_ITEM(co->co_names, oparg);
    default:
        return NULL;
    }
}

OdCompactResult od_rt_compact_op(_PyInterpreterFrame *f, const uint8_t *desc, OdUnit *u,
                                 PyThreadState *ts)
{
    int op = desc[0], oparg = desc[1];
    uint16_t index, depth;
    memcpy(&index, desc + 2, 2);
    memcpy(&depth, desc + 4, 2);
    PyCodeObject *co = f->f_code;
    f->prev_instr = _PyCode_CODE(co) + index;
    HelperFn fn = NULL;
    int released = 0;
    od_tier1_helper_for(op, &fn, &released);      /* the compiler emitted only helper instructions */
    int d = depth + (op == CALL ? oparg : 0);   /* physically: [callable pair, args...] */
    PyObject **sp = &f->localsplus[co->co_nlocalsplus + d];
    int r = fn(f, sp, oparg, site_arg_rt(co, u, op, index, oparg));
    if (r < 0)
        return (OdCompactResult){1, od_rt_error(f, u, index, released < 0 ? d : d - released)};
    if (r > 0) {
        od_rt_set_exit(f, u, index, d, OD_EXIT_HELPER_DEOPT | op << 8);
        return (OdCompactResult){1, NULL};
    }
    if (op == PRECALL)  /* nothing can switch tracing on, and no exit may separate KW_NAMES
                         * from CALL */
        return (OdCompactResult){0, NULL};
    if (ts->cframe->use_tracing) {
        /* Tracing switched on by the code we just ran: the interpreter takes over. */
        int after = depth + PyCompile_OpcodeStackEffectWithJump(op, oparg, 0);
        int next = index + 1 + _PyOpcode_Caches[op];
        od_rt_set_exit(f, u, next, after, OD_EXIT_TRACING | op << 8);
        return (OdCompactResult){1, NULL};
    }
    if ((op == CALL || op == CALL_FUNCTION_EX)
        && _Py_atomic_load_relaxed(&ts->interp->ceval.eval_breaker)
        && od_rt_handle_eval_breaker(ts)) {
        int after = depth + PyCompile_OpcodeStackEffectWithJump(op, oparg, 0);
        return (OdCompactResult){1, od_rt_error(f, u, index, after)};
    }
    return (OdCompactResult){0, NULL};
}

int compact_form_ok(const OdInstr *in)
{
    HelperFn fn;
    int rel;
    return in->start == in->index && in->oparg >= 0 && in->oparg < 256
           && in->index < 65536 && in->depth >= 0 && in->depth + in->oparg < 65536
           && in->next == in->index + 1 + _PyOpcode_Caches[in->opcode]
           && od_tier1_helper_for(in->opcode, &fn, &rel);
}

int compact_call_ok(Compiler *c, const OdInstr *in)
{
    return c->compact && compact_form_ok(in);
}

void emit_compact_call(Compiler *c, const OdInstr *in)
{
    if (c->compact_thunk < 0)
        c->compact_thunk = od_label_new(&c->a);
    od_call_label(&c->a, c->compact_thunk);
    uint8_t desc[DESC_SIZE] = {(uint8_t)in->opcode, (uint8_t)in->oparg};
    uint16_t index = (uint16_t)in->index, depth = (uint16_t)in->depth;
    memcpy(desc + 2, &index, 2);
    memcpy(desc + 4, &depth, 2);
    od_emit_bytes(&c->a, desc, sizeof desc);
}

void emit_compact_thunk(Compiler *c)
{
    OdAsm *a = &c->a;
    if (c->compact_thunk < 0)
        return;
    OdLabel stop = od_label_new(a);
    od_label_bind(a, c->compact_thunk);
    frame_to(a, OD_RDI);
    od_mov_rm(a, OD_RSI, OD_RSP, 0);     /* the return address: the descriptor */
    od_mov_rr(a, OD_RDX, R_UNIT);
    od_mov_rr(a, OD_RCX, R_TS);
    od_sub_ri(a, OD_RSP, 8);             /* the call pushed 8: realign to 16 */
    od_call_abs(a, (const void *)od_rt_compact_op);
    od_add_ri(a, OD_RSP, 8);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_NE, stop);
    od_add_mi(a, OD_RSP, 0, DESC_SIZE);  /* return past the descriptor */
    od_ret(a);
    od_label_bind(a, stop);
    od_add_ri(a, OD_RSP, 8);             /* drop the return address: the body's stack */
    od_test_rr(a, OD_RDX, OD_RDX);
    od_jcc(a, OD_CC_E, c->ret_null);
    od_jmp_r(a, OD_RDX);                 /* the handler's native address */
}
