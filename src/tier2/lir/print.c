/* tier2/lir/print.c — LIR as text, with each vreg's location after allocation. */
#include "lir.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} Out;

static void put(Out *o, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || o->failed)
        return;
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    if (o->len + (size_t)n + 1 > o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 4096;
        while (cap < o->len + (size_t)n + 1)
            cap *= 2;
        char *p = PyMem_Realloc(o->buf, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, tmp, (size_t)n);
    o->len += (size_t)n;
}

static const char *const gpr_names[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

static void put_vreg(Out *o, const OdLir *L, int v)
{
    const OdLirVreg *r = &L->vregs[v];
    if (r->reg >= 0 && r->cls == OD_VR_XMM)
        put(o, "v%d(xmm%d)", v, r->reg);
    else if (r->reg >= 0)
        put(o, "v%d(%s)", v, gpr_names[r->reg]);
    else if (r->slot >= 0)
        put(o, "v%d([sp+%d])", v, od_lir_spill_off(L, r->slot));
    else
        put(o, "v%d", v);
}

PyObject *od_lir_print(const OdLir *L)
{
    Out o = {0};
    put(&o, "frame %d bytes, %d spill slots, %d vregs, %d exits\n", L->frame_bytes, L->nslots,
        L->nvregs, L->nexits);
    for (int b = 0; b < L->nblocks; b++) {
        const OdLirBlock *B = &L->blocks[b];
        if (B->hir_block >= 0)
            put(&o, "L%d (bb%d):\n", b, B->hir_block);
        else
            put(&o, "L%d (edge):\n", b);
        for (int k = 0; k < B->n; k++) {
            const OdLirInstr *i = &B->ins[k];
            put(&o, "  ");
            if (i->dst >= 0) {
                put_vreg(&o, L, i->dst);
                if (i->dst2 >= 0) {
                    put(&o, ", ");
                    put_vreg(&o, L, i->dst2);
                }
                put(&o, " = ");
            }
            put(&o, "%s", od_lir_op_names[i->op]);
            for (int s = 0; s < i->nsrc; s++) {
                put(&o, s ? ", " : " ");
                put_vreg(&o, L, i->src[s]);
            }
            switch (i->op) {
            case OD_LOP_LoadLocal: case OD_LOP_SetPrev: case OD_LOP_LoadMem:
                put(&o, " %lld", i->imm);
                break;
            case OD_LOP_Imm:
                put(&o, " 0x%llx", i->imm);
                break;
            case OD_LOP_FImm: {
                double d;
                memcpy(&d, &i->imm, sizeof d);
                put(&o, " %.17g", d);
                break;
            }
            case OD_LOP_IncRef: case OD_LOP_DecRef:
                if (i->imm)
                    put(&o, " (nullable)");
                break;
            case OD_LOP_IntCmp: case OD_LOP_FCmp:
                put(&o, " %s", od_hir_cmp_name(i->imm));
                break;
            case OD_LOP_CallH:
                if (i->obj && PyUnicode_Check(i->obj))
                    put(&o, " '%s'", PyUnicode_AsUTF8(i->obj));
                break;
            default:
                break;
            }
            if (i->target[0] >= 0)
                put(&o, " -> L%d", i->target[0]);
            if (i->target[1] >= 0)
                put(&o, ", L%d", i->target[1]);
            if (i->exit >= 0) {
                const OdLirExit *x = &L->exits[i->exit];
                put(&o, "  [exit %d: %s @%d]", i->exit, od_t2_exit_names[x->kind == OD_XK_ERROR ? OD_T2X_ERROR : x->reason], x->resume);
            }
            put(&o, "\n");
        }
    }
    if (o.failed) {
        PyMem_Free(o.buf);
        return PyErr_NoMemory();
    }
    PyObject *s = PyUnicode_FromStringAndSize(o.buf ? o.buf : "", (Py_ssize_t)o.len);
    PyMem_Free(o.buf);
    return s;
}
