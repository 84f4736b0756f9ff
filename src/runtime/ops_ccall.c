/* runtime/ops_ccall.c — the specialized forms of CALL of C callables (see ccall.h): which
 * form a site takes (od_rt_call_adapt), and one helper per form, each the guards of the
 * interpreter's PRECALL form and the call, with no dispatch on the callable's kind. */
#include "ccall.h"

#include "frames.h"

uint64_t od_rt_calls_c_specialized;

/* The __init__ (borrowed) a call of the class `callable` runs through the PY_INIT form:
 * the metaclass is exactly type, the class has no vectorcall, its tp_new is object's
 * (it allocates the instance and sets up its inline values or dict), and the
 * __init__ its MRO finds is a Python function (then tp_init is slot_tp_init, which calls
 * it and checks that it returned None). NULL otherwise. */
static PyObject *python_init_of(PyObject *callable)
{
    if (!Py_IS_TYPE(callable, &PyType_Type))
        return NULL;
    PyTypeObject *tp = (PyTypeObject *)callable;
    if (tp->tp_vectorcall || tp->tp_new != PyBaseObject_Type.tp_new)
        return NULL;
    PyObject *init = _PyType_Lookup(tp, &_Py_ID(__init__));
    return init && Py_IS_TYPE(init, &PyFunction_Type) ? init : NULL;
}

/* object.__new__(tp) and __init__(self, args...) (below). */
static PyObject *init_instance(PyThreadState *ts, PyTypeObject *tp, PyObject *init,
                               PyObject **args, int total, PyObject *kwnames, PyObject *no_args)
{
    PyObject *self = tp->tp_new(tp, no_args, NULL);
    if (!self)
        return NULL;
    PyObject *argv[1 + total];
    argv[0] = Py_NewRef(self);
    for (int i = 0; i < total; i++)
        argv[1 + i] = Py_NewRef(args[i]);
    int done;
    PyObject *r = od_rt_call_python(ts, Py_NewRef(init), argv, 1 + total, kwnames, &done);
    if (!done) {    /* a call shape od_rt_call_python leaves to vectorcall */
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        r = PyObject_Vectorcall(init, argv, (size_t)(1 + total - nkw), kwnames);
        Py_DECREF(init);
        for (int i = 0; i <= total; i++)
            Py_DECREF(argv[i]);
    }
    if (r != Py_None) {
        if (r) {
            PyErr_Format(PyExc_TypeError, "__init__() should return None, not '%.200s'",
                         Py_TYPE(r)->tp_name);
            Py_DECREF(r);
        }
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(r);
    return self;
}

/* The PY_INIT form's call: `self` from object.__new__ (given no arguments, which it
 * ignores anyway when __init__ is overridden: it refuses an abstract class, allocates and
 * sets up the instance's inline values or dict), then __init__(self, args...) with kwnames
 * on a frame of its own (od_rt_call_python: compiled code entered directly), its result
 * checked to be None, as slot_tp_init does. Counted as one C call in the recursion depth,
 * as _PyObject_MakeTpCall counts type_call: a class whose __init__ makes instances of it
 * meets RecursionError at the interpreter's depth. The class, __init__ and the arguments
 * stay the caller's (borrowed; the callee's frame gets references of its own). */
static PyObject *call_python_init(PyThreadState *ts, PyObject *callable, PyObject *init,
                                  PyObject **args, int total, PyObject *kwnames)
{
    static PyObject *no_args;
    if (!no_args && !(no_args = PyTuple_New(0)))
        return NULL;
    if (_Py_EnterRecursiveCallTstate(ts, " while calling a Python object"))
        return NULL;
    PyObject *self = init_instance(ts, (PyTypeObject *)callable, init, args, total, kwnames,
                                   no_args);
    _Py_LeaveRecursiveCallTstate(ts);
    return self;
}

PyObject *od_rt_python_init_of(PyObject *callable)
{
    return python_init_of(callable);
}

PyObject *od_rt_call_python_init(PyThreadState *ts, PyObject *callable, PyObject *init,
                                 PyObject **args, int total, PyObject *kwnames)
{
    return call_python_init(ts, callable, init, args, total, kwnames);
}

/* The form of the call below sp, or OD_CF_NONE. */
static OdCallForm form_of(PyObject **sp, int oparg, const OdCallSite *site)
{
    PyObject **base = sp - oparg - 2;
    int is_meth = base[0] != NULL;
    int total = oparg + is_meth;
    PyObject *callable = base[1 - is_meth];
    PyObject **args = sp - total;
    int kw = site->kwnames != NULL;
    PyInterpreterState *interp = _PyInterpreterState_GET();
    if (Py_IS_TYPE(callable, &PyCFunction_Type)) {
        if (!kw && callable == interp->callable_cache.len && total == 1)
            return OD_CF_LEN;
        if (!kw && callable == interp->callable_cache.isinstance && total == 2)
            return OD_CF_ISINSTANCE;
        switch (PyCFunction_GET_FLAGS(callable)) {
        case METH_O:
            return !kw && total == 1 ? OD_CF_BUILTIN_O : OD_CF_NONE;
        case METH_FASTCALL:
            return !kw ? OD_CF_BUILTIN_FAST : OD_CF_NONE;
        case METH_FASTCALL | METH_KEYWORDS:
            return OD_CF_BUILTIN_FAST_KW;
        default:
            return OD_CF_NONE;
        }
    }
    if (Py_IS_TYPE(callable, &PyMethodDescr_Type)) {
        PyMethodDescrObject *descr = (PyMethodDescrObject *)callable;
        if (kw || total < 1 || !Py_IS_TYPE(args[0], descr->d_common.d_type))
            return OD_CF_NONE;
        if (callable == interp->callable_cache.list_append && total == 2)
            return OD_CF_LIST_APPEND;
        switch (descr->d_method->ml_flags) {
        case METH_O:
            return total == 2 ? OD_CF_DESCR_O : OD_CF_NONE;
        case METH_NOARGS:
            return total == 1 ? OD_CF_DESCR_NOARGS : OD_CF_NONE;
        case METH_FASTCALL:
            return OD_CF_DESCR_FAST;
        case METH_FASTCALL | METH_KEYWORDS:
            return OD_CF_DESCR_FAST_KW;
        default:
            return OD_CF_NONE;
        }
    }
    if (PyType_Check(callable)) {
        if (!kw && total == 1) {
            if (callable == (PyObject *)&PyType_Type)
                return OD_CF_TYPE_1;
            if (callable == (PyObject *)&PyUnicode_Type)
                return OD_CF_STR_1;
            if (callable == (PyObject *)&PyTuple_Type)
                return OD_CF_TUPLE_1;
        }
        /* A class whose metaclass is type: its call is tp_vectorcall, or type_call
         * without one (as PyObject_Vectorcall finds it). */
        if (Py_IS_TYPE(callable, &PyType_Type) && ((PyTypeObject *)callable)->tp_vectorcall)
            return OD_CF_CLASS;
        if (python_init_of(callable))
            return OD_CF_PY_INIT;
    }
    return OD_CF_NONE;
}

static OdCallHelper const form_helper[OD_CF_COUNT] = {
    [OD_CF_NONE] = od_rt_call_generic,
#define OD_CF_ENTRY(N, n) [OD_CF_##N] = od_rt_call_##n,
    OD_CALL_FORMS(OD_CF_ENTRY)
#undef OD_CF_ENTRY
};

static const char *const form_name[OD_CF_COUNT] = {
    [OD_CF_NONE] = "generic",
#define OD_CF_NAME(N, n) [OD_CF_##N] = #n,
    OD_CALL_FORMS(OD_CF_NAME)
#undef OD_CF_NAME
};

void od_rt_call_adapt(PyObject **sp, int oparg, OdCallSite *site)
{
    site->fn = form_helper[form_of(sp, oparg, site)];
}

const char *od_rt_call_form_name(const OdCallSite *site)
{
    for (int i = 0; i < OD_CF_COUNT; i++)
        if (site->fn == form_helper[i])
            return form_name[i];
    return NULL;
}

/* A guard failed: the generic road for good. */
static __attribute__((noinline)) int miss(_PyInterpreterFrame *f, PyObject **sp, int oparg,
                                          OdCallSite *site)
{
    site->fn = od_rt_call_generic;
    return od_rt_call_generic(f, sp, oparg, site);
}

/* The form's call (constant `form`: each helper below is this with one case left). The
 * guards are the interpreter's PRECALL form's DEOPT_IFs; what the site's constants fix
 * (keywords) od_rt_call_adapt checked once. */
static inline __attribute__((always_inline)) int call_form(_PyInterpreterFrame *f,
                                                            PyObject **sp, int oparg,
                                                            OdCallSite *site, OdCallForm form)
{
    PyObject **base = sp - oparg - 2;
    int is_meth = base[0] != NULL;
    int total = oparg + is_meth;
    PyObject *callable = base[1 - is_meth];
    PyObject **args = sp - total;
    PyObject *kwnames = site->kwnames;
    PyThreadState *ts = _PyThreadState_GET();
    PyObject *res = NULL;
    int quickened = f->f_code->co_warmup == 0;
    switch (form) {
    case OD_CF_LEN:
        if (callable != ts->interp->callable_cache.len || total != 1)
            goto missed;
        if (quickened) {    /* PRECALL_NO_KW_LEN: no call, not counted */
            Py_ssize_t n = PyObject_Length(args[0]);
            res = n < 0 ? NULL : PyLong_FromSsize_t(n);
        } else {
            od_call_c_direct(ts, callable, PyCFunction_GET_FUNCTION(callable), METH_O,
                             PyCFunction_GET_SELF(callable), args, 1, NULL, 0, &res);
        }
        break;
    case OD_CF_ISINSTANCE:
        if (callable != ts->interp->callable_cache.isinstance || total != 2)
            goto missed;
        if (quickened) {    /* PRECALL_NO_KW_ISINSTANCE: no argument parsing, not counted */
            int r = PyObject_IsInstance(args[0], args[1]);
            res = r < 0 ? NULL : PyBool_FromLong(r);
        } else {
            od_call_c_direct(ts, callable, PyCFunction_GET_FUNCTION(callable), METH_FASTCALL,
                             PyCFunction_GET_SELF(callable), args, 2, NULL, 0, &res);
        }
        break;
    case OD_CF_LIST_APPEND: {
        if (callable != ts->interp->callable_cache.list_append || total != 2
            || !PyList_CheckExact(args[0]))
            goto missed;
        PyListObject *list = (PyListObject *)args[0];
        if (!quickened) {
            PyMethodDescrObject *descr = (PyMethodDescrObject *)callable;
            od_call_c_direct(ts, callable, descr->d_method->ml_meth, METH_O, args[0],
                             args + 1, 1, NULL, 0, &res);
            break;
        }
        /* PRECALL_NO_KW_LIST_APPEND: the argument's reference moves into the list when
         * there is room (_PyList_AppendTakeRef); else PyList_Append. */
        od_rt_calls_c_specialized++;
        site->feedback.calls++;
        Py_ssize_t n = Py_SIZE(list);
        if (__builtin_expect(list->allocated > n, 1)) {
            list->ob_item[n] = args[1];
            Py_SET_SIZE(list, n + 1);
        } else {
            if (PyList_Append(args[0], args[1]) < 0)
                return OD_ERROR;
            Py_DECREF(args[1]);
        }
        Py_DECREF(list);
        Py_DECREF(callable);
        base[0] = Py_NewRef(Py_None);
        return OD_OK;
    }
    case OD_CF_DESCR_O: case OD_CF_DESCR_NOARGS: case OD_CF_DESCR_FAST:
    case OD_CF_DESCR_FAST_KW: {
        int flags = form == OD_CF_DESCR_O        ? METH_O
                    : form == OD_CF_DESCR_NOARGS ? METH_NOARGS
                    : form == OD_CF_DESCR_FAST   ? METH_FASTCALL
                                                 : METH_FASTCALL | METH_KEYWORDS;
        int want = form == OD_CF_DESCR_O ? 2 : form == OD_CF_DESCR_NOARGS ? 1 : 0;
        if (!Py_IS_TYPE(callable, &PyMethodDescr_Type))
            goto missed;
        PyMethodDescrObject *descr = (PyMethodDescrObject *)callable;
        if (descr->d_method->ml_flags != flags || (want ? total != want : total < 1)
            || !Py_IS_TYPE(args[0], descr->d_common.d_type))
            goto missed;
        od_call_c_direct(ts, callable, descr->d_method->ml_meth, flags, args[0], args + 1,
                         want ? want - 1 : total - 1, NULL, quickened, &res);
        break;
    }
    case OD_CF_BUILTIN_O: case OD_CF_BUILTIN_FAST: case OD_CF_BUILTIN_FAST_KW: {
        int flags = form == OD_CF_BUILTIN_O      ? METH_O
                    : form == OD_CF_BUILTIN_FAST ? METH_FASTCALL
                                                 : METH_FASTCALL | METH_KEYWORDS;
        if (!Py_IS_TYPE(callable, &PyCFunction_Type)
            || PyCFunction_GET_FLAGS(callable) != flags
            || (form == OD_CF_BUILTIN_O && total != 1))
            goto missed;
        int nargs = total;
        if (form == OD_CF_BUILTIN_FAST_KW && kwnames)
            nargs -= (int)PyTuple_GET_SIZE(kwnames);
        od_call_c_direct(ts, callable, PyCFunction_GET_FUNCTION(callable), flags,
                         PyCFunction_GET_SELF(callable), args, nargs,
                         form == OD_CF_BUILTIN_FAST_KW ? kwnames : NULL, quickened, &res);
        break;
    }
    case OD_CF_TYPE_1:
        if (callable != (PyObject *)&PyType_Type || total != 1)
            goto missed;
        res = Py_NewRef((PyObject *)Py_TYPE(args[0]));
        break;
    case OD_CF_STR_1:
        if (callable != (PyObject *)&PyUnicode_Type || total != 1)
            goto missed;
        res = PyObject_Str(args[0]);
        break;
    case OD_CF_TUPLE_1:
        if (callable != (PyObject *)&PyTuple_Type || total != 1)
            goto missed;
        res = PySequence_Tuple(args[0]);
        break;
    case OD_CF_CLASS: {
        if (!Py_IS_TYPE(callable, &PyType_Type))
            goto missed;
        vectorcallfunc vc = ((PyTypeObject *)callable)->tp_vectorcall;
        if (!vc)
            goto missed;
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        res = vc(callable, args, (size_t)(total - nkw) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                 kwnames);
        /* As vectorcall does (PyObject_Vectorcall, the generic road) */
        if (__builtin_expect((res == NULL) == (ts->curexc_type == NULL), 0))
            res = _Py_CheckFunctionResult(ts, callable, res, NULL);
        break;
    }
    case OD_CF_PY_INIT: {
        PyObject *init = python_init_of(callable);
        if (!init)
            goto missed;
        res = call_python_init(ts, callable, init, args, total, kwnames);
        break;
    }
    default:
        goto missed;
    }
    od_rt_calls_c_specialized++;
    site->feedback.calls++;
    if (!res)
        return OD_ERROR;    /* inputs stay on the stack; the unwinder releases them */
    for (int i = 0; i < total; i++)
        Py_DECREF(args[i]);
    Py_DECREF(callable);
    base[0] = res;
    return OD_OK;
missed:
    return miss(f, sp, oparg, site);
}

#define OD_CF_DEFINE(N, n)                            \
    OD_HELPER(od_rt_call_##n)                         \
    {                                                 \
        return call_form(f, sp, oparg, arg, OD_CF_##N); \
    }
OD_CALL_FORMS(OD_CF_DEFINE)
#undef OD_CF_DEFINE
