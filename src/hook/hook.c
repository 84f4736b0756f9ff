/* hook/hook.c — the eval-frame function and the tiering policy. */
#include "hook.h"

#include "cstack.h"
#include "../runtime/frames.h"

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

/* Compile at the (threshold+1)-th entry; code with a loop at its first. */
static int ready_to_compile(PyCodeObject *co, OdCodeState *st)
{
    if (st->entries > (uint64_t)od_config.threshold)
        return 1;
    /* A backward jump means a loop: worth compiling before it runs even once. */
    const _Py_CODEUNIT *code = _PyCode_CODE(co);
    Py_ssize_t n = Py_SIZE(co); /* code units */
    for (Py_ssize_t i = 0; i < n; i++) {
        int op = _PyOpcode_Deopt[_Py_OPCODE(code[i])];
        if (op == JUMP_BACKWARD || op == POP_JUMP_BACKWARD_IF_FALSE
            || op == POP_JUMP_BACKWARD_IF_TRUE || op == POP_JUMP_BACKWARD_IF_NONE
            || op == POP_JUMP_BACKWARD_IF_NOT_NONE)
            return 1;
        i += _PyOpcode_Caches[op];
    }
    return 0;
}

/* Code whose frames are suspended and resumed: generators, coroutines, async generators. */
#define OD_GENERATOR_FLAGS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

/* A suspended generator frame: continue natively at the instruction after its last
 * yield (or after RETURN_GENERATOR, on the first resume). */
static PyObject *resume_generator(PyThreadState *ts, _PyInterpreterFrame *f)
{
    PyCodeObject *co = f->f_code;
    if (!(co->co_flags & OD_GENERATOR_FLAGS) || ts->cframe->use_tracing)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    OdCodeState *st = od_code_state_fast(co);
    if (!st)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    st->entries++;
    if (!st->unit && (st->failed || !ready_to_compile(co, st) || od_compile_code(co, st) < 0))
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    od_maybe_recompile(co, st);   /* resumes in the new unit, at the same instruction */
    int next = (int)(f->prev_instr - _PyCode_CODE(co)) + 1;
    void *at = (next > 0 && next < st->unit->ncodeunits) ? st->unit->addr_at_unit[next] : NULL;
    if (!at)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    od_stats.frames_native++;
    return od_unit_run(ts, f, st->unit, at);
}

static PyObject *od_eval_frame(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag);

/* The eval-frame function as a frame runner (hook/cstack.h), the throw flag in `arg`. */
static PyObject *eval_frame_runner(PyThreadState *ts, _PyInterpreterFrame *f, void *arg)
{
    return od_eval_frame(ts, f, (int)(intptr_t)arg);
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
    st->entries++;
    od_stats.frames_native++;
    return od_unit_run(ts, f, st->unit, OD_RESUME_THROW);
}

static PyObject *od_eval_frame(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    /* Every frame evaluated under the hook nests on the C stack: near its end, continue
     * on a fresh segment (deep recursion must never overflow it). */
    if (od_cstack_low())
        return od_cstack_call(eval_frame_runner, ts, f, (void *)(intptr_t)throwflag);
    if (throwflag)
        return f->owner == FRAME_OWNED_BY_GENERATOR ? throw_into_generator(ts, f)
                                                    : interpret(ts, f, throwflag, OD_INTERP_THROW);
    if (f->owner == FRAME_OWNED_BY_GENERATOR)
        return resume_generator(ts, f);
    PyCodeObject *co = f->f_code;
    if (f->owner != FRAME_OWNED_BY_THREAD || f->prev_instr != _PyCode_CODE(co) - 1)
        return interpret(ts, f, 0, OD_INTERP_GENERATOR_RESUME);
    if (ts->cframe->use_tracing)
        return interpret(ts, f, 0, OD_INTERP_TRACING);
    OdCodeState *st = od_code_state_fast(co);
    if (!st)
        return interpret(ts, f, 0, OD_INTERP_NOT_COMPILABLE);
    st->entries++;
    if (!st->unit) {
        if (st->failed || !ready_to_compile(co, st) || od_compile_code(co, st) < 0) {
            st->interpreted++;
            OdInterpReason why = !st->failed ? OD_INTERP_BELOW_THRESHOLD
                                             : OD_INTERP_NOT_COMPILABLE;
            return interpret(ts, f, 0, why);
        }
    }
    od_maybe_recompile(co, st);
    od_stats.frames_native++;
    return od_unit_run(ts, f, st->unit, NULL);
}

/* A fresh frame pushed by a direct call from compiled code, whose code is compiled: what
 * od_eval_frame would do after its checks (runtime/frames.h). */
static PyObject *enter_direct(PyThreadState *ts, _PyInterpreterFrame *f, void *state)
{
    if (od_cstack_low())
        return od_cstack_call(enter_direct, ts, f, state);
    OdCodeState *st = state;
    st->entries++;
    od_maybe_recompile(f->f_code, st);
    od_stats.frames_native++;
    return od_unit_run(ts, f, st->unit, NULL);
}

int od_hook_install(void)
{
    if (od_hook_init() < 0)
        return -1;
    _Static_assert(offsetof(OdCodeState, unit) == 0, "runtime/frames.h reads the unit first");
    od_rt_direct_entry.extra_index = od_code_extra_index();
    od_rt_direct_entry.enter = enter_direct;
    od_rt_direct_entry.hook_eval = od_eval_frame;
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), od_eval_frame);
    installed = 1;
    return 0;
}

int od_hook_uninstall(void)
{
    od_rt_direct_entry.hook_eval = NULL;
    /* Setting the default evaluator stores NULL, which brings call inlining back. */
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), _PyEval_EvalFrameDefault);
    installed = 0;
    return 0;
}

int od_hook_installed(void)
{
    return installed && _PyInterpreterState_GetEvalFrameFunc(PyInterpreterState_Get())
                            == od_eval_frame;
}
