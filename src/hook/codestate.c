/* hook/codestate.c — per-code-object state in co_extra, and the compile entry point. */
#include "hook.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "../asm/codemem.h"
#include "../asm/scratch.h"
#include "../bytecode/decode.h"
#include "../runtime/clock.h"
#include "../runtime/helpers.h"
#include "../tier1/compile.h"
#include "../tier2/tier2.h"
#include "events.h"

OdStats od_stats;
uint64_t od_policy_compile_ns, od_policy_compiled_units;
OdConfig od_config = {.threshold = 200, .tier2_threshold = -1, .max_code_bytes = (size_t)512 << 20,
                      .recompile_after = 1000, .compact = OD_COMPACT_NEVER};

Py_ssize_t od_code_extra_index_value = -1; /* set once by od_hook_init */

/* The code states' counts (hook.h OdCodeCounts), packed: 170 to a page where the states
 * hold 36, so the code a process runs between two forks writes fewer pages. Blocks are
 * never given back; a dead code object's slot goes on a free list for the next state (the
 * memory kept is the most states alive at once, times 24 bytes). Under the GIL. */
#define OD_COUNTS_PER_BLOCK 2048
typedef union OdCountsSlot {
    OdCodeCounts counts;
    union OdCountsSlot *next_free;
} OdCountsSlot;
static OdCountsSlot *counts_free, *counts_block;
static size_t counts_used = OD_COUNTS_PER_BLOCK;

static OdCodeCounts *counts_new(void)
{
    OdCountsSlot *slot = counts_free;
    if (slot) {
        counts_free = slot->next_free;
        memset(slot, 0, sizeof *slot);
        return &slot->counts;
    }
    if (counts_used == OD_COUNTS_PER_BLOCK) {
        OdCountsSlot *block = calloc(OD_COUNTS_PER_BLOCK, sizeof *block);
        if (!block)
            return NULL;
        counts_block = block;
        counts_used = 0;
    }
    return &counts_block[counts_used++].counts;
}

static void counts_release(OdCodeCounts *counts)
{
    OdCountsSlot *slot = (OdCountsSlot *)counts;   /* (its first member) */
    slot->next_free = counts_free;
    counts_free = slot;
}

/* Called by CPython when the code object dies (possibly inside gc): free memory only. */
static void free_state(void *p)
{
    OdCodeState *st = p;
    if (!st)
        return;
    od_unit_free(st->tier1 ? st->tier1 : st->unit);   /* a tier-2 unit is tier 2's */
    od_tier2_state_free(st->tier2);
    counts_release(st->counts);
    free(st);
}

int od_hook_init(void)
{
    if (od_code_extra_index_value >= 0)
        return 0;
    od_clock_init();
    od_hook_start_clock();
    /* Indices are never given back, so request one per process, not per install. */
    const char *mode = getenv("OVERDRIVE_COMPACT");
    if (mode && !strcmp(mode, "auto"))
        od_config.compact = OD_COMPACT_FIRST;
    else if (mode && !strcmp(mode, "all"))
        od_config.compact = OD_COMPACT_ALL;
    od_code_extra_index_value = _PyEval_RequestCodeExtraIndex(free_state);
    if (od_code_extra_index_value < 0) {
        PyErr_SetString(PyExc_RuntimeError, "overdrive: no co_extra index available");
        return -1;
    }
    return 0;
}

Py_ssize_t od_code_extra_index(void) { return od_code_extra_index_value; }

OdCodeState *od_code_state(PyCodeObject *co, int create)
{
    OdCodeState *st = od_code_extra_slot(co, od_code_extra_index_value);
    if (st || !create)
        return st;
    OdCodeExtraLayout *ex = (OdCodeExtraLayout *)co->co_extra;
    st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (!(st->counts = counts_new())) {
        free(st);
        return NULL;
    }
    st->has_loop = st->rented = -1;
    st->first_ticks = st->window_ticks = od_clock_ticks();
    if (!ex) {
        /* Allocate the extra array ourselves, sized to our slot only. _PyCode_SetExtra
         * would size it for every registered user, and code deallocation calls every
         * user's free function for each slot, NULL or not: other users (say a ctypes
         * callback registered by a test) would then be called for every code object the
         * JIT ever touched, possibly after they are gone at shutdown. CPython grows the
         * array itself if another user sets its own slot later. */
        ex = PyMem_Malloc(sizeof(OdCodeExtraLayout) + (size_t)od_code_extra_index_value * sizeof(void *));
        if (!ex) {
            counts_release(st->counts);
            free(st);
            return NULL;
        }
        ex->ce_size = od_code_extra_index_value + 1;
        for (Py_ssize_t i = 0; i < od_code_extra_index_value; i++)
            ex->ce_extras[i] = NULL;
        ex->ce_extras[od_code_extra_index_value] = st;
        co->co_extra = ex;
        return st;
    }
    if (_PyCode_SetExtra((PyObject *)co, od_code_extra_index_value, st) < 0) {
        PyErr_Clear();
        counts_release(st->counts);
        free(st);
        return NULL;
    }
    return st;
}

/* Whether the first unit of `co` is compact (OdConfig.compact). A compact loop could never
 * become fast while it runs (no on-stack replacement between units for normal frames), and
 * at threshold 0 everything is compiled before it ran at all (the tests and the regression
 * gate check the full units' fast paths there; OVERDRIVE_COMPACT=all runs them compact). */
static int first_unit_compact(PyCodeObject *co)
{
    if (od_config.compact == OD_COMPACT_ALL)
        return 1;
    return od_config.compact == OD_COMPACT_FIRST && od_config.threshold >= 1
           && od_config.recompile_after >= 1 && !od_code_has_loop(co);
}

/* Rented loop code (hook.c: the standard library's, and any of OD_RENT_CODE_UNITS code units
 * or more) is first compiled compact, whatever OdConfig.compact says of code without loops:
 * it is compiled once its interpreted entries paid for a compile, which says the code
 * takes time but not that its bytecode does. Much of it spends that time in C (regex_v8's
 * block functions: loops around calls into re, 1.4 MB of full code in a pyperf worker for
 * no instruction saved; re's parser, enum and namedtuple in every worker), and a compact
 * unit is a third of a full one's size and compile time. Its backward jumps count down
 * OD_COMPACT_LOOP_BACKEDGES within one call (the OSR counter, runtime/unit.h, set again at
 * every entry); at zero the frame leaves at the loop header and od_upgrade_loop
 * compiles the full unit from what the compact one's sites saw and continues there: a loop
 * that runs long runs full code after that many iterations, and a function whose calls
 * are many gets its full unit after recompile_after of them, as any compact unit. Per call:
 * regex_v8's block11 (two iterations a call, 4,787 instructions) would have moved to its
 * full unit after ~50 calls of a worker had the count carried over. Small, because a
 * compact loop costs more instructions per iteration than a full one (a helper call per
 * instruction; regex_v8's body +0.3% with block11 compact). Generators never count back
 * edges (their frames cannot move over at a loop header); theirs stay full from the
 * start. */
#define OD_COMPACT_LOOP_BACKEDGES 100

/* Only large rented code (regex_v8's block functions: 1.5-17.8 thousand code units) is
 * compiled compact first. The standard library's loop routines that short programs call
 * hundreds of times (email's, tomllib's: a few hundred code units) lost 4-5% of their
 * CPU time running compact for their first recompile_after calls. */
#define OD_COMPACT_FIRST_CODE_UNITS 1024

static int rented_loop_compact(PyCodeObject *co, OdCodeState *st)
{
    return st->rented == 1 && st->has_loop == 1 && od_config.threshold > 1
           && Py_SIZE(co) >= OD_COMPACT_FIRST_CODE_UNITS
           && od_config.recompile_after >= 1
           && !(co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR));
}

/* A full first unit of loop code compiled before the interpreter quickened the code (a
 * program's loop at its first call, or at threshold 0 and 1): no site has seen an operand
 * and the interpreter left no hint, so every site gets every variant (docs/tier1.md). A
 * function called a few times whose loop runs long (a benchmark's `bench_*` body, nbody's
 * `advance`, a script's main function) never reached recompile_after entries and ran that
 * unit for good: telco's loop tested each Decimal `*` and `+` for ints and floats inline,
 * then out of line, then called the helper. Its backward jumps now count down, across
 * calls (loop_upgrade_backedges); at zero the frame leaves at the loop header and
 * od_upgrade_loop compiles the unit again from what its sites saw, as recompile_after
 * entries would have, and continues in it. Not with tier 2 on (the same counter leads to
 * tier 2's OSR), not for generators (their frames cannot move to another unit at a loop
 * header). */
#define OD_LOOP_UPGRADE_BACKEDGES 2000
#define OD_LOOP_UPGRADE_PER_CODE_UNIT 4

/* The count for `co`, or 0 when its first unit does not move over. Only function code: a
 * module or class body runs once, and is large (templating's module body, about 2,000
 * iterations of loops that end soon after: recompiling it cost the program 4% of its CPU
 * time). At least OD_LOOP_UPGRADE_PER_CODE_UNIT back edges per code unit: the recompile
 * costs in proportion to the code, what it saves in proportion to the iterations left. */
static int32_t loop_upgrade_backedges(PyCodeObject *co)
{
    if (od_config.tier2_threshold >= 0 || od_config.recompile_after < 1
        || co->co_warmup == 0      /* quickened: the interpreter's hints shaped the unit */
        || !(co->co_flags & CO_OPTIMIZED)
        || (co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR))
        || !od_code_has_loop(co))
        return 0;
    Py_ssize_t by_size = Py_SIZE(co) * OD_LOOP_UPGRADE_PER_CODE_UNIT;
    return by_size > OD_LOOP_UPGRADE_BACKEDGES ? (int32_t)(by_size < (1 << 30) ? by_size : (1 << 30))
                                               : OD_LOOP_UPGRADE_BACKEDGES;
}

PyObject *od_upgrade_loop(PyThreadState *ts, _PyInterpreterFrame *f, OdUnit *u)
{
    PyCodeObject *co = f->f_code;
    int header = (int)(f->prev_instr + 1 - _PyCode_CODE(co));
    OdCodeState *st = od_code_state(co, 0);
    u->osr_counter = INT32_MAX;      /* asks once (other frames may still run it) */
    if (st && st->unit == u && !st->recompile_attempted && !ts->cframe->use_tracing
        && !od_hook_young_fork_child()) {
        od_tier1_mid_run = 1;
        od_recompile_code(co, st);
        od_tier1_mid_run = 0;
    }
    OdUnit *run = st && st->unit && st->unit->tier == 1 ? st->unit : u;
    void *at = od_unit_native_at(run, header);
    if (at && !ts->cframe->use_tracing) {
        /* The frame was counted when it entered `u`: moving over is not another entry
         * (run's count includes u's, od_recompile_code). */
        if (run->native_entries)
            run->native_entries--;
        return od_unit_enter(ts, f, run, at);
    }
    return _PyEval_EvalFrameDefault(ts, f, 0);
}

/* Compiling allocates scratch (decoded bytecode, labels, fix-ups, the code buffer) around
 * the unit's long-lived tables and frees it: glibc keeps the freed pages in the middle of
 * its heap resident (email_parse: 0.9 MB of free heap pages at exit, 0.2 MB on stock).
 * malloc_trim gives whole free pages back (madvise); it costs a walk of the free lists plus
 * the pages released (16-180 us measured), so it runs once per TRIM_EVERY_NS of compile
 * time, not per compile. */
#define TRIM_EVERY_NS 4000000u
static uint64_t untrimmed_compile_ns;

static void after_compile(uint64_t ns)
{
    od_scratch_end_compile();
#ifdef __GLIBC__
    untrimmed_compile_ns += ns;
    if (untrimmed_compile_ns >= TRIM_EVERY_NS) {
        untrimmed_compile_ns = 0;
        uint64_t t0 = od_clock_ns();
        malloc_trim(0);
        od_scratch_trim();
        od_stats.heap_trims++;
        od_stats.heap_trim_ns += od_clock_ns() - t0;
    }
#else
    (void)ns;
#endif
}

int od_compile_code(PyCodeObject *co, OdCodeState *st)
{
    if (st->unit)
        return 0;
    if (st->failed)
        return -1;
    if (od_rt_init() < 0) {      /* the first compile: no compiled code has run before */
        PyErr_Clear();           /* out of memory: not this function's fault, try again later */
        st->why_not = "the runtime could not be initialized (out of memory)";
        return -1;
    }
    od_codemem_set_limit(od_config.max_code_bytes);
    const char *why = NULL;
    int compact = first_unit_compact(co);
    int32_t osr = od_osr_backedges(), upgrade;
    od_tier1_osr_per_call = 0;
    if (!compact && rented_loop_compact(co, st)) {
        compact = 1;
        osr = OD_COMPACT_LOOP_BACKEDGES;
        od_tier1_osr_per_call = 1;
    } else if (!compact && (upgrade = loop_upgrade_backedges(co)) > 0) {
        osr = upgrade;
    }
    od_tier1_osr_backedges = osr;
    OdUnit *u = compact ? od_tier1_compile_compact(co, &why) : od_tier1_compile(co, &why);
    if (!u) {
        st->failed = 1;
        st->why_not = why;
        od_stats.compile_failures++;
        return -1;
    }
    st->unit = u;
    if (!compact) {
        /* The rent's price is a full unit's compile: compact ones (half the time per code
         * unit) would lower it and buy rented code sooner than before they existed. */
        od_policy_compile_ns += u->compile_ns;
        od_policy_compiled_units += (uint64_t)Py_SIZE(co);
    }
    od_stats.functions_compiled++;
    od_stats.functions_compact += (uint64_t)compact;
    od_stats.compile_ns += u->compile_ns;
    od_stats.code_bytes += u->code_size;
    od_stats.instrs_compiled += (uint64_t)u->ninstrs;
    od_event_compiled(co, u);
    after_compile(u->compile_ns);
    return 0;
}

/* Whether a frame of `co` is on the frame chain of any thread of this interpreter. Native
 * code of a unit runs only for a frame that is linked while it runs (cpython311.md Q5; od_unit_run,
 * and any direct entry, links it first): with no such frame, no unit of `co` can be
 * running, or be returned into. Suspended generator frames are not on a chain, and they
 * resume in st->unit, at an instruction boundary (hook.c). Thread states are listed under
 * the runtime's head lock, as sys._current_frames() does; their frame chains only change
 * in a thread holding the GIL, which we hold. */
static int code_on_a_frame_chain(PyCodeObject *co)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    PyThread_type_lock head = _PyRuntime.interpreters.mutex;
    int found = 0;
    PyThread_acquire_lock(head, WAIT_LOCK);
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t && !found;
         t = PyThreadState_Next(t))
        for (_PyInterpreterFrame *f = t->cframe ? t->cframe->current_frame : NULL; f;
             f = f->previous)
            if (f->f_code == co) {
                found = 1;
                break;
            }
    PyThread_release_lock(head);
    return found;
}

void od_recompile_code(PyCodeObject *co, OdCodeState *st)
{
    OdUnit *old = st->unit;
    const char *why = NULL;
    st->recompile_attempted = 1;    /* first: a recompilation never starts twice */
    od_codemem_set_limit(od_config.max_code_bytes);
    od_tier1_osr_backedges = od_osr_backedges();
    od_tier1_osr_per_call = 0;
    OdUnit *u = od_tier1_recompile(co, old, &why);
    if (!u)
        return;                     /* keep running the first unit */
    /* info() reports the code object's whole history, not the new unit's alone. */
    u->native_entries = old->native_entries;
    u->direct_entries = old->direct_entries;
    memcpy(u->exits, old->exits, sizeof u->exits);
    u->unwinds = old->unwinds;
    /* The old unit stays, as u->retired, for as long as u (a unit with a retired one is
     * never recompiled again). If no frame of co is on a frame chain, nothing can run its
     * code any more: what it holds is freed now, the empty OdUnit stays. */
    if (!code_on_a_frame_chain(co)) {
        od_unit_release_code(old);
        od_stats.retired_units_freed++;
    }
    u->retired = old;
    st->unit = u;
    od_stats.functions_recompiled++;
    od_stats.compile_ns += u->compile_ns;
    od_stats.code_bytes += u->code_size;
    od_event_compiled(co, u);
    after_compile(u->compile_ns);
}
