/* runtime/gen_resume.c — a compiled generator, coroutine or async generator resumed by
 * compiled code (SEND, FOR_ITER), straight into its native code at the instruction after
 * its last yield; and SEND's helper, which takes that road for generators, coroutines and
 * the asend()/__anext__() awaitables of `async for`, in two halves (od_rt_send_begin /
 * od_rt_send_end, and FOR_ITER's) around the call of the native code that full tier-1
 * units make themselves at the site (gen_resume.h).
 *
 * The ordinary road is PyIter_Send / tp_iternext -> gen_send_ex2 -> _PyEval_EvalFrame ->
 * the eval-frame hook -> resume_generator -> od_unit_enter: about a hundred instructions of
 * dispatch and checks per value. This file restates, for the fast case only, what that road
 * does (gen_send_ex2 in Objects/genobject.c of 3.11, which libpython does not export; the
 * hook's resume_generator and od_unit_enter, hook/hook.c and hook.h) and refuses everything
 * else before touching anything (gen_resume.h). For an asend awaitable the ordinary road
 * also raises and catches a StopIteration per value yielded (async_gen_unwrap_value,
 * PyIter_Send), which the direct road does not need. */
#include "gen_resume.h"

#include "frames.h"
#include "helpers.h"
#include "../hook/cstack.h" /* the C stack check every frame entry makes (no other hook API) */

uint64_t od_rt_gen_resumes_direct;
uint64_t od_rt_async_gen_sends_direct;

/* The unit generator frame `f` resumes in and its native address for that, or NULL: the slow
 * road then (not compiled yet, compile due, recompile due, hook not ours, ...). */
static inline __attribute__((always_inline)) OdUnit *
resumable_unit(PyThreadState *ts, _PyInterpreterFrame *f, void **at)
{
    _PyFrameEvalFunction hook = od_rt_direct_entry.hook_eval;
    if (!hook || ts->interp->eval_frame != hook || ts->cframe->use_tracing
        || ts->recursion_remaining <= 0 || od_cstack_low())
        return NULL;
    PyCodeObject *co = f->f_code;
    void *state = od_code_extra_slot(co, od_rt_direct_entry.extra_index);
    OdUnit *u = state ? *(OdUnit **)state : NULL;
    /* A unit due for its recompilation goes through the hook, which recompiles it (the
     * same test as the direct calls of runtime/frames.c). Generators never run in tier 2
     * (tier2.c refuses their code), so there is no promotion to think of. */
    if (!u || (*od_rt_direct_entry.recompile_after && !u->retired
               && u->native_entries >= *od_rt_direct_entry.recompile_after))
        return NULL;
    void *native = od_unit_resume_native(u, (int)(f->prev_instr - _PyCode_CODE(co)) + 1);
    *at = native;
    return native ? u : NULL;
}

/* gen_send_ex2's work before the frame runs, when the direct road is open: the unit to
 * enter and (*at) where; NULL, nothing done, otherwise. */
static inline __attribute__((always_inline)) OdUnit *
resume_begin(PyThreadState *ts, PyGenObject *gen, PyObject *arg, void **at)
{
    _PyInterpreterFrame *f = (_PyInterpreterFrame *)gen->gi_iframe;
    int8_t state = gen->gi_frame_state;
    /* Suspended, or created and sent None (anything else sent to a just-started generator,
     * and running or finished ones, are errors or corner cases: gen_send_ex2's). */
    if (state != FRAME_SUSPENDED
        && !(state == FRAME_CREATED && (!arg || arg == Py_None)))
        return NULL;
    OdUnit *u = resumable_unit(ts, f, at);
    if (!u)
        return NULL;
    od_rt_gen_resumes_direct++;

    /* gen_send_ex2: the value sent goes on the generator's stack (its next instruction,
     * native or not, consumes it), the frame links to the current one, and the generator's
     * exception state stacks on the thread's (sys.exc_info() inside sees the consumer's
     * exception while the generator handles none). */
    _PyFrame_StackPush(f, Py_NewRef(arg ? arg : Py_None));
    _PyCFrame *cf = ts->cframe;
    f->previous = cf->current_frame;
    gen->gi_exc_state.previous_item = ts->exc_info;
    ts->exc_info = &gen->gi_exc_state;
    gen->gi_frame_state = FRAME_EXECUTING;

    /* od_unit_enter for a resume (recursion limit checked above). */
    ts->recursion_remaining--;
    cf->current_frame = f;
    u->native_entries++;
    f->stacktop = -1; /* as the interpreter keeps it while a generator frame runs */
    return u;
}

/* gen_send_ex2's work after the frame ran in unit `u` and gave `r` (NULL: raised, or an
 * exit to the interpreter); `caller` was the current frame before resume_begin. */
static inline __attribute__((always_inline)) int
resume_end(PyThreadState *ts, PyGenObject *gen, OdUnit *u, _PyInterpreterFrame *caller,
           PyObject *r, PyObject **res)
{
    _PyInterpreterFrame *f = (_PyInterpreterFrame *)gen->gi_iframe;
    ts->cframe->current_frame = caller;
    ts->recursion_remaining++;
    if (!r) /* raised, or handed to the interpreter, which finished the frame's run */
        r = od_rt_direct_entry.finish(ts, f, u);

    /* gen_send_ex2 after the frame ran: still EXECUTING means it returned or raised. */
    if (gen->gi_frame_state == FRAME_EXECUTING)
        gen->gi_frame_state = FRAME_COMPLETED;
    ts->exc_info = gen->gi_exc_state.previous_item;
    gen->gi_exc_state.previous_item = NULL;
    f->previous = NULL; /* no chain of frames kept alive, no cycle */
    if (r && gen->gi_frame_state == FRAME_SUSPENDED) {
        *res = r;
        return PYGEN_NEXT;
    }
    if (!r) {
        if (PyErr_ExceptionMatches(PyExc_StopIteration))
            _PyErr_FormatFromCause(PyExc_RuntimeError, "%s",
                                   Py_IS_TYPE(gen, &PyCoro_Type)
                                       ? "coroutine raised StopIteration"
                                   : Py_IS_TYPE(gen, &PyAsyncGen_Type)
                                       ? "async generator raised StopIteration"
                                       : "generator raised StopIteration");
        else if (Py_IS_TYPE(gen, &PyAsyncGen_Type)
                 && PyErr_ExceptionMatches(PyExc_StopAsyncIteration))
            _PyErr_FormatFromCause(PyExc_RuntimeError, "%s",
                                   "async generator raised StopAsyncIteration");
    }
    /* Finished: it cannot run again, so its frame goes (the exception state first: it may
     * hold a traceback that refers to the frame). */
    Py_CLEAR(gen->gi_exc_state.exc_value);
    gen->gi_frame_state = FRAME_CLEARED;
    od_rt_frame_clear(f);
    *res = r;
    return r ? PYGEN_RETURN : PYGEN_ERROR;
}

static inline __attribute__((always_inline)) int
gen_resume(PyThreadState *ts, PyGenObject *gen, PyObject *arg, PyObject **res)
{
    _PyInterpreterFrame *caller = ts->cframe->current_frame;
    void *at;
    OdUnit *u = resume_begin(ts, gen, arg, &at);
    if (!u)
        return OD_GEN_NOT_DIRECT;
    PyObject *r = u->entry((_PyInterpreterFrame *)gen->gi_iframe, ts, u, at);
    return resume_end(ts, gen, u, caller, r, res);
}

int od_rt_gen_resume(PyThreadState *ts, PyGenObject *gen, PyObject *arg, PyObject **res)
{
    return gen_resume(ts, gen, arg, res);
}

/* CPython's own slots while ours are in PyGen_Type's and PyCoro_Type's (NULL otherwise). */
static iternextfunc cpython_gen_iternext;
static sendfunc cpython_gen_am_send, cpython_coro_am_send;
uint64_t od_rt_gen_nexts_direct;

static PyObject *gen_iternext_direct(PyObject *self)
{
    PyObject *res;
    int status = gen_resume(_PyThreadState_GET(), (PyGenObject *)self, NULL, &res);
    if (status == OD_GEN_NOT_DIRECT)
        return cpython_gen_iternext(self);
    od_rt_gen_nexts_direct++;
    if (status == PYGEN_RETURN) {   /* as gen_iternext: the end, its value in StopIteration */
        if (res != Py_None)
            _PyGen_SetStopIterationValue(res);
        Py_CLEAR(res);
    }
    return res;
}

/* PyIter_Send's road (asyncio's task steps, `yield from`/`await` in interpreted code):
 * PyGen_am_send is gen_send_ex2 itself, whose results gen_resume gives. */
static inline PySendResult am_send_direct(PyObject *self, PyObject *arg, PyObject **res,
                                          sendfunc cpython)
{
    int status = gen_resume(_PyThreadState_GET(), (PyGenObject *)self, arg, res);
    if (status == OD_GEN_NOT_DIRECT)
        return cpython(self, arg, res);
    od_rt_gen_nexts_direct++;
    return (PySendResult)status;
}

static PySendResult gen_am_send_direct(PyObject *self, PyObject *arg, PyObject **res)
{
    return am_send_direct(self, arg, res, cpython_gen_am_send);
}

static PySendResult coro_am_send_direct(PyObject *self, PyObject *arg, PyObject **res)
{
    return am_send_direct(self, arg, res, cpython_coro_am_send);
}

void od_rt_gen_slots_install(void)
{
    if (PyGen_Type.tp_iternext == gen_iternext_direct)
        return;
    cpython_gen_iternext = PyGen_Type.tp_iternext;
    PyGen_Type.tp_iternext = gen_iternext_direct;
    cpython_gen_am_send = PyGen_Type.tp_as_async->am_send;
    PyGen_Type.tp_as_async->am_send = gen_am_send_direct;
    cpython_coro_am_send = PyCoro_Type.tp_as_async->am_send;
    PyCoro_Type.tp_as_async->am_send = coro_am_send_direct;
}

void od_rt_gen_slots_uninstall(void)
{
    if (PyGen_Type.tp_iternext != gen_iternext_direct)
        return;
    PyGen_Type.tp_iternext = cpython_gen_iternext;
    PyGen_Type.tp_as_async->am_send = cpython_gen_am_send;
    PyCoro_Type.tp_as_async->am_send = cpython_coro_am_send;
}

/* An async generator's asend()/__anext__() awaitable and the wrapper its yields carry
 * (Objects/genobject.c of 3.11: private layouts of exported types, checked against their
 * sizes before use). */
typedef struct {
    PyObject_HEAD
    PyAsyncGenObject *ags_gen;
    PyObject *ags_sendval;     /* NULL: __anext__(), the same as asend(None) */
    int ags_state;             /* AwaitableState */
} ASend;

enum { AWAITABLE_INIT, AWAITABLE_ITER, AWAITABLE_CLOSED };

typedef struct {
    PyObject_HEAD
    PyObject *value;
} WrappedValue;

/* What PyIter_Send(o, v) does for an asend awaitable `o` (tp_iternext or its send method ->
 * async_gen_asend_send -> gen_send_ex -> async_gen_unwrap_value), in two halves around the
 * generator's run, when it resumes on the direct road: the awaitable's state and the
 * generator's ag_running_async are set first (and put back if the road is refused:
 * NULL, nothing done); afterwards a yielded value (wrapped) comes back as PYGEN_RETURN of
 * the value itself, which is what the StopIteration(value) that the ordinary road raises
 * and PyIter_Send catches amounts to, without raising it; an awaited object's yield passes
 * through (PYGEN_NEXT); the end is StopAsyncIteration (PYGEN_ERROR). The ordinary road
 * reports every misuse with CPython's message. */
static OdUnit *asend_begin(PyThreadState *ts, ASend *o, PyObject *v, void **at)
{
    if (_PyAsyncGenASend_Type.tp_basicsize != (Py_ssize_t)sizeof(ASend)
        || _PyAsyncGenWrappedValue_Type.tp_basicsize != (Py_ssize_t)sizeof(WrappedValue))
        return NULL; /* not the layouts this file knows */
    PyAsyncGenObject *gen = o->ags_gen;
    int state = o->ags_state;
    if (state == AWAITABLE_CLOSED || (state == AWAITABLE_INIT && gen->ag_running_async))
        return NULL;
    PyObject *arg = v == Py_None ? NULL : v;
    if (state == AWAITABLE_INIT && !arg)
        arg = o->ags_sendval;
    char running = gen->ag_running_async;
    o->ags_state = AWAITABLE_ITER;
    gen->ag_running_async = 1;
    OdUnit *u = resume_begin(ts, (PyGenObject *)gen, arg, at);
    if (!u) {
        o->ags_state = state;
        gen->ag_running_async = running;
        return NULL;
    }
    od_rt_async_gen_sends_direct++;
    return u;
}

static int asend_end(PyThreadState *ts, ASend *o, OdUnit *u, _PyInterpreterFrame *caller,
                     PyObject *r, PyObject **res)
{
    PyAsyncGenObject *gen = o->ags_gen;
    int status = resume_end(ts, (PyGenObject *)gen, u, caller, r, &r);
    if (status == PYGEN_NEXT) {
        if (!Py_IS_TYPE(r, &_PyAsyncGenWrappedValue_Type)) {
            *res = r;   /* an await inside yielded: on to the event loop */
            return PYGEN_NEXT;
        }
        *res = Py_NewRef(((WrappedValue *)r)->value);
        Py_DECREF(r);
        gen->ag_running_async = 0;
        o->ags_state = AWAITABLE_CLOSED;
        return PYGEN_RETURN;
    }
    if (status == PYGEN_RETURN) {   /* it returned (None): the end of `async for` */
        Py_DECREF(r);
        PyErr_SetNone(PyExc_StopAsyncIteration);
    }
    if (PyErr_ExceptionMatches(PyExc_StopAsyncIteration)
        || PyErr_ExceptionMatches(PyExc_GeneratorExit))
        gen->ag_closed = 1;
    gen->ag_running_async = 0;
    o->ags_state = AWAITABLE_CLOSED;
    return PYGEN_ERROR;
}

/* SEND's value and receiver taken off the stack after the receiver gave `status` and
 * `retval`: od_rt_send's result. */
static int send_done(PyObject **sp, int status, PyObject *retval)
{
    Py_DECREF(sp[-1]);
    sp[-1] = NULL;
    if (status == PYGEN_ERROR)
        return OD_ERROR; /* the receiver stays */
    if (status == PYGEN_RETURN) {
        Py_DECREF(sp[-2]);
        sp[-2] = retval;
        return OD_JUMP;
    }
    sp[-1] = retval;
    return OD_OK;
}

/* The unit od_rt_send_begin chose, for the code that called it to read at once (the GIL
 * held, nothing runs in between). */
OdUnit *od_rt_send_unit;

OdSendBegin od_rt_send_begin(_PyInterpreterFrame *f, PyObject **sp, void *site)
{
    (void)f; (void)site;
    PyThreadState *ts = _PyThreadState_GET();
    OdSendBegin b = {NULL, OD_DEOPT};
    if (ts->c_tracefunc != NULL)
        return b; /* the interpreter reports StopIteration to the tracer */
    PyObject *v = sp[-1], *receiver = sp[-2], *retval;
    OdUnit *u = NULL;
    PyGenObject *gen = NULL;
    if (Py_IS_TYPE(receiver, &PyGen_Type) || Py_IS_TYPE(receiver, &PyCoro_Type))
        u = resume_begin(ts, gen = (PyGenObject *)receiver, v, &b.at);
    else if (Py_IS_TYPE(receiver, &_PyAsyncGenASend_Type)
             && (u = asend_begin(ts, (ASend *)receiver, v, &b.at)))
        gen = (PyGenObject *)((ASend *)receiver)->ags_gen;
    if (u) {
        od_rt_send_unit = u;
        b.frame = (intptr_t)gen->gi_iframe;
        return b;
    }
    b.at = NULL;
    int status = PyIter_Send(receiver, v, &retval);
    b.frame = send_done(sp, status, retval);
    return b;
}

int od_rt_send_end(_PyInterpreterFrame *f, PyObject **sp, PyObject *r, OdUnit *u)
{
    PyThreadState *ts = _PyThreadState_GET();
    PyObject *receiver = sp[-2], *retval;
    int status = Py_IS_TYPE(receiver, &_PyAsyncGenASend_Type)
                     ? asend_end(ts, (ASend *)receiver, u, f, r, &retval)
                     : resume_end(ts, (PyGenObject *)receiver, u, f, r, &retval);
    return send_done(sp, status, retval);
}

/* SEND in units without the in-line call (compact ones): the two halves around the unit's
 * entry. */
OD_HELPER(od_rt_send)
{
    (void)oparg; (void)arg;
    OdSendBegin b = od_rt_send_begin(f, sp, NULL);
    if (!b.at)
        return (int)b.frame;
    OdUnit *u = od_rt_send_unit;
    PyObject *r = u->entry((_PyInterpreterFrame *)b.frame, _PyThreadState_GET(), u, b.at);
    return od_rt_send_end(f, sp, r, u);
}

/* FOR_ITER the same way: an exact generator on the direct road resumes in the call the
 * FOR_ITER site makes; anything else is od_rt_for_iter's (ops_data.c). */
OdSendBegin od_rt_for_iter_begin(_PyInterpreterFrame *f, PyObject **sp, void *site)
{
    PyObject *iter = sp[-1];
    OdSendBegin b = {NULL, 0};
    if (Py_IS_TYPE(iter, &PyGen_Type)) {
        OdUnit *u = resume_begin(_PyThreadState_GET(), (PyGenObject *)iter, NULL, &b.at);
        if (u) {
            OdOpCache *c = site;   /* what od_rt_for_iter records */
            c->left = c->right = Py_TYPE(iter);
            c->slow++;
            od_rt_send_unit = u;
            b.frame = (intptr_t)((PyGenObject *)iter)->gi_iframe;
            return b;
        }
    }
    b.at = NULL;
    b.frame = od_rt_for_iter(f, sp, 0, site);
    return b;
}

/* Its return value ends the loop like gen_iternext's StopIteration(value), which FOR_ITER
 * clears. */
int od_rt_for_iter_end(_PyInterpreterFrame *f, PyObject **sp, PyObject *r, OdUnit *u)
{
    PyObject *iter = sp[-1], *res;
    int status = resume_end(_PyThreadState_GET(), (PyGenObject *)iter, u, f, r, &res);
    if (status == PYGEN_NEXT) {
        sp[0] = res;
        return OD_OK;
    }
    if (status == PYGEN_ERROR)
        return OD_ERROR;
    Py_DECREF(res);
    sp[-1] = NULL;
    Py_DECREF(iter);
    return OD_JUMP;
}
