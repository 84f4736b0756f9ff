/* tier2/tier2.c — tier 2's entry points (tier2.h): Python objects in and out. */
#include "tier2.h"

#include "hir/hir.h"
#include "hir/feedback.h"
#include "passes/passes.h"
#include "../hook/hook.h"

#include <string.h>

static int add_stage(PyObject *list, const char *name, OdHirFunc *fn)
{
    if (od_hir_verify(fn) < 0) {
        PyErr_Format(PyExc_AssertionError, "HIR verifier after %s: %s", name, fn->reason);
        return -1;
    }
    PyObject *text = od_hir_print(fn);
    if (!text)
        return -1;
    PyObject *item = Py_BuildValue("(sN)", name, text);
    if (!item)
        return -1;
    int err = PyList_Append(list, item);
    Py_DECREF(item);
    return err;
}

static int build(OdHirFunc *fn, PyCodeObject *co)
{
    int r = od_hir_build(fn, co);
    if (r == 1)
        PyErr_Format(PyExc_ValueError, "tier 2 cannot build %U: %s", co->co_qualname, fn->reason);
    return r == 0 ? 0 : -1;
}

/* Tier 1's unit of `co`, if it has one (its sites are feedback). */
static const OdUnit *tier1_unit(PyCodeObject *co)
{
    OdCodeState *st = od_code_state(co, 0);
    return !st ? NULL : st->tier1 ? st->tier1 : st->unit;
}

PyObject *od_tier2_hir_stages(PyCodeObject *co, PyObject *func, PyObject *passes)
{
    PyObject *names = NULL, *list = NULL;
    if (passes == Py_None) {
        if (!(names = PyList_New(0)))
            return NULL;
        for (int k = 0; k < od_hir_npasses; k++) {
            PyObject *s = PyUnicode_FromString(od_hir_passes[k].name);
            if (!s || PyList_Append(names, s) < 0) {
                Py_XDECREF(s);
                Py_DECREF(names);
                return NULL;
            }
            Py_DECREF(s);
        }
    } else if (!(names = PySequence_Fast(passes, "passes must be a sequence of pass names"))) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *s = PySequence_Fast_GET_ITEM(names, k);
        const char *c = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
        if (!c || !od_hir_find_pass(c)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "unknown tier-2 pass %R", s);
            Py_DECREF(names);
            return NULL;
        }
    }
    OdHirFunc fn;
    OdFeedback fb;
    PyObject *globals = PyFunction_Check(func) ? ((PyFunctionObject *)func)->func_globals : NULL;
    PyObject *builtins = PyFunction_Check(func) ? ((PyFunctionObject *)func)->func_builtins : NULL;
    if (od_feedback_init(&fb, co, tier1_unit(co), globals, builtins) < 0) {
        Py_DECREF(names);
        return NULL;
    }
    if (build(&fn, co) < 0)
        goto fail;
    fn.feedback = &fb;
    if (!(list = PyList_New(0)) || add_stage(list, "build", &fn) < 0)
        goto fail;
    for (Py_ssize_t k = 0; k < n; k++) {
        const OdHirPass *p = od_hir_find_pass(PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(names, k)));
        if (p->run(&fn) < 0 || add_stage(list, p->name, &fn) < 0)
            goto fail;
    }
    od_hir_free(&fn);
    od_feedback_free(&fb);
    Py_DECREF(names);
    return list;
fail:
    od_hir_free(&fn);
    od_feedback_free(&fb);
    Py_XDECREF(list);
    Py_DECREF(names);
    return NULL;
}

PyObject *od_tier2_hir_corrupt(PyCodeObject *co, const char *what)
{
    OdHirFunc fn;
    if (build(&fn, co) < 0) {
        od_hir_free(&fn);
        return NULL;
    }
    PyObject *result = NULL;
    if (od_hir_verify(&fn) < 0) {
        PyErr_Format(PyExc_AssertionError, "HIR verifier before damage: %s", fn.reason);
    } else if (od_hir_corrupt(&fn, what) < 0) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "cannot damage HIR with %s here", what);
    } else if (od_hir_verify(&fn) < 0) {
        result = PyUnicode_FromString(fn.reason);
    } else {
        result = Py_NewRef(Py_None);
    }
    od_hir_free(&fn);
    return result;
}

PyObject *od_tier2_passes(void)
{
    PyObject *list = PyList_New(0);
    for (int k = 0; list && k < od_hir_npasses; k++) {
        PyObject *item = Py_BuildValue("(ss)", od_hir_passes[k].name, od_hir_passes[k].description);
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

/* A type from its text, a class, (class, version), or a handle (bits, class-or-None, version). */
static int as_type(PyObject *o, OdType *t)
{
    if (PyType_Check(o)) {
        *t = od_type_of_class((PyTypeObject *)o, 0);
        return 0;
    }
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == 2 && PyType_Check(PyTuple_GET_ITEM(o, 0))) {
        unsigned long v = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 1));
        if (PyErr_Occurred())
            return -1;
        *t = od_type_of_class((PyTypeObject *)PyTuple_GET_ITEM(o, 0), (unsigned int)v);
        return 0;
    }
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == 3) {
        PyObject *cls = PyTuple_GET_ITEM(o, 1);
        unsigned long bits = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 0));
        unsigned long v = PyErr_Occurred() ? 0 : PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 2));
        if (PyErr_Occurred())
            return -1;
        if (bits > OD_TB_ALL || (cls != Py_None && !PyType_Check(cls))) {
            PyErr_Format(PyExc_ValueError, "not a tier-2 type handle: %R", o);
            return -1;
        }
        OdType r = {(uint32_t)bits, cls == Py_None ? NULL : (PyTypeObject *)cls, (unsigned int)v};
        *t = od_type_join(r, od_type_named(OD_TN_Bottom));     /* normalized */
        return 0;
    }
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s && od_type_parse(s, t) == 0)
        return 0;
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "not a tier-2 type: %R", o);
    return -1;
}

PyObject *od_tier2_type_op(const char *op, PyObject *a, PyObject *b)
{
    OdType ta, tb, r;
    if (as_type(a, &ta) < 0 || (b != NULL && as_type(b, &tb) < 0))
        return NULL;
    if (strcmp(op, "str") == 0) {
        char buf[256];
        od_type_format(ta, buf, sizeof(buf));
        return PyUnicode_FromString(buf);
    }
    if (!b)
        return PyErr_Format(PyExc_TypeError, "type operation %s takes two types", op);
    if (strcmp(op, "sub") == 0)
        return PyBool_FromLong(od_type_sub(ta, tb));
    if (strcmp(op, "join") == 0)
        r = od_type_join(ta, tb);
    else if (strcmp(op, "meet") == 0)
        r = od_type_meet(ta, tb);
    else
        return PyErr_Format(PyExc_ValueError, "unknown type operation %s", op);
    return Py_BuildValue("(kOk)", (unsigned long)r.bits, r.cls ? (PyObject *)r.cls : Py_None,
                         (unsigned long)r.version);
}

PyObject *od_tier2_type_names(void)
{
    PyObject *list = PyList_New(0);
    for (int k = 0; list && k < OD_TN__COUNT; k++) {
        PyObject *s = PyUnicode_FromString(od_type_name_str((OdTypeName)k));
        if (!s || PyList_Append(list, s) < 0)
            Py_CLEAR(list);
        Py_XDECREF(s);
    }
    return list;
}

/* ---- compiling and running ----------------------------------------------------------- */

#include "lir/lir.h"
#include "rt/exit.h"
#include "rt/helpers.h"
#include "rt/attr.h"
#include "rt/call_thunk.h"
#include "../asm/codemem.h"
#include "../hook/events.h"
#include "../runtime/clock.h"
#include "../runtime/frames.h"

#include <stdio.h>
#include <stdlib.h>

static OdT2State *state_of(PyCodeObject *co, OdCodeState *st)
{
    if (st->tier2)
        return st->tier2;
    OdT2State *s = calloc(1, sizeof *s);
    if (!s || !(s->no_speculate = calloc((size_t)Py_SIZE(co) + 1, 1))) {
        free(s);
        return NULL;
    }
    s->ncodeunits = (int)Py_SIZE(co);
    st->tier2 = s;
    return s;
}

/* Constants an exit may box from (folded ints, floats, strs): only kinds whose release
 * runs no Python code, since the unit dies in the code object's free function. */
static PyObject *safe_consts(PyObject *refs)
{
    PyObject *out = PyList_New(0);
    for (Py_ssize_t k = 0; out && refs && k < PyList_GET_SIZE(refs); k++) {
        PyObject *o = PyList_GET_ITEM(refs, k);
        if ((PyLong_CheckExact(o) || PyFloat_CheckExact(o) || PyUnicode_CheckExact(o) ||
             PyBool_Check(o) || o == Py_None) && PyList_Append(out, o) < 0)
            Py_CLEAR(out);
    }
    /* Atomic objects only: no cycle to find, and compiling must not add an object to
     * gc.get_objects() (test_descr counts them around a loop whose callee compiles). */
    if (out)
        PyObject_GC_UnTrack(out);
    return out;
}

/* One frame-state value packed for the run time (exit.h OdT2Val). */
static OdT2Val pack_val(const OdLirVal *v)
{
    intptr_t arg = v->kind == OD_XV_LOCAL ? v->local : v->off;
    if (v->kind == OD_XV_CONST)
        return (OdT2Val)(uintptr_t)v->obj | OD_XV_CONST;
    return (OdT2Val)((uintptr_t)arg << 3) | (OdT2Val)v->kind;
}

/* The exits in one malloc'd block: the records, then every exit's packed values, then the
 * held offsets and write-back lists. */
static OdT2Exit *copy_exits(const OdLir *L)
{
    size_t vals = 0, held = 0, ints = 0;
    for (int e = 0; e < L->nexits; e++) {
        vals += (size_t)(L->exits[e].nlocals + L->exits[e].depth);
        held += (size_t)L->exits[e].nheld;
        ints += (size_t)L->exits[e].nsync;
    }
    OdT2Exit *x = malloc(sizeof(OdT2Exit) * (size_t)(L->nexits + 1) + sizeof(OdT2Val) * (vals + 1)
                         + sizeof(int32_t) * (held + 1) + sizeof(int) * (ints + 1));
    if (!x)
        return NULL;
    OdT2Val *v = (OdT2Val *)(x + L->nexits + 1);
    int32_t *h = (int32_t *)(v + vals + 1);
    int *k = (int *)(h + held + 1);
    for (int e = 0; e < L->nexits; e++) {
        const OdLirExit *from = &L->exits[e];
        OdT2Exit *to = &x[e];
        to->kind = from->kind;
        to->reason = from->reason;
        to->resume = from->resume;
        to->index = from->index;
        to->nlocals = from->nlocals;
        to->depth = from->depth;
        to->nheld = from->nheld;
        to->nsync = from->nsync;
        to->count = 0;
        to->slots = v;
        for (int s = 0; s < from->nlocals + from->depth; s++)
            *v++ = pack_val(&from->slots[s]);
        to->held = h;
        for (int s = 0; s < from->nheld; s++)
            *h++ = from->held[s].off;
        to->sync = k;
        if (from->nsync)
            memcpy(k, from->sync, sizeof(int) * (size_t)from->nsync);
        k += from->nsync;
    }
    return x;
}

/* Whether a unit of func's code gets the entry for calls one argument short (call_thunk.h):
 * only when the function it is compiled for has defaults (other functions of the code may
 * too; the thunk checks each call's own func_defaults). */
static int has_defaults(PyObject *func)
{
    return func && PyFunction_Check(func) && ((PyFunctionObject *)func)->func_defaults
           && PyTuple_GET_SIZE(((PyFunctionObject *)func)->func_defaults) > 0;
}

/* HIR through the default pipeline, LIR, registers, machine code. 0 with *out; 1 refused
 * (s->reason); -1 exception. `text`: also the LIR's text. */
static int compile_unit(PyCodeObject *co, OdT2State *s, const OdUnit *tier1, PyObject *globals,
                        PyObject *builtins, OdT2Unit **out, PyObject **text, int osr,
                        const unsigned char *bound, int short_entry)
{
    uint64_t t0 = od_clock_ns();
    OdHirFunc fn;
    OdFeedback fb;
    OdLir L;
    int rc = -1, have_lir = 0;
    memset(&L, 0, sizeof L);
    if (od_feedback_init(&fb, co, tier1, globals, builtins) < 0)
        return -1;
    int r = od_hir_build_osr(&fn, co, osr, bound);
    if (r != 0) {
        snprintf(s->reason, sizeof s->reason, "%s", r == 1 ? fn.reason : "error");
        rc = r;
        goto done;
    }
    fn.feedback = &fb;
    fn.no_speculate = s->no_speculate;
    for (int k = 0; k < od_hir_npasses; k++)
        if (od_hir_passes[k].run(&fn) < 0)
            goto done;
    if (od_hir_verify(&fn) < 0) {
        snprintf(s->reason, sizeof s->reason, "HIR verifier: %s", fn.reason);
        rc = 1;
        goto done;
    }
    r = od_lir_lower(&L, &fn);
    have_lir = 1;
    if (r != 0) {
        snprintf(s->reason, sizeof s->reason, "%s", r == 1 ? L.reason : "error");
        rc = r;
        goto done;
    }
    void *code;
    size_t size, reserved;
    L.short_entry = short_entry;
    /* the unit before its code: the call thunk's own entry has its address as an
     * immediate (rt/call_thunk.h) */
    OdT2Unit *u = calloc(1, sizeof *u);
    if (!u) {
        PyErr_NoMemory();
        goto done;
    }
    L.unit = &u->unit;
    if (od_lir_regalloc(&L) < 0 || od_lir_codegen(&L, &code, &size, &reserved) < 0) {
        free(u);
        goto done;
    }
    u->exits = copy_exits(&L);
    u->consts = safe_consts(fn.refs);
    if (!u->exits || !u->consts) {   /* native_at_unit stays NULL: no per-instruction
                                      * entry points in tier 2 */
        od_codemem_release(code, reserved);
        free(u->exits);
        Py_XDECREF(u->consts);
        free(u);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    u->nexits = L.nexits;
    u->attr_sites = L.attr_sites;       /* the unit's now: its code points into them */
    u->nattr_sites = L.nattr_sites;
    L.attr_sites = NULL;
    u->global_sites = L.global_sites;
    L.global_sites = NULL;
    u->osr = osr;
    u->state = s;
    u->unit.code = co;
    u->unit.entry = (OdEntry)code;
    u->unit.mem = code;
    u->unit.mem_reserved = reserved;
    u->unit.code_size = size;
    u->unit.tier = 2;
    /* what tier 1's direct calls read (runtime/frames.h): without it a call with no
     * arguments would match direct_argc 0 and push a frame of 0 bytes */
    od_rt_unit_set_direct(&u->unit, co);
    if (L.direct_entry_off > 0 && u->unit.direct_argc == co->co_argcount)
    {
        u->unit.t2_direct_entry = (char *)code + L.direct_entry_off;
        if (L.short_entry_off > 0)
            u->unit.t2_short_entry = (char *)code + L.short_entry_off;
    }
    u->unit.ninstrs = L.bc.ninstrs;
    u->unit.ncodeunits = (int)Py_SIZE(co);
    u->unit.compile_ns = od_clock_ns() - t0;
    if (text && !(*text = od_lir_print(&L))) {
        od_t2_unit_free(u);
        goto done;
    }
    *out = u;
    rc = 0;
done:
    if (have_lir)
        od_lir_free(&L);
    od_hir_free(&fn);
    od_feedback_free(&fb);
    return rc;
}

void od_tier2_promote(PyCodeObject *co, OdCodeState *st, _PyInterpreterFrame *f)
{
    OdT2State *s = state_of(co, st);
    if (!s || s->off || (co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR))) {
        st->tier2_off = 1;
        if (s && !s->off) {
            s->off = 1;
            snprintf(s->reason, sizeof s->reason, "generator or coroutine");
            od_t2_stats.refused++;
        }
        return;
    }
    OdT2Unit **grown = realloc(s->units, sizeof(OdT2Unit *) * (size_t)(s->nunits + 1));
    if (!grown) {
        st->tier2_off = 1;
        return;
    }
    s->units = grown;
    s->compiles++;
    OdT2Unit *u = NULL;
    PyObject *exc_type, *exc_val, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_val, &exc_tb);
    int r = compile_unit(co, s, st->unit, f->f_globals, f->f_builtins, &u, NULL, -1, NULL,
                         has_defaults((PyObject *)f->f_func));
    if (r != 0) {
        if (r < 0) {
            snprintf(s->reason, sizeof s->reason, "compile error");
            PyErr_Clear();
        }
        PyErr_Restore(exc_type, exc_val, exc_tb);
        s->off = 1;
        st->tier2_off = 1;
        od_t2_stats.refused++;
        return;
    }
    PyErr_Restore(exc_type, exc_val, exc_tb);
    s->units[s->nunits++] = u;
    u->unit.native_entries = st->unit->native_entries;
    memcpy(u->unit.exits, st->unit->exits, sizeof u->unit.exits);
    st->tier1 = st->unit;
    st->unit = &u->unit;
    od_t2_stats.compiled++;
    if (s->compiles > 1)
        od_t2_stats.recompiled++;
    if (s->compiles >= OD_T2_MAX_COMPILES)
        st->tier2_off = 1;       /* this unit is the last: a storm sends it to tier 1 for good */
    od_stats.compile_ns += u->unit.compile_ns;
    od_stats.code_bytes += u->unit.code_size;
    od_event_compiled(co, &u->unit);     /* the compile log and the perf map */
}

/* ---- on-stack replacement ----------------------------------------------------------------- */

/* The OSR unit of `co` for the loop header at code unit `header`: one made before (and not
 * stale), or a new one (the code's normal tier-2 unit is made first: later calls enter it).
 * NULL when tier 2 refuses the code or has given up on it. */
static OdT2Unit *osr_unit(PyCodeObject *co, OdCodeState *st, _PyInterpreterFrame *f,
                          const OdUnit *tier1, int header)
{
    if (st->unit->tier == 1 && !st->tier2_off)
        od_tier2_promote(co, st, f);
    OdT2State *s = st->tier2;
    if (!s || s->off)
        return NULL;
    for (int k = s->nunits - 1; k >= 0; k--)
        if (s->units[k]->osr == header && !s->units[k]->stale)
            return s->units[k];
    if (s->osr_compiles >= OD_T2_MAX_COMPILES)
        return NULL;
    OdT2Unit **grown = realloc(s->units, sizeof(OdT2Unit *) * (size_t)(s->nunits + 1));
    if (!grown)
        return NULL;
    s->units = grown;
    s->osr_compiles++;
    /* What the locals hold now is guarded at entry (the same at the next OSR entry,
     * mostly): bound, and an exact float or small int as such (hir.h OD_OSR_*). */
    int nl = co->co_nlocals;
    unsigned char small[64], *bound = nl <= 64 ? small : malloc((size_t)nl);
    if (!bound)
        return NULL;
    for (int k = 0; k < nl; k++) {
        PyObject *v = f->localsplus[k];
        bound[k] = !v ? OD_OSR_UNBOUND : PyFloat_CheckExact(v) ? OD_OSR_FLOAT
                   : PyLong_CheckExact(v) && Py_ABS(Py_SIZE(v)) <= 2 ? OD_OSR_INT : OD_OSR_OBJECT;
    }
    OdT2Unit *u = NULL;
    PyObject *exc_type, *exc_val, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_val, &exc_tb);
    int r = compile_unit(co, s, tier1, f->f_globals, f->f_builtins, &u, NULL, header, bound, 0);
    if (r < 0)
        PyErr_Clear();
    PyErr_Restore(exc_type, exc_val, exc_tb);
    if (bound != small)
        free(bound);
    if (r != 0)
        return NULL;      /* refused at this header (s->reason says why); tier 1 goes on */
    u->unit.direct_argc = -1;      /* never what a call enters */
    s->units[s->nunits++] = u;
    od_t2_stats.osr_compiled++;
    od_stats.compile_ns += u->unit.compile_ns;
    od_stats.code_bytes += u->unit.code_size;
    od_event_compiled(co, &u->unit);
    return u;
}

PyObject *od_tier2_osr(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u)
{
    PyCodeObject *co = f->f_code;
    int header = (int)(f->prev_instr + 1 - _PyCode_CODE(co));
    /* Not counted as an exit: the frame stays in compiled code (info()'s "tier2" counts
     * the OSR entries). */
    OdCodeState *st = od_code_state(co, 0);
    OdT2Unit *o = NULL;
    if (st && st->unit && od_config.tier2_threshold >= 0 && !ts->cframe->use_tracing)
        o = osr_unit(co, st, f, u, header);
    if (o) {
        /* Other frames of this code may still run tier 1 (recursion, other threads). */
        u->osr_counter = od_osr_backedges() ? od_osr_backedges() : INT32_MAX;
        o->state->osr_entries++;
        od_t2_stats.osr_entries++;
        f->stacktop = co->co_nlocalsplus;   /* the stack's references move into the code */
        return od_unit_enter(ts, f, &o->unit, NULL);
    }
    /* No OSR entry here: this unit stops counting (a refusal does not change) and the
     * frame goes on where it left. */
    u->osr_counter = INT32_MAX;
    void *at = od_unit_native_at(u, header);
    if (at && !ts->cframe->use_tracing)
        return od_unit_enter(ts, f, u, at);
    return _PyEval_EvalFrameDefault(ts, f, 0);
}

void od_tier2_state_free(void *state) { od_t2_state_free(state); }

void od_tier2_demote(OdCodeState *st)
{
    if (st->unit && st->unit->tier == 2 && st->tier1) {
        st->unit = st->tier1;
        st->tier1 = NULL;
    }
}

PyObject *od_tier2_lir_text(PyCodeObject *co, PyObject *func)
{
    OdT2State s;
    memset(&s, 0, sizeof s);
    s.ncodeunits = (int)Py_SIZE(co);
    if (!(s.no_speculate = calloc((size_t)Py_SIZE(co) + 1, 1)))
        return PyErr_NoMemory();
    OdCodeState *st = od_code_state(co, 0);
    OdT2State *live = st ? st->tier2 : NULL;
    if (live)
        memcpy(s.no_speculate, live->no_speculate, (size_t)Py_SIZE(co));
    PyObject *globals = PyFunction_Check(func) ? ((PyFunctionObject *)func)->func_globals : NULL;
    PyObject *builtins = PyFunction_Check(func) ? ((PyFunctionObject *)func)->func_builtins : NULL;
    OdT2Unit *u = NULL;
    PyObject *text = NULL;
    int r = compile_unit(co, &s, tier1_unit(co), globals, builtins, &u, &text, -1, NULL,
                         has_defaults(func));
    free(s.no_speculate);
    if (r == 1)
        return PyErr_Format(PyExc_ValueError, "tier 2 cannot compile %U: %s", co->co_qualname, s.reason);
    if (r < 0)
        return NULL;
    od_t2_unit_free(u);
    return text;
}

PyObject *od_tier2_info(PyCodeObject *co)
{
    OdCodeState *st = od_code_state(co, 0);
    OdT2State *s = st ? st->tier2 : NULL;
    PyObject *d = PyDict_New(), *ex = PyDict_New();
    if (!d || !ex)
        goto fail;
    for (int k = 0; s && k < OD_T2X__COUNT; k++)
        if (s->exits[k]) {
            PyObject *n = PyLong_FromUnsignedLongLong(s->exits[k]);
            if (!n || PyDict_SetItemString(ex, od_t2_exit_names[k], n) < 0) {
                Py_XDECREF(n);
                goto fail;
            }
            Py_DECREF(n);
        }
    PyObject *places = PyList_New(0);
    for (int k = 0; places && s && k < s->nunits; k++)
        for (int e = 0; e < s->units[k]->nexits; e++) {
            const OdT2Exit *x = &s->units[k]->exits[e];
            if (!x->count)
                continue;
            PyObject *t = Py_BuildValue("(isiK)", 2 * x->resume,
                                        od_t2_exit_names[x->kind == OD_XK_ERROR ? OD_T2X_ERROR : x->reason],
                                        k, (unsigned long long)x->count);
            if (!t || PyList_Append(places, t) < 0)
                Py_CLEAR(places);
            Py_XDECREF(t);
        }
    if (!places)
        goto fail;
    PyObject *v = Py_BuildValue("{sisisOsNsNsssisK}", "compiles", s ? s->compiles : 0,
                                "active", st && st->unit && st->unit->tier == 2,
                                "off", (s && s->off) ? Py_True : Py_False,
                                "exits", ex, "exit_places", places,
                                "why_not", s && s->off && s->reason[0] ? s->reason : NULL,
                                "osr_compiles", s ? s->osr_compiles : 0,
                                "osr_entries", (unsigned long long)(s ? s->osr_entries : 0));
    Py_DECREF(d);
    return v;
fail:
    Py_XDECREF(d);
    Py_XDECREF(ex);
    return NULL;
}

void od_tier2_reset_stats(void)
{
    memset(&od_t2_stats, 0, sizeof od_t2_stats);
    memset(od_t2_generic_attr, 0, sizeof od_t2_generic_attr);
    od_t2_generic_attr_misses = 0;
    od_t2_generic_attr_inline = 0;
    od_t2_attr_way_sites = 0;
    memset(od_t2_global_loads, 0, sizeof od_t2_global_loads);
}

PyObject *od_tier2_stats(void)
{
    PyObject *ex = PyDict_New();
    for (int k = 0; ex && k < OD_T2X__COUNT; k++)
        if (od_t2_stats.exits[k]) {
            PyObject *n = PyLong_FromUnsignedLongLong(od_t2_stats.exits[k]);
            if (!n || PyDict_SetItemString(ex, od_t2_exit_names[k], n) < 0)
                Py_CLEAR(ex);
            Py_XDECREF(n);
        }
    if (!ex)
        return NULL;
    /* generic attribute instructions run, by why `attrs` left them generic (rt/attr.h) */
    PyObject *ga = PyDict_New();
    for (int k = 0; ga && k < OD_ATTR_WHY__COUNT; k++)
        if (od_t2_generic_attr[k]) {
            PyObject *n = PyLong_FromUnsignedLongLong(od_t2_generic_attr[k]);
            if (!n || PyDict_SetItemString(ga, od_attr_why_names[k], n) < 0)
                Py_CLEAR(ga);
            Py_XDECREF(n);
        }
    if (ga) {
        PyObject *n = PyLong_FromUnsignedLongLong(od_t2_generic_attr_misses);
        if (!n || PyDict_SetItemString(ga, "misses", n) < 0)
            Py_CLEAR(ga);
        Py_XDECREF(n);
    }
    if (ga) {
        PyObject *n = PyLong_FromUnsignedLongLong(od_t2_generic_attr_inline);
        if (!n || PyDict_SetItemString(ga, "inline", n) < 0)
            Py_CLEAR(ga);
        Py_XDECREF(n);
    }
    if (ga) {
        PyObject *n = PyLong_FromUnsignedLongLong(od_t2_attr_way_sites);
        if (!n || PyDict_SetItemString(ga, "way_sites", n) < 0)
            Py_CLEAR(ga);
        Py_XDECREF(n);
    }
    if (!ga) {
        Py_DECREF(ex);
        return NULL;
    }
    /* global loads past their GlobalValue's versions, or generic (rt/helpers.h) */
    PyObject *gl = Py_BuildValue("{sKsKsK}", "slow", (unsigned long long)od_t2_global_loads[0],
                                 "globals_index", (unsigned long long)od_t2_global_loads[1],
                                 "builtin", (unsigned long long)od_t2_global_loads[2]);
    if (!gl) {
        Py_DECREF(ex);
        Py_DECREF(ga);
        return NULL;
    }
    return Py_BuildValue("{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsNsNsN}", "functions", (unsigned long long)od_t2_stats.compiled,
                         "osr_compiled", (unsigned long long)od_t2_stats.osr_compiled,
                         "osr_entries", (unsigned long long)od_t2_stats.osr_entries,
                         "frames", (unsigned long long)od_t2_stats.entries,
                         "direct_calls", (unsigned long long)(od_t2_stats.direct_calls
                                                              + od_t2_stats.fast_calls
                                                              + od_t2_stats.entry_calls),
                         "fast_calls", (unsigned long long)(od_t2_stats.fast_calls
                                                            + od_t2_stats.entry_calls),
                         "entry_calls", (unsigned long long)od_t2_stats.entry_calls,
                         "builtin_calls", (unsigned long long)od_t2_stats.builtin_calls,
                         "init_calls", (unsigned long long)od_t2_stats.init_calls,
                         "dunder_calls", (unsigned long long)od_t2_stats.dunder_calls,
                         "str_appends_in_place", (unsigned long long)od_t2_stats.str_appends_in_place,
                         "syncs", (unsigned long long)od_t2_stats.syncs,
                         "number_ops_inline", (unsigned long long)od_t2_stats.number_ops_inline,
                         "refused", (unsigned long long)od_t2_stats.refused,
                         "recompiled", (unsigned long long)od_t2_stats.recompiled,
                         "given_up", (unsigned long long)od_t2_stats.given_up, "exits", ex,
                         "generic_attr", ga, "global_loads", gl);
}

int od_tier2_symbols(PyObject *dict)
{
    static const struct { const char *name; const void *fn; } table[] = {
#define OD_T2_SYM(op, fn, check, kind, reason) {#fn, (const void *)fn},
        OD_T2_HELPER_OPS(OD_T2_SYM)
#undef OD_T2_SYM
        {"od_t2_box_int", (const void *)od_t2_box_int},
        {"od_t2_box_float", (const void *)od_t2_box_float},
        {"od_t2_truth", (const void *)od_t2_truth},
        {"od_t2_load_method", (const void *)od_t2_load_method},
        {"od_t2_for_iter", (const void *)od_t2_for_iter},
        {"od_t2_call_len", (const void *)od_t2_call_len},
        {"od_t2_call_isinstance", (const void *)od_t2_call_isinstance},
        {"od_t2_str_append", (const void *)od_t2_str_append},
        {"od_t2_exit", (const void *)od_t2_exit},
        {"od_t2_exit_entry", (const void *)od_t2_exit_entry},
        {"od_t2_sync", (const void *)od_t2_sync},
    };
    size_t n = sizeof table / sizeof *table;
    for (size_t i = 0; i < n + 2; i++) {
        /* then the call thunks (rt/call_thunk.h), when built */
        const void *fn = i < n ? table[i].fn : od_t2_call_thunk((int)(i - n));
        if (!fn)
            continue;
        PyObject *k = PyLong_FromVoidPtr((void *)fn);
        PyObject *v = PyUnicode_FromString(i < n ? table[i].name
                                           : i == n ? "od_t2_call_thunk" : "od_t2_call_method_thunk");
        int err = !k || !v || PyDict_SetItem(dict, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (err)
            return -1;
    }
    return 0;
}
