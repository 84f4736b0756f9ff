/* runtime/unit.h — a compiled code object: native code plus the data it refers to.
 *
 * Contract: tier 1 (and later tier 2) fill an OdUnit; the hook runs it through od_unit_run
 * (hook/enter.c); it lives exactly as long as its code object (freed from the co_extra free
 * function). Native code is entered as `PyObject *entry(_PyInterpreterFrame *f,
 * PyThreadState *ts, OdUnit *u)` and returns either the frame's return value, or NULL:
 *   - with an exception set: the frame raised and was unwound (no handler in this frame);
 *   - without one: it left for the interpreter ("exit"); f->prev_instr and f->stacktop
 *     describe where the interpreter resumes, u->last_exit says why. */
#ifndef OD_RUNTIME_UNIT_H
#define OD_RUNTIME_UNIT_H

#include "../od_python.h"
#include "../bytecode/decode.h"

/* Why compiled code handed a frame to the interpreter. X(name, description) */
#define OD_EXIT_REASONS(X)                                                            \
    X(UNSUPPORTED_OPCODE, "instruction not compiled by this tier")                    \
    X(HELPER_DEOPT, "runtime helper met a case it leaves to the interpreter")         \
    X(TRACING, "tracing or profiling switched on during a call")                      \
    X(UNBOUND_LOCAL, "unbound local or free variable (the interpreter raises it)")

typedef enum {
#define OD_EXIT_ENUM(name, desc) OD_EXIT_##name,
    OD_EXIT_REASONS(OD_EXIT_ENUM)
#undef OD_EXIT_ENUM
    OD_EXIT__COUNT
} OdExitReason;

const char *od_exit_reason_name(int reason);

/* Inline cache of a LOAD_GLOBAL site: valid while neither dict changed. */
typedef struct {
    uint64_t globals_version, builtins_version;
    PyObject *value;              /* borrowed: the dict holds it while the versions match */
    uint32_t hits, misses;
} OdGlobalCache;

/* Inline cache of an attribute site (LOAD_ATTR / LOAD_METHOD / STORE_ATTR). */
typedef struct {
    PyTypeObject *type;           /* last type seen (borrowed, compared only) */
    unsigned int type_version;
    uint32_t hits, misses;
    uint32_t types_seen;          /* number of distinct types observed (1 = monomorphic) */
} OdAttrCache;

/* Record of what a binary operator / comparison site saw (feedback for tier 2). */
typedef struct {
    PyTypeObject *left, *right;   /* last operand types */
    uint32_t fast, slow;          /* fast-path hits vs generic calls */
} OdOpCache;

/* Record of what a call site saw. */
typedef struct {
    PyObject *callee_type;        /* Py_TYPE of the last callable (borrowed, compared only) */
    uint32_t calls, py_calls;
} OdCallCache;

typedef struct OdUnit OdUnit;
typedef PyObject *(*OdEntry)(_PyInterpreterFrame *f, PyThreadState *ts, OdUnit *u);

struct OdUnit {
    PyCodeObject *code;           /* borrowed: the unit dies with its code object */
    OdEntry entry;
    void *mem;                    /* executable pages (asm/codemem) */
    size_t mem_reserved, code_size;
    int tier;
    int ninstrs;
    /* Native address per instruction start (unit index -> code, NULL if none). */
    void **addr_at_unit;
    int ncodeunits;
    int nexc;
    OdExcEntry *exc;
    /* Caches, indexed by instruction unit via cache_at_unit (or -1). */
    void *caches;
    int *cache_at_unit;
    /* Statistics for info()/stats(). */
    uint64_t compile_ns;
    uint64_t native_entries;
    uint64_t exits[OD_EXIT__COUNT];
    uint64_t unwinds;             /* exceptions handled by an except/finally in native code */
    int last_exit;
    int last_exit_opcode;
};

#endif /* OD_RUNTIME_UNIT_H */
