/* hook/cstack.c — C stack segments for deep recursion (contract in cstack.h). */
#include "cstack.h"

#include "hook.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

_Thread_local uintptr_t od_cstack_floor __attribute__((tls_model("initial-exec"))) = UINTPTR_MAX;

/* A segment's header sits at its top; the stack grows down from just below it. */
typedef struct Segment {
    struct Segment *inner;   /* the next deeper segment: in use, or the thread's spare */
    char *mem;               /* the mapping: guard page, then the stack */
} Segment;

/* The innermost segment in use on this thread (NULL: the thread's own stack), and the
 * thread's first segment (the head of its chain; freed at thread exit). */
static _Thread_local Segment *active __attribute__((tls_model("initial-exec")));
static _Thread_local Segment *first __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static void free_chain(Segment *seg)
{
    while (seg) {
        Segment *inner = seg->inner;
        munmap(seg->mem, OD_CSTACK_SEGMENT);
        seg = inner;
    }
}

/* pthread key destructor: the thread is exiting, no segment is in use any more. */
static void free_thread_segments(void *head)
{
    free_chain(head);
}

static void create_thread_exit_key(void)
{
    if (pthread_key_create(&thread_exit_key, free_thread_segments) != 0)
        thread_exit_key = (pthread_key_t)-1;
}

static Segment *map_segment(void)
{
    char *mem = mmap(NULL, OD_CSTACK_SEGMENT, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    /* A guard page: running off the bottom faults at once instead of writing into
     * whatever mapping lies below. The margin keeps frames from ever getting there. */
    (void)mprotect(mem, page_size(), PROT_NONE);
    Segment *seg = (Segment *)(mem + OD_CSTACK_SEGMENT) - 1;
    seg->inner = NULL;
    seg->mem = mem;
    od_stats.cstack_segments++;
    return seg;
}

/* Set while the main thread's floor is provisional (provisional_main_floor). */
static _Thread_local int floor_provisional __attribute__((tls_model("initial-exec")));

/* The top of the main thread's stack, as glibc's start-up recorded it. */
extern void *__libc_stack_end;

/* Room the main thread's provisional floor leaves below its first frame entry. */
#define OD_CSTACK_PROVISIONAL_ROOM ((uintptr_t)1 << 20)

/* For the main thread, pthread_getattr_np reads and parses all of /proc/self/maps
 * (0.13-0.23M instructions, in every process at its first frame entry). Its stack grows
 * on demand up to RLIMIT_STACK (the kernel keeps mappings out of that range), so a floor
 * 1 MiB below the first frame entry is safe whenever what is used already, that room and
 * twice the margin fit in the limit: a frame entry that gets below it learns the real
 * floor then (od_cstack_call). 0 when not the main thread or the limit does not say. */
static uintptr_t provisional_main_floor(uintptr_t sp)
{
    struct rlimit rl;
    uintptr_t top = (uintptr_t)__libc_stack_end;
    if ((long)syscall(SYS_gettid) != (long)getpid() || getrlimit(RLIMIT_STACK, &rl) != 0
        || rl.rlim_cur == RLIM_INFINITY || top < sp
        || (top - sp) + OD_CSTACK_PROVISIONAL_ROOM + 2 * OD_CSTACK_MARGIN > rl.rlim_cur)
        return 0;
    return sp - OD_CSTACK_PROVISIONAL_ROOM;
}

/* The thread's first frame entry: its floor is the stack's lowest address plus the
 * margin. A stack smaller than the margin (threading.stack_size(64 KiB)) leaves the floor
 * above the stack pointer: every frame of that thread then runs on segments. The main
 * thread starts with a provisional floor when it can (provisional_main_floor). */
static void learn_thread_floor(int precise)
{
    uintptr_t sp;
    __asm__("movq %%rsp, %0" : "=r"(sp));
    uintptr_t floor = precise ? 0 : provisional_main_floor(sp);
    floor_provisional = floor != 0;
    if (floor_provisional) {
        od_cstack_floor = floor;
        return;
    }
    floor = sp > 2 * OD_CSTACK_MARGIN ? sp - 2 * OD_CSTACK_MARGIN : 0; /* unknown */
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr)
            floor = (uintptr_t)addr + OD_CSTACK_MARGIN;
        pthread_attr_destroy(&attr);
    }
    od_cstack_floor = floor;
}

/* Calls run(ts, f, arg) with the stack pointer at `top` (16-byte aligned) and returns its
 * result with the stack pointer restored. rbp keeps the caller's frame, so unwinders
 * (gdb, perf, py-spy --native) walk from the segment back onto the thread's stack. */
PyObject *od_cstack_switch_call(char *top, OdFrameRunner run, PyThreadState *ts,
                                _PyInterpreterFrame *f, void *arg);
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".type od_cstack_switch_call, @function\n"
    "od_cstack_switch_call:\n"
    ".cfi_startproc\n"
    "    pushq %rbp\n"
    ".cfi_def_cfa_offset 16\n"
    ".cfi_offset %rbp, -16\n"
    "    movq %rsp, %rbp\n"
    ".cfi_def_cfa_register %rbp\n"
    "    movq %rdi, %rsp\n"      /* the segment */
    "    movq %rsi, %rax\n"
    "    movq %rdx, %rdi\n"      /* run(ts, f, arg) */
    "    movq %rcx, %rsi\n"
    "    movq %r8, %rdx\n"
    "    callq *%rax\n"
    "    movq %rbp, %rsp\n"      /* back on the caller's stack */
    "    popq %rbp\n"
    ".cfi_def_cfa %rsp, 8\n"
    "    ret\n"
    ".cfi_endproc\n"
    ".size od_cstack_switch_call, .-od_cstack_switch_call\n");

PyObject *od_cstack_call(OdFrameRunner run, PyThreadState *ts, _PyInterpreterFrame *f,
                         void *arg)
{
    if (od_cstack_floor == UINTPTR_MAX || (floor_provisional && !active)) {
        learn_thread_floor(od_cstack_floor != UINTPTR_MAX);
        if (!od_cstack_low())
            return run(ts, f, arg);
    }
    Segment **slot = active ? &active->inner : &first;
    Segment *seg = *slot;
    if (!seg) {
        seg = map_segment();
        if (!seg) {
            if (f->owner == FRAME_OWNED_BY_THREAD && f->prev_instr == _PyCode_CODE(f->f_code) - 1) {
                PyErr_SetString(PyExc_RecursionError,
                                "maximum recursion depth exceeded (no memory for a C stack "
                                "segment)");
                return NULL;
            }
            return run(ts, f, arg);
        }
        *slot = seg;
        if (slot == &first) {
            pthread_once(&thread_exit_once, create_thread_exit_key);
            if (thread_exit_key != (pthread_key_t)-1)
                pthread_setspecific(thread_exit_key, seg);
        }
    }
    od_stats.cstack_switches++;
    Segment *outer = active;
    uintptr_t outer_floor = od_cstack_floor;
    active = seg;
    od_cstack_floor = (uintptr_t)seg->mem + page_size() + OD_CSTACK_MARGIN;
    char *top = (char *)((uintptr_t)seg & ~(uintptr_t)15);
    PyObject *res = od_cstack_switch_call(top, run, ts, f, arg);
    active = outer;
    od_cstack_floor = outer_floor;
    /* Keep this segment as the spare below `outer`; free anything deeper. */
    free_chain(seg->inner);
    seg->inner = NULL;
    return res;
}
