/* runtime/frames.h — pushing, running and popping frames for calls from compiled code. */
#ifndef OD_RUNTIME_FRAMES_H
#define OD_RUNTIME_FRAMES_H

#include "../od_python.h"

/* Call the Python function `callable` (exactly a PyFunction) with `nargs` positional
 * arguments on its own frame. If the call shape is supported, sets *done = 1, consumes the
 * references to `callable` and every argument, and returns the result (NULL with an
 * exception set on error). Otherwise sets *done = 0, consumes nothing and returns NULL:
 * the caller falls back to vectorcall. */
PyObject *od_rt_call_python(PyThreadState *ts, PyObject *callable, PyObject **args, int nargs,
                            int *done);

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
 * installed. `enter(ts, frame, state)` runs the frame in compiled code; `state` is the
 * code object's co_extra slot at `extra_index`, whose first field is the OdUnit pointer
 * (non-NULL once compiled). This skips the hook's checks a direct call has already made
 * (fresh, thread-owned, tracing off). */
typedef struct {
    _PyFrameEvalFunction hook_eval;
    PyObject *(*enter)(PyThreadState *ts, _PyInterpreterFrame *frame, void *state);
    Py_ssize_t extra_index;
} OdDirectEntry;

extern OdDirectEntry od_rt_direct_entry;

#endif /* OD_RUNTIME_FRAMES_H */
