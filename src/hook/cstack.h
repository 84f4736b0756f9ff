/* hook/cstack.h — C stack segments: recursion as deep as the interpreter allows, on any
 * thread, without overflowing the thread's C stack.
 *
 * Why: with a PEP 523 hook installed, every Python-to-Python call nests on the C stack
 * (the hook, od_unit_run, native code, or a fresh _PyEval_EvalFrameDefault), where stock
 * 3.11 inlines the call and uses no C stack at all. A recursion the recursion limit allows
 * (50,000 frames at setrecursionlimit(100000), 1,000 on a thread with a 256 KiB stack) would
 * overflow the stack and crash.
 *
 * Contract: every entry of a frame into evaluation (the eval-frame hook and the direct entry
 * of calls made by compiled code) first asks od_cstack_low(). When fewer than
 * OD_CSTACK_MARGIN bytes are left below the stack pointer on the stack in use, it runs the
 * frame through od_cstack_call(), which evaluates it on a fresh segment (mmap'd, a guard
 * page below, committed only as deep as it is used) and returns its result on the original
 * stack. Segments chain as deep as the recursion goes; each thread keeps one spare segment
 * below the deepest one in use (so a recursion that oscillates across a boundary does not
 * map and unmap every call), frees the others as the recursion returns, and frees its
 * segments when it exits. The margin covers what C code may use between two frame entries
 * (a C extension's own recursion, the resolver's buffers); the recursion count still
 * limits depth exactly as in the interpreter. od_stats counts the switches and the segments
 * mapped. x86-64 System V only, like the rest. */
#ifndef OD_HOOK_CSTACK_H
#define OD_HOOK_CSTACK_H

#include "../od_python.h"

#include <stdint.h>

/* Bytes a frame entry must find free below the stack pointer. */
#define OD_CSTACK_MARGIN ((uintptr_t)256 << 10)
/* Bytes reserved per segment (address space; pages are committed as they are touched). */
#define OD_CSTACK_SEGMENT ((size_t)8 << 20)

/* Lowest stack address a frame entry may start at on the stack in use; UINTPTR_MAX until
 * the thread's first frame entry (od_cstack_call learns the thread's bounds then).
 * Thread-local, initial-exec: one %fs-relative load. */
extern _Thread_local uintptr_t od_cstack_floor __attribute__((tls_model("initial-exec")));

/* Whether the caller must go through od_cstack_call. The stack pointer is read directly:
 * taking a frame or local address would force a frame on the hot path that calls this. */
static inline int od_cstack_low(void)
{
    uintptr_t sp;
    __asm__("movq %%rsp, %0" : "=r"(sp));
    return __builtin_expect(sp < od_cstack_floor, 0);
}

typedef PyObject *(*OdFrameRunner)(PyThreadState *ts, _PyInterpreterFrame *f, void *arg);

/* run(ts, f, arg) on a fresh segment, or where it is on the thread's first entry if its
 * stack has room. If no segment can be mapped: a fresh frame fails with RecursionError (as
 * at the recursion limit); any other frame runs where it is. */
PyObject *od_cstack_call(OdFrameRunner run, PyThreadState *ts, _PyInterpreterFrame *f,
                         void *arg);

#endif /* OD_HOOK_CSTACK_H */
