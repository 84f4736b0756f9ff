/* runtime/gen_resume.h — resuming a compiled generator, coroutine or async generator from
 * compiled code without the generator machinery and the eval-frame hook in between (what
 * CPython 3.12's SEND_GEN / FOR_ITER_GEN do for the interpreter).
 *
 * od_rt_gen_resume(ts, gen, arg, &res) does gen_send_ex2's work (Objects/genobject.c, 3.11)
 * and the hook's resume_generator + od_unit_enter in one go, when everything is on the fast
 * road: `gen` exactly a generator, coroutine or async generator, suspended (or just created
 * and sent None), tracing off, our eval-frame function installed, its code compiled with a
 * native address for the instruction it resumes at, the unit not due for recompilation, room
 * on the C stack and in the recursion limit. Otherwise it returns OD_GEN_NOT_DIRECT having
 * done nothing, and the caller takes the ordinary road (PyIter_Send, tp_iternext), which
 * reports every error with CPython's own message.
 *
 * `arg` is the value sent (SEND), or NULL for next() (FOR_ITER): as in gen_send_ex2, None is
 * pushed then. Results, as PySendResult:
 *   PYGEN_NEXT    the generator yielded *res (new reference);
 *   PYGEN_RETURN  it returned *res (new reference, None included: the caller decides what
 *                 a return means: SEND pushes it, FOR_ITER drops it and stops);
 *   PYGEN_ERROR   it raised (a StopIteration inside, or a StopAsyncIteration inside an
 *                 async generator, became RuntimeError, as in CPython).
 *
 * An async generator's own protocol (ag_running_async, the asend awaitable's state, the
 * unwrapping of its yields) is the caller's: od_rt_send's (gen_resume.c). */
#ifndef OD_RUNTIME_GEN_RESUME_H
#define OD_RUNTIME_GEN_RESUME_H

#include "unit.h"

#define OD_GEN_NOT_DIRECT 2   /* outside PySendResult's -1, 0, 1 */

int od_rt_gen_resume(PyThreadState *ts, PyGenObject *gen, PyObject *arg, PyObject **res);

/* SEND and FOR_ITER in two halves around a call the compiled code makes itself
 * (tier1/compile.c), so that a chain of `yield from` / `await` / `async for` costs one
 * native call per level rather than the helper, the unit's entry and its body
 * (return-address predictors hold some 32 calls: a deeper chain mispredicted each return
 * beyond them).
 *
 * od_rt_send_begin(f, sp, site), sp = SEND's stack top [receiver, value]: when the
 * receiver (a generator, coroutine or asend awaitable) resumes on the direct road,
 * everything before its frame runs is done: .at = the native address to call with the
 * register plan of tier1/emit.h for the unit od_rt_send_unit (read at once) and the frame
 * .frame. Else .at = NULL and the whole SEND is done (PyIter_Send, or OD_DEOPT under a
 * tracer): .frame is od_rt_send's result.
 * od_rt_send_end(f, sp, r, u), after that call returned r (NULL: raised or exited) in unit
 * u: the rest; od_rt_send's result.
 * od_rt_for_iter_begin / _end: the same for FOR_ITER (sp = [iterator], site = its
 * OdOpCache) on an exact generator; results as od_rt_for_iter's. */
typedef struct {
    void *at;
    intptr_t frame;
} OdSendBegin;

OdSendBegin od_rt_send_begin(_PyInterpreterFrame *f, PyObject **sp, void *site);
int od_rt_send_end(_PyInterpreterFrame *f, PyObject **sp, PyObject *r, OdUnit *u);
OdSendBegin od_rt_for_iter_begin(_PyInterpreterFrame *f, PyObject **sp, void *site);
int od_rt_for_iter_end(_PyInterpreterFrame *f, PyObject **sp, PyObject *r, OdUnit *u);
extern OdUnit *od_rt_send_unit;

/* Generators iterated by C code and by the interpreter (list(g), sum(g), set(genexpr),
 * "".join(genexpr), an interpreted `for`) call PyGen_Type's tp_iternext; asyncio's task
 * steps and `yield from`/`await` in interpreted code call PyIter_Send, which calls the
 * type's am_send. Each such resume took gen_iternext or PyGen_am_send, gen_send_ex2, the
 * eval-frame hook's dispatch and resume_generator before the compiled code ran (about 100
 * instructions of a resume's 190 in a `sum(g)` loop). While the hook is installed,
 * od_rt_gen_slots_install() puts into those slots of PyGen_Type and PyCoro_Type functions
 * that resume a compiled generator or coroutine on the direct road (gen_resume) and hand
 * anything else to CPython's own, which od_rt_gen_slots_uninstall() puts back.
 * `g.__next__()` and `g.send(v)` keep calling CPython's functions (the method wrappers
 * were made at start-up): the same results by the ordinary road. */
void od_rt_gen_slots_install(void);
void od_rt_gen_slots_uninstall(void);

/* Of the direct resumes, those through these slots (stats()["generator_nexts_direct"]). */
extern uint64_t od_rt_gen_nexts_direct;

/* Resumes that took this road (stats()["generator_resumes_direct"]). */
extern uint64_t od_rt_gen_resumes_direct;

/* Of which SENDs to an async generator's asend()/__anext__() awaitable, the value it
 * yielded handed back without the StopIteration (stats()["async_gen_sends_direct"]). */
extern uint64_t od_rt_async_gen_sends_direct;

#endif /* OD_RUNTIME_GEN_RESUME_H */
