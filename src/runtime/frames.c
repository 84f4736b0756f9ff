/* runtime/frames.c — Python-to-Python calls from compiled code without the vectorcall
 * detour: push the callee's _PyInterpreterFrame on the thread's data stack, move the
 * arguments into it, enter its compiled code directly (or, when it has none or a check
 * says no, run it through the eval-frame function), then clear and pop it exactly as
 * CPython's own call path does. tier1/fast_call.c does the same in machine code for the
 * commonest shape and finishes here (od_rt_direct_return) when something is freed.
 *
 * CPython 3.11 exports none of the frame push/clear/pop functions, so this file restates
 * their behaviour for the simple shapes it accepts (positional arguments, defaults for the
 * rest, keyword arguments by name, keyword-only parameters given or defaulted; no *args or
 * **kwargs parameters; a generator function
 * is fine: its RETURN_GENERATOR moves the frame into the generator and leaves it empty) and
 * refuses the rest
 * (the caller then uses vectorcall). It only ever takes the fast path of the data-stack
 * allocator: a call that would need a new stack chunk is refused. */
#include "frames.h"

#include "unit.h"
#include "../hook/cstack.h" /* the C stack check every frame entry makes (no other hook API) */

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

OdDirectEntry od_rt_direct_entry = {NULL, NULL, NULL, NULL, NULL, -1};
uint64_t od_rt_calls_direct;

static void clear_frame_slow(_PyInterpreterFrame *frame)
{
    PyFrameObject *fo = frame->frame_obj;
    frame->frame_obj = NULL;
    if (Py_REFCNT(fo) > 1) {
        frame_object_takes_over(fo, frame); /* the object now owns the references */
        Py_DECREF(fo);
        return;
    }
    Py_DECREF(fo);
    for (int i = 0; i < frame->stacktop; i++)
        Py_XDECREF(frame->localsplus[i]);
    Py_XDECREF(frame->f_locals);
    Py_DECREF(frame->f_func);
    Py_DECREF(frame->f_code);
}

/* _PyFrame_Clear for a thread-owned frame pushed here. */
static inline void clear_frame(_PyInterpreterFrame *frame)
{
    if (__builtin_expect(frame->frame_obj != NULL, 0)) {
        clear_frame_slow(frame);
        return;
    }
    PyObject **p = frame->localsplus, **end = p + frame->stacktop;
    for (; p < end; p++)
        Py_XDECREF(*p);
    Py_XDECREF(frame->f_locals);
    Py_DECREF(frame->f_func);
    Py_DECREF(frame->f_code);
}

/* Where each of a call's keyword arguments goes among the parameters (index into the
 * locals), or -1 when the call is not one this file handles: an unknown or repeated name,
 * a positional-only parameter named, a name that is not the interned string the code
 * object holds (compared by identity only: vectorcall does the rest). */
#define OD_MAX_KW 16
static int map_keywords(PyCodeObject *co, PyObject *kwnames, int npos, int nkw, int *slot)
{
    int first = co->co_posonlyargcount, end = co->co_argcount + co->co_kwonlyargcount;
    PyObject **names = &PyTuple_GET_ITEM(co->co_localsplusnames, 0);
    for (int k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int j = first;
        while (j < end && names[j] != name)
            j++;
        if (j == end || j < npos)
            return -1;
        for (int m = 0; m < k; m++)
            if (slot[m] == j)
                return -1;
        slot[k] = j;
    }
    return 0;
}

PyObject *od_rt_call_python(PyThreadState *ts, PyObject *callable, PyObject **args, int nargs,
                            PyObject *kwnames, int *done)
{
    *done = 0;
    PyFunctionObject *fn = (PyFunctionObject *)callable;
    PyCodeObject *co = (PyCodeObject *)fn->func_code;
    int argcount = co->co_argcount;
    int nkw = kwnames ? (int)PyTuple_GET_SIZE(kwnames) : 0;
    int npos = nargs - nkw;
    int kwslot[OD_MAX_KW];
    int simple = npos == argcount && nkw == 0 && co->co_kwonlyargcount == 0
                 && (co->co_flags & (unsupported_flags | CO_OPTIMIZED)) == CO_OPTIMIZED;
    if (!simple) {
        /* Defaults, keyword arguments, keyword-only parameters. */
        if ((co->co_flags & (unsupported_flags | CO_OPTIMIZED)) != CO_OPTIMIZED
            || npos > argcount || nkw > OD_MAX_KW
            || (nkw && map_keywords(co, kwnames, npos, nkw, kwslot) < 0))
            return NULL;
        /* Every parameter not given must have a default. */
        PyObject *defaults = fn->func_defaults;
        int ndef = defaults ? (int)PyTuple_GET_SIZE(defaults) : 0;
        int total = argcount + co->co_kwonlyargcount;
        for (int j = npos; j < total; j++) {
            int given = 0;
            for (int k = 0; k < nkw; k++)
                given |= kwslot[k] == j;
            if (given)
                continue;
            if (j < argcount) {
                if (j < argcount - ndef)
                    return NULL;
            } else {
                PyObject *kwdefs = fn->func_kwdefaults;
                PyObject *name = PyTuple_GET_ITEM(co->co_localsplusnames, j);
                if (!kwdefs || !PyDict_CheckExact(kwdefs)
                    || !PyDict_GetItemWithError(kwdefs, name)) {
                    if (PyErr_Occurred())
                        PyErr_Clear();
                    return NULL;
                }
            }
        }
    }
    size_t size = (size_t)co->co_nlocalsplus + (size_t)co->co_stacksize + FRAME_SPECIALS_SIZE;
    PyObject **base = ts->datastack_top;
    /* Only the allocator's fast path; the first slot of a chunk belongs to its owner. */
    if (__builtin_expect(!base || base + size >= ts->datastack_limit
                         || base == &ts->datastack_chunk->data[0], 0))
        return NULL;
    ts->datastack_top = base + size;
    *done = 1;

    _PyInterpreterFrame *frame = (_PyInterpreterFrame *)base;
    frame->f_func = fn;                   /* takes `callable` */
    frame->f_code = (PyCodeObject *)Py_NewRef(co);
    frame->f_builtins = fn->func_builtins;
    frame->f_globals = fn->func_globals;
    frame->f_locals = NULL;
    frame->stacktop = co->co_nlocalsplus;
    frame->frame_obj = NULL;
    frame->prev_instr = _PyCode_CODE(co) - 1;
    frame->is_entry = 0;
    frame->owner = FRAME_OWNED_BY_THREAD;
    PyObject **locals = frame->localsplus;
    for (int i = 0; i < npos; i++)
        locals[i] = args[i]; /* the arguments' references move into the frame */
    if (simple) {
        od_rt_clear_slots(locals + argcount, co->co_nlocalsplus - argcount);
    } else {
        od_rt_clear_slots(locals + npos, co->co_nlocalsplus - npos);
        for (int k = 0; k < nkw; k++)
            locals[kwslot[k]] = args[npos + k];
        PyObject *defaults = fn->func_defaults;
        int ndef = defaults ? (int)PyTuple_GET_SIZE(defaults) : 0;
        int total = argcount + co->co_kwonlyargcount;
        for (int j = npos; j < total; j++) {
            if (locals[j])
                continue;
            PyObject *v = j < argcount
                ? PyTuple_GET_ITEM(defaults, j - (argcount - ndef))
                : PyDict_GetItemWithError(fn->func_kwdefaults,
                                          PyTuple_GET_ITEM(co->co_localsplusnames, j));
            locals[j] = Py_NewRef(v); /* checked above; a str-keyed lookup runs no code */
        }
    }

    PyObject *res;
    void *state = od_code_extra_slot(co, od_rt_direct_entry.extra_index);
    OdUnit *u = state ? *(OdUnit **)state : NULL;
    _PyCFrame *cf = ts->cframe;
    _PyFrameEvalFunction eval = ts->interp->eval_frame;
    if (u && eval && eval == od_rt_direct_entry.hook_eval && !cf->use_tracing
        && ts->recursion_remaining > 0 && !od_cstack_low()
        && (u->native_entries < *od_rt_direct_entry.recompile_after
            || u->retired || !*od_rt_direct_entry.recompile_after
            || (u->tier == 2 && *od_rt_direct_entry.tier2_threshold >= 0))) {
        /* The frame straight into its compiled code (hook/enter.c od_unit_run for a fresh
         * frame, with the checks made above): linked, counted in the recursion depth. */
        _PyInterpreterFrame *caller = cf->current_frame;
        frame->previous = caller;
        ts->recursion_remaining--;
        cf->current_frame = frame;
        u->native_entries++;
        u->direct_entries++;
        od_rt_calls_direct++;
        res = u->entry(frame, ts, u, NULL);
        cf->current_frame = caller;
        ts->recursion_remaining++;
        if (!res)
            res = od_rt_direct_entry.finish(ts, frame, u);
    } else if (u && eval && eval == od_rt_direct_entry.hook_eval && !cf->use_tracing) {
        res = od_rt_direct_entry.enter(ts, frame, state);
    } else {
        res = eval ? eval(ts, frame, 0) : _PyEval_EvalFrameDefault(ts, frame, 0);
    }

    /* Give finalizers run by the clear some recursion headroom, as CPython does. */
    ts->recursion_remaining--;
    clear_frame(frame);
    ts->recursion_remaining++;
    ts->datastack_top = base;
    return res;
}

void od_rt_frame_clear(_PyInterpreterFrame *frame)
{
    clear_frame(frame);
}

void od_rt_unit_set_direct(OdUnit *u, PyCodeObject *co)
{
    int ok = (co->co_flags & (unsupported_flags | CO_OPTIMIZED)) == CO_OPTIMIZED
             && co->co_kwonlyargcount == 0;
    u->direct_argc = ok ? co->co_argcount : -1;
    u->nlocalsplus = co->co_nlocalsplus;
    u->frame_bytes = (int64_t)sizeof(PyObject *)
                     * ((int64_t)co->co_nlocalsplus + co->co_stacksize + FRAME_SPECIALS_SIZE);
}

PyObject *od_rt_direct_return(_PyInterpreterFrame *frame, PyThreadState *ts, PyObject *res,
                              OdUnit *u, PyObject **from)
{
    if (!res)
        res = od_rt_direct_entry.finish(ts, frame, u);
    ts->recursion_remaining--;
    if (frame->frame_obj || from == frame->localsplus) {
        clear_frame(frame);
    } else {
        /* The compiled code released the locals below `from`, and f_locals is NULL. */
        PyObject **end = frame->localsplus + frame->stacktop;
        for (PyObject **p = from; p < end; p++)
            Py_XDECREF(*p);
        Py_DECREF(frame->f_func);
        Py_DECREF(frame->f_code);
    }
    ts->recursion_remaining++;
    ts->datastack_top = (PyObject **)frame;
    return res;
}

PyObject *od_rt_direct_return_into(_PyInterpreterFrame *frame, PyThreadState *ts,
                                   PyObject *res, OdUnit *u, PyObject **from, PyObject **dest)
{
    res = od_rt_direct_return(frame, ts, res, u, from);
    if (!res)
        return NULL;
    *dest = res;
    return ts->cframe->use_tracing ? (PyObject *)2 : res;
}

intptr_t od_rt_cstack_floor_tpoff(void)
{
    uintptr_t tp;
    __asm__("movq %%fs:0, %0" : "=r"(tp));
    return (intptr_t)((uintptr_t)&od_cstack_floor - tp);
}
