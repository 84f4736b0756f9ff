/* module/json_line.c — one line of compact JSON in C (json_line.h). */
#include "json_line.h"

#include <string.h>

/* A growing byte buffer; `failed` once an allocation failed (MemoryError set). */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} Buf;

static int reserve(Buf *b, size_t more)
{
    if (b->failed)
        return -1;
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more)
        cap *= 2;
    char *p = PyMem_Realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        PyErr_NoMemory();
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static int put(Buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int put_str(Buf *b, const char *s) { return put(b, s, strlen(s)); }

static int put_u16_escape(Buf *b, unsigned int unit)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', hex[(unit >> 12) & 15], hex[(unit >> 8) & 15],
                 hex[(unit >> 4) & 15], hex[unit & 15]};
    return put(b, e, sizeof e);
}

/* A str as a JSON string: printable ASCII as itself (quote and backslash escaped), the rest
 * as \uXXXX, above the BMP as a UTF-16 surrogate pair (lone surrogates as themselves). */
static int put_json_string(Buf *b, PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (reserve(b, (size_t)n + 2) < 0 || put(b, "\"", 1) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int r;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            r = put(b, e, 2);
        } else if (c >= ' ' && c <= '~') {
            char ch = (char)c;
            r = put(b, &ch, 1);
        } else if (c < 0x10000) {
            r = put_u16_escape(b, c);
        } else {
            Py_UCS4 v = c - 0x10000;
            r = put_u16_escape(b, 0xD800 | (v >> 10));
            if (r == 0)
                r = put_u16_escape(b, 0xDC00 | (v & 0x3FF));
        }
        if (r < 0)
            return -1;
    }
    return put(b, "\"", 1);
}

/* The ASCII text of a str made by str()/repr() (of an int or a float: ASCII). */
static int put_text_of(Buf *b, PyObject *text)
{
    if (!text)
        return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    int r = s ? put(b, s, (size_t)n) : -1;
    Py_DECREF(text);
    return r;
}

static int put_value(Buf *b, PyObject *v);

static int put_items(Buf *b, PyObject *v)
{
    if (PyDict_Check(v)) {
        PyObject *key, *item;
        Py_ssize_t pos = 0;
        int first = 1;
        if (put(b, "{", 1) < 0)
            return -1;
        while (PyDict_Next(v, &pos, &key, &item)) {
            Py_INCREF(key);
            Py_INCREF(item);
            PyObject *name = PyObject_Str(key);
            int r = name && (first || put(b, ", ", 2) == 0) && put_json_string(b, name) == 0
                    && put(b, ": ", 2) == 0 && put_value(b, item) == 0 ? 0 : -1;
            Py_XDECREF(name);
            Py_DECREF(key);
            Py_DECREF(item);
            if (r < 0)
                return -1;
            first = 0;
        }
        return put(b, "}", 1);
    }
    PyObject *seq = PySequence_Fast(v, "a list or tuple");
    if (!seq || put(b, "[", 1) < 0) {
        Py_XDECREF(seq);
        return -1;
    }
    int r = 0;
    for (Py_ssize_t i = 0; r == 0 && i < PySequence_Fast_GET_SIZE(seq); i++) {
        if (i && put(b, ", ", 2) < 0)
            r = -1;
        else
            r = put_value(b, PySequence_Fast_GET_ITEM(seq, i));
    }
    Py_DECREF(seq);
    return r < 0 ? -1 : put(b, "]", 1);
}

static int put_value(Buf *b, PyObject *v)
{
    if (v == Py_None)
        return put_str(b, "null");
    if (PyBool_Check(v))
        return put_str(b, v == Py_True ? "true" : "false");
    if (PyLong_Check(v)) {
        PyObject *exact = PyNumber_Long(v);
        PyObject *text = exact ? PyObject_Str(exact) : NULL;
        Py_XDECREF(exact);
        return put_text_of(b, text);
    }
    if (PyFloat_Check(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (d != d || d == Py_HUGE_VAL || d == -Py_HUGE_VAL)
            return put_str(b, "null");
        return put_text_of(b, PyObject_Repr(v));
    }
    if (PyUnicode_Check(v))
        return put_json_string(b, v);
    if (PyDict_Check(v) || PyList_Check(v) || PyTuple_Check(v)) {
        if (Py_EnterRecursiveCall(" while writing the stats line"))
            return -1;
        int r = put_items(b, v);
        Py_LeaveRecursiveCall();
        return r;
    }
    PyObject *text = PyObject_Str(v);
    int r = text ? put_json_string(b, text) : -1;
    Py_XDECREF(text);
    return r;
}

PyObject *od_json_line(PyObject *value)
{
    Buf b = {0};
    PyObject *out = NULL;
    if (put_value(&b, value) == 0 && put(&b, "\n", 1) == 0)
        out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    PyMem_Free(b.data);
    return out;
}
