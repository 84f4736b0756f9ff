/* tier2/lir/lower.c — HIR to LIR (lir.h): instruction selection, reference counts from
 * liveness, phis as edge copies, exit records from frame states.
 *
 * Values: HIR arguments and constants get no vreg: each use re-reads the argument from the
 * frame (which keeps it unchanged while tier 2 runs) or re-materializes the constant. The
 * guards and CheckBound return their operand: they share its vreg ("root").
 *
 * Reference counts: liveness over roots (uses are operands and frame-state slots; a phi's
 * operand is used at the end of its predecessor). An owned value is released after the
 * instruction that uses it last, or on the edge where it stops being live; a value nothing
 * uses is released right after it is made.
 *
 * Write-back (lir.h): a forward data-flow over the HIR blocks says, per local, which value
 * the frame's localsplus holds at each point ("frame keys": a value up to aliases and
 * box/unbox pairs; unknown; the local's phi when every predecessor holds that phi's
 * operand). Before an instruction that may run Python code the locals whose frame-state
 * value differs are written back: unconditionally (Sync before a helper call: the frame
 * then holds them) or only at run time (Poll, ForIter, Truth, Return: the frame holds the
 * old or the new value, so they count as unknown after it). A loop without such an
 * instruction writes nothing. An argument slot that is ever written back with another
 * value makes its Param an owned vreg (LoadLocal + IncRef at entry), since the frame no
 * longer keeps the argument. */
#include "lir.h"
#include "../rt/helpers.h"
#include "../rt/attr.h"
#include "../rt/call_thunk.h"

#include <stdlib.h>
#include <string.h>

const char *const od_lir_op_names[OD_LOP__COUNT] = {
#define OD_LOP_NAME(name, desc) #name,
    OD_LIR_OPS(OD_LOP_NAME)
#undef OD_LOP_NAME
};

const char *const od_t2_exit_names[OD_T2X__COUNT] = {
#define OD_T2X_NAME(name, desc, spec) #name,
    OD_T2_EXIT_REASONS(OD_T2X_NAME)
#undef OD_T2X_NAME
};

const int od_t2_exit_speculative[OD_T2X__COUNT] = {
#define OD_T2X_SPEC(name, desc, spec) spec,
    OD_T2_EXIT_REASONS(OD_T2X_SPEC)
#undef OD_T2X_SPEC
};

/* Largest function lowered (HIR values): the liveness keeps a bit set per instruction. */
#define MAX_VALUES 6000

typedef struct {
    OdLir *L;
    OdHirFunc *fn;
    OdHirBlock **order;
    int n, nids, words;
    uint64_t *live_in, *live_out;   /* per HIR block id */
    uint64_t *after;                /* per instruction id: live after it */
    int *vreg;                      /* per root id, -1 */
    int *seq_items;                 /* per UnpackSequence id: the vreg of its item array */
    int *lblock;                    /* HIR block id -> LIR block */
    OdHirInstr **mself;             /* LoadMethod (BeforeWith) id -> its MethodSelf (WithEnter) */
    OdHirInstr **by_id;
    OdHirInstr **params;            /* per argument local: its Param, or NULL */
    unsigned char *own;             /* per local: an argument the code must own */
    unsigned char *fseen;           /* per HIR block id: frame keys computed */
    int nlocals;
    int *fin, *fout;                /* per HIR block id: frame keys at its start and end */
    int *fcur;                      /* frame keys at the instruction being lowered */
    int *syncbuf;                   /* scratch: locals to write back */
    int cur;                        /* LIR block being filled */
    int hir;                        /* HIR instruction being lowered */
    OdHirInstr *consumed;           /* an operand whose reference the instruction's helper
                                     * consumed (od_t2_str_append), or NULL */
    uint64_t *lent;                 /* scratch of lend_to_frame: the values seen */
    uint64_t *handed;               /* values whose reference the instruction being lowered
                                     * handed to the frame (lend_to_frame) */
    uint64_t *tmp;
    unsigned char *fko;             /* per HIR id: frame_key_is_object(r, 0) memoized (0: not
                                     * yet known, 1: no, 2: yes); lowering changes no use list,
                                     * and the question was asked per local per call, each
                                     * time scanning every use (frame-state slots included) */
    uint64_t *in_vreg, *owned_set;  /* bit sets: the ids with a vreg, and the owned ones
                                     * (owned(by_id[id])); both with every bit from nids on
                                     * set, which the loops per bit they replace never cleared */
    int *fk;                        /* per HIR id: fkey memoized, -2 until asked */
    OdLirVal *xval;                 /* per HIR id: exit_val's answer, when xval_ok[id] */
    unsigned char *xval_ok;
    OdHirInstr **troot;             /* per HIR id: its root when tracked, else NULL; TR_UNKNOWN
                                     * until asked (tracked_root). Filled only after frame_flow,
                                     * which marks the owned Params tracked depends on */
} Lower;

/* ---- values ------------------------------------------------------------------------------ */

/* A switch, not a chain of comparisons: asked for every operand and frame-state slot of
 * every instruction, several times over (liveness, exits, lending). */
static inline int is_alias(const OdHirInstr *i)
{
    switch (i->op) {
    case OD_HOP_CheckBound:
    case OD_HOP_GuardType:
    case OD_HOP_GuardNotNull:
    case OD_HOP_GuardIs:
    case OD_HOP_GuardTypeVersion:
    case OD_HOP_GuardSharedKeys:
        return 1;
    default:
        return 0;
    }
}

static inline OdHirInstr *root(OdHirInstr *v)
{
    while (v && is_alias(v))
        v = v->ops[0];
    return v;
}

static int unboxed_kind(OdType t)
{
    if (t.bits && !(t.bits & ~OD_TB(CInt64)))
        return OD_XV_CINT;
    if (t.bits && !(t.bits & ~OD_TB(CDouble)))
        return OD_XV_CDOUBLE;
    if (t.bits && !(t.bits & ~OD_TB(CBool)))
        return OD_XV_CBOOL;
    return OD_XV_BOXED;
}

/* A Param the code holds its own reference to (imm2 = 1, set by mark_owned_params): its
 * frame slot is written back with other values. */
static int owned_param(const OdHirInstr *r) { return r->op == OD_HOP_Param && r->imm2 == 1; }

/* A root that lives in a vreg (not an argument re-read from the frame, or a constant). */
static inline int tracked(const OdHirInstr *r)
{
    return r && od_hir_has_value(r) && (r->op != OD_HOP_Param || owned_param(r)) && r->op != OD_HOP_Const
           && !is_alias(r);
}

/* The sentinel of Lower.troot's entries not computed yet. */
static OdHirInstr tr_unknown;
#define TR_UNKNOWN (&tr_unknown)

/* root(v) when it is tracked, else NULL: memoized per id, as the operands and frame-state
 * slots of every instruction are asked for again and again (liveness rounds, exits,
 * releases): 10 M instructions of a 208 M stress run were tracked() alone. */
static inline OdHirInstr *tracked_root(Lower *W, OdHirInstr *v)
{
    if (!v)
        return NULL;
    OdHirInstr *r = W->troot[v->id];
    if (r == TR_UNKNOWN) {
        r = root(v);
        W->troot[v->id] = r = tracked(r) ? r : NULL;
    }
    return r;
}

static int owned(const OdHirInstr *r) { return tracked(r) && unboxed_kind(r->type) == OD_XV_BOXED; }
static int nullable(const OdHirInstr *r) { return (r->type.bits & OD_TB(Null)) != 0; }
/* An At list access whose index is an unboxed int64 (passes/subscr.c): LoadField /
 * StoreField form 4 instead of 3 (an int object's digit). */
static int unboxed_index(const OdHirInstr *i) { return unboxed_kind(i->ops[1]->type) == OD_XV_CINT; }

#define BIT_SET(s, i) ((s)[(i) >> 6] |= 1ull << ((i)&63))
#define BIT_CLR(s, i) ((s)[(i) >> 6] &= ~(1ull << ((i)&63)))
#define BIT_GET(s, i) (((s)[(i) >> 6] >> ((i)&63)) & 1)
/* Runs body with `id` set to each member of the bit set `word_expr(w)` (w: the word's
 * index), in increasing order: a set holds a few live values of thousands of ids, and a
 * loop over every id at every exit made compiling quadratic (hexiom's constraint_pass:
 * new_exit, held_before and keep_owned were 18 M instructions of a 52 M compile). The
 * word is read once before its bits are visited, so body may clear bits of the set; ids
 * from W->nids on (the NULL key) are not visited, as the loops over every id did not. */
#define FOR_BITS(W_, word_expr, id, body)                                                     \
    do {                                                                                      \
        for (int w = 0; w < (W_)->words; w++)                                                 \
            for (uint64_t _m = (word_expr); _m; _m &= _m - 1) {                               \
                int id = (w << 6) + __builtin_ctzll(_m);                                      \
                if (id >= (W_)->nids)                                                         \
                    break;                                                                    \
                body;                                                                         \
            }                                                                                 \
    } while (0)

/* Calls f(root) for every tracked root instruction i uses (operands, frame state); W in
 * scope, after frame_flow. */
#define FOR_USES(i, r, body)                                                                  \
    do {                                                                                      \
        for (int _k = 0; _k < (i)->nops; _k++) {                                              \
            OdHirInstr *r = tracked_root(W, (i)->ops[_k]);                                   \
            if (r) { body; }                                                                  \
        }                                                                                     \
        if ((i)->fs)                                                                          \
            for (int _s = 0; _s < (i)->fs->nlocals + (i)->fs->depth; _s++) {                  \
                OdHirInstr *r = tracked_root(W, (i)->fs->slots[_s]);                         \
                if (r) { body; }                                                              \
            }                                                                                 \
    } while (0)

static int pred_slot(const OdHirBlock *s, const OdHirBlock *b, int succ)
{
    return od_hir_pred_index(s, b, succ);
}

/* live_out(b) from its successors. */
static void compute_out(Lower *W, OdHirBlock *b, uint64_t *out)
{
    memset(out, 0, sizeof(uint64_t) * (size_t)W->words);
    for (int k = 0; k < b->nsuccs; k++) {
        OdHirBlock *s = b->succs[k];
        uint64_t *in = W->live_in + (size_t)s->id * W->words;
        for (int w = 0; w < W->words; w++)
            out[w] |= in[w];
        int p = pred_slot(s, b, k);
        for (OdHirInstr *i = s->first; i && i->op == OD_HOP_Phi; i = i->next) {
            OdHirInstr *r = p >= 0 ? tracked_root(W, i->ops[p]) : NULL;
            if (r)
                BIT_SET(out, r->id);
        }
    }
}

/* Walks b backward from live_out, filling `after` per instruction; returns live_in in `in`. */
static void walk_block(Lower *W, OdHirBlock *b, uint64_t *live)
{
    memcpy(live, W->live_out + (size_t)b->id * W->words, sizeof(uint64_t) * (size_t)W->words);
    for (OdHirInstr *i = b->last; i; i = i->prev) {
        if (i->op == OD_HOP_Phi) {
            BIT_CLR(live, i->id);
            continue;
        }
        memcpy(W->after + (size_t)i->id * W->words, live, sizeof(uint64_t) * (size_t)W->words);
        if (tracked(i))
            BIT_CLR(live, i->id);
        FOR_USES(i, r, BIT_SET(live, r->id));
    }
}

static int liveness(Lower *W)
{
    size_t per = sizeof(uint64_t) * (size_t)W->words;
    int nb = W->fn->next_block_id;
    W->live_in = calloc((size_t)nb + 1, per);
    W->live_out = calloc((size_t)nb + 1, per);
    W->after = calloc((size_t)W->nids + 1, per);
    W->tmp = calloc(2, per);
    W->lent = calloc(1, per);
    W->handed = calloc(1, per);
    if (!W->live_in || !W->live_out || !W->after || !W->tmp || !W->lent || !W->handed) {
        PyErr_NoMemory();
        return -1;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int k = W->n - 1; k >= 0; k--) {
            OdHirBlock *b = W->order[k];
            compute_out(W, b, W->live_out + (size_t)b->id * W->words);
            walk_block(W, b, W->tmp);
            uint64_t *in = W->live_in + (size_t)b->id * W->words;
            if (memcmp(in, W->tmp, per)) {
                memcpy(in, W->tmp, per);
                changed = 1;
            }
        }
    }
    return 0;
}

/* ---- LIR building ---------------------------------------------------------------------- */

static int refuse(Lower *W, const char *what)
{
    snprintf(W->L->reason, sizeof W->L->reason, "%s", what);
    return 1;
}

static int new_block(OdLir *L, int hir_block)
{
    if (L->nblocks == L->capblocks) {
        int cap = L->capblocks ? 2 * L->capblocks : 16;
        OdLirBlock *p = realloc(L->blocks, sizeof *p * (size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        L->blocks = p;
        L->capblocks = cap;
    }
    OdLirBlock *b = &L->blocks[L->nblocks];
    memset(b, 0, sizeof *b);
    b->id = L->nblocks;
    b->hir_block = hir_block;
    return L->nblocks++;
}

static int new_vreg(OdLir *L, int cls)
{
    if (L->nvregs == L->capvregs) {
        int cap = L->capvregs ? 2 * L->capvregs : 64;
        OdLirVreg *p = realloc(L->vregs, sizeof *p * (size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        L->vregs = p;
        L->capvregs = cap;
    }
    OdLirVreg *v = &L->vregs[L->nvregs];
    memset(v, 0, sizeof *v);
    v->cls = cls;
    v->reg = v->slot = -1;
    return L->nvregs++;
}

static OdLirInstr *emit(Lower *W, OdLirOp op, int nsrc)
{
    OdLirBlock *b = &W->L->blocks[W->cur];
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        OdLirInstr *p = realloc(b->ins, sizeof *p * (size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return NULL;
        }
        b->ins = p;
        b->cap = cap;
    }
    OdLirInstr *i = &b->ins[b->n++];
    memset(i, 0, sizeof *i);
    i->op = op;
    i->dst = i->dst2 = i->exit = i->target[0] = i->target[1] = -1;
    i->prev = -1;
    i->hir = W->hir;
    i->nsrc = nsrc;
    if (nsrc > 0 && !(i->src = od_arena_alloc(&W->L->arena, sizeof(int) * (size_t)nsrc))) {
        b->n--;
        return NULL;
    }
    return i;
}

/* The vreg holding HIR value v for a use here (arguments and constants materialized). */
static int use(Lower *W, OdHirInstr *v)
{
    OdHirInstr *r = root(v);
    OdLirInstr *i;
    int d;
    if (!r || (r->op == OD_HOP_Const && unboxed_kind(r->type) == OD_XV_BOXED)) {
        if ((d = new_vreg(W->L, OD_VR_GPR)) < 0 || !(i = emit(W, OD_LOP_Imm, 0)))
            return -1;
        i->imm = (long long)(intptr_t)(r ? r->obj : NULL);
        i->dst = d;
        return d;
    }
    if (r->op == OD_HOP_Const) {
        int xmm = unboxed_kind(r->type) == OD_XV_CDOUBLE;
        if ((d = new_vreg(W->L, xmm ? OD_VR_XMM : OD_VR_GPR)) < 0 ||
            !(i = emit(W, xmm ? OD_LOP_FImm : OD_LOP_Imm, 0)))
            return -1;
        if (xmm)
            memcpy(&i->imm, &r->fimm, sizeof(double));
        else
            i->imm = r->imm;
        i->dst = d;
        return d;
    }
    if (r->op == OD_HOP_Param && !owned_param(r)) {
        if ((d = new_vreg(W->L, OD_VR_GPR)) < 0 || !(i = emit(W, OD_LOP_LoadLocal, 0)))
            return -1;
        i->imm = r->imm;
        i->dst = d;
        return d;
    }
    return W->vreg[r->id];
}

static OdHirInstr *unbox_const_owner(Lower *W, OdHirInstr *r, PyObject **out)
{
    PyObject *o = NULL;
    switch (unboxed_kind(r->type)) {
    case OD_XV_CINT: o = PyLong_FromLongLong(r->imm); break;
    case OD_XV_CDOUBLE: o = PyFloat_FromDouble(r->fimm); break;
    case OD_XV_CBOOL: o = Py_NewRef(r->imm ? Py_True : Py_False); break;
    }
    if (!o)
        return NULL;
    *out = od_hir_own(W->fn, o);
    Py_DECREF(o);
    return *out ? r : NULL;
}

static int exit_val_of(Lower *W, OdHirInstr *v, OdLirVal *out, int *fresh);

/* How an exit finds HIR value v: asked for every slot of every exit, so kept per id,
 * except for an unboxed constant, whose box is made afresh for each exit, as it was. */
static int exit_val(Lower *W, OdHirInstr *v, OdLirVal *out)
{
    if (v && W->xval_ok[v->id]) {
        *out = W->xval[v->id];
        return 0;
    }
    int fresh = 0;
    if (exit_val_of(W, v, out, &fresh) < 0)
        return -1;
    if (v && !fresh) {
        W->xval[v->id] = *out;
        W->xval_ok[v->id] = 1;
    }
    return 0;
}

static int exit_val_of(Lower *W, OdHirInstr *v, OdLirVal *out, int *fresh)
{
    OdHirInstr *r = root(v);
    memset(out, 0, sizeof *out);
    out->vreg = -1;
    if (!r || (r->op == OD_HOP_Const && !r->obj && unboxed_kind(r->type) == OD_XV_BOXED)) {
        out->kind = OD_XV_NULL;
    } else if (r->op == OD_HOP_Const) {
        out->kind = OD_XV_CONST;
        if (r->obj && unboxed_kind(r->type) == OD_XV_BOXED)
            out->obj = r->obj;
        else if (!unbox_const_owner(W, r, &out->obj))
            return -1;
        else
            *fresh = 1;     /* a new box: not kept, as each exit made its own */
    } else if (r->op == OD_HOP_Param && !owned_param(r)) {
        out->kind = OD_XV_LOCAL;
        out->local = (int)r->imm;
    } else {
        out->kind = unboxed_kind(r->type);
        out->vreg = W->vreg[r->id];
    }
    return 0;
}

/* An exit record for frame state fs (stack cut to `keep` slots, then `extra` values),
 * releasing the owned values in `held` (a bit set). */
static int new_exit(Lower *W, int kind, int reason, const OdFrameState *fs, int keep,
                    OdHirInstr **extra, int nextra, const uint64_t *held, int resume)
{
    OdLir *L = W->L;
    if (L->nexits == L->capexits) {
        int cap = L->capexits ? 2 * L->capexits : 16;
        OdLirExit *p = realloc(L->exits, sizeof *p * (size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        L->exits = p;
        L->capexits = cap;
    }
    OdLirExit *x = &L->exits[L->nexits];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->reason = reason;
    x->resume = resume >= 0 ? resume : fs->offset;
    int j = fs->offset < L->bc.ncodeunits ? L->bc.instr_at_unit[fs->offset] : -1;
    x->index = j >= 0 ? L->bc.instrs[j].index : fs->offset;
    x->nlocals = fs->nlocals;
    x->depth = keep + nextra;
    int ns = x->nlocals + x->depth;
    if (!(x->slots = od_arena_alloc(&L->arena, sizeof(OdLirVal) * (size_t)(ns + 1))))
        return -1;
    for (int s = 0; s < fs->nlocals + keep; s++)
        if (exit_val(W, fs->slots[s], &x->slots[s]) < 0)
            return -1;
    for (int e = 0; e < nextra; e++)
        if (exit_val(W, extra[e], &x->slots[fs->nlocals + keep + e]) < 0)
            return -1;
    int nh = 0;
    for (int w = 0; w < W->words; w++)
        nh += __builtin_popcountll(held[w]);
    if (!(x->held = od_arena_alloc(&L->arena, sizeof(OdLirVal) * (size_t)(nh + 1))))
        return -1;
    FOR_BITS(W, held[w], id, {
        if (W->vreg[id] >= 0) {
            OdLirVal *h = &x->held[x->nheld++];
            h->kind = OD_XV_BOXED;
            h->vreg = W->vreg[id];
        }
    });
    return L->nexits++;
}

/* Owned roots live before i: live after it, and its uses; not its own result. */
static uint64_t *held_before(Lower *W, OdHirInstr *i)
{
    uint64_t *h = W->tmp + W->words;
    memcpy(h, W->after + (size_t)i->id * W->words, sizeof(uint64_t) * (size_t)W->words);
    FOR_USES(i, r, BIT_SET(h, r->id));
    if (tracked(i))
        BIT_CLR(h, i->id);
    for (int w = 0; w < W->words; w++)     /* a word at a time, not a bit */
        h[w] &= W->in_vreg[w];
    return h;
}

/* Only what the code owns: not a reference handed to the frame (lend_to_frame). */
static void keep_owned(Lower *W, uint64_t *h)
{
    for (int w = 0; w < W->words; w++)
        h[w] &= W->owned_set[w] & ~W->handed[w];
}

static int exit_here(Lower *W, OdHirInstr *i, int kind, int reason)
{
    uint64_t *h = held_before(W, i);
    keep_owned(W, h);
    return new_exit(W, kind, reason, i->fs, i->fs->depth, NULL, 0, h, -1);
}

static int decref_vreg(Lower *W, int v, int maybe_null)
{
    OdLirInstr *d = emit(W, OD_LOP_DecRef, 1);
    if (!d)
        return -1;
    d->src[0] = v;
    d->imm = maybe_null;
    return 0;
}

static int decref(Lower *W, OdHirInstr *r) { return decref_vreg(W, W->vreg[r->id], nullable(r)); }

static int incref_vreg(Lower *W, int v, int maybe_null)
{
    OdLirInstr *d = emit(W, OD_LOP_IncRef, 1);
    if (!d)
        return -1;
    d->src[0] = v;
    d->imm = maybe_null;
    return 0;
}

/* ---- write-back: what the frame holds ------------------------------------------------- */

#define FK_UNKNOWN (-1)

/* The frame key of a value: its root, through box/unbox pairs (a frame holding a box of x
 * holds x's value); W->nids for NULL (an unbound local). */
static int fkey_of(Lower *W, OdHirInstr *v);

/* fkey memoized per id (the HIR does not change while it is lowered; asked per local at
 * every instruction of the write-back data-flow's rounds) */
static int fkey(Lower *W, OdHirInstr *v)
{
    if (!v)
        return fkey_of(W, v);
    if (W->fk[v->id] == -2)
        W->fk[v->id] = fkey_of(W, v);
    return W->fk[v->id];
}

static int fkey_of(Lower *W, OdHirInstr *v)
{
    OdHirInstr *r = root(v);
    while (r && (r->op == OD_HOP_UnboxInt || r->op == OD_HOP_UnboxFloat || r->op == OD_HOP_BoxInt
                 || r->op == OD_HOP_BoxFloat))
        r = root(r->ops[0]);
    if (!r || (r->op == OD_HOP_Const && !r->obj && unboxed_kind(r->type) == OD_XV_BOXED))
        return W->nids;
    return r->id;
}

/* Values whose operations here run no Python code: exact ints, floats, bools, strs, None. */
#define PLAIN_BITS                                                                            \
    (OD_TB(SmallInt) | OD_TB(BigInt) | OD_TB(Bool) | OD_TB(Float) | OD_TB(Str) | OD_TB(NoneType) \
     | OD_TB(CInt64) | OD_TB(CDouble) | OD_TB(CBool))
static int only(const OdHirInstr *v, uint32_t bits)
{
    return v && v->type.bits && !(v->type.bits & ~bits);
}
static int plain(const OdHirInstr *v) { return only(v, PLAIN_BITS); }

/* Whether the frame must hold i's frame state's locals before i: 0 no (i runs no Python
 * code); 1 yes (a Sync before it); 2 only at run time, when its code finds it needs it
 * (Poll: the eval breaker is handled; ForIter, IsTrue: not a builtin iterator or object;
 * Return: the frame has a frame object, which keeps the locals). */
static int sync_kind(const OdHirInstr *i)
{
    if (!i->fs)
        return 0;
    switch (i->op) {
    case OD_HOP_Snapshot:
        return i->imm == 1 ? 0 : 2;     /* a release point (`x = None`) runs nothing itself */
    case OD_HOP_ForIter: case OD_HOP_Return:
        return 2;
    case OD_HOP_IsTrue:
        return plain(i->ops[0]) || only(i->ops[0], OD_TB(Tuple) | OD_TB(List) | OD_TB(Dict)) ? 0 : 2;
    case OD_HOP_BinaryOp: case OD_HOP_Compare:
        return plain(i->ops[0]) && plain(i->ops[1]) ? 0 : 1;
    case OD_HOP_UnaryOp: case OD_HOP_Not:
        return plain(i->ops[0]) ? 0 : 1;
    case OD_HOP_Subscr:
        return only(i->ops[0], OD_TB(List) | OD_TB(Tuple) | OD_TB(Str) | OD_TB(Dict)) && plain(i->ops[1]) ? 0 : 1;
    case OD_HOP_GetIter:
        return only(i->ops[0], OD_TB(List) | OD_TB(Tuple) | OD_TB(Str) | OD_TB(Dict)) ? 0 : 1;
    case OD_HOP_UnpackSequence:
        return 0;   /* its helper only unpacks exact tuples and lists; anything else is an
                     * exit before anything ran (the exit writes the whole frame) */
    case OD_HOP_ListAppend: case OD_HOP_StoreGlobal: case OD_HOP_IncRef: case OD_HOP_DecRef:
        return 0;
    case OD_HOP_StoreInstanceValue: case OD_HOP_StoreSlot: case OD_HOP_StoreDeref:
    case OD_HOP_StoreDictHint:
    case OD_HOP_DeleteDeref: case OD_HOP_StoreListItem: case OD_HOP_StoreListItemAt:
        return 0;   /* only the old value's release may run code: as for DecRef (Limits) */
    case OD_HOP_MakeCell:
        return 0;   /* before RESUME: nothing to write back, and no Python code runs */
    default:
        return (od_hir_op_info[i->op].effects & OD_HE_WRITES) && !od_hir_is_term(i) ? 1 : 0;
    }
}

/* `s + t` or `s += t` (what od_t2_str_append may extend in place): the first local that
 * holds s in i's frame state, -1 when none does, -2 when i is not such an instruction. The
 * helper may clear that local's frame slot (the next instruction rebinds it), so what the
 * frame holds there is unknown after i; and an argument there may be the very object the
 * slot held since entry (a loop's phi of it), so that Param is owned by the code. */
static int append_local(const OdHirInstr *i)
{
    if (i->op != OD_HOP_BinaryOp || (i->imm != NB_ADD && i->imm != NB_INPLACE_ADD) || !i->fs)
        return -2;
    OdHirInstr *s = root(i->ops[0]);
    if (!s || !(s->type.bits & OD_TB(Str)))
        return -2;
    for (int k = 0; k < i->fs->nlocals; k++)
        if (root(i->fs->slots[k]) == s)
            return k;
    return -1;
}

/* The locals whose frame slot differs from i's frame state go to `out` (their count is
 * returned); F becomes what the frame holds after a write-back of kind sk. */
static int frame_sync(Lower *W, OdHirInstr *i, int sk, int *F, int *out)
{
    int n = 0, nl = i->fs->nlocals < W->nlocals ? i->fs->nlocals : W->nlocals;
    for (int k = 0; k < nl; k++) {
        int key = fkey(W, i->fs->slots[k]);
        if (F[k] == key)
            continue;
        out[n++] = k;
        F[k] = sk == 1 ? key : FK_UNKNOWN;
    }
    return n;
}

static void frame_walk(Lower *W, OdHirBlock *b, int *F)
{
    for (OdHirInstr *i = b->first; i; i = i->next) {
        int sk = sync_kind(i);
        if (sk) {
            int n = frame_sync(W, i, sk, F, W->syncbuf);
            /* an argument's slot written with another value: the code owns the argument */
            for (int j = 0; j < n; j++) {
                int k = W->syncbuf[j];
                OdHirInstr *p = k < W->fn->nargs ? W->params[k] : NULL;
                if (p && fkey(W, i->fs->slots[k]) != p->id)
                    W->own[k] = 1;
            }
        }
        int k = append_local(i);
        if (k >= 0) {
            F[k] = FK_UNKNOWN;
            if (k < W->fn->nargs && root(i->ops[0])->op != OD_HOP_Param)
                W->own[k] = 1;
        }
    }
}

/* Frame keys at the start of b from its predecessors' ends (those seen so far): the common
 * key, or a phi of b whose operand on every edge is what that predecessor's frame holds. */
static int frame_in(Lower *W, OdHirBlock *b, int *F)
{
    int nl = W->nlocals, seen = 0;
    for (int p = 0; p < b->npreds; p++)
        seen |= W->fseen[b->preds[p].from->id];
    if (!seen)
        return -1;
    for (int k = 0; k < nl; k++) {
        int v = FK_UNKNOWN, first = 1;
        for (int p = 0; p < b->npreds; p++) {
            OdHirBlock *from = b->preds[p].from;
            if (!W->fseen[from->id])
                continue;
            int o = W->fout[(size_t)from->id * nl + k];
            if (first)
                v = o;
            else if (v != o)
                v = FK_UNKNOWN;
            first = 0;
        }
        if (v == FK_UNKNOWN)
            for (OdHirInstr *ph = b->first; ph && ph->op == OD_HOP_Phi && v == FK_UNKNOWN; ph = ph->next) {
                int ok = 1;
                for (int p = 0; p < b->npreds && ok; p++) {
                    OdHirBlock *from = b->preds[p].from;
                    int o = W->fout[(size_t)from->id * nl + k];
                    ok = !W->fseen[from->id] || (o != FK_UNKNOWN && o == fkey(W, ph->ops[p]));
                }
                if (ok)
                    v = ph->id;
            }
        F[k] = v;
    }
    return 0;
}

/* The data-flow to a fixed point (it only moves down: a key, then a phi, then unknown), then
 * the owned Params. 0, 1 refused, -1 error. */
static int frame_flow(Lower *W)
{
    int nl = W->nlocals, nb = W->fn->next_block_id;
    size_t per = sizeof(int) * (size_t)(nl + 1);
    W->fin = malloc(per * (size_t)(nb + 1));
    W->fout = malloc(per * (size_t)(nb + 1));
    W->fcur = malloc(per);
    W->syncbuf = malloc(per);
    W->fseen = calloc((size_t)nb + 1, 1);
    W->own = calloc((size_t)nl + 1, 1);
    W->params = calloc((size_t)nl + 1, sizeof(OdHirInstr *));
    if (!W->fin || !W->fout || !W->fcur || !W->syncbuf || !W->fseen || !W->own || !W->params) {
        PyErr_NoMemory();
        return -1;
    }
    OdHirBlock *entry = W->fn->blocks[0];
    for (OdHirInstr *i = entry->first; i; i = i->next)
        if (i->op == OD_HOP_Param && i->imm >= 0 && i->imm < nl)
            W->params[i->imm] = i;
    int *F = W->fcur;
    for (int round = 0, changed = 1; changed; round++) {
        if (round > 10000) {
            snprintf(W->L->reason, sizeof W->L->reason, "write-back data-flow did not settle");
            return 1;
        }
        changed = 0;
        for (int k = 0; k < W->n; k++) {
            OdHirBlock *b = W->order[k];
            if (b == entry) {
                for (int j = 0; j < nl; j++)
                    F[j] = j >= W->fn->nargs ? W->nids : W->params[j] ? W->params[j]->id : FK_UNKNOWN;
            } else if (frame_in(W, b, F) < 0) {
                continue;
            }
            memcpy(W->fin + (size_t)b->id * nl, F, sizeof(int) * (size_t)nl);
            frame_walk(W, b, F);
            int *o = W->fout + (size_t)b->id * nl;
            if (!W->fseen[b->id] || memcmp(o, F, sizeof(int) * (size_t)nl)) {
                memcpy(o, F, sizeof(int) * (size_t)nl);
                W->fseen[b->id] = 1;
                changed = 1;
            }
        }
    }
    for (int k = 0; k < nl; k++)
        if (W->own[k] && W->params[k])
            W->params[k]->imm2 = 1;
    return 0;
}

/* Records the locals in W->syncbuf as exit e's write-back list. */
static int set_sync(Lower *W, int e, int n)
{
    OdLirExit *x = &W->L->exits[e];
    if (!(x->sync = od_arena_alloc(&W->L->arena, sizeof(int) * (size_t)(n + 1))))
        return -1;
    memcpy(x->sync, W->syncbuf, sizeof(int) * (size_t)n);
    x->nsync = n;
    return 0;
}

/* The write-back list of exit e (of i, which writes back at run time when needed). */
static int sync_exit(Lower *W, OdHirInstr *i, int e)
{
    return set_sync(W, e, frame_sync(W, i, 2, W->fcur, W->syncbuf));
}

/* Whether `b` comes before `i` in i's block. */
static int earlier_in_block(const OdHirInstr *b, const OdHirInstr *i)
{
    if (b->block != i->block)
        return 0;
    for (const OdHirInstr *p = i->prev; p; p = p->prev)
        if (p == b)
            return 1;
    return 0;
}

/* The vreg of a box of the unboxed value `v` (a BoxInt or BoxFloat of it) made earlier in
 * i's block and still held after i, or -1. A loop's counter boxed for its use as an operand
 * (`src[pos]` after `pos += 1`) is that object in the frame too: the write-back before the
 * next call boxed it once more (an allocation per iteration). */
static int live_box(Lower *W, OdHirInstr *i, OdHirInstr *v)
{
    v = root(v);
    if (!v)
        return -1;
    const uint64_t *after = W->after + (size_t)i->id * W->words;
    for (int u = 0; u < v->nuses; u++) {
        OdHirInstr *b = v->uses[u].user;
        if ((b->op == OD_HOP_BoxInt || b->op == OD_HOP_BoxFloat) && v->uses[u].index == 0
            && W->vreg[b->id] >= 0 && BIT_GET(after, b->id) && earlier_in_block(b, i))
            return W->vreg[b->id];
    }
    return -1;
}

/* The unboxed locals of write-back exit e (of i), boxed by the code before the Sync: a
 * BoxInt/BoxFloat helper call each (a small int in line), whose result becomes the local's
 * value in e, so the Sync stores objects only and codegen writes it back in line
 * (sync_inline) instead of calling od_t2_sync with every register dumped around it (about
 * 150 instructions a write-back: spectral_norm's accumulator before each eval_A call,
 * richards' counters). A failed box (MemoryError) is an ERROR exit at i that also releases
 * the boxes made before it. The boxes' vregs go to *out (the caller releases them after the
 * Sync, the frame then holding its own references); their count, or -1 on error. */
static int prebox(Lower *W, OdHirInstr *i, int e, int **out)
{
    OdLirExit *x = &W->L->exits[e];
    int nsync = x->nsync, nb = 0;
    *out = NULL;
    for (int j = 0; j < nsync; j++) {
        OdLirVal *v = &W->L->exits[e].slots[W->L->exits[e].sync[j]];
        if (v->kind != OD_XV_CINT && v->kind != OD_XV_CDOUBLE)
            continue;
        int have = live_box(W, i, i->fs->slots[W->L->exits[e].sync[j]]);
        if (have >= 0) {        /* the Sync takes a reference of its own to that box */
            v->kind = OD_XV_BOXED;
            v->vreg = have;
            continue;
        }
        if (!*out && !(*out = malloc(sizeof(int) * (size_t)(nsync + 1)))) {
            PyErr_NoMemory();
            return -1;
        }
        int t = new_vreg(W->L, OD_VR_GPR);
        int be = t < 0 ? -1 : exit_here(W, i, OD_XK_ERROR, OD_T2X_ERROR);
        if (be < 0)
            return -1;
        OdLirExit *bx = &W->L->exits[be];
        if (nb) {           /* the earlier boxes are released when this one fails */
            OdLirVal *h = od_arena_alloc(&W->L->arena, sizeof(OdLirVal) * (size_t)(bx->nheld + nb + 1));
            if (!h)
                return -1;
            memcpy(h, bx->held, sizeof(OdLirVal) * (size_t)bx->nheld);
            for (int b = 0; b < nb; b++) {
                memset(&h[bx->nheld + b], 0, sizeof *h);
                h[bx->nheld + b].kind = OD_XV_BOXED;
                h[bx->nheld + b].vreg = (*out)[b];
            }
            bx->held = h;
            bx->nheld += nb;
        }
        bx->after_call = 1;
        v = &W->L->exits[e].slots[W->L->exits[e].sync[j]];   /* exits may have moved */
        OdLirInstr *c = emit(W, OD_LOP_CallH, 1);
        if (!c)
            return -1;
        c->src[0] = v->vreg;
        c->dst = t;
        c->ptr = v->kind == OD_XV_CINT ? (const void *)od_t2_box_int : (const void *)od_t2_box_float;
        c->check = OD_CHK_NULL;
        c->exit = be;
        if (W->L->out_slots < 3)
            W->L->out_slots = 3;
        v->kind = OD_XV_BOXED;
        v->vreg = t;
        (*out)[nb++] = t;
    }
    return nb;
}

/* A Sync before i (conditional: at Return, when the frame has a frame object). */
static int write_back(Lower *W, OdHirInstr *i, int conditional)
{
    int n = frame_sync(W, i, conditional ? 2 : 1, W->fcur, W->syncbuf);
    if (!n && !conditional)
        return 0;
    int e = exit_here(W, i, OD_XK_ERROR, OD_T2X_ERROR);
    OdLirInstr *x;
    if (e < 0 || set_sync(W, e, n) < 0)
        return -1;
    int nbox = 0, *boxes = NULL;
    if (!conditional && (nbox = prebox(W, i, e, &boxes)) < 0) {
        free(boxes);
        return -1;
    }
    if (!(x = emit(W, OD_LOP_Sync, 0))) {
        free(boxes);
        return -1;
    }
    if (!conditional && W->L->out_slots < n)
        W->L->out_slots = n;    /* codegen may keep the old values there (sync_inline) */
    x->exit = e;
    x->imm = conditional;
    /* the frame holds its own reference to each box now */
    for (int b = 0; b < nbox; b++)
        if (decref_vreg(W, boxes[b], 0) < 0) {
            free(boxes);
            return -1;
        }
    free(boxes);
    return 0;
}

/* ---- reference counts seen during a call ---------------------------------------------- */

/* Whether an unbox reads v (through guards): a box made again from it is another object
 * with v's frame key. */
static int unboxed_somewhere(const OdHirInstr *v)
{
    for (int u = 0; u < v->nuses; u++) {
        const OdHirInstr *user = v->uses[u].user;
        if (v->uses[u].index < 0)
            continue;                   /* a frame-state slot */
        if (user->op == OD_HOP_UnboxInt || user->op == OD_HOP_UnboxFloat)
            return 1;
        if (is_alias(user) && user->ops[0] == v && unboxed_somewhere(user))
            return 1;
    }
    return 0;
}

/* Whether a frame slot whose key is r's id holds r's own object: r is no box and no unbox
 * reads it (a box made again from it is another object with r's key), and a phi's operands
 * are such values too (the frame gets a phi's key from what each predecessor's frame holds,
 * "frame keys" above). Phis nested deeper than a few levels count as not. */
static int frame_key_is_object(const OdHirInstr *r, int depth)
{
    if (r->op == OD_HOP_BoxInt || r->op == OD_HOP_BoxFloat || unboxed_somewhere(r))
        return 0;
    if (r->op != OD_HOP_Phi)
        return 1;
    if (depth > 4)
        return 0;
    for (int p = 0; p < r->nops; p++) {
        const OdHirInstr *o = root(r->ops[p]);
        if (o && o != r && !frame_key_is_object(o, depth + 1))
            return 0;
    }
    return 1;
}

static int key_is_object(Lower *W, const OdHirInstr *r)
{
    if (!W->fko[r->id])
        W->fko[r->id] = (unsigned char)(1 + frame_key_is_object(r, 0));
    return W->fko[r->id] == 2;
}

/* During a helper call the interpreter holds one reference per local and one per value-
 * stack slot. The code holds one per owned value plus the frame's one per local written
 * back: a value only a local holds would count twice (`sys.getrefcount` seen from the
 * callee; test_imp). So such a value's reference is lent to the frame while the helper
 * runs (CallH's `lend`: one less right before the call, restored right after it, before
 * its result is checked, so its exit finds what it expects; an in-line hit path, which
 * runs no Python code, skips both), or, when the value dies at the call, handed to it: it
 * is released before the call (the frame keeps its own, so nothing is freed) and not
 * after (`handed`, which no exit of the call releases either: keep_owned). Only where the
 * frame certainly holds the value's own object (frame_key_is_object), and not for a value
 * on the stack (an operand), whose code reference stands for the stack's. Returns the
 * lent vregs' count, their list in *out; -1 on error. */
static int lend_to_frame(Lower *W, OdHirInstr *i, int **out)
{
    OdFrameState *fs = i->fs;
    int nl = fs->nlocals < W->nlocals ? fs->nlocals : W->nlocals, n = 0;
    const uint64_t *after = W->after + (size_t)i->id * W->words;
    *out = NULL;
    for (int k = 0; k < nl; k++) {
        OdHirInstr *r = root(fs->slots[k]);
        if (!owned(r) || r == i || nullable(r) || W->vreg[r->id] < 0 || W->fcur[k] != r->id
            || BIT_GET(W->lent, r->id) || !key_is_object(W, r))
            continue;
        int on_stack = 0;
        for (int s = fs->nlocals; s < fs->nlocals + fs->depth && !on_stack; s++)
            on_stack = root(fs->slots[s]) == r;
        for (int o = 0; o < i->nops && !on_stack; o++)
            on_stack = root(i->ops[o]) == r;
        if (on_stack)
            continue;
        BIT_SET(W->lent, r->id);
        if (!BIT_GET(after, r->id)) {
            BIT_SET(W->handed, r->id);
            if (decref(W, r) < 0)
                return -1;
            continue;
        }
        if (!*out && !(*out = od_arena_alloc(&W->L->arena, sizeof(int) * (size_t)(nl + 1))))
            return -1;
        (*out)[n++] = W->vreg[r->id];
    }
    memset(W->lent, 0, sizeof(uint64_t) * (size_t)W->words);
    return n;
}

/* ---- generic operations through helpers ------------------------------------------------ */

/* The next of the function's attribute sites (rt/attr.h) for generic attribute access i,
 * as the helper's imm: its cache, and the reason `attrs` left it generic (i->imm). */
/* The receiver types of site s (instruction i) that its code tests in line, from tier 1's
 * record of a site that met several (od_feedback_attr_ways): for a load an attribute in
 * the inline values or a __slots__ member; for a method one no instance attribute can
 * shadow (no instance dict, or shared keys of a known size); for a store an attribute in
 * the inline values or a slot. Entries of other kinds are left to the site's own road. */
static void attr_ways(OdT2AttrSite *s, const OdHirInstr *i, const OdFeedback *fb)
{
    OdAttrCache e[OD_ATTR_WAYS];
    int n = od_feedback_attr_ways(fb, i->bc_offset, e);
    for (int k = 0; k < n; k++) {
        int ok;
        switch (e[k].kind) {
        case OD_ATTR_INSTANCE_VALUE:
            ok = i->op != OD_HOP_LoadMethod && e[k].index >= 0 && e[k].index < (1 << 20);
            break;
        case OD_ATTR_SLOT:      /* never ob_type: a store there is no slot store */
            ok = i->op != OD_HOP_LoadMethod && e[k].index >= (Py_ssize_t)sizeof(PyObject)
                 && e[k].index < (1 << 20);
            break;
        case OD_ATTR_METHOD_NO_DICT:
            ok = i->op == OD_HOP_LoadMethod && e[k].value;
            break;
        case OD_ATTR_METHOD_SHARED_KEYS:
            ok = i->op == OD_HOP_LoadMethod && e[k].value && e[k].keys_nentries >= 0
                 && e[k].keys_nentries < (1 << 20);
            break;
        default:
            ok = 0;
        }
        if (ok)
            s->ways[s->nways++] = (OdT2AttrWay){e[k].type_version, e[k].kind, e[k].index,
                                                e[k].kind == OD_ATTR_METHOD_SHARED_KEYS
                                                    ? e[k].keys_nentries : 0,
                                                e[k].value};
    }
    od_t2_attr_way_sites += s->nways > 0;
}

static long long attr_site(Lower *W, OdHirInstr *i)
{
    OdLir *L = W->L;
    if (L->used_attr_sites >= L->nattr_sites)
        return 0;                   /* not counted: the helper's uncached path */
    OdT2AttrSite *s = &L->attr_sites[L->used_attr_sites++];
    s->site.name = i->obj;          /* borrowed from co_names, as tier 1's sites */
    s->why = i->imm >= 0 && i->imm < OD_ATTR_WHY__COUNT ? (int)i->imm : OD_ATTR_WHY_OTHER;
    if (W->fn->feedback && od_t2_attr_ways_on)
        attr_ways(s, i, W->fn->feedback);
    return (long long)(intptr_t)s;
}

/* The next of the function's global sites (rt/helpers.h) for global load i. */
static OdT2GlobalSite *global_site(Lower *W)
{
    OdLir *L = W->L;
    return L->used_global_sites < L->nglobal_sites ? &L->global_sites[L->used_global_sites++]
                                                   : NULL;
}

/* dst = helper(frame, [operands], imm, obj). */
static OdLirInstr *call(Lower *W, OdHirInstr *i, const void *fn, int check, int kind, int reason)
{
    long long prev = -1;
    int at = -1;        /* the SetPrev's index in the block */
    if (i->bc_offset >= 0) {
        int j = i->bc_offset < W->L->bc.ncodeunits ? W->L->bc.instr_at_unit[i->bc_offset] : -1;
        OdLirInstr *p = emit(W, OD_LOP_SetPrev, 0);
        if (!p)
            return NULL;
        p->imm = prev = j >= 0 ? W->L->bc.instrs[j].index : i->bc_offset;
        at = W->L->blocks[W->cur].n - 1;
    }
    int nlend = 0, *lend = NULL;
    if (sync_kind(i) == 1 && (write_back(W, i, 0) < 0 || (nlend = lend_to_frame(W, i, &lend)) < 0))
        return NULL;
    /* Nothing between the SetPrev and the call (no write-back, whose releases may run a
     * finalizer that reads the line): the CallH sets prev_instr itself, on its slow path. */
    if (at >= 0 && at == W->L->blocks[W->cur].n - 1)
        W->L->blocks[W->cur].n--;
    else
        prev = -1;
    int *srcs = malloc(sizeof(int) * (size_t)(i->nops + 1));
    if (!srcs) {
        PyErr_NoMemory();
        return NULL;
    }
    for (int k = 0; k < i->nops; k++)
        if ((srcs[k] = use(W, i->ops[k])) < 0) {
            free(srcs);
            return NULL;
        }
    OdLirInstr *c = emit(W, OD_LOP_CallH, i->nops);
    if (!c) {
        free(srcs);
        return NULL;
    }
    memcpy(c->src, srcs, sizeof(int) * (size_t)i->nops);
    free(srcs);
    if (W->L->out_slots < i->nops + 2)
        W->L->out_slots = i->nops + 2;
    c->ptr = fn;
    c->check = check;
    c->nlend = nlend;
    c->lend = lend;
    c->prev = prev;
    /* a variadic op's operand count, unless its flags say it (FormatValue, MakeFunction) */
    c->imm = od_hir_op_info[i->op].noperands < 0 && i->op != OD_HOP_FormatValue
                     && i->op != OD_HOP_MakeFunction ? i->nops : i->imm;
    c->obj = i->obj;
    if (tracked(i))
        c->dst = W->vreg[i->id];
    if (check != OD_CHK_NONE) {
        if ((c->exit = exit_here(W, i, kind, reason)) < 0)
            return NULL;
        W->L->exits[c->exit].after_call = 1;
    }
    return c;
}

/* How many values the bytecode instruction of op pushes, for the state after it (-1: no
 * trace check after it). */
static int pushes_after(const OdHirInstr *i)
{
    switch (i->op) {
    case OD_HOP_StoreAttr: case OD_HOP_StoreSubscr: case OD_HOP_DeleteSubscr:
    case OD_HOP_StoreGlobal: case OD_HOP_ListAppend: case OD_HOP_ListExtend: case OD_HOP_SetAdd:
    case OD_HOP_MapAdd: case OD_HOP_StoreDeref: case OD_HOP_DeleteDeref:
        return 0;
    case OD_HOP_LoadMethod: case OD_HOP_BeforeWith:
        return 2;
    case OD_HOP_BinaryOp: case OD_HOP_Compare: case OD_HOP_ContainsOp: case OD_HOP_UnaryOp:
    case OD_HOP_Not: case OD_HOP_LoadAttr: case OD_HOP_Call: case OD_HOP_CallMethod:
    case OD_HOP_GetIter: case OD_HOP_Subscr: case OD_HOP_BuildSet: case OD_HOP_BuildMap:
    case OD_HOP_BuildConstKeyMap: case OD_HOP_FormatValue:
        return 1;
    default:
        return -1;
    }
}

/* The exit after i at the next bytecode instruction (i's results on the stack): -2 when
 * there is no such state (a jump, or depths that do not fit). */
static int exit_after(Lower *W, OdHirInstr *i, OdHirInstr *out2, int kind, int reason)
{
    int pushes = pushes_after(i);
    OdLir *L = W->L;
    int j = i->fs && i->fs->offset < L->bc.ncodeunits ? L->bc.instr_at_unit[i->fs->offset] : -1;
    if (pushes < 0 || j < 0 || j + 1 >= L->bc.ninstrs || od_opcode_is_jump(L->bc.instrs[j].opcode))
        return -2;
    const OdInstr *next = &L->bc.instrs[j + 1];
    int keep = next->depth - pushes;
    if (next->depth < 0 || keep < 0 || keep > i->fs->depth)
        return -2;
    OdHirInstr *extra[2] = {i, out2};
    /* Before release_after: the code still owns i's dying operands and i's results (also
     * when nothing uses them), and the exit releases them after taking its references. */
    uint64_t *h = held_before(W, i);
    if (tracked(i))
        BIT_SET(h, i->id);
    if (out2 && tracked(out2))
        BIT_SET(h, out2->id);
    keep_owned(W, h);
    if (W->consumed)
        BIT_CLR(h, W->consumed->id);
    int e = new_exit(W, kind, reason, i->fs, keep, extra, pushes, h, next->start);
    if (e >= 0 && W->consumed)
        /* the helper took the code's reference (the string may be the result, or gone): the
         * local it came from is unbound until the next instruction rebinds it, as after the
         * interpreter's BINARY_OP_INPLACE_ADD_UNICODE */
        for (int s = 0; s < i->fs->nlocals; s++)
            if (root(i->fs->slots[s]) == W->consumed) {
                memset(&L->exits[e].slots[s], 0, sizeof(OdLirVal));
                L->exits[e].slots[s].kind = OD_XV_NULL;
                L->exits[e].slots[s].vreg = -1;
            }
    return e;
}

/* After a call that may run Python code: leave if tracing was switched on, at the next
 * bytecode instruction (the call's results on the stack). */
static int trace_check(Lower *W, OdHirInstr *i, OdHirInstr *out2)
{
    int x = exit_after(W, i, out2, OD_XK_DEOPT, OD_T2X_TRACING);
    if (x == -2)
        return 0;
    OdLirInstr *t = x < 0 ? NULL : emit(W, OD_LOP_TraceCheck, 0);
    if (!t)
        return -1;
    t->exit = x;
    return 0;
}

/* After CALL the interpreter checks the eval breaker (CHECK_EVAL_BREAKER): a signal that
 * arrived during the call has its Python handler run before the next instruction, and an
 * exception from it is raised at the CALL with the result on the stack (an ERROR exit in
 * the state after the call). */
static int poll_after_call(Lower *W, OdHirInstr *i, OdHirInstr *out2)
{
    int x = exit_after(W, i, out2, OD_XK_ERROR, OD_T2X_ERROR);
    if (x == -2)
        return 0;
    if (x < 0 || sync_exit(W, i, x) < 0)
        return -1;
    OdLirInstr *t = emit(W, OD_LOP_Poll, 0);
    if (!t)
        return -1;
    t->exit = x;
    return 0;
}

/* ---- instructions ---------------------------------------------------------------------- */

static int guard(Lower *W, OdHirInstr *i, OdLirOp op, int reason)
{
    int s = use(W, i->ops[0]);
    OdLirInstr *g = s < 0 ? NULL : emit(W, op, 1);
    if (!g)
        return -1;
    g->src[0] = s;
    g->ptr = i->obj;
    if ((g->exit = exit_here(W, i, OD_XK_DEOPT, reason)) < 0)
        return -1;
    return 0;
}

static int binary(Lower *W, OdHirInstr *i, OdLirOp op, int reason)
{
    int a = use(W, i->ops[0]), b = a < 0 ? -1 : use(W, i->ops[1]);
    OdLirInstr *x = b < 0 ? NULL : emit(W, op, 2);
    if (!x)
        return -1;
    x->src[0] = a;
    x->src[1] = b;
    x->dst = W->vreg[i->id];
    x->imm = i->imm;
    if (reason >= 0 && (x->exit = exit_here(W, i, OD_XK_DEOPT, reason)) < 0)
        return -1;
    return 0;
}

static int unary(Lower *W, OdHirInstr *i, OdLirOp op)
{
    int a = use(W, i->ops[0]);
    OdLirInstr *x = a < 0 ? NULL : emit(W, op, 1);
    if (!x)
        return -1;
    x->src[0] = a;
    x->dst = W->vreg[i->id];
    x->imm = i->imm;
    return 0;
}

/* Owned values whose last use is i (and i's own result if nothing uses it) are released,
 * except `moved`, whose reference i handed on (a store into an object). */
static int release_after(Lower *W, OdHirInstr *i, OdHirInstr *moved)
{
    const uint64_t *after = W->after + (size_t)i->id * W->words;
    uint64_t *done = W->tmp;
    memset(done, 0, sizeof(uint64_t) * (size_t)W->words);
    int err = 0;
    FOR_USES(i, r, {
        if (!err && owned(r) && !BIT_GET(after, r->id) && !BIT_GET(done, r->id) && r != i
            && r != moved && !BIT_GET(W->handed, r->id)) {
            BIT_SET(done, r->id);
            err = decref(W, r);
        }
    });
    if (!err && owned(i) && !BIT_GET(after, i->id))
        err = decref(W, i);
    return err;
}

/* Whether `prev`, a float read from a list item, slot or inline value, is still held
 * there when the BoxFloat i of its replacement runs and i's box goes back to that very
 * place: i's only use besides frame states is the matching store into the same object
 * at the same index, later in the block, and nothing between the read and the store
 * writes anything or releases anything that could run code (a finalizer could rebind the
 * item), and nothing between i and the store can exit. Then the object's count is 2 at
 * i when only the container and the code hold it (`v[0] -= d`: the double can go into
 * it; the store puts it back where it was).
 * -1: not worth a test (another value holds the object too). */
static int held_and_stored_back(Lower *W, OdHirInstr *i, OdHirInstr *prev)
{
    OdHirOp store = prev->op == OD_HOP_LoadListItem ? OD_HOP_StoreListItem
                  : prev->op == OD_HOP_LoadSlot ? OD_HOP_StoreSlot
                  : prev->op == OD_HOP_LoadInstanceValue ? OD_HOP_StoreInstanceValue : 0;
    if (!store || prev->block != i->block)
        return 0;
    OdHirInstr *st = NULL;
    for (int u = 0; u < i->nuses; u++) {
        if (i->uses[u].index < 0)
            continue;
        if (st)
            return 0;
        st = i->uses[u].user;
    }
    if (!st || st->op != store || st->block != i->block || st->imm != prev->imm
        || root(st->ops[1]) != i || root(st->ops[0]) != root(prev->ops[0]))
        return 0;
    /* another read of the same place still held (`x = self.x` before `self.x /= n`) has
     * the object too: its count is never 2 at i, so the test would only cost */
    OdHirInstr *owner = root(prev->ops[0]);
    const uint64_t *after_i = W->after + (size_t)i->id * W->words;
    for (OdHirInstr *o = i->block->first; o && o != i; o = o->next)
        if (o != prev && o->op == prev->op && o->imm == prev->imm && root(o->ops[0]) == owner
            && BIT_GET(after_i, o->id))
            return -1;
    int seen_i = 0;
    for (OdHirInstr *j = prev; j && j != st; j = j->next) {
        const uint64_t *after = W->after + (size_t)j->id * W->words;
        int bad = 0;
        if (j != prev && (od_hir_op_info[j->op].effects & OD_HE_WRITES))
            return 0;
        FOR_USES(j, r, {
            if (r != prev && owned(r) && !BIT_GET(after, r->id) && !plain(r))
                bad = 1;
        });
        if (bad || (j != prev && owned(j) && !BIT_GET(after, j->id) && !plain(j)))
            return 0;
        /* after i the old object holds the new value: nothing may exit to a bytecode
         * instruction before the store, where the interpreter would read it again */
        if (seen_i && j->fs)
            return 0;
        seen_i |= j == i;
        if (!j->next)
            return 0;
    }
    return seen_i;
}

/* A BoxFloat may take the object of a value that dies here instead of a new one: the
 * float of the last iteration's `dx` (a local rebound each time round a loop), a
 * temporary, or the item it replaces (held_and_stored_back). The owned value the code
 * releases right after i (release_after) becomes src[1]; codegen checks at run time that
 * it is an exact float held by the code alone (reference count 1: no local, container or
 * other value sees it; 2 for an item stored back), writes the double into it and takes
 * one more reference to it as the result, which the release then drops: no allocation,
 * no deallocation, and nothing can tell, as nothing else holds it. The one chosen is the
 * first such value in i's uses; none: the box as before. */
static int reuse_dying_float(Lower *W, OdHirInstr *i, OdLirInstr *x)
{
    const uint64_t *after = W->after + (size_t)i->id * W->words;
    OdHirInstr *prev = NULL;
    FOR_USES(i, r, {
        if (!prev && owned(r) && r != i && !BIT_GET(after, r->id) && !BIT_GET(W->handed, r->id)
            && (r->type.bits & OD_TB(Float)))
            prev = r;
    });
    if (!prev)
        return 0;
    int held = held_and_stored_back(W, i, prev);
    if (held < 0)
        return 0;
    int *src = od_arena_alloc(&W->L->arena, sizeof(int) * 2);
    if (!src)
        return -1;
    src[0] = x->src[0];
    src[1] = W->vreg[prev->id];
    x->src = src;
    x->nsrc = 2;
    x->imm2 = nullable(prev) | held << 1;
    return 0;
}

static int lower_instr(Lower *W, OdHirInstr *i)
{
    OdLirInstr *x;
    OdHirInstr *out2 = NULL;
    W->hir = i->id;
    switch (i->op) {
    case OD_HOP_Param:
        if (!owned_param(i))
            return 0;
        /* the frame's slot gets written back: the code keeps its own reference */
        if (!(x = emit(W, OD_LOP_LoadLocal, 0)))
            return -1;
        x->imm = i->imm;
        x->dst = W->vreg[i->id];
        if (incref_vreg(W, x->dst, nullable(i)) < 0)
            return -1;
        return release_after(W, i, NULL);
    case OD_HOP_OsrStack:
        /* the frame's reference moves into the code (the OSR entry empties the frame's
         * stack: tier2.c od_tier2_osr) */
        if (!(x = emit(W, OD_LOP_LoadLocal, 0)))
            return -1;
        x->imm = W->fn->code->co_nlocalsplus + i->imm;
        x->dst = W->vreg[i->id];
        return release_after(W, i, NULL);
    case OD_HOP_Const: case OD_HOP_Phi:
        return 0;
    case OD_HOP_MethodSelf: case OD_HOP_WithEnter:  /* made by its LoadMethod (BeforeWith);
                                                     * releases what dies here */
        return release_after(W, i, NULL);
    case OD_HOP_Snapshot: {
        if (i->imm == 1) {
            /* a release point (`x = None`): the old value dies here, at this line */
            OdHirInstr *old = (int)i->imm2 < i->fs->nlocals ? root(i->fs->slots[i->imm2]) : NULL;
            if (old && owned(old) && !BIT_GET(W->after + (size_t)i->id * W->words, old->id)) {
                int j = i->fs->offset < W->L->bc.ncodeunits ? W->L->bc.instr_at_unit[i->fs->offset] : -1;
                if (!(x = emit(W, OD_LOP_SetPrev, 0)))
                    return -1;
                x->imm = j >= 0 ? W->L->bc.instrs[j].index : i->fs->offset;
            }
            return release_after(W, i, NULL);
        }
        uint64_t *h = held_before(W, i);
        keep_owned(W, h);
        int e = new_exit(W, OD_XK_ERROR, OD_T2X_ERROR, i->fs, i->fs->depth, NULL, 0, h, -1);
        if (e < 0 || sync_exit(W, i, e) < 0 || !(x = emit(W, OD_LOP_Poll, 0)))
            return -1;
        x->exit = e;
        return 0;
    }
    case OD_HOP_CheckBound:
        return guard(W, i, OD_LOP_GuardNotNull, OD_T2X_UNBOUND_LOCAL);
    case OD_HOP_GuardNotNull:
        return guard(W, i, OD_LOP_GuardNotNull, OD_T2X_GUARD_TYPE);
    case OD_HOP_GuardIs:
        return guard(W, i, OD_LOP_GuardIs, OD_T2X_GUARD_TYPE);
    case OD_HOP_GuardType:
        if (od_type_eq(i->itype, od_type_named(OD_TN_Int)))
            return guard(W, i, OD_LOP_GuardInt, OD_T2X_GUARD_TYPE);
        if (od_type_eq(i->itype, od_type_named(OD_TN_Float)))
            return guard(W, i, OD_LOP_GuardFloat, OD_T2X_GUARD_TYPE);
        if (od_type_eq(i->itype, od_type_named(OD_TN_List)))
            return guard(W, i, OD_LOP_GuardList, OD_T2X_GUARD_TYPE);
        if (od_type_eq(i->itype, od_type_named(OD_TN_Str)))
            return guard(W, i, OD_LOP_GuardStr, OD_T2X_GUARD_TYPE);
        return refuse(W, "GuardType of a type other than Int, Float, List or Str");
    case OD_HOP_GuardTypeVersion: case OD_HOP_GuardSharedKeys:
        if (guard(W, i, i->op == OD_HOP_GuardTypeVersion ? OD_LOP_GuardVersion : OD_LOP_GuardKeys,
                  OD_T2X_GUARD_ATTR) < 0)
            return -1;
        W->L->blocks[W->cur].ins[W->L->blocks[W->cur].n - 1].imm = i->imm;
        W->L->blocks[W->cur].ins[W->L->blocks[W->cur].n - 1].imm2 = i->imm2;
        return 0;
    case OD_HOP_LoadInstanceValue: case OD_HOP_LoadSlot: case OD_HOP_LoadListItem:
    case OD_HOP_LoadDictHint: case OD_HOP_LoadListItemAt: case OD_HOP_LoadDeref: {
        /* LoadDeref too: the cell's ob_ref in line, an empty cell a deopt (the interpreter
         * raises), not od_t2_load_deref's call (chaos's `self` and `I`, cells of
         * Spline.__call__ for its comprehension, were read through it 330 K times a run) */
        int at = i->op == OD_HOP_LoadListItemAt, deref = i->op == OD_HOP_LoadDeref;
        int o = use(W, i->ops[0]), k = o >= 0 && at ? use(W, i->ops[1]) : 0;
        if (o < 0 || k < 0
            || !(x = emit(W, i->op == OD_HOP_LoadDictHint ? OD_LOP_LoadDictEntry
                                                          : OD_LOP_LoadField, 1 + at)))
            return -1;
        x->src[0] = o;
        if (at)
            x->src[1] = k;
        x->imm = deref ? (int64_t)offsetof(PyCellObject, ob_ref) : i->imm;
        x->imm2 = i->op == OD_HOP_LoadDictHint ? i->imm2
                  : i->op == OD_HOP_LoadInstanceValue ? 1 : i->op == OD_HOP_LoadListItem ? 2
                  : at ? 3 + unboxed_index(i) : 0;
        x->obj = deref ? NULL : i->obj;
        x->dst = W->vreg[i->id];
        if ((x->exit = exit_here(W, i, OD_XK_DEOPT,
                                 deref ? OD_T2X_UNBOUND_LOCAL
                                 : x->op == OD_LOP_LoadField && x->imm2 >= 2 ? OD_T2X_LIST_INDEX
                                                                 : OD_T2X_GUARD_ATTR)) < 0
            || incref_vreg(W, W->vreg[i->id], 0) < 0)
            return -1;
        break;
    }
    case OD_HOP_LoadTypeMethod:
        /* the method's address, valid under the guard the operand went through: its
         * reference is taken here, while the type's dict still holds it */
        if (!(x = emit(W, OD_LOP_Imm, 0)))
            return -1;
        x->imm = i->imm;
        x->dst = W->vreg[i->id];
        if (incref_vreg(W, x->dst, 0) < 0)
            return -1;
        break;
    case OD_HOP_StoreInstanceValue: case OD_HOP_StoreSlot: case OD_HOP_StoreListItem:
    case OD_HOP_StoreListItemAt: case OD_HOP_StoreDictHint: {
        /* StoreField's src1 is the value; the At form's index comes third. StoreDictEntry
         * is StoreField's form for an instance dict's entry (imm2: the dict's offset) */
        int at = i->op == OD_HOP_StoreListItemAt, dict = i->op == OD_HOP_StoreDictHint;
        OdHirInstr *value = i->ops[at ? 2 : 1];
        int o = use(W, i->ops[0]), v = o < 0 ? -1 : use(W, value);
        int k = v >= 0 && at ? use(W, i->ops[1]) : 0;
        int old = v < 0 || k < 0 ? -1 : new_vreg(W->L, OD_VR_GPR);
        if (old < 0 || !(x = emit(W, dict ? OD_LOP_StoreDictEntry : OD_LOP_StoreField, 2 + at)))
            return -1;
        x->src[0] = o;
        x->src[1] = v;
        if (at)
            x->src[2] = k;
        x->imm = i->imm;
        x->imm2 = dict ? i->imm2 : i->op == OD_HOP_StoreInstanceValue ? 1
                  : i->op == OD_HOP_StoreListItem ? 2 : at ? 3 + unboxed_index(i) : 0;
        x->obj = dict ? i->obj : NULL;
        x->dst = old;
        if ((x->imm2 || dict)
            && (x->exit = exit_here(W, i, OD_XK_DEOPT, x->imm2 >= 2 && !dict ? OD_T2X_LIST_INDEX
                                                                              : OD_T2X_GUARD_ATTR)) < 0)
            return -1;
        /* stored: the object's reference to the new value (the code's own when the
         * value dies here: it moves), then the old one released (last: its finalizer may
         * run code, the object is consistent by then) */
        OdHirInstr *rv = root(value);
        OdHirInstr *moved = owned(rv) && rv != root(i->ops[0])
                            && !BIT_GET(W->after + (size_t)i->id * W->words, rv->id) ? rv : NULL;
        if ((!moved && incref_vreg(W, v, 0) < 0) || decref_vreg(W, old, 1) < 0)
            return -1;
        return release_after(W, i, moved);
    }
    case OD_HOP_GlobalValue: {
        int j = W->L->bc.instr_at_unit[i->bc_offset];
        if (!(x = emit(W, OD_LOP_SetPrev, 0)))
            return -1;
        x->imm = j >= 0 ? W->L->bc.instrs[j].index : i->bc_offset;
        int e = exit_here(W, i, OD_XK_ERROR_OR_DEOPT, OD_T2X_HELPER_DEOPT);
        if (e < 0 || !(x = emit(W, OD_LOP_GlobalLoad, 0)))
            return -1;
        x->imm = i->imm;
        x->imm2 = i->imm2;
        x->ptr = i->obj;
        x->obj = PyTuple_GET_ITEM(W->fn->code->co_names, W->L->bc.instrs[j].oparg >> 1);
        x->site = global_site(W);
        x->dst = W->vreg[i->id];
        x->exit = e;
        W->L->exits[e].after_call = 1;
        if (W->L->out_slots < 2)
            W->L->out_slots = 2;
        break;
    }
    case OD_HOP_UnboxInt:
        if (unary(W, i, OD_LOP_UnboxInt) < 0)
            return -1;
        break;
    case OD_HOP_UnboxFloat:
        if (unary(W, i, OD_LOP_UnboxFloat) < 0)
            return -1;
        break;
    case OD_HOP_IntToFloat:
        if (unary(W, i, OD_LOP_IntToF) < 0)
            return -1;
        break;
    case OD_HOP_BoxBool:
        if (unary(W, i, OD_LOP_BoxBool) < 0)
            return -1;
        break;
    case OD_HOP_BoxInt: case OD_HOP_BoxFloat: {
        /* no helper call: the allocator keeps values in caller-saved registers across it
         * (the out-of-line allocation saves them); no Python code runs, so no SetPrev */
        int d = use(W, i->ops[0]);
        if (d < 0 || !(x = emit(W, i->op == OD_HOP_BoxInt ? OD_LOP_BoxInt : OD_LOP_BoxFloat, 1)))
            return -1;
        x->src[0] = d;
        x->dst = W->vreg[i->id];
        if ((x->exit = exit_here(W, i, OD_XK_ERROR, OD_T2X_ERROR)) < 0)
            return -1;
        if (i->op == OD_HOP_BoxFloat && reuse_dying_float(W, i, x) < 0)
            return -1;
        break;
    }
    case OD_HOP_IntFloorDiv: case OD_HOP_IntMod: {
        /* by a constant power of two (spectral_norm's `// 2`): Python's floor division is
         * the arithmetic shift, its modulo (the divisor's sign: >= 0) the low bits; no
         * zero divisor, no overflow, no helper call */
        OdHirInstr *d = root(i->ops[1]);
        long long k = d && d->op == OD_HOP_Const && unboxed_kind(d->type) == OD_XV_CINT ? d->imm : 0;
        if (k >= 2 && (k & (k - 1)) == 0) {
            int a = use(W, i->ops[0]), m = -1;
            if (a < 0)
                return -1;
            if (i->op == OD_HOP_IntMod) {           /* the mask, k - 1 */
                OdLirInstr *mi;
                if ((m = new_vreg(W->L, OD_VR_GPR)) < 0 || !(mi = emit(W, OD_LOP_Imm, 0)))
                    return -1;
                mi->imm = k - 1;
                mi->dst = m;
            }
            if (!(x = emit(W, m >= 0 ? OD_LOP_IntAnd : OD_LOP_IntSar, m >= 0 ? 2 : 1)))
                return -1;
            x->src[0] = a;
            if (m >= 0)
                x->src[1] = m;
            else
                x->imm = __builtin_ctzll((unsigned long long)k);
            x->dst = W->vreg[i->id];
            break;
        }
        goto helper;
    }
    case OD_HOP_IntAdd: if (binary(W, i, OD_LOP_IntAdd, OD_T2X_INT_OVERFLOW) < 0) return -1; break;
    case OD_HOP_IntSub: if (binary(W, i, OD_LOP_IntSub, OD_T2X_INT_OVERFLOW) < 0) return -1; break;
    case OD_HOP_IntMul: if (binary(W, i, OD_LOP_IntMul, OD_T2X_INT_OVERFLOW) < 0) return -1; break;
    case OD_HOP_IntAnd: if (binary(W, i, OD_LOP_IntAnd, -1) < 0) return -1; break;
    case OD_HOP_IntOr: if (binary(W, i, OD_LOP_IntOr, -1) < 0) return -1; break;
    case OD_HOP_IntXor: if (binary(W, i, OD_LOP_IntXor, -1) < 0) return -1; break;
    case OD_HOP_IntCompare: if (binary(W, i, OD_LOP_IntCmp, -1) < 0) return -1; break;
    case OD_HOP_FloatAdd: if (binary(W, i, OD_LOP_FAdd, -1) < 0) return -1; break;
    case OD_HOP_FloatSub: if (binary(W, i, OD_LOP_FSub, -1) < 0) return -1; break;
    case OD_HOP_FloatMul: if (binary(W, i, OD_LOP_FMul, -1) < 0) return -1; break;
    case OD_HOP_FloatDiv: if (binary(W, i, OD_LOP_FDiv, OD_T2X_FLOAT_ZERO_DIV) < 0) return -1; break;
    case OD_HOP_FloatCompare: if (binary(W, i, OD_LOP_FCmp, -1) < 0) return -1; break;
    case OD_HOP_FloatMath: {
        double (*fn)(double) = od_t2_math_c_fn((int)i->imm);
        if (!fn)
            return refuse(W, "FloatMath");
        if (!(x = call(W, i, (const void *)fn, OD_CHK_MATH, OD_XK_DEOPT, OD_T2X_FLOAT_MATH)))
            return -1;
        x->prev = -1;       /* a C function of a double: nothing reads prev_instr */
        break;
    }
    case OD_HOP_FloatSqrt: {
        int e = exit_here(W, i, OD_XK_DEOPT, OD_T2X_FLOAT_MATH);
        if (e < 0 || unary(W, i, OD_LOP_FSqrt) < 0)
            return -1;
        W->L->blocks[W->cur].ins[W->L->blocks[W->cur].n - 1].exit = e;
        break;
    }
    case OD_HOP_IsIdentical: if (binary(W, i, OD_LOP_IsPtr, -1) < 0) return -1; break;
    case OD_HOP_UnpackSequence: {
        /* Exact tuples and lists, the only sequences od_t2_unpack took, in line: the items
         * are read from the sequence's own array, and a list is not copied into a tuple
         * first (nbody's `[x1, y1, z1]`: a tuple made and freed per unpacking). Anything else
         * leaves before anything ran, as the helper's refusal did. The value is the sequence
         * itself, with a reference of its own: kept alive until the last TupleGetItem, which
         * the builder puts right after (pure loads: no code runs that could change a list's
         * items or array in between). */
        int s = use(W, i->ops[0]), items = s < 0 ? -1 : new_vreg(W->L, OD_VR_GPR);
        if (items < 0 || !(x = emit(W, OD_LOP_SeqItems, 1)))
            return -1;
        x->src[0] = s;
        x->dst = items;
        x->imm = i->imm;
        if ((x->exit = exit_here(W, i, OD_XK_DEOPT, OD_T2X_HELPER_DEOPT)) < 0)
            return -1;
        W->seq_items[i->id] = items;
        if (!(x = emit(W, OD_LOP_Move, 1)))
            return -1;
        x->src[0] = s;
        x->dst = W->vreg[i->id];
        if (incref_vreg(W, x->dst, 0) < 0)
            return -1;
        break;
    }
    case OD_HOP_TupleGetItem: {
        OdHirInstr *seq = root(i->ops[0]);
        int items = seq && seq->op == OD_HOP_UnpackSequence ? W->seq_items[seq->id] : -1;
        int t = items >= 0 ? items : use(W, i->ops[0]);
        if (t < 0 || !(x = emit(W, OD_LOP_LoadMem, 1)))
            return -1;
        x->src[0] = t;
        x->imm = (items >= 0 ? 0 : (long long)offsetof(PyTupleObject, ob_item)) + 8 * i->imm;
        x->dst = W->vreg[i->id];
        if (incref_vreg(W, x->dst, 0) < 0)
            return -1;
        break;
    }
    case OD_HOP_IsTrue: {
        int s = use(W, i->ops[0]);
        if (s < 0 || !(x = emit(W, OD_LOP_Truth, 1)))
            return -1;
        /* prev_instr is set on the helper's road only, as a CallH's: True and False,
         * tested in line, run no Python code that could read it */
        if (i->bc_offset >= 0) {
            int j = W->L->bc.instr_at_unit[i->bc_offset];
            x->prev = j >= 0 ? W->L->bc.instrs[j].index : i->bc_offset;
        }
        x->src[0] = s;
        x->dst = W->vreg[i->id];
        x->ptr = od_t2_truth;
        if (W->L->out_slots < 3)
            W->L->out_slots = 3;
        if ((x->exit = exit_here(W, i, OD_XK_ERROR, OD_T2X_ERROR)) < 0)
            return -1;
        W->L->exits[x->exit].after_call = 1;
        if (sync_kind(i) == 2 && sync_exit(W, i, x->exit) < 0)
            return -1;
        break;
    }
    case OD_HOP_LoadMethod: case OD_HOP_BeforeWith:
        out2 = W->mself[i->id];
        if (!(x = call(W, i, i->op == OD_HOP_LoadMethod ? (const void *)od_t2_load_method
                                                         : (const void *)od_t2_before_with,
                       OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)))
            return -1;
        x->imm = attr_site(W, i);
        x->outs_in_args = 1;
        if (out2) {
            x->dst2 = W->vreg[out2->id];
        } else {
            int v = new_vreg(W->L, OD_VR_GPR);
            if (v < 0)
                return -1;
            x->dst2 = v;            /* x is not used after the emit below */
            if (decref_vreg(W, v, 0) < 0)
                return -1;
        }
        break;
    case OD_HOP_BinaryOp: {
        /* `s += t` whose s dies here: the helper may extend the string in place */
        int k = append_local(i);
        OdHirInstr *s = k >= -1 ? root(i->ops[0]) : NULL;
        if (s && owned(s) && s->op != OD_HOP_Param && s != root(i->ops[1])
            && !BIT_GET(W->after + (size_t)i->id * W->words, s->id)) {
            if (!(x = call(W, i, od_t2_str_append, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)))
                return -1;
            x->imm = i->imm | (long long)(k + 1) << 8;
            W->consumed = s;
        } else {
            const OdT2HelperInfo *h = od_t2_helper_for(i->op);
            if (!(x = call(W, i, h->fn, h->check, h->exit_kind, h->reason)))
                return -1;
        }
        if (k >= 0)
            W->fcur[k] = FK_UNKNOWN;    /* as frame_walk says */
        break;
    }
    default:
    helper: {
        const OdT2HelperInfo *h = od_t2_helper_for(i->op);
        if (!h)
            return refuse(W, od_hir_op_info[i->op].name);
        if (!(x = call(W, i, h->fn, h->check, h->exit_kind, h->reason)))
            return -1;
        x->outs_in_args = 0;
        if (i->op == OD_HOP_LoadAttr || i->op == OD_HOP_StoreAttr)
            x->imm = attr_site(W, i);
        if (i->op == OD_HOP_LoadGlobal)
            x->imm = (long long)(intptr_t)global_site(W);
        /* a call without keywords: the machine-code fast path, which hands the rest to h;
         * len(x) of a global that is the builtin len, isinstance(x, cls) of the builtin
         * isinstance: helpers of their own (no thunk) */
        OdHirInstr *callee = i->op == OD_HOP_Call && i->nops > 0 ? root(i->ops[0]) : NULL;
        if (callee && callee->op == OD_HOP_GlobalValue && i->nops == 2 && !i->obj
            && callee->obj == _PyInterpreterState_GET()->callable_cache.len)
            x->ptr = (void *)od_t2_call_len;
        else if (callee && callee->op == OD_HOP_GlobalValue && i->nops == 3 && !i->obj
                 && callee->obj == _PyInterpreterState_GET()->callable_cache.isinstance)
            x->ptr = (void *)od_t2_call_isinstance;
        else if (callee && callee->op == OD_HOP_GlobalValue && (i->nops == 2 || i->nops == 3)
                 && !i->obj && callee->obj == (PyObject *)&PyRange_Type)
            x->ptr = (void *)od_t2_call_range;   /* range(n), range(a, b): rt/call.c */
        else if ((i->op == OD_HOP_Call || i->op == OD_HOP_CallMethod) && !i->obj
            && od_t2_call_thunk(i->op == OD_HOP_CallMethod))
            x->ptr = od_t2_call_thunk(i->op == OD_HOP_CallMethod);
        break;
    }
    }
    /* The trace check comes before the releases: a call's result nothing uses (a call
     * statement) is what the exit pushes, and must not be released before it. */
    if ((od_hir_op_info[i->op].effects & OD_HE_WRITES) && trace_check(W, i, out2) < 0)
        return -1;
    if ((i->op == OD_HOP_Call || i->op == OD_HOP_CallMethod) && poll_after_call(W, i, out2) < 0)
        return -1;
    OdHirInstr *moved = W->consumed;
    W->consumed = NULL;
    int rc = release_after(W, i, moved);
    memset(W->handed, 0, sizeof(uint64_t) * (size_t)W->words);
    return rc;
}

/* ---- edges ----------------------------------------------------------------------------- */

/* The copies and reference-count changes of edge b -> succ k, emitted into the current block. */
static int edge_code(Lower *W, OdHirBlock *b, int k)
{
    OdHirBlock *s = b->succs[k];
    OdHirInstr *t = b->last;
    int p = pred_slot(s, b, k);
    const uint64_t *in = W->live_in + (size_t)s->id * W->words;
    uint64_t *avail = W->tmp, *consumed = W->tmp + W->words;
    memcpy(avail, W->live_out + (size_t)b->id * W->words, sizeof(uint64_t) * (size_t)W->words);
    memset(consumed, 0, sizeof(uint64_t) * (size_t)W->words);
    FOR_USES(t, r, BIT_SET(avail, r->id));
    if (t->op == OD_HOP_ForIter) {
        if (k == 0 && tracked(t))
            BIT_SET(avail, t->id);
        else
            BIT_CLR(avail, t->id);
    }
    /* phis: references */
    int nphi = 0, overlap = 0;
    for (OdHirInstr *ph = s->first; ph && ph->op == OD_HOP_Phi; ph = ph->next) {
        nphi++;
        OdHirInstr *r = root(ph->ops[p]);
        if (r && r->op == OD_HOP_Phi && r->block == s)
            overlap = 1;
        if (unboxed_kind(ph->type) != OD_XV_BOXED)
            continue;
        if (owned(r) && BIT_GET(avail, r->id) && !BIT_GET(in, r->id) && !BIT_GET(consumed, r->id)) {
            BIT_SET(consumed, r->id);
            continue;
        }
        if (!r || (r->op == OD_HOP_Const && !r->obj))
            continue;
        int v = use(W, ph->ops[p]);
        if (v < 0 || incref_vreg(W, v, nullable(r)) < 0)
            return -1;
    }
    /* values that die on this edge */
    FOR_BITS(W, avail[w] & ~in[w] & ~consumed[w], id, {
        if (W->vreg[id] >= 0) {
            OdHirInstr *r = W->by_id[id];
            if (r && owned(r) && decref(W, r) < 0)
                return -1;
        }
    });
    if (!nphi)
        return 0;
    /* copies: through temporaries when a phi reads another phi of this block */
    int *tmp = malloc(sizeof(int) * (size_t)nphi);
    if (!tmp) {
        PyErr_NoMemory();
        return -1;
    }
    int n = 0, err = 0;
    for (OdHirInstr *ph = s->first; ph && ph->op == OD_HOP_Phi && !err; ph = ph->next, n++) {
        int v = use(W, ph->ops[p]);
        OdLirInstr *m;
        if (v < 0) {
            err = -1;
            break;
        }
        if (overlap) {
            tmp[n] = new_vreg(W->L, W->L->vregs[v].cls);
            if (tmp[n] < 0 || !(m = emit(W, OD_LOP_Move, 1))) {
                err = -1;
                break;
            }
            m->src[0] = v;
            m->dst = tmp[n];
        } else if (!(m = emit(W, OD_LOP_Move, 1))) {
            err = -1;
        } else {
            m->src[0] = v;
            m->dst = W->vreg[ph->id];
        }
    }
    if (overlap && !err) {
        n = 0;
        for (OdHirInstr *ph = s->first; ph && ph->op == OD_HOP_Phi; ph = ph->next, n++) {
            OdLirInstr *m = emit(W, OD_LOP_Move, 1);
            if (!m) {
                err = -1;
                break;
            }
            m->src[0] = tmp[n];
            m->dst = W->vreg[ph->id];
        }
    }
    free(tmp);
    return err;
}

/* Target block of edge b -> succ k: the successor itself, or a new edge block. */
static int edge_target(Lower *W, OdHirBlock *b, int k)
{
    int saved = W->cur, e = new_block(W->L, -1);
    if (e < 0)
        return -1;
    W->L->blocks[e].from = saved;
    W->cur = e;
    OdLirInstr *j;
    if (edge_code(W, b, k) < 0 || !(j = emit(W, OD_LOP_Jump, 0)))
        return -1;
    j->target[0] = W->lblock[b->succs[k]->id];
    W->cur = saved;
    return e;
}

static int lower_terminator(Lower *W, OdHirBlock *b)
{
    OdHirInstr *t = b->last;
    OdLirInstr *x;
    W->hir = t->id;
    switch (t->op) {
    case OD_HOP_Branch:
        if (edge_code(W, b, 0) < 0 || !(x = emit(W, OD_LOP_Jump, 0)))
            return -1;
        x->target[0] = W->lblock[b->succs[0]->id];
        return 0;
    case OD_HOP_CondBranch: {
        int c = use(W, t->ops[0]);
        int t0 = c < 0 ? -1 : edge_target(W, b, 0), t1 = t0 < 0 ? -1 : edge_target(W, b, 1);
        if (t1 < 0 || !(x = emit(W, OD_LOP_CondJump, 1)))
            return -1;
        x->src[0] = c;
        x->target[0] = t0;
        x->target[1] = t1;
        return 0;
    }
    case OD_HOP_ForIter: {
        int j = W->L->bc.instr_at_unit[t->bc_offset];
        if (!(x = emit(W, OD_LOP_SetPrev, 0)))
            return -1;
        x->imm = j >= 0 ? W->L->bc.instrs[j].index : t->bc_offset;
        int it = use(W, t->ops[0]);
        uint64_t *h = held_before(W, t);
        keep_owned(W, h);
        int e = it < 0 ? -1 : new_exit(W, OD_XK_ERROR, OD_T2X_ERROR, t->fs, t->fs->depth, NULL, 0, h, -1);
        if (e >= 0 && sync_exit(W, t, e) < 0)
            return -1;
        int t0 = e < 0 ? -1 : edge_target(W, b, 0), t1 = t0 < 0 ? -1 : edge_target(W, b, 1);
        if (t1 < 0 || !(x = emit(W, OD_LOP_ForIter, 1)))
            return -1;
        W->L->exits[e].after_call = 1;
        x->src[0] = it;
        x->exit = e;
        x->dst = W->vreg[t->id];
        x->ptr = W->L->exits[e].nsync ? od_t2_for_iter_sync : od_t2_for_iter;
        x->target[0] = t0;
        x->target[1] = t1;
        if (W->L->out_slots < 3)
            W->L->out_slots = 3;
        return 0;
    }
    case OD_HOP_Return: {
        if (write_back(W, t, 1) < 0)
            return -1;
        OdHirInstr *r = root(t->ops[0]);
        int v = use(W, t->ops[0]);
        if (v < 0)
            return -1;
        if (!(owned(r) && !BIT_GET(W->live_out + (size_t)b->id * W->words, r->id)) &&
            incref_vreg(W, v, 0) < 0)
            return -1;
        /* What the locals hold moves into their frame slots: the interpreter releases a
         * local's object when the frame is cleared, after it left the thread's frame stack
         * (a finalizer then does not find this frame running: test_frame's
         * test_sneaky_frame_object_teardown); the old value each slot held (a write-back
         * of an earlier value of that local) is released now. */
        uint64_t *done = W->tmp;
        memset(done, 0, sizeof(uint64_t) * (size_t)W->words);
        int nl = t->fs->nlocals < W->nlocals ? t->fs->nlocals : W->nlocals;
        for (int k = 0; k < nl; k++) {
            OdHirInstr *q = root(t->fs->slots[k]);
            if (!owned(q))
                continue;
            int s = W->vreg[q->id], old = new_vreg(W->L, OD_VR_GPR);
            if (old < 0 || ((q == r || BIT_GET(done, q->id)) && incref_vreg(W, s, 0) < 0)
                || !(x = emit(W, OD_LOP_StoreLocal, 1)))
                return -1;
            x->src[0] = s;
            x->imm = k;
            x->dst = old;
            if (decref_vreg(W, old, 1) < 0)
                return -1;
            BIT_SET(done, q->id);
        }
        /* the rest of what it uses (its frame state) dies here */
        int err = 0;
        FOR_USES(t, q, {
            if (!err && q != r && owned(q) && !BIT_GET(done, q->id)) {
                BIT_SET(done, q->id);
                err = decref(W, q);
            }
        });
        if (err || !(x = emit(W, OD_LOP_Return, 1)))
            return -1;
        x->src[0] = v;
        return 0;
    }
    case OD_HOP_Raise: case OD_HOP_Deopt: {
        uint64_t *h = held_before(W, t);
        keep_owned(W, h);
        int e = new_exit(W, OD_XK_DEOPT, OD_T2X_UNSUPPORTED, t->fs, t->fs->depth, NULL, 0, h, -1);
        if (e < 0 || !(x = emit(W, OD_LOP_Exit, 0)))
            return -1;
        x->exit = e;
        return 0;
    }
    default:
        return refuse(W, od_hir_op_info[t->op].name);
    }
}

/* Each edge block right after the block it leaves from (the HIR blocks keep their reverse
 * post-order): short live ranges across the edge, and no jump where it falls through. */
static int layout(OdLir *L)
{
    int n = L->nblocks, k = 0;
    int *order = malloc(sizeof(int) * (size_t)(n + 1)), *pos = malloc(sizeof(int) * (size_t)(n + 1));
    OdLirBlock *nb = malloc(sizeof(OdLirBlock) * (size_t)(n + 1));
    if (!order || !pos || !nb) {
        free(order);
        free(pos);
        free(nb);
        PyErr_NoMemory();
        return -1;
    }
    for (int b = 0; b < n; b++)
        if (L->blocks[b].hir_block >= 0) {
            order[k++] = b;
            for (int e = 0; e < n; e++)
                if (L->blocks[e].hir_block < 0 && L->blocks[e].from == b)
                    order[k++] = e;
        }
    for (int i = 0; i < n; i++)
        pos[order[i]] = i;
    for (int i = 0; i < n; i++) {
        nb[i] = L->blocks[order[i]];
        nb[i].id = i;
        if (nb[i].hir_block < 0)
            nb[i].from = pos[nb[i].from];
        for (int j = 0; j < nb[i].n; j++)
            for (int t = 0; t < 2; t++)
                if (nb[i].ins[j].target[t] >= 0)
                    nb[i].ins[j].target[t] = pos[nb[i].ins[j].target[t]];
    }
    free(L->blocks);
    L->blocks = nb;
    L->capblocks = n + 1;
    free(order);
    free(pos);
    return 0;
}

int od_lir_lower(OdLir *L, OdHirFunc *fn)
{
    memset(L, 0, sizeof *L);
    L->hir = fn;
    L->code = fn->code;
    L->osr = fn->osr;
    if (!od_t2_helpers_usable()) {
        snprintf(L->reason, sizeof L->reason, "this CPython's range iterator layout is not 3.11's");
        return 1;
    }
    if (od_bytecode_decode(fn->code, &L->bc) < 0)
        return -1;
    Lower W = {L, fn};
    W.nids = fn->next_instr_id;
    if (W.nids > MAX_VALUES) {
        snprintf(L->reason, sizeof L->reason, "too large (%d HIR values)", W.nids);
        return 1;
    }
    W.words = (W.nids + 64) / 64;
    int nb = fn->next_block_id, rc = -1;
    W.order = malloc(sizeof(OdHirBlock *) * (size_t)(fn->nblocks + 1));
    W.vreg = malloc(sizeof(int) * (size_t)(W.nids + 1));
    W.seq_items = malloc(sizeof(int) * (size_t)(W.nids + 1));
    W.lblock = malloc(sizeof(int) * (size_t)(nb + 1));
    W.mself = calloc((size_t)W.nids + 1, sizeof(OdHirInstr *));
    W.by_id = calloc((size_t)W.nids + 1, sizeof(OdHirInstr *));
    W.fko = calloc((size_t)W.nids + 1, 1);
    if (!W.order || !W.vreg || !W.seq_items || !W.lblock || !W.mself || !W.by_id || !W.fko) {
        PyErr_NoMemory();
        goto done;
    }
    W.n = od_hir_rpo(fn, W.order);
    for (int id = 0; id <= W.nids; id++)
        W.vreg[id] = W.seq_items[id] = -1;
    W.nlocals = fn->nlocals;
    if (!(W.fk = malloc(sizeof(int) * (size_t)(W.nids + 1)))) {
        PyErr_NoMemory();
        goto done;
    }
    for (int id = 0; id <= W.nids; id++)
        W.fk[id] = -2;
    if ((rc = frame_flow(&W)) != 0)
        goto done;
    if (!(W.troot = malloc(sizeof(OdHirInstr *) * (size_t)(W.nids + 1)))) {
        PyErr_NoMemory();
        rc = -1;
        goto done;
    }
    for (int id = 0; id <= W.nids; id++)
        W.troot[id] = TR_UNKNOWN;
    rc = -1;
    int nsites = 0, nglobals = 0;
    for (int k = 0; k < W.n; k++)
        for (OdHirInstr *i = W.order[k]->first; i; i = i->next) {
            W.by_id[i->id] = i;
            nsites += i->op == OD_HOP_LoadAttr || i->op == OD_HOP_StoreAttr || i->op == OD_HOP_LoadMethod;
            nglobals += i->op == OD_HOP_GlobalValue || i->op == OD_HOP_LoadGlobal;
            if ((i->op == OD_HOP_MethodSelf && i->ops[0] && i->ops[0]->op == OD_HOP_LoadMethod)
                || (i->op == OD_HOP_WithEnter && i->ops[0] && i->ops[0]->op == OD_HOP_BeforeWith))
                W.mself[i->ops[0]->id] = i;
            if (tracked(i) && (W.vreg[i->id] = new_vreg(L, unboxed_kind(i->type) == OD_XV_CDOUBLE
                                                                ? OD_VR_XMM : OD_VR_GPR)) < 0)
                goto done;
        }
    if (nsites && !(L->attr_sites = od_t2_attr_sites_new(nsites)))
        goto done;
    L->nattr_sites = nsites;
    if (nglobals && !(L->global_sites = od_t2_global_sites_new(nglobals)))
        goto done;
    L->nglobal_sites = nglobals;
    W.xval = malloc(sizeof(OdLirVal) * (size_t)(W.nids + 1));
    W.xval_ok = calloc((size_t)W.nids + 1, 1);
    if (!W.xval || !W.xval_ok) {
        PyErr_NoMemory();
        goto done;
    }
    W.in_vreg = calloc((size_t)W.words, sizeof(uint64_t));
    W.owned_set = calloc((size_t)W.words, sizeof(uint64_t));
    if (!W.in_vreg || !W.owned_set) {
        PyErr_NoMemory();
        goto done;
    }
    for (int id = 0; id < W.words * 64; id++) {
        if (id >= W.nids || W.vreg[id] >= 0)
            BIT_SET(W.in_vreg, id);
        if (id >= W.nids || (W.by_id[id] && owned(W.by_id[id])))
            BIT_SET(W.owned_set, id);
    }
    if (liveness(&W) < 0)
        goto done;
    for (int k = 0; k < W.n; k++)
        if ((W.lblock[W.order[k]->id] = new_block(L, W.order[k]->id)) < 0)
            goto done;
    for (int k = 0; k < W.n; k++) {
        OdHirBlock *b = W.order[k];
        W.cur = W.lblock[b->id];
        memcpy(W.fcur, W.fin + (size_t)b->id * W.nlocals, sizeof(int) * (size_t)W.nlocals);
        for (OdHirInstr *i = b->first; i && i != b->last; i = i->next)
            if ((rc = lower_instr(&W, i)) != 0)
                goto done;
        if ((rc = lower_terminator(&W, b)) != 0)
            goto done;
        rc = -1;
    }
    rc = layout(L);
done:
    free(W.order);
    free(W.vreg);
    free(W.seq_items);
    free(W.lblock);
    free(W.mself);
    free(W.by_id);
    free(W.fko);
    free(W.troot);
    free(W.fk);
    free(W.xval);
    free(W.xval_ok);
    free(W.in_vreg);
    free(W.owned_set);
    free(W.live_in);
    free(W.live_out);
    free(W.after);
    free(W.tmp);
    free(W.lent);
    free(W.handed);
    free(W.fin);
    free(W.fout);
    free(W.fcur);
    free(W.syncbuf);
    free(W.fseen);
    free(W.own);
    free(W.params);
    return rc;
}

void od_lir_free(OdLir *L)
{
    for (int b = 0; b < L->nblocks; b++)
        free(L->blocks[b].ins);
    free(L->blocks);
    free(L->vregs);
    free(L->exits);
    od_t2_attr_sites_free(L->attr_sites, L->nattr_sites);
    free(L->global_sites);
    od_arena_free(&L->arena);
    od_bytecode_free(&L->bc);
    memset(L, 0, sizeof *L);
}
