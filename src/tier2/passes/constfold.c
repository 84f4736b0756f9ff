/* tier2/passes/constfold.c — constant folding.
 *
 * Folds, until nothing changes: BinaryOp/Compare/UnaryOp/Not on constant exact ints and
 * floats (and str concatenation and comparison), when CPython computes them without
 * raising and an int result fits 64 bits (so folding never builds a huge constant);
 * IsTrue of a constant whose truth needs no Python code; IsIdentical of two constants;
 * BoxBool of a constant condition and IsTrue(BoxBool c) -> c. A CondBranch on a constant
 * becomes a Branch: the edge not taken goes (with its phi operands), blocks no longer
 * reachable go, and phis left with one distinct operand are replaced by it. Folded
 * results are Python objects the function owns (od_hir_own). */
#include "passes.h"

static int boxed_const(const OdHirInstr *i) { return i->op == OD_HOP_Const && i->obj; }

static int numeric(PyObject *o) { return PyLong_CheckExact(o) || PyFloat_CheckExact(o); }

/* Objects whose truth value CPython computes without running Python code. */
static int plain(PyObject *o)
{
    return numeric(o) || PyBool_Check(o) || o == Py_None || PyUnicode_CheckExact(o) ||
           PyBytes_CheckExact(o) || PyTuple_CheckExact(o);
}

/* A new reference, or NULL (no exception) when it is not folded. */
static PyObject *fold_binop(long long nb, PyObject *a, PyObject *b)
{
    PyObject *r = NULL;
    if (nb >= NB_INPLACE_ADD)
        nb -= NB_INPLACE_ADD;   /* ints, floats and strs have no in-place variants */
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b)) {
        if (nb == NB_ADD && PyUnicode_GET_LENGTH(a) + PyUnicode_GET_LENGTH(b) <= 256)
            r = PyNumber_Add(a, b);
        if (!r)
            PyErr_Clear();
        return r;
    }
    if (!numeric(a) || !numeric(b))
        return NULL;
    switch (nb) {
    case NB_ADD: r = PyNumber_Add(a, b); break;
    case NB_SUBTRACT: r = PyNumber_Subtract(a, b); break;
    case NB_MULTIPLY: r = PyNumber_Multiply(a, b); break;
    case NB_TRUE_DIVIDE: r = PyNumber_TrueDivide(a, b); break;
    case NB_FLOOR_DIVIDE: r = PyNumber_FloorDivide(a, b); break;
    case NB_REMAINDER: r = PyNumber_Remainder(a, b); break;
    case NB_AND: r = PyNumber_And(a, b); break;
    case NB_OR: r = PyNumber_Or(a, b); break;
    case NB_XOR: r = PyNumber_Xor(a, b); break;
    case NB_RSHIFT: r = PyNumber_Rshift(a, b); break;
    case NB_LSHIFT:
        if (PyLong_CheckExact(b) && PyLong_AsLong(b) >= 0 && PyLong_AsLong(b) < 64)
            r = PyNumber_Lshift(a, b);
        break;
    default:
        return NULL;    /* **, @: results may be huge, or not numbers */
    }
    if (!r) {
        PyErr_Clear();  /* 1/0 and the like raise at run time, as they should */
        return NULL;
    }
    if (PyLong_CheckExact(r)) {
        int overflow = 0;
        (void)PyLong_AsLongLongAndOverflow(r, &overflow);
        if (overflow)
            Py_CLEAR(r);
    }
    return r;
}

/* Replaces `i` by a Const of `obj` (a new reference, consumed). */
static int to_const(OdHirFunc *fn, OdHirInstr *i, PyObject *obj)
{
    PyObject *owned = od_hir_own(fn, obj);
    Py_DECREF(obj);
    if (!owned || od_hir_replace_by_const(fn, i, obj) < 0)
        return -1;
    return 1;
}

static int to_cbool(OdHirFunc *fn, OdHirInstr *i, int value)
{
    OdHirInstr *c = od_hir_new_instr(fn, OD_HOP_Const, 0);
    if (!c)
        return -1;
    c->type = od_type_named(OD_TN_CBool);
    c->imm = value != 0;
    c->bc_offset = i->bc_offset;
    od_hir_insert_before(i, c);
    if (od_hir_replace_all_uses(fn, i, c) < 0)
        return -1;
    od_hir_remove(i);
    return 1;
}

/* 1 if folded, 0 if not, -1 with an exception. */
static int fold(OdHirFunc *fn, OdHirInstr *i)
{
    OdHirInstr *a = i->nops > 0 ? i->ops[0] : NULL, *b = i->nops > 1 ? i->ops[1] : NULL;
    PyObject *r;
    switch (i->op) {
    case OD_HOP_BinaryOp:
        if (!boxed_const(a) || !boxed_const(b) || !(r = fold_binop(i->imm, a->obj, b->obj)))
            return 0;
        return to_const(fn, i, r);
    case OD_HOP_Compare:
        if (!boxed_const(a) || !boxed_const(b))
            return 0;
        if (!(numeric(a->obj) && numeric(b->obj)) &&
            !(PyUnicode_CheckExact(a->obj) && PyUnicode_CheckExact(b->obj)))
            return 0;
        if (!(r = PyObject_RichCompare(a->obj, b->obj, (int)i->imm))) {
            PyErr_Clear();
            return 0;
        }
        return to_const(fn, i, r);
    case OD_HOP_UnaryOp:
        if (!boxed_const(a) || !numeric(a->obj))
            return 0;
        if (i->imm == UNARY_NEGATIVE)
            r = PyNumber_Negative(a->obj);
        else if (i->imm == UNARY_POSITIVE)
            r = PyNumber_Positive(a->obj);
        else if (PyLong_CheckExact(a->obj))
            r = PyNumber_Invert(a->obj);
        else
            return 0;
        if (!r) {
            PyErr_Clear();
            return 0;
        }
        return to_const(fn, i, r);
    case OD_HOP_Not:
        if (!boxed_const(a) || !plain(a->obj))
            return 0;
        return to_const(fn, i, Py_NewRef(PyObject_IsTrue(a->obj) ? Py_False : Py_True));
    case OD_HOP_IsTrue:
        if (a->op == OD_HOP_BoxBool) {
            if (od_hir_replace_all_uses(fn, i, a->ops[0]) < 0)
                return -1;
            od_hir_remove(i);
            return 1;
        }
        if (!boxed_const(a) || !plain(a->obj))
            return 0;
        return to_cbool(fn, i, PyObject_IsTrue(a->obj));
    case OD_HOP_IsIdentical:
        if (!boxed_const(a) || !boxed_const(b))
            return 0;
        return to_cbool(fn, i, (a->obj == b->obj) != (i->imm != 0));
    case OD_HOP_BoxBool:
        if (a->op != OD_HOP_Const)
            return 0;
        return to_const(fn, i, Py_NewRef(a->imm ? Py_True : Py_False));
    case OD_HOP_CondBranch: {
        if (a->op != OD_HOP_Const || a->obj)
            return 0;
        OdHirBlock *blk = i->block;
        int keep = a->imm ? 0 : 1;
        if (od_hir_remove_succ(fn, blk, 1 - keep) < 0)
            return -1;
        OdHirInstr *br = od_hir_new_instr(fn, OD_HOP_Branch, 0);
        if (!br)
            return -1;
        br->bc_offset = i->bc_offset;
        od_hir_insert_before(i, br);
        od_hir_remove(i);
        return 1;
    }
    default:
        return 0;
    }
}

int od_hir_pass_constfold(OdHirFunc *fn)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int b = 0; b < fn->nblocks; b++) {
            OdHirInstr *i = fn->blocks[b]->first, *next;
            for (; i; i = next) {
                next = i->next;
                int r = fold(fn, i);
                if (r < 0)
                    return -1;
                changed |= r;
            }
        }
        if (changed) {
            if (od_hir_remove_unreachable(fn) < 0 || od_hir_remove_trivial_phis(fn) < 0)
                return -1;
        }
    }
    return 0;
}
