/* runtime/nb_slots.c — the generic binary-number slots CPython gives classes of Python code.
 *
 * A class whose __add__ (or __radd__) is not a C slot wrapper gets typeobject.c's
 * slot_nb_add in tp_as_number->nb_add (likewise for __sub__, __mul__, __truediv__): a
 * static function that looks the dunder up in the type (_PyType_Lookup) and calls it
 * unbound with (self, other). Compiled code that sees that slot on an operand's type knows
 * what the number protocol would call, and can call it itself (tier2/rt/call.c
 * od_t2_binary_dunder). The addresses are read once from a probe class, with
 * od_rt_init's getitem probe: before the first compile, so no compiled code runs first. */
#include "helpers.h"

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
