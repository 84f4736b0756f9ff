/* tier2/passes/subscr.c — list items by a constant or a run-time int index, in place; a str's
 * characters by an int index, on a container guarded as a str.
 *
 * A Subscr whose index is a constant int in [0, 2**31) and whose container is an exact list,
 * statically or by feedback (tier 1's BINARY_SUBSCR site, or the interpreter's
 * BINARY_SUBSCR_LIST_INT: hir/feedback.h), becomes
 *   GuardType x List; LoadListItem [k] x
 * and a StoreSubscr into the same value by such an index becomes StoreListItem [k] x v:
 * STORE_SUBSCR has no site of its own, but `v[0] -= d` loads before it stores, so the
 * Subscr's guard is what the store reuses. A guard is made once per value (a later access
 * dominated by it reuses it) and nothing can invalidate it: the class of a list cannot be
 * assigned (`__class__` of a list is refused), so unlike attribute guards no barrier
 * applies. The accesses deopt when the index is out of range (the interpreter raises
 * IndexError) and carry the bytecode instruction's frame state; the guard fails with
 * GUARD_TYPE (speculative: 16 failures and the site stays generic).
 *
 * An index that is not a constant but an int (its type, or the site's feedback: the
 * interpreter's BINARY_SUBSCR_LIST_INT / STORE_SUBSCR_LIST_INT, tier 1's operand classes)
 * makes LoadListItemAt / StoreListItemAt x k [v]: the index is read from the int object
 * (one digit, >= 0, below the size; else a LIST_INDEX deopt, the interpreter handles
 * negative indices and raises). A store by such an index guards its container by its own
 * feedback (STORE_SUBSCR_LIST_INT). An index that is the BoxInt of an unboxed int64
 * (`U[ii + d - ik]` after `specialize`) is taken as that int64 itself (the access's index
 * operand is then CInt64): the box, left unused, goes (the unbox pass drops it), and the
 * access compares the int64 with the size, without reading an int object; chaos's
 * `Spline.__call__` boxed four such indices per iteration of its inner loop. go's
 * `self.empties[i]`, `self.squares[pos]`, `self.empty_pos[pos] = i` went through
 * PyObject_GetItem / PyObject_SetItem (index conversion, bounds, the generic slot) and
 * wrote the locals back before each.
 *
 * A load from a container that the site's feedback names an exact str, by an int index,
 * guards the container as a str (once per value, as for lists) and stays a Subscr: with
 * its container a str and its index an int it runs no Python code, so the frame's locals
 * are not written back before it (an unboxed counter was boxed a second time for that),
 * and its helper takes a character below 256 without PyObject_GetItem. tomllib's
 * `while src[pos] in chars: pos += 1` ran 1.4x tier 1's instructions without.
 *
 * Why: nbody's `v1[0] -= dx * b2m` went through PyObject_GetItem and PyObject_SetItem
 * (index conversion, bounds, the generic slot) and, since a generic subscript may run
 * Python code, wrote the changed locals back to the frame before each (boxing every
 * unboxed float among them): with the exact list known, neither runs Python code. */
#include "passes.h"

#include "../hir/feedback.h"

#include <stdlib.h>

/* The constant index of `v` in [0, 2**31), or -1. */
static long long const_index(const OdHirInstr *v)
{
    if (!v || v->op != OD_HOP_Const || !v->obj || !PyLong_CheckExact(v->obj))
        return -1;
    int overflow = 0;
    long long k = PyLong_AsLongLongAndOverflow(v->obj, &overflow);
    if (overflow || k < 0 || k >= (1LL << 31)) {
        PyErr_Clear();
        return -1;
    }
    return k;
}

static OdHirInstr *unguarded(OdHirInstr *v)
{
    while (v && v->op == OD_HOP_GuardType)
        v = v->ops[0];
    return v;
}

/* A GuardType `tn` of `x` (up to guards) that dominates `at`, or NULL. */
static OdHirInstr *type_guard(OdHirInstr *x, OdHirInstr *at, int tn)
{
    OdHirInstr *r = unguarded(x);
    for (int u = 0; u < r->nuses; u++) {
        OdHirInstr *g = r->uses[u].user;
        if (r->uses[u].index == 0 && g->op == OD_HOP_GuardType
            && od_type_eq(g->type, od_type_named(tn)) && g->block
            && od_hir_instr_dominates(g, at))
            return g;
    }
    return NULL;
}

/* The container of `i` as a value known to be of type `tn` (a list, a str): itself, a
 * dominating guard, or a new guard when `feedback` says so. NULL when neither. */
static OdHirInstr *as_type(OdHirFunc *fn, OdHirInstr *i, OdHirInstr *x, int tn, int feedback,
                           int *err)
{
    if (od_type_eq(x->type, od_type_named(tn)))
        return x;
    OdHirInstr *g = type_guard(x, i, tn);
    if (g || !feedback)
        return g;
    if (!(g = od_hir_new_before(fn, i, OD_HOP_GuardType, x, NULL))) {
        *err = -1;
        return NULL;
    }
    g->itype = od_type_named(tn);
    g->type = od_type_named(tn);
    return g;
}

/* Whether `v` is an int by its type (a constant, a guard, a box). */
static int is_int(const OdHirInstr *v)
{
    uint64_t ints = OD_TB(SmallInt) | OD_TB(BigInt);
    return v->type.bits && !(v->type.bits & ~ints);
}

/* The index an At access takes: the int64 a BoxInt boxed, else the int object. */
static OdHirInstr *unboxed_index(OdHirInstr *index)
{
    return index->op == OD_HOP_BoxInt ? index->ops[0] : index;
}

static int rewrite(OdHirFunc *fn, OdHirInstr *i)
{
    int store = i->op == OD_HOP_StoreSubscr, err = 0;
    /* StoreSubscr's operands: container, index, value (STORE_SUBSCR's v[k] = x) */
    long long k = const_index(i->ops[1]);
    int feedback = 0, str_feedback = 0, int_index = is_int(i->ops[1]);
    if (fn->feedback) {
        PyTypeObject *left, *right;
        od_feedback_operands(fn->feedback, i->bc_offset, &left, &right);
        /* a store's feedback (STORE_SUBSCR_LIST_INT) makes a guard only for an index
         * computed at run time: by a constant, a load's guard is what it reuses */
        feedback = left == &PyList_Type && (!store || k < 0);
        str_feedback = left == &PyUnicode_Type && !store;
        int_index |= right == &PyLong_Type;
    }
    if (!store && (k >= 0 || int_index)
        && (str_feedback || od_type_eq(i->ops[0]->type, od_type_named(OD_TN_Str)))) {
        /* a str's character: the Subscr stays, on a container known to be a str */
        OdHirInstr *str = as_type(fn, i, i->ops[0], OD_TN_Str, 1, &err);
        return str && str != i->ops[0] ? od_hir_set_op(fn, i, 0, str) : err;
    }
    OdHirInstr *list = k >= 0 || int_index || store
                           ? as_type(fn, i, i->ops[0], OD_TN_List, feedback, &err) : NULL;
    if (!list)
        return err;
    /* A store into a known list by an index of unknown type: an int is the only index it
     * can take but a slice (a deopt each time, then no_speculate) */
    if (k < 0 && !int_index && !store)
        return 0;
    OdHirInstr *n;
    if (k >= 0) {
        n = od_hir_new_before(fn, i, store ? OD_HOP_StoreListItem : OD_HOP_LoadListItem,
                              list, store ? i->ops[2] : NULL);
    } else if (!store) {
        n = od_hir_new_before(fn, i, OD_HOP_LoadListItemAt, list, unboxed_index(i->ops[1]));
    } else {
        n = od_hir_new_before(fn, i, OD_HOP_StoreListItemAt, list, unboxed_index(i->ops[1]));
        if (n && od_hir_set_op(fn, n, 2, i->ops[2]) < 0)
            return -1;
    }
    if (!n)
        return -1;
    n->imm = k >= 0 ? k : 0;
    if (!store && od_hir_replace_all_uses(fn, i, n) < 0)
        return -1;
    od_hir_remove(i);
    return 0;
}

int od_hir_pass_subscr(OdHirFunc *fn)
{
    OdHirBlock **order = malloc(sizeof(OdHirBlock *) * (size_t)(fn->nblocks + 1));
    OdHirInstr **cand = malloc(sizeof(OdHirInstr *) * (size_t)(fn->next_instr_id + 1));
    if (!order || !cand) {
        free(order);
        free(cand);
        PyErr_NoMemory();
        return -1;
    }
    int n = od_hir_rpo(fn, order), ncand = 0, err = 0;
    od_hir_dominators(fn, order, n);
    /* In reverse post-order: a load's guard is made before the store it dominates looks. */
    for (int k = 0; k < n; k++)
        for (OdHirInstr *i = order[k]->first; i; i = i->next)
            if ((i->op == OD_HOP_Subscr || i->op == OD_HOP_StoreSubscr) && od_hir_may_speculate(fn, i))
                cand[ncand++] = i;
    for (int k = 0; k < ncand && !err; k++)
        err = rewrite(fn, cand[k]);
    free(order);
    free(cand);
    return err;
}
