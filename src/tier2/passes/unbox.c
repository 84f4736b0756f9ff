/* tier2/passes/unbox.c — unboxed phis (after specialize).
 *
 * A boxed phi whose every operand is a BoxInt (BoxFloat), an int (float) constant or such a
 * phi, and whose every use unboxes it again (UnboxInt, a GuardType it passes by
 * construction), is a frame-state slot, is such a phi, or is an instruction with a frame
 * state (a box is made right before it), becomes a phi of the unboxed values: a loop's
 * counters and accumulators stay in registers instead of being boxed every iteration.
 * Then a box of the unbox of a boxed value is that value again. */
#include "passes.h"

#include <stdlib.h>

enum { K_NONE, K_INT, K_FLOAT };

static int const_kind(const OdHirInstr *c)
{
    if (c->op != OD_HOP_Const || !c->obj)
        return K_NONE;
    if (PyFloat_CheckExact(c->obj))
        return K_FLOAT;
    if (PyLong_CheckExact(c->obj)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(c->obj, &overflow);
        if (v == -1 && PyErr_Occurred())
            PyErr_Clear();
        else if (!overflow)
            return K_INT;
    }
    return K_NONE;
}

static int boxed_phi(const OdHirInstr *i)
{
    return i && i->op == OD_HOP_Phi && !(i->type.bits & (OD_TB(CInt64) | OD_TB(CDouble) | OD_TB(CBool)));
}

/* The kind phi p can be unboxed as, given the current kinds of the others (kind[] by id). */
static int phi_kind(const OdHirInstr *p, const int *kind)
{
    int k = K_NONE;
    for (int o = 0; o < p->nops; o++) {
        const OdHirInstr *v = p->ops[o];
        int ko = v->op == OD_HOP_BoxInt ? K_INT : v->op == OD_HOP_BoxFloat ? K_FLOAT
               : v->op == OD_HOP_Const ? const_kind(v) : boxed_phi(v) ? kind[v->id] : K_NONE;
        if (v == p)
            continue;
        if (ko == K_NONE || (k != K_NONE && ko != k))
            return K_NONE;
        k = ko;
    }
    for (int u = 0; u < p->nuses && k != K_NONE; u++) {
        const OdHirUse *use = &p->uses[u];
        const OdHirInstr *w = use->user;
        if (use->index < 0 || w == p)
            continue;
        if (w->op == (k == K_INT ? OD_HOP_UnboxInt : OD_HOP_UnboxFloat))
            continue;
        if (w->op == OD_HOP_GuardType && w->nuses == 0 &&
            od_type_eq(w->itype, od_type_named(k == K_INT ? OD_TN_Int : OD_TN_Float)))
            continue;
        if (w->op == OD_HOP_Phi ? kind[w->id] == k : w->fs != NULL)
            continue;
        return K_NONE;
    }
    return k;
}

int od_hir_pass_unbox(OdHirFunc *fn)
{
    int n = fn->next_instr_id, err = -1;
    int *kind = calloc((size_t)n + 1, sizeof(int));
    OdHirInstr **up = calloc((size_t)n + 1, sizeof(OdHirInstr *));
    if (!kind || !up) {
        PyErr_NoMemory();
        goto done;
    }
    /* optimistic start, then drop what fails until nothing changes */
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i && i->op == OD_HOP_Phi; i = i->next)
            if (boxed_phi(i))
                kind[i->id] = K_INT;   /* refined below */
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i && i->op == OD_HOP_Phi; i = i->next)
            if (boxed_phi(i)) {
                int k = K_NONE;
                for (int o = 0; o < i->nops && k == K_NONE; o++) {
                    OdHirInstr *v = i->ops[o];
                    k = v->op == OD_HOP_BoxInt ? K_INT : v->op == OD_HOP_BoxFloat ? K_FLOAT
                      : v->op == OD_HOP_Const ? const_kind(v) : K_NONE;
                }
                kind[i->id] = k;
            }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int b = 0; b < fn->nblocks; b++)
            for (OdHirInstr *i = fn->blocks[b]->first; i && i->op == OD_HOP_Phi; i = i->next)
                if (kind[i->id] != K_NONE && phi_kind(i, kind) != kind[i->id]) {
                    kind[i->id] = K_NONE;
                    changed = 1;
                }
    }
    /* the unboxed phis */
    OdHirBlock *entry = fn->blocks[0];
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i && i->op == OD_HOP_Phi; i = i->next)
            if (kind[i->id] != K_NONE) {
                OdHirInstr *q = od_hir_new_instr(fn, OD_HOP_Phi, i->nops);
                if (!q)
                    goto done;
                q->type = od_type_named(kind[i->id] == K_INT ? OD_TN_CInt64 : OD_TN_CDouble);
                q->bc_offset = i->bc_offset;
                up[i->id] = q;
            }
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i && i->op == OD_HOP_Phi; i = i->next) {
            OdHirInstr *q = i->id < n && kind[i->id] != K_NONE ? up[i->id] : NULL;
            if (!q)
                continue;
            for (int o = 0; o < i->nops; o++) {
                OdHirInstr *v = i->ops[o], *w;
                if (v == i)
                    w = q;
                else if (v->op == OD_HOP_BoxInt || v->op == OD_HOP_BoxFloat)
                    w = v->ops[0];
                else if (boxed_phi(v) && v->id < n)
                    w = up[v->id];
                else {
                    if (!(w = od_hir_new_instr(fn, OD_HOP_Const, 0)))
                        goto done;
                    if (kind[i->id] == K_INT) {
                        w->imm = PyLong_AsLongLong(v->obj);
                        w->type = od_type_named(OD_TN_CInt64);
                    } else {
                        w->fimm = PyFloat_AS_DOUBLE(v->obj);
                        w->type = od_type_named(OD_TN_CDouble);
                    }
                    od_hir_insert_before(entry->last, w);
                }
                if (od_hir_set_op(fn, q, o, w) < 0)
                    goto done;
            }
            od_hir_insert_after_phis(i->block, q);
        }
    /* uses of the boxed phis */
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first, *next; i && i->op == OD_HOP_Phi; i = next) {
            next = i->next;
            OdHirInstr *q = i->id < n && kind[i->id] != K_NONE ? up[i->id] : NULL;
            if (!q)
                continue;
            while (i->nuses > 0) {
                OdHirUse use = i->uses[i->nuses - 1];
                OdHirInstr *w = use.user;
                if (use.index < 0) {
                    if (od_hir_set_fs_slot(fn, w, -1 - use.index, q) < 0)
                        goto done;
                } else if (w->op == OD_HOP_UnboxInt || w->op == OD_HOP_UnboxFloat) {
                    if (od_hir_replace_all_uses(fn, w, q) < 0)
                        goto done;
                    od_hir_remove(w);
                } else if (w->op == OD_HOP_GuardType) {
                    od_hir_remove(w);
                } else if (w->op == OD_HOP_Phi && w->id < n && up[w->id] && kind[w->id] != K_NONE) {
                    if (od_hir_set_op(fn, w, use.index, NULL) < 0)   /* the phi goes too */
                        goto done;
                } else if (w == i) {
                    if (od_hir_set_op(fn, w, use.index, NULL) < 0)
                        goto done;
                } else {
                    OdHirInstr *box = od_hir_new_instr(fn, kind[i->id] == K_INT ? OD_HOP_BoxInt
                                                                               : OD_HOP_BoxFloat, 1);
                    if (!box || od_hir_set_op(fn, box, 0, q) < 0)
                        goto done;
                    box->bc_offset = w->bc_offset;
                    if (!(box->fs = od_hir_new_fs(fn, w->fs->offset, w->fs->nlocals, w->fs->depth)))
                        goto done;
                    for (int s = 0; s < w->fs->nlocals + w->fs->depth; s++)
                        if (od_hir_set_fs_slot(fn, box, s, w->fs->slots[s] == i ? q : w->fs->slots[s]) < 0)
                            goto done;
                    od_hir_insert_before(w, box);
                    if (od_hir_set_op(fn, w, use.index, box) < 0)
                        goto done;
                }
            }
        }
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first, *next; i && i->op == OD_HOP_Phi; i = next) {
            next = i->next;
            if (i->id < n && kind[i->id] != K_NONE && up[i->id])
                od_hir_remove(i);
        }
    /* A box of the unbox of a boxed value is that value (an OSR entry's local where its phi
     * stayed boxed: the frame's object itself, not a copy) */
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next) {
            OdHirInstr *u = i->op == OD_HOP_BoxInt || i->op == OD_HOP_BoxFloat ? i->ops[0] : NULL;
            if (u && u->op == (i->op == OD_HOP_BoxInt ? OD_HOP_UnboxInt : OD_HOP_UnboxFloat)
                && !(u->ops[0]->type.bits & (OD_TB(CInt64) | OD_TB(CDouble) | OD_TB(CBool) | OD_TB(Null)))
                && od_hir_replace_all_uses(fn, i, u->ops[0]) < 0)
                goto done;
        }
    /* boxes the phis no longer need */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int b = 0; b < fn->nblocks; b++)
            for (OdHirInstr *i = fn->blocks[b]->first, *next; i; i = next) {
                next = i->next;
                if (i->nuses == 0 && (i->op == OD_HOP_BoxInt || i->op == OD_HOP_BoxFloat)) {
                    od_hir_remove(i);
                    changed = 1;
                }
            }
    }
    err = 0;
done:
    free(kind);
    free(up);
    return err;
}
