/* runtime/gen_resume.c — a compiled generator or coroutine resumed by compiled code
 * (SEND, FOR_ITER), straight into its native code at the instruction after its last yield.
 *
 * The ordinary road is PyIter_Send / tp_iternext -> gen_send_ex2 -> _PyEval_EvalFrame ->
 * the eval-frame hook -> resume_generator -> od_unit_enter: about a hundred instructions of
 * dispatch and checks per value. This file restates, for the fast case only, what that road
 * does (gen_send_ex2 in Objects/genobject.c of 3.11, which libpython does not export; the
 * hook's resume_generator and od_unit_enter, hook/hook.c and hook.h) and refuses everything
 * else before touching anything (gen_resume.h). */
#include "gen_resume.h"

#include "frames.h"
#include "../hook/cstack.h" /* the C stack check every frame entry makes (no other hook API) */

uint64_t od_rt_gen_resumes_direct;

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

int od_rt_gen_resume(PyThreadState *ts, PyGenObject *gen, PyObject *arg, PyObject **res)
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
    if (!r && PyErr_ExceptionMatches(PyExc_StopIteration))
        _PyErr_FormatFromCause(PyExc_RuntimeError, "%s",
                               Py_IS_TYPE(gen, &PyCoro_Type) ? "coroutine raised StopIteration"
                                                             : "generator raised StopIteration");
    /* Finished: it cannot run again, so its frame goes (the exception state first: it may
     * hold a traceback that refers to the frame). */
    Py_CLEAR(gen->gi_exc_state.exc_value);
    gen->gi_frame_state = FRAME_CLEARED;
    od_rt_frame_clear(f);
    *res = r;
    return r ? PYGEN_RETURN : PYGEN_ERROR;
}
