/* hook/events.h — optional reports of what the JIT does: each compile and each exit to the
 * interpreter, for the log (overdrive.log) and for perf maps (overdrive.perfmap).
 *
 * Contract: the hook calls od_event_compiled() after a code object was compiled and
 * od_event_exit() after compiled code handed a frame to the interpreter. Both are one test
 * of od_event_mask while nothing is switched on, so they cost nothing measurable. When on,
 * each event becomes one text line written with a single write(2): no Python code runs, so
 * a report can never re-enter the hook or raise, and a failed write is ignored (a report is
 * never worth breaking the program). Lines:
 *   log:      "overdrive: compiled QUALNAME (FILE:LINE) tier T: N bytes, M instructions, U us"
 *             "overdrive: exit QUALNAME (FILE:LINE) at offset O OPNAME: REASON (description)"
 *   perf map: "START SIZE py::QUALNAME:FILE:LINE" (hex, no 0x) in /tmp/perf-<pid>.map, the
 *             file perf(1) and other profilers read to name JIT code; the pid is taken at
 *             each write, so a forked worker writes its own map.
 * All of it runs with the GIL held. */
#ifndef OD_HOOK_EVENTS_H
#define OD_HOOK_EVENTS_H

#include "../runtime/unit.h"

enum {
    OD_EVENT_LOG_COMPILE = 1,
    OD_EVENT_LOG_EXIT = 2,
    OD_EVENT_PERF_MAP = 4,
};

extern unsigned od_event_mask;

/* Log compiles and/or exits to a duplicate of `fd` (the caller keeps its own descriptor);
 * both off closes it. 0, or -1 with a Python exception set (fd could not be duplicated). */
int od_events_set_log(int compiles, int exits, int fd);
/* Switch the perf map on or off. */
void od_events_set_perf_map(int on);
/* The descriptor the log writes to (our duplicate), -1 while the log is off. */
int od_events_log_fd(void);
/* Append the perf-map line of an already compiled unit now (for code compiled before the
 * map was switched on). 0, or -1 with a Python exception set. */
int od_event_perf_map_add(PyCodeObject *co, const OdUnit *u);

void od_event_compiled_report(PyCodeObject *co, const OdUnit *u);
void od_event_exit_report(const OdUnit *u, const _PyInterpreterFrame *f);

static inline void od_event_compiled(PyCodeObject *co, const OdUnit *u)
{
    if (od_event_mask & (OD_EVENT_LOG_COMPILE | OD_EVENT_PERF_MAP))
        od_event_compiled_report(co, u);
}

static inline void od_event_exit(const OdUnit *u, const _PyInterpreterFrame *f)
{
    if (od_event_mask & OD_EVENT_LOG_EXIT)
        od_event_exit_report(u, f);
}

#endif /* OD_HOOK_EVENTS_H */
