/* tier2/hir/text.c — the growing text buffer of the tier-2 printers. See text.h. */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void od_text_put(OdText *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 64;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

PyObject *od_text_finish(OdText *t)
{
    PyObject *s = t->failed ? PyErr_NoMemory()
                            : PyUnicode_FromStringAndSize(t->buf ? t->buf : "", (Py_ssize_t)t->len);
    free(t->buf);
    *t = (OdText){0};
    return s;
}
