/* tier1/stub_thunk.c — rarely taken stubs of full units as a call and a descriptor.
 *
 * The stubs after a unit's body are most of its size (docs/performance.md, "Peak RSS of
 * pyperf workers"), and the commonest kinds only load a few numbers and jump to a shared
 * tail. Here each such stub is
 *     call stub_thunk                 ; rel32, 5 bytes
 *     .byte kind                      ; the descriptor, read in C, never executed
 *     ...                             ; its fields, 16-bit words (and bytes)
 * and one thunk per unit passes the frame, the descriptor (the call's return address, which
 * the thunk pops: it never returns there), the unit, eax and the thread state to
 * od_rt_stub() below. That does in C what the stub did and returns where to go: the
 * exception handler's native address, NULL (the unit returns NULL: no handler, or an exit
 * recorded), or, for an eval-breaker stub that handled the breaker without an exception,
 * the `jmp back` that follows its descriptor.
 *
 *   kind         fields                                   stub   was
 *   ERROR        index, live                              10 B   15 B
 *   EXIT         resume, depth, reason, opcode (bytes)    12 B   21 B
 *   BREAKER      index, live; then `jmp back`             15 B   31 B + its 15 B error stub
 *   HELPER_FAIL  index, live, start, phys, next, after,   19 B   ~68 B of error, exit,
 *                opcode (byte)                                   helper and tracing stubs
 *   ..._SHORT    index, phys; then bytes: index - start       14 B   (the same, when the
 *                (2 bits) | next - index (6 bits), phys - live,      differences fit; they
 *                after - phys + 128, opcode                           nearly always do)
 *
 * These paths run on exceptions, exits to the interpreter and eval-breaker requests
 * (signals, GIL hand-offs), each of which costs far more than the call; the body's code,
 * the jump into the stub, is unchanged. Fields that do not fit a 16-bit word keep the
 * stub's long form (compile.c emit_stubs). */
#include "emit.h"
#include "compile.h"

#include <string.h>

enum { DESC_ERROR = 1, DESC_EXIT, DESC_BREAKER, DESC_HELPER_FAIL, DESC_HELPER_FAIL_SHORT };

static int fits16(int v) { return v >= 0 && v < 65536; }

static void put16(uint8_t *p, int v)
{
    uint16_t w = (uint16_t)v;
    memcpy(p, &w, 2);
}

static int get16(const uint8_t *p)
{
    uint16_t w;
    memcpy(&w, p, 2);
    return w;
}

static void call_thunk(Compiler *c, const uint8_t *desc, size_t n)
{
    if (c->stub_thunk < 0)
        c->stub_thunk = od_label_new(&c->a);
    od_call_label(&c->a, c->stub_thunk);
    od_emit_bytes(&c->a, desc, n);
}

int emit_error_desc(Compiler *c, int index, int live)
{
    if (!fits16(index) || !fits16(live))
        return 0;
    uint8_t d[5] = {DESC_ERROR};
    put16(d + 1, index);
    put16(d + 3, live);
    call_thunk(c, d, sizeof d);
    return 1;
}

int emit_exit_desc(Compiler *c, int resume, int depth, int reason, int opcode)
{
    if (!fits16(resume) || !fits16(depth) || reason < 0 || reason > 255 || opcode < 0
        || opcode > 255)
        return 0;
    uint8_t d[7] = {DESC_EXIT};
    put16(d + 1, resume);
    put16(d + 3, depth);
    d[5] = (uint8_t)reason;
    d[6] = (uint8_t)opcode;
    call_thunk(c, d, sizeof d);
    return 1;
}

int breaker_desc_ok(Compiler *c, int index, int live)
{
    /* Its error path is in the descriptor, so no deferred operand may need pushing first
     * (none is pending where the breaker is polled: after calls and at backward jumps). */
    return c->npending == 0 && fits16(index) && fits16(live);
}

void emit_breaker_desc(Compiler *c, int index, int live, OdLabel back)
{
    uint8_t d[5] = {DESC_BREAKER};
    put16(d + 1, index);
    put16(d + 3, live);
    call_thunk(c, d, sizeof d);
    od_jmp(&c->a, back);               /* od_rt_stub returns its address to continue */
}

int helper_fail_ok(Compiler *c, const Stub *s)
{
    return c->npending == 0 && fits16(s->index) && fits16(s->depth) && fits16(s->resume)
           && fits16(s->phys) && fits16(s->next) && fits16(s->after) && s->opcode >= 0
           && s->opcode < 256;
}

void emit_helper_fail_stub(Compiler *c, const Stub *s)
{
    int ext = s->index - s->resume, step = s->next - s->index, rel = s->phys - s->depth;
    int grow = s->after - s->phys + 128;
    if (ext >= 0 && ext < 4 && step >= 0 && step < 64 && rel >= 0 && rel < 256 && grow >= 0
        && grow < 256) {
        uint8_t d[9] = {DESC_HELPER_FAIL_SHORT};
        put16(d + 1, s->index);
        put16(d + 3, s->phys);
        d[5] = (uint8_t)(ext << 6 | step);
        d[6] = (uint8_t)rel;
        d[7] = (uint8_t)grow;
        d[8] = (uint8_t)s->opcode;
        call_thunk(c, d, sizeof d);
        return;
    }
    uint8_t d[14] = {DESC_HELPER_FAIL};
    const int w[6] = {s->index, s->depth, s->resume, s->phys, s->next, s->after};
    for (int i = 0; i < 6; i++)
        put16(d + 1 + 2 * i, w[i]);
    d[13] = (uint8_t)s->opcode;
    call_thunk(c, d, sizeof d);
}

void emit_stub_thunk(Compiler *c)
{
    OdAsm *a = &c->a;
    if (c->stub_thunk < 0)
        return;
    od_label_bind(a, c->stub_thunk);
    od_pop(a, OD_RSI);                    /* the descriptor; the body's alignment again */
    frame_to(a, OD_RDI);
    od_mov_rr(a, OD_RDX, R_UNIT);
    od_mov_rr(a, OD_RCX, OD_RAX);         /* a failed helper's result (int in ecx) */
    od_mov_rr(a, OD_R8, R_TS);
    od_call_abs(a, (const void *)od_rt_stub);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, c->ret_null);
    od_jmp_r(a, OD_RAX);
}

void *od_rt_stub(_PyInterpreterFrame *f, const uint8_t *desc, OdUnit *u, int result,
                 PyThreadState *ts)
{
    switch (desc[0]) {
    case DESC_ERROR:
        return od_rt_error(f, u, get16(desc + 1), get16(desc + 3));
    case DESC_EXIT:
        od_rt_set_exit(f, u, get16(desc + 1), get16(desc + 3), desc[5] | desc[6] << 8);
        return NULL;
    case DESC_BREAKER: {
        int index = get16(desc + 1);
        f->prev_instr = _PyCode_CODE(f->f_code) + index;
        if (od_rt_handle_eval_breaker(ts) == 0)
            return (void *)(uintptr_t)(desc + 5);          /* its `jmp back` */
        return od_rt_error(f, u, index, get16(desc + 3));
    }
    case DESC_HELPER_FAIL:
    case DESC_HELPER_FAIL_SHORT: {
        int index, live, start, phys, next, after, op;
        if (desc[0] == DESC_HELPER_FAIL) {
            index = get16(desc + 1), live = get16(desc + 3), start = get16(desc + 5);
            phys = get16(desc + 7), next = get16(desc + 9), after = get16(desc + 11);
            op = desc[13];
        } else {
            index = get16(desc + 1), phys = get16(desc + 3);
            start = index - (desc[5] >> 6), next = index + (desc[5] & 63);
            live = phys - desc[6], after = phys + desc[7] - 128, op = desc[8];
        }
        if (result < 0)
            return od_rt_error(f, u, index, live);
        if (result > 0)
            od_rt_set_exit(f, u, start, phys, OD_EXIT_HELPER_DEOPT | op << 8);
        else  /* tracing switched on by the code the helper ran: the interpreter takes over */
            od_rt_set_exit(f, u, next, after, OD_EXIT_TRACING | op << 8);
        return NULL;
    }
    default:
        Py_UNREACHABLE();
    }
}
