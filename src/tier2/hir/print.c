/* tier2/hir/print.c — deterministic text of an HIR function.
 *
 *   bb1 @8 <- bb0 bb2
 *     v3:Long? = Phi v0 v7
 *     Snapshot [@8 n=v0 i=v3 |]
 *     v5:Object = BinaryOp + v3 v4 [@12 n=v0 i=v3 | v3 v4]
 *     CondBranch v6 -> bb2 bb3
 *
 * Blocks print in the function's order (reverse post-order after building), values are
 * numbered v0, v1, ... in print order, and nothing depends on addresses: constants print by
 * repr only for types whose repr is a pure function of the value. A frame state prints as
 * [@unit locals | stack], each local as name=value, an unbound one as name=-. */
#include "hir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} Out;

static void put(Out *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n + 64;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static int repr_is_stable(PyObject *obj)
{
    if (obj == Py_None || obj == Py_Ellipsis || PyBool_Check(obj) || PyLong_CheckExact(obj) ||
        PyFloat_CheckExact(obj) || PyUnicode_CheckExact(obj) || PyBytes_CheckExact(obj) ||
        PyComplex_CheckExact(obj))
        return 1;
    if (PyTuple_CheckExact(obj)) {
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(obj); k++)
            if (!repr_is_stable(PyTuple_GET_ITEM(obj, k)))
                return 0;
        return 1;
    }
    return 0;
}

static void put_obj(Out *o, PyObject *obj)
{
    if (!obj) {
        put(o, "NULL");
        return;
    }
    if (PyCode_Check(obj)) {
        put(o, "<code %s>", PyUnicode_AsUTF8(((PyCodeObject *)obj)->co_qualname));
        return;
    }
    if (PyExceptionClass_Check(obj) || PyType_Check(obj)) {
        put(o, "<class %s>", ((PyTypeObject *)obj)->tp_name);
        return;
    }
    if (!repr_is_stable(obj)) {
        put(o, "<%s>", Py_TYPE(obj)->tp_name);
        return;
    }
    PyObject *r = PyObject_Repr(obj);
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    if (!s) {
        PyErr_Clear();
        put(o, "<%s>", Py_TYPE(obj)->tp_name);
    } else if (strlen(s) > 60) {
        put(o, "%.57s...", s);
    } else {
        put(o, "%s", s);
    }
    Py_XDECREF(r);
}

static const char *local_name(OdHirFunc *fn, long long k)
{
    PyObject *names = fn->code->co_localsplusnames;
    if (k >= 0 && k < PyTuple_GET_SIZE(names)) {
        const char *s = PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, (Py_ssize_t)k));
        if (s)
            return s;
        PyErr_Clear();
    }
    return "?";
}

static void put_value(Out *o, const OdHirInstr *v)
{
    if (!v)
        put(o, "<null>");
    else if (!v->block)
        put(o, "<removed#%d>", v->id);
    else
        put(o, "v%d", v->mark);
}

static void put_fs(Out *o, OdHirFunc *fn, const OdFrameState *fs)
{
    put(o, " [@%d", fs->offset);
    for (int k = 0; k < fs->nlocals; k++) {
        const OdHirInstr *v = fs->slots[k];
        put(o, " %s=", local_name(fn, k));
        if (v && v->op == OD_HOP_Const && !v->obj && v->type.bits == OD_TB(Null))
            put(o, "-");
        else
            put_value(o, v);
    }
    put(o, " |");
    for (int k = 0; k < fs->depth; k++) {
        const OdHirInstr *v = fs->slots[fs->nlocals + k];
        put(o, " ");
        if (v && v->op == OD_HOP_Const && !v->obj && v->type.bits == OD_TB(Null))
            put(o, "NULL");
        else
            put_value(o, v);
    }
    put(o, "]");
}

static void put_str(Out *o, PyObject *s)
{
    const char *c = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
    if (!c)
        PyErr_Clear();
    put(o, "%s", c ? c : "?");
}

/* The op's immediate, as text (before the operands). */
static void put_imm(Out *o, OdHirFunc *fn, const OdHirInstr *i)
{
    char tbuf[128];
    switch (i->op) {
    case OD_HOP_Param: case OD_HOP_CheckBound:
        put(o, " %s", local_name(fn, i->imm));
        break;
    case OD_HOP_Const:
        if (i->type.bits == OD_TB(CInt64))
            put(o, " %lld", i->imm);
        else if (i->type.bits == OD_TB(CDouble))
            put(o, " %.17g", i->fimm);
        else if (i->type.bits == OD_TB(CBool))
            put(o, " %s", i->imm ? "true" : "false");
        else {
            put(o, " ");
            put_obj(o, i->obj);
        }
        break;
    case OD_HOP_GuardType:
        od_type_format(i->itype, tbuf, sizeof(tbuf));
        put(o, " %s", tbuf);
        break;
    case OD_HOP_GuardIs:
        put(o, " ");
        put_obj(o, i->obj);
        break;
    case OD_HOP_BinaryOp:
        put(o, " %s", od_hir_binop_name(i->imm));
        break;
    case OD_HOP_Compare: case OD_HOP_IntCompare: case OD_HOP_FloatCompare:
        put(o, " %s", od_hir_cmp_name(i->imm));
        break;
    case OD_HOP_ContainsOp:
        put(o, i->imm ? " not in" : " in");
        break;
    case OD_HOP_IsIdentical:
        put(o, i->imm ? " is not" : " is");
        break;
    case OD_HOP_UnaryOp:
        put(o, " %s", i->imm == UNARY_NEGATIVE ? "-" : i->imm == UNARY_INVERT ? "~" : "+");
        break;
    case OD_HOP_GlobalValue:
        put(o, " ");
        put_obj(o, i->obj);
        break;
    case OD_HOP_LoadAttr: case OD_HOP_StoreAttr: case OD_HOP_LoadMethod:
    case OD_HOP_LoadGlobal: case OD_HOP_StoreGlobal:
        put(o, " ");
        put_str(o, i->obj);
        break;
    case OD_HOP_Call: case OD_HOP_CallMethod:
        if (i->obj) {
            put(o, " kw=");
            put_obj(o, i->obj);
        }
        break;
    case OD_HOP_UnpackSequence: case OD_HOP_TupleGetItem:
        put(o, " %lld", i->imm);
        break;
    case OD_HOP_FormatValue: {
        static const char *const conv[] = {"", "!s", "!r", "!a"};
        if (i->imm & FVC_MASK)
            put(o, " %s", conv[i->imm & FVC_MASK]);
        break;
    }
    default:
        break;
    }
}

PyObject *od_hir_print(OdHirFunc *fn)
{
    Out o = {NULL, 0, 0, 0};
    if (!(o.buf = malloc(o.cap = 4096)))
        return PyErr_NoMemory();
    o.buf[0] = '\0';
    int nv = 0;
    for (int b = 0; b < fn->nblocks; b++) {
        fn->blocks[b]->mark = b;
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next)
            i->mark = od_hir_has_value(i) ? nv++ : -1;
    }
    for (int b = 0; b < fn->nblocks; b++) {
        OdHirBlock *blk = fn->blocks[b];
        put(&o, "bb%d", b);
        if (blk->bc_start >= 0)
            put(&o, " @%d", blk->bc_start);
        if (blk->npreds) {
            put(&o, " <-");
            for (int p = 0; p < blk->npreds; p++)
                put(&o, " bb%d", blk->preds[p].from->mark);
        }
        put(&o, "\n");
        for (OdHirInstr *i = blk->first; i; i = i->next) {
            char tbuf[128];
            put(&o, "  ");
            if (od_hir_has_value(i)) {
                od_type_format(i->type, tbuf, sizeof(tbuf));
                put(&o, "v%d:%s = ", i->mark, tbuf);
            }
            put(&o, "%s", od_hir_op_info[i->op].name);
            put_imm(&o, fn, i);
            for (int k = 0; k < i->nops; k++) {
                put(&o, " ");
                put_value(&o, i->ops[k]);
            }
            if (od_hir_is_term(i) && blk->nsuccs) {
                put(&o, " ->");
                for (int s = 0; s < blk->nsuccs; s++)
                    put(&o, " bb%d", blk->succs[s]->mark);
            }
            if (i->fs && i->op != OD_HOP_Return)   /* Return's only serves boxing */
                put_fs(&o, fn, i->fs);
            put(&o, "\n");
        }
    }
    PyObject *text = o.failed ? PyErr_NoMemory() : PyUnicode_FromStringAndSize(o.buf, (Py_ssize_t)o.len);
    free(o.buf);
    return text;
}
