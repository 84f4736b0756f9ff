/* hook/hook.c — the eval-frame function and the tiering policy. */
#include "hook.h"

#include <pthread.h>
#include <string.h>
#include "cstack.h"
#include "../bytecode/decode.h"
#include "../runtime/clock.h"
#include "../runtime/frames.h"
#include "../runtime/gen_resume.h"
#include "../tier2/tier2.h"

static const char *const interp_names[] = {
#define OD_INTERP_NAME(name, desc) #name,
    OD_INTERP_REASONS(OD_INTERP_NAME)
#undef OD_INTERP_NAME
};

const char *od_interp_reason_name(int reason) { return interp_names[reason]; }

static int installed;

static PyObject *interpret(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag,
                           OdInterpReason why)
{
    od_stats.frames_interpreted[why]++;
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}

/* ---- The compile policy (measured in docs/performance.md, "Short programs and the compile
 * policy"). Tier 1 costs microseconds per bytecode instruction, and a short program meets
 * hundreds of functions it runs a handful of times, so compiling at the second call cost
 * short programs more than the compiled code ever gave back.
 *
 *   threshold 0      everything at its first entry (the regression gate relies on it);
 *   threshold 1      code with a loop at its first entry, the rest at its second;
 *   threshold N > 1  (the default, 200) code without a loop at its (N+1)-th entry. Code
 *                    with a loop: in the program's own files (neither the standard library
 *                    nor an installed package, or the __main__ script) at its first entry
 *                    (a program's own loops are where it spends its time, and a loop that
 *                    runs once can only be compiled before it starts); in the standard
 *                    library or an installed package once its interpreted entries have
 *                    together taken as long as compiling it is expected to (rent, then
 *                    buy), and at the latest at its (N+1)-th entry. A library's loops
 *                    mostly belong to routines a short program calls a few times
 *                    (argparse, re's parser, importlib, enum, pytest's collection):
 *                    compiled at their first call they were a third of its compile time
 *                    (and 1.35 MB of code in six's test suite). Large loop
 *                    code (OD_RENT_CODE_UNITS) is rented wherever it comes from.
 *                    In a forked child younger than OD_FORK_SETTLE_NS, nothing is
 *                    compiled or recompiled for its count or its rent (below), only a
 *                    program's own loop code at its first entry, and nothing is counted
 *                    (eval_young).
 *                    A count or a rent is only acted on when it was reached fast enough
 *                    for the process's age (count_window_hot, rent_paid_at_pace). */

static int has_loop(PyCodeObject *co, OdCodeState *st)
{
    if (st->has_loop < 0)
        st->has_loop = (int8_t)od_code_has_loop(co);
    return st->has_loop;
}

static PyObject *stdlib_prefix;  /* sys._stdlib_dir + "/", or NULL */

/* Loop code this large is rented wherever it comes from: a first-call compile of it is a
 * large bet (tier 1 makes 120-140 bytes of code and takes microseconds per instruction),
 * and such functions are mostly run a few times (generated code, long setup routines:
 * regex_v8's block functions, 1.5-17.8 thousand code units, each one loop of 1-6,511
 * iterations around calls into re, compiled in full at their first and often only call:
 * 1.9 MB of the 3.3 MB of code in regex_compile's worker). What the rent does not see:
 * a frame's own time includes the C functions it calls, which compiled code makes no
 * faster, so regex_v8's blocks still pay within 1-32 calls (a rent of 4 times the compile
 * time changed nothing), and compiled they execute as many instructions as interpreted
 * (docs/performance.md, "Seventh session"). */
#define OD_RENT_CODE_UNITS 1024

/* Whether `name` is the file of the __main__ module (the script the user ran, or a
 * package's __main__.py under -m). Read from the module's dict: no code runs, and nothing
 * here can leave an exception set (PyDict_GetItemString suppresses its own; the comparison
 * is of two str objects): the hook must not touch an exception the thread has set. */
static int is_main_script(PyObject *name)
{
    PyObject *main = PyDict_GetItemString(PyImport_GetModuleDict(), "__main__"); /* borrowed */
    if (!main || !PyModule_Check(main))
        return 0;
    PyObject *file = PyDict_GetItemString(PyModule_GetDict(main), "__file__");  /* borrowed */
    return file && PyUnicode_Check(file) && PyUnicode_Compare(file, name) == 0;
}

/* Whether code with a loop is rented rather than compiled at its first entry: code of the
 * standard library (frozen, or under sys._stdlib_dir), of an installed package (a
 * site-packages or dist-packages folder) other than the __main__ script, or of at least
 * OD_RENT_CODE_UNITS code units. An installed package's loops are a library's routines, as
 * the stdlib's are: pytest's collection and reporting compiled 200 loop functions at their
 * first call in six's test suite (1.35 MB of code, 12.7 ms of compiling); a program's own
 * loops are its script and the files beside it (docs/performance.md, "Fourteenth
 * session"). */
static int rented(PyCodeObject *co, OdCodeState *st)
{
    if (st->rented >= 0)
        return st->rented;
    if (Py_SIZE(co) >= OD_RENT_CODE_UNITS) {
        st->rented = 1;
        return 1;
    }
    PyObject *name = co->co_filename;
    static PyObject *frozen, *site, *dist;
    if (!frozen) {
        frozen = PyUnicode_InternFromString("<frozen ");
        site = PyUnicode_InternFromString("/site-packages/");
        dist = PyUnicode_InternFromString("/dist-packages/");
        if (!frozen || !site || !dist) {   /* out of memory: call nothing stdlib */
            PyErr_Clear();
            Py_CLEAR(frozen);
            return 0;
        }
    }
    int yes = 0;
    if (PyUnicode_Check(name)) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(name);
        /* Neither call fails on two str objects. */
        if (PyUnicode_Tailmatch(name, frozen, 0, n, -1) == 1)
            yes = 1;
        else if (PyUnicode_Find(name, site, 0, n, 1) != -1
                 || PyUnicode_Find(name, dist, 0, n, 1) != -1)
            yes = !is_main_script(name);
        else if (stdlib_prefix && PyUnicode_Tailmatch(name, stdlib_prefix, 0, n, -1) == 1)
            yes = 1;
    }
    st->rented = (int8_t)yes;
    return yes;
}

/* What compiling `co` is expected to cost: its size times the mean cost per code unit of
 * what was compiled so far (about 1.5 us before anything was). */
static uint64_t expected_compile_ns(PyCodeObject *co)
{
    uint64_t per_unit = od_policy_compiled_units
                            ? od_policy_compile_ns / od_policy_compiled_units : 1500;
    return per_unit * (uint64_t)Py_SIZE(co);
}

/* What rented code must pay (interpreted nanoseconds of its own frames, C functions they
 * call included) before it is compiled. */
static uint64_t rent_due_ns(PyCodeObject *co)
{
    return expected_compile_ns(co);
}

void od_hook_rent(PyCodeObject *co, OdCodeState *st, uint64_t *paid_ns, uint64_t *due_ns)
{
    int renting = !st->unit && !st->failed && od_config.threshold > 1
                  && has_loop(co, st) && rented(co, st);
    *paid_ns = renting ? od_clock_ticks_to_ns(st->counts->interpreted_ticks) : 0;
    *due_ns = renting ? rent_due_ns(co) : 0;
}

/* A compile for a count or a rent is a bet on the calls still to come, which a process
 * makes the more safely the longer it has run. A forked child starts with its parent's
 * compiled code and counts, and whatever only children run is compiled again in each
 * child: multiprocessing's pool workers, which live a few milliseconds per pool in
 * bench_mp_pool, each compiled the same five functions (the task function at its 201st
 * call, the queue's and lock's methods), 40% of the JIT's cost in that benchmark
 * (docs/performance.md, "Ninth session"). So a child compiles such code only once it has
 * lived OD_FORK_SETTLE_NS: a long-lived worker (a pre-forking server's) compiles it then,
 * a short-lived one never does. A program's own loop code is still compiled at its first
 * entry, a bet on the call that runs the loop. The time of the fork comes from a
 * pthread_atfork handler; 0 in a process that has not forked, or has settled.
 * While it is young, a child also keeps no books (eval_young below). */
#define OD_FORK_SETTLE_NS 50000000u
static uint64_t forked_at_ns;
/* The hook's young road is on (eval_young): this is a forked child, younger than
 * OD_FORK_SETTLE_NS at the last frame the road took; it ends at young_until_ticks (the
 * time-stamp counter: a read per frame costs a few nanoseconds, the vDSO's clock 35). */
static int young_road;
static uint64_t young_until_ticks;

/* Loop-free code met on the young road without a state, direct-mapped by address: a hit
 * is interpreted without looking at its bytecode again. A code object that died and whose
 * address a new one took is taken for loop-free until the child settles: the new one is
 * interpreted meanwhile (never wrong, at worst slower for those milliseconds). Emptied at
 * each fork (a child's child starts young again). */
#define OD_YOUNG_PLAIN_SLOTS 256
static PyCodeObject *young_plain[OD_YOUNG_PLAIN_SLOTS];

static void note_fork_in_child(void)
{
    forked_at_ns = od_clock_ns();
    young_road = 1;
    young_until_ticks = od_clock_ticks() + od_clock_ns_to_ticks(OD_FORK_SETTLE_NS);
    memset(young_plain, 0, sizeof young_plain);
}

int od_hook_young_fork_child(void)
{
    if (__builtin_expect(!forked_at_ns, 1) || od_config.threshold <= 1)
        return 0;
    if (od_clock_ns() - forked_at_ns < OD_FORK_SETTLE_NS)
        return 1;
    forked_at_ns = 0;
    return 0;
}

/* ---- Pace. A count or a rent says a function was used; how fast it was used, against how
 * long the process has lived, says whether it will be used enough to pay for its compile.
 * The Lindy rule: a process that has lived t is likely to live about t more, so a function
 * whose last `threshold` entries took d will see about t / d times as many. Short programs
 * meet hundreds of functions they run a few hundred times, spread over their life, and every
 * one of those compiled cost them more than its code gave back (the compile, the kernel's
 * work for new code pages, code run from cold caches): email_parse spent 21% more CPU time
 * than stock with every count and rent acted on, 8% with only its own loops compiled, 4-6%
 * with nothing compiled. The time from a function's first entry to its 201st separates
 * them: below 2 ms for the hot functions of heapq_bisect, json_pure, re_logs, csv_sales
 * (a few percent of the process's age at that point), 8-180 ms for email_parse's and
 * argparse_cli's (a fifth to nearly all of it). docs/performance.md, "Fifteenth session".
 * The clock starts at module import; a forked child keeps its parent's age (and waits
 * OD_FORK_SETTLE_NS besides). */
#define OD_PACE_AGE_DIVISOR 20  /* hot: the window took at most a twentieth of the age */
static uint64_t born_ticks;

void od_hook_start_clock(void) { born_ticks = od_clock_ticks(); }

/* How long a window of entries (or a rent) may take, at `now`, to count as hot. */
static uint64_t pace_allowance(uint64_t now)
{
    return od_clock_ticks_between(born_ticks, now) / OD_PACE_AGE_DIVISOR;
}

/* Whether the last `n` entries of code (since its first, for the first window) took at
 * most pace_allowance(): looked at once per window of `n` entries, 0 in between. `n` <= 1
 * (threshold 0 and 1: the gate, the stress mode) is not paced. */
static int window_hot(OdCodeState *st, int n)
{
    if (n <= 1)
        return 1;
    if (st->counts->entries < st->window_end)
        return 0;
    uint64_t now = od_clock_ticks();
    uint64_t took = od_clock_ticks_between(st->window_ticks, now);
    st->window_ticks = now;
    st->window_end = st->counts->entries + (uint64_t)n;
    return took <= pace_allowance(now);
}

/* Code past its count: whether its last `threshold` entries took at most pace_allowance().
 * In between windows, the hook's common road interprets it without a call here
 * (eval_fresh). */
static int count_window_hot(OdCodeState *st)
{
    return window_hot(st, od_config.threshold);
}

/* Rented code whose interpreted time has paid its rent: whether it paid at pace, its
 * interpreted time at least the rent scaled by how far the time since its first entry
 * exceeds pace_allowance() (paid within the allowance: the rent alone). So a routine that
 * takes a steady slice of the program's time is compiled and one met now and then over the
 * whole run is not. */
static int rent_paid_at_pace(PyCodeObject *co, OdCodeState *st)
{
    uint64_t due = od_clock_ns_to_ticks(rent_due_ns(co));
    if (st->counts->interpreted_ticks < due)
        return 0;
    uint64_t now = od_clock_ticks();
    uint64_t took = od_clock_ticks_between(st->first_ticks, now);
    return (double)st->counts->interpreted_ticks * (double)pace_allowance(now)
           >= (double)due * (double)took;
}

static int ready_to_compile(PyCodeObject *co, OdCodeState *st)
{
    if (st->counts->entries > (uint64_t)od_config.threshold)
        return !od_hook_young_fork_child() && count_window_hot(st); /* (a window is
                                                                     * looked at once) */
    if (!has_loop(co, st))
        return 0;
    if (od_config.threshold <= 1)
        return 1;
    if (!rented(co, st))
        return 1;
    return !od_hook_young_fork_child() && rent_paid_at_pace(co, st);
}

/* Rent is the timed frame's own time: the frames it calls (entered through the hook while
 * it runs) report their whole time into `child_ticks`, which it subtracts. Without this, a
 * stdlib routine whose time goes to what it calls (importlib's _find_spec running module
 * bodies, namedtuple's exec) paid its rent at its first or second call and was compiled for
 * nothing. Per thread: `timing` says a timed frame is running and its callees must report. */
static _Thread_local uint64_t child_ticks __attribute__((tls_model("initial-exec")));
static _Thread_local int timing __attribute__((tls_model("initial-exec")));

/* Runs a frame of code that is being rented (st->counts->interpreted_ticks gets its own
 * time). */
static PyObject *interpret_timed(PyThreadState *ts, _PyInterpreterFrame *f, OdCodeState *st,
                                 OdInterpReason why)
{
    uint64_t outer_child = child_ticks;
    int outer_timing = timing;
    child_ticks = 0;
    timing = 1;
    uint64_t t0 = od_clock_ticks();
    PyObject *r = interpret(ts, f, 0, why);
    uint64_t dt = od_clock_ticks_between(t0, od_clock_ticks());
    st->counts->interpreted_ticks += dt > child_ticks ? dt - child_ticks : 0;
    child_ticks = outer_child;
    timing = outer_timing;
    return r;
}

/* The interpreter runs `f`, whose code is not compiled yet: code with a loop is timed
 * (the rent ready_to_compile weighs against compiling it). */
static PyObject *interpret_below_threshold(PyThreadState *ts, _PyInterpreterFrame *f,
                                           OdCodeState *st)
{
    if (st->has_loop != 1 || st->rented != 1 || od_config.threshold <= 1)
        return interpret(ts, f, 0, OD_INTERP_BELOW_THRESHOLD);
    return interpret_timed(ts, f, st, OD_INTERP_BELOW_THRESHOLD);
}

/* Code whose frames are suspended and resumed: generators, coroutines, async generators. */
#define OD_GENERATOR_FLAGS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

/* A suspended generator frame: continue natively at the instruction after its last
 * yield (or after RETURN_GENERATOR, on the first resume). */
static __attribute__((noinline)) PyObject *resume_generator(PyThreadState *ts,
                                                              _PyInterpreterFrame *f)
{
    PyCodeObject *co = f->f_code;
    if (!(co->co_flags & OD_GENERATOR_FLAGS) || ts->cframe->use_tracing)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    OdCodeState *st = od_code_state_fast(co);
    if (!st)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    st->counts->entries++;
    if (!st->unit && (st->failed || !ready_to_compile(co, st) || od_compile_code(co, st) < 0)) {
        if (st->failed)
            return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
        if (st->has_loop == 1 && st->rented == 1 && od_config.threshold > 1)
            return interpret_timed(ts, f, st, OD_INTERP_GENERATOR_RESUME);
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    }
    od_maybe_recompile(co, st);   /* resumes in the new unit, at the same instruction */
    void *at = od_unit_resume_native(st->unit, (int)(f->prev_instr - _PyCode_CODE(co)) + 1);
    if (!at)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    od_stats.frames_native++;
    return od_unit_enter(ts, f, st->unit, at);
}

static PyObject *od_eval_frame(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag);

/* Tier 2 at pace: its last tier2_threshold entries took at most pace_allowance() (the
 * count window's fields, unused once the code is compiled, count tier 2's windows). */
static __attribute__((noinline)) int tier2_window_hot(OdCodeState *st)
{
    return window_hot(st, od_config.tier2_threshold);
}

/* Tier 2 once a tier-1 function's frame entries pass tier2_threshold (tier2/tier2.h) and
 * tier 1's unit ran at least once (stress mode, threshold 0: at once); back to tier 1 when
 * tier 2 is switched off. Tier 2 reads the operand classes tier 1's sites record (the
 * interpreter specializes no `/` and no int-float mix): compiled in the same entry as tier
 * 1 (the entries counted the interpreted ones, 200 > tier2_threshold 50) it found none,
 * and float's `self.x /= norm` stayed generic. (Waiting for tier2_threshold entries of
 * tier 1's unit instead gave float the same, and cost go 4%: tier 1's sites then name the
 * last classes of polymorphic and large-int sites, whose guards fail.) */
static inline void maybe_tier2(PyCodeObject *co, OdCodeState *st, _PyInterpreterFrame *f)
{
    if (od_config.tier2_threshold >= 0 && !st->tier2_off && st->unit->tier == 1
        && st->counts->entries > (uint64_t)od_config.tier2_threshold
        && (od_config.tier2_threshold == 0 || st->unit->native_entries > 0)
        && tier2_window_hot(st))
        od_tier2_promote(co, st, f);
    else if (od_config.tier2_threshold < 0 && st->unit->tier == 2)
        od_tier2_demote(st);
}

/* The eval-frame function as a frame runner (hook/cstack.h), the throw flag in `arg`. */
static PyObject *eval_frame_runner(PyThreadState *ts, _PyInterpreterFrame *f, void *arg)
{
    return od_eval_frame(ts, f, (int)(intptr_t)arg);
}

/* A frame called by a frame being rented: its whole time is reported to that frame (and
 * nothing below is timed, unless a rented frame starts there). */
static __attribute__((noinline)) PyObject *eval_reporting(PyThreadState *ts,
                                                            _PyInterpreterFrame *f,
                                                            int throwflag)
{
    timing = 0;
    uint64_t t0 = od_clock_ticks();
    PyObject *r = od_eval_frame(ts, f, throwflag);
    child_ticks += od_clock_ticks_between(t0, od_clock_ticks());
    timing = 1;
    return r;
}

/* An exception thrown into a suspended generator (gen.throw(), asyncio cancelling a
 * task, contextlib's __exit__): compiled code unwinds it from where the frame is suspended,
 * if the frame's code is compiled already (a throw is no reason to compile). */
static PyObject *throw_into_generator(PyThreadState *ts, _PyInterpreterFrame *f)
{
    PyCodeObject *co = f->f_code;
    OdCodeState *st = (co->co_flags & OD_GENERATOR_FLAGS) && !ts->cframe->use_tracing
                          ? od_code_state_fast(co) : NULL;
    if (!st || !st->unit || f->prev_instr < _PyCode_CODE(co))
        return interpret(ts, f, 1, OD_INTERP_THROW);
    st->counts->entries++;
    od_stats.frames_native++;
    return od_unit_run(ts, f, st->unit, OD_RESUME_THROW);
}

/* A fresh frame whose code is compiled, or whose code the policy must look at (not due
 * yet, due now, failed, rented). Kept out of eval_fresh, whose common road (code not due,
 * interpreted) is then a leaf with no register saved: entering a unit inlines
 * od_unit_enter, which needs six callee-saved registers. */
static __attribute__((noinline)) PyObject *eval_fresh_slow(PyThreadState *ts,
                                                             _PyInterpreterFrame *f,
                                                             PyCodeObject *co, OdCodeState *st)
{
    if (!st->unit) {
        if (st->failed || !ready_to_compile(co, st) || od_compile_code(co, st) < 0) {
            st->counts->interpreted++;
            if (!st->failed)
                return interpret_below_threshold(ts, f, st);
            return interpret(ts, f, 0, OD_INTERP_NOT_COMPILABLE);
        }
    }
    od_maybe_recompile(co, st);
    maybe_tier2(co, st, f);
    od_stats.frames_native++;
    return od_unit_enter(ts, f, st->unit, NULL);
}

/* The first fresh frame of code that has no state yet. */
static __attribute__((noinline)) PyObject *eval_fresh_first(PyThreadState *ts,
                                                              _PyInterpreterFrame *f,
                                                              PyCodeObject *co)
{
    OdCodeState *st = od_code_state(co, 1);
    if (!st)
        return interpret(ts, f, 0, OD_INTERP_NOT_COMPILABLE);
    st->counts->entries++;
    return eval_fresh_slow(ts, f, co, st);
}

/* A fresh frame (or one the interpreter must run). */
static PyObject *eval_fresh(PyThreadState *ts, _PyInterpreterFrame *f)
{
    PyCodeObject *co = f->f_code;
    if (f->owner != FRAME_OWNED_BY_THREAD || f->prev_instr != _PyCode_CODE(co) - 1)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    if (ts->cframe->use_tracing)
        return interpret(ts, f, 0, OD_INTERP_TRACING);
    OdCodeState *st = od_code_extra_slot(co, od_code_extra_index_value);
    if (__builtin_expect(!st, 0))
        return eval_fresh_first(ts, f, co);
    st->counts->entries++;
    /* The common case first: code without a loop, not due yet, or past its count but
     * within a window that found it not hot (no policy call). */
    if (!st->unit && st->has_loop == 0
        && (st->counts->entries <= (uint64_t)od_config.threshold
            || (st->counts->entries < st->window_end && od_config.threshold > 1))
        && !st->failed) {
        st->counts->interpreted++;
        return interpret(ts, f, 0, OD_INTERP_BELOW_THRESHOLD);
    }
    return eval_fresh_slow(ts, f, co, st);
}

/* The dispatcher's cold roads, out of line so that its own road saves no register. */
static __attribute__((noinline, cold)) PyObject *eval_on_fresh_segment(PyThreadState *ts,
                                                                         _PyInterpreterFrame *f,
                                                                         int throwflag)
{
    return od_cstack_call(eval_frame_runner, ts, f, (void *)(intptr_t)throwflag);
}

static __attribute__((noinline)) PyObject *eval_throw(PyThreadState *ts, _PyInterpreterFrame *f)
{
    return f->owner == FRAME_OWNED_BY_GENERATOR ? throw_into_generator(ts, f)
                                                : interpret(ts, f, 1, OD_INTERP_THROW);
}

/* What the dispatcher does (od_eval_frame), for the young road's frames it does not take. */
static inline PyObject *eval_dispatch(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    if (__builtin_expect(timing, 0))
        return eval_reporting(ts, f, throwflag);
    /* Every frame evaluated under the hook nests on the C stack: near its end, continue
     * on a fresh segment (deep recursion must never overflow it). */
    if (od_cstack_low())
        return eval_on_fresh_segment(ts, f, throwflag);
    if (throwflag)
        return eval_throw(ts, f);
    if (f->owner == FRAME_OWNED_BY_GENERATOR)
        return resume_generator(ts, f);
    return eval_fresh(ts, f);
}

/* ---- The young road: fresh frames in a forked child younger than OD_FORK_SETTLE_NS.
 * Such a child compiles nothing for a count or a rent (ready_to_compile), so its counts
 * and rents would only be carried into the time after it settles; keeping them is what
 * costs a short-lived child most. After fork() every page the child writes is copied
 * first (a page fault and 4 KiB copied), and the books are spread over the heap: the code
 * states' counts (one state of 112 bytes per code object, in the order code was first
 * met), a new state for each code object the parent never ran (a multiprocessing worker's
 * loop, its task dispatch, its exit handlers), and the rent's clock reads around every
 * call its rented loop makes. bench_mp_pool's workers, which live a few milliseconds each,
 * took about 90 page faults more per pool than stock's, and 10% more CPU time
 * (docs/performance.md, "bench_mp_pool (branch h-mppool)"). So on the young road:
 *   - code compiled (by the parent, or by the child) runs its unit, without a count;
 *   - a program's own loop code is compiled at its first entry, as before;
 *   - everything else is interpreted without a count or a rent, and code without a
 *     backward jump that has no state yet gets none (young_plain remembers it).
 * Generator resumes and throws take the usual roads. Counting starts when the child has
 * settled (a young child's calls do not count towards its compiles), and frames called by
 * a rented frame are not reported to it (its rent, acted on only after that, is then
 * paid sooner). */

static inline unsigned young_plain_slot(PyCodeObject *co)
{
    uintptr_t a = (uintptr_t)co;
    return (unsigned)((a >> 4) ^ (a >> 12)) & (OD_YOUNG_PLAIN_SLOTS - 1);
}

static __attribute__((noinline)) PyObject *eval_young(PyThreadState *ts, _PyInterpreterFrame *f,
                                                       int throwflag)
{
    if (od_config.threshold <= 1 || od_clock_ticks() >= young_until_ticks) {
        young_road = 0;     /* settled (threshold 0 and 1 have no young children) */
        return eval_dispatch(ts, f, throwflag);
    }
    PyCodeObject *co = f->f_code;
    if (throwflag || f->owner != FRAME_OWNED_BY_THREAD || f->prev_instr != _PyCode_CODE(co) - 1
        || ts->cframe->use_tracing || od_cstack_low())
        return eval_dispatch(ts, f, throwflag);
    OdCodeState *st = od_code_extra_slot(co, od_code_extra_index_value);
    if (!st) {
        unsigned slot = young_plain_slot(co);
        if (young_plain[slot] == co)
            return interpret(ts, f, 0, OD_INTERP_BELOW_THRESHOLD);
        if (!od_code_has_loop(co)) {
            young_plain[slot] = co;
            return interpret(ts, f, 0, OD_INTERP_BELOW_THRESHOLD);
        }
        if (!(st = od_code_state(co, 1)))
            return interpret(ts, f, 0, OD_INTERP_NOT_COMPILABLE);
        st->has_loop = 1;
    }
    if (st->unit) {
        od_stats.frames_native++;
        return od_unit_enter(ts, f, st->unit, NULL);
    }
    if (!st->failed && has_loop(co, st) && !rented(co, st))
        return eval_fresh_slow(ts, f, co, st);      /* compiled now (ready_to_compile) */
    return interpret(ts, f, 0, st->failed ? OD_INTERP_NOT_COMPILABLE : OD_INTERP_BELOW_THRESHOLD);
}

/* The eval-frame function: a dispatcher that keeps no state of its own, so each road is a
 * tail call (generator resumes and calls from C are frequent: json's encoder resumes its
 * generators hundreds of thousands of times). */
static PyObject *od_eval_frame(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    if (__builtin_expect(young_road, 0))
        return eval_young(ts, f, throwflag);
    return eval_dispatch(ts, f, throwflag);
}

/* A fresh frame pushed by a direct call from compiled code, whose code is compiled: what
 * od_eval_frame would do after its checks (runtime/frames.h). */
static PyObject *enter_direct(PyThreadState *ts, _PyInterpreterFrame *f, void *state)
{
    if (od_cstack_low())
        return od_cstack_call(enter_direct, ts, f, state);
    OdCodeState *st = state;
    st->counts->entries++;
    od_maybe_recompile(f->f_code, st);
    maybe_tier2(f->f_code, st, f);
    od_stats.frames_native++;
    return od_unit_enter(ts, f, st->unit, NULL);
}

int od_hook_install(void)
{
    if (od_hook_init() < 0)
        return -1;
    static int atfork_registered;
    if (!atfork_registered)   /* a failure only leaves children compiling as their parent */
        atfork_registered = pthread_atfork(NULL, NULL, note_fork_in_child) == 0;
    if (!stdlib_prefix) {
        PyObject *dir = PySys_GetObject("_stdlib_dir");   /* borrowed; 3.11 sets it */
        stdlib_prefix = dir && PyUnicode_Check(dir) ? PyUnicode_FromFormat("%U/", dir) : NULL;
        if (PyErr_Occurred())
            PyErr_Clear();
    }
    _Static_assert(offsetof(OdCodeState, unit) == 0, "runtime/frames.h reads the unit first");
    od_rt_direct_entry.extra_index = od_code_extra_index();
    od_rt_direct_entry.enter = enter_direct;
    od_rt_direct_entry.finish = od_unit_finish;
    od_rt_direct_entry.recompile_after = &od_config.recompile_after;
    od_rt_direct_entry.tier2_threshold = &od_config.tier2_threshold;
    od_rt_direct_entry.hook_eval = od_eval_frame;
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), od_eval_frame);
    od_rt_gen_slots_install();
    installed = 1;
    return 0;
}

int od_hook_uninstall(void)
{
    od_rt_direct_entry.hook_eval = NULL;
    od_rt_gen_slots_uninstall();
    /* Setting the default evaluator stores NULL, which brings call inlining back. */
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), _PyEval_EvalFrameDefault);
    installed = 0;
    return 0;
}

static PyObject *null_eval_frame(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}

int od_hook_install_null(void)
{
    if (od_hook_installed())
        return -1;
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), null_eval_frame);
    return 0;
}

int od_hook_installed(void)
{
    return installed && _PyInterpreterState_GetEvalFrameFunc(PyInterpreterState_Get())
                            == od_eval_frame;
}
