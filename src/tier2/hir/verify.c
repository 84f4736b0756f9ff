/* tier2/hir/verify.c — the HIR verifier, and deliberate damage to test it.
 *
 * Checks, stopping at the first problem (fn->reason names the block, the instruction and
 * the rule):
 *   - CFG: an entry without predecessors; every block reachable, non-empty, ending in its
 *     one terminator with as many successors as that terminator has; successor and
 *     predecessor lists mirror each other; phis first, one operand per predecessor.
 *   - operands: as many as the op table says, each a value of this function still in a
 *     block; each appears in its value's use list and every use listed is real.
 *   - SSA: every use dominated by its definition (a phi's operand k at the end of
 *     predecessor k; a ForIter's value from the start of its body block, which must have
 *     it as only predecessor); frame-state slots count as uses at their instruction.
 *   - frame states: present on every instruction whose effects need one, for all the
 *     function's locals, with a stack depth within the code object's, every slot a boxed
 *     value or NULL (no unboxed value).
 *   - types: operands of the kind the op table gives (so nothing that may be NULL reaches an
 *     operation on objects), a phi's type covering its operands', a fixed-type result
 *     within the table's type. */
#include "hir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    OdHirFunc *fn;
    OdHirBlock **order;
    int n;
    /* Which references are in their value's use list, found in one walk over the lists:
     * base[id] is where instruction id's references (operands, then frame-state slots)
     * start in `listed` (-1: not in a block). Looking each reference up in its value's list
     * instead was quadratic (a local in every frame state has a use per instruction:
     * hexiom's constraint_pass spent 6 M instructions there per compile). */
    int *base;
    unsigned char *listed;
} V;

static int fail(V *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->fn->reason, sizeof(v->fn->reason), fmt, ap);
    va_end(ap);
    return -1;
}

static int nsuccs_of(const OdHirInstr *t)
{
    switch (t->op) {
    case OD_HOP_Branch:
        return 1;
    case OD_HOP_CondBranch: case OD_HOP_ForIter:
        return 2;
    default:
        return 0;
    }
}

static int kind_ok(OdHirKind kind, OdType t)
{
    switch (kind) {
    case OD_HK_BOXED:
        return od_type_sub(t, od_type_named(OD_TN_Object));
    case OD_HK_ANY:
        return od_type_sub(t, od_type_named(OD_TN_OptObject));
    case OD_HK_CINT:
        return od_type_sub(t, od_type_named(OD_TN_CInt64));
    case OD_HK_CDBL:
        return od_type_sub(t, od_type_named(OD_TN_CDouble));
    case OD_HK_CBOOL:
        return od_type_sub(t, od_type_named(OD_TN_CBool));
    default:
        return 0;
    }
}

static const char *kind_name(OdHirKind kind)
{
    static const char *const names[] = {"none", "Object", "OptObject", "CInt64", "CDouble", "CBool"};
    return names[kind];
}

/* Whether `def` is available at the end of block `at` (phi operands), or before
 * instruction `user` in its block. */
static int available(const OdHirInstr *def, const OdHirBlock *at, const OdHirInstr *user)
{
    const OdHirBlock *db = def->block;
    if (def->op == OD_HOP_ForIter) {
        db = def->block->nsuccs > 0 ? def->block->succs[0] : NULL;
        if (!db)
            return 0;
        return od_hir_dominates(db, at);
    }
    if (db != at)
        return od_hir_dominates(db, at);
    if (!user)
        return 1;   /* end of the defining block */
    return def->mark < user->mark;
}

/* Whether `use` of `value` names a reference that is there. */
static int use_is_real(const OdHirInstr *value, OdHirUse use)
{
    return use.user && use.user->block &&
           (use.index >= 0 ? use.index < use.user->nops && use.user->ops[use.index] == value
                           : use.user->fs &&
                                 -1 - use.index < use.user->fs->nlocals + use.user->fs->depth &&
                                 use.user->fs->slots[-1 - use.index] == value);
}

/* Position of reference `index` of `user` in v->listed, or -1. */
static long ref_pos(const V *v, const OdHirInstr *user, int index)
{
    if (!v->base || user->id < 0 || user->id >= v->fn->next_instr_id || v->base[user->id] < 0)
        return -1;
    return (long)v->base[user->id] + (index >= 0 ? index : user->nops + (-1 - index));
}

/* Fills v->base and v->listed (0, or -1 out of memory: has_use then searches the lists). */
static int index_uses(V *v)
{
    OdHirFunc *fn = v->fn;
    if (!(v->base = malloc(sizeof(int) * (size_t)(fn->next_instr_id + 1))))
        return -1;
    for (int id = 0; id <= fn->next_instr_id; id++)
        v->base[id] = -1;
    long total = 0;
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next) {
            if (i->id < 0 || i->id >= fn->next_instr_id || total > INT32_MAX / 2)
                continue;
            if (v->base[i->id] != -1) {   /* two instructions of one id: search for both */
                v->base[i->id] = -2;
                continue;
            }
            v->base[i->id] = (int)total;
            total += i->nops + (i->fs ? i->fs->nlocals + i->fs->depth : 0);
        }
    if (!(v->listed = calloc((size_t)total + 1, 1))) {
        free(v->base);
        v->base = NULL;
        return -1;
    }
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next)
            for (int u = 0; u < i->nuses; u++) {
                long pos = use_is_real(i, i->uses[u]) ? ref_pos(v, i->uses[u].user, i->uses[u].index) : -1;
                if (pos >= 0)
                    v->listed[pos] = 1;
            }
    return 0;
}

/* Whether operand `index` of `user` (a frame-state slot when negative, as in OdHirUse),
 * which holds `value`, is in `value`'s use list. */
static int has_use(const V *v, const OdHirInstr *value, const OdHirInstr *user, int index)
{
    long pos = ref_pos(v, user, index);
    if (pos >= 0)
        return v->listed[pos];
    for (int k = 0; k < value->nuses; k++)
        if (value->uses[k].user == user && value->uses[k].index == index)
            return 1;
    return 0;
}

static int check_value_ref(V *v, OdHirBlock *b, OdHirInstr *i, OdHirInstr *d, const char *what,
                           int index)
{
    const char *name = od_hir_op_info[i->op].name;
    if (!d)
        return fail(v, "bb%d: %s#%d: %s %d is missing", b->id, name, i->id, what, index);
    if (!d->block || d->block->rpo < 0 || d->block->mark != 1)
        return fail(v, "bb%d: %s#%d: %s %d (#%d) is not in the function", b->id, name, i->id,
                    what, index, d->id);
    if (!od_hir_has_value(d))
        return fail(v, "bb%d: %s#%d: %s %d (%s#%d) has no value", b->id, name, i->id, what,
                    index, od_hir_op_info[d->op].name, d->id);
    return 0;
}

int od_hir_verify(OdHirFunc *fn)
{
    V v = {fn, NULL, 0, NULL, NULL};
    if (fn->nblocks == 0)
        return fail(&v, "no blocks");
    v.order = malloc(sizeof(OdHirBlock *) * (size_t)fn->nblocks);
    if (!v.order)
        return fail(&v, "out of memory");
    v.n = od_hir_rpo(fn, v.order);
    od_hir_dominators(fn, v.order, v.n);
    int err = 0;
    /* mark: blocks of this function = 1; instructions: position in their block */
    for (int b = 0; b < fn->nblocks; b++) {
        OdHirBlock *blk = fn->blocks[b];
        blk->mark = 1;
        int pos = 0;
        OdHirInstr *prev = NULL;
        for (OdHirInstr *i = blk->first; i; prev = i, i = i->next) {
            if (i->block != blk || i->prev != prev) {
                err = fail(&v, "bb%d: instruction list is inconsistent at #%d", blk->id, i->id);
                goto out;
            }
            i->mark = pos++;
        }
        if (blk->last != prev) {
            err = fail(&v, "bb%d: instruction list's last is wrong", blk->id);
            goto out;
        }
    }
    index_uses(&v);   /* out of memory: has_use searches the lists instead */
    if (fn->blocks[0]->npreds) {
        err = fail(&v, "bb%d: the entry block has predecessors", fn->blocks[0]->id);
        goto out;
    }
    for (int b = 0; b < fn->nblocks && !err; b++) {
        OdHirBlock *blk = fn->blocks[b];
        if (blk->rpo < 0) {
            err = fail(&v, "bb%d: unreachable block", blk->id);
            break;
        }
        if (!blk->last) {
            err = fail(&v, "bb%d: empty block", blk->id);
            break;
        }
        if (!od_hir_is_term(blk->last)) {
            err = fail(&v, "bb%d: does not end in a terminator (%s#%d)", blk->id,
                       od_hir_op_info[blk->last->op].name, blk->last->id);
            break;
        }
        if (nsuccs_of(blk->last) != blk->nsuccs) {
            err = fail(&v, "bb%d: %s with %d successors", blk->id,
                       od_hir_op_info[blk->last->op].name, blk->nsuccs);
            break;
        }
        if (b > 0 && blk->npreds == 0) {
            err = fail(&v, "bb%d: no predecessors", blk->id);
            break;
        }
        for (int s = 0; s < blk->nsuccs && !err; s++)
            if (!blk->succs[s] || blk->succs[s]->mark != 1 ||
                od_hir_pred_index(blk->succs[s], blk, s) < 0)
                err = fail(&v, "bb%d: successor %d does not list it as predecessor", blk->id, s);
        for (int p = 0; p < blk->npreds && !err; p++) {
            OdHirEdge e = blk->preds[p];
            if (!e.from || e.from->mark != 1 || e.succ < 0 || e.succ >= e.from->nsuccs ||
                e.from->succs[e.succ] != blk)
                err = fail(&v, "bb%d: predecessor %d does not list it as successor", blk->id, p);
        }
        int phis_done = 0;
        for (OdHirInstr *i = blk->first; i && !err; i = i->next) {
            const OdHirOpInfo *info = od_hir_info(i);
            if (i->op == OD_HOP_Phi) {
                if (phis_done) {
                    err = fail(&v, "bb%d: Phi#%d after other instructions", blk->id, i->id);
                    break;
                }
                if (i->nops != blk->npreds) {
                    err = fail(&v, "bb%d: Phi#%d has %d operands for %d predecessors", blk->id,
                               i->id, i->nops, blk->npreds);
                    break;
                }
            } else {
                phis_done = 1;
            }
            if (od_hir_is_term(i) && i != blk->last) {
                err = fail(&v, "bb%d: terminator %s#%d is not last", blk->id, info->name, i->id);
                break;
            }
            if (info->noperands >= 0 && i->nops != info->noperands) {
                err = fail(&v, "bb%d: %s#%d has %d operands, not %d", blk->id, info->name, i->id,
                           i->nops, info->noperands);
                break;
            }
            OdType join = od_type_named(OD_TN_Bottom);
            for (int k = 0; k < i->nops && !err; k++) {
                OdHirInstr *d = i->ops[k];
                if ((err = check_value_ref(&v, blk, i, d, "operand", k)))
                    break;
                if (!has_use(&v, d, i, k)) {
                    err = fail(&v, "bb%d: %s#%d: operand %d is not in the use list of #%d",
                               blk->id, info->name, i->id, k, d->id);
                    break;
                }
                int ok = i->op == OD_HOP_Phi
                             ? available(d, blk->preds[k].from, NULL)
                             : available(d, blk, i);
                if (!ok) {
                    err = fail(&v, "bb%d: %s#%d: operand %d (%s#%d) does not dominate its use",
                               blk->id, info->name, i->id, k, od_hir_op_info[d->op].name, d->id);
                    break;
                }
                if (i->op == OD_HOP_Phi) {
                    join = od_type_join(join, d->type);
                } else if (!kind_ok(info->kind, d->type)
                           && !(k == 1 && (i->op == OD_HOP_LoadListItemAt
                                           || i->op == OD_HOP_StoreListItemAt)
                                && kind_ok(OD_HK_CINT, d->type))) {
                    /* (an At access's index may be an unboxed int64: passes/subscr.c) */
                    char t[128];
                    od_type_format(d->type, t, sizeof(t));
                    err = fail(&v, "bb%d: %s#%d: operand %d (%s#%d) is %s, not %s", blk->id,
                               info->name, i->id, k, od_hir_op_info[d->op].name, d->id, t,
                               kind_name(info->kind));
                    break;
                }
            }
            if (err)
                break;
            if (i->op == OD_HOP_Phi && !od_type_sub(join, i->type)) {
                err = fail(&v, "bb%d: Phi#%d's type does not cover its operands'", blk->id, i->id);
                break;
            }
            if (info->out >= 0 && !od_type_sub(i->type, od_type_named((OdTypeName)info->out))) {
                err = fail(&v, "bb%d: %s#%d: result type outside the op's", blk->id, info->name,
                           i->id);
                break;
            }
            if (((i->op == OD_HOP_GuardTypeVersion || i->op == OD_HOP_LoadTypeMethod) && i->imm == 0)
                || (i->op == OD_HOP_GuardTypeVersion && (unsigned long long)i->imm > UINT32_MAX)
                || ((i->op == OD_HOP_LoadInstanceValue || i->op == OD_HOP_StoreInstanceValue
                     || (i->op == OD_HOP_GuardSharedKeys && !i->imm2))
                    && (i->imm < 0 || i->imm >= (1 << 20)))
                || (i->op == OD_HOP_GuardSharedKeys && i->imm2
                    && (i->imm <= 0 || (unsigned long long)i->imm > UINT32_MAX))
                || ((i->op == OD_HOP_LoadDictHint || i->op == OD_HOP_StoreDictHint)
                    && (i->imm < 0 || i->imm >= (1 << 20) || i->imm2 < 0 || i->imm2 >= (1 << 20)))
                || ((i->op == OD_HOP_LoadSlot || i->op == OD_HOP_StoreSlot)
                    && (i->imm < (long long)sizeof(PyObject) - 8 || i->imm >= INT32_MAX))) {
                /* what code generation encodes: a 32-bit version tag (0 is "none"), an
                 * index or offset that fits a displacement, a method that exists */
                err = fail(&v, "bb%d: %s#%d: immediate %lld out of range", blk->id, info->name,
                           i->id, i->imm);
                break;
            }
            if ((info->effects & OD_HE_NEEDS_STATE) && !i->fs) {
                err = fail(&v, "bb%d: %s#%d needs a frame state and has none", blk->id,
                           info->name, i->id);
                break;
            }
            if (i->fs) {
                OdFrameState *fs = i->fs;
                if (fs->nlocals != fn->nlocals || fs->depth < 0 || fs->depth > fn->maxdepth ||
                    fs->offset < 0) {
                    err = fail(&v, "bb%d: %s#%d: frame state @%d with %d locals, depth %d", blk->id,
                               info->name, i->id, fs->offset, fs->nlocals, fs->depth);
                    break;
                }
                for (int s = 0; s < fs->nlocals + fs->depth && !err; s++) {
                    OdHirInstr *d = fs->slots[s];
                    if ((err = check_value_ref(&v, blk, i, d, "frame-state slot", s)))
                        break;
                    if (!has_use(&v, d, i, -1 - s))
                        err = fail(&v, "bb%d: %s#%d: frame-state slot %d is not in the use list",
                                   blk->id, info->name, i->id, s);
                    else if (!available(d, blk, i))
                        err = fail(&v, "bb%d: %s#%d: frame-state slot %d (#%d) does not dominate "
                                   "its use", blk->id, info->name, i->id, s, d->id);
                    else if (!kind_ok(OD_HK_ANY, d->type) && !kind_ok(OD_HK_CINT, d->type)
                             && !kind_ok(OD_HK_CDBL, d->type) && !kind_ok(OD_HK_CBOOL, d->type))
                        err = fail(&v, "bb%d: %s#%d: frame-state slot %d mixes boxed and "
                                   "unboxed kinds", blk->id, info->name, i->id, s);
                }
                if (err)
                    break;
            }
            /* every listed use is real */
            for (int u = 0; u < i->nuses && !err; u++) {
                if (!use_is_real(i, i->uses[u]))
                    err = fail(&v, "bb%d: %s#%d: its use list names a use that is not there",
                               blk->id, info->name, i->id);
            }
        }
        if (!err && blk->last->op == OD_HOP_ForIter && blk->succs[0]->npreds != 1)
            err = fail(&v, "bb%d: the body of ForIter#%d has other predecessors", blk->id,
                       blk->last->id);
    }
out:
    for (int b = 0; b < fn->nblocks; b++)
        fn->blocks[b]->mark = 0;
    free(v.order);
    free(v.base);
    free(v.listed);
    return err ? -1 : 0;
}

/* ---- deliberate damage ------------------------------------------------------------------- */

static OdHirInstr *find(OdHirFunc *fn, int (*pred)(OdHirInstr *))
{
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next)
            if (pred(i))
                return i;
    return NULL;
}

static int is_phi(OdHirInstr *i) { return i->op == OD_HOP_Phi; }
static int has_fs(OdHirInstr *i) { return i->fs != NULL && i->op != OD_HOP_Snapshot; }
static int is_condbranch(OdHirInstr *i) { return i->op == OD_HOP_CondBranch; }
static int has_operand(OdHirInstr *i) { return i->op != OD_HOP_Phi && i->nops > 0; }
static int has_uses(OdHirInstr *i) { return i->nuses > 0; }

int od_hir_corrupt(OdHirFunc *fn, const char *what)
{
    OdHirInstr *i;
    if (strcmp(what, "phi_arity") == 0) {
        if (!(i = find(fn, is_phi)))
            return -1;
        if (od_hir_set_op(fn, i, i->nops - 1, NULL) < 0)
            return -1;
        i->nops--;
        return 0;
    }
    if (strcmp(what, "use_before_def") == 0) {
        /* an operand replaced by a value defined after its user in the same block */
        for (int b = 0; b < fn->nblocks; b++)
            for (i = fn->blocks[b]->first; i; i = i->next) {
                if (!has_operand(i))
                    continue;
                for (OdHirInstr *later = i->next; later; later = later->next)
                    if (od_hir_has_value(later) && later->op != OD_HOP_ForIter)
                        return od_hir_set_op(fn, i, 0, later) < 0 ? -1 : 0;
            }
        return -1;
    }
    if (strcmp(what, "missing_frame_state") == 0) {
        if (!(i = find(fn, has_fs)))
            return -1;
        for (int s = 0; s < i->fs->nlocals + i->fs->depth; s++)
            if (od_hir_set_fs_slot(fn, i, s, NULL) < 0)
                return -1;
        i->fs = NULL;
        return 0;
    }
    if (strcmp(what, "operand_type") == 0) {
        /* a CondBranch on the object its IsTrue tested, not on the condition */
        if (!(i = find(fn, is_condbranch)) || i->ops[0]->nops < 1)
            return -1;
        return od_hir_set_op(fn, i, 0, i->ops[0]->ops[0]) < 0 ? -1 : 0;
    }
    if (strcmp(what, "stray_terminator") == 0) {
        OdHirBlock *b = fn->blocks[0];
        OdHirInstr *t = od_hir_new_instr(fn, OD_HOP_Branch, 0);
        if (!t || !b->last)
            return -1;
        od_hir_insert_before(b->last, t);
        return 0;
    }
    if (strcmp(what, "stale_use") == 0) {
        /* an operand whose value's use list forgot it */
        if (!(i = find(fn, has_operand)) || !find(fn, has_uses))
            return -1;
        OdHirInstr *d = i->ops[0];
        for (int k = 0; k < d->nuses; k++)
            if (d->uses[k].user == i && d->uses[k].index == 0) {
                d->uses[k] = d->uses[--d->nuses];
                return 0;
            }
        return -1;
    }
    return -1;
}
