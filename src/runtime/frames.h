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

#endif /* OD_RUNTIME_FRAMES_H */
