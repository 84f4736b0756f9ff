/* tier2/rt/exit.c — leaving tier-2 code (exit.h): materialize the frame state, count,
 * and stop speculating where it keeps failing. */
#include "exit.h"
#include "attr.h"
#include "../../hook/hook.h"
#include "../../asm/codemem.h"

#include <stdlib.h>
#include <string.h>

OdT2Stats od_t2_stats;

static PyObject *value(OdT2Val v, _PyInterpreterFrame *f, char *sp)
{
    char *at = sp + OD_T2VAL_INT(v);
    switch (OD_T2VAL_KIND(v)) {
    case OD_XV_CONST: return Py_XNewRef(OD_T2VAL_OBJ(v));
    case OD_XV_LOCAL: return Py_XNewRef(f->localsplus[OD_T2VAL_INT(v)]);
    case OD_XV_BOXED: return Py_XNewRef(*(PyObject **)at);
    case OD_XV_CINT: return PyLong_FromLongLong(*(long long *)at);
    case OD_XV_CDOUBLE: return PyFloat_FromDouble(*(double *)at);
    case OD_XV_CBOOL: return Py_NewRef(*(long long *)at ? Py_True : Py_False);
    default: return NULL;
    }
}

/* Back to tier 1 (the next frame entry may compile tier 2 again without the failing
 * speculation), if `u` is still what frames enter. */
static void demote(PyCodeObject *co, OdT2Unit *u)
{
    OdCodeState *st = od_code_state(co, 0);
    if (!st || st->unit != &u->unit || !st->tier1)
        return;
    st->unit = st->tier1;
    st->tier1 = NULL;
    if (u->state->compiles >= OD_T2_MAX_COMPILES) {
        u->state->off = 1;
        st->tier2_off = 1;
        od_t2_stats.given_up++;
    }
}

/* The unit-level exit reason (runtime/unit.h) an exit counts as: tier 1's where they mean
 * the same thing. */
static int unit_reason(int reason)
{
    switch (reason) {
    case OD_T2X_TRACING: return OD_EXIT_TRACING;
    case OD_T2X_UNBOUND_LOCAL: return OD_EXIT_UNBOUND_LOCAL;
    case OD_T2X_HELPER_DEOPT: return OD_EXIT_HELPER_DEOPT;
    case OD_T2X_UNSUPPORTED: return OD_EXIT_UNSUPPORTED_OPCODE;
    case OD_T2X_ERROR: return OD_EXIT_TIER2_ERROR;
    default: return OD_EXIT_TIER2_DEOPT;
    }
}

PyObject *od_t2_exit(_PyInterpreterFrame *f, OdT2Unit *u, int exit, char *sp)
{
    OdT2Exit *x = &u->exits[exit];
    PyCodeObject *co = f->f_code;
    int kind = x->kind;
    if (kind == OD_XK_ERROR_OR_DEOPT)
        kind = PyErr_Occurred() ? OD_XK_ERROR : OD_XK_DEOPT;
    int n = x->nlocals + x->depth, failed = 0;
    PyObject *small[64], **vals = n <= 32 ? small : malloc(sizeof(PyObject *) * (size_t)(2 * n));
    if (!vals) {
        /* cannot even hold the state: the frame ends with MemoryError (values leak) */
        PyErr_NoMemory();
        u->unit.exit_pending = 0;
        return NULL;
    }
    PyObject **olds = vals + n;
    PyObject *exc_type = NULL, *exc_val = NULL, *exc_tb = NULL;
    if (kind == OD_XK_ERROR)
        PyErr_Fetch(&exc_type, &exc_val, &exc_tb);  /* boxing below must not see it */
    for (int s = 0; s < n; s++) {
        vals[s] = value(x->slots[s], f, sp);
        if (!vals[s] && OD_T2VAL_KIND(x->slots[s]) >= OD_XV_CINT)
            failed = 1;
    }
    if (kind == OD_XK_ERROR)
        PyErr_Restore(exc_type, exc_val, exc_tb);
    else if (failed)
        kind = OD_XK_ERROR;         /* MemoryError from boxing: raised at this instruction */
    PyObject **lp = f->localsplus;
    for (int s = 0; s < x->nlocals; s++) {
        olds[s] = lp[s];
        lp[s] = vals[s];
    }
    for (int d = 0; d < x->depth; d++)
        lp[co->co_nlocalsplus + d] = vals[x->nlocals + d];
    f->stacktop = co->co_nlocalsplus + x->depth;
    f->prev_instr = _PyCode_CODE(co) + (kind == OD_XK_ERROR ? x->index : x->resume - 1);
    int reason = kind == OD_XK_ERROR ? OD_T2X_ERROR : x->reason;
    x->count++;
    u->state->exits[reason]++;
    od_t2_stats.exits[reason]++;
    u->unit.exit_pending = 1;
    u->unit.throw_pending = kind == OD_XK_ERROR;
    u->unit.last_exit = unit_reason(reason);
    u->unit.last_exit_opcode = x->index < Py_SIZE(co) ? _PyOpcode_Deopt[_Py_OPCODE(_PyCode_CODE(co)[x->index])] : 0;
    if (kind == OD_XK_DEOPT && od_t2_exit_speculative[reason] && x->count >= OD_T2_SPEC_LIMIT
        && x->resume < u->state->ncodeunits) {
        u->state->no_speculate[x->resume] = 1;
        u->stale = 1;
        demote(co, u);
    }
    /* Last: releasing may run finalizers, which see a consistent frame. */
    for (int h = 0; h < x->nheld; h++)
        Py_XDECREF(*(PyObject **)(sp + x->held[h]));
    for (int s = 0; s < x->nlocals; s++)
        Py_XDECREF(olds[s]);
    if (vals != small)
        free(vals);
    return NULL;
}

int od_t2_sync(_PyInterpreterFrame *f, OdT2Unit *u, int exit, char *sp)
{
    const OdT2Exit *x = &u->exits[exit];
    int n = x->nsync;
    od_t2_stats.syncs++;
    PyObject *small[32], **vals = n <= 32 ? small : malloc(sizeof(PyObject *) * (size_t)n);
    PyObject *const same = (PyObject *)&od_t2_stats;    /* a marker, never an object */
    if (!vals) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject **lp = f->localsplus;
    for (int j = 0; j < n; j++) {
        OdT2Val v = x->slots[x->sync[j]];
        int kind = OD_T2VAL_KIND(v);
        PyObject *now = lp[x->sync[j]];
        /* the frame has it already (a loop's invariant written back in an earlier round) */
        if ((kind == OD_XV_BOXED && *(PyObject **)(sp + OD_T2VAL_INT(v)) == now)
            || (kind == OD_XV_LOCAL && lp[OD_T2VAL_INT(v)] == now)) {
            vals[j] = same;
            continue;
        }
        vals[j] = value(v, f, sp);
        if (!vals[j] && kind >= OD_XV_CINT) {
            while (j-- > 0)
                if (vals[j] != same)
                    Py_XDECREF(vals[j]);
            if (vals != small)
                free(vals);
            return -1;
        }
    }
    for (int j = 0; j < n; j++)
        if (vals[j] != same) {
            PyObject *old = lp[x->sync[j]];
            lp[x->sync[j]] = vals[j];
            vals[j] = old;
        }
    /* Last: releasing may run finalizers, which see the frame written back. */
    for (int j = 0; j < n; j++)
        if (vals[j] != same)
            Py_XDECREF(vals[j]);
    if (vals != small)
        free(vals);
    return 0;
}

PyObject *od_t2_exit_entry(_PyInterpreterFrame *f, OdT2Unit *u)
{
    f->stacktop = f->f_code->co_nlocalsplus;
    f->prev_instr = _PyCode_CODE(f->f_code) - 1;
    u->state->exits[OD_T2X_EVAL_BREAKER]++;
    od_t2_stats.exits[OD_T2X_EVAL_BREAKER]++;
    u->unit.exit_pending = 1;
    u->unit.throw_pending = 0;
    u->unit.last_exit = OD_EXIT_TIER2_DEOPT;
    u->unit.last_exit_opcode = RESUME;
    return NULL;
}

PyObject *od_t2_exit_warmup(_PyInterpreterFrame *f, OdT2Unit *u)
{
    f->stacktop = f->f_code->co_nlocalsplus;
    f->prev_instr = _PyCode_CODE(f->f_code) - 1;
    u->unit.exit_pending = 1;
    u->unit.throw_pending = 0;
    u->unit.last_exit = OD_EXIT_WARMUP;
    u->unit.last_exit_opcode = RESUME;
    return NULL;
}

void od_t2_unit_free(OdT2Unit *u)
{
    if (!u)
        return;
    if (u->unit.mem)
        od_codemem_release(u->unit.mem, u->unit.mem_reserved);
    free(u->exits);
    od_t2_attr_sites_free(u->attr_sites, u->nattr_sites);
    free(u->global_sites);
    /* Ints, floats and strs only (no finalizer can run while the code object dies). */
    Py_XDECREF(u->consts);
    free(u);
}

void od_t2_state_free(OdT2State *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->nunits; k++)
        od_t2_unit_free(s->units[k]);
    free(s->units);
    free(s->no_speculate);
    free(s);
}
