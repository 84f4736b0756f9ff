/* runtime/ops_arith.c — unary and binary operators, comparisons, membership, truth.
 * Fast paths for exact int (single-digit) and float operands record their hits in the
 * site's OdOpCache; everything else goes through the abstract object API exactly as the
 * interpreter's generic instruction does. */
#include "helpers.h"

#include <math.h>

#define TOP() (sp[-1])
#define SECOND() (sp[-2])

/* Value of an int whose magnitude fits one 30-bit digit ("compact"); 3.11 layout. */
static inline int compact_long(PyObject *o, long *out)
{
    Py_ssize_t size = Py_SIZE(o);
    if ((size_t)(size + 1) > 2)
        return 0;
    long d = size == 0 ? 0 : (long)((PyLongObject *)o)->ob_digit[0];
    *out = size < 0 ? -d : d;
    return 1;
}

static OD_HELPER(unary)
{
    (void)f; (void)arg;
    PyObject *v = TOP(), *res;
    switch (oparg) {
    case UNARY_POSITIVE: res = PyNumber_Positive(v); break;
    case UNARY_NEGATIVE: res = PyNumber_Negative(v); break;
    default: res = PyNumber_Invert(v); break;
    }
    Py_DECREF(v);
    if (!res)
        return OD_ERROR;
    sp[-1] = res;
    return OD_OK;
}

OD_HELPER(od_rt_unary_positive) { (void)oparg; return unary(f, sp, UNARY_POSITIVE, arg); }
OD_HELPER(od_rt_unary_negative) { (void)oparg; return unary(f, sp, UNARY_NEGATIVE, arg); }
OD_HELPER(od_rt_unary_invert) { (void)oparg; return unary(f, sp, UNARY_INVERT, arg); }

OD_HELPER(od_rt_unary_not)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *v = TOP();
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (t < 0)
        return OD_ERROR;
    PyObject *res = t ? Py_False : Py_True;
    Py_INCREF(res);
    sp[-1] = res;
    return OD_OK;
}

int od_rt_truth_consume(PyObject *v)
{
    int t = PyObject_IsTrue(v);
    Py_DECREF(v);
    return t;
}

void od_rt_dealloc(PyObject *o) { _Py_Dealloc(o); }

typedef PyObject *(*binaryfn)(PyObject *, PyObject *);

static binaryfn binary_fns[] = {
    [NB_ADD] = PyNumber_Add, [NB_AND] = PyNumber_And, [NB_FLOOR_DIVIDE] = PyNumber_FloorDivide,
    [NB_LSHIFT] = PyNumber_Lshift, [NB_MATRIX_MULTIPLY] = PyNumber_MatrixMultiply,
    [NB_MULTIPLY] = PyNumber_Multiply, [NB_REMAINDER] = PyNumber_Remainder,
    [NB_OR] = PyNumber_Or, [NB_RSHIFT] = PyNumber_Rshift, [NB_SUBTRACT] = PyNumber_Subtract,
    [NB_TRUE_DIVIDE] = PyNumber_TrueDivide, [NB_XOR] = PyNumber_Xor,
    [NB_INPLACE_ADD] = PyNumber_InPlaceAdd, [NB_INPLACE_AND] = PyNumber_InPlaceAnd,
    [NB_INPLACE_FLOOR_DIVIDE] = PyNumber_InPlaceFloorDivide,
    [NB_INPLACE_LSHIFT] = PyNumber_InPlaceLshift,
    [NB_INPLACE_MATRIX_MULTIPLY] = PyNumber_InPlaceMatrixMultiply,
    [NB_INPLACE_MULTIPLY] = PyNumber_InPlaceMultiply,
    [NB_INPLACE_REMAINDER] = PyNumber_InPlaceRemainder, [NB_INPLACE_OR] = PyNumber_InPlaceOr,
    [NB_INPLACE_RSHIFT] = PyNumber_InPlaceRshift,
    [NB_INPLACE_SUBTRACT] = PyNumber_InPlaceSubtract,
    [NB_INPLACE_TRUE_DIVIDE] = PyNumber_InPlaceTrueDivide,
    [NB_INPLACE_XOR] = PyNumber_InPlaceXor,
};

static PyObject *power(PyObject *a, PyObject *b) { return PyNumber_Power(a, b, Py_None); }
static PyObject *ipower(PyObject *a, PyObject *b) { return PyNumber_InPlacePower(a, b, Py_None); }

/* A float result, written into an operand that nothing else references (its only
 * reference is the value stack, which the caller is about to release) instead of a new
 * object: floats are immutable to Python code, so no one can tell, and the allocation and
 * deallocation pair disappears. */
static PyObject *float_result(PyObject *a, PyObject *b, double v)
{
    if (!a)                             /* operands that must not be reused */
        return PyFloat_FromDouble(v);
    PyObject *reuse = Py_REFCNT(a) == 1 ? a : Py_REFCNT(b) == 1 && PyFloat_CheckExact(b) ? b : NULL;
    if (reuse) {
        ((PyFloatObject *)reuse)->ob_fval = v;
        return Py_NewRef(reuse);
    }
    return PyFloat_FromDouble(v);
}

/* The same for one-digit ints, except values CPython hands out from its small-int cache
 * (-5..256), which must stay the cached objects. Also the slow half of tier 1's inline
 * int arithmetic (tier1/fast_num.c), for results outside the small-int cache; it passes
 * NULL for an operand it borrowed (a local's or constant's, never to be reused). */
PyObject *od_rt_long_result(PyObject *a, PyObject *b, long v)
{
    if ((v < -5 || v > 256) && v > -(1L << PyLong_SHIFT) && v < (1L << PyLong_SHIFT)) {
        PyObject *reuse = a && Py_REFCNT(a) == 1 && Py_SIZE(a) != 0 ? a
                        : b && Py_REFCNT(b) == 1 && PyLong_CheckExact(b) && Py_SIZE(b) != 0 ? b
                        : NULL;
        if (reuse) {
            Py_SET_SIZE(reuse, v < 0 ? -1 : 1);
            ((PyLongObject *)reuse)->ob_digit[0] = (digit)(v < 0 ? -v : v);
            return Py_NewRef(reuse);
        }
    }
    return PyLong_FromLong(v);
}

PyObject *od_rt_int_add(PyObject *a, PyObject *b)
{
    return PyLong_Type.tp_as_number->nb_add(a, b);
}

PyObject *od_rt_int_subtract(PyObject *a, PyObject *b)
{
    return PyLong_Type.tp_as_number->nb_subtract(a, b);
}

PyObject *od_rt_int_multiply(PyObject *a, PyObject *b)
{
    return PyLong_Type.tp_as_number->nb_multiply(a, b);
}

/* Exact-type fast paths. Returns a new reference, or NULL meaning "not handled here"
 * (never with an exception set). In-place forms of int/float behave like the plain ones.
 * `reuse`: an operand only the value stack holds may become the result (tier 1's helper,
 * which consumes them); 0: never (tier 2's, whose operands stay the code's). */
static inline __attribute__((always_inline)) PyObject *binary_fast(int op, PyObject *a,
                                                                   PyObject *b, int reuse)
{
    if (op >= NB_INPLACE_ADD)
        op -= NB_INPLACE_ADD - NB_ADD;
    PyObject *ra = reuse ? a : NULL, *rb = reuse ? b : NULL;
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
        long x, y;
        if (!compact_long(a, &x) || !compact_long(b, &y))
            return NULL;
        /* Operands below 2**30 in magnitude: + - * & | ^ cannot overflow a long. */
        switch (op) {
        case NB_ADD: return od_rt_long_result(ra, rb, x + y);
        case NB_SUBTRACT: return od_rt_long_result(ra, rb, x - y);
        case NB_MULTIPLY: return PyLong_FromLong(x * y); /* may need two digits */
        case NB_AND: return od_rt_long_result(ra, rb, x & y);
        case NB_OR: return od_rt_long_result(ra, rb, x | y);
        case NB_XOR: return od_rt_long_result(ra, rb, x ^ y);
        case NB_FLOOR_DIVIDE:
        case NB_REMAINDER: {
            if (y == 0)
                return NULL;
            long q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) { /* Python floors toward -inf */
                q -= 1;
                r += y;
            }
            return od_rt_long_result(ra, rb, op == NB_FLOOR_DIVIDE ? q : r);
        }
        default:
            return NULL;
        }
    }
    double x, y;
    if (PyFloat_CheckExact(a) && PyFloat_CheckExact(b)) {
        x = PyFloat_AS_DOUBLE(a);
        y = PyFloat_AS_DOUBLE(b);
    } else if (reuse) {
        return NULL;                    /* tier 1 does mixed operands in line */
    } else {
        /* a float with a one-digit int, as float's slots convert it (PyLong_AsDouble,
         * exact below 2**53) */
        long k;
        if (PyFloat_CheckExact(a) && PyLong_CheckExact(b) && compact_long(b, &k)) {
            x = PyFloat_AS_DOUBLE(a);
            y = (double)k;
        } else if (PyLong_CheckExact(a) && PyFloat_CheckExact(b) && compact_long(a, &k)) {
            x = (double)k;
            y = PyFloat_AS_DOUBLE(b);
        } else {
            return NULL;
        }
    }
    switch (op) {
    case NB_ADD: return float_result(ra, rb, x + y);
    case NB_SUBTRACT: return float_result(ra, rb, x - y);
    case NB_MULTIPLY: return float_result(ra, rb, x * y);
    case NB_TRUE_DIVIDE:
        if (y == 0.0)
            return NULL;
        return float_result(ra, rb, x / y);
    default:
        return NULL;
    }
}

PyObject *od_rt_binary_numbers(int op, PyObject *a, PyObject *b)
{
    return binary_fast(op, a, b, 0);
}

/* Feedback: the operand types a site saw last. */
static inline void record_operands(OdOpCache *c, PyObject *lhs, PyObject *rhs)
{
    /* Read before writing: a site that keeps seeing the same types (nearly all of them)
     * then never dirties its cache line. */
    if (c->left != Py_TYPE(lhs))
        c->left = Py_TYPE(lhs);
    if (c->right != Py_TYPE(rhs))
        c->right = Py_TYPE(rhs);
}

/* Release both operands and push the result in their place (NULL: the error return). */
static int finish_binary(PyObject **sp, PyObject *lhs, PyObject *rhs, PyObject *res)
{
    Py_DECREF(lhs);
    Py_DECREF(rhs);
    if (!res)
        return OD_ERROR;
    sp[-2] = res;
    return OD_OK;
}

uint64_t od_rt_str_appends_in_place;

/* `s += t` (or `s = s + t`) on exact strs whose result the next instruction stores back
 * into the local `s` came from: the local's reference is dropped first, so that when the
 * stack's is the only one left the string is extended in place (PyUnicode_Append resizes
 * a str no one else can see), as the interpreter's specialized BINARY_OP does. Without
 * it a loop building a string this way copies the whole string at every step: 100,000
 * appends took 48 s compiled against 0.02 s in the interpreter. Returns 0 (not that
 * shape: nothing done), or 1 with the result in sp[-2] or an error (OD_ERROR in *r; both
 * inputs released, the local left unbound as in the interpreter). f->prev_instr is this
 * BINARY_OP (compiled code sets it before the call). */
static int append_to_local(_PyInterpreterFrame *f, PyObject **sp, PyObject *lhs,
                           PyObject *rhs, int *r)
{
    const _Py_CODEUNIT *next = f->prev_instr + 1 + INLINE_CACHE_ENTRIES_BINARY_OP;
    if (_PyOpcode_Deopt[_Py_OPCODE(*next)] != STORE_FAST)
        return 0;
    PyObject **local = &f->localsplus[_Py_OPARG(*next)];
    if (*local != lhs)
        return 0;
    *local = NULL;
    Py_DECREF(lhs);             /* the local's reference; the stack's keeps it alive */
    PyObject *res = lhs;        /* the stack's reference, handed to PyUnicode_Append */
    PyUnicode_Append(&res, rhs);
    Py_DECREF(rhs);
    od_rt_str_appends_in_place++;
    if (!res) {
        *r = OD_ERROR;
        return 1;
    }
    sp[-2] = res;
    *r = OD_OK;
    return 1;
}

OD_HELPER(od_rt_binary_op)
{
    OdOpCache *c = arg;
    PyObject *rhs = TOP(), *lhs = SECOND();
    record_operands(c, lhs, rhs);
    if ((oparg == NB_INPLACE_ADD || oparg == NB_ADD) && PyUnicode_CheckExact(lhs)
        && PyUnicode_CheckExact(rhs)) {
        /* str + str: PyNumber_Add would try both operands' nb_add first */
        int r;
        c->fast++;
        if (append_to_local(f, sp, lhs, rhs, &r))
            return r;
        return finish_binary(sp, lhs, rhs, PyUnicode_Concat(lhs, rhs));
    }
    PyObject *res = binary_fast(oparg, lhs, rhs, 1);
    if (res) {
        c->fast++;
    } else {
        c->slow++;
        /* a class's Python __add__, __sub__, __mul__, __truediv__: called as a CALL of it
         * (nb_slots.c) */
        int done = 0;
        if (PyType_HasFeature(Py_TYPE(lhs), Py_TPFLAGS_HEAPTYPE))
            res = od_rt_binary_dunder(_PyThreadState_GET(), oparg, lhs, rhs, NULL, &done);
        if (!done) {
            binaryfn fn = oparg == NB_POWER ? power
                        : oparg == NB_INPLACE_POWER ? ipower
                        : binary_fns[oparg];
            res = fn(lhs, rhs);
        }
    }
    return finish_binary(sp, lhs, rhs, res);
}

/* x <op> y for a rich-comparison op. One-digit ints (below 2**30) convert to double
 * exactly, so ints and floats share it. */
static inline int compare_numbers(int op, double x, double y)
{
    switch (op) {
    case Py_LT: return x < y;
    case Py_LE: return x <= y;
    case Py_EQ: return x == y;
    case Py_NE: return x != y;
    case Py_GT: return x > y;
    default: return x >= y;
    }
}

/* Comparison of exact ints/floats/strs without rich-compare dispatch: -1 = not handled. */
static int compare_fast(int op, PyObject *a, PyObject *b)
{
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
        long x, y;
        if (!compact_long(a, &x) || !compact_long(b, &y))
            return -1;
        return compare_numbers(op, (double)x, (double)y);
    }
    if (PyFloat_CheckExact(a) && PyFloat_CheckExact(b))
        return compare_numbers(op, PyFloat_AS_DOUBLE(a), PyFloat_AS_DOUBLE(b));
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b) && (op == Py_EQ || op == Py_NE)) {
        int eq = a == b || (PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b)
                            && _PyUnicode_EQ(a, b));
        return op == Py_EQ ? eq : !eq;
    }
    return -1;
}

OD_HELPER(od_rt_compare_op)
{
    (void)f;
    OdOpCache *c = arg;
    PyObject *rhs = TOP(), *lhs = SECOND(), *res;
    record_operands(c, lhs, rhs);
    int r = compare_fast(oparg, lhs, rhs);
    if (r >= 0) {
        c->fast++;
        res = r ? Py_True : Py_False;
        Py_INCREF(res);
    } else {
        c->slow++;
        res = PyObject_RichCompare(lhs, rhs, oparg);
    }
    return finish_binary(sp, lhs, rhs, res);
}

OD_HELPER(od_rt_compare_branch)
{
    (void)f;
    OdOpCache *c = arg;
    PyObject *rhs = TOP(), *lhs = SECOND();
    record_operands(c, lhs, rhs);
    int r = compare_fast(oparg, lhs, rhs);
    if (r >= 0) {
        c->fast++;
    } else {
        c->slow++;
        PyObject *res = PyObject_RichCompare(lhs, rhs, oparg);
        r = res ? PyObject_IsTrue(res) : -1;
        Py_XDECREF(res);
    }
    Py_DECREF(lhs);
    Py_DECREF(rhs);
    return r;
}

PyObject *od_rt_box_bool(int value)
{
    return Py_NewRef(value ? Py_True : Py_False);
}

OD_HELPER(od_rt_contains_op)
{
    (void)f; (void)arg;
    PyObject *rhs = TOP(), *lhs = SECOND();
    int r = PySequence_Contains(rhs, lhs);
    Py_DECREF(lhs);
    Py_DECREF(rhs);
    if (r < 0)
        return OD_ERROR;
    PyObject *res = (r ^ oparg) ? Py_True : Py_False;
    Py_INCREF(res);
    sp[-2] = res;
    return OD_OK;
}

OD_HELPER(od_rt_is_op)
{
    (void)f; (void)arg;
    PyObject *rhs = TOP(), *lhs = SECOND();
    PyObject *res = ((lhs == rhs) ^ oparg) ? Py_True : Py_False;
    Py_INCREF(res);
    Py_DECREF(lhs);
    Py_DECREF(rhs);
    sp[-2] = res;
    return OD_OK;
}
