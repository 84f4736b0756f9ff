/* hook/hook.h — the PEP 523 hook, per-code state in co_extra, tiering policy, counters.
 *
 * Contract: od_hook_install()/od_hook_uninstall() switch the interpreter's eval-frame
 * function. The hook runs a fresh, untraced, thread-owned frame in compiled code when its
 * code object is compiled (compiling it once its entry count passes the threshold);
 * everything else goes to _PyEval_EvalFrameDefault. od_unit_run() enters native code with
 * the frame linked, `previous` set and the recursion count balanced, and hands the frame to
 * the interpreter when the code exits. All of it runs with the GIL held. */
#ifndef OD_HOOK_HOOK_H
#define OD_HOOK_HOOK_H

#include "../runtime/unit.h"

/* Why a frame ran in the interpreter. X(name, description) */
#define OD_INTERP_REASONS(X)                                                   \
    X(GENERATOR_RESUME, "resumed generator/coroutine frame not run natively")  \
    X(TRACING, "tracing or profiling was on at entry")                         \
    X(BELOW_THRESHOLD, "not called often enough yet")                          \
    X(NOT_COMPILABLE, "compilation failed or was refused")                     \
    X(THROW, "exception thrown into a frame whose code is not compiled")

typedef enum {
#define OD_INTERP_ENUM(name, desc) OD_INTERP_##name,
    OD_INTERP_REASONS(OD_INTERP_ENUM)
#undef OD_INTERP_ENUM
    OD_INTERP__COUNT
} OdInterpReason;

typedef struct {
    uint64_t functions_compiled, compile_failures, compile_ns, instrs_compiled;
    uint64_t functions_recompiled;       /* recompiled once with their sites' feedback */
    uint64_t heap_trims, heap_trim_ns;   /* malloc_trim calls after compiling (codestate.c) */
    uint64_t retired_units_freed;        /* of those: first units freed at once (no frame
                                          * of the code was running) */
    uint64_t functions_compact;          /* of functions_compiled: compact first units */
    uint64_t code_bytes;                 /* native bytes generated (live or not) */
    uint64_t frames_native;              /* frames that started in compiled code */
    uint64_t frames_interpreted[OD_INTERP__COUNT];
    uint64_t exits[OD_EXIT__COUNT];      /* compiled frames handed to the interpreter */
    uint64_t exits_by_opcode[256];
    uint64_t cstack_switches;            /* frame entries moved to a fresh C stack segment */
    uint64_t cstack_segments;            /* segments mapped for that (hook/cstack.h) */
} OdStats;

/* What each option can hold; the module refuses anything outside (never truncates). */
#define OD_THRESHOLD_MAX 2147483647LL                /* INT_MAX: od_config.threshold is an int */
#define OD_RECOMPILE_AFTER_MAX 9223372036854775807LL /* 2**63-1: stored as uint64_t, kept
                                                      * within int64 for any reader */

typedef struct {
    int threshold;                       /* interpreted entries before compiling */
    int tier2_threshold;                 /* frame entries before tier 2 compiles; -1 off */
    size_t max_code_bytes;
    uint64_t recompile_after;            /* native entries before recompiling; 0 = never */
    int compact;                         /* OD_COMPACT_*: which first compiles are compact */
} OdConfig;

/* Compact first units (tier1/compile.h od_tier1_compile_compact), set at start-up by the
 * environment variable OVERDRIVE_COMPACT (0 | auto | all; 0 when unset or unknown: since
 * full units got cheaper to compile, compact first units cost short programs more
 * instructions than they save, docs/performance.md "Compact first units"):
 * NEVER: every unit is full; FIRST: code without a backward jump compiles compact first
 * when threshold >= 1 and recompile_after >= 1 (the recompilation after recompile_after
 * native entries makes the full unit, with the compact unit's feedback); ALL: every first
 * compile is compact (loops and threshold 0 included: to run the tests on compact units). */
enum { OD_COMPACT_NEVER, OD_COMPACT_FIRST, OD_COMPACT_ALL };

/* The counts of a code object that the hook writes at its entries, apart from its state:
 * in blocks of their own, 24 bytes each (hook/codestate.c). After fork() every page a
 * process writes is copied (a page fault) once more: kept in the states (112 bytes each,
 * spread over the heap in the order code was first met) the counts of the code a
 * multiprocessing pool's parent runs per pool took about 40 page faults per pool, once per
 * page of states (docs/performance.md, "bench_mp_pool (branch h-mppool)"). */
typedef struct {
    uint64_t entries;                    /* hook entries for fresh frames */
    uint64_t interpreted;                /* of which ran in the interpreter */
    uint64_t interpreted_ticks;          /* time its interpreted entries took (loop code,
                                          * threshold > 1: the compile policy's rent) */
} OdCodeCounts;

/* Per code object, in co_extra. `unit` comes first: runtime/frames.h reads it there. */
typedef struct {
    OdUnit *unit;                        /* the unit fresh frames enter (tier 1's or tier 2's) */
    OdUnit *tier1;                       /* while st->unit is tier 2's: tier 1's unit (frames
                                          * may still run it; tier 2 falls back to it) */
    void *tier2;                         /* tier2/tier2.h: tier 2's record of this code (its
                                          * units, deopt counts), owned; NULL if none */
    OdCodeCounts *counts;                /* owned, never NULL */
    const char *why_not;                 /* static reason when compilation was refused */
    int failed;
    int recompile_attempted;             /* once only, even if it failed */
    int8_t has_loop;                     /* a backward jump: -1 not looked at yet, 0, 1 */
    int8_t rented;                       /* loop code compiled once it paid rent (the
                                          * standard library's, or large): -1 not looked at yet */
    int8_t tier2_off;                    /* tier 2 refused it or gave up: never try again */
    uint64_t first_ticks;                /* od_clock_ticks() at its first entry */
    uint64_t window_ticks;               /* ... at the start of its current count window */
    uint64_t window_end;                 /* the entry that closes that window (hook.c,
                                          * count_window_hot); 0: the first, at threshold + 1 */
} OdCodeState;

extern OdStats od_stats;
extern OdConfig od_config;

/* What the compile policy (hook/hook.c) reads: nanoseconds spent in first compiles and the
 * code units (Py_SIZE of the code objects) they compiled, since the process started; never
 * reset by reset_stats(). */
extern uint64_t od_policy_compile_ns, od_policy_compiled_units;

/* Loop code the policy rents (hook/hook.c) and has not compiled yet: the time its
 * interpreted entries have paid and what it must pay before it is compiled; both 0 for
 * code that is not being rented (info(): rent_paid_ns, rent_due_ns). */
void od_hook_rent(PyCodeObject *co, OdCodeState *st, uint64_t *paid_ns, uint64_t *due_ns);

int od_hook_init(void);                  /* once, at module import: co_extra index */
int od_hook_install(void);
int od_hook_uninstall(void);
int od_hook_installed(void);
/* A measuring instrument (bench/null_hook.py): installs an eval-frame function that only
 * calls the interpreter's, the least any PEP 523 design costs (3.11 inlines no call of a
 * Python function while one is installed). -1 if the JIT's hook is installed. */
int od_hook_install_null(void);

/* The co_extra index of the per-code state (after od_hook_init). */
Py_ssize_t od_code_extra_index(void);
extern Py_ssize_t od_code_extra_index_value;
/* State of a code object, creating it if `create`; NULL if none (or on memory error). */
OdCodeState *od_code_state(PyCodeObject *co, int create);

/* The same, inline for the hook's hot path: the slot read, then the out-of-line creation
 * only for a code object seen for the first time. */
static inline OdCodeState *od_code_state_fast(PyCodeObject *co)
{
    OdCodeState *st = od_code_extra_slot(co, od_code_extra_index_value);
    return st ? st : od_code_state(co, 1);
}
/* Compile now (if not yet). 0 if compiled, -1 with st->why_not set otherwise. */
int od_compile_code(PyCodeObject *co, OdCodeState *st);

/* Replace st->unit by its recompilation with feedback; the old unit is retired (kept
 * alive with the new one: frames may still run it). On failure the old unit stays. */
void od_recompile_code(PyCodeObject *co, OdCodeState *st);

/* A frame of a tier-1 first unit of loop code left at a loop header after its back edges
 * counted down (codestate.c: a compact unit's OD_COMPACT_LOOP_BACKEDGES within one call, a
 * full one's OD_LOOP_UPGRADE_BACKEDGES with tier 2 off): the unit is compiled again (once)
 * from what its sites saw, and the frame continues in that at the header, or in `u` if it
 * failed. */
PyObject *od_upgrade_loop(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u);

/* Whether this process is a forked child too young to compile code for its count or its
 * rent, or to recompile (hook.c: a bet on calls to come, which a short-lived worker never
 * makes). */
int od_hook_young_fork_child(void);

/* The process's age starts (hook.c: the compile policy weighs how fast code is called
 * against it); at module import. */
void od_hook_start_clock(void);

/* After od_config.recompile_after native entries a unit is compiled once more from what
 * its sites recorded (tier1/compile.h od_tier1_recompile): its first compile, on the first
 * or second call, knew nothing of the types it would meet. In a young forked child it
 * waits (od_hook_young_fork_child). */
static inline void od_maybe_recompile(PyCodeObject *co, OdCodeState *st)
{
    if (!st->recompile_attempted && od_config.recompile_after && st->unit->tier == 1
        && st->unit->native_entries >= od_config.recompile_after
        && !od_hook_young_fork_child())
        od_recompile_code(co, st);
}

/* On-stack replacement: a frame of a tier-1 unit compiled while tier 2 is on leaves at a
 * loop header once the unit's backward jumps counted down od_osr_backedges() (runtime/
 * unit.h osr_counter), and continues in tier 2's code for that loop (tier2/tier2.h
 * od_tier2_osr). OD_OSR_FACTOR back edges per call of tier2_threshold: a loop iteration of
 * code hot enough to matter costs about what a call of a small function does (measured in
 * docs/tier2.md, "OSR"). 0 when tier 2 is off. */
#define OD_OSR_FACTOR 64
static inline int32_t od_osr_backedges(void)
{
    if (od_config.tier2_threshold < 0)
        return 0;
    long long n = ((long long)od_config.tier2_threshold + 1) * OD_OSR_FACTOR;
    return n > (1LL << 30) ? (int32_t)(1 << 30) : (int32_t)n;
}

/* Run `f` natively: from the start (resume_at NULL) or, for a suspended generator frame,
 * from the native address of its next instruction, or (OD_RESUME_THROW) by unwinding the
 * exception thrown into it (gen.throw()) from the instruction it is suspended at, as the
 * interpreter does when it is entered with throwflag. */
PyObject *od_unit_run(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u, void *resume_at);
#define OD_RESUME_THROW ((void *)1)

/* What od_unit_run does after native code returned NULL for `f` (already unlinked, the
 * recursion count already given back): an exception raised with no handler in the frame
 * is returned as NULL; an exit hands the frame to the interpreter, which finishes it. */
PyObject *od_unit_finish(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u);

/* Where a frame entered with OD_RESUME_THROW continues (hook/enter.c): its handler's native
 * address for the instruction it is suspended at, or NULL (the frame raises). The frame is
 * linked and counted already. */
void *od_unit_throw_target(_PyInterpreterFrame *f, OdUnit *u);

/* od_unit_run's body, inline in the hook's hot paths (where resume_at is NULL or a resume
 * address, and the throw case folds away); the rare outcomes (an exception with no handler
 * here, an exit to the interpreter) go to od_unit_finish out of line. */
static inline PyObject *od_unit_enter(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u,
                                      void *resume_at)
{
    _PyCFrame *cf = ts->cframe;
    _PyInterpreterFrame *caller = cf->current_frame;
    f->previous = caller;
    if (_Py_EnterRecursiveCallTstate(ts, "")) /* restores the count when it fails */
        return NULL;
    cf->current_frame = f;
    u->native_entries++;
    PyObject *res = NULL;
    if (resume_at == OD_RESUME_THROW && !(resume_at = od_unit_throw_target(f, u)))
        goto left;
    if (resume_at)
        f->stacktop = -1; /* as the interpreter does while a generator frame runs: the GC
                             must not traverse stack slots that native code is reusing */
    res = u->entry(f, ts, u, resume_at);
left:
    cf->current_frame = caller;
    _Py_LeaveRecursiveCallTstate(ts);
    if (__builtin_expect(res != NULL, 1))
        return res; /* an exit or a throw is only ever pending with NULL */
    return od_unit_finish(ts, f, u);
}



const char *od_interp_reason_name(int reason);

#endif /* OD_HOOK_HOOK_H */
