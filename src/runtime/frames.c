/* runtime/frames.c — Python-to-Python calls from compiled code without the vectorcall
 * detour: push the callee's _PyInterpreterFrame on the thread's data stack, move the
 * arguments into it, run it through the eval-frame function (the PEP 523 hook, which runs
 * its compiled code), then clear and pop it exactly as CPython's own call path does.
 *
 * CPython 3.11 exports none of the frame push/clear/pop functions, so this file restates
 * their behaviour for the simple shapes it accepts (positional arguments, defaults for the
 * rest; no star-args, double-star-kwargs or keyword-only parameters; a generator function
 * is fine: its RETURN_GENERATOR moves the frame into the generator and leaves it empty) and
 * refuses the rest
 * (the caller then uses vectorcall). It only ever takes the fast path of the data-stack
 * allocator: a call that would need a new stack chunk is refused. */
#include "frames.h"

#include "unit.h"

static const int unsupported_flags = CO_VARARGS | CO_VARKEYWORDS;

/* An escaped frame object outlives the frame: copy the frame into the object (it becomes
 * the owner) and link its f_back, the way frame objects of finished frames look. */
static void frame_object_takes_over(PyFrameObject *fo, _PyInterpreterFrame *frame)
{
    Py_ssize_t size = (char *)&frame->localsplus[frame->stacktop] - (char *)frame;
    _PyInterpreterFrame *copy = (_PyInterpreterFrame *)fo->_f_frame_data;
    memcpy(copy, frame, (size_t)size);
    fo->f_frame = copy;
    copy->owner = FRAME_OWNED_BY_FRAME_OBJECT;
    if (_PyFrame_IsIncomplete(copy)) /* died before RESUME: pretend it ran */
        copy->prev_instr = _PyCode_CODE(copy->f_code) + copy->f_code->_co_firsttraceable;
    if (copy->previous) {
        /* The caller is the current frame (compiled code calling): its frame object is
         * what PyEval_GetFrame returns, skipping incomplete frames like CPython does. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb); /* an exception may be on its way out */
        PyFrameObject *back = PyEval_GetFrame();
        PyErr_Restore(type, value, tb);
        if (back)
            fo->f_back = (PyFrameObject *)Py_NewRef(back);
        copy->previous = NULL;
    }
    if (!_PyObject_GC_IS_TRACKED((PyObject *)fo))
        _PyObject_GC_TRACK((PyObject *)fo);
}

OdDirectEntry od_rt_direct_entry = {NULL, NULL, -1};

/* The code object's state in co_extra if it has compiled code, else NULL. */
static inline void *compiled_state(PyCodeObject *co)
{
    void *state = od_code_extra_slot(co, od_rt_direct_entry.extra_index);
    return state && *(OdUnit **)state ? state : NULL; /* the unit pointer comes first */
}

static void clear_frame(_PyInterpreterFrame *frame)
{
    if (frame->frame_obj) {
        PyFrameObject *fo = frame->frame_obj;
        frame->frame_obj = NULL;
        if (Py_REFCNT(fo) > 1) {
            frame_object_takes_over(fo, frame); /* the object now owns the references */
            Py_DECREF(fo);
            return;
        }
        Py_DECREF(fo);
    }
    for (int i = 0; i < frame->stacktop; i++)
        Py_XDECREF(frame->localsplus[i]);
    Py_XDECREF(frame->f_locals);
    Py_DECREF(frame->f_func);
    Py_DECREF(frame->f_code);
}

PyObject *od_rt_call_python(PyThreadState *ts, PyObject *callable, PyObject **args, int nargs,
                            int *done)
{
    *done = 0;
    PyFunctionObject *fn = (PyFunctionObject *)callable;
    PyCodeObject *co = (PyCodeObject *)fn->func_code;
    if ((co->co_flags & unsupported_flags) || !(co->co_flags & CO_OPTIMIZED)
        || co->co_kwonlyargcount != 0 || nargs > co->co_argcount)
        return NULL;
    int ndefaults = co->co_argcount - nargs;
    PyObject *defaults = fn->func_defaults;
    if (ndefaults > 0 && (!defaults || PyTuple_GET_SIZE(defaults) < ndefaults))
        return NULL;
    size_t size = (size_t)co->co_nlocalsplus + (size_t)co->co_stacksize + FRAME_SPECIALS_SIZE;
    PyObject **base = ts->datastack_top;
    /* Only the allocator's fast path; the first slot of a chunk belongs to its owner. */
    if (!base || base + size >= ts->datastack_limit || base == &ts->datastack_chunk->data[0])
        return NULL;
    ts->datastack_top = base + size;
    *done = 1;

    _PyInterpreterFrame *frame = (_PyInterpreterFrame *)base;
    _PyFrame_InitializeSpecials(frame, fn, NULL, co->co_nlocalsplus); /* takes `callable` */
    PyObject **locals = frame->localsplus;
    for (int i = 0; i < nargs; i++)
        locals[i] = args[i]; /* the arguments' references move into the frame */
    if (ndefaults > 0) {
        Py_ssize_t first = PyTuple_GET_SIZE(defaults) - ndefaults;
        for (int i = 0; i < ndefaults; i++)
            locals[nargs + i] = Py_NewRef(PyTuple_GET_ITEM(defaults, first + i));
    }
    od_rt_clear_slots(locals + co->co_argcount, co->co_nlocalsplus - co->co_argcount);

    _PyFrameEvalFunction eval = ts->interp->eval_frame;
    PyObject *res;
    void *state = compiled_state(co);
    if (state && eval == od_rt_direct_entry.hook_eval && !ts->cframe->use_tracing)
        res = od_rt_direct_entry.enter(ts, frame, state);
    else
        res = eval ? eval(ts, frame, 0) : _PyEval_EvalFrameDefault(ts, frame, 0);

    /* Give finalizers run by the clear some recursion headroom, as CPython does. */
    ts->recursion_remaining--;
    clear_frame(frame);
    ts->recursion_remaining++;
    ts->datastack_top = base;
    return res;
}
