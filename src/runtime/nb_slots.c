/* runtime/nb_slots.c — binary operators whose dunder is Python code, called directly.
 *
 * A class whose __add__ (or __radd__) is not a C slot wrapper gets typeobject.c's
 * slot_nb_add in tp_as_number->nb_add (likewise for __sub__, __mul__, __truediv__): a
 * static function that looks the dunder up in the type (_PyType_Lookup) and calls it
 * unbound with (self, other). Compiled code that sees that slot on an operand's type knows
 * what the number protocol would call, and calls it itself (od_rt_binary_dunder): on a
 * frame pushed by od_rt_call_python, as a CALL of it, not through PyNumber_*, the slot,
 * vectorcall, _PyEval_Vector and the eval-frame hook. The slot addresses are read once
 * from a probe class, with od_rt_init's getitem probe: before the first compile, so no
 * compiled code runs first. */
#include "helpers.h"

#include "frames.h"

uint64_t od_rt_calls_dunder;

static binaryfunc generic_add, generic_sub, generic_mul, generic_truediv;

static PyObject *probe_binary(PyObject *self, PyObject *args)
{
    (void)self; (void)args;
    Py_RETURN_NONE;
}

static PyMethodDef probe_binary_def = {"probe", probe_binary, METH_VARARGS, NULL};

int od_rt_nb_slots_init(void)
{
    if (generic_add)
        return 0;
    PyObject *fn = PyCFunction_New(&probe_binary_def, NULL);
    PyObject *ns = fn ? Py_BuildValue("{sOsOsOsO}", "__add__", fn, "__sub__", fn, "__mul__", fn,
                                      "__truediv__", fn)
                      : NULL;
    PyObject *cls = ns ? PyObject_CallFunction((PyObject *)&PyType_Type, "s(O)O",
                                               "_overdrive_number_probe",
                                               (PyObject *)&PyBaseObject_Type, ns)
                       : NULL;
    if (cls && ((PyTypeObject *)cls)->tp_as_number) {
        PyNumberMethods *nb = ((PyTypeObject *)cls)->tp_as_number;
        generic_sub = nb->nb_subtract;
        generic_mul = nb->nb_multiply;
        generic_truediv = nb->nb_true_divide;
        generic_add = nb->nb_add;
    }
    Py_XDECREF(cls); /* a class is a cycle (its __mro__ holds it): the next collection frees it */
    Py_XDECREF(ns);
    Py_XDECREF(fn);
    return generic_add ? 0 : -1;
}

binaryfunc od_rt_nb_slot(PyTypeObject *tp, int op)
{
    PyNumberMethods *nb = tp->tp_as_number;
    if (!nb)
        return NULL;
    switch (op) {
    case NB_ADD: return nb->nb_add;
    case NB_SUBTRACT: return nb->nb_subtract;
    case NB_MULTIPLY: return nb->nb_multiply;
    case NB_TRUE_DIVIDE: return nb->nb_true_divide;
    default: return NULL;
    }
}

binaryfunc od_rt_generic_nb_slot(int op)
{
    switch (op) {
    case NB_ADD: return generic_add;
    case NB_SUBTRACT: return generic_sub;
    case NB_MULTIPLY: return generic_mul;
    case NB_TRUE_DIVIDE: return generic_truediv;
    default: return NULL;
    }
}

/* Whether a call of `co` from compiled code skips nothing the hook would do about tiers
 * (as tier2/rt/call.c's rule, without the code state's tier2_off, which this layer does
 * not see: a tier-1 dunder is called here only while tier 2 is off). Code not compiled yet
 * is fine: od_rt_call_python runs its frame through the hook. */
static int tiering_allows(PyCodeObject *co)
{
    void *state = od_code_extra_slot(co, od_rt_direct_entry.extra_index);
    OdUnit *u = state ? *(OdUnit **)state : NULL;
    if (!u)
        return 1;
    if (!od_rt_direct_entry.tier2_threshold)
        return 0;
    int tier2_on = *od_rt_direct_entry.tier2_threshold >= 0;
    return u->tier == 2 ? tier2_on : !tier2_on;
}

/* The text binop_type_error gives op (abstract.c). */
static const char *binary_op_name(int op)
{
    switch (op) {
    case NB_ADD: return "+";
    case NB_SUBTRACT: return "-";
    case NB_MULTIPLY: return "*";
    default: return "/";
    }
}

PyObject *od_rt_binary_dunder(PyThreadState *ts, int op, PyObject *a, PyObject *b,
                              int (*allows)(PyCodeObject *), int *done)
{
    *done = 0;
    PyTypeObject *ta = Py_TYPE(a), *tb = Py_TYPE(b);
    binaryfunc generic = od_rt_generic_nb_slot(op);
    if (!generic || od_rt_nb_slot(ta, op) != generic)
        return NULL;
    /* The right operand: of the same class (its slot is not tried), or an exact int or
     * float, whose slot the number protocol tries only after the dunder's NotImplemented
     * (the class is not a subclass of it, so binary_op1 calls the left slot first, and
     * the left slot, seeing the right's C slot, no reflected dunder). */
    if (tb != ta && ((tb != &PyLong_Type && tb != &PyFloat_Type) || PyType_IsSubtype(ta, tb)))
        return NULL;
    /* After NotImplemented, PyNumber_Add and PyNumber_Multiply try the sequence slots:
     * not done here. */
    PySequenceMethods *sq = ta->tp_as_sequence;
    if (sq && ((op == NB_ADD && sq->sq_concat) || (op == NB_MULTIPLY && sq->sq_repeat)))
        return NULL;
    PyObject *name = op == NB_ADD ? &_Py_ID(__add__) : op == NB_SUBTRACT ? &_Py_ID(__sub__)
                   : op == NB_MULTIPLY ? &_Py_ID(__mul__) : &_Py_ID(__truediv__);
    PyObject *fn = _PyType_Lookup(ta, name);     /* borrowed */
    if (!fn || !Py_IS_TYPE(fn, &PyFunction_Type)
        || !(allows ? allows : tiering_allows)((PyCodeObject *)((PyFunctionObject *)fn)->func_code))
        return NULL;
    /* fn(a, b), as the slot calls it (lookup_maybe_method: a function is called unbound);
     * od_rt_call_python takes the references the frame owns. */
    PyObject *args[2] = {a, b};
    Py_INCREF(fn);
    Py_INCREF(a);
    Py_INCREF(b);
    int made;
    PyObject *r = od_rt_call_python(ts, fn, args, 2, NULL, &made);
    if (!made) {
        Py_DECREF(b);
        Py_DECREF(a);
        Py_DECREF(fn);
        return NULL;
    }
    *done = 1;
    od_rt_calls_dunder++;
    if (r != Py_NotImplemented)
        return r;
    /* What binary_op1 does next: the right operand's slot (int's or float's, which
     * returns NotImplemented for an operand that is not a number of theirs), then the
     * TypeError of binop_type_error. */
    Py_DECREF(r);
    if (tb != ta) {
        r = od_rt_nb_slot(tb, op)(a, b);
        if (r != Py_NotImplemented)
            return r;
        Py_DECREF(r);
    }
    PyErr_Format(PyExc_TypeError, "unsupported operand type(s) for %.100s: '%.100s' and '%.100s'",
                 binary_op_name(op), ta->tp_name, tb->tp_name);
    return NULL;
}
