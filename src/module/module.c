/* module/module.c — the _overdrive extension module: argument checking and conversion
 * only. Policy and validation of user-facing options live in the Python package. */
#include "../od_python.h"

#include <stdlib.h>

#include "../asm/codemem.h"
#include "../asm/scratch.h"
#include "../asm/x64.h"
#include "../bytecode/decode.h"
#include "../hook/events.h"
#include "../hook/hook.h"
#include "../runtime/clock.h"
#include "../runtime/frames.h"
#include "../runtime/gen_resume.h"
#include "../runtime/ccall.h"
#include "../runtime/helpers.h"
#include "../tier1/compile.h"
#include "../tier2/tier2.h"
#include "../tier2/rt/attr.h"
#include "autoload.h"
#include "introspect.h"
#include "json_line.h"

static const char *const exit_names[] = {
#define OD_EXIT_NAME(name, desc) #name,
    OD_EXIT_REASONS(OD_EXIT_NAME)
#undef OD_EXIT_NAME
};

const char *od_exit_reason_name(int reason) { return exit_names[reason]; }

/* Accept a function (or anything with __code__) or a code object. */
static PyCodeObject *as_code(PyObject *obj)
{
    if (PyCode_Check(obj))
        return (PyCodeObject *)obj;
    if (PyFunction_Check(obj))
        return (PyCodeObject *)PyFunction_GET_CODE(obj);
    if (PyMethod_Check(obj) && PyFunction_Check(PyMethod_GET_FUNCTION(obj)))
        return (PyCodeObject *)PyFunction_GET_CODE(PyMethod_GET_FUNCTION(obj));
    PyErr_Format(PyExc_TypeError, "expected a function, method or code object, not %.100s",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

static int set_u64(PyObject *d, const char *key, uint64_t v)
{
    return od_dict_put(d, key, PyLong_FromUnsignedLongLong(v));
}

static int set_str(PyObject *d, const char *key, const char *v)
{
    return od_dict_put(d, key, v ? PyUnicode_FromString(v) : Py_NewRef(Py_None));
}

static PyObject *exits_dict(const uint64_t *counts)
{
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < OD_EXIT__COUNT; i++)
        if (counts[i] && set_u64(d, od_exit_reason_name(i), counts[i]) < 0)
            Py_CLEAR(d);
    return d;
}

static int set_obj(PyObject *d, const char *key, PyObject *v) { return od_dict_put(d, key, v); }

static PyObject *mod_enable(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    if (od_hook_install() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *mod_disable(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    od_hook_uninstall();
    Py_RETURN_NONE;
}

static PyObject *mod_null_hook(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    if (od_hook_install_null() < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "_null_hook() measures a hook that does nothing: the JIT must be off");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *mod_is_enabled(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    return PyBool_FromLong(od_hook_installed());
}

int od_int_arg(PyObject *v, const char *func, const char *name, long long lo, long long hi,
               long long *out)
{
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an int, not %.100s", func, name,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && !overflow && PyErr_Occurred())
        return -1;
    if (overflow || x < lo || x > hi) {
        /* %R of a huge int would fail (3.11 limits int-to-str digits): say its size. */
        if (overflow && _PyLong_NumBits(v) > 256)
            PyErr_Format(PyExc_ValueError, "%s: %s must be an int from %lld to %lld, got an int "
                         "of %zu bits", func, name, lo, hi, _PyLong_NumBits(v));
        else
            PyErr_Format(PyExc_ValueError, "%s: %s must be an int from %lld to %lld, got %R",
                         func, name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Options already validated by the package; checked again here so that nothing the C side
 * cannot hold is ever stored (all three are checked before any is set). */
static PyObject *mod_set_config(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *t, *c, *r, *t2 = NULL;
    long long threshold, max_code, recompile_after, tier2_threshold = od_config.tier2_threshold;
    if (!PyArg_UnpackTuple(args, "_set_config", 3, 4, &t, &c, &r, &t2)
        || (t2 && od_int_arg(t2, "_set_config", "tier2_threshold", -1, OD_THRESHOLD_MAX,
                             &tier2_threshold) < 0)
        || od_int_arg(t, "_set_config", "threshold", 0, OD_THRESHOLD_MAX, &threshold) < 0
        || od_int_arg(c, "_set_config", "max_code_bytes", OD_CODEMEM_LIMIT_MIN,
                      OD_CODEMEM_LIMIT_MAX, &max_code) < 0
        || od_int_arg(r, "_set_config", "recompile_after", 0, OD_RECOMPILE_AFTER_MAX,
                      &recompile_after) < 0)
        return NULL;
    od_config.threshold = (int)threshold;
    od_config.tier2_threshold = (int)tier2_threshold;
    od_config.recompile_after = (uint64_t)recompile_after;
    od_config.max_code_bytes = (size_t)max_code;
    od_codemem_set_limit((size_t)max_code);
    Py_RETURN_NONE;
}

/* What the C side holds, for tests and tools: the three values of _set_config, the code
 * memory's limit, the log's events and descriptor, the perf map switch. */
static PyObject *mod_get_config(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    return Py_BuildValue("{s:i,s:i,s:K,s:K,s:K,s:O,s:O,s:i,s:O}",
                         "threshold", od_config.threshold,
                         "tier2_threshold", od_config.tier2_threshold,
                         "max_code_bytes", (unsigned long long)od_config.max_code_bytes,
                         "code_memory_limit", (unsigned long long)od_codemem_limit(),
                         "recompile_after", (unsigned long long)od_config.recompile_after,
                         "log_compile", (od_event_mask & OD_EVENT_LOG_COMPILE) ? Py_True : Py_False,
                         "log_exit", (od_event_mask & OD_EVENT_LOG_EXIT) ? Py_True : Py_False,
                         "log_fd", od_events_log_fd(),
                         "perf_map", (od_event_mask & OD_EVENT_PERF_MAP) ? Py_True : Py_False);
}

/* {option: (lowest, highest)} of the int options: the package validates against these. */
static PyObject *limits_dict(void)
{
    return Py_BuildValue("{s:(LL),s:(LL),s:(LL),s:(LL)}",
                         "threshold", 0LL, OD_THRESHOLD_MAX,
                         "tier2_threshold", -1LL, OD_THRESHOLD_MAX,
                         "max_code_bytes", OD_CODEMEM_LIMIT_MIN, OD_CODEMEM_LIMIT_MAX,
                         "recompile_after", 0LL, OD_RECOMPILE_AFTER_MAX);
}

static PyObject *mod_info(PyObject *m, PyObject *obj)
{
    (void)m;
    PyCodeObject *co = as_code(obj);
    if (!co)
        return NULL;
    OdCodeState *st = od_code_state(co, 0);
    OdUnit *u = st ? st->unit : NULL;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    const char *why = NULL;
    uint64_t rent_paid = 0, rent_due = 0;
    if (st)
        od_hook_rent(co, st, &rent_paid, &rent_due);
    if (!u) {
        if (st && st->why_not)
            why = st->why_not;
        else if (!st)
            why = "never executed with the JIT enabled";
        else if (rent_due)
            why = "loop code being rented: compiled once its interpreted time reaches "
                  "rent_due_ns, or its entries the threshold, at a pace the process's age "
                  "says will pay back";
        else
            why = "not called often enough yet, or not often enough for the process's age "
                  "(see config threshold)";
    }
    if (set_obj(d, "name", Py_NewRef(co->co_qualname)) < 0
        || set_obj(d, "compiled", PyBool_FromLong(u != NULL)) < 0
        || set_obj(d, "tier", PyLong_FromLong(u ? u->tier : 0)) < 0
        || set_obj(d, "recompiled", PyBool_FromLong(u && u->with_feedback)) < 0
        || set_obj(d, "compact", PyBool_FromLong(u && u->compact)) < 0
        || set_obj(d, "direct_entry", PyBool_FromLong(u && u->direct_entry)) < 0
        || set_u64(d, "deferred_loads", u ? (uint64_t)u->deferred_loads : 0) < 0
        || set_u64(d, "fixed_attr_sites", u ? (uint64_t)u->fixed_attr_sites : 0) < 0
        || set_u64(d, "cold_sites", u ? (uint64_t)u->cold_sites : 0) < 0
        || set_u64(d, "single_kind_sites", u ? (uint64_t)u->single_kind_sites : 0) < 0
        || set_u64(d, "helper_only_sites", u ? (uint64_t)u->helper_only_sites : 0) < 0
        || set_str(d, "why_not", why) < 0
        || set_u64(d, "entries", (st ? st->counts->entries : 0) + (u ? u->direct_entries : 0)) < 0
        || set_u64(d, "interpreted_entries", st ? st->counts->interpreted : 0) < 0
        || set_u64(d, "rent_paid_ns", rent_paid) < 0
        || set_u64(d, "rent_due_ns", rent_due) < 0
        || set_u64(d, "native_entries", u ? u->native_entries : 0) < 0
        || set_u64(d, "code_size", u ? u->code_size : 0) < 0
        || set_u64(d, "compile_ns", u ? u->compile_ns : 0) < 0
        || set_u64(d, "bytecode_instructions", u ? (uint64_t)u->ninstrs : 0) < 0
        || set_u64(d, "native_address", u ? (uint64_t)(uintptr_t)u->mem : 0) < 0
        || set_u64(d, "exceptions_handled_natively", u ? u->unwinds : 0) < 0
        || set_obj(d, "exits", u ? exits_dict(u->exits) : PyDict_New()) < 0
        || set_obj(d, "tier2", od_tier2_info(co)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *mod_stats(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    PyObject *d = PyDict_New(), *interp = PyDict_New(), *byop = PyDict_New();
    if (!d || !interp || !byop)
        goto fail;
    uint64_t interpreted = 0;
    for (int i = 0; i < OD_INTERP__COUNT; i++) {
        interpreted += od_stats.frames_interpreted[i];
        if (od_stats.frames_interpreted[i]
            && set_u64(interp, od_interp_reason_name(i), od_stats.frames_interpreted[i]) < 0)
            goto fail;
    }
    for (int i = 0; i < 256; i++)
        if (od_stats.exits_by_opcode[i]
            && set_u64(byop, od_opcode_name(i), od_stats.exits_by_opcode[i]) < 0)
            goto fail;
    if (set_obj(d, "enabled", PyBool_FromLong(od_hook_installed())) < 0
        || set_u64(d, "functions_compiled", od_stats.functions_compiled) < 0
        || set_u64(d, "functions_recompiled", od_stats.functions_recompiled) < 0
        || set_u64(d, "retired_units_freed", od_stats.retired_units_freed) < 0
        || set_u64(d, "heap_trims", od_stats.heap_trims) < 0
        || set_u64(d, "heap_trim_ns", od_stats.heap_trim_ns) < 0
        || set_obj(d, "rent_clock", PyUnicode_FromString(od_clock_tsc ? "tsc" : "monotonic")) < 0
        || set_u64(d, "functions_compact", od_stats.functions_compact) < 0
        || set_u64(d, "compile_failures", od_stats.compile_failures) < 0
        || set_u64(d, "compile_time_ns", od_stats.compile_ns) < 0
        || set_u64(d, "instructions_compiled", od_stats.instrs_compiled) < 0
        || set_u64(d, "code_bytes", od_stats.code_bytes) < 0
        || set_u64(d, "code_memory_in_use", od_codemem_in_use()) < 0
        || set_u64(d, "code_memory_resident", od_codemem_resident()) < 0
        || set_u64(d, "code_memory_mapped", od_codemem_mapped()) < 0
        || set_u64(d, "compile_scratch_in_use", od_scratch_in_use()) < 0
        || set_u64(d, "compile_scratch_peak", od_scratch_peak()) < 0
        || set_u64(d, "compile_scratch_kept", od_scratch_kept()) < 0
        || set_u64(d, "compile_scratch_aged_out", od_scratch_aged_out()) < 0
        || set_u64(d, "frames_native", od_stats.frames_native + od_rt_calls_direct
                                       + od_rt_gen_resumes_direct) < 0
        || set_u64(d, "calls_direct", od_rt_calls_direct) < 0
        || set_u64(d, "calls_dunder", od_rt_calls_dunder) < 0
        || set_u64(d, "calls_c_specialized", od_rt_calls_c_specialized) < 0
        || set_u64(d, "generator_resumes_direct", od_rt_gen_resumes_direct) < 0
        || set_u64(d, "async_gen_sends_direct", od_rt_async_gen_sends_direct) < 0
        || set_u64(d, "generator_nexts_direct", od_rt_gen_nexts_direct) < 0
        || set_u64(d, "frames_interpreted", interpreted) < 0
        || set_u64(d, "cstack_switches", od_stats.cstack_switches) < 0
        || set_u64(d, "cstack_segments", od_stats.cstack_segments) < 0
        || set_u64(d, "exceptions_handled_natively", od_rt_unwinds) < 0
        || set_u64(d, "str_appends_in_place", od_rt_str_appends_in_place) < 0
        || set_obj(d, "interpreted_by_reason", interp) < 0
        || set_obj(d, "exits", exits_dict(od_stats.exits)) < 0
        || set_obj(d, "exits_by_opcode", byop) < 0
        || set_obj(d, "tier2", od_tier2_stats()) < 0) {
        interp = byop = NULL; /* set_obj consumed them */
        goto fail;
    }
    return d;
fail:
    Py_XDECREF(d);
    Py_XDECREF(interp);
    Py_XDECREF(byop);
    return NULL;
}

static PyObject *mod_reset_stats(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    memset(&od_stats, 0, sizeof od_stats);
    od_rt_unwinds = 0;
    od_rt_calls_direct = 0;
    od_rt_calls_dunder = 0;
    od_rt_calls_c_specialized = 0;
    od_rt_str_appends_in_place = 0;
    od_rt_gen_resumes_direct = 0;
    od_rt_async_gen_sends_direct = 0;
    od_rt_gen_nexts_direct = 0;
    od_tier2_reset_stats();
    Py_RETURN_NONE;
}

static PyObject *mod_compile(PyObject *m, PyObject *obj)
{
    (void)m;
    PyCodeObject *co = as_code(obj);
    if (!co)
        return NULL;
    if (od_hook_init() < 0)
        return NULL;
    OdCodeState *st = od_code_state(co, 1);
    if (!st)
        return PyErr_NoMemory();
    if (od_compile_code(co, st) < 0)
        return Py_BuildValue("(Os)", Py_False, st->why_not);
    return Py_BuildValue("(Os)", Py_True, "");
}

/* _set_compact(mode) -> the previous mode: OD_COMPACT_NEVER 0, FIRST 1, ALL 2 (hook/hook.h;
 * the environment variable OVERDRIVE_COMPACT sets it at start-up). For tests. */
static PyObject *mod_set_compact(PyObject *m, PyObject *arg)
{
    (void)m;
    long mode = PyLong_AsLong(arg);
    if (mode == -1 && PyErr_Occurred())
        return NULL;
    if (mode < OD_COMPACT_NEVER || mode > OD_COMPACT_ALL) {
        PyErr_SetString(PyExc_ValueError, "compact mode must be 0, 1 or 2");
        return NULL;
    }
    int old = od_config.compact;
    od_config.compact = (int)mode;
    return PyLong_FromLong(old);
}

static PyObject *mod_supported_opcodes(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    PyObject *l = PyList_New(0);
    for (int op = 1; l && op < 256; op++) {
        if (!od_tier1_supports(op) || od_opcode_name(op)[0] == '<')
            continue;
        PyObject *s = PyUnicode_FromString(od_opcode_name(op));
        if (!s || PyList_Append(l, s) < 0)
            Py_CLEAR(l);
        Py_XDECREF(s);
    }
    return l;
}

static PyObject *mod_lines(PyObject *m, PyObject *obj)
{
    (void)m;
    PyCodeObject *co = as_code(obj);
    if (!co)
        return NULL;
    Py_ssize_t n = Py_SIZE(co);
    int *lines = PyMem_Malloc((size_t)(n + 1) * sizeof(int));
    if (!lines)
        return PyErr_NoMemory();
    od_bytecode_lines(co, lines);
    PyObject *l = PyList_New(n);
    for (Py_ssize_t i = 0; l && i < n; i++) {
        PyObject *v = PyLong_FromLong(lines[i]);
        if (!v)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, i, v);
    }
    PyMem_Free(lines);
    return l;
}

static PyObject *mod_exception_table(PyObject *m, PyObject *obj)
{
    (void)m;
    PyCodeObject *co = as_code(obj);
    if (!co)
        return NULL;
    OdExcEntry *e = NULL;
    int n = od_exctable_parse(co->co_exceptiontable, &e);
    if (n < 0)
        return PyErr_NoMemory();
    PyObject *l = PyList_New(0);
    for (int i = 0; l && i < n; i++) {
        PyObject *t = Py_BuildValue("(iiiii)", e[i].start, e[i].end, e[i].target, e[i].depth,
                                    e[i].lasti);
        if (!t || PyList_Append(l, t) < 0)
            Py_CLEAR(l);
        Py_XDECREF(t);
    }
    free(e);
    return l;
}

static PyObject *mod_code_is_wx_safe(PyObject *m, PyObject *obj)
{
    (void)m;
    PyCodeObject *co = as_code(obj);
    if (!co)
        return NULL;
    OdCodeState *st = od_code_state(co, 0);
    if (!st || !st->unit)
        Py_RETURN_NONE;
    return PyBool_FromLong(od_codemem_check_wx(st->unit->mem, st->unit->mem_reserved) == 1);
}

/* Bytes the JIT holds for one code object (tests and bench/memory_census.py): its
 * OdCodeState with its counts, and for each unit (the current one and those it retired) the OdUnit, the
 * native address per code unit, the site offsets per code unit, the sites, the exception
 * table and the executable memory reserved; retired_units: all of that for the units a
 * recompilation retired (kept while frames may still run them); attr_blocks: blocks of
 * further attribute-site entries (runtime/helpers.h OdAttrSite). */
static PyObject *mod_unit_memory(PyObject *m, PyObject *obj)
{
    (void)m;
    PyCodeObject *co = as_code(obj);
    if (!co)
        return NULL;
    OdCodeState *st = od_code_state(co, 0);
    if (!st)
        Py_RETURN_NONE;
    size_t units = 0, unit = 0, addr = 0, cache_at = 0, sites = 0, exc = 0, code = 0;
    size_t retired = 0, blocks = 0;
    for (OdUnit *u = st->unit; u; u = u->retired) {
        if (u != st->unit)
            retired += sizeof *u + u->cache_bytes + u->mem_reserved
                       + od_unit_table_bytes(&u->native_at_unit, u->ncodeunits)
                       + od_unit_table_bytes(&u->site_at_unit, u->ncodeunits)
                       + (size_t)u->nexc * sizeof(OdExcEntry);
        units++;
        blocks += od_rt_attr_blocks_in(u->caches, u->cache_bytes);
        unit += sizeof *u;
        addr += od_unit_table_bytes(&u->native_at_unit, u->ncodeunits);
        cache_at += od_unit_table_bytes(&u->site_at_unit, u->ncodeunits);
        sites += u->cache_bytes;
        exc += (size_t)u->nexc * sizeof(OdExcEntry);
        code += u->mem_reserved;
    }
    return Py_BuildValue("{sn sn sn sn sn sn sn sn sn sn}", "state", (Py_ssize_t)(sizeof *st + sizeof *st->counts),
                         "units", (Py_ssize_t)units, "unit", (Py_ssize_t)unit,
                         "native_at_unit", (Py_ssize_t)addr, "cache_at_unit", (Py_ssize_t)cache_at,
                         "sites", (Py_ssize_t)sites, "exc", (Py_ssize_t)exc,
                         "code", (Py_ssize_t)code, "retired_units", (Py_ssize_t)retired,
                         "attr_blocks", (Py_ssize_t)blocks);
}

static PyObject *mod_attr_blocks(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    return PyLong_FromSize_t(od_rt_attr_blocks());
}

/* Whether tier 2 builds the receiver types tier 1 met into generic attribute sites
 * (tier2/rt/attr.h od_t2_attr_ways_on), for tests of the sites' own road: (on) -> before. */
static PyObject *mod_t2_attr_ways(PyObject *m, PyObject *arg)
{
    (void)m;
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    int before = od_t2_attr_ways_on;
    od_t2_attr_ways_on = on;
    return PyBool_FromLong(before);
}

/* The executable-memory allocator's self-test (asm/codemem.h): (seed, n). */
static PyObject *mod_codemem_selftest(PyObject *m, PyObject *args)
{
    (void)m;
    unsigned int seed;
    int n;
    if (!PyArg_ParseTuple(args, "Ii:_codemem_selftest", &seed, &n))
        return NULL;
    if (n < 1 || n > 100000) {
        PyErr_SetString(PyExc_ValueError, "_codemem_selftest: n must be from 1 to 100000");
        return NULL;
    }
    char err[256];
    if (od_codemem_selftest(seed, n, err, sizeof err) < 0) {
        PyErr_SetString(PyExc_AssertionError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Encodings for the assembler test: (name, bytes) pairs checked against capstone. */
static PyObject *mod_asm_selftest(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    PyObject *out = PyList_New(0);
    if (!out)
        return NULL;
#define CASE(text, stmt)                                                              \
    do {                                                                              \
        OdAsm a;                                                                      \
        od_asm_init(&a);                                                              \
        stmt;                                                                         \
        PyObject *t = Py_BuildValue("(sy#)", text, (const char *)a.buf, (Py_ssize_t)a.len); \
        od_asm_free(&a);                                                              \
        if (!t || PyList_Append(out, t) < 0) {                                        \
            Py_XDECREF(t);                                                            \
            Py_DECREF(out);                                                           \
            return NULL;                                                              \
        }                                                                             \
        Py_DECREF(t);                                                                 \
    } while (0)
    static const char *const regs[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    static const char *const regs32[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                         "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
    static const char *const regs8[] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                                        "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"};
    char buf[96];
    for (int r = 0; r < 16; r++) {
        for (int b = 0; b < 16; b++) {
            snprintf(buf, sizeof buf, "mov %s, %s", regs[r], regs[b]);
            CASE(buf, od_mov_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "mov %s, qword ptr [%s + 0x48]", regs[r], regs[b]);
            CASE(buf, od_mov_rm(&a, (OdReg)r, (OdReg)b, 0x48));
            snprintf(buf, sizeof buf, "mov qword ptr [%s + 0x1000], %s", regs[b], regs[r]);
            CASE(buf, od_mov_mr(&a, (OdReg)b, 0x1000, (OdReg)r));
            snprintf(buf, sizeof buf, "lea %s, [%s - 2]", regs[r], regs[b]);
            CASE(buf, od_lea(&a, (OdReg)r, (OdReg)b, -2));
            snprintf(buf, sizeof buf, "add %s, %s", regs[r], regs[b]);
            CASE(buf, od_add_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "cmp %s, dword ptr [%s + 0x80]", regs32[r], regs[b]);
            CASE(buf, od_cmp32_rm(&a, (OdReg)r, (OdReg)b, 0x80));
            snprintf(buf, sizeof buf, "movzx %s, byte ptr [%s + 0x21]", regs32[r], regs[b]);
            CASE(buf, od_movzx8_rm(&a, (OdReg)r, (OdReg)b, 0x21));
            snprintf(buf, sizeof buf, "mov %s, dword ptr [%s + 0x10]", regs32[r], regs[b]);
            CASE(buf, od_mov32_rm(&a, (OdReg)r, (OdReg)b, 0x10));
            snprintf(buf, sizeof buf, "cmp %s, %s", regs[r], regs[b]);
            CASE(buf, od_cmp_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "test %s, %s", regs[r], regs[b]);
            CASE(buf, od_test_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "test %s, %s", regs32[r], regs32[b]);
            CASE(buf, od_test32_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "or %s, %s", regs32[r], regs32[b]);
            CASE(buf, od_or32_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "xor %s, %s", regs32[r], regs32[b]);
            CASE(buf, od_xor32_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "sub %s, %s", regs[r], regs[b]);
            CASE(buf, od_sub_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "imul %s, %s", regs[r], regs[b]);
            CASE(buf, od_imul_rr(&a, (OdReg)r, (OdReg)b));
            static const struct { OdSdOp op; const char *name; } sd[] = {
                {OD_SD_ADD, "addsd"}, {OD_SD_SUB, "subsd"}, {OD_SD_MUL, "mulsd"}, {OD_SD_DIV, "divsd"}};
            for (size_t k = 0; k < sizeof sd / sizeof *sd; k++) {
                snprintf(buf, sizeof buf, "%s xmm%d, qword ptr [%s + 0x10]", sd[k].name, r, regs[b]);
                CASE(buf, od_sd_xm(&a, sd[k].op, r, (OdReg)b, 0x10));
            }
            snprintf(buf, sizeof buf, "movsd xmm%d, qword ptr [%s + 0x10]", r, regs[b]);
            CASE(buf, od_movsd_xm(&a, r, (OdReg)b, 0x10));
            snprintf(buf, sizeof buf, "movsd qword ptr [%s + 0x10], xmm%d", regs[b], r);
            CASE(buf, od_movsd_mx(&a, (OdReg)b, 0x10, r));
            snprintf(buf, sizeof buf, "ucomisd xmm%d, qword ptr [%s + 0x10]", r, regs[b]);
            CASE(buf, od_ucomisd_xm(&a, r, (OdReg)b, 0x10));
            for (size_t k = 0; k < sizeof sd / sizeof *sd; k++) {
                snprintf(buf, sizeof buf, "%s xmm%d, xmm%d", sd[k].name, r, b);
                CASE(buf, od_sd_xx(&a, sd[k].op, r, b));
            }
            snprintf(buf, sizeof buf, "ucomisd xmm%d, xmm%d", r, b);
            CASE(buf, od_ucomisd_xx(&a, r, b));
            snprintf(buf, sizeof buf, "cvtsi2sd xmm%d, %s", r, regs[b]);
            CASE(buf, od_cvtsi2sd_xr(&a, r, (OdReg)b));
            snprintf(buf, sizeof buf, "movq xmm%d, %s", r, regs[b]);
            CASE(buf, od_movq_xr(&a, r, (OdReg)b));
            snprintf(buf, sizeof buf, "movq %s, xmm%d", regs[r], b);
            CASE(buf, od_movq_rx(&a, (OdReg)r, b));
            snprintf(buf, sizeof buf, "movapd xmm%d, xmm%d", r, b);
            CASE(buf, od_movapd_xx(&a, r, b));
            snprintf(buf, sizeof buf, "and %s, %s", regs[r], regs[b]);
            CASE(buf, od_and_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "or %s, %s", regs[r], regs[b]);
            CASE(buf, od_or_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "xor %s, %s", regs[r], regs[b]);
            CASE(buf, od_xor_rr(&a, (OdReg)r, (OdReg)b));
            snprintf(buf, sizeof buf, "movzx %s, %s", regs32[r], regs8[b]);
            CASE(buf, od_movzx8_rr(&a, (OdReg)r, (OdReg)b));
        }
        snprintf(buf, sizeof buf, "mov %s, qword ptr [%s]", regs[r], regs[r]);
        CASE(buf, od_mov_rm(&a, (OdReg)r, (OdReg)r, 0));
        snprintf(buf, sizeof buf, "neg %s", regs[r]);
        CASE(buf, od_neg_r(&a, (OdReg)r));
        snprintf(buf, sizeof buf, "sar %s, 0x1e", regs[r]);
        CASE(buf, od_sar_ri(&a, (OdReg)r, 30));
        static const char *const ccs[] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                                          "s", "ns", "p", "np", "l", "ge", "le", "g"};
        for (int cc = 0; cc < 16; cc++) {
            snprintf(buf, sizeof buf, "set%s %s", ccs[cc], regs8[r]);
            CASE(buf, od_setcc_r(&a, (OdCond)cc, (OdReg)r));
        }
        snprintf(buf, sizeof buf, "mov %s, 0x2a", regs32[r]);
        CASE(buf, od_mov_ri(&a, (OdReg)r, 42));
        snprintf(buf, sizeof buf, "mov %s, 0xfffffffffffffffe", regs[r]);
        CASE(buf, od_mov_ri(&a, (OdReg)r, -2));
        snprintf(buf, sizeof buf, "movabs %s, 0x123456789abc", regs[r]);
        CASE(buf, od_mov_ri(&a, (OdReg)r, 0x123456789abcLL));
        snprintf(buf, sizeof buf, "add qword ptr [%s], 1", regs[r]);
        CASE(buf, od_add_mi(&a, (OdReg)r, 0, 1));
        snprintf(buf, sizeof buf, "sub qword ptr [%s + 0x10], 1", regs[r]);
        CASE(buf, od_sub_mi(&a, (OdReg)r, 0x10, 1));
        snprintf(buf, sizeof buf, "mov qword ptr [%s + 0x80], 0", regs[r]);
        CASE(buf, od_mov_mi(&a, (OdReg)r, 0x80, 0));
        snprintf(buf, sizeof buf, "mov dword ptr [%s + 0x40], 0x1234", regs[r]);
        CASE(buf, od_mov32_mi(&a, (OdReg)r, 0x40, 0x1234));
        snprintf(buf, sizeof buf, "mov byte ptr [%s - 0x1c], 0xff", regs[r]);
        CASE(buf, od_mov8_mi(&a, (OdReg)r, -0x1c, -1));
        for (int b = 0; b < 16; b++) {
            snprintf(buf, sizeof buf, "mov byte ptr [%s - 3], %s", regs[b], regs8[r]);
            CASE(buf, od_mov8_mr(&a, (OdReg)b, -3, (OdReg)r));
        }
        snprintf(buf, sizeof buf, "add dword ptr [%s + 0x20], 1", regs[r]);
        CASE(buf, od_add32_mi(&a, (OdReg)r, 0x20, 1));
        snprintf(buf, sizeof buf, "cmp qword ptr [%s + 0x18], 1", regs[r]);
        CASE(buf, od_cmp_mi(&a, (OdReg)r, 0x18, 1));
        snprintf(buf, sizeof buf, "cmp dword ptr [%s], 0", regs[r]);
        CASE(buf, od_cmp32_mi(&a, (OdReg)r, 0, 0));
        snprintf(buf, sizeof buf, "cmp word ptr [%s + 0x10], 0", regs[r]);
        CASE(buf, od_cmp16_mi(&a, (OdReg)r, 0x10, 0));
        snprintf(buf, sizeof buf, "cmp byte ptr [%s], 0", regs[r]);
        CASE(buf, od_cmp8_mi(&a, (OdReg)r, 0, 0));
        snprintf(buf, sizeof buf, "add %s, 8", regs[r]);
        CASE(buf, od_add_ri(&a, (OdReg)r, 8));
        snprintf(buf, sizeof buf, "sub %s, 0x1000", regs[r]);
        CASE(buf, od_sub_ri(&a, (OdReg)r, 0x1000));
        snprintf(buf, sizeof buf, "cmp %s, -1", regs[r]);
        CASE(buf, od_cmp_ri(&a, (OdReg)r, -1));
        snprintf(buf, sizeof buf, "shl %s, cl", regs[r]);
        CASE(buf, od_shl_cl(&a, (OdReg)r));
        snprintf(buf, sizeof buf, "shl %s, 3", regs[r]);
        CASE(buf, od_shl_ri(&a, (OdReg)r, 3));
        snprintf(buf, sizeof buf, "push %s", regs[r]);
        CASE(buf, od_push(&a, (OdReg)r));
        snprintf(buf, sizeof buf, "pop %s", regs[r]);
        CASE(buf, od_pop(&a, (OdReg)r));
        snprintf(buf, sizeof buf, "call %s", regs[r]);
        CASE(buf, od_call_r(&a, (OdReg)r));
        snprintf(buf, sizeof buf, "jmp %s", regs[r]);
        CASE(buf, od_jmp_r(&a, (OdReg)r));
        snprintf(buf, sizeof buf, "movsxd %s, dword ptr [%s + 8]", regs[r], regs[r]);
        CASE(buf, od_movsxd_rm(&a, (OdReg)r, (OdReg)r, 8));
        snprintf(buf, sizeof buf, "cmp %s, qword ptr [%s + 8]", regs[r], regs[r]);
        CASE(buf, od_cmp_rm(&a, (OdReg)r, (OdReg)r, 8));
        snprintf(buf, sizeof buf, "add %s, qword ptr [%s + 0x10]", regs[r], regs[r]);
        CASE(buf, od_add_rm(&a, (OdReg)r, (OdReg)r, 0x10));
    }
    /* Label forms: a forward jcc/jmp over 3 bytes of int3, resolved by od_asm_finish. */
    /* Near targets: od_asm_finish shortens the jump to rel8 (2 bytes). */
    CASE("je 5", { OdLabel l = od_label_new(&a); od_jcc(&a, OD_CC_E, l);
                     od_int3(&a); od_int3(&a); od_int3(&a); od_label_bind(&a, l); od_asm_finish(&a); });
    CASE("jmp 5", { OdLabel l = od_label_new(&a); od_jmp(&a, l);
                    od_int3(&a); od_int3(&a); od_int3(&a); od_label_bind(&a, l); od_asm_finish(&a); });
    /* Far targets (200 bytes on) keep rel32; a backward short jump too. */
    CASE("jne 0xce", { OdLabel l = od_label_new(&a); od_jcc(&a, OD_CC_NE, l);
                     for (int k = 0; k < 200; k++) od_int3(&a);
                     od_label_bind(&a, l); od_asm_finish(&a); });
    CASE("jmp 0xcd", { OdLabel l = od_label_new(&a); od_jmp(&a, l);
                     for (int k = 0; k < 200; k++) od_int3(&a);
                     od_label_bind(&a, l); od_asm_finish(&a); });
    CASE("jl 0", { OdLabel l = od_label_new(&a); od_label_bind(&a, l); od_jcc(&a, OD_CC_L, l);
                   od_asm_finish(&a); });
    CASE("lea rcx, [rip + 1]", { OdLabel l = od_label_new(&a); od_lea_rip_label(&a, OD_RCX, l);
                                 od_int3(&a); od_label_bind(&a, l); od_asm_finish(&a); });
    /* The constant right after the call; its bytes are int3s, so the call is the only
     * instruction. */
    CASE("call qword ptr [rip]", {
        a.pool = 1;
        od_call_pool(&a, (const void *)(uintptr_t)0xCCCCCCCCCCCCCCCCu);
        od_emit_plt(&a);
        od_asm_finish(&a);
    });
    CASE("jp 5", { OdLabel l = od_label_new(&a); od_jcc(&a, OD_CC_P, l);
                     od_int3(&a); od_int3(&a); od_int3(&a); od_label_bind(&a, l); od_asm_finish(&a); });
    CASE("jnp 5", { OdLabel l = od_label_new(&a); od_jcc(&a, OD_CC_NP, l);
                      od_int3(&a); od_int3(&a); od_int3(&a); od_label_bind(&a, l); od_asm_finish(&a); });
    CASE("ret", od_ret(&a));
    /* An unconditional jump to the next instruction is dropped, chains of them too; labels
     * on it and jumps over it move with the code. */
    CASE("ret", { OdLabel l = od_label_new(&a); od_jmp(&a, l); od_label_bind(&a, l); od_ret(&a);
                  od_asm_finish(&a); });
    CASE("ret", { OdLabel x = od_label_new(&a); OdLabel y = od_label_new(&a); od_jmp(&a, x); od_jmp(&a, y);
                  od_label_bind(&a, x); od_label_bind(&a, y); od_ret(&a); od_asm_finish(&a); });
    CASE("je 2", { OdLabel l = od_label_new(&a); od_jcc(&a, OD_CC_E, l); od_jmp(&a, l);
                   od_label_bind(&a, l); od_int3(&a); od_asm_finish(&a); });
    CASE("jne 0", { OdLabel top = od_label_new(&a); OdLabel l = od_label_new(&a); od_label_bind(&a, top);
                    od_jmp(&a, l); od_label_bind(&a, l); od_jcc(&a, OD_CC_NE, top);
                    od_asm_finish(&a); });
#undef CASE
    return out;
}

/* ---- tier 2 (HIR only so far: text for tools and tests) ---- */

static PyObject *mod_tier2_hir(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *func, *passes = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:_tier2_hir", &func, &passes))
        return NULL;
    PyCodeObject *co = as_code(func);
    return co ? od_tier2_hir_stages(co, func, passes) : NULL;
}

static PyObject *mod_tier2_lir(PyObject *m, PyObject *func)
{
    (void)m;
    PyCodeObject *co = as_code(func);
    return co ? od_tier2_lir_text(co, func) : NULL;
}

static PyObject *mod_tier2_hir_corrupt(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *func;
    const char *what;
    if (!PyArg_ParseTuple(args, "Os:_tier2_hir_corrupt", &func, &what))
        return NULL;
    PyCodeObject *co = as_code(func);
    return co ? od_tier2_hir_corrupt(co, what) : NULL;
}

static PyObject *mod_tier2_passes(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    return od_tier2_passes();
}

static PyObject *mod_tier2_type(PyObject *m, PyObject *args)
{
    (void)m;
    const char *op;
    PyObject *a, *b = NULL;
    if (!PyArg_ParseTuple(args, "sO|O:_tier2_type", &op, &a, &b))
        return NULL;
    return od_tier2_type_op(op, a, b);
}

static PyObject *mod_tier2_type_names(PyObject *m, PyObject *noargs)
{
    (void)m; (void)noargs;
    return od_tier2_type_names();
}

static PyObject *mod_json_line(PyObject *m, PyObject *value)
{
    (void)m;
    return od_json_line(value);
}

static PyMethodDef methods[] = {
    {"enable", mod_enable, METH_NOARGS, "Install the JIT's eval-frame hook."},
    {"disable", mod_disable, METH_NOARGS, "Remove the hook (compiled code stays cached)."},
    {"is_enabled", mod_is_enabled, METH_NOARGS, "Whether the hook is installed."},
    {"_null_hook", mod_null_hook, METH_NOARGS,
     "Install an eval-frame hook that only runs the interpreter (bench/null_hook.py); "
     "disable() removes it."},
    {"_set_config", mod_set_config, METH_VARARGS,
     "_set_config(threshold, max_code_bytes, recompile_after); out-of-range values are refused "
     "(bounds in LIMITS)."},
    {"_get_config", mod_get_config, METH_NOARGS, "The configuration the C side holds (read only)."},
    {"info", mod_info, METH_O, "Per-function JIT information."},
    {"stats", mod_stats, METH_NOARGS, "Global JIT counters."},
    {"reset_stats", mod_reset_stats, METH_NOARGS, "Zero the global counters."},
    {"_json_line", mod_json_line, METH_O,
     "_json_line(value) -> bytes: one line of ASCII JSON (the OVERDRIVE_STATS_FILE writer)."},
    {"compile", mod_compile, METH_O, "Compile now: (ok, reason)."},
    {"_set_compact", mod_set_compact, METH_O,
     "_set_compact(mode) -> previous: 0 never, 1 compact first for loop-free code, 2 always."},
    {"supported_opcodes", mod_supported_opcodes, METH_NOARGS, "Opcodes tier 1 compiles."},
    {"_code_is_wx_safe", mod_code_is_wx_safe, METH_O, "W^X check of a function's code pages."},
    {"_lines", mod_lines, METH_O, "Source line of every code unit (bytecode/decode)."},
    {"_exception_table", mod_exception_table, METH_O, "Decoded exception table (code units)."},
    {"_unit_memory", mod_unit_memory, METH_O, "Bytes the JIT holds for one code object."},
    {"_t2_attr_ways", mod_t2_attr_ways, METH_O,
     "(on) -> whether it was: tier 2's generic attribute sites get the receiver types tier 1 "
     "met as guards in line (tests of the sites' own entries switch it off)."},
    {"_attr_blocks", mod_attr_blocks, METH_NOARGS,
     "Blocks of further entries of attribute sites allocated (runtime/helpers.h OdAttrSite)."},
    {"_codemem_selftest", mod_codemem_selftest, METH_VARARGS,
     "Self-test of the executable-memory allocator: (seed, n)."},
    {"_asm_selftest", mod_asm_selftest, METH_NOARGS, "Assembler encodings for tests."},
    {"_tier2_hir", mod_tier2_hir, METH_VARARGS,
     "(func, passes=None) -> [(stage, HIR text)]: tier 2's HIR after building and each pass."},
    {"_tier2_lir", mod_tier2_lir, METH_O,
     "(func) -> the LIR text of a fresh tier-2 compile (nothing installed)."},
    {"_tier2_hir_corrupt", mod_tier2_hir_corrupt, METH_VARARGS,
     "(func, what) -> what the HIR verifier says after deliberate damage (tests)."},
    {"_tier2_passes", mod_tier2_passes, METH_NOARGS, "[(name, description)] of the HIR passes."},
    {"_tier2_type", mod_tier2_type, METH_VARARGS,
     "(op, a[, b]): join/meet/sub/str in tier 2's type lattice (tests)."},
    {"_tier2_type_names", mod_tier2_type_names, METH_NOARGS, "Named types of tier 2's lattice."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_overdrive", "overdrive's C core (use the overdrive package).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__overdrive(void)
{
    if (od_hook_init() < 0)
        return NULL;
    PyObject *mod = od_autoload_add(od_introspect_add(PyModule_Create(&moduledef)));
    PyObject *limits = mod ? limits_dict() : NULL;
    if (mod && (!limits || PyModule_AddObjectRef(mod, "LIMITS", limits) < 0))
        Py_CLEAR(mod);
    Py_XDECREF(limits);
    return mod;
}
