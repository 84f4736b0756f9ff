/* tier2/hir/hir.c — HIR data structures: arena, instructions, use lists, CFG edges,
 * reverse post-order and dominators. */
#include "hir.h"

#include <stdlib.h>
#include <string.h>

const char *const od_hir_math_names[OD_MATH__COUNT] = {
#define OD_HIR_MATH_NAME(id, name) [OD_MATH_##id] = name,
    OD_HIR_MATH_FUNCS(OD_HIR_MATH_NAME)
#undef OD_HIR_MATH_NAME
};

const OdHirOpInfo od_hir_op_info[OD_HOP__COUNT] = {
#define OD_HOP_INFO(name, n, kind, eff, out) {#name, n, OD_HK_##kind, eff, OD_OUT_##out},
#define OD_OUT_Void (-1)
#define OD_OUT_Object OD_TN_Object
#define OD_OUT_OptObject OD_TN_OptObject
#define OD_OUT_Top OD_TN_Top
#define OD_OUT_Bool OD_TN_Bool
#define OD_OUT_CBool OD_TN_CBool
#define OD_OUT_Tuple OD_TN_Tuple
#define OD_OUT_List OD_TN_List
#define OD_OUT_Dict OD_TN_Dict
#define OD_OUT_Str OD_TN_Str
#define OD_OUT_Long OD_TN_Long
#define OD_OUT_Float OD_TN_Float
#define OD_OUT_CInt64 OD_TN_CInt64
#define OD_OUT_CDouble OD_TN_CDouble
    OD_HIR_OPS(OD_HOP_INFO)
#undef OD_HOP_INFO
};

/* ---- arena ----------------------------------------------------------------------------- */

struct OdArenaChunk {
    OdArenaChunk *next;
    size_t size;
    max_align_t align[];    /* payload */
};

#define OD_ARENA_CHUNK (64 * 1024)

void *od_arena_alloc(OdArena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (!a->chunks || a->used + size > a->cap) {
        size_t cap = size > OD_ARENA_CHUNK ? size : OD_ARENA_CHUNK;
        OdArenaChunk *c = malloc(sizeof(OdArenaChunk) + cap);
        if (!c) {
            PyErr_NoMemory();
            return NULL;
        }
        c->next = a->chunks;
        c->size = cap;
        a->chunks = c;
        a->used = 0;
        a->cap = cap;
    }
    char *p = (char *)a->chunks->align + a->used;
    a->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

void od_arena_free(OdArena *a)
{
    OdArenaChunk *c = a->chunks;
    while (c) {
        OdArenaChunk *next = c->next;
        free(c);
        c = next;
    }
    a->chunks = NULL;
    a->used = a->cap = a->total = 0;
}

/* Grows an arena array of `elem`-sized items to hold at least `need` (old space is left in
 * the arena: it goes with everything else). */
static void *grow(OdArena *a, void *old, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return old;
    int ncap = *cap ? *cap * 2 : 4;
    while (ncap < need)
        ncap *= 2;
    void *p = od_arena_alloc(a, (size_t)ncap * elem);
    if (!p)
        return NULL;
    if (old && *cap)
        memcpy(p, old, (size_t)*cap * elem);
    *cap = ncap;
    return p;
}

/* ---- function, blocks, instructions ------------------------------------------------------ */

int od_hir_init(OdHirFunc *fn, PyCodeObject *co)
{
    memset(fn, 0, sizeof(*fn));
    fn->code = co;
    fn->osr = -1;
    return 0;
}

void od_hir_free(OdHirFunc *fn)
{
    od_arena_free(&fn->arena);
    Py_CLEAR(fn->refs);
}

PyObject *od_hir_own(OdHirFunc *fn, PyObject *obj)
{
    if (!fn->refs && !(fn->refs = PyList_New(0)))
        return NULL;
    if (PyList_Append(fn->refs, obj) < 0)
        return NULL;
    return obj;
}

OdHirBlock *od_hir_new_block(OdHirFunc *fn, int bc_start)
{
    OdHirBlock *b = od_arena_alloc(&fn->arena, sizeof(OdHirBlock));
    if (!b)
        return NULL;
    OdHirBlock **blocks = grow(&fn->arena, fn->blocks, &fn->capblocks, fn->nblocks + 1,
                               sizeof(OdHirBlock *));
    if (!blocks)
        return NULL;
    fn->blocks = blocks;
    fn->blocks[fn->nblocks++] = b;
    b->id = fn->next_block_id++;
    b->bc_start = bc_start;
    b->rpo = -1;
    return b;
}

OdHirInstr *od_hir_new_instr(OdHirFunc *fn, OdHirOp op, int nops)
{
    OdHirInstr *i = od_arena_alloc(&fn->arena, sizeof(OdHirInstr));
    if (!i)
        return NULL;
    if (nops > 0 && (!(i->ops = od_arena_alloc(&fn->arena, sizeof(OdHirInstr *) * (size_t)nops))
                     || !(i->opos = od_arena_alloc(&fn->arena, sizeof(int) * (size_t)nops))))
        return NULL;
    i->op = op;
    i->nops = nops;
    i->id = fn->next_instr_id++;
    i->bc_offset = -1;
    int out = od_hir_op_info[op].out;
    i->type = out >= 0 ? od_type_named((OdTypeName)out) : od_type_named(OD_TN_Bottom);
    return i;
}

OdFrameState *od_hir_new_fs(OdHirFunc *fn, int offset, int nlocals, int depth)
{
    OdFrameState *fs = od_arena_alloc(&fn->arena, sizeof(OdFrameState));
    if (!fs)
        return NULL;
    fs->offset = offset;
    fs->nlocals = nlocals;
    fs->depth = depth;
    if (nlocals + depth > 0 &&
        (!(fs->slots = od_arena_alloc(&fn->arena, sizeof(OdHirInstr *) * (size_t)(nlocals + depth)))
         || !(fs->upos = od_arena_alloc(&fn->arena, sizeof(int) * (size_t)(nlocals + depth)))))
        return NULL;
    return fs;
}

void od_hir_append(OdHirBlock *b, OdHirInstr *i)
{
    i->block = b;
    i->prev = b->last;
    i->next = NULL;
    if (b->last)
        b->last->next = i;
    else
        b->first = i;
    b->last = i;
}

void od_hir_insert_before(OdHirInstr *before, OdHirInstr *i)
{
    OdHirBlock *b = before->block;
    i->block = b;
    i->next = before;
    i->prev = before->prev;
    if (before->prev)
        before->prev->next = i;
    else
        b->first = i;
    before->prev = i;
}

int od_hir_copy_fs(OdHirFunc *fn, OdHirInstr *to, const OdFrameState *from)
{
    if (!(to->fs = od_hir_new_fs(fn, from->offset, from->nlocals, from->depth)))
        return -1;
    for (int s = 0; s < from->nlocals + from->depth; s++)
        if (od_hir_set_fs_slot(fn, to, s, from->slots[s]) < 0)
            return -1;
    return 0;
}

OdHirInstr *od_hir_new_before(OdHirFunc *fn, OdHirInstr *at, OdHirOp op, OdHirInstr *a,
                              OdHirInstr *b)
{
    int n = od_hir_op_info[op].noperands;
    OdHirInstr *i = od_hir_new_instr(fn, op, n < 0 ? 0 : n);
    if (!i)
        return NULL;
    i->bc_offset = at->bc_offset;
    if ((n >= 1 && od_hir_set_op(fn, i, 0, a) < 0) || (n >= 2 && od_hir_set_op(fn, i, 1, b) < 0))
        return NULL;
    if ((od_hir_op_info[op].effects & OD_HE_NEEDS_STATE) && od_hir_copy_fs(fn, i, at->fs) < 0)
        return NULL;
    od_hir_insert_before(at, i);
    return i;
}

void od_hir_insert_after_phis(OdHirBlock *b, OdHirInstr *i)
{
    OdHirInstr *at = b->first;
    while (at && at->op == OD_HOP_Phi)
        at = at->next;
    if (at)
        od_hir_insert_before(at, i);
    else
        od_hir_append(b, i);
}

/* ---- uses -------------------------------------------------------------------------------- */

/* Where reference `index` of `user` (a frame-state slot when negative) keeps its position
 * hint, or NULL. Dropping a use searched the value's whole list: a value in most frame
 * states (a Param, a Const) has thousands of uses, and removing an instruction with a
 * frame state dropped one per slot (11.7 M instructions of a 208 M stress run). */
static int *pos_hint(OdHirInstr *user, int index)
{
    if (index >= 0)
        return user->opos && index < user->nops ? &user->opos[index] : NULL;
    int s = -1 - index;
    return user->fs && user->fs->upos && s < user->fs->nlocals + user->fs->depth ? &user->fs->upos[s]
                                                                                  : NULL;
}

static int add_use(OdHirFunc *fn, OdHirInstr *value, OdHirInstr *user, int index)
{
    OdHirUse *u = grow(&fn->arena, value->uses, &value->capuses, value->nuses + 1, sizeof(OdHirUse));
    if (!u)
        return -1;
    value->uses = u;
    value->uses[value->nuses].user = user;
    value->uses[value->nuses].index = index;
    /* the callers pass a reference the user has: no bounds to check */
    int *h = index >= 0 ? user->opos : user->fs->upos;
    if (h)
        h[index >= 0 ? index : -1 - index] = value->nuses;
    value->nuses++;
    return 0;
}

/* The list's order is what it was with a search from the front: a (user, index) pair is
 * in it once, and the hint is trusted only where it names that pair (instructions and
 * frame states made or changed around these functions leave stale hints: then the search
 * runs as before). The entry moved into the hole gets its new position. */
static void drop_use(OdHirInstr *value, OdHirInstr *user, int index)
{
    int *h = pos_hint(user, index);
    int k = h ? *h : -1;
    if (k < 0 || k >= value->nuses || value->uses[k].user != user || value->uses[k].index != index)
        for (k = 0; k < value->nuses; k++)
            if (value->uses[k].user == user && value->uses[k].index == index)
                break;
    if (k == value->nuses)
        return;
    value->uses[k] = value->uses[--value->nuses];
    if (k < value->nuses && (h = pos_hint(value->uses[k].user, value->uses[k].index)))
        *h = k;
}

int od_hir_set_op(OdHirFunc *fn, OdHirInstr *user, int index, OdHirInstr *value)
{
    if (user->ops[index])
        drop_use(user->ops[index], user, index);
    user->ops[index] = value;
    return value ? add_use(fn, value, user, index) : 0;
}

int od_hir_set_fs_slot(OdHirFunc *fn, OdHirInstr *user, int slot, OdHirInstr *value)
{
    OdHirInstr **s = &user->fs->slots[slot];
    if (*s)
        drop_use(*s, user, -1 - slot);
    *s = value;
    return value ? add_use(fn, value, user, -1 - slot) : 0;
}

int od_hir_replace_all_uses(OdHirFunc *fn, OdHirInstr *old, OdHirInstr *value)
{
    if (old == value)
        return 0;
    while (old->nuses > 0) {
        OdHirUse u = old->uses[old->nuses - 1];
        int err = u.index >= 0 ? od_hir_set_op(fn, u.user, u.index, value)
                               : od_hir_set_fs_slot(fn, u.user, -1 - u.index, value);
        if (err < 0)
            return -1;
    }
    return 0;
}

int od_hir_replace_by_const(OdHirFunc *fn, OdHirInstr *i, PyObject *obj)
{
    OdHirInstr *c = od_hir_new_instr(fn, OD_HOP_Const, 0);
    if (!c)
        return -1;
    c->obj = obj;
    c->type = od_type_of_object(obj);
    c->bc_offset = i->bc_offset;
    od_hir_insert_before(i, c);
    if (od_hir_replace_all_uses(fn, i, c) < 0)
        return -1;
    od_hir_remove(i);
    return 0;
}

void od_hir_remove(OdHirInstr *i)
{
    OdHirBlock *b = i->block;
    if (!b)
        return;
    for (int k = 0; k < i->nops; k++)
        if (i->ops[k]) {
            drop_use(i->ops[k], i, k);
            i->ops[k] = NULL;
        }
    if (i->fs)
        for (int s = 0; s < i->fs->nlocals + i->fs->depth; s++)
            if (i->fs->slots[s]) {
                drop_use(i->fs->slots[s], i, -1 - s);
                i->fs->slots[s] = NULL;
            }
    od_hir_unlink(i);
}

void od_hir_unlink(OdHirInstr *i)
{
    OdHirBlock *b = i->block;
    if (i->prev)
        i->prev->next = i->next;
    else
        b->first = i->next;
    if (i->next)
        i->next->prev = i->prev;
    else
        b->last = i->prev;
    i->prev = i->next = NULL;
    i->block = NULL;
}

int od_hir_rebuild_uses(OdHirFunc *fn)
{
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next)
            i->nuses = 0;
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next) {
            for (int k = 0; k < i->nops; k++)
                if (i->ops[k] && add_use(fn, i->ops[k], i, k) < 0)
                    return -1;
            if (i->fs)
                for (int s = 0; s < i->fs->nlocals + i->fs->depth; s++)
                    if (i->fs->slots[s] && add_use(fn, i->fs->slots[s], i, -1 - s) < 0)
                        return -1;
        }
    return 0;
}

/* ---- edges ------------------------------------------------------------------------------- */

int od_hir_add_edge(OdHirFunc *fn, OdHirBlock *from, OdHirBlock *to)
{
    if (from->nsuccs >= 2) {
        PyErr_SetString(PyExc_SystemError, "HIR block with more than two successors");
        return -1;
    }
    OdHirEdge *p = grow(&fn->arena, to->preds, &to->cappreds, to->npreds + 1, sizeof(OdHirEdge));
    if (!p)
        return -1;
    to->preds = p;
    to->preds[to->npreds].from = from;
    to->preds[to->npreds].succ = from->nsuccs;
    to->npreds++;
    from->succs[from->nsuccs++] = to;
    return 0;
}

int od_hir_pred_index(const OdHirBlock *to, const OdHirBlock *from, int succ)
{
    for (int k = 0; k < to->npreds; k++)
        if (to->preds[k].from == from && to->preds[k].succ == succ)
            return k;
    return -1;
}

/* Drops predecessor entry k of `to` with operand k of each of its phis. */
static int drop_pred(OdHirFunc *fn, OdHirBlock *to, int k)
{
    for (OdHirInstr *phi = to->first; phi && phi->op == OD_HOP_Phi; phi = phi->next) {
        for (int j = k; j < phi->nops; j++) {
            OdHirInstr *next = j + 1 < phi->nops ? phi->ops[j + 1] : NULL;
            if (od_hir_set_op(fn, phi, j, next) < 0)
                return -1;
        }
        phi->nops--;
    }
    for (int j = k; j + 1 < to->npreds; j++)
        to->preds[j] = to->preds[j + 1];
    to->npreds--;
    return 0;
}

int od_hir_remove_succ(OdHirFunc *fn, OdHirBlock *from, int succ)
{
    OdHirBlock *to = from->succs[succ];
    int k = od_hir_pred_index(to, from, succ);
    if (k >= 0 && drop_pred(fn, to, k) < 0)
        return -1;
    for (int s = succ + 1; s < from->nsuccs; s++) {
        OdHirBlock *t = from->succs[s];
        int j = od_hir_pred_index(t, from, s);
        if (j >= 0)
            t->preds[j].succ = s - 1;
        from->succs[s - 1] = t;
    }
    from->nsuccs--;
    from->succs[from->nsuccs] = NULL;
    return 0;
}

/* ---- order and dominators ----------------------------------------------------------------- */

int od_hir_rpo(OdHirFunc *fn, OdHirBlock **order)
{
    int n = fn->nblocks;
    for (int b = 0; b < n; b++) {
        fn->blocks[b]->rpo = -1;
        fn->blocks[b]->mark = 0;
    }
    if (n == 0)
        return 0;
    /* Iterative DFS: stack of (block, next successor to visit); post-order written from the
     * back of `order`. */
    OdHirBlock **stack = malloc(sizeof(OdHirBlock *) * (size_t)n);
    int *next = malloc(sizeof(int) * (size_t)n);
    if (!stack || !next) {
        free(stack);
        free(next);
        return -1;
    }
    int sp = 0, post = n;
    stack[sp] = fn->blocks[0];
    next[sp++] = 0;
    fn->blocks[0]->mark = 1;
    while (sp > 0) {
        OdHirBlock *b = stack[sp - 1];
        if (next[sp - 1] < b->nsuccs) {
            /* successors last to first, so that the first comes first in the order */
            OdHirBlock *s = b->succs[b->nsuccs - 1 - next[sp - 1]++];
            if (!s->mark) {
                s->mark = 1;
                stack[sp] = s;
                next[sp++] = 0;
            }
        } else {
            order[--post] = b;
            sp--;
        }
    }
    free(stack);
    free(next);
    int reached = n - post;
    memmove(order, order + post, sizeof(OdHirBlock *) * (size_t)reached);
    for (int k = 0; k < reached; k++)
        order[k]->rpo = k;
    return reached;
}

static OdHirBlock *intersect(OdHirBlock *a, OdHirBlock *b)
{
    while (a != b) {
        while (a->rpo > b->rpo)
            a = a->idom;
        while (b->rpo > a->rpo)
            b = b->idom;
    }
    return a;
}

void od_hir_dominators(OdHirFunc *fn, OdHirBlock **order, int n)
{
    for (int b = 0; b < fn->nblocks; b++)
        fn->blocks[b]->idom = NULL;
    if (n == 0)
        return;
    order[0]->idom = order[0];
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int k = 1; k < n; k++) {
            OdHirBlock *b = order[k], *nd = NULL;
            for (int p = 0; p < b->npreds; p++) {
                OdHirBlock *q = b->preds[p].from;
                if (q->rpo < 0 || !q->idom)
                    continue;
                nd = nd ? intersect(q, nd) : q;
            }
            if (nd && b->idom != nd) {
                b->idom = nd;
                changed = 1;
            }
        }
    }
}

int od_hir_dominates(const OdHirBlock *a, const OdHirBlock *b)
{
    if (!a->idom || !b->idom)
        return 0;
    for (;;) {
        if (a == b)
            return 1;
        if (b->idom == b)
            return 0;
        b = b->idom;
    }
}

int od_hir_instr_dominates(const OdHirInstr *a, const OdHirInstr *b)
{
    if (a->block != b->block)
        return od_hir_dominates(a->block, b->block);
    for (const OdHirInstr *i = a; i; i = i->next)
        if (i == b)
            return 1;
    return 0;
}

int od_hir_remove_unreachable(OdHirFunc *fn)
{
    OdHirBlock **order = malloc(sizeof(OdHirBlock *) * (size_t)(fn->nblocks ? fn->nblocks : 1));
    if (!order) {
        PyErr_NoMemory();
        return -1;
    }
    int n = od_hir_rpo(fn, order);
    free(order);
    if (n < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (n == fn->nblocks)
        return 0;
    for (int b = 0; b < fn->nblocks; b++) {
        OdHirBlock *blk = fn->blocks[b];
        if (blk->rpo >= 0)
            continue;
        while (blk->nsuccs > 0)
            if (od_hir_remove_succ(fn, blk, blk->nsuccs - 1) < 0)
                return -1;
    }
    /* Unreachable blocks may use each other's values: unlink operands first, then remove. */
    for (int b = 0; b < fn->nblocks; b++) {
        OdHirBlock *blk = fn->blocks[b];
        if (blk->rpo >= 0)
            continue;
        for (OdHirInstr *i = blk->first; i; i = i->next)
            if (od_hir_replace_all_uses(fn, i, NULL) < 0)
                return -1;
        while (blk->first)
            od_hir_remove(blk->first);
    }
    int k = 0;
    for (int b = 0; b < fn->nblocks; b++)
        if (fn->blocks[b]->rpo >= 0)
            fn->blocks[k++] = fn->blocks[b];
    fn->nblocks = k;
    return 0;
}

int od_hir_remove_trivial_phis(OdHirFunc *fn)
{
    int count = 0, changed = 1;
    while (changed) {
        changed = 0;
        for (int b = 0; b < fn->nblocks; b++) {
            OdHirInstr *phi = fn->blocks[b]->first, *next;
            for (; phi && phi->op == OD_HOP_Phi; phi = next) {
                next = phi->next;
                OdHirInstr *same = NULL;
                int trivial = 1;
                for (int k = 0; k < phi->nops && trivial; k++) {
                    OdHirInstr *o = phi->ops[k];
                    if (o == phi || o == same)
                        continue;
                    if (same)
                        trivial = 0;
                    same = o;
                }
                if (!trivial || !same)
                    continue;
                if (od_hir_replace_all_uses(fn, phi, same) < 0)
                    return -1;
                od_hir_remove(phi);
                count++;
                changed = 1;
            }
        }
    }
    return count;
}

/* ---- names ------------------------------------------------------------------------------- */

const char *od_hir_binop_name(long long nb)
{
    static const char *const names[] = {
        "+", "&", "//", "<<", "@", "*", "%", "|", "**", ">>", "-", "/", "^",
        "+=", "&=", "//=", "<<=", "@=", "*=", "%=", "|=", "**=", ">>=", "-=", "/=", "^=",
    };
    return nb >= 0 && nb < (long long)(sizeof(names) / sizeof(names[0])) ? names[nb] : "?";
}

const char *od_hir_cmp_name(long long cmp)
{
    static const char *const names[] = {"<", "<=", "==", "!=", ">", ">="};
    return cmp >= 0 && cmp < 6 ? names[cmp] : "?";
}
