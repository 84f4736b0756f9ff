/* tier2/hir/feedback.h — what the code's earlier runs recorded, for the speculation passes.
 *
 * Contract: one interface over the two sources ARCHITECTURE.md names. (1) The interpreter's
 * quickened instructions in co_code_adaptive: BINARY_OP_{ADD,SUBTRACT,MULTIPLY}_{INT,FLOAT},
 * COMPARE_OP_{INT,FLOAT,STR}_JUMP say which exact classes the operands had when CPython
 * specialized the instruction; LOAD_GLOBAL_{MODULE,BUILTIN} that the name resolved to a
 * cacheable dict entry. (2) Tier 1's sites (runtime/unit.h OdOpCache, one per BINARY_OP and
 * COMPARE_OP, at u->caches + u->cache_at_unit[index]): the operand classes its helper met
 * last; runtime/helpers.h OdAttrSite, one per LOAD_ATTR / STORE_ATTR / LOAD_METHOD: the
 * receiver types it met and where each found the attribute, its inline cache entries).
 * And the globals the frame being compiled runs with: the value a global name has now and
 * the version tags of the globals and builtins dicts (what a GlobalValue guard checks).
 * Feedback is a hint: every use of it is guarded. Everything is read at compile time; the
 * source keeps borrowed pointers valid for that long (not the types and methods an
 * attribute site names: see od_feedback_attr). Depends on bytecode/ and runtime/. */
#ifndef OD_TIER2_HIR_FEEDBACK_H
#define OD_TIER2_HIR_FEEDBACK_H

#include "../../runtime/unit.h"
#include "../../runtime/helpers.h"

typedef struct OdFeedback {
    PyCodeObject *code;         /* borrowed */
    const OdUnit *tier1;        /* borrowed, or NULL: tier 1's unit with its sites */
    PyObject *globals, *builtins; /* borrowed, or NULL: the frame's dicts */
    OdBytecode bc;
} OdFeedback;

/* 0, or -1 with an exception set. `tier1`, `globals`, `builtins` may be NULL. */
int od_feedback_init(OdFeedback *fb, PyCodeObject *co, const OdUnit *tier1, PyObject *globals,
                     PyObject *builtins);
void od_feedback_free(OdFeedback *fb);

/* Operand classes seen at the BINARY_OP / COMPARE_OP / BINARY_SUBSCR starting at unit
 * `start` (NULL: unknown). The interpreter's specialization wins over tier 1's record. For
 * a STORE_SUBSCR (no site of its own): list and int when the interpreter made it
 * STORE_SUBSCR_LIST_INT (container and index; the value is not looked at). */
void od_feedback_operands(const OdFeedback *fb, int start, PyTypeObject **left, PyTypeObject **right);

/* Whether the operands of the BINARY_OP / COMPARE_OP at unit `start` were of more than one
 * pair of classes: the interpreter's form specialized for ints or floats
 * (BINARY_OP_{ADD,SUBTRACT,MULTIPLY}_{INT,FLOAT}, COMPARE_OP_{INT,FLOAT}_JUMP) whose miss
 * counter is OD_FEEDBACK_MIX_MISSES or more below CPython's start value; or its adaptive
 * BINARY_OP that failed to specialize or went back after its misses while tier 1's site
 * last met two ints or two floats. Its runs after tier 1 took over come from tier 2's
 * deopts, which resume in the interpreter: a site whose guard failed counts its misses
 * there too. 1 or 0. */
int od_feedback_number_mix(const OdFeedback *fb, int start);
#define OD_FEEDBACK_MIX_MISSES 1

/* The value `name` has now (borrowed; NULL if unbound or globals unknown) and the versions
 * a guard must check: the globals dict's, and the builtins dict's when the value comes from
 * there (else 0). Only for dicts of exact type dict. */
PyObject *od_feedback_global(const OdFeedback *fb, PyObject *name, uint64_t *globals_version,
                             uint64_t *builtins_version);

/* Tier 1's record of the LOAD_ATTR / STORE_ATTR / LOAD_METHOD starting at unit `start`,
 * copied to *out when the site met one receiver type (monomorphic: no second entry was
 * ever needed) with a usable version tag: 1, else 0. When tier 1's site never ran, the
 * interpreter's specialized form of the instruction, as such an entry (LOAD_ATTR_
 * INSTANCE_VALUE / _SLOT / _WITH_HINT, STORE_ATTR_INSTANCE_VALUE / _SLOT / _WITH_HINT,
 * LOAD_METHOD_NO_DICT / _WITH_VALUES); for the last one, keys_nentries is -1 and dict_version the shared keys'
 * dk_version it checks (0 otherwise). `type` and `value` are borrowed and may be dangling
 * by now (nothing keeps the type alive): never read through them, except under a guard of
 * `type_version` at run time. */
int od_feedback_attr(const OdFeedback *fb, int start, OdAttrCache *out);

/* Every entry of tier 1's site at unit `start` when it met 2 to OD_ATTR_WAYS receiver types
 * and never evicted one (so the entries are all the types it met), each with a version
 * tag: copied to out[], the most hit first; how many (0 otherwise: one type, no tier-1
 * record, a site that met more types than it has entries, or entries 1.. not readable).
 * The same borrowed, maybe dangling `type` and `value` as od_feedback_attr. */
int od_feedback_attr_ways(const OdFeedback *fb, int start, OdAttrCache out[OD_ATTR_WAYS]);

/* Why an attribute site is not specialized in line by `attrs` (it keeps the generic
 * instruction, whose tier-2 helper has an inline cache of its own: rt/attr.c). attrs.c
 * records it in the instruction's imm; the site counts its executions under it
 * (stats()["tier2"]["generic_attr"]). X(name, text). */
#define OD_ATTR_WHY(X)                                                                       \
    X(NO_FEEDBACK, "no_feedback")     /* no site record, the interpreter's not specialized */ \
    X(POLYMORPHIC, "polymorphic")     /* tier 1's site, or the interpreter, met several types */ \
    X(MODULE, "module")               /* a module's attribute */                              \
    X(CLASS, "class")                 /* an attribute of a class object */                     \
    X(DICT, "dict")                   /* in a materialized instance __dict__ */                \
    X(METHOD_WITH_DICT, "method_with_dict") /* a method, instances with a __dict__ */          \
    X(METHOD_AS_ATTR, "method_as_attr") /* LOAD_ATTR of a class attribute via the instance */  \
    X(DESCRIPTOR, "descriptor")       /* a getset or property */                               \
    X(OTHER, "other")                 /* nothing cacheable, or an unusable version */          \
    X(NO_SPECULATE, "no_speculate")   /* its guards kept failing */

typedef enum {
#define OD_ATTR_WHY_ENUM(name, text) OD_ATTR_WHY_##name,
    OD_ATTR_WHY(OD_ATTR_WHY_ENUM)
#undef OD_ATTR_WHY_ENUM
    OD_ATTR_WHY__COUNT
} OdAttrWhy;

extern const char *const od_attr_why_names[OD_ATTR_WHY__COUNT];

/* The reason the site at unit `start` has no entry od_feedback_attr returns (when it
 * returned 0), or why the entry it returned is not of a kind `attrs` handles in line. */
OdAttrWhy od_feedback_attr_why(const OdFeedback *fb, int start, int is_load_attr);
/* The same for a kind (an entry `attrs` declined). */
OdAttrWhy od_attr_why_of_kind(int kind, int is_load_attr);

#endif /* OD_TIER2_HIR_FEEDBACK_H */
