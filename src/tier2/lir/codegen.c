/* tier2/lir/codegen.c — LIR with registers to x86-64 (through asm/x64.h).
 *
 * Register plan: rbx = the frame; allocatable r12-r15, rbp (callee-saved) and rsi, rdi,
 * r8-r11, xmm2-xmm15 (caller-saved); rax, rcx, rdx, xmm0, xmm1 are scratch (an operand in a
 * stack slot is loaded into one). Frame below the six saved registers (lir.h): thread
 * state, unit, cframe, the register dump area, the outgoing area, the spill slots.
 * Rarely taken paths go after the body: one stub per exit (its index, then the shared
 * path that dumps every allocatable register and calls od_t2_exit), deallocations and the
 * eval breaker's handler (both keep every register), a global's lookup when the dicts
 * changed. */
#include "lir.h"

#include "../../asm/codemem.h"
#include "../../asm/x64.h"
#include "../../runtime/helpers.h"
#include "../rt/exit.h"
#include "../rt/helpers.h"
#include "../rt/attr.h"
#include "../rt/call_thunk.h"
#include "internal/pycore_moduleobject.h"   /* PyModuleObject.md_dict */

#include <math.h>
#include <stdlib.h>
#include <string.h>

const int od_lir_gprs[] = {OD_R12, OD_R13, OD_R14, OD_R15, OD_RBP,
                           OD_RSI, OD_RDI, OD_R8, OD_R9, OD_R10, OD_R11};
const int od_lir_ngprs = 11, od_lir_ncallee_saved = 5;
const int od_lir_xmms[] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
const int od_lir_nxmms = 14;

#define OFF_LOCALS ((int32_t)offsetof(_PyInterpreterFrame, localsplus))
#define OFF_PREV ((int32_t)offsetof(_PyInterpreterFrame, prev_instr))
#define OFF_FRAME_OBJ ((int32_t)offsetof(_PyInterpreterFrame, frame_obj))
#define OFF_GLOBALS ((int32_t)offsetof(_PyInterpreterFrame, f_globals))
#define OFF_BUILTINS ((int32_t)offsetof(_PyInterpreterFrame, f_builtins))
#define OFF_VERSION ((int32_t)offsetof(PyDictObject, ma_version_tag))
#define OFF_TYPE ((int32_t)offsetof(PyObject, ob_type))
#define OFF_SIZE ((int32_t)offsetof(PyVarObject, ob_size))
#define OFF_LIST_ITEMS ((int32_t)offsetof(PyListObject, ob_item))
#define OFF_DIGIT0 ((int32_t)offsetof(PyLongObject, ob_digit))
#define OFF_FVAL ((int32_t)offsetof(PyFloatObject, ob_fval))
#define OFF_VALUES (-4 * (int32_t)sizeof(PyObject *))   /* _PyObject_ValuesPointer */
#define R_FRAME OD_RBX

typedef struct {
    int kind;           /* 0 dealloc, 1 poll, 2 global lookup, 3 ForIter's other results,
                         * 4 a new inline value's insertion order, 5 a float allocated,
                         * 6 an int allocated, 7 an instance-dict store off its hint */
    OdLabel label, back;
    int reg;            /* dealloc: the object; insertion order: the value's index;
                         * float, int: the vreg of its value; dict store: the owner's */
    int reg2;           /* dict store: the vreg of the value */
    long long imm;      /* dict store: the dict's offset (0: managed) */
    int exit;           /* poll, global, ForIter: error exit */
    PyObject *name;     /* global: the name */
    const OdT2GlobalSite *site; /* global: its cache */
    int target;         /* ForIter: the block taken when the iterator is exhausted */
    uint32_t live_gprs, live_xmms; /* registers holding a value live at the instruction
                         * (bit per register number): what an out-of-line call saves */
} Stub;

typedef struct {
    OdAsm a;
    OdLir *L;
    OdLabel *blabel, *xlabel;
    OdLabel epilogue, exit_common, entry_exit;
    Stub *stubs;
    int nstubs, capstubs;
    int frame;
    int next_block;     /* the block laid out after the current one */
    int pos;            /* the position (regalloc) of the instruction being emitted */
    const OdLirInstr *next_ins;     /* the one after it in its block, or NULL */
    OdLabel after_trace;            /* >= 0: bound after the next TraceCheck (a CallH's
                                     * in-line hit goes past it: no Python code ran) */
    int skip_next;                  /* next_ins was emitted with this one (a Truth's CondJump) */
    /* The outgoing area's first two slots hold vregs out_held[0..1] (a LoadMethod's results,
     * which every road of it leaves there) when instruction out_held_for is emitted: the
     * one right after it, past a TraceCheck; a CallMethod there does not store them again. */
    int out_held[2];
    const OdLirInstr *out_held_for;
    /* The registers live at a stub's position, found by a sweep rather than a loop over
     * every vreg per stub (11 M instructions of a 208 M stress run): the vregs in
     * registers by interval start (by_start, made at the first stub), the next of them
     * not yet seen, those seen whose interval may still cover later positions (active),
     * and the position of the last query (an earlier one starts the sweep again). */
    int *by_start, nby, next_start, *active, nactive, swept_pos;
} Cg;

static int32_t out_off(int k) { return OD_LIR_OFF_OUT + 8 * k; }

static OdReg gin(Cg *c, int v, OdReg scratch)
{
    const OdLirVreg *r = &c->L->vregs[v];
    if (r->reg >= 0)
        return (OdReg)r->reg;
    od_mov_rm(&c->a, scratch, OD_RSP, od_lir_spill_off(c->L, r->slot));
    return scratch;
}

static void gout(Cg *c, int v, OdReg src)
{
    const OdLirVreg *r = &c->L->vregs[v];
    if (v < 0)
        return;
    if (r->reg >= 0) {
        if (r->reg != (int)src)
            od_mov_rr(&c->a, (OdReg)r->reg, src);
    } else {
        od_mov_mr(&c->a, OD_RSP, od_lir_spill_off(c->L, r->slot), src);
    }
}

/* Where an instruction may put the value of vreg v (a general one) itself: its register,
 * or `scratch` for a spilled one (or none: v < 0), which gout then stores. */
static OdReg dst_reg(Cg *c, int v, OdReg scratch)
{
    if (v < 0 || c->L->vregs[v].reg < 0)
        return scratch;
    return (OdReg)c->L->vregs[v].reg;
}

static int xin(Cg *c, int v, int scratch)
{
    const OdLirVreg *r = &c->L->vregs[v];
    if (r->reg >= 0)
        return r->reg;
    od_movsd_xm(&c->a, scratch, OD_RSP, od_lir_spill_off(c->L, r->slot));
    return scratch;
}

/* xmm register an instruction may compute vreg v (a float one) in itself: its own, or
 * `scratch` for a spilled one, which xout then stores. */
static int xdst(Cg *c, int v, int scratch)
{
    int reg = c->L->vregs[v].reg;
    return reg >= 0 ? reg : scratch;
}

static void xout(Cg *c, int v, int src)
{
    const OdLirVreg *r = &c->L->vregs[v];
    if (r->reg >= 0) {
        if (r->reg != src)
            od_movapd_xx(&c->a, r->reg, src);
    } else {
        od_movsd_mx(&c->a, OD_RSP, od_lir_spill_off(c->L, r->slot), src);
    }
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Brings c->active to the vregs in registers whose interval may cover pos (a superset:
 * the caller tests each). Positions mostly grow from one stub to the next (blocks are
 * emitted in position order); a smaller one sweeps again from the start. -1: no memory. */
static int live_at(Cg *c, int pos)
{
    const OdLir *L = c->L;
    if (!c->by_start) {
        /* (start, vreg) pairs sorted as one number; a start below 0 sorts as 0, which
         * changes nothing: pos is never negative here */
        uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)(L->nvregs + 1));
        c->by_start = malloc(sizeof(int) * 2 * (size_t)(L->nvregs + 1));
        if (!keys || !c->by_start) {
            free(keys);
            free(c->by_start);
            c->by_start = NULL;
            return -1;
        }
        c->active = c->by_start + L->nvregs + 1;
        for (int v = 0; v < L->nvregs; v++)
            if (L->vregs[v].reg >= 0 && L->vregs[v].start <= L->vregs[v].end && L->vregs[v].end >= 0)
                keys[c->nby++] = (uint64_t)(uint32_t)(L->vregs[v].start < 0 ? 0 : L->vregs[v].start) << 32
                                 | (uint32_t)v;
        qsort(keys, (size_t)c->nby, sizeof(uint64_t), u64_cmp);
        for (int k = 0; k < c->nby; k++)
            c->by_start[k] = (int)(uint32_t)keys[k];
        free(keys);
        c->swept_pos = pos;
    }
    if (pos < c->swept_pos)
        c->next_start = c->nactive = 0;
    c->swept_pos = pos;
    int n = 0;
    for (int k = 0; k < c->nactive; k++)
        if (L->vregs[c->active[k]].end >= pos)
            c->active[n++] = c->active[k];
    c->nactive = n;
    for (; c->next_start < c->nby && L->vregs[c->by_start[c->next_start]].start <= pos; c->next_start++)
        if (L->vregs[c->by_start[c->next_start]].end >= pos)
            c->active[c->nactive++] = c->by_start[c->next_start];
    return 0;
}

static Stub *stub(Cg *c, int kind)
{
    if (c->nstubs == c->capstubs) {
        int cap = c->capstubs ? 2 * c->capstubs : 16;
        Stub *p = realloc(c->stubs, sizeof *p * (size_t)cap);
        if (!p) {
            c->a.failed = 1;
            return NULL;
        }
        c->stubs = p;
        c->capstubs = cap;
    }
    Stub *s = &c->stubs[c->nstubs++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->label = od_label_new(&c->a);
    s->back = od_label_new(&c->a);
    /* A value whose interval covers the instruction may be needed after it (or by its
     * exit); the others are dead or not yet made there, and their registers need no
     * saving around the stub's call (intervals are conservative: one range each). */
    if (c->pos < 0) {               /* not at an instruction: everything */
        s->live_gprs = s->live_xmms = ~0u;
        return s;
    }
    if (live_at(c, c->pos) < 0) {
        c->a.failed = 1;
        return NULL;
    }
    for (int k = 0; k < c->nactive; k++) {
        const OdLirVreg *r = &c->L->vregs[c->active[k]];
        if (r->start <= c->pos && c->pos <= r->end) {
            if (r->cls == OD_VR_XMM)
                s->live_xmms |= 1u << r->reg;
            else
                s->live_gprs |= 1u << r->reg;
        }
    }
    return s;
}

/* Caller-saved allocatable registers to the dump area and back (around an out-of-line
 * call): those in the masks (bit per register number; ~0u: all). */
static void save_volatile_of(Cg *c, int restore, uint32_t gprs, uint32_t xmms)
{
    for (int g = od_lir_ncallee_saved; g < od_lir_ngprs; g++) {
        int r = od_lir_gprs[g];
        if (!(gprs >> r & 1))
            continue;
        if (restore)
            od_mov_rm(&c->a, (OdReg)r, OD_RSP, OD_LIR_OFF_DUMP + 8 * r);
        else
            od_mov_mr(&c->a, OD_RSP, OD_LIR_OFF_DUMP + 8 * r, (OdReg)r);
    }
    for (int x = 0; x < od_lir_nxmms; x++) {
        int r = od_lir_xmms[x];
        if (!(xmms >> r & 1))
            continue;
        if (restore)
            od_movsd_xm(&c->a, r, OD_RSP, OD_LIR_OFF_DUMP + 128 + 8 * r);
        else
            od_movsd_mx(&c->a, OD_RSP, OD_LIR_OFF_DUMP + 128 + 8 * r, r);
    }
}

static void save_volatile(Cg *c, int restore) { save_volatile_of(c, restore, ~0u, ~0u); }

/* Around a stub's call: only what is live at its instruction. */
static void save_live(Cg *c, const Stub *s, int restore)
{
    save_volatile_of(c, restore, s->live_gprs, s->live_xmms);
}

/* The out-of-line allocation of a BoxFloat (kind 5) or BoxInt (kind 6): its value's vreg
 * and its error exit. */
static Stub *box_stub(Cg *c, const OdLirInstr *i, int kind)
{
    Stub *s = stub(c, kind);
    if (s) {
        s->reg = i->src[0];
        s->exit = i->exit;
    }
    return s;
}

/* BoxFloat's road in line: rax = a float holding the double in vreg `v`, popped from the
 * interpreter's free list as PyFloat_FromDouble does (3.11: the list is linked through
 * ob_type; float is no heap type); to `slow` when the list is empty, tracemalloc traces (a
 * reused object must be reported to it) or the build counts references (_Py_RefTotal, the
 * object list of Py_TRACE_REFS). */
static void float_from_free_list_x(Cg *c, int xmm, OdLabel slow);

static void float_from_free_list(Cg *c, int v, OdLabel slow)
{
    float_from_free_list_x(c, xin(c, v, 0), slow);
}

/* The same for a double already in register `xmm` (not xmm0's clobberers: rax, rcx, rdx
 * only are written). */
static void float_from_free_list_x(Cg *c, int xmm, OdLabel slow)
{
    OdAsm *a = &c->a;
#if PyFloat_MAXFREELIST > 0 && !defined(Py_REF_DEBUG) && !defined(Py_TRACE_REFS)
    struct _Py_float_state *fs = &PyInterpreterState_Get()->float_state;
    int32_t numfree = (int32_t)offsetof(struct _Py_float_state, numfree),
            list = (int32_t)offsetof(struct _Py_float_state, free_list);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&_Py_tracemalloc_config.tracing);
    od_cmp32_mi(a, OD_RCX, 0, 0);
    od_jcc(a, OD_CC_NE, slow);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)fs);
    od_mov_rm(a, OD_RAX, OD_RCX, list);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, slow);
    od_mov_rm(a, OD_RDX, OD_RAX, OFF_TYPE);             /* the next free float */
    od_mov_mr(a, OD_RCX, list, OD_RDX);
    od_add32_mi(a, OD_RCX, numfree, -1);
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)&PyFloat_Type);
    od_mov_mr(a, OD_RAX, OFF_TYPE, OD_RDX);
    od_mov_mi(a, OD_RAX, 0, 1);                          /* ob_refcnt */
    od_movsd_mx(a, OD_RAX, OFF_FVAL, xmm);
#else
    (void)xmm;
    od_jmp(a, slow);
#endif
}

/* BoxFloat with a value that dies at it (src[1], lower.c reuse_dying_float; imm2 bit 0:
 * it may be NULL, bit 1: its container holds it too and gets the box back): when that is
 * an exact float with the code's reference its only one (besides the container's), the double
 * goes into it and rax = it with one more reference (the release after the box drops the
 * dying value's), then to `back`; else the free list's road, to `slow` as there. */
static void float_into_dying(Cg *c, const OdLirInstr *i, OdLabel slow, OdLabel back)
{
    OdAsm *a = &c->a;
    OdLabel fresh = od_label_new(a);
    int x = xin(c, i->src[0], 0);
    OdReg r = gin(c, i->src[1], OD_RCX);
    /* while tracemalloc traces, the free list's road reports a reused float to it
     * (_Py_NewReference): so does this one, by not being taken */
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&_Py_tracemalloc_config.tracing);
    od_cmp32_mi(a, OD_RAX, 0, 0);
    od_jcc(a, OD_CC_NE, slow);
    if (i->imm2 & 1) {
        od_test_rr(a, r, r);
        od_jcc(a, OD_CC_E, fresh);
    }
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyFloat_Type);
    od_cmp_rm(a, OD_RAX, r, OFF_TYPE);
    od_jcc(a, OD_CC_NE, fresh);
    od_cmp_mi(a, r, 0, i->imm2 & 2 ? 2 : 1);             /* ob_refcnt: nobody else's */
    od_jcc(a, OD_CC_NE, fresh);
    od_movsd_mx(a, r, OFF_FVAL, x);
    od_add_mi(a, r, 0, 1);
    od_mov_rr(a, OD_RAX, r);
    od_jmp(a, back);
    od_label_bind(a, fresh);
    float_from_free_list_x(c, x, slow);
}

/* BoxInt's road in line: rax = the small int (-5..256) of the int64 in vreg `v` from the
 * runtime's cache, with its count taken (Py_INCREF), as PyLong_FromLongLong returns it; to
 * `slow` outside the cache, or when the build counts references. */
static void small_int_from_cache(Cg *c, int v, OdLabel slow)
{
    OdAsm *a = &c->a;
#if !defined(Py_REF_DEBUG)
    _Static_assert(sizeof(PyLongObject) == 32, "a small int is 32 bytes: the shift below");
    od_lea(a, OD_RAX, gin(c, v, OD_RAX), _PY_NSMALLNEGINTS);
    od_cmp_ri(a, OD_RAX, _PY_NSMALLNEGINTS + _PY_NSMALLPOSINTS);
    od_jcc(a, OD_CC_AE, slow);                           /* unsigned: outside the cache */
    od_shl_ri(a, OD_RAX, 5);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&_PyLong_SMALL_INTS[0]);
    od_add_rr(a, OD_RAX, OD_RCX);
    od_add_mi(a, OD_RAX, 0, 1);
#else
    (void)v;
    od_jmp(a, slow);
#endif
}

/* A dead object (`obj`: not rax, rcx or rdx) that is an exact float goes back to the
 * interpreter's free list as float_dealloc puts it there, then to `back`, with no call and
 * no register saved (nbody frees a float per store into a list); anything else, or a full
 * list (or one finalized: numfree -1), falls through to _Py_Dealloc. PyFloat_FromDouble
 * and BoxFloat take them from there. */
static void float_to_free_list(Cg *c, OdReg obj, OdLabel back)
{
#if PyFloat_MAXFREELIST > 0 && !defined(Py_TRACE_REFS)
    OdAsm *a = &c->a;
    OdLabel other = od_label_new(a);
    struct _Py_float_state *fs = &PyInterpreterState_Get()->float_state;
    int32_t numfree = (int32_t)offsetof(struct _Py_float_state, numfree),
            list = (int32_t)offsetof(struct _Py_float_state, free_list);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&PyFloat_Type);
    od_cmp_rm(a, OD_RCX, obj, OFF_TYPE);
    od_jcc(a, OD_CC_NE, other);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)fs);
    od_cmp32_mi(a, OD_RCX, numfree, PyFloat_MAXFREELIST - 1);
    od_jcc(a, OD_CC_A, other);                  /* unsigned: full, or -1 */
    od_add32_mi(a, OD_RCX, numfree, 1);
    od_mov_rm(a, OD_RDX, OD_RCX, list);
    od_mov_mr(a, obj, OFF_TYPE, OD_RDX);        /* the list is linked through ob_type */
    od_mov_mr(a, OD_RCX, list, obj);
    od_jmp(a, back);
    od_label_bind(a, other);
#else
    (void)c, (void)obj, (void)back;
#endif
}

/* Write-back (lir.h): every allocatable register to the dump area, od_t2_sync(frame,
 * unit, exit, rsp), the caller-saved registers back; its exit on failure (MemoryError). */
static void sync_call(Cg *c, int exit)
{
    OdAsm *a = &c->a;
    for (int g = 0; g < od_lir_ncallee_saved; g++)
        od_mov_mr(a, OD_RSP, OD_LIR_OFF_DUMP + 8 * od_lir_gprs[g], (OdReg)od_lir_gprs[g]);
    save_volatile(c, 0);
    od_mov_rr(a, OD_RDI, R_FRAME);
    od_mov_rm(a, OD_RSI, OD_RSP, OD_LIR_OFF_UNIT);
    od_mov_ri(a, OD_RDX, exit);
    od_mov_rr(a, OD_RCX, OD_RSP);
    od_call_abs(a, od_t2_sync);
    od_test32_rr(a, OD_RAX, OD_RAX);
    save_volatile(c, 1);                /* movs: the flags stay */
    od_jcc(a, OD_CC_NE, c->xlabel[exit]);
}

/* Write-back without the C call, when no value needs boxing (objects, constants, arguments
 * read from the frame, bools): what od_t2_sync does, inline. Each changed local is stored
 * with its new reference and its old value kept in the outgoing area (lower.c makes room:
 * the call's operands are stored there after the write-back); the old values are released
 * last, so a finalizer sees the frame written back. 0 when a value needs boxing (the caller
 * then calls od_t2_sync). An argument's value (OD_XV_LOCAL) is read from its slot after
 * earlier stores: no write-back stores another value there (lower.c makes such an argument
 * an owned vreg, OD_XV_BOXED). */
static int sync_inline(Cg *c, int exit)
{
    OdAsm *a = &c->a;
    const OdLirExit *x = &c->L->exits[exit];
    for (int j = 0; j < x->nsync; j++) {
        int kind = x->slots[x->sync[j]].kind;
        if (kind == OD_XV_CINT || kind == OD_XV_CDOUBLE)
            return 0;
    }
    for (int j = 0; j < x->nsync; j++) {
        const OdLirVal *v = &x->slots[x->sync[j]];
        int32_t at = OFF_LOCALS + 8 * x->sync[j];
        OdLabel skip = od_label_new(a), next = od_label_new(a), no = od_label_new(a);
        OdReg r = OD_RCX;
        switch (v->kind) {
        case OD_XV_BOXED: r = gin(c, v->vreg, OD_RCX); break;
        case OD_XV_CONST: od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)v->obj); break;
        case OD_XV_LOCAL: od_mov_rm(a, OD_RCX, R_FRAME, OFF_LOCALS + 8 * v->local); break;
        case OD_XV_CBOOL:
            r = gin(c, v->vreg, OD_RCX);
            od_test_rr(a, r, r);
            od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)Py_False);   /* movs: the flags stay */
            od_jcc(a, OD_CC_E, no);
            od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)Py_True);
            od_label_bind(a, no);
            r = OD_RCX;
            break;
        default: od_mov_ri(a, OD_RCX, 0); break;               /* OD_XV_NULL */
        }
        od_mov_rm(a, OD_RAX, R_FRAME, at);
        od_cmp_rr(a, OD_RAX, r);
        od_jcc(a, OD_CC_E, skip);                  /* the frame has it already */
        if (v->kind == OD_XV_BOXED || v->kind == OD_XV_NULL) {
            OdLabel null = od_label_new(a);
            od_test_rr(a, r, r);
            od_jcc(a, OD_CC_E, null);
            od_add_mi(a, r, 0, 1);
            od_label_bind(a, null);
        } else {
            od_add_mi(a, r, 0, 1);
        }
        od_mov_mr(a, R_FRAME, at, r);
        od_mov_mr(a, OD_RSP, out_off(j), OD_RAX);
        od_jmp(a, next);
        od_label_bind(a, skip);
        od_mov_mi(a, OD_RSP, out_off(j), 0);
        od_label_bind(a, next);
    }
    for (int j = 0; j < x->nsync; j++) {
        Stub *s = stub(c, 0);
        if (!s)
            return 1;
        s->reg = OD_RAX;
        od_mov_rm(a, OD_RAX, OD_RSP, out_off(j));
        od_test_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_E, s->back);
        od_sub_mi(a, OD_RAX, 0, 1);
        od_jcc(a, OD_CC_E, s->label);
        od_label_bind(a, s->back);
    }
    return 1;
}

static OdCond int_cc(long long cmp)
{
    switch (cmp) {
    case Py_LT: return OD_CC_L;
    case Py_LE: return OD_CC_LE;
    case Py_EQ: return OD_CC_E;
    case Py_NE: return OD_CC_NE;
    case Py_GT: return OD_CC_G;
    default: return OD_CC_GE;
    }
}

static void helper_call(Cg *c, const void *fn, long long imm, PyObject *obj)
{
    od_mov_rr(&c->a, OD_RDI, R_FRAME);
    od_lea(&c->a, OD_RSI, OD_RSP, out_off(0));
    od_mov_ri(&c->a, OD_RDX, imm);
    od_mov_ri(&c->a, OD_RCX, (int64_t)(intptr_t)obj);
    od_call_abs(&c->a, fn);
}

/* frame->prev_instr = the code unit of instruction index `index` (the interpreter's). */
static void set_prev(Cg *c, long long index)
{
    od_mov_ri(&c->a, OD_RAX, (int64_t)(intptr_t)(_PyCode_CODE(c->L->code) + index));
    od_mov_mr(&c->a, R_FRAME, OFF_PREV, OD_RAX);
}

static void store_arg(Cg *c, int v, int k)
{
    if (c->L->vregs[v].cls == OD_VR_XMM)
        od_movsd_mx(&c->a, OD_RSP, out_off(k), xin(c, v, 0));
    else
        od_mov_mr(&c->a, OD_RSP, out_off(k), gin(c, v, OD_RAX));
}

/* The label a jump to block b may take instead: past blocks that hold nothing but a Jump
 * (the empty blocks of split edges), each a jmp of its own at run time. */
static OdLabel block_label(Cg *c, int b)
{
    for (int hops = 0; hops < 8; hops++) {
        const OdLirBlock *k = &c->L->blocks[b];
        if (k->n != 1 || k->ins[0].op != OD_LOP_Jump || k->ins[0].target[0] == b)
            break;
        b = k->ins[0].target[0];
    }
    return c->blabel[b];
}

static void jump_to_block(Cg *c, int b)
{
    if (b != c->next_block)
        od_jmp(&c->a, block_label(c, b));
}

/* The hit paths of a generic LoadAttr's or LoadMethod's site (rt/attr.c) in line: the
 * reads od_t2_load_attr and od_t2_load_method make of the site's entries themselves
 * (what tier 1's inline paths do), without the call. go's objects keep their attributes
 * in dicts, richards' Task methods meet four classes: millions of such executions a run.
 *
 * rdx = the entry for the receiver's type (as `site + x - e0` for entry address x, so one
 * set of offsets serves entry 0 and the entries of `more`) at its current version, with
 * rax = the receiver and rcx = its type; else `slow`. A class object's entries are keyed
 * by the class (the helper's road). The receiver is the outgoing area's args[0]. */
static void attr_entry_inline_m(Cg *c, const OdT2AttrSite *site, OdLabel slow, OdLabel module);

static void attr_entry_inline(Cg *c, const OdT2AttrSite *site, OdLabel slow)
{
    attr_entry_inline_m(c, site, slow, -1);
}

/* The same, but a MODULE_VALUE entry (keyed by the module type, with no type version: the
 * module dict's version proves the value) goes to `module` (when >= 0) before the version
 * test, with rax = the receiver and rdx = the entry. */
static void attr_entry_inline_m(Cg *c, const OdT2AttrSite *site, OdLabel slow, OdLabel module)
{
    OdAsm *a = &c->a;
    int32_t e0 = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, cache);
    int32_t more = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, more);
    int32_t more_site = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, more_site);
    int32_t type = (int32_t)offsetof(OdAttrCache, type);
    OdLabel found = od_label_new(a), not_first = od_label_new(a);
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)site);
    od_cmp_rm(a, OD_RCX, OD_RDX, e0 + type);
    od_jcc(a, OD_CC_NE, not_first);
    od_label_bind(a, found);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&PyType_Type);
    od_cmp_rr(a, OD_RCX, OD_RSI);
    od_jcc(a, OD_CC_E, slow);
    if (module >= 0) {
        od_cmp32_mi(a, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, kind), OD_ATTR_MODULE_VALUE);
        od_jcc(a, OD_CC_E, module);
    }
    od_mov32_rm(a, OD_RSI, OD_RCX, (int32_t)offsetof(PyTypeObject, tp_version_tag));
    od_cmp32_rm(a, OD_RSI, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, type_version));
    od_jcc(a, OD_CC_NE, slow);
    /* out of the hot path's way: entries 1.. (od_attr_more: valid while more_site is the
     * site itself) */
    OdLabel after = od_label_new(a);
    od_jmp(a, after);
    od_label_bind(a, not_first);
    od_mov_rm(a, OD_R8, OD_RDX, more);
    od_test_rr(a, OD_R8, OD_R8);
    od_jcc(a, OD_CC_E, slow);
    od_cmp_rm(a, OD_RDX, OD_RDX, more_site);
    od_jcc(a, OD_CC_NE, slow);
    for (int k = 0; k < OD_ATTR_WAYS - 1; k++) {
        int32_t at = k * (int32_t)sizeof(OdAttrCache);
        OdLabel next = od_label_new(a);
        od_cmp_rm(a, OD_RCX, OD_R8, at + type);
        od_jcc(a, OD_CC_NE, next);
        od_lea(a, OD_RDX, OD_R8, at - e0);
        od_jmp(a, found);
        od_label_bind(a, next);
    }
    od_jmp(a, slow);
    od_label_bind(a, after);
}

/* The site's ways (rt/attr.h OdT2AttrWay, from tier 1's record of the receiver types it
 * met), in line before its own entries: per way, a compare of the receiver type's version
 * tag with the way's as an immediate, then the access with the index, offset or method as
 * immediates, so a hit reads nothing from the site (as tier 1's built-in entries,
 * tier1/fast_attr.c). What no way covers, or a way's access that finds nothing to do
 * in line (a deleted attribute, values moved to a dict, a new attribute, a last
 * reference), goes on to `miss`: the site's entries and the helper, as before, never a
 * deopt. A hit: the helper's results (LoadAttr: rax = a new reference; LoadMethod:
 * args[0] the method, args[1] the receiver, new references; StoreAttr: stored, rax = 0)
 * and `done`. A hit counts under the site's reason, as every execution of a generic
 * instruction does (stats()["tier2"]["generic_attr"]: two instructions), but not as
 * "inline" (the site's own entries) nor as a miss. `recv` >= 0: the receiver's vreg, not
 * stored yet (rax keeps it to `miss`, which stores it); else args[0]. `past` (the CallH,
 * when a TraceCheck follows it): a hit stores its results and jumps to c->after_trace
 * instead of `done`. */
static void callh_results(Cg *c, const OdLirInstr *i);

static void attr_chain(Cg *c, const OdT2AttrSite *site, const void *helper, OdLabel miss,
                       OdLabel done, int recv, const OdLirInstr *past)
{
    OdAsm *a = &c->a;
    int method = helper == (const void *)od_t2_load_method;
    int store = helper == (const void *)od_t2_store_attr;
    OdLabel have = od_label_new(a), no_old = od_label_new(a);
    if (recv >= 0) {
        /* the receiver from its vreg, not stored yet: rax is kept to `miss`, which
         * stores it */
        OdReg r = gin(c, recv, OD_RAX);
        if (r != OD_RAX)
            od_mov_rr(a, OD_RAX, r);
    } else {
        od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
    }
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    for (int k = 0; k < site->nways; k++) {
        const OdT2AttrWay *w = &site->ways[k];
        OdLabel next = k + 1 < site->nways ? od_label_new(a) : miss;
        od_cmp32_mi(a, OD_RCX, (int32_t)offsetof(PyTypeObject, tp_version_tag),
                    (int32_t)w->type_version);
        od_jcc(a, OD_CC_NE, next);
        if (method) {
            /* rsi = the method, which nothing on the instance shadows */
            if (w->kind == OD_ATTR_METHOD_SHARED_KEYS) {
                od_cmp_mi(a, OD_RAX, OFF_VALUES, 0);
                od_jcc(a, OD_CC_E, miss);
                od_mov_rm(a, OD_RSI, OD_RCX, (int32_t)offsetof(PyHeapTypeObject, ht_cached_keys));
                od_test_rr(a, OD_RSI, OD_RSI);
                od_jcc(a, OD_CC_E, miss);
                od_cmp_mi(a, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries),
                          (int32_t)w->keys_nentries);
                od_jcc(a, OD_CC_NE, miss);
            }
            od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)w->method);
        } else if (store) {
            /* rsi = the address of the value, r8 = the old value (NULL: an empty slot) */
            if (w->kind == OD_ATTR_SLOT) {
                od_lea(a, OD_RSI, OD_RAX, (int32_t)w->index);
                od_mov_rm(a, OD_R8, OD_RSI, 0);
                od_test_rr(a, OD_R8, OD_R8);
                od_jcc(a, OD_CC_E, no_old);
            } else {
                od_mov_rm(a, OD_RDX, OD_RAX, OFF_VALUES);
                od_test_rr(a, OD_RDX, OD_RDX);
                od_jcc(a, OD_CC_E, miss);
                od_lea(a, OD_RSI, OD_RDX, 8 * (int32_t)w->index);
                od_mov_rm(a, OD_R8, OD_RSI, 0);
                od_test_rr(a, OD_R8, OD_R8);
                od_jcc(a, OD_CC_E, miss);           /* a new attribute: the insertion order */
            }
        } else {
            /* rdx = the value, or NULL */
            if (w->kind == OD_ATTR_SLOT) {
                od_mov_rm(a, OD_RDX, OD_RAX, (int32_t)w->index);
            } else {
                od_mov_rm(a, OD_RDX, OD_RAX, OFF_VALUES);
                od_test_rr(a, OD_RDX, OD_RDX);
                od_jcc(a, OD_CC_E, miss);
                od_mov_rm(a, OD_RDX, OD_RDX, 8 * (int32_t)w->index);
            }
        }
        if (k + 1 < site->nways) {
            od_jmp(a, have);
            od_label_bind(a, next);
        }
    }
    od_label_bind(a, have);
    if (method) {
        od_add_mi(a, OD_RSI, 0, 1);
        od_mov_mr(a, OD_RSP, out_off(0), OD_RSI);
        od_add_mi(a, OD_RAX, 0, 1);
        od_mov_mr(a, OD_RSP, out_off(1), OD_RAX);
    } else if (store) {
        /* the old value keeps a reference after the store (else the helper frees it): no
         * finalizer runs here */
        od_cmp_mi(a, OD_R8, 0, 1);
        od_jcc(a, OD_CC_LE, miss);
        od_label_bind(a, no_old);
        od_mov_rm(a, OD_R9, OD_RSP, out_off(1));
        od_add_mi(a, OD_R9, 0, 1);
        od_mov_mr(a, OD_RSI, 0, OD_R9);
        OdLabel released = od_label_new(a);
        od_test_rr(a, OD_R8, OD_R8);
        od_jcc(a, OD_CC_E, released);
        od_sub_mi(a, OD_R8, 0, 1);
        od_label_bind(a, released);
        od_xor32_rr(a, OD_RAX, OD_RAX);
    } else {
        od_test_rr(a, OD_RDX, OD_RDX);
        od_jcc(a, OD_CC_E, miss);           /* deleted or empty: the helper raises */
        od_add_mi(a, OD_RDX, 0, 1);
        od_mov_rr(a, OD_RAX, OD_RDX);
    }
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_t2_generic_attr[site->why]);
    od_add_mi(a, OD_RCX, 0, 1);
    if (past) {
        /* `past` (the CallH) is followed by a TraceCheck: its results stored here, then
         * past the check (c->after_trace), one jump instead of two */
        callh_results(c, past);
        od_jmp(a, c->after_trace);
    } else {
        od_jmp(a, done);
    }
}

/* keys = the keys of the dict in `dict` (which may be NULL) when it is an exact, combined
 * dict of str keys; else `fail`. `tmp` is clobbered; `keys` may be `dict`. */
static void unicode_dict_keys(OdAsm *a, OdReg dict, OdReg keys, OdReg tmp, OdLabel fail)
{
    od_test_rr(a, dict, dict);
    od_jcc(a, OD_CC_E, fail);
    od_mov_ri(a, tmp, (int64_t)(intptr_t)&PyDict_Type);
    od_cmp_rm(a, tmp, dict, OFF_TYPE);
    od_jcc(a, OD_CC_NE, fail);
    od_cmp_mi(a, dict, (int32_t)offsetof(PyDictObject, ma_values), 0);
    od_jcc(a, OD_CC_NE, fail);
    od_mov_rm(a, keys, dict, (int32_t)offsetof(PyDictObject, ma_keys));
    od_cmp8_mi(a, keys, (int32_t)offsetof(PyDictKeysObject, dk_kind), DICT_KEYS_UNICODE);
    od_jcc(a, OD_CC_NE, fail);
}

/* base = the keys in `keys` plus the size of their index table (1 << dk_log2_index_bytes
 * bytes): entry k is at base + offsetof(dk_indices) + 16 * k. Clobbers rcx (the count). */
static void unicode_entries_base(OdAsm *a, OdReg keys, OdReg base)
{
    od_movzx8_rm(a, OD_RCX, keys, (int32_t)offsetof(PyDictKeysObject, dk_log2_index_bytes));
    od_mov_ri(a, base, 1);
    od_shl_cl(a, base);
    od_add_rr(a, base, keys);
}

/* The instance dict of the object in rax, for the attribute entry of the site in rdx (at
 * the entry's dictoffset, or the managed dict slot when the inline values are gone), into
 * `dict`, and its keys into `keys` when it is an exact, combined dict of str keys; else
 * `slow`. Clobbers rsi and r8; `dict` and `keys` may be rsi. */
static void instance_dict_keys(OdAsm *a, int32_t e0, OdReg dict, OdReg keys, OdLabel slow)
{
    OdLabel at_offset = od_label_new(a);
    od_mov_rm(a, OD_RSI, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, dictoffset));
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_NE, at_offset);
    od_cmp_mi(a, OD_RAX, OFF_VALUES, 0);
    od_jcc(a, OD_CC_NE, slow);
    od_mov_ri(a, OD_RSI, -3 * (int64_t)sizeof(PyObject *));      /* the managed dict slot */
    od_label_bind(a, at_offset);
    od_add_rr(a, OD_RSI, OD_RAX);
    od_mov_rm(a, dict, OD_RSI, 0);
    unicode_dict_keys(a, dict, keys, OD_R8, slow);
}

/* r9 = the entry at the site entry's `index` (a field of rdx) of the str keys in rsi, less
 * the entries' offset it returns (dk_indices), when the index is below dk_nentries and the
 * entry's key is the site's name; else `slow`. Clobbers rcx, r8, r10. */
static int32_t hint_entry(OdAsm *a, const OdT2AttrSite *site, int32_t index, OdLabel slow)
{
    od_mov_rm(a, OD_R8, OD_RDX, index);
    od_cmp_rm(a, OD_R8, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries));
    od_jcc(a, OD_CC_GE, slow);
    unicode_entries_base(a, OD_RSI, OD_R9);
    _Static_assert(sizeof(PyDictUnicodeEntry) == 16, "entry stride");
    od_shl_ri(a, OD_R8, 4);
    od_add_rr(a, OD_R9, OD_R8);
    int32_t entries = (int32_t)offsetof(PyDictKeysObject, dk_indices);
    od_mov_ri(a, OD_R10, (int64_t)(intptr_t)site->site.name);
    od_cmp_rm(a, OD_R10, OD_R9, entries + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
    od_jcc(a, OD_CC_NE, slow);
    return entries;
}

/* LoadAttr: the entry (attr_entry_inline) is an instance attribute in inline values, a
 * __slots__ member or an entry of the instance's own dict (DICT_HINT: what the
 * interpreter's LOAD_ATTR_WITH_HINT checks), and the value is there: rax = a new reference,
 * then `done`; else `slow` with nothing changed but scratch registers. */
static void attr_load_inline(Cg *c, const OdT2AttrSite *site, OdLabel slow, OdLabel done)
{
    OdAsm *a = &c->a;
    int32_t e0 = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, cache);
    int32_t kind = e0 + (int32_t)offsetof(OdAttrCache, kind);
    int32_t index = e0 + (int32_t)offsetof(OdAttrCache, index);
    OdLabel have = od_label_new(a), not_values = od_label_new(a), not_slot = od_label_new(a);
    /* a module's attribute (sites that met modules, or nothing yet): the value the entry
     * holds while the module dict's version is the entry's (od_t2_load_attr's test) */
    int modules = site->why == OD_ATTR_WHY_MODULE || site->why == OD_ATTR_WHY_NO_FEEDBACK;
    OdLabel module = modules ? od_label_new(a) : -1;
    if (site->why == OD_ATTR_WHY_CLASS || site->why == OD_ATTR_WHY_NO_FEEDBACK) {
        /* a class's own attribute (deltablue's Strength.REQUIRED, Direction.FORWARD; 3.11
         * does not specialize LOAD_ATTR on a class, so without tier 1's site such a site
         * has no feedback): entry 0, keyed by the class itself, while the class's version
         * is the entry's (CLASS_VALUE: the same object at each load, held by the class's
         * dict) */
        OdLabel not_class = od_label_new(a);
        od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
        od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&PyType_Type);
        od_cmp_rm(a, OD_RSI, OD_RAX, OFF_TYPE);
        od_jcc(a, OD_CC_NE, not_class);
        od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)site);
        od_cmp_rm(a, OD_RAX, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, type));
        od_jcc(a, OD_CC_NE, slow);
        od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_CLASS_VALUE);
        od_jcc(a, OD_CC_NE, slow);
        od_mov32_rm(a, OD_RSI, OD_RAX, (int32_t)offsetof(PyTypeObject, tp_version_tag));
        od_cmp32_rm(a, OD_RSI, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, type_version));
        od_jcc(a, OD_CC_NE, slow);
        od_mov_rm(a, OD_RCX, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, value));
        od_jmp(a, have);
        od_label_bind(a, not_class);
    }
    attr_entry_inline_m(c, site, slow, module);
    /* inline values: values[index], the values still in use */
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_INSTANCE_VALUE);
    od_jcc(a, OD_CC_NE, not_values);
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_VALUES);
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, slow);
    od_mov_rm(a, OD_RSI, OD_RDX, index);
    od_shl_ri(a, OD_RSI, 3);
    od_add_rr(a, OD_RSI, OD_RCX);
    od_mov_rm(a, OD_RCX, OD_RSI, 0);
    od_jmp(a, have);
    od_label_bind(a, not_values);
    /* a __slots__ member: the object's pointer at byte `index` */
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_SLOT);
    od_jcc(a, OD_CC_NE, not_slot);
    od_mov_rm(a, OD_RSI, OD_RDX, index);
    od_add_rr(a, OD_RSI, OD_RAX);
    od_mov_rm(a, OD_RCX, OD_RSI, 0);
    od_jmp(a, have);
    od_label_bind(a, not_slot);
    /* DICT_HINT: the instance's dict (managed: the values gone; else at tp_dictoffset) is
     * an exact, combined dict of str keys whose entry `index` has the name as its key */
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_DICT_HINT);
    od_jcc(a, OD_CC_NE, slow);
    instance_dict_keys(a, e0, OD_RSI, OD_RSI, slow);
    int32_t entries = hint_entry(a, site, index, slow);
    od_mov_rm(a, OD_RCX, OD_R9, entries + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
    if (modules) {
        od_jmp(a, have);
        od_label_bind(a, module);
        od_mov_rm(a, OD_RSI, OD_RAX, (int32_t)offsetof(PyModuleObject, md_dict));
        od_test_rr(a, OD_RSI, OD_RSI);
        od_jcc(a, OD_CC_E, slow);
        od_mov_rm(a, OD_RSI, OD_RSI, OFF_VERSION);
        od_cmp_rm(a, OD_RSI, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, dict_version));
        od_jcc(a, OD_CC_NE, slow);
        od_mov_rm(a, OD_RCX, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, value));
    }
    od_label_bind(a, have);
    /* rcx = the value, NULL when deleted or empty (the helper's road then raises or finds
     * a class attribute) */
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, slow);
    od_add_mi(a, OD_RCX, 0, 1);
    od_add32_mi(a, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, hits), 1);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&od_t2_generic_attr[site->why]);
    od_add_mi(a, OD_RSI, 0, 1);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&od_t2_generic_attr_inline);
    od_add_mi(a, OD_RSI, 0, 1);
    od_mov_rr(a, OD_RAX, OD_RCX);
    od_jmp(a, done);
}

/* StoreAttr: the entry (attr_entry_inline) is an existing instance attribute in inline
 * values, a __slots__ member or an existing entry of the instance dict (DICT_HINT), and
 * the old value (if any) keeps a reference after the store: store args[1] (a new
 * reference), release the old one (not its last: nothing is freed, no finalizer runs, so
 * no SetPrev or lends are needed), rax = 0, then `done`. A new attribute (the insertion
 * order), a last reference and every other kind go on to the helper's call. richards'
 * polymorphic `self.x = ...` stores: 18.5 M instructions of od_t2_store_attr in
 * `richards 3`; go's stores into instance dicts: 533 K in `go 1`. */
/* Whether a generic StoreAttr site may meet inline values, slots or instance dicts: a
 * module's or class's never hits (the entry lookup before the call would be pure cost). */
static int store_inline_worth(const OdLirInstr *i)
{
    const OdT2AttrSite *site = (const OdT2AttrSite *)(intptr_t)i->imm;
    return site && (site->why == OD_ATTR_WHY_POLYMORPHIC || site->why == OD_ATTR_WHY_NO_FEEDBACK
                    || site->why == OD_ATTR_WHY_NO_SPECULATE || site->why == OD_ATTR_WHY_DICT);
}

static void attr_store_inline(Cg *c, const OdT2AttrSite *site, OdLabel slow, OdLabel done)
{
    OdAsm *a = &c->a;
    int32_t e0 = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, cache);
    int32_t kind = e0 + (int32_t)offsetof(OdAttrCache, kind);
    int32_t index = e0 + (int32_t)offsetof(OdAttrCache, index);
    OdLabel not_values = od_label_new(a), have = od_label_new(a), no_old = od_label_new(a);
    OdLabel not_slot = od_label_new(a);
    attr_entry_inline(c, site, slow);
    /* rsi = the address of the value */
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_INSTANCE_VALUE);
    od_jcc(a, OD_CC_NE, not_values);
    od_mov_rm(a, OD_RCX, OD_RAX, OFF_VALUES);
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, slow);
    od_mov_rm(a, OD_RSI, OD_RDX, index);
    od_shl_ri(a, OD_RSI, 3);
    od_add_rr(a, OD_RSI, OD_RCX);
    od_mov_rm(a, OD_R8, OD_RSI, 0);
    od_test_rr(a, OD_R8, OD_R8);
    od_jcc(a, OD_CC_E, slow);                   /* a new attribute: the insertion order */
    od_jmp(a, have);
    od_label_bind(a, not_values);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_SLOT);
    od_jcc(a, OD_CC_NE, not_slot);
    od_mov_rm(a, OD_RSI, OD_RDX, index);
    od_add_rr(a, OD_RSI, OD_RAX);
    od_mov_rm(a, OD_R8, OD_RSI, 0);
    od_test_rr(a, OD_R8, OD_R8);
    od_jcc(a, OD_CC_E, no_old);
    od_jmp(a, have);
    /* DICT_HINT: over the value of the instance dict's entry `index` (the dict as the load
     * finds it: attr_load_inline), what STORE_ATTR_WITH_HINT does: the entry has the name
     * as its key and a value, the dict is tracked by the GC already or the value needs no
     * tracking (else the helper, which tracks it), and it gets a new version tag (rt/attr.h
     * od_t2_dict_version) */
    od_label_bind(a, not_slot);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_DICT_HINT);
    od_jcc(a, OD_CC_NE, slow);
    instance_dict_keys(a, e0, OD_RDI, OD_RSI, slow);
    int32_t entries = hint_entry(a, site, index, slow);
    od_lea(a, OD_RSI, OD_R9, entries + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
    od_mov_rm(a, OD_R8, OD_RSI, 0);
    od_test_rr(a, OD_R8, OD_R8);
    od_jcc(a, OD_CC_E, slow);                   /* deleted: a new key for the dict's insert */
    od_cmp_mi(a, OD_R8, 0, 1);
    od_jcc(a, OD_CC_LE, slow);                  /* the last reference: the helper frees it */
    /* a dict the GC does not track (only atomic values so far) stays so for a value of a
     * type without GC; any other value goes to the helper, which tracks the dict */
    OdLabel tracked = od_label_new(a);
    od_cmp_mi(a, OD_RDI, -(int32_t)sizeof(PyGC_Head) + (int32_t)offsetof(PyGC_Head, _gc_next), 0);
    od_jcc(a, OD_CC_NE, tracked);
    od_mov_rm(a, OD_R9, OD_RSP, out_off(1));
    od_mov_rm(a, OD_R9, OD_R9, OFF_TYPE);
    od_mov32_rm(a, OD_R9, OD_R9, (int32_t)offsetof(PyTypeObject, tp_flags));
    od_mov_ri(a, OD_R10, Py_TPFLAGS_HAVE_GC);
    od_and_rr(a, OD_R9, OD_R10);
    od_jcc(a, OD_CC_NE, slow);
    od_label_bind(a, tracked);
    od_mov_ri(a, OD_R10, (int64_t)(intptr_t)&od_t2_dict_version);
    od_mov_rm(a, OD_R11, OD_R10, 0);
    od_add_ri(a, OD_R11, 1);
    od_mov_mr(a, OD_R10, 0, OD_R11);
    od_mov_mr(a, OD_RDI, OFF_VERSION, OD_R11);
    od_jmp(a, no_old);                          /* r8 = the old value, released there */
    od_label_bind(a, have);
    od_cmp_mi(a, OD_R8, 0, 1);
    od_jcc(a, OD_CC_LE, slow);                  /* the last reference: the helper frees it */
    od_label_bind(a, no_old);
    od_mov_rm(a, OD_R9, OD_RSP, out_off(1));
    od_add_mi(a, OD_R9, 0, 1);
    od_mov_mr(a, OD_RSI, 0, OD_R9);
    od_test_rr(a, OD_R8, OD_R8);
    OdLabel released = od_label_new(a);
    od_jcc(a, OD_CC_E, released);
    od_sub_mi(a, OD_R8, 0, 1);
    od_label_bind(a, released);
    od_add32_mi(a, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, hits), 1);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&od_t2_generic_attr[site->why]);
    od_add_mi(a, OD_RSI, 0, 1);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&od_t2_generic_attr_inline);
    od_add_mi(a, OD_RSI, 0, 1);
    od_xor32_rr(a, OD_RAX, OD_RAX);
    od_jmp(a, done);
}

/* LoadMethod: the entry (attr_entry_inline) is a method of the type that nothing on the
 * instance can shadow: METHOD_NO_DICT, or METHOD_SHARED_KEYS with the inline values in use
 * and the type's shared keys still of the entry's size (od_t2_load_method's tests).
 * args[0] = the method, args[1] = the receiver (new references), rax = 0, then `done`;
 * else `slow`. */
/* How many slots of the instance dict's index table the in-line METHOD_WITH_DICT test
 * probes before it leaves the question to the helper (a small instance dict is at most
 * two thirds full: the first probe finds an empty slot most of the time). */
#define METHOD_DICT_PROBES 3

/* Whether a generic LoadMethod site may meet METHOD_WITH_DICT entries (instances with a
 * materialized __dict__: go's objects), so its in-line path also probes the dict: the
 * feedback said so, or said nothing. */
static int method_dict_inline_worth(const OdT2AttrSite *site)
{
    return site->why == OD_ATTR_WHY_METHOD_WITH_DICT || site->why == OD_ATTR_WHY_NO_FEEDBACK
           || site->why == OD_ATTR_WHY_NO_SPECULATE;
}

/* METHOD_WITH_DICT in line (rax = the receiver, rdx = the entry, as attr_entry_inline
 * leaves them; both kept): `hit` when the instance dict (managed, the inline values gone,
 * or at the entry's dictoffset) is an exact, combined dict of str keys with one-byte
 * indices (at most 128 slots) whose index table, probed the way the dict probes it for
 * the name's hash, reaches an empty slot within METHOD_DICT_PROBES probes past keys that
 * are neither the name nor of its hash (keys of a unicode dict are exact strs: equal strs
 * have equal hashes, so such a key is not the name): the name is not in the dict, nothing
 * shadows the method. Anything else (no dict, a key of that hash, more probes): `slow`,
 * the helper's full test (od_rt_method_entry_hit). The probe sequence does not depend on
 * the table's size but through the mask (i = (5i + perturb + 1) & mask keeps the low bits
 * of the unmasked sequence), so it is computed here, one 64-bit constant a probe. */
static void method_dict_lacks_inline(Cg *c, const OdT2AttrSite *site, Py_hash_t hash,
                                     OdLabel slow, OdLabel hit)
{
    OdAsm *a = &c->a;
    int32_t e0 = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, cache);
    int32_t indices = (int32_t)offsetof(PyDictKeysObject, dk_indices);
    instance_dict_keys(a, e0, OD_RSI, OD_RSI, slow);
    /* one-byte indices: log2 of the index table's bytes = log2 of its slots */
    od_movzx8_rm(a, OD_RCX, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_log2_size));
    od_movzx8_rm(a, OD_R8, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_log2_index_bytes));
    od_cmp_rr(a, OD_RCX, OD_R8);
    od_jcc(a, OD_CC_NE, slow);
    od_mov_ri(a, OD_R9, 1);
    od_shl_cl(a, OD_R9);
    od_lea(a, OD_R10, OD_R9, 0);
    od_add_rr(a, OD_R10, OD_RSI);               /* the entries, less dk_indices */
    od_sub_ri(a, OD_R9, 1);                     /* the mask */
    od_mov_ri(a, OD_RDI, (int64_t)(intptr_t)site->site.name);
    od_mov_ri(a, OD_R11, (int64_t)hash);
    size_t perturb = (size_t)hash, j = (size_t)hash;
    _Static_assert(sizeof(PyDictUnicodeEntry) == 16, "entry stride");
    for (int k = 0; k < METHOD_DICT_PROBES; k++) {
        OdLabel next = od_label_new(a);
        od_mov_ri(a, OD_R8, (int64_t)j);
        od_and_rr(a, OD_R8, OD_R9);
        od_add_rr(a, OD_R8, OD_RSI);
        od_movzx8_rm(a, OD_RCX, OD_R8, indices);
        od_cmp_ri(a, OD_RCX, (uint8_t)DKIX_EMPTY);
        od_jcc(a, OD_CC_E, hit);
        od_cmp_ri(a, OD_RCX, 0x80);
        od_jcc(a, OD_CC_AE, next);              /* DKIX_DUMMY: a deleted entry's slot */
        od_shl_ri(a, OD_RCX, 4);
        od_add_rr(a, OD_RCX, OD_R10);
        od_mov_rm(a, OD_RCX, OD_RCX, indices + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
        od_cmp_rr(a, OD_RCX, OD_RDI);
        od_jcc(a, OD_CC_E, slow);               /* the name: shadowed */
        od_cmp_rm(a, OD_R11, OD_RCX, (int32_t)offsetof(PyASCIIObject, hash));
        od_jcc(a, OD_CC_E, slow);               /* of its hash: maybe an equal str */
        od_label_bind(a, next);
        perturb >>= 5;
        j = j * 5 + perturb + 1;
    }
    od_jmp(a, slow);
}

static void attr_method_inline(Cg *c, const OdT2AttrSite *site, OdLabel slow, OdLabel done)
{
    OdAsm *a = &c->a;
    int32_t e0 = (int32_t)offsetof(OdT2AttrSite, site) + (int32_t)offsetof(OdAttrSite, cache);
    int32_t kind = e0 + (int32_t)offsetof(OdAttrCache, kind);
    OdLabel hit = od_label_new(a), not_shared = od_label_new(a);
    Py_hash_t hash = -1;
    if (method_dict_inline_worth(site) && PyUnicode_CheckExact(site->site.name)
        && (hash = PyObject_Hash(site->site.name)) == -1)
        PyErr_Clear();                          /* (a str's hash cannot fail) */
    attr_entry_inline(c, site, slow);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_METHOD_NO_DICT);
    od_jcc(a, OD_CC_E, hit);
    od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_METHOD_SHARED_KEYS);
    od_jcc(a, OD_CC_NE, hash != -1 ? not_shared : slow);
    od_cmp_mi(a, OD_RAX, OFF_VALUES, 0);
    od_jcc(a, OD_CC_E, slow);
    od_mov_rm(a, OD_RSI, OD_RCX, (int32_t)offsetof(PyHeapTypeObject, ht_cached_keys));
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_E, slow);
    od_mov_rm(a, OD_RSI, OD_RSI, (int32_t)offsetof(PyDictKeysObject, dk_nentries));
    od_cmp_rm(a, OD_RSI, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, keys_nentries));
    od_jcc(a, OD_CC_NE, slow);
    if (hash != -1) {
        od_jmp(a, hit);
        od_label_bind(a, not_shared);
        od_cmp32_mi(a, OD_RDX, kind, OD_ATTR_METHOD_WITH_DICT);
        od_jcc(a, OD_CC_NE, slow);
        method_dict_lacks_inline(c, site, hash, slow, hit);
    }
    od_label_bind(a, hit);
    od_mov_rm(a, OD_RCX, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, value));
    od_add_mi(a, OD_RCX, 0, 1);
    od_mov_mr(a, OD_RSP, out_off(0), OD_RCX);
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_mr(a, OD_RSP, out_off(1), OD_RAX);
    od_add32_mi(a, OD_RDX, e0 + (int32_t)offsetof(OdAttrCache, hits), 1);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&od_t2_generic_attr[site->why]);
    od_add_mi(a, OD_RSI, 0, 1);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)&od_t2_generic_attr_inline);
    od_add_mi(a, OD_RSI, 0, 1);
    od_jmp(a, done);
}

/* A GlobalLoad's versions did not hold (a module that writes its globals changes their
 * version at every write): the site's index of the name's entry in the globals (rt/helpers.h
 * OdT2GlobalSite), checked as od_t2_load_global checks it, in line: the globals an exact,
 * combined dict of str keys whose entry `globals_index` has the name as its key and a
 * value. rax = a new reference, then `back`; else on to the helper's call. Every
 * caller-saved register is free here (GlobalLoad is a call for the allocator). */
static void global_index_inline(Cg *c, const OdT2GlobalSite *site, PyObject *name, OdLabel back)
{
    OdAsm *a = &c->a;
    OdLabel call = od_label_new(a);
    int32_t entries = (int32_t)offsetof(PyDictKeysObject, dk_indices);
    od_mov_rm(a, OD_RAX, R_FRAME, OFF_GLOBALS);
    unicode_dict_keys(a, OD_RAX, OD_RDX, OD_RCX, call);
    od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)site);
    od_mov_rm(a, OD_RSI, OD_RSI, (int32_t)offsetof(OdT2GlobalSite, globals_index));
    od_test_rr(a, OD_RSI, OD_RSI);
    od_jcc(a, OD_CC_S, call);                   /* no index known */
    od_cmp_rm(a, OD_RSI, OD_RDX, (int32_t)offsetof(PyDictKeysObject, dk_nentries));
    od_jcc(a, OD_CC_GE, call);
    _Static_assert(sizeof(PyDictUnicodeEntry) == 16, "entry stride");
    od_shl_ri(a, OD_RSI, 4);
    unicode_entries_base(a, OD_RDX, OD_RAX);
    od_add_rr(a, OD_RSI, OD_RAX);               /* the entry, less dk_indices */
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)name);
    od_cmp_rm(a, OD_RCX, OD_RSI, entries + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
    od_jcc(a, OD_CC_NE, call);
    od_mov_rm(a, OD_RAX, OD_RSI, entries + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, call);
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_t2_global_loads[0]);
    od_add_mi(a, OD_RCX, 0, 1);
    od_add_mi(a, OD_RCX, 8, 1);                 /* [1]: served by the index */
    od_jmp(a, back);
    od_label_bind(a, call);
}

/* rcx = the index an exact int `idx` holds, for the list `list`: one digit (0 <= index <
 * 2**30; a negative or larger one exits: the interpreter handles it) and below the list's
 * size, else `exit`. Leaves both operand registers alone (rcx is scratch). */
static void list_index(Cg *c, OdReg idx, OdReg list, OdLabel exit)
{
    OdAsm *a = &c->a;
    OdLabel have = od_label_new(a);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&PyLong_Type);
    od_cmp_rm(a, OD_RCX, idx, OFF_TYPE);
    od_jcc(a, OD_CC_NE, exit);
    od_mov_rm(a, OD_RCX, idx, OFF_SIZE);
    od_cmp_ri(a, OD_RCX, 1);
    od_jcc(a, OD_CC_A, exit);                   /* unsigned: negative sizes too */
    od_jcc(a, OD_CC_NE, have);                  /* 0: the int 0 */
    od_mov32_rm(a, OD_RCX, idx, OFF_DIGIT0);
    od_label_bind(a, have);
    od_cmp_rm(a, OD_RCX, list, OFF_SIZE);
    od_jcc(a, OD_CC_GE, exit);
}

/* rcx = the address of item `idx` (an int64 in a register, or rcx) of the exact list in
 * `list` (not rcx or rdx); `exit` unless 0 <= idx < its size (one unsigned compare). */
static void unboxed_list_slot(Cg *c, OdReg idx, OdReg list, OdLabel exit)
{
    OdAsm *a = &c->a;
    od_cmp_rm(a, idx, list, OFF_SIZE);
    od_jcc(a, OD_CC_AE, exit);
    if (idx != OD_RCX)
        od_mov_rr(a, OD_RCX, idx);
    od_shl_ri(a, OD_RCX, 3);
    od_mov_rm(a, OD_RDX, list, OFF_LIST_ITEMS);
    od_add_rr(a, OD_RCX, OD_RDX);
}

/* BoxInt of an int64 in -5..256 (the outgoing area's args[0]): CPython's cached small int
 * (what PyLong_FromLongLong returns for it), a new reference in rax, then `done`; else on
 * to the helper's call. Loop counters, `x += 1` on small values, colors and flags: go boxed
 * 650 K such ints a run through the call. */
static void small_int_inline(Cg *c, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel big = od_label_new(a);
    _Static_assert(sizeof(PyLongObject) == 32, "small-int stride");
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
    od_lea(a, OD_RAX, OD_RAX, 5);
    od_cmp_ri(a, OD_RAX, 5 + 256);
    od_jcc(a, OD_CC_A, big);                    /* unsigned: outside -5..256 */
    od_shl_ri(a, OD_RAX, 5);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&_PyLong_SMALL_INTS[0]);
    od_add_rr(a, OD_RAX, OD_RCX);
    od_add_mi(a, OD_RAX, 0, 1);
    od_jmp(a, done);
    od_label_bind(a, big);
}

/* rax = 1 when `xa op xb` holds for doubles (op a Py_LT.. rich comparison; false for a NaN
 * but in Py_NE, as float's richcompare answers), else 0. Writes rcx. */
static void double_compare(OdAsm *a, int op, int xa, int xb)
{
    switch (op) {
    case Py_LT: od_ucomisd_xx(a, xb, xa); od_setcc_r(a, OD_CC_A, OD_RAX); break;
    case Py_LE: od_ucomisd_xx(a, xb, xa); od_setcc_r(a, OD_CC_AE, OD_RAX); break;
    case Py_GT: od_ucomisd_xx(a, xa, xb); od_setcc_r(a, OD_CC_A, OD_RAX); break;
    case Py_GE: od_ucomisd_xx(a, xa, xb); od_setcc_r(a, OD_CC_AE, OD_RAX); break;
    case Py_EQ:
        od_ucomisd_xx(a, xa, xb);
        od_setcc_r(a, OD_CC_E, OD_RAX);
        od_setcc_r(a, OD_CC_NP, OD_RCX);
        od_movzx8_rr(a, OD_RCX, OD_RCX);
        od_movzx8_rr(a, OD_RAX, OD_RAX);
        od_and_rr(a, OD_RAX, OD_RCX);
        break;
    default:
        od_ucomisd_xx(a, xa, xb);
        od_setcc_r(a, OD_CC_NE, OD_RAX);
        od_setcc_r(a, OD_CC_P, OD_RCX);
        od_movzx8_rr(a, OD_RCX, OD_RCX);
        od_movzx8_rr(a, OD_RAX, OD_RAX);
        od_or_rr(a, OD_RAX, OD_RCX);
        break;
    }
    od_movzx8_rr(a, OD_RAX, OD_RAX);
}

/* The operand at the outgoing area's args[k] as a double in xmm `x`: a float's value, or
 * a one-digit int's (exact: below 2**30), as float's number slots convert it; r9 = 1 for
 * a float (r9 starts at 0: set, not or-ed, since a float on either side is enough). Anything
 * else to `slow`. Writes rax, rdx, r8. */
static void number_operand_as_double(Cg *c, int k, int x, OdLabel slow)
{
    OdAsm *a = &c->a;
    OdLabel not_float = od_label_new(a), done = od_label_new(a);
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(k));
    od_mov_rm(a, OD_RDX, OD_RAX, OFF_TYPE);
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)&PyFloat_Type);
    od_cmp_rr(a, OD_RDX, OD_R8);
    od_jcc(a, OD_CC_NE, not_float);
    od_movsd_xm(a, x, OD_RAX, OFF_FVAL);
    od_mov_ri(a, OD_R9, 1);
    od_jmp(a, done);
    od_label_bind(a, not_float);
    od_mov_ri(a, OD_R8, (int64_t)(intptr_t)&PyLong_Type);
    od_cmp_rr(a, OD_RDX, OD_R8);
    od_jcc(a, OD_CC_NE, slow);
    od_mov_rm(a, OD_RDX, OD_RAX, OFF_SIZE);             /* -1, 0 or 1: one digit at most */
    od_lea(a, OD_R8, OD_RDX, 1);
    od_cmp_ri(a, OD_R8, 2);
    od_jcc(a, OD_CC_A, slow);                           /* unsigned: outside -1..1 */
    od_mov32_rm(a, OD_R8, OD_RAX, OFF_DIGIT0);
    od_imul_rr(a, OD_R8, OD_RDX);                       /* the sign; 0 for a zero size */
    od_cvtsi2sd_xr(a, x, OD_R8);
    od_label_bind(a, done);
}

/* The generic BinaryOp's `+ - * /` (in place too) of two numbers, each a float or a
 * one-digit int, in line: rax = the result, then `done`. A float on either side, or `/`:
 * the double operation (a one-digit int is exact as a double, as float's slots convert it;
 * two such ints divide as long_true_divide does, one correctly rounded division), the new
 * float from the free list. Two ints and `+ - *`: the int64 operation (it cannot overflow:
 * both are below 2**30 in magnitude), the small int from CPython's cache, or a new int
 * (PyLong_FromLong, what int's own slots return for that value; NULL is the site's error
 * exit with MemoryError set). Everything else (a zero divisor, bigger ints, other types,
 * an empty free list) on to the helper's call, with nothing changed but scratch registers.
 * Sites whose int and float operands alternate (raytrace's Vector arithmetic) are compiled
 * generic (passes/specialize.c stays_mixed, or after their guards kept failing); this
 * is the road they take, as tier 1's inline arithmetic does for them (od_rt_binary_numbers,
 * the helper's first step, computes the same). */
static int number_binary_sd_op(long long op)
{
    switch (op) {
    case NB_ADD: case NB_INPLACE_ADD: return OD_SD_ADD;
    case NB_SUBTRACT: case NB_INPLACE_SUBTRACT: return OD_SD_SUB;
    case NB_MULTIPLY: case NB_INPLACE_MULTIPLY: return OD_SD_MUL;
    case NB_TRUE_DIVIDE: case NB_INPLACE_TRUE_DIVIDE: return OD_SD_DIV;
    default: return -1;
    }
}

/* reused >= 0: the left operand dies here and is the code's to release (the `+` road of
 * od_t2_str_append below); a float result goes into it instead of a new float when it is
 * an exact float nobody else holds (count 1), then to `reused` with rax = it, its
 * reference the result's (nothing to release; lower.c reuse_dying_float's reasoning). */
static void number_binary_inline(Cg *c, OdSdOp sd, OdLabel done, OdLabel error,
                                 OdLabel reused)
{
    OdAsm *a = &c->a;
    OdLabel slow = od_label_new(a), ints = od_label_new(a);
    od_xor32_rr(a, OD_R9, OD_R9);
    number_operand_as_double(c, 0, 0, slow);
    od_mov_rr(a, OD_R10, OD_R8);                        /* the left int's value */
    number_operand_as_double(c, 1, 1, slow);
    if (sd != OD_SD_DIV) {
        od_test_rr(a, OD_R9, OD_R9);
        od_jcc(a, OD_CC_E, ints);                       /* two ints: an int result */
    } else {
        od_movq_rx(a, OD_RAX, 1);
        od_shl_ri(a, OD_RAX, 1);                        /* +0.0 or -0.0: the helper raises */
        od_jcc(a, OD_CC_E, slow);
    }
    od_sd_xx(a, sd, 0, 1);
    OdLabel count = od_label_new(a), in_left = od_label_new(a);
    if (reused >= 0) {
        OdLabel fresh = od_label_new(a);
        od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&PyFloat_Type);
        od_cmp_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
        od_jcc(a, OD_CC_NE, fresh);
        od_cmp_mi(a, OD_RAX, 0, 1);                      /* ob_refcnt: the code's alone */
        od_jcc(a, OD_CC_NE, fresh);
        od_movsd_mx(a, OD_RAX, OFF_FVAL, 0);
        od_jmp(a, in_left);
        od_label_bind(a, fresh);
    }
    float_from_free_list_x(c, 0, slow);
    od_label_bind(a, count);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_t2_stats.number_ops_inline);
    od_add_mi(a, OD_RCX, 0, 1);
    od_jmp(a, done);
    if (reused >= 0) {
        od_label_bind(a, in_left);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_t2_stats.number_ops_inline);
        od_add_mi(a, OD_RCX, 0, 1);
        od_jmp(a, reused);
    }
    od_label_bind(a, ints);
    if (sd != OD_SD_DIV) {
#if !defined(Py_REF_DEBUG)
        OdLabel big = od_label_new(a);
        od_mov_rr(a, OD_RAX, OD_R10);
        if (sd == OD_SD_ADD)
            od_add_rr(a, OD_RAX, OD_R8);
        else if (sd == OD_SD_SUB)
            od_sub_rr(a, OD_RAX, OD_R8);
        else
            od_imul_rr(a, OD_RAX, OD_R8);
        od_lea(a, OD_RCX, OD_RAX, _PY_NSMALLNEGINTS);
        od_cmp_ri(a, OD_RCX, _PY_NSMALLNEGINTS + _PY_NSMALLPOSINTS);
        od_jcc(a, OD_CC_AE, big);                       /* unsigned: outside the cache */
        od_shl_ri(a, OD_RCX, 5);                        /* a small int is 32 bytes */
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&_PyLong_SMALL_INTS[0]);
        od_add_rr(a, OD_RAX, OD_RCX);
        od_add_mi(a, OD_RAX, 0, 1);
        od_jmp(a, count);
        od_label_bind(a, big);
        /* a call: the CallH's own road calls too, so no value lives in a caller-saved
         * register here (lir/regalloc.c) */
        od_mov_rr(a, OD_RDI, OD_RAX);
        od_call_abs(a, (const void *)PyLong_FromLong);
        od_test_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_E, error);
        od_jmp(a, count);
#else
        (void)error;
#endif
    }
    od_label_bind(a, slow);
}

/* The generic Compare (< <= > >= == !=) of two numbers, each a float or a one-digit int,
 * in line: rax = True or False (a new reference), then `done`; everything else on to the
 * helper's call (PyObject_RichCompare). A one-digit int is exact as a double, so the
 * answer is float's and int's own (two such ints compare as their values do). raytrace's
 * `t < EPSILON` on values left generic, go's loop compares that never ran before tier 2
 * compiled them. */
static void number_compare_inline(Cg *c, int op, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel slow = od_label_new(a), no = od_label_new(a), have = od_label_new(a);
    number_operand_as_double(c, 0, 0, slow);
    number_operand_as_double(c, 1, 1, slow);
    double_compare(a, op, 0, 1);
    od_test_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, no);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)Py_True);
    od_jmp(a, have);
    od_label_bind(a, no);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)Py_False);
    od_label_bind(a, have);
    od_add_mi(a, OD_RAX, 0, 1);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_t2_stats.number_ops_inline);
    od_add_mi(a, OD_RCX, 0, 1);
    od_jmp(a, done);
    od_label_bind(a, slow);
}

/* `items` = the item array of `obj` if it is an exact tuple or list (its type read into
 * `type` first: no field of another layout is read), else on to `not_seq`. `items` serves
 * as scratch for the type constants. Shared by SeqItems and the in-line generic Subscr. */
static void emit_seq_items(OdAsm *a, OdReg obj, OdReg type, OdReg items, OdLabel not_seq)
{
    OdLabel list = od_label_new(a), have = od_label_new(a);
    od_mov_rm(a, type, obj, OFF_TYPE);
    od_mov_ri(a, items, (int64_t)(intptr_t)&PyTuple_Type);
    od_cmp_rr(a, type, items);
    od_jcc(a, OD_CC_NE, list);
    od_lea(a, items, obj, (int32_t)offsetof(PyTupleObject, ob_item));
    od_jmp(a, have);
    od_label_bind(a, list);
    od_mov_ri(a, items, (int64_t)(intptr_t)&PyList_Type);
    od_cmp_rr(a, type, items);
    od_jcc(a, OD_CC_NE, not_seq);
    od_mov_rm(a, items, obj, OFF_LIST_ITEMS);
    od_label_bind(a, have);
}

/* The generic Subscr of an exact list or tuple by an exact int in 0..2**30-1 within its
 * size, in line: rax = the item, a new reference, then `done`; anything else (negative or
 * bigger indexes, slices, other types) on to the helper's call (PyObject_GetItem). Sites
 * without feedback, or whose container alternated between lists and tuples (raytrace:
 * 368 K tuple subscripts through PyObject_GetItem, PyNumber_AsSsize_t and tuplesubscript
 * in `raytrace 3`). */
static void subscr_inline(Cg *c, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel slow = od_label_new(a);
    od_mov_rm(a, OD_RCX, OD_RSP, out_off(1));
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)&PyLong_Type);
    od_cmp_rm(a, OD_RDX, OD_RCX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, slow);
    od_mov_rm(a, OD_RDX, OD_RCX, OFF_SIZE);
    od_cmp_ri(a, OD_RDX, 1);
    od_jcc(a, OD_CC_A, slow);                           /* unsigned: not 0 or 1 digit */
    od_mov32_rm(a, OD_R8, OD_RCX, OFF_DIGIT0);
    od_imul_rr(a, OD_R8, OD_RDX);                       /* 0 for a zero size */
    /* r9 = the items of an exact tuple or list (the type first: no field read before) */
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
    emit_seq_items(a, OD_RAX, OD_RDX, OD_R9, slow);
    od_cmp_rm(a, OD_R8, OD_RAX, OFF_SIZE);
    od_jcc(a, OD_CC_AE, slow);                          /* past the end (sizes are >= 0) */
    od_shl_ri(a, OD_R8, 3);
    od_add_rr(a, OD_R8, OD_R9);
    od_mov_rm(a, OD_RAX, OD_R8, 0);
    od_add_mi(a, OD_RAX, 0, 1);
    od_jmp(a, done);
    od_label_bind(a, slow);
}

/* Not of True or False in line: rax = the other one, a new reference, then `done`; any
 * other operand (its truth may run Python code) on to the helper's call. richards'
 * `not self.task_holding`: 4.6 M calls of od_t2_not in `richards 3`. */
static void not_bool_inline(Cg *c, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel not_true = od_label_new(a), call = od_label_new(a);
    od_mov_rm(a, OD_RCX, OD_RSP, out_off(0));
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)Py_True);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)Py_False);
    od_cmp_rr(a, OD_RCX, OD_RDX);
    od_jcc(a, OD_CC_NE, not_true);
    od_add_mi(a, OD_RAX, 0, 1);
    od_jmp(a, done);
    od_label_bind(a, not_true);
    od_cmp_rr(a, OD_RCX, OD_RAX);
    od_jcc(a, OD_CC_NE, call);
    od_mov_rr(a, OD_RAX, OD_RDX);
    od_add_mi(a, OD_RAX, 0, 1);
    od_jmp(a, done);
    od_label_bind(a, call);
}

/* isinstance(x, cls) at a site the lowering gave od_t2_call_isinstance (args: the
 * callable, x, cls): while the callable is the builtin isinstance and x's type is cls
 * itself, True, as PyObject_IsInstance's first test answers (no __instancecheck__ is
 * asked), counted as the helper counts it; anything else goes on to the helper. */
static void isinstance_inline(Cg *c, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel call = od_label_new(a);
    od_mov_ri(a, OD_RCX,
              (int64_t)(intptr_t)_PyInterpreterState_GET()->callable_cache.isinstance);
    od_cmp_rm(a, OD_RCX, OD_RSP, out_off(0));
    od_jcc(a, OD_CC_NE, call);
    od_mov_rm(a, OD_RCX, OD_RSP, out_off(1));
    od_mov_rm(a, OD_RCX, OD_RCX, OFF_TYPE);
    od_cmp_rm(a, OD_RCX, OD_RSP, out_off(2));
    od_jcc(a, OD_CC_NE, call);
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&od_t2_stats.builtin_calls);
    od_add_mi(a, OD_RCX, 0, 1);
    od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)Py_True);
    od_add_mi(a, OD_RAX, 0, 1);
    od_jmp(a, done);
    od_label_bind(a, call);
}

/* FloatMath (OD_CHK_MATH): the C function called on the operand (args[0]) in xmm0, rax =
 * the result's bits; exit X where mathmodule.c's math_1 raises (the interpreter calls the
 * function again and raises): a NaN from a non-NaN (a domain error), an infinity from a
 * finite operand (a pole or an overflow). math_1's third test, errno set with a finite
 * result, adds nothing for these functions: glibc sets EDOM only with a NaN result and
 * ERANGE with an infinite one or, on an underflow, one below 1.5 in magnitude, which
 * is_error lets through; so errno is not read. */
static void math_call(Cg *c, const OdLirInstr *i, OdLabel X)
{
    OdAsm *a = &c->a;
    OdLabel not_nan = od_label_new(a), ok = od_label_new(a);
    od_movsd_xm(a, 0, OD_RSP, out_off(0));
    od_call_abs(a, i->ptr);
    od_movsd_xm(a, 1, OD_RSP, out_off(0));
    od_ucomisd_xx(a, 0, 0);
    od_jcc(a, OD_CC_NP, not_nan);
    od_ucomisd_xx(a, 1, 1);
    od_jcc(a, OD_CC_NP, X);                     /* NaN from a number */
    od_jmp(a, ok);
    od_label_bind(a, not_nan);
    od_movq_rx(a, OD_RAX, 0);                   /* |r| == inf: its bits shifted left are */
    od_shl_ri(a, OD_RAX, 1);                    /* 0xffe0000000000000 */
    od_mov_ri(a, OD_RDX, (int64_t)0xffe0000000000000ULL);
    od_cmp_rr(a, OD_RAX, OD_RDX);
    od_jcc(a, OD_CC_NE, ok);
    od_movq_rx(a, OD_RCX, 1);                   /* and x finite: below that, unsigned */
    od_shl_ri(a, OD_RCX, 1);
    od_cmp_rr(a, OD_RCX, OD_RDX);
    od_jcc(a, OD_CC_B, X);
    od_label_bind(a, ok);
    od_movq_rx(a, OD_RAX, 0);
}

/* FloatPow's common case in line (od_t2_float_pow's first test, on the bits of args[0] and
 * args[1]: a positive finite base other than 1.0, a finite nonzero exponent): libm's pow
 * called directly, rax = the result's bits, then `done` when it is 0 or a normal finite
 * number (glibc sets errno only with an infinite, a NaN, a zero or a subnormal result, so
 * _Py_ADJUST_ERANGE1 accepts these whatever errno says). Everything else, a subnormal or an
 * infinite result included, on to the helper's call, which computes it again with errno. */
static void pow_inline(Cg *c, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel call = od_label_new(a);
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
    od_lea(a, OD_RCX, OD_RAX, -1);
    od_mov_ri(a, OD_RDX, (int64_t)0x7fefffffffffffffLL);
    od_cmp_rr(a, OD_RCX, OD_RDX);
    od_jcc(a, OD_CC_AE, call);                  /* unsigned: 0, negative, inf, NaN */
    od_mov_ri(a, OD_RDX, (int64_t)0x3ff0000000000000LL);
    od_cmp_rr(a, OD_RAX, OD_RDX);
    od_jcc(a, OD_CC_E, call);                   /* 1.0 */
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(1));
    od_shl_ri(a, OD_RAX, 1);
    od_lea(a, OD_RAX, OD_RAX, -1);
    od_mov_ri(a, OD_RDX, (int64_t)0xffdfffffffffffffULL);
    od_cmp_rr(a, OD_RAX, OD_RDX);
    od_jcc(a, OD_CC_AE, call);                  /* +-0, inf, NaN */
    od_movsd_xm(a, 0, OD_RSP, out_off(0));
    od_movsd_xm(a, 1, OD_RSP, out_off(1));
    od_call_abs(a, (const void *)pow);
    od_movq_rx(a, OD_RAX, 0);
    od_mov_rr(a, OD_RCX, OD_RAX);
    od_shl_ri(a, OD_RCX, 1);
    od_test_rr(a, OD_RCX, OD_RCX);
    od_jcc(a, OD_CC_E, done);                   /* 0.0 */
    od_mov_ri(a, OD_RDX, (int64_t)0x0020000000000000LL);
    od_cmp_rr(a, OD_RCX, OD_RDX);
    od_jcc(a, OD_CC_B, call);                   /* subnormal */
    od_mov_ri(a, OD_RDX, (int64_t)0xffe0000000000000ULL);
    od_cmp_rr(a, OD_RCX, OD_RDX);
    od_jcc(a, OD_CC_B, done);                   /* normal and finite */
    od_label_bind(a, call);
}

/* UnboxNumber's double (od_t2_unbox_number) in line for an exact float and an exact int
 * of at most one digit (exact as a double): rax = its bits, then `done`; anything else on
 * to the helper's call. Every caller-saved register is free here (a call for the
 * allocator). */
static void unbox_number_inline(Cg *c, OdLabel done)
{
    OdAsm *a = &c->a;
    OdLabel not_float = od_label_new(a), call = od_label_new(a);
    od_mov_rm(a, OD_RCX, OD_RSP, out_off(0));
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)&PyFloat_Type);
    od_cmp_rm(a, OD_RDX, OD_RCX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, not_float);
    od_mov_rm(a, OD_RAX, OD_RCX, (int32_t)offsetof(PyFloatObject, ob_fval));
    od_jmp(a, done);
    od_label_bind(a, not_float);
    od_mov_ri(a, OD_RDX, (int64_t)(intptr_t)&PyLong_Type);
    od_cmp_rm(a, OD_RDX, OD_RCX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, call);
    od_mov_rm(a, OD_RDX, OD_RCX, OFF_SIZE);             /* -1, 0 or 1: the sign */
    od_lea(a, OD_RAX, OD_RDX, 1);
    od_cmp_ri(a, OD_RAX, 2);
    od_jcc(a, OD_CC_A, call);                           /* unsigned: more digits */
    od_mov32_rm(a, OD_RAX, OD_RCX, OFF_DIGIT0);
    od_imul_rr(a, OD_RAX, OD_RDX);
    od_cvtsi2sd_xr(a, 0, OD_RAX);
    od_movq_rx(a, OD_RAX, 0);
    od_jmp(a, done);
    od_label_bind(a, call);
}

/* ForIter's next item of a list iterator (the outgoing area's args[0]) with items left, in
 * line: what listiter_next does, rax = a new reference, then `have`; the exhausted one and
 * every other iterator on to the helper's call. Every caller-saved register is free here
 * (ForIter is a call for the allocator). */
static void list_next_inline(Cg *c, OdLabel have)
{
    OdAsm *a = &c->a;
    OdLabel call = od_label_new(a);
    od_mov_rm(a, OD_RAX, OD_RSP, out_off(0));
    od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&PyListIter_Type);
    od_cmp_rm(a, OD_RCX, OD_RAX, OFF_TYPE);
    od_jcc(a, OD_CC_NE, call);
    od_mov_rm(a, OD_RDX, OD_RAX, (int32_t)offsetof(OdT2ListIter, it_seq));
    od_test_rr(a, OD_RDX, OD_RDX);
    od_jcc(a, OD_CC_E, call);
    od_mov_rm(a, OD_RCX, OD_RAX, (int32_t)offsetof(OdT2ListIter, it_index));
    od_cmp_rm(a, OD_RCX, OD_RDX, OFF_SIZE);
    od_jcc(a, OD_CC_GE, call);                  /* exhausted: the helper lets the list go */
    od_lea(a, OD_RSI, OD_RCX, 1);
    od_mov_mr(a, OD_RAX, (int32_t)offsetof(OdT2ListIter, it_index), OD_RSI);
    od_mov_rm(a, OD_RDX, OD_RDX, OFF_LIST_ITEMS);
    od_shl_ri(a, OD_RCX, 3);
    od_add_rr(a, OD_RDX, OD_RCX);
    od_mov_rm(a, OD_RAX, OD_RDX, 0);
    od_add_mi(a, OD_RAX, 0, 1);
    od_jmp(a, have);
    od_label_bind(a, call);
}


/* rdx |= digit k of the int object in rax, shifted to its place (UnboxInt). */
static void or_digit(OdAsm *a, int k)
{
    od_mov32_rm(a, OD_RCX, OD_RAX, OFF_DIGIT0 + 4 * k);
    od_shl_ri(a, OD_RCX, 30 * k);
    od_or_rr(a, OD_RDX, OD_RCX);
}
/* A CallH's results to its vregs: rax, or the outgoing area's two slots (outs_in_args). */
/* vreg v = the outgoing area's slot k: one load into v's register */
static void gout_from_out(Cg *c, int v, int k)
{
    const OdLirVreg *r = &c->L->vregs[v];
    if (v < 0)
        return;
    if (r->reg >= 0) {
        od_mov_rm(&c->a, (OdReg)r->reg, OD_RSP, out_off(k));
    } else {
        od_mov_rm(&c->a, OD_RCX, OD_RSP, out_off(k));
        od_mov_mr(&c->a, OD_RSP, od_lir_spill_off(c->L, r->slot), OD_RCX);
    }
}

static void callh_results(Cg *c, const OdLirInstr *i)
{
    OdAsm *a = &c->a;
    if (i->outs_in_args) {
        gout_from_out(c, i->dst, 0);
        gout_from_out(c, i->dst2, 1);
        c->out_held[0] = i->dst;
        c->out_held[1] = i->dst2;
        c->out_held_for = c->next_ins;
    } else if (i->dst >= 0) {
        if (c->L->vregs[i->dst].cls == OD_VR_XMM) {
            od_movq_xr(a, 0, OD_RAX);
            xout(c, i->dst, 0);
        } else {
            gout(c, i->dst, OD_RAX);
        }
    }
}

static void emit_instr(Cg *c, const OdLirInstr *i)
{
    OdAsm *a = &c->a;
    OdLabel X = i->exit >= 0 ? c->xlabel[i->exit] : -1;
    OdReg r, q, d;
    int xa, xb, xd;
    switch (i->op) {
    case OD_LOP_LoadLocal:
        /* straight into the vreg's register (rax only for a spilled one) */
        d = dst_reg(c, i->dst, OD_RAX);
        od_mov_rm(a, d, R_FRAME, OFF_LOCALS + 8 * (int32_t)i->imm);
        gout(c, i->dst, d);
        break;
    case OD_LOP_StoreLocal:
        r = gin(c, i->src[0], OD_RDX);
        d = dst_reg(c, i->dst, OD_RAX);
        if (d == r)
            d = OD_RAX;
        od_mov_rm(a, d, R_FRAME, OFF_LOCALS + 8 * (int32_t)i->imm);
        od_mov_mr(a, R_FRAME, OFF_LOCALS + 8 * (int32_t)i->imm, r);
        gout(c, i->dst, d);
        break;
    case OD_LOP_Imm:
        if (c->L->vregs[i->dst].reg >= 0) {
            od_mov_ri(a, (OdReg)c->L->vregs[i->dst].reg, i->imm);
        } else {
            od_mov_ri(a, OD_RAX, i->imm);
            gout(c, i->dst, OD_RAX);
        }
        break;
    case OD_LOP_FImm:
        od_mov_ri(a, OD_RAX, i->imm);
        if (c->L->vregs[i->dst].reg >= 0)
            od_movq_xr(a, c->L->vregs[i->dst].reg, OD_RAX);
        else
            gout(c, i->dst, OD_RAX);
        break;
    case OD_LOP_Move:
        if (c->L->vregs[i->dst].cls == OD_VR_XMM)
            xout(c, i->dst, xin(c, i->src[0], 0));
        else
            gout(c, i->dst, gin(c, i->src[0], OD_RAX));
        break;
    case OD_LOP_IncRef: {
        OdLabel skip = od_label_new(a);
        r = gin(c, i->src[0], OD_RAX);
        if (i->imm) {
            od_test_rr(a, r, r);
            od_jcc(a, OD_CC_E, skip);
        }
        od_add_mi(a, r, 0, 1);
        od_label_bind(a, skip);
        break;
    }
    case OD_LOP_DecRef: {
        Stub *s = stub(c, 0);
        if (!s)
            return;
        r = gin(c, i->src[0], OD_RAX);
        s->reg = r;
        if (i->imm) {
            od_test_rr(a, r, r);
            od_jcc(a, OD_CC_E, s->back);
        }
        od_sub_mi(a, r, 0, 1);
        od_jcc(a, OD_CC_E, s->label);
        od_label_bind(a, s->back);
        break;
    }
    case OD_LOP_GuardInt: {
        /* |size| <= 2, or 3 with a top digit below 8 (|x| < 2**63: go's 63-bit Zobrist
         * keys), the int64 range UnboxInt reads */
        OdLabel ok = od_label_new(a), three = od_label_new(a);
        r = gin(c, i->src[0], OD_RAX);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)&PyLong_Type);
        od_cmp_rm(a, OD_RCX, r, OFF_TYPE);
        od_jcc(a, OD_CC_NE, X);
        od_mov_rm(a, OD_RCX, r, OFF_SIZE);
        od_add_ri(a, OD_RCX, 2);
        od_cmp_ri(a, OD_RCX, 4);
        od_jcc(a, OD_CC_BE, ok);
        od_cmp_ri(a, OD_RCX, 5);                   /* size 3 */
        od_jcc(a, OD_CC_E, three);
        od_cmp_ri(a, OD_RCX, -1);                  /* size -3 */
        od_jcc(a, OD_CC_NE, X);
        od_label_bind(a, three);
        od_cmp32_mi(a, r, OFF_DIGIT0 + 8, 8);
        od_jcc(a, OD_CC_AE, X);
        od_label_bind(a, ok);
        break;
    }
    case OD_LOP_GuardFloat: case OD_LOP_GuardList: case OD_LOP_GuardStr:
        r = gin(c, i->src[0], OD_RAX);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)(i->op == OD_LOP_GuardFloat ? &PyFloat_Type
                                                 : i->op == OD_LOP_GuardList ? &PyList_Type
                                                                             : &PyUnicode_Type));
        od_cmp_rm(a, OD_RCX, r, OFF_TYPE);
        od_jcc(a, OD_CC_NE, X);
        break;
    case OD_LOP_GuardNotNull:
        r = gin(c, i->src[0], OD_RAX);
        od_test_rr(a, r, r);
        od_jcc(a, OD_CC_E, X);
        break;
    case OD_LOP_GuardIs:
        r = gin(c, i->src[0], OD_RAX);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)i->ptr);
        od_cmp_rr(a, r, OD_RCX);
        od_jcc(a, OD_CC_NE, X);
        break;
    case OD_LOP_GuardVersion:
        r = gin(c, i->src[0], OD_RAX);
        od_mov_rm(a, OD_RCX, r, OFF_TYPE);
        od_cmp32_mi(a, OD_RCX, (int32_t)offsetof(PyTypeObject, tp_version_tag), (int32_t)i->imm);
        od_jcc(a, OD_CC_NE, X);
        break;
    case OD_LOP_GuardKeys:
        r = gin(c, i->src[0], OD_RAX);
        od_cmp_mi(a, r, OFF_VALUES, 0);             /* a materialized __dict__ may shadow */
        od_jcc(a, OD_CC_E, X);
        od_mov_rm(a, OD_RCX, r, OFF_TYPE);
        od_mov_rm(a, OD_RCX, OD_RCX, (int32_t)offsetof(PyHeapTypeObject, ht_cached_keys));
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, X);
        if (i->imm2)
            od_cmp32_mi(a, OD_RCX, (int32_t)offsetof(PyDictKeysObject, dk_version), (int32_t)i->imm);
        else
            od_cmp_mi(a, OD_RCX, (int32_t)offsetof(PyDictKeysObject, dk_nentries), (int32_t)i->imm);
        od_jcc(a, OD_CC_NE, X);
        break;
    case OD_LOP_LoadField:
        r = gin(c, i->src[0], OD_RAX);
        if (i->imm2 == 4) {
            /* the item at an unboxed int64 index: unsigned, so a negative one exits too */
            unboxed_list_slot(c, gin(c, i->src[1], OD_RCX), r, X);
            od_mov_rm(a, OD_RCX, OD_RCX, 0);
            gout(c, i->dst, OD_RCX);
            break;
        }
        if (i->imm2 == 3) {
            /* the item at a run-time index: rcx = the index, rdx its int */
            list_index(c, gin(c, i->src[1], OD_RDX), r, X);
            od_mov_rm(a, OD_RDX, r, OFF_LIST_ITEMS);
            od_shl_ri(a, OD_RCX, 3);
            od_add_rr(a, OD_RCX, OD_RDX);
            od_mov_rm(a, OD_RCX, OD_RCX, 0);
            gout(c, i->dst, OD_RCX);
            break;
        }
        if (i->imm2 == 2) {
            /* an item of an exact list: in range (ob_size > index), never NULL */
            od_cmp_mi(a, r, OFF_SIZE, (int32_t)i->imm);
            od_jcc(a, OD_CC_LE, X);
            od_mov_rm(a, OD_RCX, r, OFF_LIST_ITEMS);
            od_mov_rm(a, OD_RCX, OD_RCX, 8 * (int32_t)i->imm);
            gout(c, i->dst, OD_RCX);
            break;
        }
        if (i->imm2) {
            od_mov_rm(a, OD_RCX, r, OFF_VALUES);
            od_test_rr(a, OD_RCX, OD_RCX);
            od_jcc(a, OD_CC_E, X);
            od_mov_rm(a, OD_RCX, OD_RCX, 8 * (int32_t)i->imm);
        } else {
            od_mov_rm(a, OD_RCX, r, (int32_t)i->imm);
        }
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, X);
        gout(c, i->dst, OD_RCX);
        break;
    case OD_LOP_LoadDictEntry: {
        /* rcx = the dict, rdx = its keys; rax the entries' base (after the index table of
         * 1 << dk_log2_index_bytes bytes): three scratch registers, the owner read first */
        int32_t entry = (int32_t)offsetof(PyDictKeysObject, dk_indices)
                        + (int32_t)sizeof(PyDictUnicodeEntry) * (int32_t)i->imm;
        _Static_assert(sizeof(PyDictUnicodeEntry) == 16, "entry stride");
        r = gin(c, i->src[0], OD_RAX);
        if (i->imm2 == 0) {                     /* managed: the values gone */
            od_cmp_mi(a, r, OFF_VALUES, 0);
            od_jcc(a, OD_CC_NE, X);
            od_mov_rm(a, OD_RCX, r, -3 * (int32_t)sizeof(PyObject *));
        } else {
            od_mov_rm(a, OD_RCX, r, (int32_t)i->imm2);
        }
        unicode_dict_keys(a, OD_RCX, OD_RDX, OD_RAX, X);
        od_cmp_mi(a, OD_RDX, (int32_t)offsetof(PyDictKeysObject, dk_nentries), (int32_t)i->imm);
        od_jcc(a, OD_CC_LE, X);                 /* the entry is not in use */
        unicode_entries_base(a, OD_RDX, OD_RAX);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)i->obj);
        od_cmp_rm(a, OD_RCX, OD_RAX, entry + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
        od_jcc(a, OD_CC_NE, X);
        od_mov_rm(a, OD_RCX, OD_RAX, entry + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, X);
        gout(c, i->dst, OD_RCX);
        break;
    }
    case OD_LOP_StoreDictEntry: {
        /* LoadDictEntry's checks, then STORE_ATTR_WITH_HINT's: rcx = the dict, rdx = its
         * keys, then rax = the entries' base (rcx scratch). Anything else (another index, a
         * new key, a split dict, an untracked dict for a value with GC, the inline values
         * in use) is the stub's: the dict's own insert out of line (od_t2_store_dict_slow),
         * not an exit: go's objects gain keys as they go and keep them in orders of their
         * own. The version tag changes before the entry is checked: a store that then
         * goes out of line leaves the tag moved on twice, which costs a cache a miss only */
        int32_t entry = (int32_t)offsetof(PyDictKeysObject, dk_indices)
                        + (int32_t)sizeof(PyDictUnicodeEntry) * (int32_t)i->imm;
        Stub *st = stub(c, 7);
        if (!st)
            return;
        st->reg = i->src[0];
        st->reg2 = i->src[1];
        st->imm = i->imm2;
        st->name = i->obj;
        st->exit = i->exit;
        OdLabel slow = st->label;
        r = gin(c, i->src[0], OD_RAX);
        if (i->imm2 == 0) {                     /* managed: the values gone */
            od_cmp_mi(a, r, OFF_VALUES, 0);
            od_jcc(a, OD_CC_NE, slow);
            od_mov_rm(a, OD_RCX, r, -3 * (int32_t)sizeof(PyObject *));
        } else {
            od_mov_rm(a, OD_RCX, r, (int32_t)i->imm2);
        }
        unicode_dict_keys(a, OD_RCX, OD_RDX, OD_RAX, slow);
        od_cmp_mi(a, OD_RDX, (int32_t)offsetof(PyDictKeysObject, dk_nentries), (int32_t)i->imm);
        od_jcc(a, OD_CC_LE, slow);              /* the entry is not in use */
        /* an untracked dict (atomic values only) stays so for a value of a type without GC */
        OdLabel tracked = od_label_new(a);
        od_cmp_mi(a, OD_RCX, -(int32_t)sizeof(PyGC_Head) + (int32_t)offsetof(PyGC_Head, _gc_next), 0);
        od_jcc(a, OD_CC_NE, tracked);
        q = gin(c, i->src[1], OD_RAX);
        od_mov_rm(a, OD_RAX, q, OFF_TYPE);
        od_mov32_rm(a, OD_RAX, OD_RAX, (int32_t)offsetof(PyTypeObject, tp_flags));
        od_x64_alu_ri(a, 4, OD_RAX, Py_TPFLAGS_HAVE_GC);       /* and */
        od_jcc(a, OD_CC_NE, slow);
        od_label_bind(a, tracked);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&od_t2_dict_version);
        od_add_mi(a, OD_RAX, 0, 1);
        od_mov_rm(a, OD_RAX, OD_RAX, 0);
        od_mov_mr(a, OD_RCX, OFF_VERSION, OD_RAX);
        unicode_entries_base(a, OD_RDX, OD_RAX);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)i->obj);
        od_cmp_rm(a, OD_RCX, OD_RAX, entry + (int32_t)offsetof(PyDictUnicodeEntry, me_key));
        od_jcc(a, OD_CC_NE, slow);
        od_mov_rm(a, OD_RCX, OD_RAX, entry + (int32_t)offsetof(PyDictUnicodeEntry, me_value));
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, slow);               /* deleted: a new key for the dict's insert */
        q = gin(c, i->src[1], OD_RDX);
        od_mov_mr(a, OD_RAX, entry + (int32_t)offsetof(PyDictUnicodeEntry, me_value), q);
        od_mov_rr(a, OD_RAX, OD_RCX);
        od_label_bind(a, st->back);             /* rax = the old value (or NULL) */
        gout(c, i->dst, OD_RAX);
        break;
    }
    case OD_LOP_StoreField: {
        r = gin(c, i->src[0], OD_RAX);
        int32_t at = (int32_t)i->imm;
        if (i->imm2 == 4) {
            unboxed_list_slot(c, gin(c, i->src[2], OD_RCX), r, X);
            q = gin(c, i->src[1], OD_RDX);
            od_mov_rm(a, OD_RAX, OD_RCX, 0);
            od_mov_mr(a, OD_RCX, 0, q);
            gout(c, i->dst, OD_RAX);
            break;
        }
        if (i->imm2 == 3) {
            list_index(c, gin(c, i->src[2], OD_RDX), r, X);
            od_mov_rm(a, OD_RDX, r, OFF_LIST_ITEMS);
            od_shl_ri(a, OD_RCX, 3);
            od_add_rr(a, OD_RCX, OD_RDX);           /* rcx = the item's slot */
            q = gin(c, i->src[1], OD_RDX);
            od_mov_rm(a, OD_RAX, OD_RCX, 0);
            od_mov_mr(a, OD_RCX, 0, q);
            gout(c, i->dst, OD_RAX);
            break;
        }
        if (i->imm2 == 2) {
            od_cmp_mi(a, r, OFF_SIZE, (int32_t)i->imm);
            od_jcc(a, OD_CC_LE, X);
            od_mov_rm(a, OD_RCX, r, OFF_LIST_ITEMS);
            q = gin(c, i->src[1], OD_RDX);
            od_mov_rm(a, OD_RAX, OD_RCX, 8 * (int32_t)i->imm);
            od_mov_mr(a, OD_RCX, 8 * (int32_t)i->imm, q);
            gout(c, i->dst, OD_RAX);
            break;
        }
        if (i->imm2) {
            od_mov_rm(a, OD_RCX, r, OFF_VALUES);
            od_test_rr(a, OD_RCX, OD_RCX);
            od_jcc(a, OD_CC_E, X);
            r = OD_RCX;
            at = 8 * (int32_t)i->imm;
        }
        q = gin(c, i->src[1], OD_RDX);
        OdReg old = r == OD_RAX ? OD_RCX : OD_RAX;
        od_mov_rm(a, old, r, at);
        od_mov_mr(a, r, at, q);
        if (i->imm2 == 1) {
            /* a new attribute: its index goes into the values' insertion order, out of
             * line (rcx = the values) */
            Stub *s = stub(c, 4);
            if (!s)
                return;
            s->reg = (int)i->imm;
            od_test_rr(a, old, old);
            gout(c, i->dst, old);                   /* movs: the flags stay */
            od_jcc(a, OD_CC_E, s->label);
            od_label_bind(a, s->back);
        } else {
            gout(c, i->dst, old);
        }
        break;
    }
    case OD_LOP_GlobalLoad: {
        Stub *s = stub(c, 2);
        if (!s)
            return;
        s->exit = i->exit;
        s->name = i->obj;
        s->site = i->site;
        OdLabel slow = s->label, done = s->back;
        od_mov_rm(a, OD_RAX, R_FRAME, OFF_GLOBALS);
        od_mov_rm(a, OD_RAX, OD_RAX, OFF_VERSION);
        od_mov_ri(a, OD_RCX, i->imm);
        od_cmp_rr(a, OD_RAX, OD_RCX);
        od_jcc(a, OD_CC_NE, slow);
        if (i->imm2) {
            od_mov_rm(a, OD_RAX, R_FRAME, OFF_BUILTINS);
            od_mov_rm(a, OD_RAX, OD_RAX, OFF_VERSION);
            od_mov_ri(a, OD_RCX, i->imm2);
            od_cmp_rr(a, OD_RAX, OD_RCX);
            od_jcc(a, OD_CC_NE, slow);
        }
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)i->ptr);
        od_add_mi(a, OD_RAX, 0, 1);
        od_label_bind(a, done);
        gout(c, i->dst, OD_RAX);
        break;
    }
    case OD_LOP_UnboxInt: {
        /* value = d0 | d1 << 30 | d2 << 60, negated for a negative size (|size| <= 3, the
         * top digit below 8: guarded); the size picks the path, so rcx is free on it */
        OdLabel done = od_label_new(a), neg = od_label_new(a), pos3 = od_label_new(a);
        OdLabel neg3 = od_label_new(a), neg2 = od_label_new(a);
        r = gin(c, i->src[0], OD_RAX);
        if (r != OD_RAX)
            od_mov_rr(a, OD_RAX, r);
        od_mov_rm(a, OD_RCX, OD_RAX, OFF_SIZE);
        od_mov_ri(a, OD_RDX, 0);
        od_test_rr(a, OD_RCX, OD_RCX);
        od_jcc(a, OD_CC_E, done);
        od_mov32_rm(a, OD_RDX, OD_RAX, OFF_DIGIT0);
        od_cmp_ri(a, OD_RCX, 1);
        od_jcc(a, OD_CC_E, done);
        od_cmp_ri(a, OD_RCX, -1);
        od_jcc(a, OD_CC_E, neg);
        od_cmp_ri(a, OD_RCX, -2);
        od_jcc(a, OD_CC_E, neg2);
        od_cmp_ri(a, OD_RCX, 3);
        od_jcc(a, OD_CC_E, pos3);
        od_cmp_ri(a, OD_RCX, -3);
        od_jcc(a, OD_CC_E, neg3);
        /* size 2 */
        or_digit(a, 1);
        od_jmp(a, done);
        od_label_bind(a, neg2);
        or_digit(a, 1);
        od_jmp(a, neg);
        od_label_bind(a, pos3);
        or_digit(a, 1);
        or_digit(a, 2);
        od_jmp(a, done);
        od_label_bind(a, neg3);
        or_digit(a, 1);
        or_digit(a, 2);
        od_label_bind(a, neg);
        od_neg_r(a, OD_RDX);
        od_label_bind(a, done);
        gout(c, i->dst, OD_RDX);
        break;
    }
    case OD_LOP_IntToF:
        r = gin(c, i->src[0], OD_RAX);
        if (c->L->vregs[i->dst].reg >= 0) {
            od_cvtsi2sd_xr(a, c->L->vregs[i->dst].reg, r);
        } else {
            od_cvtsi2sd_xr(a, 0, r);
            xout(c, i->dst, 0);
        }
        break;
    case OD_LOP_UnboxFloat:
        r = gin(c, i->src[0], OD_RAX);
        if (c->L->vregs[i->dst].reg >= 0) {
            od_movsd_xm(a, c->L->vregs[i->dst].reg, r, OFF_FVAL);
        } else {
            od_movsd_xm(a, 0, r, OFF_FVAL);
            xout(c, i->dst, 0);
        }
        break;
    case OD_LOP_BoxBool: {
        OdLabel no = od_label_new(a);
        r = gin(c, i->src[0], OD_RCX);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)Py_False);
        od_test_rr(a, r, r);
        od_jcc(a, OD_CC_E, no);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)Py_True);
        od_label_bind(a, no);
        od_add_mi(a, OD_RAX, 0, 1);
        gout(c, i->dst, OD_RAX);
        break;
    }
    case OD_LOP_LoadMem:
        r = gin(c, i->src[0], OD_RAX);
        d = dst_reg(c, i->dst, OD_RAX);
        od_mov_rm(a, d, r, (int32_t)i->imm);
        gout(c, i->dst, d);
        break;
    case OD_LOP_BoxFloat: case OD_LOP_BoxInt: {
        /* the common case in line, the rest out of line (box_stub); the result in rax */
        Stub *s = box_stub(c, i, i->op == OD_LOP_BoxFloat ? 5 : 6);
        if (!s)
            return;
        if (i->op == OD_LOP_BoxFloat && i->nsrc == 2)
            float_into_dying(c, i, s->label, s->back);
        else if (i->op == OD_LOP_BoxFloat)
            float_from_free_list(c, i->src[0], s->label);
        else
            small_int_from_cache(c, i->src[0], s->label);
        od_label_bind(a, s->back);
        gout(c, i->dst, OD_RAX);
        break;
    }
    case OD_LOP_SeqItems: {
        r = gin(c, i->src[0], OD_RAX);
        od_cmp_mi(a, r, OFF_SIZE, (int32_t)i->imm);
        od_jcc(a, OD_CC_NE, X);
        emit_seq_items(a, r, OD_RCX, OD_RDX, X);
        gout(c, i->dst, OD_RDX);
        break;
    }
    case OD_LOP_IntAdd: case OD_LOP_IntSub: case OD_LOP_IntMul: case OD_LOP_IntAnd:
    case OD_LOP_IntOr: case OD_LOP_IntXor: case OD_LOP_IntCmp: case OD_LOP_IsPtr:
        r = gin(c, i->src[0], OD_RAX);
        if (r != OD_RAX)
            od_mov_rr(a, OD_RAX, r);
        q = gin(c, i->src[1], OD_RCX);
        switch (i->op) {
        case OD_LOP_IntAdd: od_add_rr(a, OD_RAX, q); od_jcc(a, OD_CC_O, X); break;
        case OD_LOP_IntSub: od_sub_rr(a, OD_RAX, q); od_jcc(a, OD_CC_O, X); break;
        case OD_LOP_IntMul: od_imul_rr(a, OD_RAX, q); od_jcc(a, OD_CC_O, X); break;
        case OD_LOP_IntAnd: od_and_rr(a, OD_RAX, q); break;
        case OD_LOP_IntOr: od_or_rr(a, OD_RAX, q); break;
        case OD_LOP_IntXor: od_xor_rr(a, OD_RAX, q); break;
        case OD_LOP_IntCmp:
            od_cmp_rr(a, OD_RAX, q);
            od_setcc_r(a, int_cc(i->imm), OD_RAX);
            od_movzx8_rr(a, OD_RAX, OD_RAX);
            break;
        default: /* IsPtr */
            od_cmp_rr(a, OD_RAX, q);
            od_setcc_r(a, i->imm ? OD_CC_NE : OD_CC_E, OD_RAX);
            od_movzx8_rr(a, OD_RAX, OD_RAX);
            break;
        }
        gout(c, i->dst, OD_RAX);
        break;
    case OD_LOP_IntSar:
        r = gin(c, i->src[0], OD_RAX);
        if (r != OD_RAX)
            od_mov_rr(a, OD_RAX, r);
        od_sar_ri(a, OD_RAX, (uint8_t)i->imm);
        gout(c, i->dst, OD_RAX);
        break;
    case OD_LOP_FAdd: case OD_LOP_FSub: case OD_LOP_FMul: case OD_LOP_FDiv: {
        xb = xin(c, i->src[1], 1);
        if (i->op == OD_LOP_FDiv) {
            od_movq_rx(a, OD_RAX, xb);
            od_shl_ri(a, OD_RAX, 1);
            od_jcc(a, OD_CC_E, X);
        }
        xa = xin(c, i->src[0], 0);
        OdSdOp op = i->op == OD_LOP_FAdd ? OD_SD_ADD : i->op == OD_LOP_FSub ? OD_SD_SUB
                  : i->op == OD_LOP_FMul ? OD_SD_MUL : OD_SD_DIV;
        /* in the result's own register when it has one that is not b's (b is read after
         * a is copied there): one or two instructions instead of three through xmm0 */
        xd = xdst(c, i->dst, 0);
        if (xd == xb)
            xd = 0;
        if (xa != xd)
            od_movapd_xx(a, xd, xa);
        od_sd_xx(a, op, xd, xb);
        xout(c, i->dst, xd);
        break;
    }
    case OD_LOP_FSqrt:
        /* math.sqrt: its domain error is an operand below 0 (not -0.0, whose root is -0.0,
         * nor a NaN, its own root: sqrtsd gives what libm's sqrt gives); 0.0 > x, ordered */
        xa = xin(c, i->src[0], 0);
        od_xor32_rr(a, OD_RAX, OD_RAX);
        od_movq_xr(a, 1, OD_RAX);
        od_ucomisd_xx(a, 1, xa);
        od_jcc(a, OD_CC_A, X);
        xd = xdst(c, i->dst, 0);
        od_sd_xx(a, OD_SD_SQRT, xd, xa);
        xout(c, i->dst, xd);
        break;
    case OD_LOP_FCmp:
        xa = xin(c, i->src[0], 0);
        xb = xin(c, i->src[1], 1);
        double_compare(a, (int)i->imm, xa, xb);
        gout(c, i->dst, OD_RAX);
        break;
    case OD_LOP_CallH: {
        OdLabel hit = -1;
        int held = c->out_held_for == i;
        c->out_held_for = NULL;
        /* A load or method of a generic site with ways: the ways take the receiver from
         * its register; it goes to the outgoing area only on their miss road (one
         * instruction a hit fewer) */
        int recv_late = (i->ptr == (const void *)od_t2_load_attr
                         || i->ptr == (const void *)od_t2_load_method)
                        && i->imm && i->nsrc == 1
                        && ((const OdT2AttrSite *)(intptr_t)i->imm)->nways > 0;
        for (int k = 0; k < i->nsrc; k++)
            if (!(held && k < 2 && i->src[k] == c->out_held[k]) && !(recv_late && k == 0))
                store_arg(c, i->src[k], k);
        if (i->ptr == (const void *)od_t2_box_int) {
            hit = od_label_new(a);
            small_int_inline(c, hit);
        }
        if (i->ptr == (const void *)od_t2_compare && i->imm >= Py_LT && i->imm <= Py_GE) {
            hit = od_label_new(a);
            number_compare_inline(c, (int)i->imm, hit);
        }
        if (i->ptr == (const void *)od_t2_subscr) {
            hit = od_label_new(a);
            subscr_inline(c, hit);
        }
        if (i->ptr == (const void *)od_t2_float_pow) {
            hit = od_label_new(a);
            pow_inline(c, hit);
        }
        if (i->ptr == (const void *)od_t2_unbox_number) {
            hit = od_label_new(a);
            unbox_number_inline(c, hit);
        }
        if (i->ptr == (const void *)od_t2_not) {
            hit = od_label_new(a);
            not_bool_inline(c, hit);
        }
        if (i->ptr == (const void *)od_t2_call_isinstance) {
            hit = od_label_new(a);
            isinstance_inline(c, hit);
        }
        if (i->ptr == (const void *)od_t2_binary_op && number_binary_sd_op(i->imm) >= 0) {
            hit = od_label_new(a);
            number_binary_inline(c, (OdSdOp)number_binary_sd_op(i->imm), hit, X, -1);
        }
#if !defined(Py_REF_DEBUG)
        if (i->ptr == (const void *)od_t2_str_append && number_binary_sd_op(i->imm & 0xff) == OD_SD_ADD) {
            /* `x + y` whose x dies here (lir/lower.c: the helper may extend a str x in
             * place) on two numbers: in line as od_t2_binary_op's site, then x released as
             * the helper consumes it on success (an exact int or float: its deallocation
             * runs no Python code), or a float x nobody else holds given the sum itself.
             * raytrace's `a * b + c * d + e * f` on generic values. */
            OdLabel got = od_label_new(a), slow = od_label_new(a), kept = od_label_new(a);
            hit = od_label_new(a);
            number_binary_inline(c, OD_SD_ADD, got, X, hit);
            od_jmp(a, slow);
            od_label_bind(a, got);
            od_mov_mr(a, OD_RSP, out_off(2), OD_RAX);       /* the result, across the call */
            od_mov_rm(a, OD_RDI, OD_RSP, out_off(0));
            od_sub_mi(a, OD_RDI, 0, 1);
            od_jcc(a, OD_CC_NE, kept);
            od_call_abs(a, (const void *)_Py_Dealloc);
            od_label_bind(a, kept);
            od_mov_rm(a, OD_RAX, OD_RSP, out_off(2));
            od_jmp(a, hit);
            od_label_bind(a, slow);
        }
#endif
        if ((i->ptr == (const void *)od_t2_load_attr || i->ptr == (const void *)od_t2_load_method
             || i->ptr == (const void *)od_t2_store_attr) && i->imm
            && ((const OdT2AttrSite *)(intptr_t)i->imm)->nways > 0) {
            OdLabel other = od_label_new(a);
            hit = od_label_new(a);
            /* a hit goes past the TraceCheck after the call itself, results in place */
            const OdLirInstr *past = NULL;
            if (c->next_ins && c->next_ins->op == OD_LOP_TraceCheck) {
                past = i;
                c->after_trace = od_label_new(a);
            }
            attr_chain(c, (const OdT2AttrSite *)(intptr_t)i->imm, i->ptr, other, hit,
                       recv_late ? i->src[0] : -1, past);
            od_label_bind(a, other);
            if (recv_late)
                od_mov_mr(a, OD_RSP, out_off(0), OD_RAX);
        }
        if ((i->ptr == (const void *)od_t2_load_attr || i->ptr == (const void *)od_t2_load_method
             || (i->ptr == (const void *)od_t2_store_attr && store_inline_worth(i))) && i->imm) {
            OdLabel slow = od_label_new(a);
            if (hit < 0)
                hit = od_label_new(a);
            if (i->ptr == (const void *)od_t2_load_attr)
                attr_load_inline(c, (const OdT2AttrSite *)(intptr_t)i->imm, slow, hit);
            else if (i->ptr == (const void *)od_t2_load_method)
                attr_method_inline(c, (const OdT2AttrSite *)(intptr_t)i->imm, slow, hit);
            else
                attr_store_inline(c, (const OdT2AttrSite *)(intptr_t)i->imm, slow, hit);
            od_label_bind(a, slow);
        }
        if (i->check == OD_CHK_MATH) {
            math_call(c, i, X);
            callh_results(c, i);
            break;
        }
        if (i->prev >= 0)
            set_prev(c, i->prev);
        /* the frame's references stand for these while the helper runs (lir.h) */
        for (int k = 0; k < i->nlend; k++)
            od_sub_mi(a, gin(c, i->lend[k], OD_RAX), 0, 1);
        helper_call(c, i->ptr, i->imm, i->obj);
        for (int k = 0; k < i->nlend; k++)
            od_add_mi(a, gin(c, i->lend[k], OD_RCX), 0, 1);
        if (i->check == OD_CHK_NULL) {
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_E, X);
        } else if (i->check == OD_CHK_NEG) {
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_S, X);
        } else if (i->check == OD_CHK_BITS) {
            od_mov_ri(a, OD_RCX, OD_T2_BITS_FAIL);
            od_cmp_rr(a, OD_RAX, OD_RCX);
            od_jcc(a, OD_CC_E, X);
        }
        if (hit >= 0 && c->next_ins && c->next_ins->op == OD_LOP_TraceCheck) {
            /* the in-line hit ran no Python code, so tracing cannot have been switched
             * on: it stores its result and goes past the TraceCheck after the call */
            OdLabel join = od_label_new(a);
            od_jmp(a, join);
            od_label_bind(a, hit);
            callh_results(c, i);
            if (c->after_trace < 0)
                c->after_trace = od_label_new(a);
            od_jmp(a, c->after_trace);
            od_label_bind(a, join);
        } else if (hit >= 0) {
            od_label_bind(a, hit);      /* the inline hit paths join here */
        }
        callh_results(c, i);
        break;
    }
    case OD_LOP_Truth: {
        OdLabel one = od_label_new(a), zero = od_label_new(a), done = od_label_new(a);
        r = gin(c, i->src[0], OD_RAX);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)Py_True);
        od_cmp_rr(a, r, OD_RCX);
        od_jcc(a, OD_CC_E, one);
        od_mov_ri(a, OD_RCX, (int64_t)(intptr_t)Py_False);
        od_cmp_rr(a, r, OD_RCX);
        od_jcc(a, OD_CC_E, zero);
        od_mov_mr(a, OD_RSP, out_off(0), r);
        int sync = c->L->exits[i->exit].nsync > 0;
        if (i->prev >= 0)
            set_prev(c, i->prev);
        helper_call(c, i->ptr, sync, NULL);
        od_test_rr(a, OD_RAX, OD_RAX);
        od_jcc(a, OD_CC_S, X);
        if (sync) {
            /* OD_T2_SYNC: not a builtin object, its truth may run Python code */
            od_cmp_ri(a, OD_RAX, (int32_t)OD_T2_SYNC);
            od_jcc(a, OD_CC_NE, done);
            sync_call(c, i->exit);
            helper_call(c, i->ptr, 0, NULL);
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_S, X);
        }
        const OdLirInstr *cj = c->next_ins;
        if (cj && cj->op == OD_LOP_CondJump && cj->src[0] == i->dst) {
            /* the branch on it follows: True and False jump to their blocks themselves,
             * without making the 0 or 1 the branch would test again (the value is still
             * written: the branch may not be its only use) */
            od_label_bind(a, done);
            gout(c, i->dst, OD_RAX);
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_NE, block_label(c, cj->target[0]));
            od_jmp(a, block_label(c, cj->target[1]));
            od_label_bind(a, one);
            od_mov_ri(a, OD_RAX, 1);
            gout(c, i->dst, OD_RAX);
            od_jmp(a, block_label(c, cj->target[0]));
            od_label_bind(a, zero);
            od_mov_ri(a, OD_RAX, 0);
            gout(c, i->dst, OD_RAX);
            jump_to_block(c, cj->target[1]);
            c->skip_next = 1;
            break;
        }
        od_jmp(a, done);
        od_label_bind(a, one);
        od_mov_ri(a, OD_RAX, 1);
        od_jmp(a, done);
        od_label_bind(a, zero);
        od_mov_ri(a, OD_RAX, 0);
        od_label_bind(a, done);
        gout(c, i->dst, OD_RAX);
        break;
    }
    case OD_LOP_SetPrev:
        set_prev(c, i->imm);
        break;
    case OD_LOP_Sync: {
        OdLabel skip = od_label_new(a);
        if (i->imm) {
            od_cmp_mi(a, R_FRAME, OFF_FRAME_OBJ, 0);
            od_jcc(a, OD_CC_E, skip);
            od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)(_PyCode_CODE(c->L->code) + c->L->exits[i->exit].index));
            od_mov_mr(a, R_FRAME, OFF_PREV, OD_RAX);
        }
        if (c->L->exits[i->exit].nsync > 0 && (i->imm || !sync_inline(c, i->exit)))
            sync_call(c, i->exit);
        od_label_bind(a, skip);
        break;
    }
    case OD_LOP_TraceCheck:
        if (c->out_held_for == i)
            c->out_held_for = c->next_ins;      /* (the exit leaves for good) */
        od_mov_rm(a, OD_RAX, OD_RSP, OD_LIR_OFF_CFRAME);
        od_cmp8_mi(a, OD_RAX, (int32_t)offsetof(_PyCFrame, use_tracing), 0);
        od_jcc(a, OD_CC_NE, X);
        if (c->after_trace >= 0) {
            od_label_bind(a, c->after_trace);
            c->after_trace = -1;
        }
        break;
    case OD_LOP_Poll: {
        Stub *s = stub(c, 1);
        if (!s)
            return;
        s->exit = i->exit;
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyInterpreterState_Get()->ceval.eval_breaker);
        od_cmp32_mi(a, OD_RAX, 0, 0);
        od_jcc(a, OD_CC_NE, s->label);
        od_label_bind(a, s->back);
        break;
    }
    case OD_LOP_Jump:
        jump_to_block(c, i->target[0]);
        break;
    case OD_LOP_CondJump:
        r = gin(c, i->src[0], OD_RAX);
        od_test_rr(a, r, r);
        if (i->target[0] == c->next_block) {
            od_jcc(a, OD_CC_E, block_label(c, i->target[1]));
        } else {
            od_jcc(a, OD_CC_NE, block_label(c, i->target[0]));
            jump_to_block(c, i->target[1]);
        }
        break;
    case OD_LOP_ForIter: {
        /* results 0 (error), OD_T2_DONE, OD_T2_SYNC out of line: one test for the item */
        Stub *s = stub(c, 3);
        if (!s)
            return;
        s->exit = i->exit;
        s->target = i->target[1];
        store_arg(c, i->src[0], 0);
        list_next_inline(c, s->back);
        helper_call(c, i->ptr, 0, NULL);
        od_label_bind(a, s->back);
        od_cmp_ri(a, OD_RAX, (int32_t)OD_T2_SYNC);
        od_jcc(a, OD_CC_BE, s->label);
        gout(c, i->dst, OD_RAX);
        jump_to_block(c, i->target[0]);
        break;
    }
    case OD_LOP_Return:
        r = gin(c, i->src[0], OD_RAX);
        if (r != OD_RAX)
            od_mov_rr(a, OD_RAX, r);
        od_jmp(a, c->epilogue);
        break;
    case OD_LOP_Exit:
        od_jmp(a, X);
        break;
    default:
        a->failed = 1;
        break;
    }
}

static const int saved_regs[] = {OD_RBP, OD_RBX, OD_R12, OD_R13, OD_R14, OD_R15};

/* The callee-saved registers the unit's code changes: the frame register, and those the
 * allocator handed out (codegen's scratch registers are all caller-saved). Only these are
 * pushed and popped: a small callee's entry and return cost less. */
static int saved_by_unit(const OdLir *L, OdReg *out)
{
    int n = 0;
    for (int k = 0; k < 6; k++) {
        int r = saved_regs[k], used = r == R_FRAME;
        for (int v = 0; v < L->nvregs && !used; v++)
            used = L->vregs[v].cls == OD_VR_GPR && L->vregs[v].reg == r;
        if (used)
            out[n++] = (OdReg)r;
    }
    return n;
}

int od_lir_codegen(OdLir *L, void **code, size_t *size, size_t *reserved)
{
    Cg c;
    memset(&c, 0, sizeof c);
    c.after_trace = -1;
    c.L = L;
    c.pos = -1;
    od_asm_init(&c.a);
    OdAsm *a = &c.a;
    OdReg saved[6];
    int nsaved = saved_by_unit(L, saved);
    int frame = od_lir_spill_off(L, L->nslots);
    if ((frame + 8 * nsaved + 8) % 16)     /* rsp aligned to 16 below the frame */
        frame += 8;
    c.frame = L->frame_bytes = frame;
    c.blabel = malloc(sizeof(OdLabel) * (size_t)(L->nblocks + 1));
    c.xlabel = malloc(sizeof(OdLabel) * (size_t)(L->nexits + 1));
    if (!c.blabel || !c.xlabel) {
        free(c.blabel);
        free(c.xlabel);
        PyErr_NoMemory();
        return -1;
    }
    for (int b = 0; b < L->nblocks; b++)
        c.blabel[b] = od_label_new(a);
    for (int e = 0; e < L->nexits; e++)
        c.xlabel[e] = od_label_new(a);
    c.epilogue = od_label_new(a);
    c.exit_common = od_label_new(a);
    c.entry_exit = od_label_new(a);
    /* prologue */
    OdLabel start = od_label_new(a), direct = {0};
    od_label_bind(a, start);
    for (int k = 0; k < nsaved; k++)
        od_push(a, saved[k]);
    od_sub_ri(a, OD_RSP, frame);
    od_mov_rr(a, R_FRAME, OD_RDI);
    od_mov_mr(a, OD_RSP, OD_LIR_OFF_TS, OD_RSI);
    od_mov_mr(a, OD_RSP, OD_LIR_OFF_UNIT, OD_RDX);
    od_mov_rm(a, OD_RAX, OD_RSI, (int32_t)offsetof(PyThreadState, cframe));
    od_mov_mr(a, OD_RSP, OD_LIR_OFF_CFRAME, OD_RAX);
    OdLabel warm = od_label_new(a), warmed = od_label_new(a);
    if (L->osr < 0) {
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&od_t2_stats.entries);    /* stats: tier-2 frames */
        od_add_mi(a, OD_RAX, 0, 1);
        od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)&PyInterpreterState_Get()->ceval.eval_breaker);
        od_cmp32_mi(a, OD_RAX, 0, 0);
        od_jcc(a, OD_CC_NE, c.entry_exit);
        /* CPython's warm-up count, kept as RESUME keeps it: the entry at which the
         * interpreter would quicken the code object lets the interpreter run the frame
         * (once), so the adaptive bytecode is quickened and specializes as without the JIT
         * (tier 1 does the same). A count at 0 stays 0 (3.11's _PyCode_Warmup counts only
         * up to 0; only a static code object's deallocation at finalization resets it):
         * code quickened before it was compiled, as tier 2's almost always is, needs no
         * test at each entry. */
        if (L->code->co_warmup != 0) {
            od_mov_ri(a, OD_RAX, (int64_t)(intptr_t)L->code);
            od_cmp16_mi(a, OD_RAX, (int32_t)offsetof(PyCodeObject, co_warmup), 0);
            od_jcc(a, OD_CC_NE, warm);
        }
    }
    od_label_bind(a, warmed);
    /* body */
    for (int b = 0; b < L->nblocks; b++) {
        c.next_block = b + 1;
        od_label_bind(a, c.blabel[b]);
        for (int k = 0; k < L->blocks[b].n; k++) {
            c.pos = L->blocks[b].ins[k].pos;
            c.next_ins = k + 1 < L->blocks[b].n ? &L->blocks[b].ins[k + 1] : NULL;
            if (c.skip_next) {
                c.skip_next = 0;
                continue;
            }
            emit_instr(&c, &L->blocks[b].ins[k]);
            c.pos = -1;
        }
    }
    /* epilogue: rax = result (or NULL) */
    od_label_bind(a, c.epilogue);
    od_add_ri(a, OD_RSP, frame);
    for (int k = nsaved - 1; k >= 0; k--)
        od_pop(a, saved[k]);
    od_ret(a);
    /* stubs */
    for (int s = 0; s < c.nstubs; s++) {
        Stub *st = &c.stubs[s];
        od_label_bind(a, st->label);
        if (st->kind == 3) {
            /* flags of cmp rax, OD_T2_SYNC */
            OdLabel other = od_label_new(a);
            od_jcc(a, OD_CC_NE, other);
            if (L->exits[st->exit].nsync > 0) {
                sync_call(&c, st->exit);
                /* the iterator is still args[0]: this time without the check */
                helper_call(&c, od_t2_for_iter, 0, NULL);
            }
            od_jmp(a, st->back);
            od_label_bind(a, other);
            od_cmp_ri(a, OD_RAX, (int32_t)OD_T2_DONE);
            od_jcc(a, OD_CC_E, c.blabel[st->target]);
            od_jmp(a, c.xlabel[st->exit]);
            continue;
        }
        if (st->kind == 4) {
            /* rcx = the values; a plain C function: the caller-saved registers kept */
            save_live(&c, st, 0);
            od_mov_rr(a, OD_RDI, OD_RCX);
            od_mov_ri(a, OD_RSI, st->reg);
            od_call_abs(a, od_t2_values_insert);
            save_live(&c, st, 1);
            od_jmp(a, st->back);
            continue;
        }
        if (st->kind == 7) {
            /* od_t2_store_dict_slow(owner, name, value, dictoffset): a plain C function
             * that runs no Python code (the old value comes back to the code, which
             * releases it); the caller-saved registers kept. Its "nothing done" is the
             * exit (the interpreter stores) */
            save_live(&c, st, 0);
            OdReg owner = gin(&c, st->reg, OD_RAX), value = gin(&c, st->reg2, OD_RDX);
            if (owner != OD_RAX)
                od_mov_rr(a, OD_RAX, owner);
            if (value != OD_RDX)
                od_mov_rr(a, OD_RDX, value);
            od_mov_rr(a, OD_RDI, OD_RAX);
            od_mov_ri(a, OD_RSI, (int64_t)(intptr_t)st->name);
            od_mov_ri(a, OD_RCX, st->imm);
            od_call_abs(a, od_t2_store_dict_slow);
            save_live(&c, st, 1);
            od_cmp_ri(a, OD_RAX, (int32_t)(intptr_t)OD_T2_STORE_DICT_DEOPT);
            od_jcc(a, OD_CC_E, c.xlabel[st->exit]);
            od_jmp(a, st->back);
            continue;
        }
        if (st->kind == 5 || st->kind == 6) {
            /* PyFloat_FromDouble(the double) or PyLong_FromLongLong(the int64); the result
             * stays in rax, which the restore does not touch */
            save_live(&c, st, 0);
            if (st->kind == 5) {
                int xs = xin(&c, st->reg, 0);
                if (xs != 0)
                    od_movapd_xx(a, 0, xs);
            } else {
                od_mov_rr(a, OD_RDI, gin(&c, st->reg, OD_RAX));
            }
            od_call_abs(a, st->kind == 5 ? (const void *)PyFloat_FromDouble
                                         : (const void *)PyLong_FromLongLong);
            save_live(&c, st, 1);
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_E, c.xlabel[st->exit]);
            od_jmp(a, st->back);
            continue;
        }
        if (st->kind == 0)
            float_to_free_list(&c, (OdReg)st->reg, st->back);
        if (st->kind == 1 && L->exits[st->exit].nsync > 0)
            sync_call(&c, st->exit);    /* the handler may run Python code */
        if (st->kind != 2)
            save_live(&c, st, 0);
        if (st->kind == 0) {
            if (st->reg != OD_RDI)
                od_mov_rr(a, OD_RDI, (OdReg)st->reg);
            od_call_abs(a, _Py_Dealloc);
            save_live(&c, st, 1);
            od_jmp(a, st->back);
        } else if (st->kind == 2) {
            /* no registers kept: GlobalLoad is a call for the allocator */
            if (st->site)
                global_index_inline(&c, st->site, st->name, st->back);
            helper_call(&c, od_t2_load_global, (long long)(intptr_t)st->site, st->name);
            od_test_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_E, c.xlabel[st->exit]);
            od_jmp(a, st->back);
        } else {
            od_mov_rm(a, OD_RDI, OD_RSP, OD_LIR_OFF_TS);
            od_call_abs(a, od_rt_handle_eval_breaker);
            save_live(&c, st, 1);
            od_test32_rr(a, OD_RAX, OD_RAX);
            od_jcc(a, OD_CC_NE, c.xlabel[st->exit]);
            od_jmp(a, st->back);
        }
    }
    for (int e = 0; e < L->nexits; e++) {
        od_label_bind(a, c.xlabel[e]);
        od_mov_ri(a, OD_RDX, e);
        od_jmp(a, c.exit_common);
    }
    od_label_bind(a, c.exit_common);
    for (int g = 0; g < od_lir_ngprs; g++)
        od_mov_mr(a, OD_RSP, OD_LIR_OFF_DUMP + 8 * od_lir_gprs[g], (OdReg)od_lir_gprs[g]);
    for (int x = 0; x < od_lir_nxmms; x++)
        od_movsd_mx(a, OD_RSP, OD_LIR_OFF_DUMP + 128 + 8 * od_lir_xmms[x], od_lir_xmms[x]);
    od_mov_rr(a, OD_RDI, R_FRAME);
    od_mov_rm(a, OD_RSI, OD_RSP, OD_LIR_OFF_UNIT);
    od_mov_rr(a, OD_RCX, OD_RSP);
    od_call_abs(a, od_t2_exit);
    od_jmp(a, c.epilogue);
    od_label_bind(a, c.entry_exit);
    od_mov_rr(a, OD_RDI, R_FRAME);
    od_mov_rm(a, OD_RSI, OD_RSP, OD_LIR_OFF_UNIT);
    od_call_abs(a, od_t2_exit_entry);
    od_jmp(a, c.epilogue);
    od_label_bind(a, warm);
    od_mov_ri(a, OD_RDI, (int64_t)(intptr_t)L->code);
    od_call_abs(a, (const void *)od_rt_warmup);
    od_test32_rr(a, OD_RAX, OD_RAX);
    od_jcc(a, OD_CC_E, warmed);
    od_mov_rr(a, OD_RDI, R_FRAME);
    od_mov_rm(a, OD_RSI, OD_RSP, OD_LIR_OFF_UNIT);
    od_call_abs(a, od_t2_exit_warmup);
    od_jmp(a, c.epilogue);
    /* a function's (not an OSR unit's) own entry for the call thunk */
    OdLabel shortl = -1;
    int has_direct = L->osr < 0 && L->unit
                     && od_t2_emit_direct_entry(a, L->code, L->unit, start, &direct,
                                                L->short_entry ? &shortl : NULL);
    od_emit_plt(a);
    int rc = -1;
    if (!c.a.failed && od_asm_finish(a) == 0) {
        void *mem = od_asm_install(a, reserved);
        if (mem) {
            *code = mem;
            *size = a->len;
            L->direct_entry_off = has_direct ? od_label_offset(a, direct) : 0;
            L->short_entry_off = has_direct && shortl >= 0 ? od_label_offset(a, shortl) : 0;
            rc = 0;
        } else {
            PyErr_SetString(PyExc_MemoryError, "overdrive tier 2: no executable memory");
        }
    } else {
        PyErr_SetString(PyExc_SystemError, "overdrive tier 2: code generation failed");
    }
    free(c.blabel);
    free(c.xlabel);
    free(c.stubs);
    free(c.by_start);        /* active lives in the same block */
    od_asm_free(a);
    return rc;
}
