/* module/autoload.c — the OVERDRIVE=1 start-up autoload's common road (autoload.h). */
#include "autoload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../hook/hook.h"
#include "json_line.h"

/* What _overdrive_autoload.start() reads OVERDRIVE as, after strip().lower(). */
static const char *const on_words[] = {"1", "true", "yes", "on", NULL};
static const char *const off_words[] = {"", "0", "false", "no", "off", NULL};

/* Variables the package reads at import: with one of them set (not empty), the package is
 * imported, so the Python road is taken. `python -m overdrive --stats` sets the last one
 * (the Python road removes it from the environment). */
static const char *const python_road_variables[] = {
    "OVERDRIVE_LOG", "OVERDRIVE_LOG_FILE", "OVERDRIVE_PERF_MAP", "OVERDRIVE_TIER2_THRESHOLD",
    NULL};
#define LAUNCHER_STATS "_OVERDRIVE_LAUNCHER_STATS"

enum word { WORD_ON, WORD_OFF, WORD_OTHER };

/* `value` as start() reads it. ASCII only: a value with any other byte is WORD_OTHER,
 * which the Python road then reads itself (its strip() and lower() are Unicode's). */
static enum word read_word(const char *value)
{
    char word[8];
    size_t n = 0;
    while (*value == ' ' || (*value >= '\t' && *value <= '\r'))
        value++;
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || (value[len - 1] >= '\t' && value[len - 1] <= '\r')))
        len--;
    if (len >= sizeof word)
        return WORD_OTHER;
    for (; n < len; n++) {
        unsigned char c = (unsigned char)value[n];
        if (c >= 0x80)
            return WORD_OTHER;
        word[n] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    word[n] = '\0';
    for (int i = 0; on_words[i]; i++)
        if (!strcmp(word, on_words[i]))
            return WORD_ON;
    for (int i = 0; off_words[i]; i++)
        if (!strcmp(word, off_words[i]))
            return WORD_OFF;
    return WORD_OTHER;
}

static const char *set_variable(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* OVERDRIVE_THRESHOLD when it is decimal digits only, in range: -1 otherwise (the Python
 * road then says what it accepts, or reads a form int() takes, " 5" or "1_000"). */
static long long plain_threshold(const char *text)
{
    long long v = 0;
    if (!*text)
        return -1;
    for (; *text; text++) {
        if (*text < '0' || *text > '9' || v > OD_THRESHOLD_MAX / 10)
            return -1;
        v = v * 10 + (*text - '0');
    }
    return v <= OD_THRESHOLD_MAX ? v : -1;
}

/* A file that open(2) can append to (created if missing), as the writer will open it. */
static int appendable(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* One line on sys.stderr, as the Python autoload's _warn writes it; never raises. Any
 * exception set on entry is dropped (the caller has put it into `line` already). */
static void warn(PyObject *line)
{
    PyErr_Clear();
    PyObject *err = PySys_GetObject("stderr");      /* borrowed */
    if (line && err && err != Py_None && PyFile_WriteObject(line, err, Py_PRINT_RAW) == 0) {
        PyObject *r = PyObject_CallMethod(err, "flush", NULL);
        Py_XDECREF(r);
    }
    Py_XDECREF(line);
    PyErr_Clear();
}

/* The exception set now as "Type: message", for a warning; clears it. */
static PyObject *take_exception_text(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *text = value ? PyUnicode_FromFormat("%s: %S", _PyType_Name(Py_TYPE(value)), value)
                           : NULL;
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    return text;
}

/* The whole start-up by the Python autoload (importing it runs it). */
static PyObject *python_road(const char *value)
{
    PyObject *m = PyImport_ImportModule("_overdrive_autoload");
    if (m) {
        Py_DECREF(m);
        Py_RETURN_NONE;
    }
    PyObject *why = take_exception_text();
    warn(why ? PyUnicode_FromFormat("overdrive: OVERDRIVE=%s but the JIT cannot be loaded (%U); "
                                    "the JIT stays off\n", value, why)
             : NULL);
    Py_XDECREF(why);
    Py_RETURN_NONE;
}

static PyObject *autoload(PyObject *m, PyObject *noargs)
{
    (void)noargs;
    /* Once per process: site.py reads the .pth twice where site-packages is reached by two
     * paths (a virtual environment's lib64 -> lib link). */
    static int done;
    const char *value = getenv("OVERDRIVE");
    if (done || !value)
        Py_RETURN_NONE;
    done = 1;
    enum word word = read_word(value);
    int launcher = getenv(LAUNCHER_STATS) != NULL;    /* the Python road removes it */
    if (word == WORD_OFF && !launcher)
        Py_RETURN_NONE;
    int python = word != WORD_ON || launcher;
    for (int i = 0; !python && python_road_variables[i]; i++)
        python = set_variable(python_road_variables[i]) != NULL;
    const char *threshold_text = set_variable("OVERDRIVE_THRESHOLD");
    long long threshold = threshold_text ? plain_threshold(threshold_text) : -1;
    python |= threshold_text && threshold < 0;
    const char *stats_path = set_variable("OVERDRIVE_STATS_FILE");
    python |= stats_path && !appendable(stats_path);
    if (python)
        return python_road(value);

    if (threshold_text)
        od_config.threshold = (int)threshold;
    PyObject *atexit = NULL;
    if (stats_path) {
        /* Imported now, before the JIT is on, not at exit (see autoload.h). */
        atexit = PyImport_ImportModule("atexit");
        if (!atexit) {
            PyObject *why = take_exception_text();
            warn(why ? PyUnicode_FromFormat("overdrive: OVERDRIVE_STATS_FILE: %U; ignored, no "
                                            "stats are written\n", why) : NULL);
            Py_XDECREF(why);
            stats_path = NULL;
        }
    }
    if (od_hook_install() < 0) {
        PyObject *why = take_exception_text();
        warn(why ? PyUnicode_FromFormat("overdrive: OVERDRIVE=%s but the JIT cannot be enabled "
                                        "(%U); the JIT stays off\n", value, why) : NULL);
        Py_XDECREF(why);
        Py_XDECREF(atexit);
        Py_RETURN_NONE;
    }
    if (stats_path) {
        PyObject *writer = PyObject_GetAttrString(m, "_write_stats_line");
        PyObject *path = PyUnicode_DecodeFSDefault(stats_path);
        PyObject *r = writer && path
            ? PyObject_CallMethod(atexit, "register", "OO", writer, path) : NULL;
        if (!r) {
            PyObject *why = take_exception_text();
            warn(why ? PyUnicode_FromFormat("overdrive: OVERDRIVE_STATS_FILE: %U; no stats are "
                                            "written\n", why) : NULL);
            Py_XDECREF(why);
        }
        Py_XDECREF(r);
        Py_XDECREF(path);
        Py_XDECREF(writer);
    }
    Py_XDECREF(atexit);
    Py_RETURN_NONE;
}

/* Append all of `data` to `path` with write(2)s in O_APPEND mode: 0, or an errno. */
static int append(const char *path, const char *data, size_t size)
{
    int fd;
    do
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno;
    int error = 0;
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = n < 0 ? errno : EIO;
            break;
        }
        data += n;
        size -= (size_t)n;
    }
    close(fd);
    return error;
}

static PyObject *write_stats_line(PyObject *m, PyObject *path)
{
    PyObject *stats = PyObject_CallMethod(m, "stats", NULL);
    PyObject *argv = PySys_GetObject("argv");       /* borrowed */
    PyObject *record = stats ? Py_BuildValue("{s:i,s:O,s:O}", "pid", (int)getpid(),
                                             "argv", argv ? argv : Py_None, "stats", stats)
                             : NULL;
    Py_XDECREF(stats);
    /* The JIT is switched off first: it would compile code run at exit for nothing. What
     * runs after this (atexit handlers registered earlier, finalization) is interpreted. */
    od_hook_uninstall();
    PyObject *line = record ? od_json_line(record) : NULL;
    Py_XDECREF(record);
    PyObject *encoded = NULL;
    if (!line || !PyUnicode_FSConverter(path, &encoded)) {
        Py_XDECREF(line);
        return NULL;
    }
    int error = append(PyBytes_AS_STRING(encoded), PyBytes_AS_STRING(line),
                       (size_t)PyBytes_GET_SIZE(line));
    Py_DECREF(encoded);
    Py_DECREF(line);
    if (error)
        warn(PyUnicode_FromFormat("overdrive: cannot append stats to OVERDRIVE_STATS_FILE %R "
                                  "(%s)\n", path, strerror(error)));
    Py_RETURN_NONE;
}

static PyMethodDef autoload_methods[] = {
    {"_autoload", autoload, METH_NOARGS,
     "Start-up: enable the JIT as the OVERDRIVE* variables say (overdrive-autoload.pth)."},
    {"_write_stats_line", write_stats_line, METH_O,
     "At exit: append one JSON line of stats() to the OVERDRIVE_STATS_FILE given."},
    {NULL, NULL, 0, NULL},
};

PyObject *od_autoload_add(PyObject *m)
{
    if (m && PyModule_AddFunctions(m, autoload_methods) < 0)
        Py_CLEAR(m);
    return m;
}
