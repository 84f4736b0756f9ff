/* tier2/passes/specialize.c — speculation on recorded types (hir/feedback.h).
 *
 * BinaryOp and Compare whose operands are exact ints (fitting int64) or exact floats,
 * statically (constants, unboxed results) or by feedback, become unboxed arithmetic:
 *   GuardType x Int; UnboxInt x; (same for y); IntAdd (deopts on overflow); BoxInt
 * the guards and unboxes carrying the frame state of the bytecode instruction (so a failed
 * guard resumes the interpreter *before* it, nothing done twice). A value is guarded and
 * unboxed once: a later use dominated by an earlier unbox reuses it (guard elimination);
 * UnboxInt(BoxInt r) is r. Frame-state slots take the unboxed value itself (deoptimization
 * boxes it), so a box nothing else needs disappears. A Compare feeding IsTrue becomes the
 * unboxed condition. LoadGlobal whose name is bound now becomes GlobalValue: the value as
 * a constant while the globals (and builtins) dict versions hold, looked up again when they
 * changed (its type is not speculated on).
 * A call of one argument of math.sqrt/sin/cos/tan/exp/log/fabs (a global's or a module
 * attribute's value at compile time, guarded by identity) becomes FloatSqrt/FloatMath on
 * the argument's double; float ** an int constant, FloatPow.
 * Sites in fn->no_speculate stay generic (their guards kept failing). Without feedback the
 * pass only uses what the types say. */
#include "passes.h"

#include "../hir/feedback.h"
#include "../rt/helpers.h"      /* od_t2_math_fn_of */

#include <stdlib.h>
#include <string.h>

enum { K_NONE, K_INT, K_FLOAT, K_INT_AS_DOUBLE /* Avail only: IntToFloat of an int */,
       K_NUMBER /* Avail only: UnboxNumber of an int or a float */ };

typedef struct Avail {
    OdHirInstr *of, *unboxed;
    int kind;
    struct Avail *next;
} Avail;

typedef struct {
    OdHirFunc *fn;
    Avail **avail;          /* by value id */
    int navail;
    unsigned char *poly;    /* by value id (< navail): a number whose class varies (an
                             * operand or result of a site mixed_by_feedback left generic) */
} Spec;

static int static_kind(const OdHirInstr *v)
{
    /* A box made by an earlier rewrite: its type is Long (an int64 may need three digits),
     * but unbox() takes its operand back without a guard, so `(a + b) // 2` and
     * `1.0 / (n + 1)` after an unboxed `+` need no feedback of their own (the interpreter
     * specializes neither `//` nor int `/`). */
    if (v->op == OD_HOP_BoxInt)
        return K_INT;
    if (v->op == OD_HOP_BoxFloat)
        return K_FLOAT;
    if (v->type.bits == OD_TB(SmallInt))
        return K_INT;
    if (v->type.bits == OD_TB(Float))
        return K_FLOAT;
    return K_NONE;
}

static int class_kind(PyTypeObject *t)
{
    return t == &PyLong_Type ? K_INT : t == &PyFloat_Type ? K_FLOAT : K_NONE;
}

/* An earlier conversion of `v` to `kind` that dominates `at` (guard elimination), or NULL. */
static OdHirInstr *available(Spec *S, OdHirInstr *v, int kind, OdHirInstr *at)
{
    if (v->id < S->navail)
        for (Avail *a = S->avail[v->id]; a; a = a->next)
            if (a->kind == kind && od_hir_instr_dominates(a->unboxed, at))
                return a->unboxed;
    return NULL;
}

/* Records `u` as v's conversion to `kind` for later uses. 0, or -1 with MemoryError. */
static int remember(Spec *S, OdHirInstr *v, OdHirInstr *u, int kind)
{
    if (v->id >= S->navail)
        return 0;       /* made by this pass: not looked up again */
    Avail *a = od_arena_alloc(&S->fn->arena, sizeof *a);
    if (!a)
        return -1;
    *a = (Avail){.of = v, .unboxed = u, .kind = kind, .next = S->avail[v->id]};
    S->avail[v->id] = a;
    return 0;
}

/* The unboxed value of `v` as `kind` for a use at `at`, guarding if needed; NULL with no
 * exception when it cannot be (a constant of another type), NULL with one on error. */
static OdHirInstr *unbox(Spec *S, OdHirInstr *v, int kind, OdHirInstr *at)
{
    OdHirFunc *fn = S->fn;
    if (v->op == (kind == K_INT ? OD_HOP_BoxInt : OD_HOP_BoxFloat))
        return v->ops[0];
    if (v->op == OD_HOP_Const) {
        OdHirInstr *c = NULL;
        if (kind == K_INT && v->obj && PyLong_CheckExact(v->obj)) {
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v->obj, &overflow);
            if (overflow || (x == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                return NULL;
            }
            if ((c = od_hir_new_before(fn, at, OD_HOP_Const, NULL, NULL))) {
                c->imm = x;
                c->type = od_type_named(OD_TN_CInt64);
            }
        } else if (kind == K_FLOAT && v->obj && PyFloat_CheckExact(v->obj)) {
            if ((c = od_hir_new_before(fn, at, OD_HOP_Const, NULL, NULL))) {
                c->fimm = PyFloat_AS_DOUBLE(v->obj);
                c->type = od_type_named(OD_TN_CDouble);
            }
        } else {
            return NULL;
        }
        return c;
    }
    OdHirInstr *known = available(S, v, kind, at);
    if (known)
        return known;
    if (static_kind(v) != kind) {
        OdHirInstr *g = od_hir_new_before(fn, at, OD_HOP_GuardType, v, NULL);
        if (!g)
            return NULL;
        g->itype = od_type_named(kind == K_INT ? OD_TN_Int : OD_TN_Float);
    }
    OdHirInstr *u = od_hir_new_before(fn, at, kind == K_INT ? OD_HOP_UnboxInt : OD_HOP_UnboxFloat, v, NULL);
    return u && remember(S, v, u, kind) == 0 ? u : NULL;
}

/* Every use of `old` becomes `boxed`, frame-state slots `unboxed`; `old` goes. */
static int replace(OdHirFunc *fn, OdHirInstr *old, OdHirInstr *boxed, OdHirInstr *unboxed)
{
    if (od_hir_replace_all_uses(fn, old, boxed) < 0)
        return -1;
    for (int k = boxed->nuses - 1; k >= 0; k--) {
        if (k >= boxed->nuses)
            continue;
        OdHirUse use = boxed->uses[k];
        if (use.index < 0 && use.user != boxed && od_hir_set_fs_slot(fn, use.user, -1 - use.index, unboxed) < 0)
            return -1;
    }
    od_hir_remove(old);
    return 0;
}

static OdHirOp int_op(long long nb)
{
    switch (nb) {
    case NB_ADD: case NB_INPLACE_ADD: return OD_HOP_IntAdd;
    case NB_SUBTRACT: case NB_INPLACE_SUBTRACT: return OD_HOP_IntSub;
    case NB_MULTIPLY: case NB_INPLACE_MULTIPLY: return OD_HOP_IntMul;
    case NB_AND: case NB_INPLACE_AND: return OD_HOP_IntAnd;
    case NB_OR: case NB_INPLACE_OR: return OD_HOP_IntOr;
    case NB_XOR: case NB_INPLACE_XOR: return OD_HOP_IntXor;
    case NB_FLOOR_DIVIDE: case NB_INPLACE_FLOOR_DIVIDE: return OD_HOP_IntFloorDiv;
    case NB_REMAINDER: case NB_INPLACE_REMAINDER: return OD_HOP_IntMod;
    case NB_TRUE_DIVIDE: case NB_INPLACE_TRUE_DIVIDE: return OD_HOP_IntTrueDiv;  /* a double */
    default: return OD_HOP__COUNT;
    }
}

static OdHirOp float_op(long long nb)
{
    switch (nb) {
    case NB_ADD: case NB_INPLACE_ADD: return OD_HOP_FloatAdd;
    case NB_SUBTRACT: case NB_INPLACE_SUBTRACT: return OD_HOP_FloatSub;
    case NB_MULTIPLY: case NB_INPLACE_MULTIPLY: return OD_HOP_FloatMul;
    case NB_TRUE_DIVIDE: case NB_INPLACE_TRUE_DIVIDE: return OD_HOP_FloatDiv;
    case NB_POWER: case NB_INPLACE_POWER: return OD_HOP_FloatPow;
    default: return OD_HOP__COUNT;
    }
}

/* The kinds of the operands of `i` (statically, else by feedback). */
static void operand_kinds(Spec *S, OdHirInstr *i, int *kl, int *kr)
{
    PyTypeObject *l = NULL, *r = NULL;
    if (S->fn->feedback)
        od_feedback_operands(S->fn->feedback, i->bc_offset, &l, &r);
    *kl = static_kind(i->ops[0]);
    *kr = static_kind(i->ops[1]);
    if (*kl == K_NONE)
        *kl = class_kind(l);
    if (*kr == K_NONE)
        *kr = class_kind(r);
}

/* The kind both operands of `i` have, or K_NONE. */
static int operand_kind(Spec *S, OdHirInstr *i)
{
    int kl, kr;
    operand_kinds(S, i, &kl, &kr);
    return kl == kr ? kl : K_NONE;
}

/* Operand `v` of a float operation, as a double: a float unboxed, or an int unboxed and
 * converted as float's arithmetic converts it (float + int, int * float, 1.0 / n: exact
 * for any int64, rounded to nearest even beyond 2**53, as PyLong_AsDouble rounds). */
static OdHirInstr *as_double(Spec *S, OdHirInstr *v, int kind, OdHirInstr *at)
{
    OdHirInstr *u = unbox(S, v, kind, at);
    if (!u || kind == K_FLOAT)
        return u;
    OdHirInstr *d = available(S, v, K_INT_AS_DOUBLE, at);     /* converted once, like the unbox */
    if (d)
        return d;
    d = od_hir_new_before(S->fn, at, OD_HOP_IntToFloat, u, NULL);
    return d && remember(S, v, d, K_INT_AS_DOUBLE) == 0 ? d : NULL;
}

/* A phi one of whose incoming values is an int constant: an accumulator that starts as `0`
 * and takes floats (`total = 0; for x in xs: total += x`). The interpreter's feedback names
 * the last types it saw (float), so a float guard on it would fail on every call's first
 * iteration. */
static int int_start_phi(const OdHirInstr *v)
{
    if (v->op != OD_HOP_Phi)
        return 0;
    for (int k = 0; k < v->nops; k++)
        if (v->ops[k] && v->ops[k]->op == OD_HOP_Const && v->ops[k]->obj
            && PyLong_CheckExact(v->ops[k]->obj))
            return 1;
    return 0;
}

/* Operand `v` of a float operation by feedback: unboxed after a float guard, or, for an
 * accumulator that starts as an int while the other operand is a float, UnboxNumber (a
 * float's double or an int's, converted as float + int converts it: the same result). */
static OdHirInstr *float_operand(Spec *S, OdHirInstr *v, OdHirInstr *other, OdHirInstr *at)
{
    if (int_start_phi(v) && !int_start_phi(other))
        return od_hir_new_before(S->fn, at, OD_HOP_UnboxNumber, v, NULL);
    return unbox(S, v, K_FLOAT, at);
}

/* Whether `i` stays generic because the interpreter's instruction kept meeting other
 * operand classes than the ones it specialized for (od_feedback_number_mix: raytrace's
 * Vector arithmetic on coordinates made of ints and of floats by turns). A guard on the
 * classes it names last would fail again and again, the site would go to no_speculate
 * after OD_T2_SPEC_LIMIT deopts and the function be compiled again, one site at a time,
 * until OD_T2_MAX_COMPILES gives tier 2 up for it. The generic BinaryOp and Compare take
 * floats and one-digit ints in line, without a guard and without a deopt
 * (lir/codegen.c number_binary_inline, number_compare_inline). Not when both operands'
 * kinds are known without a guard, nor for an accumulator that starts as an int (its
 * misses are every call's first iteration, which UnboxNumber takes). */
static int mixed_by_feedback(Spec *S, OdHirInstr *i)
{
    if (!S->fn->feedback || (static_kind(i->ops[0]) != K_NONE && static_kind(i->ops[1]) != K_NONE)
        || int_start_phi(i->ops[0]) || int_start_phi(i->ops[1]))
        return 0;
    return od_feedback_number_mix(S->fn->feedback, i->bc_offset);
}

static int is_poly(Spec *S, OdHirInstr *v)
{
    return v->id < S->navail && S->poly[v->id] && static_kind(v) == K_NONE;
}

static void set_poly(Spec *S, OdHirInstr *v)
{
    if (v->id < S->navail)
        S->poly[v->id] = 1;
}

/* mixed_by_feedback, or an operand whose class varies by another site's feedback (`a / b`
 * and `a * b` on the same values: the interpreter never specializes `/`, and tier 1's
 * record names the last classes only), or the result of a site left generic by this rule
 * (`a * b + c` after a mixed `a * b`). Such a BinaryOp's result is marked too. */
static int stays_mixed(Spec *S, OdHirInstr *i)
{
    if (int_start_phi(i->ops[0]) || int_start_phi(i->ops[1]))
        return 0;
    if (!mixed_by_feedback(S, i) && !is_poly(S, i->ops[0]) && !is_poly(S, i->ops[1]))
        return 0;
    if (i->op == OD_HOP_BinaryOp)
        set_poly(S, i);
    return 1;
}

/* Operand `v` of a float operation whose class varies between an int and a float: the
 * double an earlier conversion made, an int known without a guard converted, else
 * UnboxNumber (a float's double, an int's as PyLong_AsDouble gives it to float's
 * arithmetic; anything else an exit). */
static OdHirInstr *number_operand(Spec *S, OdHirInstr *v, OdHirInstr *at)
{
    if (static_kind(v) == K_INT)
        return as_double(S, v, K_INT, at);
    OdHirInstr *x;
    if ((x = available(S, v, K_FLOAT, at)) || (x = available(S, v, K_INT_AS_DOUBLE, at))
        || (x = available(S, v, K_NUMBER, at)))
        return x;
    x = od_hir_new_before(S->fn, at, OD_HOP_UnboxNumber, v, NULL);
    return x && remember(S, v, x, K_NUMBER) == 0 ? x : NULL;
}

/* `+ - * /` of a site stays_mixed keeps generic, one of whose operands is a float without
 * a guard (a constant, an unboxed result: `f * 1.5 + x`): the result is a float whatever
 * number the other is, so the float operation on its number_operand, the result unboxed.
 * 1 done, 0 not such a site, -1 error. (Not a comparison: CPython compares an int with a
 * float exactly, not through a double. Not two unknowns: two ints make an int, and `/` of
 * two ints above 2**53 would round twice.) */
static int float_with_number(Spec *S, OdHirInstr *i)
{
    OdHirOp op = float_op(i->imm);
    int k0 = static_kind(i->ops[0]), k1 = static_kind(i->ops[1]);
    if (op == OD_HOP__COUNT || op == OD_HOP_FloatPow || (k0 != K_FLOAT && k1 != K_FLOAT))
        return 0;
    OdHirInstr *a = k0 == K_FLOAT ? unbox(S, i->ops[0], K_FLOAT, i) : number_operand(S, i->ops[0], i);
    OdHirInstr *b = !a ? NULL : k1 == K_FLOAT ? unbox(S, i->ops[1], K_FLOAT, i)
                                             : number_operand(S, i->ops[1], i);
    if (!b)
        return PyErr_Occurred() ? -1 : 0;
    OdHirInstr *r = od_hir_new_before(S->fn, i, op, a, b);
    OdHirInstr *box = r ? od_hir_new_before(S->fn, i, OD_HOP_BoxFloat, r, NULL) : NULL;
    if (!box)
        return -1;
    return replace(S->fn, i, box, r) < 0 ? -1 : 1;
}

/* float ** an int constant (chaos's `x ** 2`): float_pow converts the int to a double
 * (PyLong_AsDouble, exact below 2**53), then computes as for a float exponent: FloatPow
 * on that double. Another int exponent stays generic: an int ** int may follow. */
static int specialize_pow_int(Spec *S, OdHirInstr *i)
{
    OdHirInstr *e = i->ops[1];
    if (e->op != OD_HOP_Const || !e->obj || !PyLong_CheckExact(e->obj))
        return 0;
    double w = PyLong_AsDouble(e->obj);
    if (w == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    OdHirInstr *a = float_operand(S, i->ops[0], e, i);
    if (!a)
        return PyErr_Occurred() ? -1 : 0;
    OdHirInstr *b = od_hir_new_before(S->fn, i, OD_HOP_Const, NULL, NULL);
    if (!b)
        return -1;
    b->fimm = w;
    b->type = od_type_named(OD_TN_CDouble);
    OdHirInstr *r = od_hir_new_before(S->fn, i, OD_HOP_FloatPow, a, b);
    OdHirInstr *box = r ? od_hir_new_before(S->fn, i, OD_HOP_BoxFloat, r, NULL) : NULL;
    if (!box)
        return -1;
    return replace(S->fn, i, box, r);
}

static int specialize_arith(Spec *S, OdHirInstr *i)
{
    if (stays_mixed(S, i))
        return float_with_number(S, i) < 0 ? -1 : 0;
    int kl, kr;
    operand_kinds(S, i, &kl, &kr);
    int kind = kl == kr ? kl : K_NONE;
    /* an int and a float: the float operation on the int's double (not `**`, whose int
     * exponents float_pow treats like any other double, but leave that to FloatPow's own
     * feedback) */
    int mixed = kind == K_NONE && kl != K_NONE && kr != K_NONE;
    int is_pow = i->imm == NB_POWER || i->imm == NB_INPLACE_POWER;
    if (mixed && !is_pow)
        kind = K_FLOAT;
    if (is_pow && kl == K_FLOAT && kr == K_INT)
        return specialize_pow_int(S, i);
    OdHirOp op = kind == K_INT ? int_op(i->imm) : kind == K_FLOAT ? float_op(i->imm) : OD_HOP__COUNT;
    if (op == OD_HOP__COUNT)
        return 0;
    OdHirInstr *a, *b;
    if (mixed) {
        a = as_double(S, i->ops[0], kl, i);
        b = a ? as_double(S, i->ops[1], kr, i) : NULL;
    } else if (kind == K_FLOAT) {
        a = float_operand(S, i->ops[0], i->ops[1], i);
        b = a ? float_operand(S, i->ops[1], i->ops[0], i) : NULL;
    } else {
        a = unbox(S, i->ops[0], kind, i);
        b = a ? unbox(S, i->ops[1], kind, i) : NULL;
    }
    if (!b)
        return PyErr_Occurred() ? -1 : 0;
    OdHirInstr *r = od_hir_new_before(S->fn, i, op, a, b);
    int boxint = kind == K_INT && op != OD_HOP_IntTrueDiv;
    OdHirInstr *box = r ? od_hir_new_before(S->fn, i, boxint ? OD_HOP_BoxInt : OD_HOP_BoxFloat, r, NULL) : NULL;
    if (!box)
        return -1;
    return replace(S->fn, i, box, r);
}

static int specialize_compare(Spec *S, OdHirInstr *i)
{
    int kind = operand_kind(S, i);
    if (kind == K_NONE || i->imm < Py_LT || i->imm > Py_GE || stays_mixed(S, i))
        return 0;
    OdHirInstr *a = unbox(S, i->ops[0], kind, i);
    OdHirInstr *b = a ? unbox(S, i->ops[1], kind, i) : NULL;
    if (!b)
        return PyErr_Occurred() ? -1 : 0;
    OdHirInstr *c = od_hir_new_before(S->fn, i, kind == K_INT ? OD_HOP_IntCompare : OD_HOP_FloatCompare, a, b);
    if (!c)
        return -1;
    c->imm = i->imm;
    OdHirInstr *box = od_hir_new_before(S->fn, i, OD_HOP_BoxBool, c, NULL);
    if (!box || replace(S->fn, i, box, c) < 0)
        return -1;
    /* IsTrue of the box is the condition itself. */
    for (int k = box->nuses - 1; k >= 0; k--) {
        if (k >= box->nuses)
            continue;
        OdHirInstr *user = box->uses[k].user;
        if (box->uses[k].index == 0 && user->op == OD_HOP_IsTrue) {
            if (od_hir_replace_all_uses(S->fn, user, c) < 0)
                return -1;
            od_hir_remove(user);
            k = box->nuses;
        }
    }
    return 0;
}

static int specialize_global(Spec *S, OdHirInstr *i)
{
    if (!S->fn->feedback)
        return 0;
    uint64_t gv, bv;
    PyObject *v = od_feedback_global(S->fn->feedback, i->obj, &gv, &bv);
    if (!v || !od_hir_own(S->fn, v))
        return PyErr_Occurred() ? -1 : 0;
    OdHirInstr *g = od_hir_new_before(S->fn, i, OD_HOP_GlobalValue, NULL, NULL);
    if (!g)
        return -1;
    g->obj = v;
    g->imm = (long long)gv;
    g->imm2 = (long long)bv;
    g->type = od_type_named(OD_TN_Object);   /* the value may change: not speculated on */
    if (od_hir_replace_all_uses(S->fn, i, g) < 0)
        return -1;
    od_hir_remove(i);
    return 0;
}

/* The attribute `name` of the module a GlobalValue held at compile time, read from the
 * module's dict (no code runs), or NULL. */
static PyObject *module_attr(const OdHirInstr *owner, PyObject *name)
{
    if (owner->op != OD_HOP_GlobalValue || !owner->obj || !PyModule_CheckExact(owner->obj)
        || !name || !PyUnicode_CheckExact(name))
        return NULL;
    PyObject *d = PyModule_GetDict(owner->obj);   /* borrowed */
    PyObject *v = d && PyDict_CheckExact(d) ? PyDict_GetItemWithError(d, name) : NULL;
    if (!v)
        PyErr_Clear();
    return v;
}

/* The object a call's callee operand held at compile time, and the value to guard it by:
 * a global (GlobalValue: `sqrt(x)` after `from math import sqrt`), or a module's attribute:
 * `math.sqrt(x)` is LoadAttr of a GlobalValue module then Call when `math` was imported in
 * the module (3.11's compiler then makes no method call), else LoadMethod, which finds no
 * method and pushes NULL and the attribute (MethodSelf). NULL when none of these. */
static PyObject *known_callee(OdHirInstr *i, OdHirInstr **value)
{
    if (i->op == OD_HOP_Call) {
        OdHirInstr *c = i->ops[0];
        *value = c;
        if (c->op == OD_HOP_LoadAttr)
            return module_attr(c->ops[0], c->obj);
        return c->op == OD_HOP_GlobalValue ? c->obj : NULL;
    }
    OdHirInstr *m = i->ops[0], *s = i->ops[1];
    if (m->op != OD_HOP_LoadMethod || s->op != OD_HOP_MethodSelf || s->ops[0] != m)
        return NULL;
    *value = s;
    return module_attr(m->ops[0], m->obj);
}

/* A call of one argument of a math function (rt/helpers.h od_t2_math_fn_of) on an int or a
 * float: the function on the unboxed double (math_1 converts the argument with
 * PyFloat_AsDouble: a float's value, an int's PyLong_AsDouble), FloatSqrt in line for sqrt,
 * FloatMath (a call of the C function) for the others, both deopting where math would
 * raise; the callee guarded to be that function (GuardIs: a rebound global, a replaced
 * module attribute deopt). An argument not known to be an int or a float is UnboxNumber
 * (an exact float's or int's double, a deopt for anything else: a bool, a float subclass,
 * an int too large for a double). */
static int specialize_math_call(Spec *S, OdHirInstr *i)
{
    int nargs = i->op == OD_HOP_Call ? i->nops - 1 : i->nops - 2;
    if (i->obj || nargs != 1)
        return 0;
    OdHirInstr *value = NULL;
    PyObject *callee = known_callee(i, &value);
    int fn = od_t2_math_fn_of(callee);
    if (fn < 0 || !od_hir_own(S->fn, callee))
        return PyErr_Occurred() ? -1 : 0;
    OdHirInstr *arg = i->ops[i->nops - 1], *x;
    OdHirInstr *g = od_hir_new_before(S->fn, i, OD_HOP_GuardIs, value, NULL);
    if (!g)
        return -1;
    g->obj = callee;
    int k = static_kind(arg);
    if (k == K_NONE && arg->op == OD_HOP_Const && arg->obj)
        k = PyFloat_CheckExact(arg->obj) ? K_FLOAT : PyLong_CheckExact(arg->obj) ? K_INT : K_NONE;
    if (k != K_NONE)
        x = as_double(S, arg, k, i);
    else if (!(x = available(S, arg, K_FLOAT, i)) && !(x = available(S, arg, K_INT_AS_DOUBLE, i))
             && !(x = available(S, arg, K_NUMBER, i))) {
        x = od_hir_new_before(S->fn, i, OD_HOP_UnboxNumber, arg, NULL);   /* (float's sin(i)
                                                                        * and cos(i): once) */
        if (x && remember(S, arg, x, K_NUMBER) < 0)
            return -1;
    }
    if (!x) {
        if (PyErr_Occurred())
            return -1;
        x = od_hir_new_before(S->fn, i, OD_HOP_UnboxNumber, arg, NULL);   /* an int constant
                                                                         * beyond int64 */
        if (!x)
            return -1;
    }
    OdHirInstr *r = od_hir_new_before(S->fn, i, fn == OD_MATH_SQRT ? OD_HOP_FloatSqrt : OD_HOP_FloatMath,
                                      x, NULL);
    if (!r)
        return -1;
    r->imm = fn;
    OdHirInstr *box = od_hir_new_before(S->fn, i, OD_HOP_BoxFloat, r, NULL);
    if (!box)
        return -1;
    return replace(S->fn, i, box, r);
}

/* Boxes and unboxes nothing uses (the guard before an unbox stays). */
static void drop_unused_conversions(OdHirFunc *fn)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int b = 0; b < fn->nblocks; b++)
            for (OdHirInstr *i = fn->blocks[b]->first, *next; i; i = next) {
                next = i->next;
                if (i->nuses == 0 && (i->op == OD_HOP_BoxInt || i->op == OD_HOP_BoxFloat ||
                                      i->op == OD_HOP_BoxBool || i->op == OD_HOP_UnboxInt ||
                                      i->op == OD_HOP_UnboxFloat)) {
                    od_hir_remove(i);
                    changed = 1;
                }
            }
    }
}

int od_hir_pass_specialize(OdHirFunc *fn)
{
    OdHirBlock **order = malloc(sizeof(OdHirBlock *) * (size_t)(fn->nblocks + 1));
    Spec S = {fn, NULL, fn->next_instr_id, NULL};
    S.avail = calloc((size_t)S.navail + 1, sizeof(Avail *));
    S.poly = calloc((size_t)S.navail + 1, 1);
    if (!order || !S.avail || !S.poly) {
        free(order);
        free(S.avail);
        free(S.poly);
        PyErr_NoMemory();
        return -1;
    }
    int n = od_hir_rpo(fn, order), err = 0, ncand = 0;
    od_hir_dominators(fn, order, n);
    /* The candidates first: rewriting one removes instructions after it (an IsTrue). */
    OdHirInstr **cand = malloc(sizeof(OdHirInstr *) * (size_t)(fn->next_instr_id + 1));
    if (!cand) {
        PyErr_NoMemory();
        err = -1;
    }
    for (int k = 0; k < n && !err; k++)
        for (OdHirInstr *i = order[k]->first; i; i = i->next)
            if ((i->op == OD_HOP_BinaryOp || i->op == OD_HOP_Compare || i->op == OD_HOP_LoadGlobal
                 || i->op == OD_HOP_Call || i->op == OD_HOP_CallMethod)
                && od_hir_may_speculate(fn, i))
                cand[ncand++] = i;
    /* operands of sites whose classes vary, before any rewrite (a use may come first);
     * also of those whose guards kept failing (no_speculate), and their results */
    for (int k = 0; k < n && !err; k++)
        for (OdHirInstr *i = order[k]->first; i; i = i->next)
            if ((i->op == OD_HOP_BinaryOp || i->op == OD_HOP_Compare)
                && (od_hir_may_speculate(fn, i) ? mixed_by_feedback(&S, i) : !!fn->feedback)) {
                set_poly(&S, i->ops[0]);
                set_poly(&S, i->ops[1]);
                if (i->op == OD_HOP_BinaryOp && !od_hir_may_speculate(fn, i))
                    set_poly(&S, i);
            }
    for (int k = 0; k < ncand && !err; k++) {
        OdHirInstr *i = cand[k];
        if (i->op == OD_HOP_BinaryOp)
            err = specialize_arith(&S, i);
        else if (i->op == OD_HOP_Compare)
            err = specialize_compare(&S, i);
        else if (i->op == OD_HOP_Call || i->op == OD_HOP_CallMethod)
            err = specialize_math_call(&S, i);
        else
            err = specialize_global(&S, i);
    }
    free(cand);
    free(order);
    free(S.avail);
    free(S.poly);
    if (err)
        return -1;
    drop_unused_conversions(fn);
    return 0;
}
