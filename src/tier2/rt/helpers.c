/* tier2/rt/helpers.c — the generic operations of tier-2 code (helpers.h). */
#include "helpers.h"
#include "../lir/lir.h"
#include "../../runtime/gen_resume.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const OdT2HelperInfo infos[OD_HOP__COUNT] = {
#define OD_T2_INFO(op, fn, check, kind, reason) [OD_HOP_##op] = {fn, check, kind, reason},
    OD_T2_HELPER_OPS(OD_T2_INFO)
#undef OD_T2_INFO
};

const OdT2HelperInfo *od_t2_helper_for(OdHirOp op)
{
    return (unsigned)op < OD_HOP__COUNT && infos[op].fn ? &infos[op] : NULL;
}

#define R(x) ((intptr_t)(x))

OD_T2_HELPER(od_t2_binary_op)
{
    (void)f, (void)obj;
    PyObject *a = args[0], *b = args[1];
    switch (imm) {
    case NB_ADD: return R(PyNumber_Add(a, b));
    case NB_AND: return R(PyNumber_And(a, b));
    case NB_FLOOR_DIVIDE: return R(PyNumber_FloorDivide(a, b));
    case NB_LSHIFT: return R(PyNumber_Lshift(a, b));
    case NB_MATRIX_MULTIPLY: return R(PyNumber_MatrixMultiply(a, b));
    case NB_MULTIPLY: return R(PyNumber_Multiply(a, b));
    case NB_REMAINDER: return R(PyNumber_Remainder(a, b));
    case NB_OR: return R(PyNumber_Or(a, b));
    case NB_POWER: return R(PyNumber_Power(a, b, Py_None));
    case NB_RSHIFT: return R(PyNumber_Rshift(a, b));
    case NB_SUBTRACT: return R(PyNumber_Subtract(a, b));
    case NB_TRUE_DIVIDE: return R(PyNumber_TrueDivide(a, b));
    case NB_XOR: return R(PyNumber_Xor(a, b));
    case NB_INPLACE_ADD: return R(PyNumber_InPlaceAdd(a, b));
    case NB_INPLACE_AND: return R(PyNumber_InPlaceAnd(a, b));
    case NB_INPLACE_FLOOR_DIVIDE: return R(PyNumber_InPlaceFloorDivide(a, b));
    case NB_INPLACE_LSHIFT: return R(PyNumber_InPlaceLshift(a, b));
    case NB_INPLACE_MATRIX_MULTIPLY: return R(PyNumber_InPlaceMatrixMultiply(a, b));
    case NB_INPLACE_MULTIPLY: return R(PyNumber_InPlaceMultiply(a, b));
    case NB_INPLACE_REMAINDER: return R(PyNumber_InPlaceRemainder(a, b));
    case NB_INPLACE_OR: return R(PyNumber_InPlaceOr(a, b));
    case NB_INPLACE_POWER: return R(PyNumber_InPlacePower(a, b, Py_None));
    case NB_INPLACE_RSHIFT: return R(PyNumber_InPlaceRshift(a, b));
    case NB_INPLACE_SUBTRACT: return R(PyNumber_InPlaceSubtract(a, b));
    case NB_INPLACE_TRUE_DIVIDE: return R(PyNumber_InPlaceTrueDivide(a, b));
    case NB_INPLACE_XOR: return R(PyNumber_InPlaceXor(a, b));
    }
    PyErr_SetString(PyExc_SystemError, "overdrive tier 2: unknown binary operator");
    return 0;
}

OD_T2_HELPER(od_t2_compare)
{
    (void)f, (void)obj;
    return R(PyObject_RichCompare(args[0], args[1], (int)imm));
}

OD_T2_HELPER(od_t2_contains)
{
    (void)f, (void)obj;
    int r = PySequence_Contains(args[1], args[0]);
    if (r < 0)
        return 0;
    return R(Py_NewRef((r ^ (int)imm) ? Py_True : Py_False));
}

OD_T2_HELPER(od_t2_unary)
{
    (void)f, (void)obj;
    switch (imm) {
    case UNARY_NEGATIVE: return R(PyNumber_Negative(args[0]));
    case UNARY_INVERT: return R(PyNumber_Invert(args[0]));
    default: return R(PyNumber_Positive(args[0]));
    }
}

OD_T2_HELPER(od_t2_not)
{
    (void)f, (void)imm, (void)obj;
    int r = PyObject_IsTrue(args[0]);
    if (r < 0)
        return 0;
    return R(Py_NewRef(r ? Py_False : Py_True));
}

/* Truth of these runs no Python code. */
static int plain_truth(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    return t == &PyLong_Type || t == &PyFloat_Type || t == &PyUnicode_Type || t == &PyList_Type
           || t == &PyTuple_Type || t == &PyDict_Type || o == Py_None || t == &PySet_Type
           || t == &PyFrozenSet_Type || t == &PyBytes_Type || t == &PyBool_Type;
}

OD_T2_HELPER(od_t2_truth)
{
    (void)f, (void)obj;
    if (imm && !plain_truth(args[0]))
        return OD_T2_SYNC;
    return PyObject_IsTrue(args[0]);
}

OD_T2_HELPER(od_t2_load_attr)
{
    (void)f, (void)imm;
    return R(PyObject_GetAttr(args[0], obj));
}

OD_T2_HELPER(od_t2_store_attr)
{
    (void)f, (void)imm;
    return PyObject_SetAttr(args[0], obj, args[1]);
}

OD_T2_HELPER(od_t2_load_method)
{
    (void)f, (void)imm;
    PyObject *self = args[0], *meth = NULL;
    int unbound = _PyObject_GetMethod(self, obj, &meth);
    if (!meth)
        return -1;
    if (unbound) {
        args[0] = meth;
        args[1] = Py_NewRef(self);
    } else {
        args[0] = NULL;
        args[1] = meth;
    }
    return 0;
}

/* LOAD_GLOBAL: NULL without an exception when the name is unbound (the interpreter raises
 * the NameError) or a dict is not exactly a dict (the interpreter's general path). */
OD_T2_HELPER(od_t2_load_global)
{
    (void)args, (void)imm;
    if (!PyDict_CheckExact(f->f_globals) || !PyDict_CheckExact(f->f_builtins))
        return 0;
    PyObject *v = PyDict_GetItemWithError(f->f_globals, obj);
    if (!v && !PyErr_Occurred())
        v = PyDict_GetItemWithError(f->f_builtins, obj);
    return R(Py_XNewRef(v));
}

OD_T2_HELPER(od_t2_store_global)
{
    (void)imm;
    return PyDict_SetItem(f->f_globals, obj, args[0]);
}

OD_T2_HELPER(od_t2_get_iter)
{
    (void)f, (void)imm, (void)obj;
    return R(PyObject_GetIter(args[0]));
}

OD_T2_HELPER(od_t2_build_tuple)
{
    (void)f, (void)obj;
    PyObject *t = PyTuple_New((Py_ssize_t)imm);
    for (long long k = 0; t && k < imm; k++)
        PyTuple_SET_ITEM(t, k, Py_NewRef(args[k]));
    return R(t);
}

OD_T2_HELPER(od_t2_build_list)
{
    (void)f, (void)obj;
    PyObject *l = PyList_New((Py_ssize_t)imm);
    for (long long k = 0; l && k < imm; k++)
        PyList_SET_ITEM(l, k, Py_NewRef(args[k]));
    return R(l);
}

OD_T2_HELPER(od_t2_build_slice)
{
    (void)f, (void)obj;
    return R(PySlice_New(args[0], args[1], imm == 3 ? args[2] : NULL));
}

OD_T2_HELPER(od_t2_list_append)
{
    (void)f, (void)imm, (void)obj;
    return PyList_Append(args[0], args[1]);
}

OD_T2_HELPER(od_t2_list_to_tuple)
{
    (void)f, (void)imm, (void)obj;
    return R(PyList_AsTuple(args[0]));
}

OD_T2_HELPER(od_t2_subscr)
{
    (void)f, (void)imm, (void)obj;
    return R(PyObject_GetItem(args[0], args[1]));
}

OD_T2_HELPER(od_t2_store_subscr)
{
    (void)f, (void)imm, (void)obj;
    return PyObject_SetItem(args[0], args[1], args[2]);
}

OD_T2_HELPER(od_t2_delete_subscr)
{
    (void)f, (void)imm, (void)obj;
    return PyObject_DelItem(args[0], args[1]);
}

/* float ** float (args: double bits) for a positive finite base and a finite exponent: what
 * float_pow computes there (libm's pow, 1.0 for a zero exponent or a base of 1, the same
 * range check), as double bits; anything else OD_T2_POW_FAIL (nothing done: the interpreter
 * computes it, or raises). */
OD_T2_HELPER(od_t2_float_pow)
{
    (void)f, (void)imm, (void)obj;
    double v, w, x;
    memcpy(&v, &args[0], sizeof v);
    memcpy(&w, &args[1], sizeof w);
    if (!(v > 0.0) || !isfinite(v) || !isfinite(w))
        return OD_T2_POW_FAIL;
    if (w == 0.0 || v == 1.0) {
        x = 1.0;
    } else {
        errno = 0;
        x = pow(v, w);
        /* _Py_ADJUST_ERANGE1: an infinity is an overflow, an underflow to 0 is fine */
        if (errno == 0 ? isinf(x) : !(errno == ERANGE && x == 0.0))
            return OD_T2_POW_FAIL;
    }
    intptr_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* UNPACK_SEQUENCE of an exact tuple or list of the right length, as a tuple; anything else
 * (NULL, no exception) is left to the interpreter before anything was consumed. */
OD_T2_HELPER(od_t2_unpack)
{
    (void)f, (void)obj;
    PyObject *s = args[0];
    if (PyTuple_CheckExact(s) && PyTuple_GET_SIZE(s) == imm)
        return R(Py_NewRef(s));
    if (PyList_CheckExact(s) && PyList_GET_SIZE(s) == imm)
        return R(PyList_AsTuple(s));
    return 0;
}

OD_T2_HELPER(od_t2_box_int)
{
    (void)f, (void)imm, (void)obj;
    long long v;
    memcpy(&v, &args[0], sizeof v);
    return R(PyLong_FromLongLong(v));
}

OD_T2_HELPER(od_t2_box_float)
{
    (void)f, (void)imm, (void)obj;
    double d;
    memcpy(&d, &args[0], sizeof d);
    return R(PyFloat_FromDouble(d));
}

/* Iterators whose next item runs no Python code (out of line: the range test stays short). */
static __attribute__((noinline)) int plain_iter(PyTypeObject *t)
{
    return t == &PyListIter_Type || t == &PyTupleIter_Type || t == &PyLongRangeIter_Type
           || t == &PyUnicodeIter_Type || t == &PyDictIterKey_Type || t == &PyDictIterValue_Type
           || t == &PyDictIterItem_Type || t == &PySetIter_Type || t == &PyBytesIter_Type
           || t == &PyByteArrayIter_Type;
}

/* rangeobject.c's 3.11 layout of a range iterator (private there), checked against the
 * type's tp_basicsize before tier 2 compiles anything (od_t2_helpers_usable). */
typedef struct {
    PyObject_HEAD
    long index, start, step, len;
} RangeIter;

int od_t2_helpers_usable(void)
{
    return PyRangeIter_Type.tp_basicsize == (Py_ssize_t)sizeof(RangeIter);
}

static inline intptr_t next_item(PyObject *it)
{
    if (Py_TYPE(it) == &PyRangeIter_Type) {
        /* what rangeiter_next does, without the indirect call */
        RangeIter *r = (RangeIter *)it;
        if (r->index < r->len)
            return R(PyLong_FromLong((long)(r->start + (unsigned long)(r->index++) * r->step)));
        return OD_T2_DONE;
    }
    if (Py_IS_TYPE(it, &PyGen_Type)) {
        /* a compiled generator: resumed in its native code (runtime/gen_resume.h); its
         * return value ends the loop */
        PyObject *r;
        int status = od_rt_gen_resume(_PyThreadState_GET(), (PyGenObject *)it, NULL, &r);
        if (status == PYGEN_NEXT)
            return R(r);
        if (status == PYGEN_ERROR)
            return 0;
        if (status == PYGEN_RETURN) {
            Py_DECREF(r);
            return OD_T2_DONE;
        }
    }
    PyObject *next = (*Py_TYPE(it)->tp_iternext)(it);
    if (next)
        return R(next);
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_StopIteration))
            return 0;
        PyErr_Clear();
    }
    return OD_T2_DONE;
}

OD_T2_HELPER(od_t2_for_iter_sync)
{
    (void)f, (void)imm, (void)obj;
    PyTypeObject *t = Py_TYPE(args[0]);
    if (__builtin_expect(t == &PyRangeIter_Type, 1) || plain_iter(t))
        return next_item(args[0]);
    return OD_T2_SYNC;
}

OD_T2_HELPER(od_t2_for_iter)
{
    (void)f, (void)imm, (void)obj;
    return next_item(args[0]);
}

void od_t2_values_insert(PyDictValues *values, Py_ssize_t index)
{
    _PyDictValues_AddToInsertionOrder(values, index);
}
