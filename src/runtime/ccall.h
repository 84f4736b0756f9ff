/* runtime/ccall.h — CALL of C callables: the shared direct road and the specialized forms.
 *
 * A CALL site (OdCallSite) calls its helper through the site's `fn` (tier1 compile.c
 * emit_helper_call: `call [rcx + fn]`, rcx = the site). `fn` starts as od_rt_call, which on
 * its first call looks at what the site calls (od_rt_call_adapt) and, when it is one of
 * the forms below, points `fn` at that form's helper: the road the specializing
 * interpreter's PRECALL takes for the same form (PRECALL_NO_KW_LEN, ..._LIST_APPEND,
 * ..._METHOD_DESCRIPTOR_O, ...), with the same guards. A form helper whose guard fails
 * (another callable, another self type, another argument count) points `fn` at
 * od_rt_call_generic for good and makes the call there: a site that met two kinds keeps
 * the generic road, which is what od_rt_call was before forms (no retry, no counter).
 * A site copied into a recompiled unit (tier1 compile.c: byte by byte) keeps its `fn`.
 *
 * Every form helper obeys the OD_HELPER contract of CALL (helpers.h: keeps its inputs on
 * error), counts the C recursion exactly as od_rt_call does for the same call (the
 * specialized forms when the calling code is quickened, co_warmup == 0; vectorcall's
 * counting otherwise: call_c_direct below), checks the result as vectorcall does, and keeps
 * the site's call count. */
#ifndef OD_RUNTIME_CCALL_H
#define OD_RUNTIME_CCALL_H

#include "helpers.h"

/* X(NAME, name): the forms, in the order od_rt_call_adapt tries them. `name` is what
 * info() shows as the site's "form". NO_KW forms are taken only by sites without keywords.
 *   LEN            the builtin len, 1 argument (exact identity: interp->callable_cache)
 *   ISINSTANCE     the builtin isinstance, 2 arguments
 *   LIST_APPEND    list.append on an exact list, 1 argument
 *   DESCR_O        a method descriptor, METH_O, self of its type, 1 argument
 *   DESCR_NOARGS   a method descriptor, METH_NOARGS, self of its type
 *   DESCR_FAST     a method descriptor, METH_FASTCALL, self of its type
 *   DESCR_FAST_KW  a method descriptor, METH_FASTCALL|METH_KEYWORDS, self of its type
 *   BUILTIN_O      a builtin function, METH_O, 1 argument
 *   BUILTIN_FAST   a builtin function, METH_FASTCALL
 *   BUILTIN_FAST_KW  a builtin function, METH_FASTCALL|METH_KEYWORDS (keywords too)
 *   TYPE_1         type(x)
 *   STR_1          str(x)
 *   TUPLE_1        tuple(x)
 *   CLASS          a type with its own vectorcall (int, list, dict, ...: keywords too)
 *   PY_INIT        a class of metaclass type, without vectorcall, whose instances come
 *                  from object.__new__ and whose __init__ is a Python function (most
 *                  classes of Python code: keywords too): the instance allocated and
 *                  __init__ called on its own frame, as type_call, object_new and
 *                  slot_tp_init do, without the argument tuple and three C calls between */
#define OD_CALL_FORMS(X)                 \
    X(LEN, len)                          \
    X(ISINSTANCE, isinstance)            \
    X(LIST_APPEND, list_append)          \
    X(DESCR_O, descr_o)                  \
    X(DESCR_NOARGS, descr_noargs)        \
    X(DESCR_FAST, descr_fast)            \
    X(DESCR_FAST_KW, descr_fast_kw)      \
    X(BUILTIN_O, builtin_o)              \
    X(BUILTIN_FAST, builtin_fast)        \
    X(BUILTIN_FAST_KW, builtin_fast_kw)  \
    X(TYPE_1, type_1)                    \
    X(STR_1, str_1)                      \
    X(TUPLE_1, tuple_1)                  \
    X(CLASS, class)                      \
    X(PY_INIT, py_init)

typedef enum {
    OD_CF_NONE,
#define OD_CF_ENUM(N, n) OD_CF_##N,
    OD_CALL_FORMS(OD_CF_ENUM)
#undef OD_CF_ENUM
    OD_CF_COUNT
} OdCallForm;

typedef OD_HELPER((*OdCallHelper));

/* overdrive/_dis.py names the helper of `call [rcx + 0x18]` by reading the site. */
_Static_assert(offsetof(OdCallSite, fn) == 0x18, "the site's helper where dis_native reads it");

/* One helper per form: od_rt_call_len, od_rt_call_list_append, ... */
#define OD_CF_DECLARE(N, n) OD_HELPER(od_rt_call_##n);
OD_CALL_FORMS(OD_CF_DECLARE)
#undef OD_CF_DECLARE

/* The generic road without adapting (a site that met more than one kind). */
OD_HELPER(od_rt_call_generic);

/* Points site->fn at the helper of the form of the call about to be made ([NULL or
 * callable, callable or self, args...] below sp), or at od_rt_call_generic when it is none
 * of them. Calls nothing, changes nothing else. */
void od_rt_call_adapt(PyObject **sp, int oparg, OdCallSite *site);

/* What info() shows for the site: the form's name, "generic" (adapted to no form or
 * missed), or NULL (not adapted yet). */
const char *od_rt_call_form_name(const OdCallSite *site);

/* Calls that took a form's road (stats()["calls_c_specialized"]). */
extern uint64_t od_rt_calls_c_specialized;

/* A builtin function or method descriptor with `flags` called through its C pointer, as
 * the specializing interpreter's PRECALL_BUILTIN_* / PRECALL_*_METHOD_DESCRIPTOR_* forms
 * do. That is faster than vectorcall, and it lets the C recursion depth be counted exactly
 * as the interpreter counts it, which code that measures its own depth sees
 * (test.support.infinite_recursion, PyErr_NormalizeException at the limit):
 *  - generic vectorcall counts every call of a builtin or method descriptor;
 *  - the specialized forms do not count the fast-call ones, `len` and `list.append`, and
 *    count METH_O and METH_NOARGS.
 * The interpreter uses the specialized forms once the calling code object is quickened
 * (co_warmup back at 0: a quickened site specializes on its first run), so `quickened`
 * picks which of the two the call matches. Calls the interpreter does not specialize
 * (keywords to a method descriptor, wrong argument counts) stay on vectorcall.
 * Compiled code runs with tracing off (it exits when tracing switches on), which is the
 * condition under which the interpreter uses these forms too.
 * Returns 0 with *res set if it made the call (*res NULL: an exception), -1 if the call
 * is not one of these forms. Inline: with `flags` a constant (the form helpers) the
 * switches fold away. */
static inline __attribute__((always_inline)) int
od_call_c_direct(PyThreadState *ts, PyObject *callable, PyCFunction meth, int flags,
                 PyObject *self, PyObject **args, int nargs, PyObject *kwnames, int quickened,
                 PyObject **res)
{
    int counted = 1; /* whether this call is in the recursion count */
    switch (flags) {
    case METH_FASTCALL:
        if (kwnames)
            return -1;
        counted = !quickened;
        break;
    case METH_FASTCALL | METH_KEYWORDS:
        counted = !quickened;
        break;
    case METH_O:
        if (kwnames || nargs != 1)
            return -1;
        break;
    case METH_NOARGS:
        if (kwnames || nargs != 0)
            return -1;
        break;
    default:
        return -1;
    }
    if (counted && _Py_EnterRecursiveCallTstate(ts, " while calling a Python object")) {
        *res = NULL;
        return 0;
    }
    PyObject *r;
    switch (flags) {
    case METH_FASTCALL:
        r = ((_PyCFunctionFast)(void (*)(void))meth)(self, args, nargs);
        break;
    case METH_FASTCALL | METH_KEYWORDS:
        r = ((_PyCFunctionFastWithKeywords)(void (*)(void))meth)(self, args, nargs, kwnames);
        break;
    case METH_O:
        r = meth(self, args[0]);
        break;
    default: /* METH_NOARGS */
        r = meth(self, NULL);
        break;
    }
    if (counted)
        _Py_LeaveRecursiveCallTstate(ts);
    /* As vectorcall does: a NULL result without an exception (or a result with one) is
     * reported as a SystemError naming the function. */
    if (__builtin_expect((r == NULL) == (ts->curexc_type == NULL), 0))
        r = _Py_CheckFunctionResult(ts, callable, r, NULL);
    *res = r;
    return 0;
}

#endif
