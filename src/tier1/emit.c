/* tier1/emit.c — emission primitives shared by the tier-1 compiler's parts. See emit.h. */
#include "emit.h"
#include "../asm/codemem.h"
#include "../asm/scratch.h"

#include <stdlib.h>
#include <string.h>


OdLabel add_stub(Compiler *c, Stub s)
{
    if (c->nstubs == c->capstubs) {
        int cap = c->capstubs ? c->capstubs * 2 : 64;
        Stub *p = od_scratch_realloc(c->stubs, (size_t)cap * sizeof *p);
        if (!p) {
            c->a.failed = 1;
            return 0;
        }
        c->stubs = p;
        c->capstubs = cap;
    }
    s.label = od_label_new(&c->a);
    s.owner = c->cur_op;
    c->stubs[c->nstubs++] = s;
    return s.label;
}

/* The stubs added so far, by (kind, fields), in a direct-mapped table (a collision only
 * costs a duplicate stub). One table for the process, its entries stamped with the compile
 * they belong to, so a compile does not clear 28 KiB first: compiles never overlap or nest
 * (they run holding the GIL, and no Python code runs inside one). */
#define OD_STUB_MEMO 512
typedef struct {
    uint32_t epoch;     /* Compiler.memo_epoch of the compile that wrote it */
    int kind;
    OdLabel label;
    int64_t f[6];
} StubMemo;
static StubMemo stub_memo[OD_STUB_MEMO];
static uint32_t stub_memo_epoch;

void stub_memo_begin(Compiler *c)
{
    if (++stub_memo_epoch == 0) {                  /* wrapped: no stale stamp may match */
        memset(stub_memo, 0, sizeof stub_memo);
        stub_memo_epoch = 1;
    }
    c->memo_epoch = stub_memo_epoch;
}

/* The stub of `s` (an exit, error or flush stub with the fields `f`): the one added before
 * in this compile for the same fields, or a new one. */
static OdLabel memo_stub(Compiler *c, Stub s, const int64_t f[6])
{
    if (!c->memo_epoch)
        return add_stub(c, s);
    uint64_t h = (uint64_t)s.kind;
    for (int i = 0; i < 6; i++)
        h = (h ^ (uint64_t)f[i]) * 0x9E3779B97F4A7C15u;
    StubMemo *m = &stub_memo[(h >> 40) % OD_STUB_MEMO];
    if (m->epoch == c->memo_epoch && m->kind == (int)s.kind && !memcmp(m->f, f, sizeof m->f))
        return m->label;
    OdLabel l = add_stub(c, s);
    if (!c->a.failed) {
        m->epoch = c->memo_epoch;
        m->kind = (int)s.kind;
        memcpy(m->f, f, sizeof m->f);
        m->label = l;
    }
    return l;
}

OdLabel exit_stub(Compiler *c, int resume, int depth, int reason, int opcode)
{
    Stub s = {.kind = STUB_EXIT, .resume = resume, .depth = depth, .reason = reason,
              .opcode = opcode};
    const int64_t f[6] = {resume, depth, reason, opcode};
    return flushed(c, memo_stub(c, s, f), depth);
}

OdLabel error_stub(Compiler *c, int index, int live)
{
    Stub s = {.kind = STUB_ERROR, .index = index, .depth = live};
    const int64_t f[6] = {index, live};
    return flushed(c, memo_stub(c, s, f), live);
}

OdLabel cold_stub(Compiler *c, ColdFn cold, Stub s)
{
    s.kind = STUB_COLD;
    s.cold = cold;
    memcpy(s.pending, c->pending, sizeof s.pending);   /* what its code finds deferred */
    s.npending = c->npending;
    return add_stub(c, s);
}

int consumer_borrows(Compiler *c, const OdInstr *in, int depth)
{
    int d = in->depth;
    switch (in->opcode) {
    case LOAD_ATTR: case STORE_ATTR: case LOAD_METHOD:   /* only their inline paths borrow */
        return depth == d - 1 && !attr_helper_only(c, in);
    case UNPACK_SEQUENCE:
        return depth == d - 1 && unpack_sequence_has_fast_path(in->oparg);
    case BINARY_OP:
        return (depth == d - 1 || depth == d - 2) && binary_op_has_fast_path(c, in);
    case BINARY_SUBSCR:     /* only its inline path borrows */
        return (depth == d - 1 || depth == d - 2) && binary_subscr_has_fast_path(c, in);
    case COMPARE_OP:        /* only its inline path borrows */
        return (depth == d - 1 || depth == d - 2) && !compare_generic_only(c, in);
    case IS_OP:
        return depth == d - 1 || depth == d - 2;
    default:
        return 0;
    }
}

const Pending *borrowed(Compiler *c, int depth)
{
    for (int i = 0; i < c->npending; i++)
        if (c->pending[i].depth == depth)
            return &c->pending[i];
    return NULL;
}

static void load_pending(Compiler *c, OdReg r, const Pending *p)
{
    if (p->local >= 0)
        od_mov_rm(&c->a, r, R_FRAME, local_disp(p->local));
    else
        od_mov_ri(&c->a, r, (int64_t)(intptr_t)p->constant);
}

void load_operand(Compiler *c, OdReg r, int depth)
{
    const Pending *p = borrowed(c, depth);
    if (p)
        load_pending(c, r, p);
    else
        od_mov_rm(&c->a, r, R_FRAME, slot_disp(c, depth));
}

void release_operand_reg(Compiler *c, OdReg r, int depth, int unit)
{
    if (!borrowed(c, depth))
        decref_reg(c, r, unit);
}

void release_operand_slot(Compiler *c, int depth, int unit)
{
    if (borrowed(c, depth))
        return;
    od_mov_rm(&c->a, OD_RDI, R_FRAME, slot_disp(c, depth));
    decref_reg(c, OD_RDI, unit);
}

/* The pushes the deferred loads left out (clobbers rax). */
void emit_pushes(Compiler *c, const Pending *p, int n)
{
    for (int i = 0; i < n; i++) {
        load_pending(c, OD_RAX, &p[i]);
        incref_reg(c, OD_RAX);
        od_mov_mr(&c->a, R_FRAME, slot_disp(c, p[i].depth), OD_RAX);
    }
}

OdLabel flushed(Compiler *c, OdLabel target, int below)
{
    Stub s = {.kind = STUB_FLUSH, .back = target};
    int64_t f[6] = {target};
    _Static_assert(OD_MAX_PENDING == 2, "a flush stub's memo key holds two pushes");
    for (int i = 0; i < c->npending; i++)
        if (below < 0 || c->pending[i].depth < below) {
            const Pending *p = &c->pending[i];
            f[1 + 2 * s.npending] = (int64_t)p->depth << 32 | (uint32_t)p->local;
            f[2 + 2 * s.npending] = (int64_t)(intptr_t)p->constant;
            s.pending[s.npending++] = *p;
        }
    return s.npending ? memo_stub(c, s, f) : target;
}

void flush_pending(Compiler *c)
{
    emit_pushes(c, c->pending, c->npending);
    c->npending = 0;
}

int quickened_opcode(Compiler *c, const OdInstr *in)
{
    return _Py_OPCODE(_PyCode_CODE(c->co)[in->index]);
}

/* The adaptive form of a specializable opcode (the interpreter's own table,
 * _PyOpcode_Adaptive, is not exported). */
static int adaptive_form(int opcode)
{
    switch (opcode) {
    case BINARY_OP: return BINARY_OP_ADAPTIVE;
    case BINARY_SUBSCR: return BINARY_SUBSCR_ADAPTIVE;
    case CALL: return CALL_ADAPTIVE;
    case COMPARE_OP: return COMPARE_OP_ADAPTIVE;
    case LOAD_ATTR: return LOAD_ATTR_ADAPTIVE;
    case LOAD_GLOBAL: return LOAD_GLOBAL_ADAPTIVE;
    case LOAD_METHOD: return LOAD_METHOD_ADAPTIVE;
    case PRECALL: return PRECALL_ADAPTIVE;
    case STORE_ATTR: return STORE_ATTR_ADAPTIVE;
    case STORE_SUBSCR: return STORE_SUBSCR_ADAPTIVE;
    case UNPACK_SEQUENCE: return UNPACK_SEQUENCE_ADAPTIVE;
    default: return -1;
    }
}

OdQuickened quickened_state(Compiler *c, const OdInstr *in)
{
    if (c->feedback || in->index + 1 >= c->bc.ncodeunits)
        return QUICK_UNKNOWN;
    const _Py_CODEUNIT *code = _PyCode_CODE(c->co);
    int op = _Py_OPCODE(code[in->index]), adaptive = adaptive_form(in->opcode);
    if (adaptive < 0 || op == in->opcode)
        return QUICK_UNKNOWN;                 /* no specialized forms, or not quickened */
    if (op != adaptive)
        return QUICK_SPECIALIZED;
    /* Quickening leaves the counter (the first cache entry) at 0; the first run of the
     * adaptive form specializes the instruction or, failing, sets a backoff, and a
     * specialized form that misses comes back with a non-zero count: exactly 0 means the
     * instruction has not run since. */
    return code[in->index + 1] == 0 ? QUICK_NEVER_RAN : QUICK_UNKNOWN;
}

static const OdOpCache *recorded_op_site(Compiler *c, const OdInstr *in)
{
    if (!c->feedback)
        return NULL;
    int off = c->cache_at_unit[in->index];
    return off >= 0 ? (const OdOpCache *)(c->sites + off) : NULL;
}

int recorded_generic_only(Compiler *c, const OdInstr *in,
                          int (*takes)(PyTypeObject *left, PyTypeObject *right))
{
    const OdOpCache *site = recorded_op_site(c, in);
    return site && site->inline_hits == 0 && site->left && site->right
           && !takes(site->left, site->right);
}

int single_kind_site(Compiler *c, const OdInstr *in)
{
    if (quickened_state(c, in) != QUICK_SPECIALIZED)
        return 0;
    c->nsingle_kind++;
    return 1;
}

void set_prev(Compiler *c, int unit)
{
    od_lea(&c->a, OD_RAX, R_CODE, 2 * unit);
    od_mov_mr(&c->a, R_FRAME, OFF_PREV, OD_RAX);
}

/* In a debug build (Py_REF_DEBUG) every reference change also moves _Py_RefTotal, which
 * sys.gettotalrefcount() and regrtest's leak hunter read; compiled code must too. r11 is
 * free for this: tier 1 uses it for nothing else. */
static void ref_total(Compiler *c, int delta)
{
#ifdef Py_REF_DEBUG
    od_mov_ri(&c->a, OD_R11, (int64_t)(intptr_t)&_Py_RefTotal);
    od_add_mi(&c->a, OD_R11, 0, delta);
#else
    (void)c;
    (void)delta;
#endif
}

void incref_reg(Compiler *c, OdReg r)
{
    od_inc_m(&c->a, r, 0);
    ref_total(c, 1);
}

/* Py_DECREF of the object in `r` (not NULL); the dealloc is a stub. `unit` is the
 * instruction whose prev_instr a finalizer would observe. */
void decref_reg(Compiler *c, OdReg r, int unit)
{
    Stub s = {.kind = STUB_DEALLOC, .reg = r, .index = unit, .back = od_label_new(&c->a)};
    ref_total(c, -1);
    od_dec_m(&c->a, r, 0);
    od_jcc(&c->a, OD_CC_E, add_stub(c, s));
    od_label_bind(&c->a, s.back);
}

/* Values True/False/None never reach refcount zero: a plain decrement suffices. */
void decref_immortalish(Compiler *c, OdReg r)
{
    ref_total(c, -1);
    od_dec_m(&c->a, r, 0);
}

void check_breaker(Compiler *c, int index, int live_after, OdLabel cont)
{
    Stub s = {.kind = STUB_BREAKER, .index = index, .back = cont, .depth = live_after,
              .error = breaker_desc_ok(c, index, live_after) ? -1
                                                              : error_stub(c, index, live_after)};
    od_cmp32_mi(&c->a, R_BREAKER, 0, 0);
    od_jcc(&c->a, OD_CC_NE, add_stub(c, s));
}

int depth_after(const OdInstr *in)
{
    return in->depth + PyCompile_OpcodeStackEffectWithJump(in->opcode, in->oparg, 0);
}

OdLabel label_at(Compiler *c, int unit)
{
    return c->label_of[c->bc.instr_at_unit[unit]];
}

/* Jump to `target`, polling the eval breaker first when the jump goes backwards. */
void jump_to(Compiler *c, const OdInstr *in, int target, int backward)
{
    OdLabel dest = label_at(c, target);
    if (backward) {
        int live = c->bc.instrs[c->bc.instr_at_unit[target]].depth;
        check_breaker(c, in->index, live, dest);
        if (c->osr) {
            /* Hot loop: at zero the frame leaves at the loop header, where the hook asks
             * tier 2 for an OSR entry (hook/enter.c); the state is all in the frame. */
            od_add32_mi(&c->a, R_UNIT, (int32_t)offsetof(OdUnit, osr_counter), -1);
            od_jcc(&c->a, OD_CC_E, exit_stub(c, target, live, OD_EXIT_OSR, in->opcode));
        }
    }
    od_jmp(&c->a, dest);
}


void record_fast_hit(Compiler *c, OdOpCache *site, OdReg left_type, OdReg right_type)
{
    OdAsm *a = &c->a;
    if (c->feedback)
        return;       /* recompiled: the record was read, and the inline variant is its type */
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)site);
    od_mov_mr(a, OD_RSI, (int32_t)offsetof(OdOpCache, left), left_type);
    od_mov_mr(a, OD_RSI, (int32_t)offsetof(OdOpCache, right), right_type);
    od_add32_mi(a, OD_RSI, (int32_t)offsetof(OdOpCache, inline_hits), 1);
}

void compact_value(Compiler *c, OdReg dst, OdReg obj, OdLabel miss)
{
    OdAsm *a = &c->a;
    od_mov_rm(a, dst, obj, OFF_SIZE);
    od_lea(a, OD_R9, dst, 1);
    od_cmp_ri(a, OD_R9, 2);
    od_jcc(a, OD_CC_A, miss);                 /* size outside -1..1 */
    od_mov32_rm(a, OD_R9, obj, OFF_DIGIT0);
    od_imul_rr(a, dst, OD_R9);
}

void release_operands_into(Compiler *c, const OdInstr *in, OdReg result, OdLabel to)
{
    OdAsm *a = &c->a;
    int d = in->depth;
    if (borrowed(c, d - 2)) {
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 2), result);
    } else {
        od_mov_rm(a, OD_RSI, R_FRAME, slot_disp(c, d - 2));
        od_mov_mr(a, R_FRAME, slot_disp(c, d - 2), result);
        decref_reg(c, OD_RSI, in->index);
    }
    release_operand_slot(c, d - 1, in->index);
    od_jmp(a, to);
}

#define SMALL_INT_SHIFT 5
_Static_assert(sizeof(PyLongObject) == (1 << SMALL_INT_SHIFT), "small-int stride");

void small_int_or_jump(Compiler *c, OdReg value, OdLabel have, OdLabel big)
{
    OdAsm *a = &c->a;
    od_lea(a, OD_RDI, value, 5);
    od_cmp_ri(a, OD_RDI, 5 + 256);
    od_jcc(a, OD_CC_A, big);                  /* unsigned: outside -5..256 */
    od_shl_ri(a, OD_RDI, SMALL_INT_SHIFT);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&_PyLong_SMALL_INTS[0]);
    od_add_rr(a, OD_RDI, OD_RSI);
    incref_reg(c, OD_RDI);
    od_jmp(a, have);
}

/* emit.h od_tier1_install_routine */
void *od_tier1_install_routine(void (*emit)(OdAsm *, int), int arg, const char *name)
{
    OdAsm a;
    size_t reserved;
    void *addr = NULL;
    od_asm_init(&a);
    a.pool = 1;
    emit(&a, arg);
    od_emit_plt(&a);
    if (od_asm_finish(&a) == 0) {
        addr = od_asm_install(&a, &reserved);
        if (addr)
            od_codemem_name(addr, a.len, name);
    }
    od_asm_free(&a);
    return addr;
}
