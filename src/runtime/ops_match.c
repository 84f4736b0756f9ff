/* runtime/ops_match.c — the pattern-matching instructions of `match` statements.
 * Semantics (including every error message) follow ceval.c 3.11's MATCH_* instructions. */
#include "helpers.h"

#define TOP() (sp[-1])

OD_HELPER(od_rt_match_mapping)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *res = (Py_TYPE(TOP())->tp_flags & Py_TPFLAGS_MAPPING) ? Py_True : Py_False;
    Py_INCREF(res);
    sp[0] = res;
    return OD_OK;
}

OD_HELPER(od_rt_match_sequence)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *res = (Py_TYPE(TOP())->tp_flags & Py_TPFLAGS_SEQUENCE) ? Py_True : Py_False;
    Py_INCREF(res);
    sp[0] = res;
    return OD_OK;
}

/* A tuple of map[key] for every key, None if a key is missing, NULL on error. Uses
 * map.get(key, sentinel) so that dict subclasses' __missing__ is not triggered. */
static PyObject *mapping_values(PyObject *map, PyObject *keys)
{
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    if (n == 0)
        return PyTuple_New(0);
    PyObject *get = NULL, *seen = NULL, *missing = NULL, *values = NULL;
    int unbound = _PyObject_GetMethod(map, &_Py_ID(get), &get);
    if (!get)
        goto fail;
    if (!(seen = PySet_New(NULL)) || !(missing = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type))
        || !(values = PyTuple_New(n)))
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        int dup = PySet_Contains(seen, key);
        if (dup || PySet_Add(seen, key) < 0) {
            if (dup > 0)
                PyErr_Format(PyExc_ValueError, "mapping pattern checks duplicate key (%R)", key);
            goto fail;
        }
        PyObject *args[3] = {map, key, missing};
        PyObject *v = unbound ? PyObject_Vectorcall(get, args, 3, NULL)
                              : PyObject_Vectorcall(get, args + 1, 2, NULL);
        if (!v)
            goto fail;
        if (v == missing) {
            Py_DECREF(v);
            Py_SETREF(values, Py_NewRef(Py_None));
            break;
        }
        PyTuple_SET_ITEM(values, i, v);
    }
    Py_DECREF(get);
    Py_DECREF(seen);
    Py_DECREF(missing);
    return values;
fail:
    Py_XDECREF(get);
    Py_XDECREF(seen);
    Py_XDECREF(missing);
    Py_XDECREF(values);
    return NULL;
}

OD_HELPER(od_rt_match_keys)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *res = mapping_values(sp[-2], TOP());
    if (!res)
        return OD_ERROR; /* subject and keys stay on the stack */
    sp[0] = res;
    return OD_OK;
}

/* getattr(subject, name) for a class pattern; NULL without an exception = no attribute. */
static PyObject *class_pattern_attr(PyObject *subject, PyTypeObject *type, PyObject *name,
                                    PyObject *seen)
{
    int dup = PySet_Contains(seen, name);
    if (dup || PySet_Add(seen, name) < 0) {
        if (dup > 0)
            PyErr_Format(PyExc_TypeError, "%s() got multiple sub-patterns for attribute %R",
                         type->tp_name, name);
        return NULL;
    }
    PyObject *attr = PyObject_GetAttr(subject, name);
    if (!attr && PyErr_ExceptionMatches(PyExc_AttributeError))
        PyErr_Clear();
    return attr;
}

/* The attributes a class pattern extracts, NULL (no match, or an exception set). */
static PyObject *class_pattern(PyObject *subject, PyObject *cls, Py_ssize_t npos,
                               PyObject *kwnames)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "called match pattern must be a type");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    if (PyObject_IsInstance(subject, cls) <= 0)
        return NULL;
    PyObject *seen = PySet_New(NULL), *attrs = PyList_New(0), *match_args = NULL;
    if (!seen || !attrs)
        goto fail;
    if (npos) {
        int match_self = 0;
        match_args = PyObject_GetAttrString(cls, "__match_args__");
        if (match_args) {
            if (!PyTuple_CheckExact(match_args)) {
                PyErr_Format(PyExc_TypeError, "%s.__match_args__ must be a tuple (got %s)",
                             type->tp_name, Py_TYPE(match_args)->tp_name);
                goto fail;
            }
        } else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            /* Types like int match themselves, unless __match_args__ is defined. */
            match_args = PyTuple_New(0);
            if (!match_args)
                goto fail;
            match_self = PyType_HasFeature(type, _Py_TPFLAGS_MATCH_SELF);
        } else {
            goto fail;
        }
        Py_ssize_t allowed = match_self ? 1 : PyTuple_GET_SIZE(match_args);
        if (allowed < npos) {
            PyErr_Format(PyExc_TypeError, "%s() accepts %d positional sub-pattern%s (%d given)",
                         type->tp_name, (int)allowed, allowed == 1 ? "" : "s", (int)npos);
            goto fail;
        }
        if (match_self) {
            if (PyList_Append(attrs, subject) < 0)
                goto fail;
        } else {
            for (Py_ssize_t i = 0; i < npos; i++) {
                PyObject *name = PyTuple_GET_ITEM(match_args, i);
                if (!PyUnicode_CheckExact(name)) {
                    PyErr_Format(PyExc_TypeError,
                                 "__match_args__ elements must be strings (got %s)",
                                 Py_TYPE(name)->tp_name);
                    goto fail;
                }
                PyObject *attr = class_pattern_attr(subject, type, name, seen);
                if (!attr || PyList_Append(attrs, attr) < 0) {
                    Py_XDECREF(attr);
                    goto fail;
                }
                Py_DECREF(attr);
            }
        }
        Py_CLEAR(match_args);
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
        PyObject *attr = class_pattern_attr(subject, type, PyTuple_GET_ITEM(kwnames, i), seen);
        if (!attr || PyList_Append(attrs, attr) < 0) {
            Py_XDECREF(attr);
            goto fail;
        }
        Py_DECREF(attr);
    }
    Py_SETREF(attrs, PyList_AsTuple(attrs));
    Py_DECREF(seen);
    return attrs;
fail:
    Py_XDECREF(match_args);
    Py_XDECREF(seen);
    Py_XDECREF(attrs);
    return NULL;
}

OD_HELPER(od_rt_match_class)
{
    (void)arg; (void)f;
    PyObject *names = TOP(), *cls = sp[-2], *subject = sp[-3];
    PyObject *attrs = class_pattern(subject, cls, oparg, names);
    Py_DECREF(names);
    Py_DECREF(cls);
    if (!attrs) {
        if (PyErr_Occurred())
            return OD_ERROR; /* subject stays on the stack */
        attrs = Py_NewRef(Py_None);
    }
    Py_DECREF(subject);
    sp[-3] = attrs;
    return OD_OK;
}
