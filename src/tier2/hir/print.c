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
#include "text.h"
#include "feedback.h"

#include <stdio.h>
#include <string.h>

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

static void put_obj(OdText *o, PyObject *obj)
{
    if (!obj) {
        od_text_put(o, "NULL");
        return;
    }
    if (PyCode_Check(obj)) {
        od_text_put(o, "<code %s>", PyUnicode_AsUTF8(((PyCodeObject *)obj)->co_qualname));
        return;
    }
    if (PyExceptionClass_Check(obj) || PyType_Check(obj)) {
        od_text_put(o, "<class %s>", ((PyTypeObject *)obj)->tp_name);
        return;
    }
    if (!repr_is_stable(obj)) {
        od_text_put(o, "<%s>", Py_TYPE(obj)->tp_name);
        return;
    }
    PyObject *r = PyObject_Repr(obj);
    const char *s = r ? PyUnicode_AsUTF8(r) : NULL;
    if (!s) {
        PyErr_Clear();
        od_text_put(o, "<%s>", Py_TYPE(obj)->tp_name);
    } else if (strlen(s) > 60) {
        od_text_put(o, "%.57s...", s);
    } else {
        od_text_put(o, "%s", s);
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

static void put_value(OdText *o, const OdHirInstr *v)
{
    if (!v)
        od_text_put(o, "<null>");
    else if (!v->block)
        od_text_put(o, "<removed#%d>", v->id);
    else
        od_text_put(o, "v%d", v->mark);
}

static void put_fs(OdText *o, OdHirFunc *fn, const OdFrameState *fs)
{
    od_text_put(o, " [@%d", fs->offset);
    for (int k = 0; k < fs->nlocals; k++) {
        const OdHirInstr *v = fs->slots[k];
        od_text_put(o, " %s=", local_name(fn, k));
        if (v && v->op == OD_HOP_Const && !v->obj && v->type.bits == OD_TB(Null))
            od_text_put(o, "-");
        else
            put_value(o, v);
    }
    od_text_put(o, " |");
    for (int k = 0; k < fs->depth; k++) {
        const OdHirInstr *v = fs->slots[fs->nlocals + k];
        od_text_put(o, " ");
        if (v && v->op == OD_HOP_Const && !v->obj && v->type.bits == OD_TB(Null))
            od_text_put(o, "NULL");
        else
            put_value(o, v);
    }
    od_text_put(o, "]");
}

static void put_str(OdText *o, PyObject *s)
{
    const char *c = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
    if (!c)
        PyErr_Clear();
    od_text_put(o, "%s", c ? c : "?");
}

/* The op's immediate, as text (before the operands). */
static void put_imm(OdText *o, OdHirFunc *fn, const OdHirInstr *i)
{
    char tbuf[128];
    switch (i->op) {
    case OD_HOP_Param: case OD_HOP_CheckBound:
        od_text_put(o, " %s", local_name(fn, i->imm));
        break;
    case OD_HOP_OsrStack:
        od_text_put(o, " stack[%lld]", i->imm);
        break;
    case OD_HOP_LoadListItem: case OD_HOP_StoreListItem:
        od_text_put(o, " [%lld]", i->imm);
        break;
    case OD_HOP_Const:
        if (i->type.bits == OD_TB(CInt64))
            od_text_put(o, " %lld", i->imm);
        else if (i->type.bits == OD_TB(CDouble))
            od_text_put(o, " %.17g", i->fimm);
        else if (i->type.bits == OD_TB(CBool))
            od_text_put(o, " %s", i->imm ? "true" : "false");
        else {
            od_text_put(o, " ");
            put_obj(o, i->obj);
        }
        break;
    case OD_HOP_GuardType:
        od_type_format(i->itype, tbuf, sizeof(tbuf));
        od_text_put(o, " %s", tbuf);
        break;
    case OD_HOP_FloatMath:
        od_text_put(o, " %s", i->imm >= 0 && i->imm < OD_MATH__COUNT ? od_hir_math_names[i->imm] : "?");
        break;
    case OD_HOP_GuardIs:
        od_text_put(o, " ");
        put_obj(o, i->obj);
        break;
    case OD_HOP_GuardTypeVersion:    /* tags depend on the process's history: tests mask them */
        od_text_put(o, " version=%lld", i->imm);
        break;
    case OD_HOP_GuardSharedKeys:
        od_text_put(o, i->imm2 ? " keys_version=%lld" : " entries=%lld", i->imm);
        break;
    case OD_HOP_LoadInstanceValue: case OD_HOP_StoreInstanceValue:
        od_text_put(o, " ");
        put_str(o, i->obj);
        od_text_put(o, " values[%lld]", i->imm);
        break;
    case OD_HOP_LoadDictHint: case OD_HOP_StoreDictHint:
        od_text_put(o, " ");
        put_str(o, i->obj);
        od_text_put(o, " dict[%lld]", i->imm);
        if (i->imm2)
            od_text_put(o, " at +%lld", i->imm2);
        break;
    case OD_HOP_LoadSlot: case OD_HOP_StoreSlot:
        od_text_put(o, " ");
        put_str(o, i->obj);
        od_text_put(o, " +%lld", i->imm);
        break;
    case OD_HOP_LoadTypeMethod:     /* the name, not the object: printing reads nothing of it */
        od_text_put(o, " ");
        put_str(o, i->obj);
        break;
    case OD_HOP_BinaryOp:
        od_text_put(o, " %s", od_hir_binop_name(i->imm));
        break;
    case OD_HOP_Compare: case OD_HOP_IntCompare: case OD_HOP_FloatCompare:
        od_text_put(o, " %s", od_hir_cmp_name(i->imm));
        break;
    case OD_HOP_ContainsOp:
        od_text_put(o, i->imm ? " not in" : " in");
        break;
    case OD_HOP_IsIdentical:
        od_text_put(o, i->imm ? " is not" : " is");
        break;
    case OD_HOP_UnaryOp:
        od_text_put(o, " %s", i->imm == UNARY_NEGATIVE ? "-" : i->imm == UNARY_INVERT ? "~" : "+");
        break;
    case OD_HOP_GlobalValue:
        od_text_put(o, " ");
        put_obj(o, i->obj);
        break;
    case OD_HOP_LoadAttr: case OD_HOP_StoreAttr: case OD_HOP_LoadMethod:
        od_text_put(o, " ");
        put_str(o, i->obj);
        /* why `attrs` left it generic (0, no_feedback, also before the pass: not shown) */
        if (i->imm > 0 && i->imm < OD_ATTR_WHY__COUNT)
            od_text_put(o, " why=%s", od_attr_why_names[i->imm]);
        break;
    case OD_HOP_LoadGlobal: case OD_HOP_StoreGlobal:
        od_text_put(o, " ");
        put_str(o, i->obj);
        break;
    case OD_HOP_Call: case OD_HOP_CallMethod:
        if (i->obj) {
            od_text_put(o, " kw=");
            put_obj(o, i->obj);
        }
        break;
    case OD_HOP_UnpackSequence: case OD_HOP_TupleGetItem: case OD_HOP_CopyFreeVars:
        od_text_put(o, " %lld", i->imm);
        break;
    case OD_HOP_MakeCell: case OD_HOP_LoadDeref: case OD_HOP_StoreDeref: case OD_HOP_DeleteDeref:
        od_text_put(o, " %s", local_name(fn, i->imm));
        break;
    case OD_HOP_MakeFunction:
        od_text_put(o, " flags=%lld", i->imm);
        break;
    case OD_HOP_FormatValue: {
        static const char *const conv[] = {"", "!s", "!r", "!a"};
        if (i->imm & FVC_MASK)
            od_text_put(o, " %s", conv[i->imm & FVC_MASK]);
        break;
    }
    default:
        break;
    }
}

PyObject *od_hir_print(OdHirFunc *fn)
{
    OdText o = {0};
    int nv = 0;
    for (int b = 0; b < fn->nblocks; b++) {
        fn->blocks[b]->mark = b;
        for (OdHirInstr *i = fn->blocks[b]->first; i; i = i->next)
            i->mark = od_hir_has_value(i) ? nv++ : -1;
    }
    for (int b = 0; b < fn->nblocks; b++) {
        OdHirBlock *blk = fn->blocks[b];
        od_text_put(&o, "bb%d", b);
        if (blk->bc_start >= 0)
            od_text_put(&o, " @%d", blk->bc_start);
        if (blk->npreds) {
            od_text_put(&o, " <-");
            for (int p = 0; p < blk->npreds; p++)
                od_text_put(&o, " bb%d", blk->preds[p].from->mark);
        }
        od_text_put(&o, "\n");
        for (OdHirInstr *i = blk->first; i; i = i->next) {
            char tbuf[128];
            od_text_put(&o, "  ");
            if (od_hir_has_value(i)) {
                od_type_format(i->type, tbuf, sizeof(tbuf));
                od_text_put(&o, "v%d:%s = ", i->mark, tbuf);
            }
            od_text_put(&o, "%s", od_hir_op_info[i->op].name);
            put_imm(&o, fn, i);
            for (int k = 0; k < i->nops; k++) {
                od_text_put(&o, " ");
                put_value(&o, i->ops[k]);
            }
            if (od_hir_is_term(i) && blk->nsuccs) {
                od_text_put(&o, " ->");
                for (int s = 0; s < blk->nsuccs; s++)
                    od_text_put(&o, " bb%d", blk->succs[s]->mark);
            }
            if (i->fs && i->op != OD_HOP_Return)   /* Return's only serves boxing */
                put_fs(&o, fn, i->fs);
            od_text_put(&o, "\n");
        }
    }
    return od_text_finish(&o);
}
