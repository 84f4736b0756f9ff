/* tier1/fast_call.c — inline parts of the call sequence.
 *
 * PRECALL only has work to do when a plain call (no LOAD_METHOD) finds a bound method as
 * the callable: it unpacks it into function and self (runtime/ops_call.c). Every other
 * call skips the helper. See emit.h. */
#include "emit.h"

void emit_precall_fast(Compiler *c, const OdInstr *in, OdLabel miss, OdLabel done)
{
    OdAsm *a = &c->a;
    int d = in->depth, n = in->oparg;            /* stack: NULL-or-method, callable, args */
    od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - n - 2));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_NE, done);                   /* LOAD_METHOD's shape already */
    od_mov_rm(a, OD_RAX, R_FRAME, slot_disp(c, d - n - 1));
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&PyMethod_Type);
    od_cmp_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    od_jcc(a, OD_CC_E, miss);                    /* a bound method: the helper unpacks it */
    od_jmp(a, done);
}
