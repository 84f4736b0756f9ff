/* od_python.h — the one place that pulls in CPython, public and internal headers.
 *
 * Every C file of overdrive includes this instead of <Python.h>, so the internal-API
 * switches (Py_BUILD_CORE_MODULE) and the opcode tables are set up identically everywhere.
 * _PyOpcode_Deopt/_PyOpcode_Caches are not exported by libpython; exactly one translation
 * unit (bytecode/decode.c) defines OD_DEFINE_OPCODE_TABLES to emit private copies. */
#ifndef OD_PYTHON_H
#define OD_PYTHON_H

#define PY_SSIZE_T_CLEAN
#ifndef Py_BUILD_CORE_MODULE
#define Py_BUILD_CORE_MODULE 1
#endif
#ifdef OD_DEFINE_OPCODE_TABLES
#define NEED_OPCODE_TABLES
#endif

#include <Python.h>
#include <frameobject.h>
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_ceval.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_pystate.h"
#include "internal/pycore_runtime.h"
#include "internal/pycore_opcode.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_long.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pymem.h"
#include "opcode.h"

/* co_extra's layout, private to Objects/codeobject.c (_PyCodeObjectExtra) and restated
 * here once: a size, then one slot per index from _PyEval_RequestCodeExtraIndex. */
typedef struct {
    Py_ssize_t ce_size;
    void *ce_extras[1];
} OdCodeExtraLayout;

/* Slot `index` of a code object's co_extra, or NULL when it has none. */
static inline void *od_code_extra_slot(PyCodeObject *co, Py_ssize_t index)
{
    OdCodeExtraLayout *ex = (OdCodeExtraLayout *)co->co_extra;
    return (index >= 0 && ex && ex->ce_size > index) ? ex->ce_extras[index] : NULL;
}

/* d[key] = v for the dicts the introspection functions build: `v` is a new reference (or
 * NULL after a failed conversion, which fails the store), always released. 0 or -1. */
static inline int od_dict_put(PyObject *d, const char *key, PyObject *v)
{
    int err = v ? PyDict_SetItemString(d, key, v) : -1;
    Py_XDECREF(v);
    return err;
}

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "overdrive targets CPython 3.11 exactly"
#endif

#endif /* OD_PYTHON_H */
