/* runtime/ops_exc.c — exceptions in compiled code, and the eval breaker.
 *
 * Compiled code unwinds its own frame, the way the interpreter's `error:` and
 * `exception_unwind:` paths do: add the traceback entry for this frame, find the innermost
 * handler in the exception table, pop the value stack to the handler's depth, push lasti
 * (if asked) and the exception, and continue at the handler's native address. With no
 * handler the stack is emptied and the frame returns NULL. */
#include "helpers.h"

uint64_t od_rt_unwinds;

static PyObject **stack_base(_PyInterpreterFrame *f)
{
    return f->localsplus + f->f_code->co_nlocalsplus;
}

/* The interpreter's exception_unwind for the instruction at `index`, the stack holding
 * `live` values. f->prev_instr must already be what lasti should report. */
static void *unwind(_PyInterpreterFrame *f, OdUnit *u, int index, int live)
{
    PyObject **stack = stack_base(f);
    const OdExcEntry *h = od_bytecode_handler(u->exc, u->nexc, index);
    int level = h ? h->depth : 0;
    while (live > level) {
        live--;
        Py_XDECREF(stack[live]);
        stack[live] = NULL;
    }
    if (!h) {
        f->stacktop = f->f_code->co_nlocalsplus; /* empty: how the frame gets cleared */
        return NULL;
    }
    u->unwinds++;
    od_rt_unwinds++;
    if (h->lasti) {
        PyObject *lasti = PyLong_FromLong((long)_PyInterpreterFrame_LASTI(f));
        if (!lasti) { /* MemoryError: leave the frame with it */
            while (live > 0) {
                live--;
                Py_XDECREF(stack[live]);
                stack[live] = NULL;
            }
            return NULL;
        }
        stack[live++] = lasti;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (!value) {
        /* Out of memory even for the exception instance: leave the frame with what we
         * have rather than hand a handler a NULL exception. */
        if (type)
            PyErr_Restore(type, value, tb);
        else
            PyErr_NoMemory(); /* never leave without an exception: NULL alone means "exit" */
        for (int i = h->depth + h->lasti; i > 0; i--) {
            Py_XDECREF(stack[i - 1]);
            stack[i - 1] = NULL;
        }
        f->stacktop = f->f_code->co_nlocalsplus;
        return NULL;
    }
    PyException_SetTraceback(value, tb ? tb : Py_None);
    Py_XDECREF(tb);
    Py_XDECREF(type);
    stack[live] = value;
    void *addr = od_unit_native_at(u, h->target);
    if (!addr) {
        /* cannot happen for compiled handlers; keep the process alive regardless */
        PyErr_SetString(PyExc_SystemError, "overdrive: exception handler was not compiled");
        return NULL;
    }
    return addr;
}

/* The interpreter's `error:` label: one traceback entry for this frame. */
static void add_traceback(_PyInterpreterFrame *f)
{
    if (_PyFrame_IsIncomplete(f))
        return;
    /* PyEval_GetFrame (this frame is current_frame and complete) may have to create the
     * frame object; if that fails it clears the error state, so keep ours aside. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyFrameObject *fo = PyEval_GetFrame();
    PyErr_Restore(type, value, tb);
    if (fo)
        PyTraceBack_Here(fo);
}

void *od_rt_error(_PyInterpreterFrame *f, OdUnit *u, int index, int live_depth)
{
    f->prev_instr = _PyCode_CODE(f->f_code) + index;
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_SystemError, "overdrive: error return without exception set");
    if (_PyThreadState_GET()->cframe->use_tracing) {
        /* A tracer wants the 'exception' event and the handler's line events: let the
         * interpreter unwind (it adds the traceback entry itself). */
        f->stacktop = f->f_code->co_nlocalsplus + live_depth;
        u->throw_pending = 1;
        u->exit_pending = 1;
        u->last_exit = OD_EXIT_TRACING_THROW;
        u->last_exit_opcode = _PyOpcode_Deopt[_Py_OPCODE(*f->prev_instr)];
        return NULL;
    }
    add_traceback(f);
    return unwind(f, u, index, live_depth);
}

/* Reraise the exception being handled ("raise" with no argument): 1 if it did (the
 * traceback continues, no new entry), 0 with RuntimeError set otherwise. */
static int reraise_current(PyThreadState *ts)
{
    _PyErr_StackItem *ei = ts->exc_info;
    while ((ei->exc_value == NULL || ei->exc_value == Py_None) && ei->previous_item != NULL)
        ei = ei->previous_item;
    PyObject *value = ei->exc_value;
    if (value == NULL || value == Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "No active exception to reraise");
        return 0;
    }
    PyObject *type = (PyObject *)Py_TYPE(value);
    Py_INCREF(type);
    Py_INCREF(value);
    PyErr_Restore(type, value, PyException_GetTraceback(value));
    return 1;
}

/* `raise exc [from cause]`; consumes exc and cause. Always leaves an exception set. */
static void raise_object(PyObject *exc, PyObject *cause)
{
    PyObject *type = NULL, *value = NULL;
    if (PyExceptionClass_Check(exc)) {
        type = exc;
        value = PyObject_CallNoArgs(exc);
        if (!value)
            goto fail;
        if (!PyExceptionInstance_Check(value)) {
            PyErr_Format(PyExc_TypeError,
                         "calling %R should have returned an instance of BaseException, not %R",
                         type, Py_TYPE(value));
            goto fail;
        }
    } else if (PyExceptionInstance_Check(exc)) {
        value = exc;
        type = (PyObject *)Py_TYPE(exc);
        Py_INCREF(type);
    } else {
        Py_DECREF(exc);
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
        goto fail;
    }
    if (cause) {
        PyObject *fixed;
        if (PyExceptionClass_Check(cause)) {
            fixed = PyObject_CallNoArgs(cause);
            if (!fixed)
                goto fail;
            Py_DECREF(cause);
        } else if (PyExceptionInstance_Check(cause)) {
            fixed = cause;
        } else if (cause == Py_None) {
            Py_DECREF(cause);
            fixed = NULL;
        } else {
            PyErr_SetString(PyExc_TypeError, "exception causes must derive from BaseException");
            goto fail;
        }
        PyException_SetCause(value, fixed);
    }
    PyErr_SetObject(type, value);
    Py_DECREF(value);
    Py_DECREF(type);
    return;
fail:
    Py_XDECREF(value);
    Py_XDECREF(type);
    Py_XDECREF(cause);
}

void *od_rt_raise(_PyInterpreterFrame *f, OdUnit *u, int index, int depth_before, int oparg)
{
    PyObject **stack = stack_base(f);
    int live = depth_before;
    f->prev_instr = _PyCode_CODE(f->f_code) + index;
    if (oparg == 0) {
        if (reraise_current(_PyThreadState_GET()))
            return unwind(f, u, index, live); /* bare raise: no new traceback entry */
    } else if (oparg <= 2) {
        PyObject *cause = NULL;
        if (oparg == 2) {
            cause = stack[--live];
            stack[live] = NULL;
        }
        PyObject *exc = stack[--live];
        stack[live] = NULL;
        raise_object(exc, cause);
    } else {
        PyErr_SetString(PyExc_SystemError, "bad RAISE_VARARGS oparg");
    }
    add_traceback(f);
    return unwind(f, u, index, live);
}

void *od_rt_reraise(_PyInterpreterFrame *f, OdUnit *u, int index, int depth_before, int oparg)
{
    PyObject **stack = stack_base(f);
    int live = depth_before;
    f->prev_instr = _PyCode_CODE(f->f_code) + index;
    if (oparg) {
        PyObject *lasti = stack[live - 1 - oparg];
        if (!PyLong_Check(lasti)) {
            PyErr_SetString(PyExc_SystemError, "lasti is not an int");
            add_traceback(f);
            return unwind(f, u, index, live);
        }
        f->prev_instr = _PyCode_CODE(f->f_code) + PyLong_AsLong(lasti);
    }
    PyObject *val = stack[--live];
    stack[live] = NULL;
    PyObject *type = (PyObject *)Py_TYPE(val);
    Py_INCREF(type);
    PyErr_Restore(type, val, PyException_GetTraceback(val));
    /* the handler is looked up at the RERAISE itself; lasti keeps the restored value */
    return unwind(f, u, index, live);
}

#define TOP() (sp[-1])

OD_HELPER(od_rt_push_exc_info)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *value = TOP();
    _PyErr_StackItem *ei = _PyThreadState_GET()->exc_info;
    if (ei->exc_value != NULL) {
        sp[-1] = ei->exc_value; /* the reference moves from exc_info to the stack */
    } else {
        Py_INCREF(Py_None);
        sp[-1] = Py_None;
    }
    Py_INCREF(value);
    sp[0] = value;
    ei->exc_value = value;
    return OD_OK;
}

OD_HELPER(od_rt_pop_except)
{
    (void)oparg; (void)arg; (void)f;
    _PyErr_StackItem *ei = _PyThreadState_GET()->exc_info;
    PyObject *old = ei->exc_value;
    ei->exc_value = TOP();
    Py_XDECREF(old);
    return OD_OK;
}

static int check_except_type_valid(PyObject *right)
{
    static const char msg[] =
        "catching classes that do not inherit from BaseException is not allowed";
    if (PyTuple_Check(right)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(right); i++) {
            if (!PyExceptionClass_Check(PyTuple_GET_ITEM(right, i))) {
                PyErr_SetString(PyExc_TypeError, msg);
                return -1;
            }
        }
    } else if (!PyExceptionClass_Check(right)) {
        PyErr_SetString(PyExc_TypeError, msg);
        return -1;
    }
    return 0;
}

OD_HELPER(od_rt_check_exc_match)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *right = TOP(), *left = sp[-2];
    if (check_except_type_valid(right) < 0) {
        Py_DECREF(right);
        return OD_ERROR;
    }
    int res = PyErr_GivenExceptionMatches(left, right);
    Py_DECREF(right);
    sp[-1] = res ? Py_True : Py_False;
    Py_INCREF(sp[-1]);
    return OD_OK;
}

int od_rt_warmup(PyCodeObject *co)
{
    if (co->co_warmup == 0)
        return 0;
    if (co->co_warmup + 1 == 0)
        return 1; /* left at -1: the interpreter's RESUME takes it to 0 and quickens */
    co->co_warmup++;
    return 0;
}

/* ---- eval breaker -------------------------------------------------------------- */

static void recompute_eval_breaker(PyInterpreterState *interp)
{
    struct _ceval_runtime_state *ceval = &_PyRuntime.ceval;
    struct _ceval_state *ceval2 = &interp->ceval;
    int main_thread = PyThread_get_thread_ident() == _PyRuntime.main_thread;
    _Py_atomic_store_relaxed(&ceval2->eval_breaker,
        _Py_atomic_load_relaxed(&ceval2->gil_drop_request)
        | (_Py_atomic_load_relaxed(&ceval->signals_pending)
           && _Py_ThreadCanHandleSignals(interp))
        | (_Py_atomic_load_relaxed(&ceval2->pending.calls_to_do) && main_thread)
        | ceval2->pending.async_exc);
}

int od_rt_handle_eval_breaker(PyThreadState *ts)
{
    PyInterpreterState *interp = ts->interp;
    if (_Py_atomic_load_relaxed(&_PyRuntime.ceval.signals_pending)
        || _Py_atomic_load_relaxed(&interp->ceval.pending.calls_to_do)) {
        /* Runs signal handlers and pending calls, and clears their flags (unlike
         * PyErr_CheckSignals, which would leave eval_breaker set). */
        if (Py_MakePendingCalls() < 0)
            return -1;
    }
    if (_Py_atomic_load_relaxed(&interp->ceval.gil_drop_request)) {
        PyThreadState *saved = PyEval_SaveThread();
        PyEval_RestoreThread(saved);
    }
    if (ts->async_exc != NULL) {
        PyObject *exc = ts->async_exc;
        ts->async_exc = NULL;
        interp->ceval.pending.async_exc = 0;
        recompute_eval_breaker(interp);
        PyErr_SetNone(exc);
        Py_DECREF(exc);
        return -1;
    }
    return 0;
}

void od_rt_set_exit(_PyInterpreterFrame *f, OdUnit *u, int resume, int depth, int reason_op)
{
    f->prev_instr = _PyCode_CODE(f->f_code) + resume - 1;
    f->stacktop = f->f_code->co_nlocalsplus + depth;
    u->exit_pending = 1;
    u->last_exit = reason_op & 0xff;
    u->last_exit_opcode = reason_op >> 8;
}
