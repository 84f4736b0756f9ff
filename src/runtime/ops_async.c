/* runtime/ops_async.c — await, `async for` and async generators' yields.
 *
 * CPython keeps the awaitable protocol's helpers (_PyCoro_GetAwaitableIter, _PyGen_yf,
 * _PyAsyncGenValueWrapperNew) out of libpython's exports, so the common cases are restated
 * here from their behaviour (Objects/genobject.c, Python/ceval.c in 3.11), and every case
 * whose outcome is an error message of the interpreter's own making, decided before
 * anything ran, is left to it (OD_DEOPT): an object with no __await__, a coroutine that is
 * already being awaited, an exception other than StopAsyncIteration ending `async for`. */
#include "helpers.h"

#define TOP() (sp[-1])

/* A generator made awaitable by types.coroutine (what _PyCoro_GetAwaitableIter accepts
 * besides coroutines). */
static int is_iterable_coroutine(PyObject *o)
{
    return PyGen_CheckExact(o)
           && (((PyCodeObject *)((PyGenObject *)o)->gi_code)->co_flags & CO_ITERABLE_COROUTINE);
}

/* Whether a coroutine may be awaited without the "being awaited already" check: it has not
 * started (nothing to delegate to yet) or has finished (its SEND then raises "cannot reuse
 * already awaited coroutine", as in the interpreter). A suspended or running one may be
 * inside an await: the interpreter looks at its frame and decides. */
static int coroutine_is_free(PyObject *coro)
{
    int8_t state = ((PyGenObject *)coro)->gi_frame_state;
    return state == FRAME_CREATED || state >= FRAME_COMPLETED;
}

/* What `await o` iterates: o itself for a coroutine, o.__await__() (which must be an
 * iterator and not a coroutine) otherwise. NULL with an exception set, or NULL without one
 * (*deopt set) for what the interpreter must report itself: an object without __await__. */
static PyObject *awaitable_iter(PyObject *o, int *deopt)
{
    *deopt = 0;
    if (PyCoro_CheckExact(o) || is_iterable_coroutine(o))
        return Py_NewRef(o);
    PyTypeObject *t = Py_TYPE(o);
    unaryfunc getter = t->tp_as_async ? t->tp_as_async->am_await : NULL;
    if (!getter) {
        *deopt = 1;
        return NULL;
    }
    PyObject *res = getter(o);
    if (!res)
        return NULL;
    if (PyCoro_CheckExact(res) || is_iterable_coroutine(res)) {
        PyErr_SetString(PyExc_TypeError, "__await__() returned a coroutine");
        Py_DECREF(res);
        return NULL;
    }
    if (!PyIter_Check(res)) {
        PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'",
                     Py_TYPE(res)->tp_name);
        Py_DECREF(res);
        return NULL;
    }
    return res;
}

OD_HELPER(od_rt_get_awaitable)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *iterable = TOP();
    /* (__await__ never yields a coroutine: awaitable_iter refuses that one.) */
    if (PyCoro_CheckExact(iterable) && !coroutine_is_free(iterable))
        return OD_DEOPT;
    int deopt;
    PyObject *iter = awaitable_iter(iterable, &deopt);
    if (deopt)
        return OD_DEOPT; /* the message depends on oparg: __aenter__, __aexit__ or await */
    Py_DECREF(iterable);
    if (!iter)
        return OD_ERROR;
    sp[-1] = iter;
    return OD_OK;
}

OD_HELPER(od_rt_get_aiter)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *obj = TOP();
    PyTypeObject *t = Py_TYPE(obj);
    unaryfunc getter = t->tp_as_async ? t->tp_as_async->am_aiter : NULL;
    if (!getter) {
        PyErr_Format(PyExc_TypeError,
                     "'async for' requires an object with __aiter__ method, got %.100s",
                     t->tp_name);
        Py_DECREF(obj);
        return OD_ERROR;
    }
    PyObject *iter = getter(obj);
    Py_DECREF(obj);
    if (!iter)
        return OD_ERROR;
    PyTypeObject *it = Py_TYPE(iter);
    if (!it->tp_as_async || !it->tp_as_async->am_anext) {
        PyErr_Format(PyExc_TypeError,
                     "'async for' received an object from __aiter__ that does not implement "
                     "__anext__: %.100s", it->tp_name);
        Py_DECREF(iter);
        return OD_ERROR;
    }
    sp[-1] = iter;
    return OD_OK;
}

OD_HELPER(od_rt_get_anext)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *aiter = TOP();
    PyTypeObject *t = Py_TYPE(aiter);
    PyObject *awaitable;
    if (PyAsyncGen_CheckExact(aiter)) {
        awaitable = t->tp_as_async->am_anext(aiter);
        if (!awaitable)
            return OD_ERROR;
        sp[0] = awaitable;
        return OD_OK;
    }
    unaryfunc getter = t->tp_as_async ? t->tp_as_async->am_anext : NULL;
    if (!getter) {
        PyErr_Format(PyExc_TypeError,
                     "'async for' requires an iterator with __anext__ method, got %.100s",
                     t->tp_name);
        return OD_ERROR;
    }
    PyObject *next_iter = getter(aiter);
    if (!next_iter)
        return OD_ERROR;
    int no_await;
    awaitable = awaitable_iter(next_iter, &no_await);
    if (!awaitable) {
        if (no_await)
            PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression",
                         Py_TYPE(next_iter)->tp_name);
        _PyErr_FormatFromCause(PyExc_TypeError,
                               "'async for' received an invalid object from __anext__: %.100s",
                               Py_TYPE(next_iter)->tp_name);
        Py_DECREF(next_iter);
        return OD_ERROR;
    }
    Py_DECREF(next_iter);
    sp[0] = awaitable;
    return OD_OK;
}

OD_HELPER(od_rt_end_async_for)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *exc = TOP();
    if (!PyErr_GivenExceptionMatches(exc, PyExc_StopAsyncIteration))
        return OD_DEOPT; /* the interpreter re-raises it and unwinds */
    Py_DECREF(exc);
    Py_DECREF(sp[-2]);
    return OD_OK;
}

/* The object an async generator yields, so that its asend()/__anext__ tell a yielded value
 * from an awaited one: an _PyAsyncGenWrappedValue holding it. The type is exported, its
 * constructor is not; its layout is the object header and the value. */
typedef struct {
    PyObject_HEAD
    PyObject *value;
} WrappedValue;

OD_HELPER(od_rt_async_gen_wrap)
{
    (void)oparg; (void)arg; (void)f;
    if (_PyAsyncGenWrappedValue_Type.tp_basicsize != (Py_ssize_t)sizeof(WrappedValue))
        return OD_DEOPT; /* not the layout this file knows */
    /* From the interpreter's free list when it has one: the type's dealloc puts every
     * wrapper back there (up to 80), so allocating afresh would both pay the allocator and
     * leave the list full (async_generators: +6% instructions without this). */
    WrappedValue *w = NULL;
#if _PyAsyncGen_MAXFREELIST > 0
    struct _Py_async_gen_state *state = &_PyInterpreterState_GET()->async_gen;
    if (state->value_numfree > 0) {   /* -1 after finalisation (debug builds) */
        w = (WrappedValue *)state->value_freelist[--state->value_numfree];
        _Py_NewReference((PyObject *)w);
    }
#endif
    if (!w && !(w = PyObject_GC_New(WrappedValue, &_PyAsyncGenWrappedValue_Type)))
        return OD_ERROR; /* the value stays on the stack */
    w->value = TOP();
    _PyObject_GC_TRACK((PyObject *)w);   /* fresh: the inline form, as the interpreter */
    sp[-1] = (PyObject *)w;
    return OD_OK;
}
