/* module/introspect.c — what tools need to see inside compiled code. See introspect.h.
 *
 * Inline caches hold borrowed pointers that are only *compared* by the runtime (receiver
 * types, callee types) or only valid while a dict version holds (cached values). A type
 * seen at a site may have been freed since, so nothing here dereferences a cached pointer
 * unless it is known to be alive: types are looked up among the live types (found by
 * walking object.__subclasses__(), which reaches every type that exists), values are only
 * reported while the versions that keep them alive still match. */
#include "introspect.h"

#include "../bytecode/decode.h"
#include "../hook/events.h"
#include "../hook/hook.h"
#include "../runtime/frames.h"
#include "../runtime/gen_resume.h"
#include "../runtime/ccall.h"
#include "../runtime/helpers.h"
#include "../tier1/census.h"
#include "../tier1/compile.h"
#include "../tier2/tier2.h"

/* Code object (and, when given one, the function whose globals/builtins a LOAD_GLOBAL
 * cache is keyed on) of a function, bound method or code object. */
static PyCodeObject *code_of(PyObject *obj, PyFunctionObject **func)
{
    *func = NULL;
    if (PyMethod_Check(obj))
        obj = PyMethod_GET_FUNCTION(obj);
    if (PyFunction_Check(obj)) {
        *func = (PyFunctionObject *)obj;
        return (PyCodeObject *)PyFunction_GET_CODE(obj);
    }
    if (PyCode_Check(obj))
        return (PyCodeObject *)obj;
    PyErr_Format(PyExc_TypeError, "expected a function, method or code object, not %.100s",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

static OdUnit *unit_of(PyCodeObject *co)
{
    OdCodeState *st = od_code_state(co, 0);
    return st ? st->unit : NULL;
}

/* Stores `v` (a new reference, may be NULL after a failed conversion) under `key`. */
static int put(PyObject *d, const char *key, PyObject *v) { return od_dict_put(d, key, v); }

static PyObject *u64(uint64_t v) { return PyLong_FromUnsignedLongLong(v); }
static PyObject *addr(const void *p) { return PyLong_FromVoidPtr((void *)p); }

/* ---- live types --------------------------------------------------------------------- */

/* {address: type} of every live type: the subclass tree under `object` holds them all.
 * The dict keeps them alive while the caller uses it. */
static PyObject *live_types(void)
{
    PyObject *subclasses = PyObject_GetAttrString((PyObject *)&PyType_Type, "__subclasses__");
    PyObject *seen = PyDict_New(), *todo = PyList_New(0);
    if (!subclasses || !seen || !todo || PyList_Append(todo, (PyObject *)&PyBaseObject_Type) < 0)
        goto fail;
    Py_ssize_t n;
    while ((n = PyList_GET_SIZE(todo)) > 0) {
        PyObject *t = Py_NewRef(PyList_GET_ITEM(todo, n - 1));
        PyObject *key = addr(t), *subs = NULL;
        int ok = key && PyList_SetSlice(todo, n - 1, n, NULL) == 0;
        int known = ok ? PyDict_Contains(seen, key) : -1;
        if (known == 0) {
            ok = PyDict_SetItem(seen, key, t) == 0
                 && (subs = PyObject_CallOneArg(subclasses, t)) != NULL
                 && PyList_SetSlice(todo, PyList_GET_SIZE(todo), PyList_GET_SIZE(todo), subs) == 0;
        }
        Py_DECREF(t);
        Py_XDECREF(key);
        Py_XDECREF(subs);
        if (!ok || known < 0)
            goto fail;
    }
    Py_DECREF(subclasses);
    Py_DECREF(todo);
    return seen;
fail:
    Py_XDECREF(subclasses);
    Py_XDECREF(seen);
    Py_XDECREF(todo);
    return NULL;
}

typedef struct {
    PyObject *types;   /* live_types(), built on first need */
} TypeIndex;

/* The type at `p` if it is alive, None for NULL, else a string saying it is gone. */
static PyObject *type_at(TypeIndex *ix, const void *p)
{
    if (!p)
        Py_RETURN_NONE;
    if (!ix->types && !(ix->types = live_types()))
        return NULL;
    PyObject *key = addr(p);
    if (!key)
        return NULL;
    PyObject *t = PyDict_GetItemWithError(ix->types, key);
    Py_DECREF(key);
    if (t)
        return Py_NewRef(t);
    if (PyErr_Occurred())
        return NULL;
    return PyUnicode_FromFormat("<freed type at %p>", p);
}

/* ---- cache contents ------------------------------------------------------------------ */

static const char *attr_kind_name(int kind)
{
    switch (kind) {
#define OD_ATTR_KIND_CASE(name, doc) case OD_ATTR_##name: return #name;
    OD_ATTR_KINDS(OD_ATTR_KIND_CASE)
#undef OD_ATTR_KIND_CASE
    default: return "UNKNOWN";
    }
}

static uint64_t dict_version(PyObject *d)
{
    return (d && PyDict_CheckExact(d)) ? ((PyDictObject *)d)->ma_version_tag : 0;
}

static PyObject *global_cache(const OdGlobalSite *s, PyFunctionObject *func)
{
    const OdGlobalCache *c = &s->cache;
    PyObject *d = PyDict_New();
    /* Without the function there are no dicts to check the versions against. */
    PyObject *valid = Py_None, *value = Py_None;
    if (func) {
        int ok = c->value && c->globals_version == dict_version(func->func_globals)
                 && (s->globals_only || c->builtins_version == dict_version(func->func_builtins));
        valid = ok ? Py_True : Py_False;
        value = ok ? c->value : Py_None;
    }
    if (!d || put(d, "kind", PyUnicode_FromString("global")) < 0
        || put(d, "name", Py_NewRef(s->name ? s->name : Py_None)) < 0
        || put(d, "hits", u64(c->hits)) < 0 || put(d, "misses", u64(c->misses)) < 0
        || put(d, "filled", PyBool_FromLong(c->value != NULL)) < 0
        || put(d, "globals_only", PyBool_FromLong(s->globals_only)) < 0
        || put(d, "valid", Py_NewRef(valid)) < 0 || put(d, "value", Py_NewRef(value)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *attr_cache(const OdAttrSite *s, TypeIndex *ix)
{
    PyObject *d = PyDict_New(), *entries = PyList_New(0);
    if (!d || !entries)
        goto fail;
    const OdAttrCache *more = od_attr_more(s);
    for (int i = 0; i < OD_ATTR_WAYS; i++) {
        const OdAttrCache *c = i == 0 ? &s->cache[0] : more ? &more[i - 1] : NULL;
        if (!c || !c->type)
            continue;
        PyObject *e = PyDict_New();
        PyObject *t = e ? type_at(ix, c->type) : NULL;
        /* The version tag of a live type tells whether the entry still applies. */
        int current = t && PyType_Check(t) && ((PyTypeObject *)t)->tp_version_tag == c->type_version;
        int err = !t || put(e, "type", t) < 0
                  || put(e, "kind", PyUnicode_FromString(attr_kind_name(c->kind))) < 0
                  || put(e, "current", PyBool_FromLong(current)) < 0
                  || put(e, "index", PyLong_FromSsize_t(c->index)) < 0
                  || put(e, "hits", u64(c->hits)) < 0 || put(e, "misses", u64(c->misses)) < 0
                  || PyList_Append(entries, e) < 0;
        Py_XDECREF(e);
        if (err)
            goto fail;
    }
    if (put(d, "kind", PyUnicode_FromString("attr")) < 0
        || put(d, "name", Py_NewRef(s->name ? s->name : Py_None)) < 0)
        goto fail;
    if (put(d, "entries", entries) < 0)
        goto fail_d;
    return d;
fail:
    Py_XDECREF(entries);
fail_d:
    Py_XDECREF(d);
    return NULL;
}

static PyObject *op_cache(const OdOpCache *c, TypeIndex *ix)
{
    PyObject *d = PyDict_New();
    if (!d || put(d, "kind", PyUnicode_FromString("op")) < 0
        || put(d, "left", type_at(ix, c->left)) < 0 || put(d, "right", type_at(ix, c->right)) < 0
        || put(d, "inline", u64(c->inline_hits)) < 0 || put(d, "fast", u64(c->fast)) < 0
        || put(d, "slow", u64(c->slow)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *call_cache(const OdCallSite *s, TypeIndex *ix)
{
    const OdCallCache *c = &s->feedback;
    const char *form = od_rt_call_form_name(s);
    PyObject *d = PyDict_New();
    if (!d || put(d, "kind", PyUnicode_FromString("call")) < 0
        || put(d, "callee_type", type_at(ix, c->callee_type)) < 0
        || put(d, "calls", u64(c->calls)) < 0 || put(d, "py_calls", u64(c->py_calls)) < 0
        || put(d, "kwnames", Py_NewRef(s->kwnames ? s->kwnames : Py_None)) < 0
        || put(d, "form", form ? PyUnicode_FromString(form) : Py_NewRef(Py_None)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* What the site of a (base) opcode holds. The record types follow tier1's site layout:
 * one record per instruction that has a site, at od_unit_site(u, index). */
static PyObject *cache_of(int opcode, const void *site, PyFunctionObject *func, TypeIndex *ix)
{
    switch (opcode) {
    case LOAD_GLOBAL: case LOAD_NAME:
        return global_cache(site, func);
    case LOAD_ATTR: case STORE_ATTR: case DELETE_ATTR: case LOAD_METHOD:
        return attr_cache(site, ix);
    case BINARY_OP: case COMPARE_OP: case BINARY_SUBSCR: case FOR_ITER:
        return op_cache(site, ix);
    case CALL:
        return call_cache(site, ix);
    default:
        Py_RETURN_NONE;
    }
}

/* ---- _native_map ------------------------------------------------------------------- */

static PyObject *instr_entry(const OdInstr *in, const OdUnit *u, PyFunctionObject *func,
                             TypeIndex *ix)
{
    const char *base = u->mem;
    void *native = in->start < u->ncodeunits ? od_unit_native_at(u, in->start) : NULL;
    const void *site = od_unit_site(u, in->index);
    PyObject *d = PyDict_New();
    if (!d || put(d, "offset", PyLong_FromLong(2L * in->start)) < 0
        || put(d, "op_offset", PyLong_FromLong(2L * in->index)) < 0
        || put(d, "end_offset", PyLong_FromLong(2L * in->next)) < 0
        || put(d, "opname", PyUnicode_FromString(od_opcode_name(in->opcode))) < 0
        || put(d, "oparg", PyLong_FromLong(in->oparg)) < 0
        || put(d, "depth", PyLong_FromLong(in->depth)) < 0
        || put(d, "supported", PyBool_FromLong(od_tier1_supports(in->opcode))) < 0
        || put(d, "native_offset",
               native ? PyLong_FromSsize_t((const char *)native - base) : Py_NewRef(Py_None)) < 0
        || put(d, "site_address", site ? addr(site) : Py_NewRef(Py_None)) < 0
        || put(d, "cache", site ? cache_of(in->opcode, site, func, ix) : Py_NewRef(Py_None)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *exit_counts(const OdUnit *u)
{
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < OD_EXIT__COUNT; i++)
        if (u->exits[i] && put(d, od_exit_reason_name(i), u64(u->exits[i])) < 0)
            Py_CLEAR(d);
    return d;
}

/* Field offsets compiled code addresses, so a disassembly can name what it touches. */
static PyObject *offsets(void)
{
    PyObject *d = PyDict_New();
    if (!d || put(d, "frame.localsplus", PyLong_FromSize_t(offsetof(_PyInterpreterFrame, localsplus))) < 0
        || put(d, "frame.prev_instr", PyLong_FromSize_t(offsetof(_PyInterpreterFrame, prev_instr))) < 0
        || put(d, "frame.stacktop", PyLong_FromSize_t(offsetof(_PyInterpreterFrame, stacktop))) < 0
        || put(d, "tstate.interp", PyLong_FromSize_t(offsetof(PyThreadState, interp))) < 0
        || put(d, "tstate.cframe", PyLong_FromSize_t(offsetof(PyThreadState, cframe))) < 0
        || put(d, "interp.eval_breaker",
               PyLong_FromSize_t(offsetof(PyInterpreterState, ceval.eval_breaker))) < 0
        || put(d, "cframe.use_tracing", PyLong_FromSize_t(offsetof(_PyCFrame, use_tracing))) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *instructions(PyCodeObject *co, const OdUnit *u, PyFunctionObject *func)
{
    OdBytecode bc;
    if (od_bytecode_decode(co, &bc) < 0)
        return NULL;
    TypeIndex ix = {NULL};
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < bc.ninstrs; i++) {
        PyObject *e = instr_entry(&bc.instrs[i], u, func, &ix);
        if (!e || PyList_Append(list, e) < 0)
            Py_CLEAR(list);
        Py_XDECREF(e);
    }
    Py_XDECREF(ix.types);
    od_bytecode_free(&bc);
    return list;
}

static PyObject *native_map(PyObject *m, PyObject *obj)
{
    (void)m;
    PyFunctionObject *func;
    PyCodeObject *co = code_of(obj, &func);
    if (!co)
        return NULL;
    OdUnit *u = unit_of(co);
    if (!u)
        Py_RETURN_NONE;
    uint64_t nexits = 0;
    for (int i = 0; i < OD_EXIT__COUNT; i++)
        nexits += u->exits[i];
    PyObject *d = PyDict_New();
    if (!d || put(d, "name", Py_NewRef(co->co_qualname)) < 0
        || put(d, "filename", Py_NewRef(co->co_filename)) < 0
        || put(d, "firstlineno", PyLong_FromLong(co->co_firstlineno)) < 0
        || put(d, "tier", PyLong_FromLong(u->tier)) < 0
        || put(d, "address", addr(u->mem)) < 0
        || put(d, "code", PyBytes_FromStringAndSize(u->mem, (Py_ssize_t)u->code_size)) < 0
        || put(d, "code_size", PyLong_FromSize_t(u->code_size)) < 0
        || put(d, "data_offset", PyLong_FromSize_t(u->data_offset ? u->data_offset
                                                                     : u->code_size)) < 0
        || put(d, "reserved", PyLong_FromSize_t(u->mem_reserved)) < 0
        || put(d, "code_units_address", addr(_PyCode_CODE(co))) < 0
        || put(d, "unit_address", addr(u)) < 0
        || put(d, "nlocalsplus", PyLong_FromLong(co->co_nlocalsplus)) < 0
        || put(d, "offsets", offsets()) < 0
        || put(d, "native_entries", u64(u->native_entries)) < 0
        || put(d, "exceptions_handled_natively", u64(u->unwinds)) < 0
        || put(d, "exits", exit_counts(u)) < 0
        || put(d, "last_exit", nexits ? PyUnicode_FromString(od_exit_reason_name(u->last_exit))
                                      : Py_NewRef(Py_None)) < 0
        || put(d, "last_exit_opcode", nexits ? PyUnicode_FromString(od_opcode_name(u->last_exit_opcode))
                                             : Py_NewRef(Py_None)) < 0
        || put(d, "instructions", instructions(co, u, func)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

/* ---- symbols ----------------------------------------------------------------------- */

/* Every function compiled code calls through `movabs rax, imm64; call rax`, by name: the
 * per-opcode helpers of OD_HELPER_OPS, the other runtime entry points of helpers.h, and
 * the CPython C-API functions tier 1 calls directly. tests/test_tools.py checks this list
 * against every od_call_abs target in the tier1 sources, so a new call cannot go unnamed. */
static PyObject *helper_symbols(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    static const struct { const char *name; void (*fn)(void); } table[] = {
#define OD_SYM(helper, opcode, released) {#helper, (void (*)(void))helper},
        OD_HELPER_OPS(OD_SYM)
#undef OD_SYM
#define OD_FN(f) {#f, (void (*)(void))f}
        OD_FN(od_rt_for_iter), OD_FN(od_rt_truth_consume), OD_FN(od_rt_dealloc),
        OD_FN(od_rt_compare_branch), OD_FN(od_rt_send), OD_FN(od_rt_return_generator),
        OD_FN(od_rt_send_begin), OD_FN(od_rt_send_end),
        OD_FN(od_rt_for_iter_begin), OD_FN(od_rt_for_iter_end),
        OD_FN(od_rt_box_bool), OD_FN(od_rt_direct_return), OD_FN(od_rt_direct_return_into),
        OD_FN(od_rt_warmup), OD_FN(od_rt_compact_op), OD_FN(od_rt_stub),
        OD_FN(od_rt_handle_eval_breaker), OD_FN(od_rt_error), OD_FN(od_rt_set_exit), OD_FN(od_rt_raise),
        OD_FN(od_rt_reraise),
        OD_FN(od_rt_long_result), OD_FN(PyLong_FromLong), OD_FN(od_rt_int_add),
        OD_FN(od_rt_int_subtract), OD_FN(od_rt_int_multiply),
        OD_FN(PyObject_IsTrue), OD_FN(_Py_Dealloc), OD_FN(PyFloat_FromDouble),
        /* what a CALL site's fn may hold (runtime/ccall.h) */
        OD_FN(od_rt_call_generic),
#define OD_CF_SYM(N, n) OD_FN(od_rt_call_##n),
        OD_CALL_FORMS(OD_CF_SYM)
#undef OD_CF_SYM
#undef OD_FN
    };
    PyObject *d = PyDict_New();
    /* last: the direct-call thunk's variants (compile.h), generated code (if built) */
    static const char *const thunk_names[OD_THUNK_VARIANTS] = {
        [0] = "od_tier1_direct_thunk (recompiled sites)",
        [OD_THUNK_RECORD] = "od_tier1_direct_thunk",
        [OD_THUNK_KEYWORDS] = "od_tier1_direct_thunk (keywords, recompiled sites)",
        [OD_THUNK_RECORD | OD_THUNK_KEYWORDS] = "od_tier1_direct_thunk (keywords)"};
    size_t n = sizeof table / sizeof *table;
    for (size_t i = 0; d && i < n + OD_THUNK_VARIANTS; i++) {
        const void *fn = i < n ? (const void *)(uintptr_t)table[i].fn
                               : od_tier1_direct_thunk((int)(i - n));
        if (!fn)
            continue;   /* a variant not built */
        PyObject *k = addr(fn);
        PyObject *v = PyUnicode_FromString(i < n ? table[i].name : thunk_names[i - n]);
        if (!k || !v || PyDict_SetItem(d, k, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    if (d && od_tier2_symbols(d) < 0)
        Py_CLEAR(d);
    return d;
}

static PyObject *exit_reasons(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    static const char *const desc[] = {
#define OD_EXIT_DESC(name, text) text,
        OD_EXIT_REASONS(OD_EXIT_DESC)
#undef OD_EXIT_DESC
    };
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < OD_EXIT__COUNT; i++)
        if (put(d, od_exit_reason_name(i), PyUnicode_FromString(desc[i])) < 0)
            Py_CLEAR(d);
    return d;
}

/* ---- log and perf map switches -------------------------------------------------------- */

static PyObject *set_log(PyObject *m, PyObject *args)
{
    (void)m;
    int compiles, exits;
    PyObject *fd_obj;
    long long fd;
    if (!PyArg_ParseTuple(args, "ppO:_set_log", &compiles, &exits, &fd_obj)
        || od_int_arg(fd_obj, "_set_log", "fd", 0, INT_MAX, &fd) < 0)
        return NULL;
    if (od_events_set_log(compiles, exits, (int)fd) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *set_perf_map(PyObject *m, PyObject *arg)
{
    (void)m;
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    od_events_set_perf_map(on);
    Py_RETURN_NONE;
}

static PyObject *perf_map_add(PyObject *m, PyObject *obj)
{
    (void)m;
    PyFunctionObject *func;
    PyCodeObject *co = code_of(obj, &func);
    if (!co)
        return NULL;
    OdUnit *u = unit_of(co);
    if (!u)
        Py_RETURN_FALSE;
    if (od_event_perf_map_add(co, u) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/* ---- code census (tier1/census.h) ---------------------------------------------------- */

static PyObject *code_census(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *on = Py_None;
    if (!PyArg_ParseTuple(args, "|O:_code_census", &on))
        return NULL;
    if (on != Py_None) {
        int v = PyObject_IsTrue(on);
        if (v < 0)
            return NULL;
        od_tier1_census_on = v;
        od_census_reset();
    }
    return od_census_dict();
}

static PyMethodDef introspect_methods[] = {
    {"_code_census", code_census, METH_VARARGS,
     "_code_census([on]) -> the totals of tier 1's code census (bytes by opcode and stub "
     "kind; None before a unit was counted). With `on`: switch it on or off, totals reset."},
    {"_native_map", native_map, METH_O,
     "Compiled code of a function: bytes, load address, per-instruction native offsets and "
     "inline-cache contents, exits; None if not compiled."},
    {"_helper_symbols", helper_symbols, METH_NOARGS,
     "{address: name} of every function compiled code calls."},
    {"_exit_reasons", exit_reasons, METH_NOARGS, "{exit reason: description}."},
    {"_set_log", set_log, METH_VARARGS, "_set_log(compiles, exits, fd): log to a dup of fd."},
    {"_set_perf_map", set_perf_map, METH_O, "Switch /tmp/perf-<pid>.map writing on or off."},
    {"_perf_map_add", perf_map_add, METH_O,
     "Write the perf-map line of an already compiled function; False if not compiled."},
    {NULL, NULL, 0, NULL},
};

PyObject *od_introspect_add(PyObject *m)
{
    if (m && PyModule_AddFunctions(m, introspect_methods) < 0)
        Py_CLEAR(m);
    return m;
}
