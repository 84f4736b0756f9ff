/* runtime/ops_call.c — calls, function creation and the `with` protocol.
 * A Python function is called on a frame pushed here (runtime/frames.c: positional and
 * keyword arguments, defaults), entering its compiled code directly when it has some;
 * everything else goes through vectorcall, so a Python callee enters through the PEP 523
 * hook and runs its own compiled code. */
#include "helpers.h"

#include "ccall.h"
#include "frames.h"

#define TOP() (sp[-1])

OD_HELPER(od_rt_precall)
{
    (void)arg; (void)f;
    /* [NULL, callable, args...] with a bound method as callable becomes
     * [function, self, args...], the shape LOAD_METHOD produces. */
    if (sp[-oparg - 2] == NULL) {
        PyObject *callable = sp[-oparg - 1];
        if (Py_TYPE(callable) == &PyMethod_Type) {
            PyObject *fn = ((PyMethodObject *)callable)->im_func;
            PyObject *self = ((PyMethodObject *)callable)->im_self;
            Py_INCREF(fn);
            Py_INCREF(self);
            sp[-oparg - 1] = self;
            sp[-oparg - 2] = fn;
            Py_DECREF(callable);
        }
    }
    return OD_OK;
}

/* The builtin function or method descriptor `callable` called through od_call_c_direct (ccall.h):
 * 0 with *res set, or -1 if it is neither. `len`, `isinstance` and `list.append` are the
 * specialized interpreter's inline forms (no call, not counted) once the calling code
 * is quickened. */
static inline __attribute__((always_inline)) int call_builtin_direct(PyThreadState *ts, PyObject *callable, PyObject **args,
                                      int total, PyObject *kwnames, int quickened,
                                      PyObject **res)
{
    if (Py_IS_TYPE(callable, &PyCFunction_Type)) {
        if (quickened && !kwnames) {
            if (callable == ts->interp->callable_cache.len && total == 1) {
                Py_ssize_t n = PyObject_Length(args[0]);
                *res = n < 0 ? NULL : PyLong_FromSsize_t(n);
                return 0;
            }
            if (callable == ts->interp->callable_cache.isinstance && total == 2) {
                /* PRECALL_NO_KW_ISINSTANCE: no argument parsing, not counted */
                int r = PyObject_IsInstance(args[0], args[1]);
                *res = r < 0 ? NULL : PyBool_FromLong(r);
                return 0;
            }
        }
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        return od_call_c_direct(ts, callable, PyCFunction_GET_FUNCTION(callable),
                             PyCFunction_GET_FLAGS(callable), PyCFunction_GET_SELF(callable),
                             args, total - (int)nkw, kwnames, quickened, res);
    }
    if (Py_IS_TYPE(callable, &PyMethodDescr_Type) && total >= 1 && !kwnames) {
        PyMethodDescrObject *descr = (PyMethodDescrObject *)callable;
        PyObject *self = args[0];
        if (!Py_IS_TYPE(self, descr->d_common.d_type))
            return -1;
        if (quickened && callable == ts->interp->callable_cache.list_append && total == 2) {
            *res = PyList_Append(self, args[1]) < 0 ? NULL : Py_NewRef(Py_None);
            return 0;
        }
        return od_call_c_direct(ts, callable, descr->d_method->ml_meth, descr->d_method->ml_flags,
                             self, args + 1, total - 1, NULL, quickened, res);
    }
    return -1;
}

int od_rt_call_builtin(PyThreadState *ts, PyObject *callable, PyObject **args, int total,
                       PyObject *kwnames, int quickened, PyObject **res)
{
    return call_builtin_direct(ts, callable, args, total, kwnames, quickened, res);
}

/* `callable` called with args[0..total) (the last len(kwnames) by keyword) through its C
 * pointer when it is a builtin or method descriptor, else through vectorcall; on success
 * the inputs are released and the result stored at `out` (the call's lowest slot). */
static inline __attribute__((always_inline)) int call_c_or_vectorcall(
    _PyInterpreterFrame *f, PyThreadState *ts, PyObject *callable, PyObject **args, int total,
    PyObject *kwnames, PyObject **out)
{
    PyObject *res;
    if (call_builtin_direct(ts, callable, args, total, kwnames, f->f_code->co_warmup == 0,
                            &res) < 0) {
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        res = PyObject_Vectorcall(callable, args,
                                  (size_t)(total - nkw) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                  kwnames);
    }
    if (!res)
        return OD_ERROR; /* inputs stay on the stack; the unwinder releases them */
    for (int i = 0; i < total; i++)
        Py_DECREF(args[i]);
    Py_DECREF(callable);
    *out = res;
    return OD_OK;
}

/* Every other call: a bound method in a plain call's callable slot, Python functions
 * (on a frame pushed here), types and anything else through vectorcall. */
static __attribute__((noinline)) int call_other(_PyInterpreterFrame *f, PyObject **sp,
                                                 int oparg, OdCallSite *site)
{
    /* PRECALL's work (compiled code leaves it to CALL): a bound method in a plain call's
     * callable slot becomes [function, self, args...]. */
    if (sp[-oparg - 2] == NULL && Py_IS_TYPE(sp[-oparg - 1], &PyMethod_Type))
        od_rt_precall(f, sp, oparg, NULL);
    int is_meth = sp[-oparg - 2] != NULL;
    int total = oparg + is_meth;
    PyObject *callable = sp[-total - 1];
    PyObject **args = sp - total;
    Py_ssize_t nkw = site->kwnames ? PyTuple_GET_SIZE(site->kwnames) : 0;
    site->feedback.callee_type = (PyObject *)Py_TYPE(callable);
    PyThreadState *ts = _PyThreadState_GET();
    if (Py_IS_TYPE(callable, &PyFunction_Type)) {
        site->feedback.py_calls++;
        int done;
        PyObject *res = od_rt_call_python(ts, callable, args, total,
                                          nkw ? site->kwnames : NULL, &done);
        if (done) {
            /* callable and arguments were moved into the callee's frame */
            od_rt_clear_slots(args - 1, total + 1);
            sp[-oparg - 2] = res;
            return res ? OD_OK : OD_ERROR;
        }
    }
    return call_c_or_vectorcall(f, ts, callable, args, total, site->kwnames, sp - oparg - 2);
}

/* The generic road: the C road first ([NULL, builtin, args...] or [descriptor, self,
 * args...]), everything else in call_other. */
static inline __attribute__((always_inline)) int call_generic(_PyInterpreterFrame *f,
                                                               PyObject **sp, int oparg,
                                                               OdCallSite *site)
{
    site->feedback.calls++;
    PyObject **base = sp - oparg - 2;
    int is_meth = base[0] != NULL;
    PyObject *callable = base[1 - is_meth];
    PyTypeObject *tp = Py_TYPE(callable);
    if (tp != &PyCFunction_Type && tp != &PyMethodDescr_Type)
        return call_other(f, sp, oparg, site);
    site->feedback.callee_type = (PyObject *)tp;
    int total = oparg + is_meth;
    return call_c_or_vectorcall(f, _PyThreadState_GET(), callable, sp - total, total,
                                site->kwnames, base);
}

/* A site's first call (its fn is still this helper; callers that name od_rt_call
 * directly, the compact units', find it changed afterwards): pick the site's form. */
OD_HELPER(od_rt_call)
{
    OdCallSite *site = arg;
    if (site->fn == od_rt_call)
        od_rt_call_adapt(sp, oparg, site);
    return call_generic(f, sp, oparg, site);
}

OD_HELPER(od_rt_call_generic)
{
    return call_generic(f, sp, oparg, arg);
}

OD_HELPER(od_rt_call_function_ex)
{
    (void)arg; (void)f;
    int has_kw = oparg & 1;
    PyObject *kwargs = has_kw ? sp[-1] : NULL;
    PyObject **argslot = &sp[-1 - has_kw];
    PyObject *callargs = *argslot;
    PyObject *func = sp[-2 - has_kw];
    /* Non-dict **kwargs, non-iterable *args and their messages: the interpreter's (it
     * converts **kwargs first, so nothing may run before these checks). */
    if (kwargs && !PyDict_CheckExact(kwargs))
        return OD_DEOPT;
    if (!PyTuple_CheckExact(callargs)) {
        if (Py_TYPE(callargs)->tp_iter == NULL && !PySequence_Check(callargs))
            return OD_DEOPT;
        /* Any iterable, as the interpreter's PySequence_Tuple: a list, a generator, a
         * map... Its errors (raised while iterating) are the iterable's own. */
        PyObject *t = PySequence_Tuple(callargs);
        if (!t)
            return OD_ERROR;
        Py_SETREF(*argslot, t);
        callargs = t;
    }
    PyObject *res = PyObject_Call(func, callargs, kwargs);
    if (!res)
        return OD_ERROR;
    Py_XDECREF(kwargs);
    Py_DECREF(callargs);
    Py_DECREF(func);
    sp[-3 - has_kw] = res; /* the NULL below the callable */
    return OD_OK;
}

OD_HELPER(od_rt_make_function)
{
    (void)arg;
    PyObject *codeobj = TOP();
    PyFunctionObject *fn = (PyFunctionObject *)PyFunction_New(codeobj, f->f_globals);
    if (!fn)
        return OD_ERROR;
    Py_DECREF(codeobj);
    PyObject **p = sp - 1;
    if (oparg & 0x08)
        fn->func_closure = *--p;
    if (oparg & 0x04)
        fn->func_annotations = *--p;
    if (oparg & 0x02)
        fn->func_kwdefaults = *--p;
    if (oparg & 0x01)
        fn->func_defaults = *--p;
    *p = (PyObject *)fn;
    return OD_OK;
}

/* BEFORE_WITH and BEFORE_ASYNC_WITH: [mgr] -> [exit, enter()], with the interpreter's
 * messages for a manager that lacks the methods (`kind` is "" or "asynchronous "). On an
 * error after the lookups, the exit method stays on the stack, as in the interpreter. */
static int before_with(PyObject **sp, PyObject *enter_name, PyObject *exit_name,
                       const char *kind)
{
    PyObject *mgr = TOP();
    PyObject *enter = _PyObject_LookupSpecial(mgr, enter_name);
    if (!enter) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError,
                         "'%.200s' object does not support the %scontext manager protocol",
                         Py_TYPE(mgr)->tp_name, kind);
        return OD_ERROR;
    }
    PyObject *exit = _PyObject_LookupSpecial(mgr, exit_name);
    if (!exit) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError,
                         "'%.200s' object does not support the %scontext manager protocol "
                         "(missed %U method)",
                         Py_TYPE(mgr)->tp_name, kind, exit_name);
        Py_DECREF(enter);
        return OD_ERROR;
    }
    sp[-1] = exit;
    Py_DECREF(mgr);
    PyObject *res = PyObject_CallNoArgs(enter);
    Py_DECREF(enter);
    if (!res)
        return OD_ERROR;
    sp[0] = res;
    return OD_OK;
}

OD_HELPER(od_rt_before_with)
{
    (void)oparg; (void)arg; (void)f;
    return before_with(sp, &_Py_ID(__enter__), &_Py_ID(__exit__), "");
}

OD_HELPER(od_rt_before_async_with)
{
    (void)oparg; (void)arg; (void)f;
    return before_with(sp, &_Py_ID(__aenter__), &_Py_ID(__aexit__), "asynchronous ");
}

OD_HELPER(od_rt_with_except_start)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *val = TOP();
    PyObject *exit_func = sp[-4];
    PyObject *tb = PyException_GetTraceback(val);
    Py_XDECREF(tb); /* borrowed use below, like the interpreter */
    PyObject *stack[4] = {NULL, (PyObject *)Py_TYPE(val), val, tb ? tb : Py_None};
    PyObject *res = PyObject_Vectorcall(exit_func, stack + 1,
                                        3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (!res)
        return OD_ERROR;
    sp[0] = res;
    return OD_OK;
}
