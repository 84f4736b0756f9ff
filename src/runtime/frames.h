/* runtime/frames.h — calls from compiled code: pushing, running and popping the frames of
 * Python callees; builtins called through their C pointer. */
#ifndef OD_RUNTIME_FRAMES_H
#define OD_RUNTIME_FRAMES_H

#include "unit.h"

/* Call the Python function `callable` (exactly a PyFunction) with `nargs` arguments on its
 * own frame, the last PyTuple_GET_SIZE(kwnames) of them by keyword (kwnames may be NULL).
 * If the call shape is supported, sets *done = 1, consumes the references to `callable`
 * and every argument, and returns the result (NULL with an exception set on error).
 * Otherwise sets *done = 0, consumes nothing and returns NULL: the caller falls back to
 * vectorcall. A callee whose code is compiled is entered directly in its native code. */
PyObject *od_rt_call_python(PyThreadState *ts, PyObject *callable, PyObject **args, int nargs,
                            PyObject *kwnames, int *done);

/* Call the builtin function or method descriptor `callable` (self first) with args[0..total),
 * the last PyTuple_GET_SIZE(kwnames) by keyword, straight through its C pointer, as the
 * specializing interpreter's PRECALL_BUILTIN_* / *_METHOD_DESCRIPTOR_* forms do (`len`,
 * `isinstance`, `list.append` in line) once the calling code is `quickened`, and counting
 * the C recursion as they do. Returns 0 with *res set (a new reference, or NULL with an
 * exception) when it made the call, -1 having done nothing for any other callable or
 * shape (the caller uses vectorcall). The arguments are borrowed. */
int od_rt_call_builtin(PyThreadState *ts, PyObject *callable, PyObject **args, int total,
                       PyObject *kwnames, int quickened, PyObject **res);

/* The PY_INIT form (runtime/ccall.h) for callers outside tier 1's sites (tier 2's C road):
 * od_rt_python_init_of gives the __init__ (borrowed) a call of the class `callable` would
 * run through that form, or NULL when the class does not take it; od_rt_call_python_init
 * then makes the call as the form does (object.__new__, __init__ on its own frame, its
 * result checked to be None, one C call in the recursion depth) with args[0..total), the
 * last PyTuple_GET_SIZE(kwnames) by keyword, borrowed. Returns the instance or NULL with
 * an exception. */
PyObject *od_rt_python_init_of(PyObject *callable);
PyObject *od_rt_call_python_init(PyThreadState *ts, PyObject *callable, PyObject *init,
                                 PyObject **args, int total, PyObject *kwnames);

/* Fill the unit fields the direct call sequence reads (direct_argc and the frame sizes). */
void od_rt_unit_set_direct(OdUnit *u, PyCodeObject *co);

/* The end of a direct call from compiled code (tier1/fast_call.c): native code of `u`
 * returned `res` for `frame`, already unlinked. A NULL result goes through `finish`; then
 * the frame is cleared and popped from the data stack, the locals from `from` on (those
 * below were released by the compiled code; every local when frame_obj or f_locals is set,
 * which the compiled code does not handle). Returns the call's result. */
PyObject *od_rt_direct_return(_PyInterpreterFrame *frame, PyThreadState *ts, PyObject *res,
                              OdUnit *u, PyObject **from);

/* od_rt_direct_return for tier 1's thunk, which answers its call site for it: NULL (raised),
 * else the result stored into `dest` (the call's first slot) and returned, or 2 when
 * tracing is on now (the site exits to the interpreter after the call). */
PyObject *od_rt_direct_return_into(_PyInterpreterFrame *frame, PyThreadState *ts,
                                   PyObject *res, OdUnit *u, PyObject **from, PyObject **dest);

/* _PyFrame_Clear (not exported): release what `frame` holds, or hand it to its escaped
 * frame object. The frame must be unlinked (not the current frame). */
void od_rt_frame_clear(_PyInterpreterFrame *frame);

/* Offset of hook/cstack.h's od_cstack_floor from the thread pointer (%fs:0): the same in
 * every thread (initial-exec TLS), so compiled code reads it as %fs:offset. */
intptr_t od_rt_cstack_floor_tpoff(void);

/* Calls from compiled code that entered the callee's native code directly. */
extern uint64_t od_rt_calls_direct;

/* Set n slots (a call's few arguments or locals) to NULL with plain stores. Written as a
 * loop, gcc turns this into a call of memset, which for the usual 1-4 slots costs more
 * than the stores (pickle_pure_python made 16 M such calls); the empty asm keeps the loop. */
static inline void od_rt_clear_slots(PyObject **p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        p[i] = NULL;
        __asm__ volatile("" ::: "memory");
    }
}

/* Direct entry into compiled code for frames pushed by od_rt_call_python, installed by
 * the hook layer while its eval-frame function is the interpreter's (NULLs otherwise).
 * `hook_eval` is that eval-frame function: the shortcut applies only while it is the one
 * installed. The code object's co_extra slot at `extra_index` is its state, whose first
 * field is the OdUnit pointer (non-NULL once compiled).
 *  - The common case is run here: the callee's native code entered with the frame linked
 *    and counted (hook/enter.c od_unit_run), when the C stack has room, the recursion
 *    limit is not near and the unit is not due for recompilation (`recompile_after`
 *    points at the configured number of native entries, 0 = never; a unit that replaced
 *    another has `retired` set and is never recompiled, nor is a tier-2 unit, whose
 *    native_entries go on from its tier-1 unit's, while tier 2 is on: `tier2_threshold`
 *    >= 0; once it is off, the hook's road demotes it). `finish(ts, frame, unit)` takes
 *    a NULL return from native code (exception or exit to the interpreter).
 *  - Otherwise `enter(ts, frame, state)` does what the hook does after its checks
 *    (fresh, thread-owned, tracing off). */
typedef struct {
    _PyFrameEvalFunction hook_eval;
    PyObject *(*enter)(PyThreadState *ts, _PyInterpreterFrame *frame, void *state);
    PyObject *(*finish)(PyThreadState *ts, _PyInterpreterFrame *frame, OdUnit *u);
    const uint64_t *recompile_after;
    const int *tier2_threshold;
    Py_ssize_t extra_index;
} OdDirectEntry;

extern OdDirectEntry od_rt_direct_entry;

#endif /* OD_RUNTIME_FRAMES_H */
