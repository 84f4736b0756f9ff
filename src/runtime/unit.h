/* runtime/unit.h — a compiled code object: native code plus the data it refers to.
 *
 * Contract: tier 1 (and later tier 2) fill an OdUnit; the hook runs it through od_unit_run
 * (hook/enter.c); it lives exactly as long as its code object (freed from the co_extra free
 * function). Native code is entered as `PyObject *entry(_PyInterpreterFrame *f,
 * PyThreadState *ts, OdUnit *u, void *resume_at)` and returns either the frame's return
 * value (or, for a generator, the value it yields: the generator's frame state then says
 * FRAME_SUSPENDED), or NULL:
 *   - with an exception set and no exit flag: the frame raised and was unwound (no handler
 *     in this frame);
 *   - with u->exit_pending set: it left for the interpreter ("exit"); f->prev_instr and f->stacktop
 *     describe where the interpreter resumes, u->last_exit says why;
 *   - with one and u->throw_pending set: an exception raised while tracing was on; the
 *     interpreter must unwind it (throwflag) so that trace events are produced. */
#ifndef OD_RUNTIME_UNIT_H
#define OD_RUNTIME_UNIT_H

#include "../od_python.h"
#include "../bytecode/decode.h"

/* Why compiled code handed a frame to the interpreter. X(name, description) */
#define OD_EXIT_REASONS(X)                                                            \
    X(UNSUPPORTED_OPCODE, "instruction not compiled by this tier")                    \
    X(HELPER_DEOPT, "runtime helper met a case it leaves to the interpreter")         \
    X(TRACING, "tracing or profiling switched on during a call")                      \
    X(TRACING_THROW, "exception raised while tracing is on: the interpreter unwinds")  \
    X(UNBOUND_LOCAL, "unbound local or free variable (the interpreter raises it)")  \
    X(WARMUP, "once per code object: the interpreter quickens it at RESUME")              \
    X(TIER2_DEOPT, "tier 2: a guard failed, or an instruction it leaves to the interpreter") \
    X(TIER2_ERROR, "tier 2: an exception, unwound by the interpreter")                  \
    X(OSR, "a loop's back edges counted out (tier 2 on): the frame continues in tier 2's " \
           "code for that loop, or in this unit")

typedef enum {
#define OD_EXIT_ENUM(name, desc) OD_EXIT_##name,
    OD_EXIT_REASONS(OD_EXIT_ENUM)
#undef OD_EXIT_ENUM
    OD_EXIT__COUNT
} OdExitReason;

const char *od_exit_reason_name(int reason);

/* Inline cache of a LOAD_GLOBAL site: valid while neither dict changed. When only the
 * values changed (a module writing its own globals), `globals_index` finds the name's entry
 * again without a lookup: the hint the interpreter's LOAD_GLOBAL_MODULE keeps too. */
typedef struct {
    uint64_t globals_version, builtins_version;
    PyObject *value;              /* borrowed: the dict holds it while the versions match */
    Py_ssize_t globals_index;     /* entry of the name in the globals' keys, or -1 */
    uint32_t hits, misses;
} OdGlobalCache;

/* What an attribute site's cache entry holds: X(name, comment). Declared once; the enum
 * and the names introspection reports come from it. */
#define OD_ATTR_KINDS(X)                                                                     \
    X(NONE, "nothing cacheable")                                                             \
    X(INSTANCE_VALUE, "instance attribute in the object's inline values[index]")             \
    X(MODULE_VALUE, "module attribute: `value` while md_dict's version holds")               \
    X(METHOD_NO_DICT, "method (or, for LOAD_ATTR, any class attribute that is not a data "   \
                      "descriptor) in the type; instances have no __dict__")                 \
    X(METHOD_SHARED_KEYS, "the same; not shadowed by the shared keys")                       \
    X(SLOT, "__slots__ member: object pointer at byte `index`")                              \
    X(DICT_HINT, "instance attribute in a materialized __dict__, at entry `index` of its "   \
                 "keys (checked on every hit)")                                              \
    X(METHOD_WITH_DICT, "the same; the instance __dict__ is checked not to shadow it")                                                         \
    X(CLASS_VALUE, "attribute of a class object whose metatype is exactly `type`: `value` "  \
                   "is what type.__getattribute__ returns while the class's version holds; " \
                   "the entry is keyed by the class itself")                                 \
    X(GETSET, "C getter (getset descriptor, a data descriptor) found on the type: `value` "  \
              "is the descriptor, its getter called directly on each hit")                    \
    X(PROPERTY, "a `property` found on the type (a data descriptor): `value` is the "        \
                "property, its __get__ called directly on each hit")                          \
    X(SPLIT_DICT, "instance attribute in a materialized __dict__ that shares its keys "       \
                  "(split): its values[index], the keys' entry `index` checked on every hit")  \
    X(DICT_STORE, "STORE_ATTR into the instance's materialized __dict__ (split or combined): "\
                  "the type has no data descriptor of that name (`value`: the class "          \
                  "attribute the store shadows, or NULL; checked at each hit to have no "      \
                  "__set__ yet)")

typedef enum {
#define OD_ATTR_KIND_ENUM(name, doc) OD_ATTR_##name,
    OD_ATTR_KINDS(OD_ATTR_KIND_ENUM)
#undef OD_ATTR_KIND_ENUM
} OdAttrKind;

/* Inline cache of an attribute site (LOAD_ATTR / LOAD_METHOD / STORE_ATTR). */
typedef struct {
    PyTypeObject *type;           /* type the entry is for (borrowed, compared only) */
    unsigned int type_version;    /* valid while the type's version tag is unchanged */
    int kind;                     /* OdAttrKind */
    Py_ssize_t index;             /* INSTANCE_VALUE: slot in the inline values; SLOT: offset */
    union {
        Py_ssize_t keys_nentries; /* METHOD_SHARED_KEYS: shared keys did not grow */
        Py_ssize_t index_log2;    /* DICT_HINT: log2 of the index table's bytes in the dict
                                     it was made from (what a recompiled unit expects) */
    };
    Py_ssize_t dictoffset;        /* DICT_HINT / METHOD_WITH_DICT: tp_dictoffset, 0 = managed */
    uint64_t dict_version;        /* MODULE_VALUE */
    PyObject *value;              /* MODULE_VALUE / METHOD_* / GETSET / PROPERTY / DICT_STORE:
                                     borrowed from the dict */
    uint32_t hits, misses;
} OdAttrCache;

/* Record of what a binary operator / comparison / subscript site saw (feedback for tier 2). */
typedef struct {
    PyTypeObject *left, *right;   /* last operand types */
    uint32_t fast, slow;          /* in the helper: its fast paths vs the generic API */
    uint32_t inline_hits;         /* done by the compiled code alone (tier1/fast_*.c) */
} OdOpCache;

/* Record of what a call site saw. */
typedef struct {
    PyObject *callee_type;        /* Py_TYPE of the last callable (borrowed, compared only) */
    uint32_t calls, py_calls;
} OdCallCache;

/* A table with an entry per code unit (0 .. ncodeunits): a value, or 0 for "nothing
 * starts here". 16 bits per entry when every value of the table fits, 32 otherwise. Most
 * entries are 0 (the inline-cache units between instructions), and at 4 bytes each the
 * unit's two tables were two fifths of what it mallocs besides its sites. */
typedef struct {
    void *entries;                /* uint16_t[] or uint32_t[]; NULL: no table */
    int wide;
} OdUnitTable;

/* All entries 0, wide enough for values up to `max_value`. -1 when out of memory. */
static inline int od_unit_table_init(OdUnitTable *t, int ncodeunits, uint32_t max_value)
{
    t->wide = max_value > UINT16_MAX;
    t->entries = calloc((size_t)ncodeunits + 1, t->wide ? sizeof(uint32_t) : sizeof(uint16_t));
    return t->entries ? 0 : -1;
}

static inline void od_unit_table_set(OdUnitTable *t, int i, uint32_t value)
{
    if (t->wide)
        ((uint32_t *)t->entries)[i] = value;
    else
        ((uint16_t *)t->entries)[i] = (uint16_t)value;
}

static inline uint32_t od_unit_table_get(const OdUnitTable *t, int i)
{
    return t->wide ? ((const uint32_t *)t->entries)[i] : ((const uint16_t *)t->entries)[i];
}

static inline size_t od_unit_table_bytes(const OdUnitTable *t, int ncodeunits)
{
    return t->entries ? ((size_t)ncodeunits + 1) * (t->wide ? 4 : 2) : 0;
}

static inline void od_unit_table_free(OdUnitTable *t)
{
    free(t->entries);
    t->entries = NULL;
}

typedef struct OdUnit OdUnit;
/* `resume_at` is NULL for a fresh frame, or the native address of the instruction a
 * suspended generator frame continues at. */
typedef PyObject *(*OdEntry)(_PyInterpreterFrame *f, PyThreadState *ts, OdUnit *u,
                             void *resume_at);

struct OdUnit {
    PyCodeObject *code;           /* borrowed: the unit dies with its code object */
    OdEntry entry;
    void *mem;                    /* executable pages (asm/codemem) */
    size_t mem_reserved, code_size;
    size_t data_offset;           /* tier 1: where the constants after the code start
                                   * (asm/x64.h OdAsm.pool); code_size if there are none */
    int tier;
    int ninstrs;
    /* Native code per instruction start: code unit index -> 1 + offset from `mem`, 0 if
     * no instruction's code starts there (the first instruction's code can start at offset
     * 0: the entry is shared, tier1/compile.c). Read through od_unit_native_at. */
    OdUnitTable native_at_unit;
    /* The last generator resume point looked up (od_unit_resume_native): code unit index
     * and native address (0, NULL: none yet). Most generators resume at one yield. */
    int resume_next;
    void *resume_native;
    int ncodeunits;
    int nexc;
    OdExcEntry *exc;
    /* Sites (inline caches): code unit index of an instruction -> its site's offset in
     * `caches` plus one, 0 if it has none. Read through od_unit_site. */
    void *caches;
    size_t cache_bytes;
    OdUnitTable site_at_unit;
    /* The unit this one replaced (recompiled with its feedback): frames may still run its
     * code, so it lives as long as this one. */
    struct OdUnit *retired;
    int with_feedback;            /* compiled from a previous unit's site feedback */
    int compact;                  /* compiled compact (tier1/compile.h od_tier1_compile_compact) */
    int deferred_loads;           /* LOAD_FAST/LOAD_CONST left to their consumer to borrow */
    int fixed_attr_sites;         /* attribute sites whose one entry is built into the code */
    int cold_sites;               /* sites that never ran: their helper call in 11 bytes */
    int single_kind_sites;        /* first unit: sites without the other kinds' out-of-line
                                   * code, as the interpreter had specialized them */
    int helper_only_sites;        /* attribute sites known to meet only kinds their helper
                                   * handles: the helper call alone, no inline probe */
    /* Statistics for info()/stats(). */
    uint64_t compile_ns;
    uint64_t native_entries;
    /* For calls from compiled code straight into this unit (tier1/fast_call.c): the number
     * of positional arguments such a call passes (-1: the code takes no direct calls: *args,
     * **kwargs or keyword-only parameters, not a function body), its co_nlocalsplus and
     * the bytes its frame takes on the thread's data stack. */
    int32_t direct_argc, nlocalsplus;
    int64_t frame_bytes;
    void *direct_entry;           /* NULL, or the unit's own continuation of the thunk
                                   * (hot units: sizes as immediates, loops unrolled) */
    void *t2_direct_entry;        /* tier 2: NULL, or the unit's own continuation of tier
                                   * 2's call thunk (tier2/rt/call_thunk.h: sizes as
                                   * immediates, loops unrolled); tier 1's thunk never
                                   * reads it */
    void *t2_short_entry;         /* tier 2: NULL, or the same for a call one positional
                                   * argument short, the last parameter from func_defaults
                                   * (tier2/rt/call_thunk.h) */
    void *body;                   /* tier 1: the body's code, which `entry` calls with the
                                   * register plan loaded (tier1/emit.h) and the thunk calls
                                   * itself; NULL (tier 2): through `entry` only */
    uint64_t direct_entries;      /* of which entered by calls from compiled code without
                                   * the eval-frame hook (runtime/frames.c); not in the
                                   * code state's `entries`, which counts the hook's */
    uint64_t exits[OD_EXIT__COUNT];
    uint64_t unwinds;             /* exceptions handled by an except/finally in native code */
    int last_exit;
    int last_exit_opcode;
    int throw_pending;            /* exit with the exception set: resume with throwflag */
    int exit_pending;             /* set by every exit stub: NULL means "exit", not "raised" */
    /* Tier 1, compiled while tier 2 is on, or a first unit of loop code (hook/codestate.c):
     * every backward jump subtracts one; at zero the code exits with OD_EXIT_OSR at the loop
     * header (hook/enter.c asks tier 2 for an OSR entry there, tier2/tier2.h od_tier2_osr,
     * or compiles the unit again from its sites, hook.h od_upgrade_loop). Not counted when
     * 0 at compile time. */
    int32_t osr_counter;
    uint8_t counts_backedges;     /* its backward jumps count osr_counter down */
};

/* Native address of the instruction starting at code unit `i` of u's code, or NULL. */
static inline void *od_unit_native_at(const OdUnit *u, int i)
{
    if (i < 0 || i > u->ncodeunits || !u->native_at_unit.entries)
        return NULL;
    uint32_t off = od_unit_table_get(&u->native_at_unit, i);
    return off ? (char *)u->mem + off - 1 : NULL;
}

/* Where a generator frame suspended in `u` continues: the native address of the code unit
 * `next` after its last instruction (a yield, or RETURN_GENERATOR), or NULL. The last one
 * found is kept in the unit. */
static inline void *od_unit_resume_native(OdUnit *u, int next)
{
    if (__builtin_expect(next == u->resume_next && next, 1))
        return u->resume_native;
    void *at = next > 0 && next < u->ncodeunits ? od_unit_native_at(u, next) : NULL;
    if (at) {
        u->resume_next = next;
        u->resume_native = at;
    }
    return at;
}

/* The site of the instruction whose opcode is at code unit `i` of u's code, or NULL. */
static inline void *od_unit_site(const OdUnit *u, int i)
{
    if (i < 0 || i > u->ncodeunits || !u->site_at_unit.entries)
        return NULL;
    uint32_t off = od_unit_table_get(&u->site_at_unit, i);
    return off ? (char *)u->caches + off - 1 : NULL;
}

#endif /* OD_RUNTIME_UNIT_H */
