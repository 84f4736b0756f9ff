/* tier2/passes/licm.c — loop-invariant type guards and unboxes hoisted out of loops.
 *
 * `specialize` puts a GuardType and an UnboxInt/UnboxFloat before each use of an int or
 * float it speculates on, inside the loop when the use is inside it: a loop that reads a
 * parameter (`s = s * x + 1.0`) checks x's type and loads its value on every iteration.
 * Neither can change while the loop runs: GuardType here only checks the exact classes int
 * and float (the lowering refuses the rest), whose instances cannot change class and hold
 * immutable values. So when the checked value is defined outside the loop, the guard and
 * the unbox move to a preheader, a new block on the loop's entry edge (so a function whose
 * loop is not entered checks nothing it would not have checked).
 *
 * A hoisted guard resumes at the loop header: its frame state is the header's Snapshot
 * with each of the header's phis replaced by its operand on the entry edge, i.e. the
 * interpreter restarts the loop's first iteration, which nothing has run yet. Only
 * instructions of blocks that dominate the loop's one back edge (run on every iteration
 * that goes round) move, so a guard on a path the loop rarely takes does not become a
 * guard on every entry. An unbox moves only with its guard (or when its operand's type is
 * known without one). Deoptimizations of hoisted guards count at the header's code unit:
 * once they have kept failing there (fn->no_speculate), this loop keeps its guards in
 * place, each counted at its own instruction again (rt/exit.c's policy).
 *
 * Loops are handled innermost first; a guard hoisted out of an inner loop may move on out
 * of the enclosing one. A header with several entry edges or back edges is left alone. */
#include "passes.h"

#include <stdlib.h>

typedef struct {
    OdHirFunc *fn;
    OdHirBlock **order;     /* reverse post-order, recomputed after a preheader is added */
    int n;
    int stamp;              /* block->mark of the loop being processed (od_hir_rpo uses 0/1) */
} Licm;

static int int_or_float(OdType t)
{
    return od_type_eq(t, od_type_named(OD_TN_Int)) || od_type_eq(t, od_type_named(OD_TN_Float));
}

static int in_loop(const Licm *L, const OdHirBlock *b) { return b && b->mark == L->stamp; }

/* Marks the natural loop of the back edge latch -> h (blocks that reach the latch without
 * passing through h, and h). */
static int mark_loop(Licm *L, OdHirBlock *h, OdHirBlock *latch)
{
    OdHirBlock **work = malloc(sizeof(OdHirBlock *) * (size_t)(L->fn->nblocks + 1));
    if (!work) {
        PyErr_NoMemory();
        return -1;
    }
    int n = 0;
    h->mark = L->stamp;
    if (latch->mark != L->stamp) {
        latch->mark = L->stamp;
        work[n++] = latch;
    }
    while (n > 0) {
        OdHirBlock *b = work[--n];
        for (int k = 0; k < b->npreds; k++) {
            OdHirBlock *p = b->preds[k].from;
            if (p->mark != L->stamp && p->rpo >= 0) {
                p->mark = L->stamp;
                work[n++] = p;
            }
        }
    }
    free(work);
    return 0;
}

/* A new block on the edge (e, succ) -> h, taking that edge's place among h's predecessors
 * (so h's phis keep their operand order), ending in a Branch to h. */
static OdHirBlock *split_entry_edge(Licm *L, OdHirBlock *h, int k)
{
    OdHirFunc *fn = L->fn;
    OdHirEdge edge = h->preds[k];
    OdHirBlock *p = od_hir_new_block(fn, h->bc_start);
    OdHirInstr *br = p ? od_hir_new_instr(fn, OD_HOP_Branch, 0) : NULL;
    if (!br)
        return NULL;
    br->bc_offset = h->bc_start;
    od_hir_append(p, br);
    /* e's successor slot now leads to p, and p's only successor is h, in slot 0 */
    edge.from->succs[edge.succ] = p;
    p->preds = od_arena_alloc(&fn->arena, sizeof(OdHirEdge));
    if (!p->preds)
        return NULL;
    p->preds[0] = edge;
    p->npreds = p->cappreds = 1;
    p->succs[0] = h;
    p->nsuccs = 1;
    h->preds[k].from = p;
    h->preds[k].succ = 0;
    p->idom = edge.from;
    h->idom = p;
    p->rpo = h->rpo;   /* reachable; the order is recomputed by whoever needs it next */
    return p;
}

/* Gives `i` the frame state `from` in place of its own. */
static int replace_fs(OdHirFunc *fn, OdHirInstr *i, const OdFrameState *from)
{
    if (i->fs)
        for (int s = 0; s < i->fs->nlocals + i->fs->depth; s++)
            if (od_hir_set_fs_slot(fn, i, s, NULL) < 0)
                return -1;
    return od_hir_copy_fs(fn, i, from);
}

/* Whether `i`, an instruction of the loop, may move to the preheader `pre` (NULL: not made
 * yet): a guard of int or float, or an unbox whose operand is known to be (or was guarded
 * in `pre` as) that kind, of a value defined outside the loop. */
static int hoistable(const Licm *L, const OdHirInstr *i, const OdHirBlock *pre)
{
    if (i->op != OD_HOP_GuardType && i->op != OD_HOP_UnboxInt && i->op != OD_HOP_UnboxFloat)
        return 0;
    OdHirInstr *v = i->ops[0];
    if (in_loop(L, v->block))
        return 0;
    if (i->op == OD_HOP_GuardType)
        return int_or_float(i->itype);
    OdType want = od_type_named(i->op == OD_HOP_UnboxInt ? OD_TN_Int : OD_TN_Float);
    if (od_type_sub(v->type, want))
        return 1;
    /* its guard was hoisted already (they move in order) */
    for (OdHirInstr *g = pre ? pre->first : NULL; g; g = g->next)
        if (g->op == OD_HOP_GuardType && g->ops[0] == v && od_type_eq(g->itype, want))
            return 1;
    return 0;
}

/* 1 if a preheader was made (and something moved), 0 if not, -1 with an exception. */
static int hoist_loop(Licm *L, OdHirBlock *h, int entry, OdHirBlock *latch)
{
    OdHirFunc *fn = L->fn;
    OdHirInstr *snap = h->first;
    while (snap && snap->op == OD_HOP_Phi)
        snap = snap->next;
    if (!snap || snap->op != OD_HOP_Snapshot || !snap->fs)
        return 0;
    if (fn->no_speculate && snap->fs->offset >= 0 && fn->no_speculate[snap->fs->offset])
        return 0;   /* hoisted guards kept failing here: leave them in place */
    L->stamp++;
    if (mark_loop(L, h, latch) < 0)
        return -1;
    /* Anything to do? (The preheader is only made when something moves.) */
    OdHirBlock *pre = NULL;
    OdFrameState *fs = NULL;
    for (int k = 0; k < L->n; k++) {
        OdHirBlock *b = L->order[k];
        if (!in_loop(L, b) || !od_hir_dominates(b, latch))
            continue;
        for (OdHirInstr *i = b->first, *next; i; i = next) {
            next = i->next;
            if (!hoistable(L, i, pre))
                continue;
            if (!pre) {
                if (!(pre = split_entry_edge(L, h, entry)))
                    return -1;
                /* the state at the loop's start: the header's, phis as the entry edge has them */
                if (!(fs = od_hir_new_fs(fn, snap->fs->offset, snap->fs->nlocals, snap->fs->depth)))
                    return -1;
                for (int s = 0; s < fs->nlocals + fs->depth; s++) {
                    OdHirInstr *v = snap->fs->slots[s];
                    fs->slots[s] = v && v->op == OD_HOP_Phi && v->block == h ? v->ops[entry] : v;
                }
            }
            od_hir_unlink(i);
            od_hir_insert_before(pre->last, i);
            if (i->fs && replace_fs(fn, i, fs) < 0)
                return -1;
        }
    }
    return pre != NULL;
}

int od_hir_pass_licm(OdHirFunc *fn)
{
    Licm L = {.fn = fn, .stamp = 1};
    /* room for one preheader per block (at most one per loop header) */
    size_t room = (size_t)(2 * fn->nblocks + 1);
    L.order = malloc(sizeof(OdHirBlock *) * room);
    OdHirBlock **headers = malloc(sizeof(OdHirBlock *) * room);
    if (!L.order || !headers) {
        free(L.order);
        free(headers);
        PyErr_NoMemory();
        return -1;
    }
    L.n = od_hir_rpo(fn, L.order);
    od_hir_dominators(fn, L.order, L.n);
    int err = 0, nheaders = 0;
    for (int k = L.n - 1; k >= 0; k--)      /* innermost (latest in the order) first */
        headers[nheaders++] = L.order[k];
    for (int k = 0; k < nheaders && err >= 0; k++) {
        OdHirBlock *h = headers[k];
        int entry = -1, nentry = 0, nback = 0;
        OdHirBlock *latch = NULL;
        for (int p = 0; p < h->npreds; p++) {
            OdHirBlock *from = h->preds[p].from;
            if (from->rpo < 0)
                continue;
            if (od_hir_dominates(h, from)) {
                latch = from;
                nback++;
            } else {
                entry = p;
                nentry++;
            }
        }
        if (nback != 1 || nentry != 1)
            continue;
        err = hoist_loop(&L, h, entry, latch);
        if (err > 0) {      /* a new block: the order and dominators again */
            L.n = od_hir_rpo(fn, L.order);
            od_hir_dominators(fn, L.order, L.n);
        }
    }
    free(L.order);
    free(headers);
    return err < 0 ? -1 : 0;
}
