/* hook/codestate.c — per-code-object state in co_extra, and the compile entry point. */
#include "hook.h"

#include <stdlib.h>

#include "../asm/codemem.h"
#include "../tier1/compile.h"
#include "events.h"

OdStats od_stats;
uint64_t od_policy_compile_ns, od_policy_compiled_units;
OdConfig od_config = {.threshold = 200, .max_code_bytes = (size_t)512 << 20, .recompile_after = 1000};

Py_ssize_t od_code_extra_index_value = -1; /* set once by od_hook_init */

/* Called by CPython when the code object dies (possibly inside gc): free memory only. */
static void free_state(void *p)
{
    OdCodeState *st = p;
    if (!st)
        return;
    od_unit_free(st->unit);
    free(st);
}

int od_hook_init(void)
{
    if (od_code_extra_index_value >= 0)
        return 0;
    /* Indices are never given back, so request one per process, not per install. */
    od_code_extra_index_value = _PyEval_RequestCodeExtraIndex(free_state);
    if (od_code_extra_index_value < 0) {
        PyErr_SetString(PyExc_RuntimeError, "overdrive: no co_extra index available");
        return -1;
    }
    return 0;
}

Py_ssize_t od_code_extra_index(void) { return od_code_extra_index_value; }

OdCodeState *od_code_state(PyCodeObject *co, int create)
{
    OdCodeState *st = od_code_extra_slot(co, od_code_extra_index_value);
    if (st || !create)
        return st;
    OdCodeExtraLayout *ex = (OdCodeExtraLayout *)co->co_extra;
    st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->has_loop = st->in_stdlib = -1;
    if (!ex) {
        /* Allocate the extra array ourselves, sized to our slot only. _PyCode_SetExtra
         * would size it for every registered user, and code deallocation calls every
         * user's free function for each slot, NULL or not: other users (say a ctypes
         * callback registered by a test) would then be called for every code object the
         * JIT ever touched, possibly after they are gone at shutdown. CPython grows the
         * array itself if another user sets its own slot later. */
        ex = PyMem_Malloc(sizeof(OdCodeExtraLayout) + (size_t)od_code_extra_index_value * sizeof(void *));
        if (!ex) {
            free(st);
            return NULL;
        }
        ex->ce_size = od_code_extra_index_value + 1;
        for (Py_ssize_t i = 0; i < od_code_extra_index_value; i++)
            ex->ce_extras[i] = NULL;
        ex->ce_extras[od_code_extra_index_value] = st;
        co->co_extra = ex;
        return st;
    }
    if (_PyCode_SetExtra((PyObject *)co, od_code_extra_index_value, st) < 0) {
        PyErr_Clear();
        free(st);
        return NULL;
    }
    return st;
}

int od_compile_code(PyCodeObject *co, OdCodeState *st)
{
    if (st->unit)
        return 0;
    if (st->failed)
        return -1;
    od_codemem_set_limit(od_config.max_code_bytes);
    const char *why = NULL;
    OdUnit *u = od_tier1_compile(co, &why);
    if (!u) {
        st->failed = 1;
        st->why_not = why;
        od_stats.compile_failures++;
        return -1;
    }
    st->unit = u;
    od_policy_compile_ns += u->compile_ns;
    od_policy_compiled_units += (uint64_t)Py_SIZE(co);
    od_stats.functions_compiled++;
    od_stats.compile_ns += u->compile_ns;
    od_stats.code_bytes += u->code_size;
    od_stats.instrs_compiled += (uint64_t)u->ninstrs;
    od_event_compiled(co, u);
    return 0;
}

void od_recompile_code(PyCodeObject *co, OdCodeState *st)
{
    OdUnit *old = st->unit;
    const char *why = NULL;
    st->recompile_attempted = 1;    /* first: a recompilation never starts twice */
    od_codemem_set_limit(od_config.max_code_bytes);
    OdUnit *u = od_tier1_recompile(co, old, &why);
    if (!u)
        return;                     /* keep running the first unit */
    /* info() reports the code object's whole history, not the new unit's alone. */
    u->native_entries = old->native_entries;
    memcpy(u->exits, old->exits, sizeof u->exits);
    u->unwinds = old->unwinds;
    u->retired = old;
    st->unit = u;
    od_stats.functions_recompiled++;
    od_stats.compile_ns += u->compile_ns;
    od_stats.code_bytes += u->code_size;
    od_event_compiled(co, u);
}
