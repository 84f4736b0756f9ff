/* hook/enter.c — run a frame in compiled code with the invariants of cpython311.md Q5:
 * `previous` set (it is uninitialised on a fresh frame), the frame linked as the current
 * frame while it runs, the recursion count balanced, unlinked before returning or before
 * handing over to the interpreter (which links it again itself). */
#include "hook.h"

#include "events.h"
#include "../tier2/tier2.h"
#include "../runtime/helpers.h"

void *od_unit_throw_target(_PyInterpreterFrame *f, OdUnit *u)
{
    /* The interpreter's `resume_with_error`: this frame's traceback entry, then its handler
     * for the instruction it is suspended at (with the value gen_send_ex2 pushed on its
     * stack); none: the frame raises (or, tracing on, exits). */
    PyCodeObject *co = f->f_code;
    return od_rt_error(f, u, (int)(f->prev_instr - _PyCode_CODE(co)),
                       f->stacktop - co->co_nlocalsplus);
}

PyObject *od_unit_run(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u, void *resume_at)
{
    return od_unit_enter(ts, f, u, resume_at);
}

PyObject *od_unit_finish(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u)
{
    _PyCFrame *cf = ts->cframe;
    int throwflag = u->throw_pending, exited = u->exit_pending;
    u->throw_pending = u->exit_pending = 0;
    if (!exited) {
        /* Raised with no handler in this frame. NULL without an exception would be a bug in
         * a helper: report it rather than resume the interpreter at an arbitrary place. */
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "overdrive: compiled code failed without an exception");
        return NULL;
    }
    if (u->last_exit == OD_EXIT_OSR && !throwflag) {
        /* hot loop code: on to its full unit, or to the one compiled from its sites */
        if (u->tier == 1 && (u->compact || od_config.tier2_threshold < 0))
            return od_upgrade_loop(ts, f, u);
        return od_tier2_osr(ts, f, u);      /* a hot loop: tier 2 takes over, or u goes on */
    }
    /* Exit: prev_instr and stacktop say where the interpreter continues. */
    u->exits[u->last_exit]++;
    od_stats.exits[u->last_exit]++;
    od_stats.exits_by_opcode[u->last_exit_opcode & 255]++;
    od_event_exit(u, f);
    if (throwflag && ts->c_tracefunc != NULL) {
        /* Entered with throwflag and tracing on, the interpreter would report a 'call'
         * event for a frame that is not starting. With use_tracing clear at entry it skips
         * that; its error path still reports 'exception' (it checks c_tracefunc), and
         * leaving the tracer turns use_tracing back on for the handler's line events. */
        cf->use_tracing = 0;
    }
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}
