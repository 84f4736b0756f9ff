/* tier2/rt/call.c — Call and CallMethod of tier-2 code.
 *
 * A call of a Python function pushes the callee's frame and enters its compiled code
 * directly through the shared runtime entry (runtime/frames.h od_rt_call_python: the one
 * tier 1's helper uses, with its checks of tracing, recursion limit, C stack, data-stack
 * room and a unit due for recompilation, and its refusals of shapes it does not build),
 * instead of PyObject_Vectorcall -> _PyFunction_Vectorcall -> _PyEval_Vector -> the
 * eval-frame hook. A builtin function or method descriptor is called through its C pointer
 * (runtime/frames.h od_rt_call_builtin, tier 1's road: `isinstance` with no argument
 * parsing, the C recursion counted as the interpreter's specialized forms count it).
 * A class of Python code whose instances come from object.__new__ is instantiated as tier
 * 1's PY_INIT form does (runtime/frames.h od_rt_call_python_init). Everything else, and
 * every call these refuse, goes through PyObject_Vectorcall.
 *
 * The tiering stays what the hook decides: a callee whose next entry the hook would use to
 * change tiers (a tier-1 function that tier 2 may still compile: the hook counts its
 * entries and promotes it; a tier-2 function while tier 2 is switched off: the hook demotes
 * it) is called through vectorcall, so that the hook sees the entry. A tier-1 callee the
 * hook counts towards promotion takes at most tier2_threshold + 1 such calls. */
#include "helpers.h"
#include "exit.h"
#include "../../hook/hook.h"
#include "../../runtime/frames.h"
#include "../../runtime/helpers.h"

#define R(x) ((intptr_t)(x))

/* Whether an entry of `co` through the direct path skips nothing the hook would do about
 * tiers. A code object not compiled yet is fine too: od_rt_call_python then runs the
 * frame through the hook. */
static inline int tiering_allows(PyCodeObject *co)
{
    OdCodeState *st = od_code_extra_slot(co, od_code_extra_index_value);
    if (!st || !st->unit)
        return 1;
    if (st->unit->tier == 2)
        return od_config.tier2_threshold >= 0;
    return od_config.tier2_threshold < 0 || st->tier2_off;
}

/* The Python function `fn` called with n arguments args[0..n) (the last len(kw) by
 * keyword; all borrowed) on a frame pushed here. Returns 1 with *res set (NULL: an
 * exception) when it made the call, 0 having done nothing otherwise. */
static inline int call_function(PyObject *fn, PyObject **args, Py_ssize_t n, PyObject *kw,
                                PyObject **res)
{
    if (!tiering_allows((PyCodeObject *)((PyFunctionObject *)fn)->func_code))
        return 0;
    /* od_rt_call_python takes the references the frame will own. */
    Py_INCREF(fn);
    for (Py_ssize_t k = 0; k < n; k++)
        Py_INCREF(args[k]);
    int done;
    PyObject *r = od_rt_call_python(_PyThreadState_GET(), fn, args, (int)n, kw, &done);
    if (!done) {
        /* Nothing was consumed; the code still holds every operand, so none dies here. */
        for (Py_ssize_t k = 0; k < n; k++)
            Py_DECREF(args[k]);
        Py_DECREF(fn);
        return 0;
    }
    od_t2_stats.direct_calls++;
    *res = r;
    return 1;
}

/* callable(args[1..n)), with args[0] free for the callee's use (vectorcall's
 * PY_VECTORCALL_ARGUMENTS_OFFSET): the operands are in the code's outgoing area, which
 * nothing reads after the call. f is the calling frame. In line in both helpers: a call
 * of it costs float's math.cos calls 9 M instructions. */
static inline __attribute__((always_inline)) intptr_t call(_PyInterpreterFrame *f,
                                                           PyObject *callable, PyObject **args,
                                                           Py_ssize_t n, PyObject *kw)
{
    PyObject *res;
    PyTypeObject *tp = Py_TYPE(callable);
    if (tp == &PyCFunction_Type || tp == &PyMethodDescr_Type) {
        /* a builtin (isinstance, len...) or a method descriptor (list.append, self first)
         * through its C pointer, as the interpreter's specialized forms call it */
        if (od_rt_call_builtin(_PyThreadState_GET(), callable, args + 1, (int)(n - 1), kw,
                               f->f_code->co_warmup == 0, &res) == 0) {
            od_t2_stats.builtin_calls++;
            return R(res);
        }
    } else if (tp == &PyFunction_Type) {
        if (call_function(callable, args + 1, n - 1, kw, &res))
            return R(res);
    } else if (tp == &PyType_Type) {
        /* A class of Python code (object.__new__, a Python __init__): the instance made
         * and __init__ run on its own frame as tier 1's PY_INIT form does, not through
         * type_call, slot_tp_init, an argument tuple and _PyEval_Vector (raytrace's
         * Vector(...) and Ray(...): about 700 M instructions of raytrace 3 at tier 2).
         * Only when the hook has nothing to do at __init__'s entry (tiering_allows), as
         * for any Python callee here; else vectorcall, so that the hook counts it. */
        PyObject *init = od_rt_python_init_of(callable);
        if (init && tiering_allows((PyCodeObject *)((PyFunctionObject *)init)->func_code)) {
            od_t2_stats.init_calls++;
            return R(od_rt_call_python_init(_PyThreadState_GET(), callable, init, args + 1,
                                            (int)(n - 1), kw));
        }
    } else if (tp == &PyMethod_Type) {
        /* A bound method of a Python function: the function with self first, as
         * method_vectorcall and the interpreter's PRECALL_BOUND_METHOD call it. */
        PyObject *fn = PyMethod_GET_FUNCTION(callable);
        if (Py_TYPE(fn) == &PyFunction_Type) {
            PyObject *saved = args[0];
            args[0] = PyMethod_GET_SELF(callable);
            int made = call_function(fn, args, n, kw, &res);
            args[0] = saved;
            if (made)
                return R(res);
        }
    }
    Py_ssize_t npos = n - 1 - (kw ? PyTuple_GET_SIZE(kw) : 0);
    return R(PyObject_Vectorcall(callable, args + 1, (size_t)npos | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                 kw));
}

static int tiering_allows_fn(PyCodeObject *co) { return tiering_allows(co); }

PyObject *od_t2_binary_dunder(int op, PyObject *a, PyObject *b, int *done)
{
    PyObject *r = od_rt_binary_dunder(_PyThreadState_GET(), op, a, b, tiering_allows_fn, done);
    if (*done)
        od_t2_stats.dunder_calls++;
    return r;
}

/* args: [callable, arguments...] (imm values; obj: kwnames or NULL). */
OD_T2_HELPER(od_t2_call)
{
    return call(f, args[0], args, (Py_ssize_t)imm, obj);
}

/* A Call the lowering found len at (a global that was the builtin len when compiled): the
 * interpreter's PRECALL_NO_KW_LEN, while the callable is still len with one positional
 * argument; od_t2_call otherwise. Through the thunk and call()'s dispatch, len cost about
 * 80 instructions a call of C (hexiom: 114 K calls), against tier 1's LEN form's 10. */
OD_T2_HELPER(od_t2_call_len)
{
    if (imm == 2 && !obj && args[0] == _PyInterpreterState_GET()->callable_cache.len) {
        od_t2_stats.builtin_calls++;
        Py_ssize_t n = PyObject_Length(args[1]);
        return R(n < 0 ? NULL : PyLong_FromSsize_t(n));
    }
    return call(f, args[0], args, (Py_ssize_t)imm, obj);
}

/* A Call the lowering found isinstance at (a global that was the builtin isinstance when
 * compiled), with two arguments: the interpreter's PRECALL_NO_KW_ISINSTANCE while the
 * callable still is isinstance, od_t2_call otherwise. Through the thunk (which refuses a
 * builtin), call()'s dispatch and od_rt_call_builtin it cost about 130 instructions a call
 * (richards' `assert isinstance(r, DeviceTaskRec)`, 62 K calls an iteration). */
OD_T2_HELPER(od_t2_call_isinstance)
{
    if (imm == 3 && !obj && args[0] == _PyInterpreterState_GET()->callable_cache.isinstance) {
        od_t2_stats.builtin_calls++;
        int r = PyObject_IsInstance(args[1], args[2]);
        return R(r < 0 ? NULL : Py_NewRef(r ? Py_True : Py_False));
    }
    return call(f, args[0], args, (Py_ssize_t)imm, obj);
}

/* rangeobject.c's 3.11 layout of a range (private there), checked against the type's
 * tp_basicsize before the fast road below is taken. */
typedef struct {
    PyObject_HEAD
    PyObject *start, *stop, *step, *length;
} OdRange;

/* range(stop) or range(start, stop) of exact ints that fit a long, as range_new makes it
 * (start and stop the very objects: PyNumber_Index returns an exact int itself; step the
 * cached 1; the length an int), without range_vectorcall's road to compute_range_length
 * through PyNumber_Subtract, PyNumber_FloorDivide and friends (chaos: about 640
 * instructions a call, 213 K calls in chaos 3). 1 with *res set (NULL: MemoryError), 0
 * when the arguments are of another kind (the caller calls range itself). */
static int small_range(PyObject **args, Py_ssize_t n, PyObject **res)
{
    if (PyRange_Type.tp_basicsize != (Py_ssize_t)sizeof(OdRange))
        return 0;
    long v[2] = {0, 0};
    for (Py_ssize_t k = 0; k < n; k++) {
        int overflow;
        if (!PyLong_CheckExact(args[k]))
            return 0;
        v[2 - n + k] = PyLong_AsLongAndOverflow(args[k], &overflow);
        if (overflow)
            return 0;
    }
    /* the difference of two longs fits an unsigned long; a length beyond LONG_MAX is
     * left to range itself */
    unsigned long len = v[1] > v[0] ? (unsigned long)v[1] - (unsigned long)v[0] : 0;
    if (len > (unsigned long)LONG_MAX)
        return 0;
    PyObject *length = PyLong_FromLong((long)len);
    OdRange *r = length ? PyObject_New(OdRange, &PyRange_Type) : NULL;
    if (!r) {
        Py_XDECREF(length);
        *res = NULL;
        return 1;
    }
    r->start = n == 2 ? Py_NewRef(args[0]) : PyLong_FromLong(0);   /* cached: no failure */
    r->stop = Py_NewRef(args[n - 1]);
    r->step = PyLong_FromLong(1);
    r->length = length;
    *res = (PyObject *)r;
    return 1;
}

/* A Call the lowering found range at (a global that was the builtin range when compiled),
 * with one or two arguments: small_range while the callable still is range, od_t2_call
 * otherwise (and for other arguments). Counted as a builtin call. */
OD_T2_HELPER(od_t2_call_range)
{
    PyObject *res;
    if ((imm == 2 || imm == 3) && !obj && args[0] == (PyObject *)&PyRange_Type
        && small_range(args + 1, (Py_ssize_t)imm - 1, &res)) {
        od_t2_stats.builtin_calls++;
        return R(res);
    }
    return call(f, args[0], args, (Py_ssize_t)imm, obj);
}

/* args: [method, self, arguments...] or [NULL, callable, arguments...] (imm values). */
OD_T2_HELPER(od_t2_call_method)
{
    if (args[0])
        return call(f, args[0], args, (Py_ssize_t)imm, obj);
    return call(f, args[1], args + 1, (Py_ssize_t)imm - 1, obj);
}
