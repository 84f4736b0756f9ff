/* hook/events.c — compile/exit reports for the log and perf maps. See events.h. */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../asm/codemem.h"
#include "../bytecode/decode.h"

unsigned od_event_mask;

static int log_fd = -1;        /* our duplicate of the descriptor the log goes to */
static int perf_fd = -1;       /* /tmp/perf-<perf_pid>.map, opened on first use */
static pid_t perf_pid;
static int named_written;      /* od_codemem_named() entries in this process's map */

static const char *const exit_descriptions[] = {
#define OD_EXIT_DESC(name, desc) desc,
    OD_EXIT_REASONS(OD_EXIT_DESC)
#undef OD_EXIT_DESC
};

/* The whole line, retrying short writes and EINTR; other errors drop the line. */
static void write_line(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* snprintf's result clamped to what the buffer holds (a long name truncates the line, but
 * the newline that ends it is kept). */
static size_t clamp_line(char *buf, size_t cap, int n)
{
    if (n < 0)
        return 0;
    if ((size_t)n >= cap) {
        buf[cap - 2] = '\n';
        return cap - 1;
    }
    return (size_t)n;
}

/* UTF-8 text of a str for a report, or "?" (a report must not leave an exception behind;
 * the caller saved any exception that was pending). Newlines would split a line-based
 * file, so names holding them are replaced. */
static const char *text_of(PyObject *s)
{
    const char *t = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
    if (!t) {
        PyErr_Clear();
        return "?";
    }
    return strpbrk(t, "\r\n") ? "?" : t;
}

int od_events_set_log(int compiles, int exits, int fd)
{
    int newfd = -1;
    if ((compiles || exits) && (newfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (log_fd >= 0)
        close(log_fd);
    log_fd = newfd;
    od_event_mask &= ~(unsigned)(OD_EVENT_LOG_COMPILE | OD_EVENT_LOG_EXIT);
    if (compiles)
        od_event_mask |= OD_EVENT_LOG_COMPILE;
    if (exits)
        od_event_mask |= OD_EVENT_LOG_EXIT;
    return 0;
}

int od_events_log_fd(void) { return log_fd; }

void od_events_set_perf_map(int on)
{
    if (on) {
        od_event_mask |= OD_EVENT_PERF_MAP;
        return;
    }
    od_event_mask &= ~(unsigned)OD_EVENT_PERF_MAP;
    if (perf_fd >= 0)
        close(perf_fd);
    perf_fd = -1;
}

/* The map of the current process: after fork() the child gets a map of its own (the
 * inherited descriptor belongs to the parent's file). */
static int perf_map_fd(void)
{
    pid_t pid = getpid();
    if (perf_fd >= 0 && perf_pid == pid)
        return perf_fd;
    if (perf_fd >= 0)
        close(perf_fd);
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)pid);
    perf_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    perf_pid = pid;
    named_written = 0;
    return perf_fd;
}

/* The named code that is no unit's (asm/codemem.h od_codemem_name: the call thunks),
 * each once per map, before the unit lines that call it. */
static void perf_map_write_named(int fd)
{
    const void *start;
    size_t size;
    const char *name;
    for (; od_codemem_named(named_written, &start, &size, &name); named_written++) {
        char line[256];
        int n = snprintf(line, sizeof line, "%lx %zx %s\n", (unsigned long)(uintptr_t)start,
                         size, name);
        write_line(fd, line, clamp_line(line, sizeof line, n));
    }
}

static int perf_map_write(PyCodeObject *co, const OdUnit *u)
{
    int fd = perf_map_fd();
    if (fd < 0)
        return -1;
    perf_map_write_named(fd);
    char line[1024];
    int n = snprintf(line, sizeof line, "%lx %zx py::%s:%s:%d\n", (unsigned long)(uintptr_t)u->mem,
                     u->code_size, text_of(co->co_qualname), text_of(co->co_filename),
                     co->co_firstlineno);
    write_line(fd, line, clamp_line(line, sizeof line, n));
    return 0;
}

int od_event_perf_map_add(PyCodeObject *co, const OdUnit *u)
{
    if (perf_map_write(co, u) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

void od_event_compiled_report(PyCodeObject *co, const OdUnit *u)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (od_event_mask & OD_EVENT_PERF_MAP)
        perf_map_write(co, u); /* a profiler aid: an unwritable map is not an error */
    if ((od_event_mask & OD_EVENT_LOG_COMPILE) && log_fd >= 0) {
        char line[1024];
        int n = snprintf(line, sizeof line,
                         "overdrive: compiled %s (%s:%d) tier %d: %zu bytes, %d instructions, "
                         "%.1f us\n",
                         text_of(co->co_qualname), text_of(co->co_filename), co->co_firstlineno,
                         u->tier, u->code_size, u->ninstrs, (double)u->compile_ns / 1000.0);
        write_line(log_fd, line, clamp_line(line, sizeof line, n));
    }
    PyErr_Restore(et, ev, tb);
}

void od_event_exit_report(const OdUnit *u, const _PyInterpreterFrame *f)
{
    if (log_fd < 0)
        return;
    PyCodeObject *co = f->f_code;
    /* The interpreter resumes at the unit after prev_instr. */
    int offset = (int)(f->prev_instr + 1 - _PyCode_CODE(co)) * (int)sizeof(_Py_CODEUNIT);
    int reason = u->last_exit >= 0 && u->last_exit < OD_EXIT__COUNT ? u->last_exit : 0;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    char line[1024];
    int n = snprintf(line, sizeof line, "overdrive: exit %s (%s:%d) at offset %d %s: %s (%s)\n",
                     text_of(co->co_qualname), text_of(co->co_filename),
                     PyCode_Addr2Line(co, offset), offset, od_opcode_name(u->last_exit_opcode),
                     od_exit_reason_name(reason), exit_descriptions[reason]);
    write_line(log_fd, line, clamp_line(line, sizeof line, n));
    PyErr_Restore(et, ev, tb);
}
