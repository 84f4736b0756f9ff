/* runtime/gen_resume.c — a compiled generator, coroutine or async generator resumed by
 * compiled code (SEND, FOR_ITER), straight into its native code at the instruction after
 * its last yield; and SEND's helper, which takes that road for generators, coroutines and
 * the asend()/__anext__() awaitables of `async for`.
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
static inline OdUnit *resumable_unit(PyThreadState *ts, _PyInterpreterFrame *f, void **at)
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
    int next = (int)(f->prev_instr - _PyCode_CODE(co)) + 1;
    if (next <= 0 || next >= u->ncodeunits || !(*at = od_unit_native_at(u, next)))
        return NULL;
    return u;
}

/* od_rt_gen_resume's work, in line in this file's SEND helper: one C frame fewer per
 * level of `yield from` / `await` (a chain of them is as deep in C as in generators). */
static inline __attribute__((always_inline)) int
gen_resume(PyThreadState *ts, PyGenObject *gen, PyObject *arg, PyObject **res)
{
    _PyInterpreterFrame *f = (_PyInterpreterFrame *)gen->gi_iframe;
    int8_t state = gen->gi_frame_state;
    /* Suspended, or created and sent None (anything else sent to a just-started generator,
     * and running or finished ones, are errors or corner cases: gen_send_ex2's). */
    if (state != FRAME_SUSPENDED
        && !(state == FRAME_CREATED && (!arg || arg == Py_None)))
        return OD_GEN_NOT_DIRECT;
    void *at;
    OdUnit *u = resumable_unit(ts, f, &at);
    if (!u)
        return OD_GEN_NOT_DIRECT;
    od_rt_gen_resumes_direct++;

    /* gen_send_ex2: the value sent goes on the generator's stack (its next instruction,
     * native or not, consumes it), the frame links to the current one, and the generator's
     * exception state stacks on the thread's (sys.exc_info() inside sees the consumer's
     * exception while the generator handles none). */
    _PyFrame_StackPush(f, Py_NewRef(arg ? arg : Py_None));
    _PyCFrame *cf = ts->cframe;
    _PyInterpreterFrame *caller = cf->current_frame;
    f->previous = caller;
    gen->gi_exc_state.previous_item = ts->exc_info;
    ts->exc_info = &gen->gi_exc_state;
    gen->gi_frame_state = FRAME_EXECUTING;

    /* od_unit_enter for a resume (recursion limit checked above). */
    ts->recursion_remaining--;
    cf->current_frame = f;
    u->native_entries++;
    f->stacktop = -1; /* as the interpreter keeps it while a generator frame runs */
    PyObject *r = u->entry(f, ts, u, at);
    cf->current_frame = caller;
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

int od_rt_gen_resume(PyThreadState *ts, PyGenObject *gen, PyObject *arg, PyObject **res)
{
    return gen_resume(ts, gen, arg, res);
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
 * async_gen_asend_send -> gen_send_ex -> async_gen_unwrap_value), when its generator
 * resumes on the direct road: a yielded value (wrapped) comes back as PYGEN_RETURN of the
 * value itself, which is what the StopIteration(value) that the ordinary road raises and
 * PyIter_Send catches amounts to, without raising it; an awaited object's yield passes
 * through (PYGEN_NEXT); the end is StopAsyncIteration (PYGEN_ERROR). OD_GEN_NOT_DIRECT,
 * nothing done: the ordinary road, which reports every misuse with CPython's message. */
static int asend_resume(PyThreadState *ts, ASend *o, PyObject *v, PyObject **res)
{
    if (_PyAsyncGenASend_Type.tp_basicsize != (Py_ssize_t)sizeof(ASend)
        || _PyAsyncGenWrappedValue_Type.tp_basicsize != (Py_ssize_t)sizeof(WrappedValue))
        return OD_GEN_NOT_DIRECT; /* not the layouts this file knows */
    PyAsyncGenObject *gen = o->ags_gen;
    int state = o->ags_state;
    if (state == AWAITABLE_CLOSED || (state == AWAITABLE_INIT && gen->ag_running_async))
        return OD_GEN_NOT_DIRECT;
    PyObject *arg = v == Py_None ? NULL : v;
    if (state == AWAITABLE_INIT && !arg)
        arg = o->ags_sendval;
    char running = gen->ag_running_async;
    o->ags_state = AWAITABLE_ITER;
    gen->ag_running_async = 1;
    PyObject *r;
    int status = gen_resume(ts, (PyGenObject *)gen, arg, &r);
    if (status == OD_GEN_NOT_DIRECT) {
        o->ags_state = state;
        gen->ag_running_async = running;
        return OD_GEN_NOT_DIRECT;
    }
    od_rt_async_gen_sends_direct++;
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

/* SEND (`yield from`, `await`, `async for`): generators, coroutines and asend awaitables
 * on the direct road, everything else through PyIter_Send. */
OD_HELPER(od_rt_send)
{
    (void)oparg; (void)arg; (void)f;
    PyThreadState *ts = _PyThreadState_GET();
    if (ts->c_tracefunc != NULL)
        return OD_DEOPT; /* the interpreter reports StopIteration to the tracer */
    PyObject *v = sp[-1], *receiver = sp[-2], *retval;
    int status = OD_GEN_NOT_DIRECT;
    if (Py_IS_TYPE(receiver, &PyGen_Type) || Py_IS_TYPE(receiver, &PyCoro_Type))
        status = gen_resume(ts, (PyGenObject *)receiver, v, &retval);
    else if (Py_IS_TYPE(receiver, &_PyAsyncGenASend_Type))
        status = asend_resume(ts, (ASend *)receiver, v, &retval);
    if (status == OD_GEN_NOT_DIRECT)
        status = PyIter_Send(receiver, v, &retval);
    Py_DECREF(v);
    sp[-1] = NULL;
    if (status == PYGEN_ERROR)
        return OD_ERROR; /* the receiver stays */
    if (status == PYGEN_RETURN) {
        Py_DECREF(receiver);
        sp[-2] = retval;
        return OD_JUMP;
    }
    sp[-1] = retval;
    return OD_OK;
}
