/* module/introspect.h — the part of _overdrive that tools use to look inside compiled code:
 * native code and where each bytecode instruction landed in it, inline-cache contents,
 * names of the functions compiled code calls, and the switches of the log and perf map
 * (overdrive.dis, overdrive.log, overdrive.perfmap). Argument checking and conversion only,
 * like the rest of module/. */
#ifndef OD_MODULE_INTROSPECT_H
#define OD_MODULE_INTROSPECT_H

#include "../od_python.h"

/* Add the introspection functions to the module `m` and return it; on failure (or if `m`
 * is NULL) release it and return NULL with an exception set. Written to wrap the module's
 * creation: `return od_introspect_add(PyModule_Create(&def));`. */
PyObject *od_introspect_add(PyObject *m);

/* An int argument `name` of the module function `func` in [lo, hi] into *out: 0, or -1
 * with TypeError (not an int, or a bool) or ValueError (out of range, the bounds and the
 * value in the message) set. Nothing is ever truncated or wrapped. */
int od_int_arg(PyObject *v, const char *func, const char *name, long long lo, long long hi,
               long long *out);

#endif /* OD_MODULE_INTROSPECT_H */
