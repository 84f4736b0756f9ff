/* runtime/helpers.h — the C functions compiled code calls, one per bytecode behaviour.
 *
 * Contract shared by every helper declared with OD_HELPER:
 *   int helper(_PyInterpreterFrame *f, PyObject **sp, int oparg, void *arg)
 * `sp` points one past the top of the value stack as it is *before* the instruction (the
 * stack lives in the frame, f->localsplus + co_nlocalsplus); `arg` is the site's constant
 * (a name, a cache record). The helper reads its inputs below sp and writes its outputs from
 * sp - inputs upward, exactly as the interpreter's stack effect. It returns
 *   OD_OK     done, outputs written;
 *   OD_ERROR  exception set, every input released (live depth = before - inputs), except the
 *             helpers marked "keeps inputs" whose inputs stay owned on the stack;
 *   OD_DEOPT  nothing done and nothing changed: the interpreter must run this instruction;
 *   OD_JUMP   (FOR_ITER only) iterator exhausted and popped: take the jump.
 * Helpers never touch f->prev_instr (compiled code sets it before the call) except the
 * exception helpers, which own unwinding. */
#ifndef OD_RUNTIME_HELPERS_H
#define OD_RUNTIME_HELPERS_H

#include "unit.h"

enum { OD_OK = 0, OD_ERROR = -1, OD_DEOPT = 1, OD_JUMP = 2 };

#define OD_HELPER(name) int name(_PyInterpreterFrame *f, PyObject **sp, int oparg, void *arg)

/* Call-site constant of CALL: the keyword names of a preceding KW_NAMES, and feedback. */
typedef struct {
    PyObject *kwnames;  /* borrowed from co_consts, or NULL */
    OdCallCache feedback;
    /* The helper compiled code calls for this site: od_rt_call until its first call picks
     * a form's (runtime/ccall.h). */
    OD_HELPER((*fn));
} OdCallSite;

/* Sites put their hot fields first: the compiler aligns each site (tier1 site_align) so
 * that what an inline hit reads shares one data cache line. */
typedef struct {
    OdGlobalCache cache;
    PyObject *name;     /* borrowed from co_names */
    /* Set by the compiler: the unit's inline hit path compares the globals' version only
     * (a name found in the module's globals does not depend on the builtins). The helper
     * then gives a value found in the builtins a globals version no dict has (0), so that
     * the inline path never takes it. */
    int globals_only;
} OdGlobalSite;

/* Entries per attribute site: small polymorphism (a few receiver types) stays fast.
 * Entry 0 is in the site (what inline code reads); entries 1..OD_ATTR_WAYS-1 are in a
 * block allocated when a second receiver type needs one (runtime/ops_names.c). Most sites
 * only ever see one type: with all four entries inline a site took 320 bytes, and sites
 * were the largest of the JIT's malloc'd tables (email_parse: 0.56 MB of attribute sites
 * for 1,756 of them); now 128. */
#define OD_ATTR_WAYS 4

typedef struct {
    OdAttrCache cache[1];   /* first: entry 0 (what inline code reads) is one line */
    PyObject *name;         /* borrowed from co_names */
    uint32_t next_victim;
    /* Entries 1.. (OD_ATTR_WAYS - 1 of them), or NULL. Valid only while more_site is this
     * site: a recompilation copies its predecessor's sites byte by byte, and the copy must
     * neither use nor free the block, which stays the original's (freed with its unit,
     * od_rt_attr_sites_release). A copied non-NULL `more` still says, as feedback, that the
     * site saw more than one receiver type; tier 1's recompilation then gives the copy a
     * block of its own with the same entries (od_rt_attr_sites_copy_blocks). */
    OdAttrCache *more;
    const void *more_site;
} OdAttrSite;

/* The site's entries 1.., or NULL. */
static inline OdAttrCache *od_attr_more(const OdAttrSite *s)
{
    return s->more && s->more_site == (const void *)s ? s->more : NULL;
}

/* The site's entry for receiver type `t`, or NULL (entry 0 first: a monomorphic site's). */
static inline OdAttrCache *od_attr_entry_for(OdAttrSite *site, PyTypeObject *t)
{
    if (site->cache[0].type == t)
        return &site->cache[0];
    OdAttrCache *m = od_attr_more(site);
    if (m)
        for (int i = 0; i < OD_ATTR_WAYS - 1; i++)
            if (m[i].type == t)
                return &m[i];
    return NULL;
}

/* The instance __dict__ of `obj` as a materialized exact dict (managed: dictoffset 0, or at
 * tp_dictoffset > 0), or NULL (no dict, inline values in use, or not created yet). */
static inline PyDictObject *od_instance_dict(PyObject *obj, Py_ssize_t dictoffset)
{
    PyObject *dict;
    if (dictoffset == 0) {
        if (*_PyObject_ValuesPointer(obj) != NULL)
            return NULL;
        dict = *_PyObject_ManagedDictPointer(obj);
    } else {
        dict = *(PyObject **)((char *)obj + dictoffset);
    }
    return dict && PyDict_CheckExact(dict) ? (PyDictObject *)dict : NULL;
}

/* A character of an exact str `s` by an exact int `k`, when `k` is compact, non-negative,
 * below the length, and the character below 256: the interpreter's one-character singleton
 * (borrowed: it is static), what unicode's subscript returns. NULL for anything else (no
 * exception set): the caller takes the generic road. 3.11 specializes no str subscript,
 * and parsers index their text a character at a time (email's, tomllib's). */
static inline PyObject *od_str_char_at(PyObject *s, PyObject *k)
{
    if (!PyUnicode_CheckExact(s) || !PyLong_CheckExact(k) || (size_t)(Py_SIZE(k) + 1) > 2)
        return NULL;
    Py_ssize_t i = Py_SIZE(k) == 0 ? 0 : (Py_ssize_t)((PyLongObject *)k)->ob_digit[0];
    if (Py_SIZE(k) < 0 || i >= PyUnicode_GET_LENGTH(s))
        return NULL;
    Py_UCS4 ch = PyUnicode_READ_CHAR(s, i);
    if (ch >= 256)
        return NULL;
    return ch < 128 ? (PyObject *)&_Py_SINGLETON(strings).ascii[ch]
                    : (PyObject *)&_Py_SINGLETON(strings).latin1[ch - 128];
}

/* Frees the entry blocks of the attribute sites in [sites, sites + len) (a unit's sites,
 * when the unit is freed). */
void od_rt_attr_sites_release(const void *sites, size_t len);
/* A recompilation's sites [to, to + len) are a byte copy of [from, from + len), whose
 * unit is still alive: each copied attribute site whose original has a block of entries
 * 1.. gets a block of its own with the same entries (so that its `more` is readable by
 * od_attr_more: tier 2 reads every receiver type the site met as feedback). 0, or -1
 * when a block could not be had (that copy keeps `more` only as the "met several types"
 * flag; no exception set). */
int od_rt_attr_sites_copy_blocks(void *to, const void *from, size_t len);
size_t od_rt_attr_blocks(void);   /* entry blocks allocated (tests) */
size_t od_rt_attr_blocks_in(const void *sites, size_t len);   /* of sites in that range */

/* The helper table: X(helper, opcode, inputs released on error or -1 = keeps inputs).
 * Declared once here; tier1 uses it to emit calls and error depths. */
#define OD_HELPER_OPS(X)                               \
    X(od_rt_unary_positive, UNARY_POSITIVE, 1)         \
    X(od_rt_unary_negative, UNARY_NEGATIVE, 1)         \
    X(od_rt_unary_not, UNARY_NOT, 1)                   \
    X(od_rt_unary_invert, UNARY_INVERT, 1)             \
    X(od_rt_binary_op, BINARY_OP, 2)                   \
    X(od_rt_compare_op, COMPARE_OP, 2)                 \
    X(od_rt_contains_op, CONTAINS_OP, 2)               \
    X(od_rt_is_op, IS_OP, 2)                           \
    X(od_rt_binary_subscr, BINARY_SUBSCR, 2)           \
    X(od_rt_store_subscr, STORE_SUBSCR, 3)             \
    X(od_rt_delete_subscr, DELETE_SUBSCR, 2)           \
    X(od_rt_get_iter, GET_ITER, 1)                     \
    X(od_rt_get_len, GET_LEN, 0)                       \
    X(od_rt_get_yield_from_iter, GET_YIELD_FROM_ITER, 1) \
    X(od_rt_build_tuple, BUILD_TUPLE, -1)              \
    X(od_rt_build_list, BUILD_LIST, -1)                \
    X(od_rt_build_set, BUILD_SET, -1)                  \
    X(od_rt_build_map, BUILD_MAP, -1)                  \
    X(od_rt_build_const_key_map, BUILD_CONST_KEY_MAP, -1) \
    X(od_rt_build_string, BUILD_STRING, -1)            \
    X(od_rt_build_slice, BUILD_SLICE, -1)              \
    X(od_rt_list_append, LIST_APPEND, 1)               \
    X(od_rt_set_add, SET_ADD, 1)                       \
    X(od_rt_map_add, MAP_ADD, 2)                       \
    X(od_rt_list_extend, LIST_EXTEND, 1)               \
    X(od_rt_set_update, SET_UPDATE, 1)                 \
    X(od_rt_dict_update, DICT_UPDATE, 1)               \
    X(od_rt_dict_merge, DICT_MERGE, 1)                 \
    X(od_rt_list_to_tuple, LIST_TO_TUPLE, 1)           \
    X(od_rt_unpack_sequence, UNPACK_SEQUENCE, 1)       \
    X(od_rt_unpack_ex, UNPACK_EX, 1)                   \
    X(od_rt_format_value, FORMAT_VALUE, -1)            \
    X(od_rt_load_global, LOAD_GLOBAL, 0)               \
    X(od_rt_store_global, STORE_GLOBAL, 1)             \
    X(od_rt_delete_global, DELETE_GLOBAL, 0)           \
    X(od_rt_load_name, LOAD_NAME, 0)                   \
    X(od_rt_store_name, STORE_NAME, 1)                 \
    X(od_rt_delete_name, DELETE_NAME, 0)               \
    X(od_rt_load_attr, LOAD_ATTR, 1)                   \
    X(od_rt_store_attr, STORE_ATTR, 2)                 \
    X(od_rt_delete_attr, DELETE_ATTR, 1)               \
    X(od_rt_load_method, LOAD_METHOD, -1)              \
    X(od_rt_load_deref, LOAD_DEREF, 0)                 \
    X(od_rt_store_deref, STORE_DEREF, 1)               \
    X(od_rt_delete_deref, DELETE_DEREF, 0)             \
    X(od_rt_load_classderef, LOAD_CLASSDEREF, 0)       \
    X(od_rt_delete_fast, DELETE_FAST, 0)               \
    X(od_rt_make_cell, MAKE_CELL, 0)                   \
    X(od_rt_copy_free_vars, COPY_FREE_VARS, 0)         \
    X(od_rt_precall, PRECALL, 0)                       \
    X(od_rt_call, CALL, -1)                            \
    X(od_rt_call_function_ex, CALL_FUNCTION_EX, -1)    \
    X(od_rt_make_function, MAKE_FUNCTION, -1)          \
    X(od_rt_load_build_class, LOAD_BUILD_CLASS, 0)     \
    X(od_rt_load_assertion_error, LOAD_ASSERTION_ERROR, 0) \
    X(od_rt_setup_annotations, SETUP_ANNOTATIONS, 0)   \
    X(od_rt_before_with, BEFORE_WITH, -1)              \
    X(od_rt_before_async_with, BEFORE_ASYNC_WITH, -1)  \
    X(od_rt_get_awaitable, GET_AWAITABLE, 1)           \
    X(od_rt_get_aiter, GET_AITER, 1)                   \
    X(od_rt_get_anext, GET_ANEXT, 0)                   \
    X(od_rt_end_async_for, END_ASYNC_FOR, 2)           \
    X(od_rt_async_gen_wrap, ASYNC_GEN_WRAP, -1)        \
    X(od_rt_with_except_start, WITH_EXCEPT_START, 0)   \
    X(od_rt_push_exc_info, PUSH_EXC_INFO, 0)           \
    X(od_rt_pop_except, POP_EXCEPT, 0)                 \
    X(od_rt_check_exc_match, CHECK_EXC_MATCH, 1)       \
    X(od_rt_match_mapping, MATCH_MAPPING, 0)           \
    X(od_rt_match_sequence, MATCH_SEQUENCE, 0)         \
    X(od_rt_match_keys, MATCH_KEYS, 0)                 \
    X(od_rt_match_class, MATCH_CLASS, 2)               \
    X(od_rt_import_name, IMPORT_NAME, -1)              \
    X(od_rt_import_from, IMPORT_FROM, 0)

#define OD_DECLARE_HELPER(helper, opcode, released) OD_HELPER(helper);
OD_HELPER_OPS(OD_DECLARE_HELPER)
#undef OD_DECLARE_HELPER

/* FOR_ITER: OD_OK (next value pushed), OD_JUMP (exhausted, iterator popped), OD_ERROR
 * (iterator kept on the stack). */
OD_HELPER(od_rt_for_iter);
/* SEND: OD_OK (value yielded by the receiver pushed), OD_JUMP (receiver returned: its
 * value replaces it, take the jump), OD_ERROR (sent value released, receiver kept),
 * OD_DEOPT (a tracer is installed: the interpreter reports to it). */
OD_HELPER(od_rt_send);
/* RETURN_GENERATOR: the frame moved into a new generator, coroutine or async generator
 * object, written to sp[0] (the frame returns it); OD_ERROR; OD_DEOPT (coroutine origin
 * tracking is on: the interpreter computes the origin). */
OD_HELPER(od_rt_return_generator);

/* What the helpers learn from CPython at run time (the generic __getitem__ slot, and the
 * generic number slots: od_rt_nb_slots_init below): once,
 * before the first compile (hook/codestate.c), not at import, where creating the probe
 * class cost every `import overdrive` 57K instructions; later calls return at once. 0, or
 * -1 with an exception set. */
int od_rt_init(void);

/* runtime/nb_slots.c: the nb_add / nb_subtract / nb_multiply / nb_true_divide slot CPython
 * gives a class whose dunder (or its reflection) is not a C slot wrapper (typeobject.c's
 * static slot_nb_*: it calls the dunder found by _PyType_Lookup, unbound, with (self,
 * other)), for BINARY_OP's op NB_ADD, NB_SUBTRACT, NB_MULTIPLY, NB_TRUE_DIVIDE; NULL for
 * other ops or before od_rt_init. od_rt_nb_slot: tp's slot for op (NULL: none, or another
 * op). */
int od_rt_nb_slots_init(void);      /* od_rt_init's; 0, or -1 with an exception set */
binaryfunc od_rt_generic_nb_slot(int op);
binaryfunc od_rt_nb_slot(PyTypeObject *tp, int op);

/* `a OP b` for OP + - * / when a's class has the generic slot for it and b is of the same
 * class or an exact int or float: the dunder, a Python function (_PyType_Lookup, as the
 * slot finds it), called unbound on a frame pushed by od_rt_call_python, then what the
 * number protocol does with NotImplemented (the right operand's slot, the TypeError).
 * `allows` decides whether the hook may be skipped at the dunder's entry (tier 2's
 * tiering rule; NULL: the runtime's, which leaves a tier-1 dunder to the hook while tier 2
 * is on, so that the hook counts it towards promotion). *done 1 when
 * it made the call (the result, or NULL with an exception), 0 having done nothing; the
 * operands stay the caller's. Counted in od_rt_calls_dunder (stats()'s "calls_dunder"). */
PyObject *od_rt_binary_dunder(PyThreadState *ts, int op, PyObject *a, PyObject *b,
                              int (*allows)(PyCodeObject *), int *done);
extern uint64_t od_rt_calls_dunder;

/* `name` in a frame's locals mapping (a dict or any mapping): 0 with *out a new reference
 * or NULL when missing, -1 with an exception set. Shared by LOAD_NAME and LOAD_CLASSDEREF. */
int od_rt_lookup_locals(PyObject *locals, PyObject *name, PyObject **out);

/* Exceptions caught by a handler inside compiled code, all units together. */
extern uint64_t od_rt_unwinds;
/* Lookups the attribute helpers (od_rt_load_attr, od_rt_store_attr, od_rt_load_method)
 * did past their site's entries, all sites together (tier 2 counts its own misses by it). */
extern uint64_t od_rt_attr_slow;
/* Whether method entry `c` (a METHOD_* kind) holds for `obj`: the type has not changed
 * and nothing on the instance can shadow the method `name` (for METHOD_WITH_DICT, a probe
 * of the instance dict). 0 for every other kind. The load-method helpers' hit test; tier
 * 2's helper takes its hits by it without the runtime helper's value stack. */
int od_rt_method_entry_hit(const OdAttrCache *c, PyObject *obj, PyObject *name);
/* BINARY_OP `s += t` on strs done in place into the local it is stored back to (ops_arith.c). */
extern uint64_t od_rt_str_appends_in_place;

/* COMPARE_OP fused with the conditional jump after it: consumes both operands and returns
 * the truth of the comparison (1/0), or -1 with an exception set. */
OD_HELPER(od_rt_compare_branch);
/* A new reference to True or False (to materialize a fused comparison on an exit). */
PyObject *od_rt_box_bool(int value);
/* Result of int arithmetic on exact ints a and b whose value is v: a or b reused when only
 * the value stack holds it and v fits one digit, else a new int. New reference, or NULL
 * with MemoryError. Neither operand is released. */
PyObject *od_rt_long_result(PyObject *a, PyObject *b, long v);
/* a + b, a - b, a * b of two exact ints of any size, by int's own number slots (what the
 * interpreter's BINARY_OP_*_INT forms call), for tier 1's inline int arithmetic. */
PyObject *od_rt_int_add(PyObject *a, PyObject *b);
PyObject *od_rt_int_subtract(PyObject *a, PyObject *b);
PyObject *od_rt_int_multiply(PyObject *a, PyObject *b);

/* BINARY_OP `op` (NB_*) of two exact ints of one digit, two exact floats, or an exact
 * float with an exact int of one digit, as their own slots compute it: a new reference
 * (NULL with MemoryError), or NULL without an exception for anything else (a zero divisor
 * included). No operand is reused or released. For tier 2's generic BinaryOp. */
PyObject *od_rt_binary_numbers(int op, PyObject *a, PyObject *b);

/* Truth of a value that is not True/False (those are tested inline). Consumes `v`.
 * Returns 1, 0, or -1 with an exception set. */
int od_rt_truth_consume(PyObject *v);
/* Releases an object whose count reached zero, after compiled code set prev_instr. */
void od_rt_dealloc(PyObject *o);

/* RESUME's warm-up count (co_warmup), as the interpreter keeps it: 1 when this RESUME is
 * the one at which CPython quickens the code object; compiled code then lets the
 * interpreter run it, so the adaptive bytecode specializes exactly as without the JIT. */
int od_rt_warmup(PyCodeObject *co);

/* Eval-breaker slow path: signals, pending calls, GIL hand-off, async exceptions.
 * 0, or -1 with an exception set. */
int od_rt_handle_eval_breaker(PyThreadState *ts);

/* Exception paths. Each returns the native address of the handler to continue at (the
 * stack already unwound to its depth, with lasti and the exception pushed), or NULL when
 * this frame has no handler (stack emptied; the frame returns NULL). */
void *od_rt_error(_PyInterpreterFrame *f, OdUnit *u, int index, int live_depth);
/* The state of an exit to the interpreter (every exit stub ends here): the interpreter
 * resumes at code unit `resume` with `depth` values on the stack; `reason_op` is the
 * exit reason | opcode << 8 (for stats and info()). */
void od_rt_set_exit(_PyInterpreterFrame *f, OdUnit *u, int resume, int depth, int reason_op);
void *od_rt_raise(_PyInterpreterFrame *f, OdUnit *u, int index, int depth_before, int oparg);
void *od_rt_reraise(_PyInterpreterFrame *f, OdUnit *u, int index, int depth_before, int oparg);

#endif /* OD_RUNTIME_HELPERS_H */
