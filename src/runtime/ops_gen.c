/* runtime/ops_gen.c — RETURN_GENERATOR: the call of a generator, coroutine or async
 * generator function moves its fresh frame into a new generator object and returns that.
 *
 * CPython does not export _Py_MakeCoro or _PyFrame_Copy; this restates what they and the
 * interpreter's RETURN_GENERATOR do (Objects/genobject.c make_gen, Python/frame.c, ceval.c
 * in 3.11) with exported calls. The generator layouts are public (cpython/genobject.h:
 * one head for the three kinds). */
#include "helpers.h"

OD_HELPER(od_rt_return_generator)
{
    (void)oparg; (void)arg;
    PyCodeObject *co = f->f_code;
    PyFunctionObject *fn = (PyFunctionObject *)f->f_func;
    int kind = co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR);
    PyTypeObject *type = kind == CO_COROUTINE ? &PyCoro_Type
                         : kind == CO_ASYNC_GENERATOR ? &PyAsyncGen_Type : &PyGen_Type;
    /* sys.set_coroutine_origin_tracking_depth(): the origin is computed from the frames
     * the way only the interpreter does it. */
    if (kind == CO_COROUTINE && _PyThreadState_GET()->coroutine_origin_tracking_depth)
        return OD_DEOPT;
    PyGenObject *gen = (PyGenObject *)_PyObject_GC_NewVar(
        type, co->co_nlocalsplus + co->co_stacksize);
    if (!gen)
        return OD_ERROR;
    gen->gi_code = (PyCodeObject *)Py_NewRef(co);
    gen->gi_weakreflist = NULL;
    gen->gi_name = Py_NewRef(fn->func_name);
    gen->gi_qualname = Py_NewRef(fn->func_qualname);
    gen->gi_exc_state.exc_value = NULL;
    gen->gi_exc_state.previous_item = NULL;
    gen->gi_origin_or_finalizer = NULL;
    gen->gi_hooks_inited = 0;
    gen->gi_closed = 0;
    gen->gi_running_async = 0;

    /* The frame moves into the generator: its locals' references go with it (the stack is
     * empty here), and the frame left behind keeps only references to its function and
     * code, which the caller's clear-and-pop releases. */
    f->stacktop = co->co_nlocalsplus;
    _PyInterpreterFrame *gf = (_PyInterpreterFrame *)gen->gi_iframe;
    memcpy(gf, f, (size_t)((char *)&f->localsplus[f->stacktop] - (char *)f));
    gf->previous = NULL;
    gf->owner = FRAME_OWNED_BY_GENERATOR;
    gen->gi_frame_state = FRAME_CREATED;
    f->stacktop = 0;
    f->f_locals = NULL;
    Py_INCREF(f->f_func);
    Py_INCREF(f->f_code);
    _PyObject_GC_TRACK(gen);   /* fresh: the inline form, as RETURN_GENERATOR */
    sp[0] = (PyObject *)gen;
    return OD_OK;
}
