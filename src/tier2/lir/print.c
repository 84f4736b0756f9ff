/* tier2/lir/print.c — LIR as text, with each vreg's location after allocation. */
#include "lir.h"
#include "../hir/text.h"

#include <stdio.h>
#include <string.h>

static const char *const gpr_names[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

static void put_vreg(OdText *o, const OdLir *L, int v)
{
    const OdLirVreg *r = &L->vregs[v];
    if (r->reg >= 0 && r->cls == OD_VR_XMM)
        od_text_put(o, "v%d(xmm%d)", v, r->reg);
    else if (r->reg >= 0)
        od_text_put(o, "v%d(%s)", v, gpr_names[r->reg]);
    else if (r->slot >= 0)
        od_text_put(o, "v%d([sp+%d])", v, od_lir_spill_off(L, r->slot));
    else
        od_text_put(o, "v%d", v);
}

PyObject *od_lir_print(const OdLir *L)
{
    OdText o = {0};
    od_text_put(&o, "frame %d bytes, %d spill slots, %d vregs, %d exits\n", L->frame_bytes, L->nslots,
        L->nvregs, L->nexits);
    for (int b = 0; b < L->nblocks; b++) {
        const OdLirBlock *B = &L->blocks[b];
        if (B->hir_block >= 0)
            od_text_put(&o, "L%d (bb%d):\n", b, B->hir_block);
        else
            od_text_put(&o, "L%d (edge):\n", b);
        for (int k = 0; k < B->n; k++) {
            const OdLirInstr *i = &B->ins[k];
            od_text_put(&o, "  ");
            if (i->dst >= 0) {
                put_vreg(&o, L, i->dst);
                if (i->dst2 >= 0) {
                    od_text_put(&o, ", ");
                    put_vreg(&o, L, i->dst2);
                }
                od_text_put(&o, " = ");
            }
            od_text_put(&o, "%s", od_lir_op_names[i->op]);
            for (int s = 0; s < i->nsrc; s++) {
                od_text_put(&o, s ? ", " : " ");
                put_vreg(&o, L, i->src[s]);
            }
            switch (i->op) {
            case OD_LOP_LoadLocal: case OD_LOP_SetPrev: case OD_LOP_LoadMem: case OD_LOP_StoreLocal:
            case OD_LOP_IntSar:
                od_text_put(&o, " %lld", i->imm);
                break;
            case OD_LOP_GuardVersion: case OD_LOP_GuardKeys:
                od_text_put(&o, " %lld", i->imm);
                break;
            case OD_LOP_LoadField: case OD_LOP_StoreField:
                od_text_put(&o, i->imm2 ? " values[%lld]" : " +%lld", i->imm);
                break;
            case OD_LOP_Imm:
                od_text_put(&o, " 0x%llx", i->imm);
                break;
            case OD_LOP_FImm: {
                double d;
                memcpy(&d, &i->imm, sizeof d);
                od_text_put(&o, " %.17g", d);
                break;
            }
            case OD_LOP_Sync:
                if (i->imm)
                    od_text_put(&o, " (frame object)");
                break;
            case OD_LOP_IncRef: case OD_LOP_DecRef:
                if (i->imm)
                    od_text_put(&o, " (nullable)");
                break;
            case OD_LOP_Truth:
                if (i->prev >= 0)
                    od_text_put(&o, " prev %lld", i->prev);
                break;
            case OD_LOP_IntCmp: case OD_LOP_FCmp:
                od_text_put(&o, " %s", od_hir_cmp_name(i->imm));
                break;
            case OD_LOP_CallH:
                if (i->obj && PyUnicode_Check(i->obj))
                    od_text_put(&o, " '%s'", PyUnicode_AsUTF8(i->obj));
                if (i->prev >= 0)
                    od_text_put(&o, " prev %lld", i->prev);
                for (int k = 0; k < i->nlend; k++) {
                    od_text_put(&o, k ? ", " : " lend ");
                    put_vreg(&o, L, i->lend[k]);
                }
                break;
            default:
                break;
            }
            if (i->target[0] >= 0)
                od_text_put(&o, " -> L%d", i->target[0]);
            if (i->target[1] >= 0)
                od_text_put(&o, ", L%d", i->target[1]);
            if (i->exit >= 0) {
                const OdLirExit *x = &L->exits[i->exit];
                od_text_put(&o, "  [exit %d: %s @%d", i->exit, od_t2_exit_names[x->kind == OD_XK_ERROR ? OD_T2X_ERROR : x->reason], x->resume);
                if (x->nsync) {
                    /* the locals written back (by name) */
                    od_text_put(&o, "; write back");
                    for (int k = 0; k < x->nsync; k++) {
                        PyObject *name = PyTuple_GET_ITEM(L->code->co_localsplusnames, x->sync[k]);
                        od_text_put(&o, " %s", PyUnicode_AsUTF8(name));
                    }
                }
                od_text_put(&o, "]");
            }
            od_text_put(&o, "\n");
        }
    }
    return od_text_finish(&o);
}
