/* tier2/tier2.c — tier 2's entry points (tier2.h): Python objects in and out. */
#include "tier2.h"

#include "hir/hir.h"
#include "hir/feedback.h"
#include "passes/passes.h"
#include "../hook/hook.h"

#include <string.h>

static int add_stage(PyObject *list, const char *name, OdHirFunc *fn)
{
    if (od_hir_verify(fn) < 0) {
        PyErr_Format(PyExc_AssertionError, "HIR verifier after %s: %s", name, fn->reason);
        return -1;
    }
    PyObject *text = od_hir_print(fn);
    if (!text)
        return -1;
    PyObject *item = Py_BuildValue("(sN)", name, text);
    if (!item)
        return -1;
    int err = PyList_Append(list, item);
    Py_DECREF(item);
    return err;
}

static int build(OdHirFunc *fn, PyCodeObject *co)
{
    int r = od_hir_build(fn, co);
    if (r == 1)
        PyErr_Format(PyExc_ValueError, "tier 2 cannot build %U: %s", co->co_qualname, fn->reason);
    return r == 0 ? 0 : -1;
}

/* Tier 1's unit of `co`, if it has one (its sites are feedback). */
static const OdUnit *tier1_unit(PyCodeObject *co)
{
    OdCodeState *st = od_code_state(co, 0);
    return !st ? NULL : st->tier1 ? st->tier1 : st->unit;
}

PyObject *od_tier2_hir_stages(PyCodeObject *co, PyObject *func, PyObject *passes)
{
    PyObject *names = NULL, *list = NULL;
    if (passes == Py_None) {
        if (!(names = PyList_New(0)))
            return NULL;
        for (int k = 0; k < od_hir_npasses; k++) {
            PyObject *s = PyUnicode_FromString(od_hir_passes[k].name);
            if (!s || PyList_Append(names, s) < 0) {
                Py_XDECREF(s);
                Py_DECREF(names);
                return NULL;
            }
            Py_DECREF(s);
        }
    } else if (!(names = PySequence_Fast(passes, "passes must be a sequence of pass names"))) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *s = PySequence_Fast_GET_ITEM(names, k);
        const char *c = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
        if (!c || !od_hir_find_pass(c)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "unknown tier-2 pass %R", s);
            Py_DECREF(names);
            return NULL;
        }
    }
    OdHirFunc fn;
    OdFeedback fb;
    PyObject *globals = PyFunction_Check(func) ? ((PyFunctionObject *)func)->func_globals : NULL;
    PyObject *builtins = PyFunction_Check(func) ? ((PyFunctionObject *)func)->func_builtins : NULL;
    if (od_feedback_init(&fb, co, tier1_unit(co), globals, builtins) < 0) {
        Py_DECREF(names);
        return NULL;
    }
    if (build(&fn, co) < 0)
        goto fail;
    fn.feedback = &fb;
    if (!(list = PyList_New(0)) || add_stage(list, "build", &fn) < 0)
        goto fail;
    for (Py_ssize_t k = 0; k < n; k++) {
        const OdHirPass *p = od_hir_find_pass(PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(names, k)));
        if (p->run(&fn) < 0 || add_stage(list, p->name, &fn) < 0)
            goto fail;
    }
    od_hir_free(&fn);
    od_feedback_free(&fb);
    Py_DECREF(names);
    return list;
fail:
    od_hir_free(&fn);
    od_feedback_free(&fb);
    Py_XDECREF(list);
    Py_DECREF(names);
    return NULL;
}

PyObject *od_tier2_hir_corrupt(PyCodeObject *co, const char *what)
{
    OdHirFunc fn;
    if (build(&fn, co) < 0) {
        od_hir_free(&fn);
        return NULL;
    }
    PyObject *result = NULL;
    if (od_hir_verify(&fn) < 0) {
        PyErr_Format(PyExc_AssertionError, "HIR verifier before damage: %s", fn.reason);
    } else if (od_hir_corrupt(&fn, what) < 0) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "cannot damage HIR with %s here", what);
    } else if (od_hir_verify(&fn) < 0) {
        result = PyUnicode_FromString(fn.reason);
    } else {
        result = Py_NewRef(Py_None);
    }
    od_hir_free(&fn);
    return result;
}

PyObject *od_tier2_passes(void)
{
    PyObject *list = PyList_New(0);
    for (int k = 0; list && k < od_hir_npasses; k++) {
        PyObject *item = Py_BuildValue("(ss)", od_hir_passes[k].name, od_hir_passes[k].description);
        if (!item || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

/* A type from its text, a class, (class, version), or a handle (bits, class-or-None, version). */
static int as_type(PyObject *o, OdType *t)
{
    if (PyType_Check(o)) {
        *t = od_type_of_class((PyTypeObject *)o, 0);
        return 0;
    }
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == 2 && PyType_Check(PyTuple_GET_ITEM(o, 0))) {
        unsigned long v = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 1));
        if (PyErr_Occurred())
            return -1;
        *t = od_type_of_class((PyTypeObject *)PyTuple_GET_ITEM(o, 0), (unsigned int)v);
        return 0;
    }
    if (PyTuple_Check(o) && PyTuple_GET_SIZE(o) == 3) {
        PyObject *cls = PyTuple_GET_ITEM(o, 1);
        unsigned long bits = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 0));
        unsigned long v = PyErr_Occurred() ? 0 : PyLong_AsUnsignedLong(PyTuple_GET_ITEM(o, 2));
        if (PyErr_Occurred())
            return -1;
        if (bits > OD_TB_ALL || (cls != Py_None && !PyType_Check(cls))) {
            PyErr_Format(PyExc_ValueError, "not a tier-2 type handle: %R", o);
            return -1;
        }
        OdType r = {(uint32_t)bits, cls == Py_None ? NULL : (PyTypeObject *)cls, (unsigned int)v};
        *t = od_type_join(r, od_type_named(OD_TN_Bottom));     /* normalized */
        return 0;
    }
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (s && od_type_parse(s, t) == 0)
        return 0;
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "not a tier-2 type: %R", o);
    return -1;
}

PyObject *od_tier2_type_op(const char *op, PyObject *a, PyObject *b)
{
    OdType ta, tb, r;
    if (as_type(a, &ta) < 0 || (b != NULL && as_type(b, &tb) < 0))
        return NULL;
    if (strcmp(op, "str") == 0) {
        char buf[256];
        od_type_format(ta, buf, sizeof(buf));
        return PyUnicode_FromString(buf);
    }
    if (!b)
        return PyErr_Format(PyExc_TypeError, "type operation %s takes two types", op);
    if (strcmp(op, "sub") == 0)
        return PyBool_FromLong(od_type_sub(ta, tb));
    if (strcmp(op, "join") == 0)
        r = od_type_join(ta, tb);
    else if (strcmp(op, "meet") == 0)
        r = od_type_meet(ta, tb);
    else
        return PyErr_Format(PyExc_ValueError, "unknown type operation %s", op);
    return Py_BuildValue("(kOk)", (unsigned long)r.bits, r.cls ? (PyObject *)r.cls : Py_None,
                         (unsigned long)r.version);
}

PyObject *od_tier2_type_names(void)
{
    PyObject *list = PyList_New(0);
    for (int k = 0; list && k < OD_TN__COUNT; k++) {
        PyObject *s = PyUnicode_FromString(od_type_name_str((OdTypeName)k));
        if (!s || PyList_Append(list, s) < 0)
            Py_CLEAR(list);
        Py_XDECREF(s);
    }
    return list;
}
