/* tier2/rt/helpers.h — the C functions tier-2 code calls for what it does not inline.
 *
 * Contract: every helper has one signature,
 *   intptr_t helper(_PyInterpreterFrame *f, PyObject **args, long long imm, PyObject *obj)
 * `args` is the caller's outgoing area holding the operands (object pointers, or the bits of
 * an int64/double), `imm` the HIR instruction's immediate (or the operand count of a
 * variadic one; FormatValue's and MakeFunction's flags, which say how many operands they
 * have), `obj` its
 * constant (a name, kwnames). Operands are borrowed: a helper
 * never consumes them. Results are new references. Each does what the interpreter's
 * instruction does, through the same C-API functions, so results and error messages are
 * the interpreter's. The HIR ops that lower to a helper are declared once, in
 * OD_T2_HELPER_OPS: X(hir op, helper, result check, exit kind, exit reason). */
#ifndef OD_TIER2_RT_HELPERS_H
#define OD_TIER2_RT_HELPERS_H

#include "../hir/hir.h"

#define OD_T2_HELPER(name) intptr_t name(_PyInterpreterFrame *f, PyObject **args, long long imm, PyObject *obj)

/* (PyObject *) result of od_t2_for_iter when the iterator is exhausted. */
#define OD_T2_DONE ((intptr_t)1)
/* Result of od_t2_for_iter_sync and od_t2_truth (imm 1) when the operation may run Python
 * code (not a builtin iterator or object): the code writes its locals back (lir.h), then
 * calls again (od_t2_for_iter, od_t2_truth with imm 0). */
#define OD_T2_SYNC ((intptr_t)2)
/* The "not here" of the helpers whose result is raw bits (OD_CHK_BITS): a signalling NaN's
 * bits, which od_t2_float_pow's pow() never returns for the operands it accepts; as an int64
 * (od_t2_int_floordiv, od_t2_int_mod: about 9.2e18) a true result equal to it only costs an
 * exit. */
#define OD_T2_BITS_FAIL ((intptr_t)0x7ff4000000000badLL)

/* The cache of a global load's slow path (a LoadGlobal, or a GlobalValue whose versions
 * no longer hold: a module that writes its own globals, as go's `TIMESTAMP += 1`, changes
 * the globals' version at every write). What tier 1's LOAD_GLOBAL site keeps, and the
 * interpreter's LOAD_GLOBAL_MODULE: the index of the name's entry in the globals' keys,
 * checked by key identity on every hit (entries are only appended: a key found at its old
 * index is the dict's one entry for the name); for a builtin, its value while the
 * builtins' version holds (the globals are still looked up: the name may be defined
 * there since). One block per unit, owned by it (od_t2_global_sites_new). */
typedef struct OdT2GlobalSite {
    Py_ssize_t globals_index;   /* the name's entry in f_globals's keys; -1 none known, -2
                                 * the name's dict cannot be indexed (not scanned again) */
    uint64_t builtins_version;  /* f_builtins's ma_version_tag when builtin was read */
    PyObject *builtin;          /* borrowed (the builtins dict holds it while the version
                                 * holds), or NULL */
} OdT2GlobalSite;

/* listobject.c's 3.11 layout of a list iterator (private there), checked against the type's
 * tp_basicsize before tier 2 compiles anything (od_t2_helpers_usable): ForIter steps it in
 * line (lir/codegen.c). */
typedef struct {
    PyObject_HEAD
    Py_ssize_t it_index;
    PyListObject *it_seq;       /* NULL once exhausted */
} OdT2ListIter;

/* Global loads through a site (od_t2_load_global): all of them, those its globals index
 * served, those its builtin served (stats()["tier2"]["global_loads"]). */
extern uint64_t od_t2_global_loads[3];

/* n zeroed sites with no index known, or NULL with MemoryError (n 0: NULL, no error). */
OdT2GlobalSite *od_t2_global_sites_new(int n);

/* The C function FloatMath `fn` (an OdHirMathFn) calls, double -> double (libm's, or math.log's
 * m_log for what reaches it without an error: a NaN for a domain error), or NULL. */
double (*od_t2_math_c_fn(int fn))(double);

/* Which OdHirMathFn (hir_ops.h) `callee` is: a builtin function of the math module's own method table
 * (its C function, hence its semantics), or -1. Reads no attribute, runs no code. */
int od_t2_math_fn_of(PyObject *callee);

#define OD_T2_HELPER_OPS(X)                                                                  \
    X(BinaryOp, od_t2_binary_op, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                     \
    X(Compare, od_t2_compare, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                        \
    X(ContainsOp, od_t2_contains, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                    \
    X(UnaryOp, od_t2_unary, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                          \
    X(Not, od_t2_not, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                                \
    X(LoadAttr, od_t2_load_attr, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                     \
    X(StoreAttr, od_t2_store_attr, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                    \
    X(LoadGlobal, od_t2_load_global, OD_CHK_NULL, OD_XK_ERROR_OR_DEOPT, OD_T2X_HELPER_DEOPT) \
    X(StoreGlobal, od_t2_store_global, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                \
    X(Call, od_t2_call, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                              \
    X(CallMethod, od_t2_call_method, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                 \
    X(GetIter, od_t2_get_iter, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                       \
    X(BuildTuple, od_t2_build_tuple, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                 \
    X(BuildList, od_t2_build_list, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                   \
    X(BuildSlice, od_t2_build_slice, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                 \
    X(BuildSet, od_t2_build_set, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                     \
    X(BuildMap, od_t2_build_map, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                     \
    X(BuildConstKeyMap, od_t2_build_const_key_map, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)   \
    X(BuildString, od_t2_build_string, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)               \
    X(FormatValue, od_t2_format_value, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)               \
    X(ListAppend, od_t2_list_append, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                  \
    X(ListExtend, od_t2_list_extend, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                  \
    X(SetAdd, od_t2_set_add, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                          \
    X(MapAdd, od_t2_map_add, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                          \
    X(ListToTuple, od_t2_list_to_tuple, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)              \
    X(Subscr, od_t2_subscr, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)                          \
    X(StoreSubscr, od_t2_store_subscr, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                \
    X(DeleteSubscr, od_t2_delete_subscr, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)              \
    X(MakeCell, od_t2_make_cell, OD_CHK_NEG, OD_XK_ERROR, OD_T2X_ERROR)                      \
    X(CopyFreeVars, od_t2_copy_free_vars, OD_CHK_NONE, OD_XK_ERROR, OD_T2X_ERROR)            \
    X(LoadDeref, od_t2_load_deref, OD_CHK_NULL, OD_XK_DEOPT, OD_T2X_UNBOUND_LOCAL)           \
    X(StoreDeref, od_t2_store_deref, OD_CHK_NONE, OD_XK_ERROR, OD_T2X_ERROR)                 \
    X(DeleteDeref, od_t2_delete_deref, OD_CHK_NEG, OD_XK_DEOPT, OD_T2X_UNBOUND_LOCAL)        \
    X(MakeFunction, od_t2_make_function, OD_CHK_NULL, OD_XK_ERROR, OD_T2X_ERROR)            \
    X(FloatPow, od_t2_float_pow, OD_CHK_BITS, OD_XK_DEOPT, OD_T2X_FLOAT_POW)                 \
    X(IntFloorDiv, od_t2_int_floordiv, OD_CHK_BITS, OD_XK_DEOPT, OD_T2X_INT_DIV)             \
    X(IntMod, od_t2_int_mod, OD_CHK_BITS, OD_XK_DEOPT, OD_T2X_INT_DIV)                       \
    X(IntTrueDiv, od_t2_int_truediv, OD_CHK_BITS, OD_XK_DEOPT, OD_T2X_INT_DIV)               \
    X(UnboxNumber, od_t2_unbox_number, OD_CHK_BITS, OD_XK_DEOPT, OD_T2X_GUARD_TYPE)

#define OD_T2_DECLARE(op, fn, check, kind, reason) OD_T2_HELPER(fn);
OD_T2_HELPER_OPS(OD_T2_DECLARE)
#undef OD_T2_DECLARE

OD_T2_HELPER(od_t2_box_int);      /* args[0]: int64 bits */
OD_T2_HELPER(od_t2_box_float);    /* args[0]: double bits */
OD_T2_HELPER(od_t2_truth);        /* 1, 0, or -1 with an exception; imm 1: OD_T2_SYNC
                                   * first for an object that is not of a builtin type */
OD_T2_HELPER(od_t2_load_method);  /* args[0] <- method or NULL, args[1] <- self or attribute;
                                   * 0, or -1 with an exception */
OD_T2_HELPER(od_t2_before_with);  /* args[0]: the manager in, its bound __exit__ out; args[1]
                                   * <- what __enter__() returned; 0, or -1 with an exception */
OD_T2_HELPER(od_t2_for_iter);     /* next item, OD_T2_DONE, or NULL with an exception */
OD_T2_HELPER(od_t2_call_len);     /* od_t2_call's contract; the lowering's pick for a Call
                                   * whose callable was the builtin len at compile time:
                                   * len(x) without the thunk and the callable's dispatch
                                   * while it still is, od_t2_call otherwise (rt/call.c) */
OD_T2_HELPER(od_t2_call_isinstance); /* the same for isinstance(x, cls): PyObject_IsInstance
                                      * without the thunk and the dispatch (rt/call.c) */
OD_T2_HELPER(od_t2_call_range);   /* the same for range(stop) and range(start, stop): the
                                   * range of exact ints made directly (rt/call.c) */
/* runtime/helpers.h od_rt_binary_dunder (`a OP b` for OP + - * / through the class's
 * Python dunder, called on a frame of its own) with Call's tiering rule (rt/call.c): a
 * dunder the hook would promote or demote at its next entry is left to PyNumber_*. Also
 * counted in stats()["tier2"]["dunder_calls"]. */
PyObject *od_t2_binary_dunder(int op, PyObject *a, PyObject *b, int *done);
OD_T2_HELPER(od_t2_str_append);  /* `s + t`, `s += t` (imm: NB_ADD or NB_INPLACE_ADD, and
                                   * (k + 1) << 8 for the local k that may hold s) when the
                                   * code's reference to s dies here: on success that
                                   * reference is consumed (extended in place when it is the
                                   * only one); on failure it is still the code's */
OD_T2_HELPER(od_t2_for_iter_sync); /* the same, or OD_T2_SYNC (nothing done) for an
                                    * iterator whose next may run Python code */

/* Not a helper (no frame, no Python code, no failure): records inline value `index`, just
 * stored for the first time, in the insertion order of `values` (what the instance's
 * __dict__ iterates by), as STORE_ATTR_INSTANCE_VALUE does. Code calls it out of line. */
void od_t2_values_insert(PyDictValues *values, Py_ssize_t index);

typedef intptr_t (*OdT2HelperFn)(_PyInterpreterFrame *, PyObject **, long long, PyObject *);

typedef struct {
    OdT2HelperFn fn;
    int check, exit_kind, reason;
} OdT2HelperInfo;

/* Whether the CPython layouts the helpers restate (a range iterator's) are this
 * interpreter's: tier 2 compiles nothing otherwise. */
int od_t2_helpers_usable(void);

/* The helper a HIR op lowers to, or NULL. */
const OdT2HelperInfo *od_t2_helper_for(OdHirOp op);

#endif /* OD_TIER2_RT_HELPERS_H */
