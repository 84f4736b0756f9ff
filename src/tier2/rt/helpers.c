/* tier2/rt/helpers.c — the generic operations of tier-2 code (helpers.h). */
#include "helpers.h"
#include "../lir/lir.h"
#include "exit.h"
#include "../../runtime/gen_resume.h"
#include "../../runtime/helpers.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const OdT2HelperInfo infos[OD_HOP__COUNT] = {
#define OD_T2_INFO(op, fn, check, kind, reason) [OD_HOP_##op] = {fn, check, kind, reason},
    OD_T2_HELPER_OPS(OD_T2_INFO)
#undef OD_T2_INFO
};

const OdT2HelperInfo *od_t2_helper_for(OdHirOp op)
{
    return (unsigned)op < OD_HOP__COUNT && infos[op].fn ? &infos[op] : NULL;
}

#define R(x) ((intptr_t)(x))

OD_T2_HELPER(od_t2_binary_op)
{
    (void)f, (void)obj;
    PyObject *a = args[0], *b = args[1];
    /* ints and floats first, without the number protocol (raytrace's polymorphic Vector
     * arithmetic, left generic after its guards failed) */
    PyObject *r = od_rt_binary_numbers((int)imm, a, b);
    if (r || PyErr_Occurred())
        return R(r);
    /* a class's Python __add__, __sub__, __mul__, __truediv__ (raytrace's Point - Point):
     * called as a Call of it is */
    if (PyType_HasFeature(Py_TYPE(a), Py_TPFLAGS_HEAPTYPE)) {
        int done;
        r = od_t2_binary_dunder((int)imm, a, b, &done);
        if (done)
            return R(r);
    }
    switch (imm) {
    case NB_ADD: return R(PyNumber_Add(a, b));
    case NB_AND: return R(PyNumber_And(a, b));
    case NB_FLOOR_DIVIDE: return R(PyNumber_FloorDivide(a, b));
    case NB_LSHIFT: return R(PyNumber_Lshift(a, b));
    case NB_MATRIX_MULTIPLY: return R(PyNumber_MatrixMultiply(a, b));
    case NB_MULTIPLY: return R(PyNumber_Multiply(a, b));
    case NB_REMAINDER: return R(PyNumber_Remainder(a, b));
    case NB_OR: return R(PyNumber_Or(a, b));
    case NB_POWER: return R(PyNumber_Power(a, b, Py_None));
    case NB_RSHIFT: return R(PyNumber_Rshift(a, b));
    case NB_SUBTRACT: return R(PyNumber_Subtract(a, b));
    case NB_TRUE_DIVIDE: return R(PyNumber_TrueDivide(a, b));
    case NB_XOR: return R(PyNumber_Xor(a, b));
    case NB_INPLACE_ADD: return R(PyNumber_InPlaceAdd(a, b));
    case NB_INPLACE_AND: return R(PyNumber_InPlaceAnd(a, b));
    case NB_INPLACE_FLOOR_DIVIDE: return R(PyNumber_InPlaceFloorDivide(a, b));
    case NB_INPLACE_LSHIFT: return R(PyNumber_InPlaceLshift(a, b));
    case NB_INPLACE_MATRIX_MULTIPLY: return R(PyNumber_InPlaceMatrixMultiply(a, b));
    case NB_INPLACE_MULTIPLY: return R(PyNumber_InPlaceMultiply(a, b));
    case NB_INPLACE_REMAINDER: return R(PyNumber_InPlaceRemainder(a, b));
    case NB_INPLACE_OR: return R(PyNumber_InPlaceOr(a, b));
    case NB_INPLACE_POWER: return R(PyNumber_InPlacePower(a, b, Py_None));
    case NB_INPLACE_RSHIFT: return R(PyNumber_InPlaceRshift(a, b));
    case NB_INPLACE_SUBTRACT: return R(PyNumber_InPlaceSubtract(a, b));
    case NB_INPLACE_TRUE_DIVIDE: return R(PyNumber_InPlaceTrueDivide(a, b));
    case NB_INPLACE_XOR: return R(PyNumber_InPlaceXor(a, b));
    }
    PyErr_SetString(PyExc_SystemError, "overdrive tier 2: unknown binary operator");
    return 0;
}

/* Whether PyUnicode_Resize can grow s in place and t's characters then fit in it: s is an
 * exact, ready, unhashed, not interned str no one else holds (what unicodeobject.c's
 * unicode_modifiable checks), of a kind wide enough for t. */
static int str_extends_in_place(PyObject *s, PyObject *t)
{
    return Py_REFCNT(s) == 1 && PyUnicode_IS_READY(s) && PyUnicode_IS_READY(t)
           && !PyUnicode_CHECK_INTERNED(s) && ((PyASCIIObject *)s)->hash == -1
           && PyUnicode_GET_LENGTH(s) > 0
           && PyUnicode_KIND(t) <= PyUnicode_KIND(s)
           && !(PyUnicode_IS_ASCII(s) && !PyUnicode_IS_ASCII(t))
           && PyUnicode_GET_LENGTH(s) <= PY_SSIZE_T_MAX - PyUnicode_GET_LENGTH(t);
}

/* `s += t` / `s = s + t` where the code's reference to s dies (lower.c): the interpreter's
 * BINARY_OP_INPLACE_ADD_UNICODE drops the local's reference and lets PyUnicode_Append extend
 * the string when the stack's is the last one; without it a loop building a string copies
 * it whole at every step (quadratic). Here the code's reference is the one handed over, and
 * the frame's copy of s (a write-back) is dropped first, as the interpreter drops its local:
 * the refcount then says whether anything else can see the string, and only a string with
 * one reference is ever resized. PyUnicode_Resize leaves s intact when it fails (unlike
 * PyUnicode_Append, which releases it), so an error leaves the code's reference in place for
 * the exit. */
OD_T2_HELPER(od_t2_str_append)
{
    PyObject *s = args[0], *t = args[1], *r;
    int local = (int)(imm >> 8) - 1;
    if (!PyUnicode_CheckExact(s) || !PyUnicode_CheckExact(t)) {
        r = (PyObject *)od_t2_binary_op(f, args, imm & 0xff, obj);
        if (r)
            Py_DECREF(s);       /* consumed on success, whatever the types */
        return R(r);
    }
    if (local >= 0 && f->localsplus[local] == s) {
        /* the frame's reference (the next instruction rebinds the local); the code's
         * keeps s alive */
        f->localsplus[local] = NULL;
        Py_DECREF(s);
    }
    if (str_extends_in_place(s, t)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(s), m = PyUnicode_GET_LENGTH(t);
        r = s;
        if (m && PyUnicode_Resize(&r, n + m) < 0)
            return 0;
        if (m)
            _PyUnicode_FastCopyCharacters(r, n, t, 0, m);
        od_t2_stats.str_appends_in_place++;
        return R(r);
    }
    r = PyUnicode_Concat(s, t);
    if (r)
        Py_DECREF(s);
    return R(r);
}

OD_T2_HELPER(od_t2_compare)
{
    (void)f, (void)obj;
    return R(PyObject_RichCompare(args[0], args[1], (int)imm));
}

OD_T2_HELPER(od_t2_contains)
{
    (void)f, (void)obj;
    int r = PySequence_Contains(args[1], args[0]);
    if (r < 0)
        return 0;
    return R(Py_NewRef((r ^ (int)imm) ? Py_True : Py_False));
}

OD_T2_HELPER(od_t2_unary)
{
    (void)f, (void)obj;
    switch (imm) {
    case UNARY_NEGATIVE: return R(PyNumber_Negative(args[0]));
    case UNARY_INVERT: return R(PyNumber_Invert(args[0]));
    default: return R(PyNumber_Positive(args[0]));
    }
}

OD_T2_HELPER(od_t2_not)
{
    (void)f, (void)imm, (void)obj;
    int r = PyObject_IsTrue(args[0]);
    if (r < 0)
        return 0;
    return R(Py_NewRef(r ? Py_False : Py_True));
}

/* Truth of these runs no Python code. */
static int plain_truth(PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    return t == &PyLong_Type || t == &PyFloat_Type || t == &PyUnicode_Type || t == &PyList_Type
           || t == &PyTuple_Type || t == &PyDict_Type || o == Py_None || t == &PySet_Type
           || t == &PyFrozenSet_Type || t == &PyBytes_Type || t == &PyBool_Type;
}

OD_T2_HELPER(od_t2_truth)
{
    (void)f, (void)obj;
    if (imm && !plain_truth(args[0]))
        return OD_T2_SYNC;
    return PyObject_IsTrue(args[0]);
}

/* od_t2_load_attr, od_t2_store_attr, od_t2_load_method: rt/attr.c */

/* _PyObject_LookupSpecial (not exported): the type's attribute, bound to o. */
static PyObject *lookup_special(PyObject *o, PyObject *name)
{
    PyObject *r = _PyType_Lookup(Py_TYPE(o), name);
    if (!r)
        return NULL;
    descrgetfunc get = Py_TYPE(r)->tp_descr_get;
    return get ? get(r, o, (PyObject *)Py_TYPE(o)) : Py_NewRef(r);
}

/* BEFORE_WITH: __enter__ and __exit__ looked up in that order (with the interpreter's
 * messages when missing), then __enter__() called. */
OD_T2_HELPER(od_t2_before_with)
{
    (void)f, (void)imm, (void)obj;
    static PyObject *enter_name, *exit_name;
    if (!enter_name && !(enter_name = PyUnicode_InternFromString("__enter__")))
        return -1;
    if (!exit_name && !(exit_name = PyUnicode_InternFromString("__exit__")))
        return -1;
    PyObject *mgr = args[0], *enter = lookup_special(mgr, enter_name), *exit, *res;
    if (!enter) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "'%.200s' object does not support the context "
                         "manager protocol", Py_TYPE(mgr)->tp_name);
        return -1;
    }
    if (!(exit = lookup_special(mgr, exit_name))) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "'%.200s' object does not support the context "
                         "manager protocol (missed __exit__ method)", Py_TYPE(mgr)->tp_name);
        Py_DECREF(enter);
        return -1;
    }
    res = PyObject_CallNoArgs(enter);
    Py_DECREF(enter);
    if (!res) {
        Py_DECREF(exit);
        return -1;
    }
    args[0] = exit;
    args[1] = res;
    return 0;
}

uint64_t od_t2_global_loads[3];

OdT2GlobalSite *od_t2_global_sites_new(int n)
{
    if (n <= 0)
        return NULL;
    OdT2GlobalSite *s = calloc((size_t)n, sizeof *s);
    if (!s)
        return (OdT2GlobalSite *)PyErr_NoMemory();
    for (int k = 0; k < n; k++)
        s[k].globals_index = -1;
    return s;
}

/* The value of the entry at `index` of a combined dict of str keys when its key is `name`
 * (borrowed), else NULL. */
static PyObject *global_at(PyDictObject *d, Py_ssize_t index, PyObject *name)
{
    PyDictKeysObject *keys = d->ma_keys;
    if (index < 0 || d->ma_values || keys->dk_kind != DICT_KEYS_UNICODE || index >= keys->dk_nentries)
        return NULL;
    PyDictUnicodeEntry *e = &DK_UNICODE_ENTRIES(keys)[index];
    return e->me_key == name ? e->me_value : NULL;
}

/* The index of `name`'s entry (by identity) in a combined dict of str keys, or -1: read once
 * per refill (a new keys object after a resize), as tier 1's site does. */
static Py_ssize_t global_index(PyDictObject *d, PyObject *name)
{
    PyDictKeysObject *keys = d->ma_keys;
    if (d->ma_values || keys->dk_kind != DICT_KEYS_UNICODE)
        return -1;
    PyDictUnicodeEntry *e = DK_UNICODE_ENTRIES(keys);
    for (Py_ssize_t k = 0; k < keys->dk_nentries; k++)
        if (e[k].me_key == name)
            return k;
    return -1;
}

/* LOAD_GLOBAL: NULL without an exception when the name is unbound (the interpreter raises
 * the NameError) or a dict is not exactly a dict (the interpreter's general path). `imm`:
 * the site (OdT2GlobalSite) or 0. */
OD_T2_HELPER(od_t2_load_global)
{
    (void)args;
    OdT2GlobalSite *s = (OdT2GlobalSite *)(intptr_t)imm;
    if (!PyDict_CheckExact(f->f_globals) || !PyDict_CheckExact(f->f_builtins))
        return 0;
    PyDictObject *g = (PyDictObject *)f->f_globals, *b = (PyDictObject *)f->f_builtins;
    PyObject *v;
    od_t2_global_loads[0] += s != NULL;
    if (s && (v = global_at(g, s->globals_index, obj)) != NULL) {
        od_t2_global_loads[1]++;
        return R(Py_NewRef(v));
    }
    v = PyDict_GetItemWithError(f->f_globals, obj);
    if (v) {
        if (s && s->globals_index != -2) {
            Py_ssize_t k = global_index(g, obj);
            s->globals_index = k >= 0 ? k : -2;     /* -2: not indexable, not scanned again */
        }
        return R(Py_NewRef(v));
    }
    if (PyErr_Occurred())
        return 0;
    if (s && s->builtin && b->ma_version_tag == s->builtins_version) {
        od_t2_global_loads[2]++;
        return R(Py_NewRef(s->builtin));
    }
    /* the version first: if the lookup changed the dict, the next load looks up again */
    uint64_t version = b->ma_version_tag;
    v = PyDict_GetItemWithError(f->f_builtins, obj);
    if (s) {
        s->builtin = v;
        s->builtins_version = version;
    }
    return R(Py_XNewRef(v));
}

OD_T2_HELPER(od_t2_store_global)
{
    (void)imm;
    return PyDict_SetItem(f->f_globals, obj, args[0]);
}

OD_T2_HELPER(od_t2_get_iter)
{
    (void)f, (void)imm, (void)obj;
    return R(PyObject_GetIter(args[0]));
}

OD_T2_HELPER(od_t2_build_tuple)
{
    (void)f, (void)obj;
    PyObject *t = PyTuple_New((Py_ssize_t)imm);
    for (long long k = 0; t && k < imm; k++)
        PyTuple_SET_ITEM(t, k, Py_NewRef(args[k]));
    return R(t);
}

OD_T2_HELPER(od_t2_build_list)
{
    (void)f, (void)obj;
    PyObject *l = PyList_New((Py_ssize_t)imm);
    for (long long k = 0; l && k < imm; k++)
        PyList_SET_ITEM(l, k, Py_NewRef(args[k]));
    return R(l);
}

OD_T2_HELPER(od_t2_build_slice)
{
    (void)f, (void)obj;
    return R(PySlice_New(args[0], args[1], imm == 3 ? args[2] : NULL));
}

/* BUILD_SET: the items added in stack order (the first error, e.g. an unhashable item,
 * ends it). */
OD_T2_HELPER(od_t2_build_set)
{
    (void)f, (void)obj;
    PyObject *set = PySet_New(NULL);
    for (long long k = 0; set && k < imm; k++)
        if (PySet_Add(set, args[k]) < 0)
            Py_CLEAR(set);
    return R(set);
}

static PyObject *dict_from(PyObject *const *keys, Py_ssize_t kstep, PyObject *const *values,
                           Py_ssize_t vstep, Py_ssize_t n)
{
    /* what _PyDict_FromItems (not exported) does, in the same order: a later equal key
     * replaces the value, the first one's position stays */
    PyObject *d = _PyDict_NewPresized(n);
    for (Py_ssize_t k = 0; d && k < n; k++)
        if (PyDict_SetItem(d, keys[k * kstep], values[k * vstep]) < 0)
            Py_CLEAR(d);
    return d;
}

/* BUILD_MAP: k0, v0, k1, v1, ... */
OD_T2_HELPER(od_t2_build_map)
{
    (void)f, (void)obj;
    return R(dict_from(args, 2, args + 1, 2, (Py_ssize_t)(imm / 2)));
}

/* BUILD_CONST_KEY_MAP: values..., then the tuple of keys. */
OD_T2_HELPER(od_t2_build_const_key_map)
{
    (void)f, (void)obj;
    PyObject *keys = args[imm - 1];
    Py_ssize_t n = (Py_ssize_t)imm - 1;
    if (!PyTuple_CheckExact(keys) || PyTuple_GET_SIZE(keys) != n) {
        PyErr_SetString(PyExc_SystemError, "bad BUILD_CONST_KEY_MAP keys argument");
        return 0;
    }
    return R(dict_from(&PyTuple_GET_ITEM(keys, 0), 1, args, 1, n));
}

/* BUILD_STRING: the pieces (strs) joined. */
OD_T2_HELPER(od_t2_build_string)
{
    (void)f, (void)obj;
    PyObject *empty = PyUnicode_New(0, 0);     /* the interpreter's empty-string singleton */
    if (!empty)
        return 0;
    PyObject *r = _PyUnicode_JoinArray(empty, args, (Py_ssize_t)imm);
    Py_DECREF(empty);
    return R(r);
}

/* FORMAT_VALUE (imm: its oparg): the conversion (!s, !r, !a), then format() with the spec
 * when there is one; an exact str without a spec is its own result. */
OD_T2_HELPER(od_t2_format_value)
{
    (void)f, (void)obj;
    PyObject *value = args[0], *spec = (imm & FVS_MASK) == FVS_HAVE_SPEC ? args[1] : NULL;
    PyObject *converted = NULL, *r;
    switch (imm & FVC_MASK) {
    case FVC_NONE: break;
    case FVC_STR: converted = PyObject_Str(value); break;
    case FVC_REPR: converted = PyObject_Repr(value); break;
    case FVC_ASCII: converted = PyObject_ASCII(value); break;
    default:
        PyErr_Format(PyExc_SystemError, "unexpected conversion flag %d", (int)(imm & FVC_MASK));
        return 0;
    }
    if ((imm & FVC_MASK) != FVC_NONE) {
        if (!converted)
            return 0;
        value = converted;
    }
    if (PyUnicode_CheckExact(value) && !spec)
        r = Py_NewRef(value);
    else
        r = PyObject_Format(value, spec);
    Py_XDECREF(converted);
    return R(r);
}

/* LIST_EXTEND (list, iterable), with the interpreter's message for a non-iterable. */
OD_T2_HELPER(od_t2_list_extend)
{
    (void)f, (void)imm, (void)obj;
    PyObject *it = args[1], *none = _PyList_Extend((PyListObject *)args[0], it);
    if (!none) {
        if (PyErr_ExceptionMatches(PyExc_TypeError) && Py_TYPE(it)->tp_iter == NULL
            && !PySequence_Check(it)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "Value after * must be an iterable, not %.200s",
                         Py_TYPE(it)->tp_name);
        }
        return -1;
    }
    Py_DECREF(none);
    return 0;
}

OD_T2_HELPER(od_t2_set_add)
{
    (void)f, (void)imm, (void)obj;
    return PySet_Add(args[0], args[1]);
}

/* MAP_ADD (dict, key, value). */
OD_T2_HELPER(od_t2_map_add)
{
    (void)f, (void)imm, (void)obj;
    return PyDict_SetItem(args[0], args[1], args[2]);
}

OD_T2_HELPER(od_t2_list_append)
{
    (void)f, (void)imm, (void)obj;
    return PyList_Append(args[0], args[1]);
}

OD_T2_HELPER(od_t2_list_to_tuple)
{
    (void)f, (void)imm, (void)obj;
    return R(PyList_AsTuple(args[0]));
}

/* A generic subscript; a str's character below 256 without PyObject_GetItem (tomllib's
 * skip_chars `src[pos]`, runtime/helpers.h od_str_char_at). Anything else, an index out of
 * range included (IndexError), takes PyObject_GetItem. */
OD_T2_HELPER(od_t2_subscr)
{
    (void)f, (void)imm, (void)obj;
    PyObject *ch = od_str_char_at(args[0], args[1]);
    if (ch) {
        Py_INCREF(ch);
        return R(ch);
    }
    return R(PyObject_GetItem(args[0], args[1]));
}

OD_T2_HELPER(od_t2_store_subscr)
{
    (void)f, (void)imm, (void)obj;
    return PyObject_SetItem(args[0], args[1], args[2]);
}

OD_T2_HELPER(od_t2_delete_subscr)
{
    (void)f, (void)imm, (void)obj;
    return PyObject_DelItem(args[0], args[1]);
}

/* float ** float (args: double bits) for a finite base and a finite exponent: what
 * float_pow computes there (1.0 for a zero exponent; +-0.0 for a zero base; +-1.0 for a
 * base of +-1; a negative base only with an integral exponent: its absolute value's power,
 * negated for an odd exponent; libm's pow, the same range check), as double bits; anything
 * else OD_T2_BITS_FAIL (nothing done: the interpreter computes it (a complex, an
 * infinity's or a NaN's power), or raises: 0.0 ** -1, an overflow). */
OD_T2_HELPER(od_t2_float_pow)
{
    (void)f, (void)imm, (void)obj;
    double v, w, x;
    memcpy(&v, &args[0], sizeof v);
    memcpy(&w, &args[1], sizeof w);
    intptr_t bits;
    uint64_t vb, wb;
    memcpy(&vb, &v, sizeof vb);
    memcpy(&wb, &w, sizeof wb);
    /* the common case first, on the bits (fewer branches than the comparisons): a positive
     * finite base (0 < bits < +inf's) other than 1.0, a finite nonzero exponent (the bits
     * without the sign: 0 < bits < +inf's) */
    if (vb - 1 < 0x7ff0000000000000ULL - 1 && vb != 0x3ff0000000000000ULL
        && (wb << 1) - 1 < 0xffe0000000000000ULL - 1) {
        errno = 0;
        x = pow(v, w);
        if (errno == 0 ? isinf(x) : !(errno == ERANGE && x == 0.0))
            return OD_T2_BITS_FAIL;
        memcpy(&bits, &x, sizeof bits);
        return bits;
    }
    if (!isfinite(v) || !isfinite(w))
        return OD_T2_BITS_FAIL;
    if (w == 0.0) {
        x = 1.0;                                /* even 0.0 ** 0 */
    } else if (v == 0.0) {
        if (w < 0.0)
            return OD_T2_BITS_FAIL;             /* ZeroDivisionError */
        x = fmod(fabs(w), 2.0) == 1.0 ? v : 0.0;    /* DOUBLE_IS_ODD_INTEGER: the base's sign */
    } else {
        int negate = 0;
        if (v < 0.0) {
            if (w != floor(w))
                return OD_T2_BITS_FAIL;         /* a complex result */
            v = -v;
            negate = fmod(fabs(w), 2.0) == 1.0;
        }
        if (v == 1.0) {
            x = 1.0;
        } else {
            errno = 0;
            x = pow(v, w);
            /* _Py_ADJUST_ERANGE1: an infinity is an overflow, an underflow to 0 is fine */
            if (errno == 0 ? isinf(x) : !(errno == ERANGE && x == 0.0))
                return OD_T2_BITS_FAIL;
        }
        if (negate)
            x = -x;
    }
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* math.log's m_log for what reaches it without an error: a positive argument (its log; +inf
 * is its own), a NaN (itself). Anything else (0, negatives, -inf) is a domain error: marked
 * by a NaN here, which FloatMath's code takes for one (a NaN from a non-NaN: an exit). */
static double log_checked(double x)
{
    if (isnan(x) || x == HUGE_VAL)
        return x;
    return x > 0.0 ? log(x) : NAN;
}

/* The math functions' C bodies, by OdHirMathFn: what mathmodule.c's FUNC1 and math.log
 * call. Tier-2 code calls them directly (FloatMath: lir.h OD_CHK_MATH), on the operand's
 * double, and leaves for the interpreter where math_1 would raise. */
static double (*const math_fns[OD_MATH__COUNT])(double) = {
    [OD_MATH_SQRT] = sqrt, [OD_MATH_SIN] = sin, [OD_MATH_COS] = cos, [OD_MATH_TAN] = tan,
    [OD_MATH_EXP] = exp, [OD_MATH_LOG] = log_checked, [OD_MATH_FABS] = fabs,
};

double (*od_t2_math_c_fn(int fn))(double)
{
    return fn >= 0 && fn < OD_MATH__COUNT ? math_fns[fn] : NULL;
}

int od_t2_math_fn_of(PyObject *callee)
{
    if (!callee || !PyCFunction_CheckExact(callee))
        return -1;
    PyCFunctionObject *cf = (PyCFunctionObject *)callee;
    PyObject *self = cf->m_self;
    PyModuleDef *def = self && PyModule_CheckExact(self) ? PyModule_GetDef(self) : NULL;
    if (!def || !def->m_name || strcmp(def->m_name, "math") != 0 || !def->m_methods)
        return -1;
    /* the entry must be one of the module's own method table (not a function of another
     * module's that was given the math module as its self) */
    const PyMethodDef *ml = def->m_methods;
    while (ml->ml_name && ml != cf->m_ml)
        ml++;
    if (!ml->ml_name)
        return -1;
    for (int k = 0; k < OD_MATH__COUNT; k++)
        if (strcmp(ml->ml_name, od_hir_math_names[k]) == 0)
            return k;
    return -1;
}

/* int // and % on unboxed int64 operands, as longobject.c's l_divmod rounds: the quotient
 * towards minus infinity, the remainder with the divisor's sign. A zero divisor and
 * INT64_MIN // -1 (the one quotient outside int64) return OD_T2_BITS_FAIL, the marker the
 * CallH checks (an exit: the interpreter raises or computes); a true result equal to the
 * marker (about 9.2e18) exits too, harmlessly. */
OD_T2_HELPER(od_t2_int_floordiv)
{
    (void)f, (void)imm, (void)obj;
    int64_t a = (int64_t)(intptr_t)args[0], b = (int64_t)(intptr_t)args[1];
    if (b == 0 || (a == INT64_MIN && b == -1))
        return OD_T2_BITS_FAIL;
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return (intptr_t)q;
}

OD_T2_HELPER(od_t2_int_mod)
{
    (void)f, (void)imm, (void)obj;
    int64_t a = (int64_t)(intptr_t)args[0], b = (int64_t)(intptr_t)args[1];
    if (b == 0)
        return OD_T2_BITS_FAIL;
    if (b == -1)
        return 0;                       /* (INT64_MIN % -1 overflows in C) */
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return (intptr_t)r;
}

/* int / int on unboxed int64 operands, as longobject.c's long_true_divide computes it when
 * both are exact doubles (|x| < 2**53, its fast path): one IEEE division of the two exact
 * doubles, which is the exactly rounded quotient it promises (0 / -n is -0.0 there too).
 * A zero divisor, or an operand of 2**53 or more (where converting first would round twice),
 * returns OD_T2_BITS_FAIL: an exit, and the interpreter raises or computes. */
OD_T2_HELPER(od_t2_int_truediv)
{
    (void)f, (void)imm, (void)obj;
    int64_t a = (int64_t)(intptr_t)args[0], b = (int64_t)(intptr_t)args[1];
    const int64_t lim = (int64_t)1 << 53;
    if (b == 0 || a <= -lim || a >= lim || b <= -lim || b >= lim)
        return OD_T2_BITS_FAIL;
    double q = (double)a / (double)b;
    intptr_t bits;
    memcpy(&bits, &q, sizeof bits);
    return bits;
}

/* The operand of a float operation that may also be an int (an accumulator that starts as
 * `0`): an exact float's double, an exact int's as float's arithmetic converts it (exact,
 * or rounded to nearest even; too large: OverflowError there, an exit here), as raw bits;
 * anything else OD_T2_BITS_FAIL (an exit: the interpreter computes). */
OD_T2_HELPER(od_t2_unbox_number)
{
    (void)f, (void)imm, (void)obj;
    PyObject *v = args[0];
    double d;
    if (PyFloat_CheckExact(v)) {
        d = PyFloat_AS_DOUBLE(v);
    } else if (PyLong_CheckExact(v)) {
        d = PyLong_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return OD_T2_BITS_FAIL;
        }
    } else {
        return OD_T2_BITS_FAIL;
    }
    intptr_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

/* MAKE_CELL (imm: slot): the slot's value (an argument, or NULL) moves into a new cell. */
OD_T2_HELPER(od_t2_make_cell)
{
    (void)args, (void)obj;
    PyObject **slot = &f->localsplus[imm], *cell = PyCell_New(*slot), *old = *slot;
    if (!cell)
        return -1;
    *slot = cell;
    Py_XDECREF(old);
    return 0;
}

/* COPY_FREE_VARS (imm: n): the function's closure cells into the slots after the locals
 * and the cells. */
OD_T2_HELPER(od_t2_copy_free_vars)
{
    (void)args, (void)obj;
    PyCodeObject *co = f->f_code;
    PyObject *closure = f->f_func->func_closure;
    int at = co->co_nlocals + co->co_nplaincellvars;
    for (long long k = 0; k < imm; k++)
        f->localsplus[at + k] = Py_NewRef(PyTuple_GET_ITEM(closure, k));
    return 0;
}

/* LOAD_DEREF: the cell's contents; NULL without an exception when it is empty (the code
 * deopts and the interpreter raises its NameError or UnboundLocalError). */
OD_T2_HELPER(od_t2_load_deref)
{
    (void)f, (void)imm, (void)obj;
    return R(Py_XNewRef(PyCell_GET(args[0])));
}

OD_T2_HELPER(od_t2_store_deref)
{
    (void)f, (void)imm, (void)obj;
    PyObject *old = PyCell_GET(args[0]);
    PyCell_SET(args[0], Py_NewRef(args[1]));
    Py_XDECREF(old);    /* last: its finalizer sees the new value */
    return 0;
}

/* DELETE_DEREF: -1 without an exception when already empty (the interpreter raises). */
OD_T2_HELPER(od_t2_delete_deref)
{
    (void)f, (void)imm, (void)obj;
    PyObject *old = PyCell_GET(args[0]);
    if (!old)
        return -1;
    PyCell_SET(args[0], NULL);
    Py_DECREF(old);
    return 0;
}

/* MAKE_FUNCTION (imm: its flags): operands [defaults] [kwdefaults] [annotations] [closure]
 * code, bottom first; the function gets them as the interpreter sets them. */
OD_T2_HELPER(od_t2_make_function)
{
    (void)obj;
    int k = __builtin_popcount((unsigned)imm & 0xf);
    PyFunctionObject *fn = (PyFunctionObject *)PyFunction_New(args[k], f->f_globals);
    if (!fn)
        return 0;
    if (imm & 0x08)
        fn->func_closure = Py_NewRef(args[--k]);
    if (imm & 0x04)
        fn->func_annotations = Py_NewRef(args[--k]);
    if (imm & 0x02)
        fn->func_kwdefaults = Py_NewRef(args[--k]);
    if (imm & 0x01)
        fn->func_defaults = Py_NewRef(args[--k]);
    return R(fn);
}

OD_T2_HELPER(od_t2_box_int)
{
    (void)f, (void)imm, (void)obj;
    long long v;
    memcpy(&v, &args[0], sizeof v);
    return R(PyLong_FromLongLong(v));
}

OD_T2_HELPER(od_t2_box_float)
{
    (void)f, (void)imm, (void)obj;
    double d;
    memcpy(&d, &args[0], sizeof d);
    return R(PyFloat_FromDouble(d));
}

/* enumobject.c's and bltinmodule.c's 3.11 layouts of enumerate and zip (private there),
 * checked against the types' tp_basicsize (od_t2_helpers_usable): only the inner iterators
 * are read. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t en_index;
    PyObject *en_sit, *en_result, *en_longindex, *one;
} EnumIter;

typedef struct {
    PyObject_HEAD
    Py_ssize_t tuplesize;
    PyObject *ittuple, *result;
    int strict;
} ZipIter;

/* Iterators whose next item runs no Python code (out of line: the range test stays short):
 * the builtin containers' iterators, and enumerate and zip over such iterators (their next
 * only steps the inner ones, counts in C and refills a tuple: spectral_norm's
 * `for j, u_j in enumerate(u)` wrote the locals back before every step, through
 * od_t2_sync). `depth` bounds the nesting looked through. */
static __attribute__((noinline)) int plain_iter(PyObject *it, int depth)
{
    PyTypeObject *t = Py_TYPE(it);
    /* the usual ones first: this runs at every step of such a loop */
    if (t == &PyListIter_Type || t == &PyRangeIter_Type || t == &PyTupleIter_Type)
        return 1;
    if (t == &PyEnum_Type) {
        PyObject *inner = ((EnumIter *)it)->en_sit;
        return depth > 0 && inner && plain_iter(inner, depth - 1);
    }
    if (t == &PyLongRangeIter_Type || t == &PyUnicodeIter_Type || t == &PyDictIterKey_Type
        || t == &PyDictIterValue_Type || t == &PyDictIterItem_Type || t == &PySetIter_Type
        || t == &PyBytesIter_Type || t == &PyByteArrayIter_Type)
        return 1;
    if (depth <= 0)
        return 0;
    if (t == &PyZip_Type) {
        PyObject *its = ((ZipIter *)it)->ittuple;
        if (!its || !PyTuple_CheckExact(its))
            return 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(its); k++)
            if (!plain_iter(PyTuple_GET_ITEM(its, k), depth - 1))
                return 0;
        return 1;
    }
    return 0;
}

/* rangeobject.c's 3.11 layout of a range iterator (private there), checked against the
 * type's tp_basicsize before tier 2 compiles anything (od_t2_helpers_usable). */
typedef struct {
    PyObject_HEAD
    long index, start, step, len;
} RangeIter;

int od_t2_helpers_usable(void)
{
    return PyRangeIter_Type.tp_basicsize == (Py_ssize_t)sizeof(RangeIter)
           && PyListIter_Type.tp_basicsize == (Py_ssize_t)sizeof(OdT2ListIter)
           && PyEnum_Type.tp_basicsize == (Py_ssize_t)sizeof(EnumIter)
           && PyZip_Type.tp_basicsize == (Py_ssize_t)sizeof(ZipIter);
}

static inline intptr_t next_item(PyObject *it)
{
    if (Py_TYPE(it) == &PyRangeIter_Type) {
        /* what rangeiter_next does, without the indirect call */
        RangeIter *r = (RangeIter *)it;
        if (r->index < r->len)
            return R(PyLong_FromLong((long)(r->start + (unsigned long)(r->index++) * r->step)));
        return OD_T2_DONE;
    }
    if (Py_IS_TYPE(it, &PyGen_Type)) {
        /* a compiled generator: resumed in its native code (runtime/gen_resume.h); its
         * return value ends the loop */
        PyObject *r;
        int status = od_rt_gen_resume(_PyThreadState_GET(), (PyGenObject *)it, NULL, &r);
        if (status == PYGEN_NEXT)
            return R(r);
        if (status == PYGEN_ERROR)
            return 0;
        if (status == PYGEN_RETURN) {
            Py_DECREF(r);
            return OD_T2_DONE;
        }
    }
    PyObject *next = (*Py_TYPE(it)->tp_iternext)(it);
    if (next)
        return R(next);
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_StopIteration))
            return 0;
        PyErr_Clear();
    }
    return OD_T2_DONE;
}

OD_T2_HELPER(od_t2_for_iter_sync)
{
    (void)f, (void)imm, (void)obj;
    PyTypeObject *t = Py_TYPE(args[0]);
    if (__builtin_expect(t == &PyRangeIter_Type, 1) || plain_iter(args[0], 4))
        return next_item(args[0]);
    return OD_T2_SYNC;
}

OD_T2_HELPER(od_t2_for_iter)
{
    (void)f, (void)imm, (void)obj;
    return next_item(args[0]);
}

void od_t2_values_insert(PyDictValues *values, Py_ssize_t index)
{
    _PyDictValues_AddToInsertionOrder(values, index);
}
