/* tier2/passes/dce.c — dead-code elimination.
 *
 * Blocks unreachable from the entry go first (with their edges' phi operands), then phis
 * with one distinct operand. Then liveness by marking: every instruction with an effect
 * (a terminator, anything that may raise, deoptimize, write, or carries a frame state) is
 * live, and so is every value a live instruction uses, as an operand or in its frame state;
 * the rest (pure instructions nothing live needs, cycles of dead phis included) goes. */
#include "passes.h"

#include <stdlib.h>

int od_hir_pass_dce(OdHirFunc *fn)
{
    if (od_hir_remove_unreachable(fn) < 0 || od_hir_remove_trivial_phis(fn) < 0)
        return -1;
    int total = 0;
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next) {
            i->mark = 0;
            total++;
        }
    OdHirInstr **work = malloc(sizeof(OdHirInstr *) * (size_t)(total + 1));
    if (!work) {
        PyErr_NoMemory();
        return -1;
    }
    int n = 0;
    for (int b = 0; b < fn->nblocks; b++)
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next)
            if (od_hir_op_info[i->op].effects) {
                i->mark = 1;
                work[n++] = i;
            }
    while (n > 0) {
        OdHirInstr *i = work[--n];
        for (int k = 0; k < i->nops; k++)
            if (i->ops[k] && !i->ops[k]->mark) {
                i->ops[k]->mark = 1;
                work[n++] = i->ops[k];
            }
        if (i->fs)
            for (int s = 0; s < i->fs->nlocals + i->fs->depth; s++) {
                OdHirInstr *v = i->fs->slots[s];
                if (v && !v->mark) {
                    v->mark = 1;
                    work[n++] = v;
                }
            }
    }
    free(work);
    for (int b = 0; b < fn->nblocks; b++) {
        OdHirInstr *i = fn->blocks[b]->first, *next;
        for (; i; i = next) {
            next = i->next;
            if (!i->mark)
                od_hir_remove(i);
        }
    }
    return 0;
}
