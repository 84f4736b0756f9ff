/* module/autoload.h — the OVERDRIVE=1 start-up autoload's common road, in C.
 *
 * overdrive-autoload.pth (installed at the top of site-packages) is one line that site.py
 * runs in every process of the environment: with OVERDRIVE set, it imports this C core and
 * calls _autoload(). The usual settings (OVERDRIVE=1, an OVERDRIVE_THRESHOLD that is a plain
 * number, an OVERDRIVE_STATS_FILE that can be appended to) are handled here without any
 * Python module: a module of Python, found on sys.path, read and run, cost each start-up
 * 0.75M instructions, half of what the JIT added to `python -c pass` (docs/performance.md,
 * "Start-up cost"). Everything else (a value to refuse or report, the variables the package
 * reads, `python -m overdrive --stats`) goes to the Python autoload, _overdrive_autoload.py,
 * which does the whole start-up as before; it is only imported then.
 *
 * The two roads agree: whatever the C road accepts, the Python one accepts the same way
 * (tests/test_options.py runs both). */
#ifndef OD_MODULE_AUTOLOAD_H
#define OD_MODULE_AUTOLOAD_H

#include "../od_python.h"

/* Add _autoload() and _write_stats_line(path) to the module `m` and return it; on failure
 * (or if `m` is NULL) release it and return NULL with an exception set.
 *
 * _autoload(): read OVERDRIVE and the other variables, and enable the JIT or leave it off,
 *   as _overdrive_autoload.start() does; never raises (a problem is one line on stderr).
 * _write_stats_line(path): the OVERDRIVE_STATS_FILE writer, registered with atexit by
 *   both roads: one line of JSON {"pid", "argv", "stats"} appended to `path` with one
 *   write(2) in O_APPEND mode (lines of processes exiting together do not mix), after
 *   switching the JIT off (it would compile nothing useful at exit). Imports nothing: a
 *   module imported during finalization resets CPython's record of an unhandled
 *   KeyboardInterrupt (test_runpy TestExit). An error is one line on stderr. */
PyObject *od_autoload_add(PyObject *m);

#endif /* OD_MODULE_AUTOLOAD_H */
