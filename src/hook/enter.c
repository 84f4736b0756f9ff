/* hook/enter.c — run a frame in compiled code with the invariants of cpython311.md Q5:
 * `previous` set (it is uninitialised on a fresh frame), the frame linked as the current
 * frame while it runs, the recursion count balanced, unlinked before returning or before
 * handing over to the interpreter (which links it again itself). */
#include "hook.h"

PyObject *od_unit_run(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u)
{
    _PyCFrame *cf = ts->cframe;
    _PyInterpreterFrame *caller = cf->current_frame;
    f->previous = caller;
    if (_Py_EnterRecursiveCallTstate(ts, "")) /* restores the count when it fails */
        return NULL;
    cf->current_frame = f;
    u->native_entries++;
    PyObject *res = u->entry(f, ts, u);
    cf->current_frame = caller;
    _Py_LeaveRecursiveCallTstate(ts);
    if (res || PyErr_Occurred())
        return res; /* returned, or raised with no handler in this frame */
    /* Exit: prev_instr and stacktop say where the interpreter continues. */
    u->exits[u->last_exit]++;
    od_stats.exits[u->last_exit]++;
    od_stats.exits_by_opcode[u->last_exit_opcode & 255]++;
    return _PyEval_EvalFrameDefault(ts, f, 0);
}
