/* tier2/passes/attrs.c — attribute accesses by tier 1's site feedback (hir/feedback.h).
 *
 * A LoadAttr / StoreAttr / LoadMethod whose tier-1 site met one receiver type, of a kind
 * tier 1 handles inline, becomes a guard of the receiver's type version and an access in
 * place:
 *   instance attribute in the inline values  GuardTypeVersion; LoadInstanceValue / StoreInstanceValue
 *   __slots__ member (or obj.__class__)      GuardTypeVersion; LoadSlot / StoreSlot
 *   method of the type, not shadowed         GuardTypeVersion; [GuardSharedKeys;] LoadTypeMethod
 *   entry of the instance dict (DICT_HINT)   GuardTypeVersion; LoadDictHint / StoreDictHint
 * The guards carry the bytecode instruction's frame state: a failed one resumes the
 * interpreter before it. A load that finds NULL (the attribute was deleted, the values
 * were materialized into a dict) deopts too. The version tag identifies one type in one
 * state (any change to the type, its bases or their dicts gives it a new tag), so it
 * alone proves the layout, the index, the method and that no descriptor intervenes.
 *
 * One guard serves several accesses to the same value: a later access reuses an earlier
 * guard of the same kind that dominates it when nothing on any path between them can
 * change the object's type or its values: that is when every block from the later access
 * back to the guard's block has one predecessor (so the paths are exactly that chain) and
 * no instruction on it may write memory or run Python code (OD_HE_WRITES: generic
 * operations, calls, stores, including the stores made here, whose released old value may
 * run a finalizer), and no loop-header Snapshot (its eval-breaker poll may run a signal
 * handler or switch threads) lies between. Loads are re-done every time: nothing is
 * forwarded from a store.
 *
 * When tier 1's site never ran (tier 2 compiled at the entry tier 1 did), the interpreter's
 * specialized instruction is the feedback (od_feedback_attr); its LOAD_METHOD_WITH_VALUES
 * makes GuardSharedKeys check the shared keys' dk_version (imm2 1) instead of their count.
 *
 * Sites with no feedback, polymorphic ones, other kinds, and sites in fn->no_speculate
 * (their guards kept failing) stay generic, with the reason (OdAttrWhy) in their imm: their
 * helper has an inline cache of its own (rt/attr.c) and counts executions by it. Runs after `specialize`, so arithmetic between
 * two accesses is unboxed already and not a barrier.
 *
 * A site in no_speculate makes every access to the same receiver value generic too
 * (reason no_speculate): a receiver whose type guard kept failing at one access (self in a
 * method the subclasses share) fails the guards of the others next, one after another,
 * each after its 16 exits and a recompilation, until the function goes back to tier 1 for
 * good (deltablue: BinaryConstraint.__init__ and Constraint.satisfy, four compiles each). */
#include "passes.h"

#include "../hir/feedback.h"

#include <stdlib.h>
#include <string.h>

typedef struct Guard {
    OdHirInstr *guard;      /* GuardTypeVersion or GuardSharedKeys */
    struct Guard *next;
} Guard;

typedef struct {
    OdHirFunc *fn;
    Guard **guards;         /* by the id of the value guarded */
    int nids;
} Attrs;

/* Whether i may change an object's type or attributes, or let other code run. */
static int barrier(const OdHirInstr *i)
{
    if (i->op == OD_HOP_IncRef)
        return 0;
    if (i->op == OD_HOP_Snapshot)
        return i->imm != 1;         /* a release point (imm 1) polls nothing */
    return (od_hir_op_info[i->op].effects & OD_HE_WRITES) != 0;
}

/* Whether g (earlier) still holds at `at`: g's block reached from at's through blocks of
 * one predecessor each, with no barrier in between. */
static int holds_at(const OdHirInstr *g, const OdHirInstr *at)
{
    const OdHirBlock *b = at->block;
    const OdHirInstr *stop = at;
    for (int steps = 0; steps < 64; steps++) {
        const OdHirInstr *from = b == g->block ? g->next : b->first;
        for (const OdHirInstr *i = from; i && i != stop; i = i->next)
            if (barrier(i))
                return 0;
        if (b == g->block) {
            if (!stop)
                return 1;
            /* g must come before `stop` in its own block */
            for (const OdHirInstr *i = g; i; i = i->next)
                if (i == stop)
                    return 1;
            return 0;
        }
        if (b->npreds != 1)
            return 0;
        b = b->preds[0].from;
        stop = NULL;            /* the whole predecessor, its terminator included */
    }
    return 0;
}

/* The guard `op` with immediate `imm` of value v (whose guarded form is `on`) for an
 * access at `at`: an earlier one that still holds, or a new one before `at`. */
static OdHirInstr *guard(Attrs *A, OdHirInstr *v, OdHirInstr *on, OdHirOp op, long long imm,
                         long long imm2, OdHirInstr *at)
{
    if (v->id < A->nids)
        for (Guard *g = A->guards[v->id]; g; g = g->next)
            if (g->guard->op == op && g->guard->imm == imm && g->guard->imm2 == imm2
                && g->guard->block && holds_at(g->guard, at))
                return g->guard;
    OdHirInstr *g = od_hir_new_before(A->fn, at, op, on, NULL);
    if (!g)
        return NULL;
    g->imm = imm;
    g->imm2 = imm2;
    if (v->id < A->nids) {
        Guard *r = od_arena_alloc(&A->fn->arena, sizeof *r);
        if (!r)
            return NULL;
        r->guard = g;
        r->next = A->guards[v->id];
        A->guards[v->id] = r;
    }
    return g;
}

static int in_range(Py_ssize_t x, Py_ssize_t lo, Py_ssize_t hi) { return x >= lo && x < hi; }

static int load_attr(Attrs *A, OdHirInstr *i, const OdAttrCache *e)
{
    OdHirOp op;
    if (e->kind == OD_ATTR_INSTANCE_VALUE && in_range(e->index, 0, 1 << 20))
        op = OD_HOP_LoadInstanceValue;
    else if (e->kind == OD_ATTR_SLOT && in_range(e->index, (Py_ssize_t)offsetof(PyObject, ob_type), INT32_MAX))
        op = OD_HOP_LoadSlot;
    else if (e->kind == OD_ATTR_DICT_HINT && in_range(e->index, 0, 1 << 20)
             && in_range(e->dictoffset, 0, 1 << 20))
        op = OD_HOP_LoadDictHint;
    else
        return 0;
    OdHirInstr *v = i->ops[0];
    OdHirInstr *g = guard(A, v, v, OD_HOP_GuardTypeVersion, e->type_version, 0, i);
    OdHirInstr *r = g ? od_hir_new_before(A->fn, i, op, g, NULL) : NULL;
    if (!r)
        return -1;
    r->imm = e->index;
    r->imm2 = op == OD_HOP_LoadDictHint ? e->dictoffset : 0;
    r->obj = i->obj;
    if (od_hir_replace_all_uses(A->fn, i, r) < 0)
        return -1;
    od_hir_remove(i);
    return 0;
}

static int store_attr(Attrs *A, OdHirInstr *i, const OdAttrCache *e)
{
    OdHirOp op;
    if (e->kind == OD_ATTR_INSTANCE_VALUE && in_range(e->index, 0, 1 << 20))
        op = OD_HOP_StoreInstanceValue;
    else if (e->kind == OD_ATTR_SLOT && in_range(e->index, (Py_ssize_t)sizeof(PyObject), INT32_MAX))
        op = OD_HOP_StoreSlot;     /* never ob_type: assigning __class__ is not a slot store */
    else if (e->kind == OD_ATTR_DICT_HINT && in_range(e->index, 0, 1 << 20)
             && in_range(e->dictoffset, 0, 1 << 20))
        op = OD_HOP_StoreDictHint;  /* over an existing entry (STORE_ATTR_WITH_HINT's case) */
    else
        return 0;
    OdHirInstr *v = i->ops[0];
    OdHirInstr *g = guard(A, v, v, OD_HOP_GuardTypeVersion, e->type_version, 0, i);
    OdHirInstr *s = g ? od_hir_new_before(A->fn, i, op, g, i->ops[1]) : NULL;
    if (!s)
        return -1;
    s->imm = e->index;
    s->imm2 = op == OD_HOP_StoreDictHint ? e->dictoffset : 0;
    s->obj = i->obj;
    od_hir_remove(i);
    return 0;
}

static int load_method(Attrs *A, OdHirInstr *i, const OdAttrCache *e)
{
    int shared = e->kind == OD_ATTR_METHOD_SHARED_KEYS;
    /* shared keys: tier 1 counts their entries, the interpreter keys their dk_version */
    int by_version = shared && e->dict_version != 0;
    if (!(e->kind == OD_ATTR_METHOD_NO_DICT
          || (shared && (by_version ? e->dict_version <= UINT32_MAX : in_range(e->keys_nentries, 0, 1 << 20))))
        || !e->value)
        return 0;
    OdHirInstr *self = NULL;
    for (int k = 0; k < i->nuses; k++)
        if (i->uses[k].index == 0 && i->uses[k].user->op == OD_HOP_MethodSelf)
            self = i->uses[k].user;
    if (!self)
        return 0;
    OdHirInstr *v = i->ops[0];
    OdHirInstr *g = guard(A, v, v, OD_HOP_GuardTypeVersion, e->type_version, 0, i);
    if (g && shared)
        g = guard(A, v, g, OD_HOP_GuardSharedKeys,
                  by_version ? (long long)e->dict_version : (long long)e->keys_nentries, by_version, i);
    OdHirInstr *m = g ? od_hir_new_before(A->fn, i, OD_HOP_LoadTypeMethod, g, NULL) : NULL;
    if (!m)
        return -1;
    /* the address only: the method is read (and a reference taken) under the guard */
    m->imm = (long long)(intptr_t)e->value;
    m->obj = i->obj;
    if (od_hir_replace_all_uses(A->fn, self, g) < 0)
        return -1;
    od_hir_remove(self);
    if (od_hir_replace_all_uses(A->fn, i, m) < 0)
        return -1;
    od_hir_remove(i);
    return 0;
}

int od_hir_pass_attrs(OdHirFunc *fn)
{
    if (!fn->feedback)
        return 0;
    OdHirBlock **order = malloc(sizeof(OdHirBlock *) * (size_t)(fn->nblocks + 1));
    OdHirInstr **cand = malloc(sizeof(OdHirInstr *) * (size_t)(fn->next_instr_id + 1));
    Attrs A = {fn, calloc((size_t)fn->next_instr_id + 1, sizeof(Guard *)), fn->next_instr_id};
    unsigned char *poisoned = calloc((size_t)fn->next_instr_id + 1, 1);   /* receivers, by id */
    int err = 0, ncand = 0;
    if (!order || !cand || !A.guards || !poisoned) {
        PyErr_NoMemory();
        err = -1;
        goto done;
    }
    int n = od_hir_rpo(fn, order);
    od_hir_dominators(fn, order, n);
    /* in reverse post-order, so a guard is made before the accesses it dominates */
    for (int k = 0; k < n; k++)
        for (OdHirInstr *i = order[k]->first; i; i = i->next)
            if (i->op == OD_HOP_LoadAttr || i->op == OD_HOP_StoreAttr || i->op == OD_HOP_LoadMethod) {
                if (od_hir_may_speculate(fn, i)) {
                    cand[ncand++] = i;
                } else {
                    i->imm = OD_ATTR_WHY_NO_SPECULATE;
                    if (i->ops[0]->id < A.nids)
                        poisoned[i->ops[0]->id] = 1;
                }
            }
    for (int k = 0; k < ncand && !err; k++) {
        OdHirInstr *i = cand[k];
        OdAttrCache e;
        if (i->ops[0]->id < A.nids && poisoned[i->ops[0]->id]) {
            i->imm = OD_ATTR_WHY_NO_SPECULATE;
            continue;
        }
        /* what a site left generic says about itself (the instruction's imm): its helper
         * counts executions by it */
        int is_load_attr = i->op == OD_HOP_LoadAttr;
        if (!od_feedback_attr(fn->feedback, i->bc_offset, &e)) {
            i->imm = od_feedback_attr_why(fn->feedback, i->bc_offset, is_load_attr);
            continue;
        }
        i->imm = od_attr_why_of_kind(e.kind, is_load_attr);
        if (i->op == OD_HOP_LoadAttr)
            err = load_attr(&A, i, &e);
        else if (i->op == OD_HOP_StoreAttr)
            err = store_attr(&A, i, &e);
        else
            err = load_method(&A, i, &e);
    }
done:
    free(order);
    free(cand);
    free(A.guards);
    free(poisoned);
    return err;
}
