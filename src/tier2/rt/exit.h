/* tier2/rt/exit.h — a tier-2 unit, tier 2's record of a code object, and leaving tier-2
 * code for the interpreter.
 *
 * Contract: an OdT2Unit is an OdUnit (runtime/unit.h; tier 2) followed by its exit records;
 * the hook runs it like any unit. Its code calls od_t2_exit(f, unit, exit, sp) at every exit
 * with `sp` the stack pointer of its frame (lir.h: exit values are rsp offsets, registers
 * dumped at OD_LIR_OFF_DUMP): it writes every local and stack value of the exit's frame
 * state into the frame as owned references (boxing unboxed ones), releases the values the
 * code owned, sets prev_instr and stacktop, marks the unit's exit (exit_pending, and
 * throw_pending for an exception) and returns NULL, which the code returns: od_unit_run
 * then hands the frame to the interpreter, which continues it (or unwinds the exception).
 *
 * Deopt storms: a speculative exit (od_t2_exit_speculative) taken OD_T2_SPEC_LIMIT times
 * marks its bytecode instruction not to be speculated on, and the code object goes back to
 * tier 1 at once; its next frame entry compiles tier 2 again without that speculation, at
 * most OD_T2_MAX_COMPILES times, after which the code stays in tier 1 for good. Units are
 * never freed before their code object (frames may still run them). */
#ifndef OD_TIER2_RT_EXIT_H
#define OD_TIER2_RT_EXIT_H

#include "../lir/lir.h"
#include "../../runtime/unit.h"

#define OD_T2_SPEC_LIMIT 16
#define OD_T2_MAX_COMPILES 4

typedef struct OdT2State OdT2State;

/* One value of an exit's frame state, as the exit reads it: lir.h's OdLirVal (32 bytes, with
 * what register allocation needed) packed into a word, since a unit keeps its exits as long
 * as its code object lives (nbody's `advance`: 306 exits, 11,899 values, 400 KB as
 * OdLirVal). The OD_XV_* kind is in the low 3 bits; above them, an object's address for
 * OD_XV_CONST (objects are 8-byte aligned; 0 for NULL), a local's index for OD_XV_LOCAL, and
 * the value's rsp offset for the others. */
typedef uintptr_t OdT2Val;
#define OD_T2VAL_KIND(v) ((int)((v) & 7))
#define OD_T2VAL_OBJ(v) ((PyObject *)((v) & ~(uintptr_t)7))
#define OD_T2VAL_INT(v) ((int32_t)((intptr_t)(v) >> 3))

/* An exit as the code's exits take it (lir.h's OdLirExit without what only compiling
 * needs). */
typedef struct {
    int kind;                   /* OD_XK_* */
    int reason;                 /* OdT2ExitReason (an ERROR_OR_DEOPT's deopt reason) */
    int resume;                 /* code unit the interpreter resumes at */
    int index;                  /* the opcode's unit (prev_instr for an error) */
    int nlocals, depth;
    int nheld, nsync;
    const OdT2Val *slots;       /* nlocals + depth */
    const int32_t *held;        /* rsp offsets of the owned values to release */
    const int *sync;            /* write-back (od_t2_sync): locals read from slots[local] */
    uint64_t count;             /* times taken */
} OdT2Exit;

typedef struct {
    OdUnit unit;                /* first: what the hook runs (unit.tier == 2) */
    OdT2State *state;           /* the code object's record */
    OdT2Exit *exits;            /* one malloc'd block with their values and lists */
    int nexits;
    PyObject *consts;           /* list of constants the exits refer to (ints, floats, strs) */
    struct OdT2AttrSite *attr_sites; /* its generic attribute instructions' caches (rt/attr.h) */
    int nattr_sites;
    struct OdT2GlobalSite *global_sites; /* its global loads' caches (rt/helpers.h) */
    int osr;                    /* -1, or the loop header an OSR unit is entered at */
    int stale;                  /* a speculation of it kept failing: not entered again by
                                 * OSR (a normal unit is demoted instead) */
} OdT2Unit;

struct OdT2State {
    OdT2Unit **units;           /* every unit made, newest last */
    int nunits;
    unsigned char *no_speculate; /* per code unit */
    int ncodeunits;
    int compiles;
    int osr_compiles;           /* OSR units made (at most OD_T2_MAX_COMPILES) */
    uint64_t osr_entries;       /* frames that entered one of them */
    int off;                    /* no more tier-2 compiles */
    const char *why_not;        /* static text, when refused */
    char reason[300];           /* the builder's or lowering's reason */
    uint64_t exits[OD_T2X__COUNT];
};

/* Process-wide counts for stats(): `entries` counts frames tier-2 code ran (its prologue
 * adds one: stats()["tier2"]["frames"]; not an OSR unit's); `direct_calls` the calls from
 * tier-2 code that pushed the callee's frame themselves in C (rt/call.c), `fast_calls` those
 * made by the machine-code thunk (rt/call_thunk.c): stats()["tier2"]["direct_calls"] is
 * their sum, ["fast_calls"] the thunk's alone; `builtin_calls` the calls of builtins and
 * method descriptors through their C pointer (rt/call.c); `str_appends_in_place` the `s += t` that
 * extended s's string in place (od_t2_str_append); `syncs` the write-backs done by
 * od_t2_sync (the code's own, in line, are not counted: this is the slow road);
 * `number_ops_inline` the generic BinaryOps (`+ - * /`) of two numbers, each a float or a
 * one-digit int, and the generic Compares of two such numbers, that the code did in line
 * (lir/codegen.c number_binary_inline), without the helper. */
typedef struct {
    uint64_t compiled, refused, recompiled, given_up, entries, direct_calls, fast_calls;
    uint64_t entry_calls;                   /* the thunk's calls through the callee's own
                                             * entry (rt/call_thunk.h): stats()'s
                                             * "fast_calls" adds them to fast_calls */
    uint64_t builtin_calls, str_appends_in_place, syncs;
    uint64_t init_calls;                    /* classes instantiated through their Python
                                             * __init__ by rt/call.c (the PY_INIT form) */
    uint64_t number_ops_inline;             /* generic BinaryOps and Compares done in line */
    uint64_t dunder_calls;                  /* generic BinaryOps that called a class's
                                             * Python __add__/__sub__/__mul__/__truediv__
                                             * on a frame of its own (od_t2_binary_dunder) */
    uint64_t osr_compiled, osr_entries;     /* OSR units made; frames that entered one */
    uint64_t exits[OD_T2X__COUNT];
} OdT2Stats;
extern OdT2Stats od_t2_stats;

PyObject *od_t2_exit(_PyInterpreterFrame *f, OdT2Unit *u, int exit, char *sp);
/* Write-back before code that may see the frame (lir.h): stores the locals exit record
 * `exit` lists in its sync list into localsplus as owned references (unboxed values boxed)
 * and releases the values they replace (last). 0, or -1 with MemoryError (nothing written;
 * the code then leaves through the same exit, which is an ERROR exit). */
int od_t2_sync(_PyInterpreterFrame *f, OdT2Unit *u, int exit, char *sp);
/* The eval breaker was set at entry: the interpreter runs the frame from its start. */
PyObject *od_t2_exit_entry(_PyInterpreterFrame *f, OdT2Unit *u);
/* The entry at which CPython quickens the code object (runtime/helpers.h, od_rt_warmup):
 * the interpreter runs the frame from its start, once per code object (not counted as an
 * exit of tier 2). */
PyObject *od_t2_exit_warmup(_PyInterpreterFrame *f, OdT2Unit *u);

void od_t2_unit_free(OdT2Unit *u);
void od_t2_state_free(OdT2State *s);

#endif /* OD_TIER2_RT_EXIT_H */
