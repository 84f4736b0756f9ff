/* module/json_line.h — one line of compact JSON, written in C for OVERDRIVE_STATS_FILE.
 *
 * The stats writer runs at the exit of every process of a benchmark or test run (each
 * `python -c pass` child of python_startup too). Importing json there is not allowed (a
 * module imported during finalization resets CPython's record of an unhandled
 * KeyboardInterrupt) and costs 12 ms; a hand-written encoder in Python cost 0.5M
 * instructions at each exit. This one is the same encoder in C. */
#ifndef OD_MODULE_JSON_LINE_H
#define OD_MODULE_JSON_LINE_H

#include "../od_python.h"

/* `value` as one line of JSON, ASCII only, ending in "\n", as bytes; what stats() returns
 * and what the writer adds to it: dicts (keys written as str(key)), lists, tuples, str, int
 * (bool first: true/false), float (repr(); NaN and the infinities as null), None; anything
 * else as its str(). Separators ", " and ": ", as json.dumps writes them by default.
 * NULL with an exception (MemoryError, RecursionError, an error of a str()). */
PyObject *od_json_line(PyObject *value);

#endif /* OD_MODULE_JSON_LINE_H */
