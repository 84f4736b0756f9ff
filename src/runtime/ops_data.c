/* runtime/ops_data.c — helpers that build, take apart and index containers, and the
 * locals/cells instructions that need more than a move. Semantics follow ceval.c 3.11;
 * see helpers.h for the calling contract. */
#include "helpers.h"

#include "frames.h"
#include "gen_resume.h"

#define TOP() (sp[-1])
#define SECOND() (sp[-2])
#define THIRD() (sp[-3])

static PyCodeObject *frame_code(_PyInterpreterFrame *f) { return f->f_code; }

/* The mp_subscript slot CPython gives a class whose __getitem__ is not a C slot wrapper:
 * the one that looks __getitem__ up in the type and calls it (typeobject.c's
 * slot_mp_subscript, which is static). Read once from a probe class, before the first
 * compile (od_rt_init): no compiled code runs before it is set. */
static binaryfunc generic_getitem_slot;

static PyObject *probe_getitem(PyObject *self, PyObject *key)
{
    (void)self; (void)key;
    Py_RETURN_NONE;
}

static PyMethodDef probe_getitem_def = {"__getitem__", probe_getitem, METH_O, NULL};

int od_rt_init(void)
{
    if (generic_getitem_slot)
        return od_rt_nb_slots_init();
    PyObject *fn = PyCFunction_New(&probe_getitem_def, NULL);
    PyObject *ns = fn ? Py_BuildValue("{sO}", "__getitem__", fn) : NULL;
    PyObject *cls = ns ? PyObject_CallFunction((PyObject *)&PyType_Type, "s(O)O",
                                               "_overdrive_getitem_probe",
                                               (PyObject *)&PyBaseObject_Type, ns)
                       : NULL;
    if (cls)
        generic_getitem_slot = ((PyTypeObject *)cls)->tp_as_mapping->mp_subscript;
    Py_XDECREF(cls); /* a class is a cycle (its __mro__ holds it): the next collection frees it */
    Py_XDECREF(ns);
    Py_XDECREF(fn);
    if (!generic_getitem_slot)
        return -1;
    return od_rt_nb_slots_init();
}

/* Whether `container`, a `base` (list or tuple) or an instance of a subclass of it, is
 * subscripted as the base is: the subclass inherited the base's mp_subscript (tuple's, or
 * a C subclass's), or it got the generic slot only because the base's own __getitem__ is
 * in its dict (list's is, METH_COEXIST) and that is still the one found. */
static int item_of_list_or_tuple(PyObject *container, PyTypeObject *base)
{
    PyTypeObject *tp = Py_TYPE(container);
    if (tp == base)
        return 1;
    binaryfunc mp = tp->tp_as_mapping ? tp->tp_as_mapping->mp_subscript : NULL;
    if (mp == base->tp_as_mapping->mp_subscript)
        return 1;
    if (mp != generic_getitem_slot)
        return 0;
    PyObject *own = _PyType_Lookup(base, &_Py_ID(__getitem__));
    return own && _PyType_Lookup(tp, &_Py_ID(__getitem__)) == own;
}

OD_HELPER(od_rt_binary_subscr)
{
    (void)oparg; (void)f;
    OdOpCache *c = arg;
    PyObject *container = SECOND(), *sub = TOP(), *res;
    c->left = Py_TYPE(container);
    c->right = Py_TYPE(sub);
    int is_list = 0;
    if (PyLong_CheckExact(sub) && (size_t)(Py_SIZE(sub) + 1) <= 2
        && ((is_list = PyList_Check(container) && item_of_list_or_tuple(container, &PyList_Type))
            || (PyTuple_Check(container) && item_of_list_or_tuple(container, &PyTuple_Type)))) {
        /* Compact, non-negative index into a list/tuple: the interpreter's
         * BINARY_SUBSCR_LIST_INT/TUPLE_INT fast path, also for subclasses that keep the
         * base's subscript (namedtuples, email's TokenList), which it leaves generic. */
        Py_ssize_t i = Py_SIZE(sub) == 0 ? 0 : (Py_ssize_t)((PyLongObject *)sub)->ob_digit[0];
        if (Py_SIZE(sub) >= 0 && i < Py_SIZE(container)) {
            res = is_list ? PyList_GET_ITEM(container, i) : PyTuple_GET_ITEM(container, i);
            Py_INCREF(res);
            c->fast++;
            goto done;
        }
    }
    if ((res = od_str_char_at(container, sub))) {   /* a str's character (helpers.h) */
        Py_INCREF(res);
        c->fast++;
        goto done;
    }
    if (PyDict_CheckExact(container)) {
        res = PyDict_GetItemWithError(container, sub);
        if (res) {
            Py_INCREF(res);
            c->fast++;
            goto done;
        }
        if (PyErr_Occurred())
            goto fail;
        /* missing key: dict subclasses' __missing__ does not apply to exact dicts */
        _PyErr_SetKeyError(sub);
        goto fail;
    }
    PyMappingMethods *mp = Py_TYPE(container)->tp_as_mapping;
    if (mp && mp->mp_subscript == generic_getitem_slot) {
        /* A class whose __getitem__ is a Python function (what the interpreter's
         * BINARY_SUBSCR_GETITEM runs): call it on a frame pushed here, as a CALL does,
         * instead of PyObject_GetItem -> slot_mp_subscript -> vectorcall -> the hook.
         * That slot looks __getitem__ up in the type and calls it with (container, sub)
         * as an unbound function: the same call. Anything else (a builtin, a bound
         * method object, a shape od_rt_call_python refuses) takes the slot's own path. */
        PyObject *getitem = _PyType_Lookup(Py_TYPE(container), &_Py_ID(__getitem__));
        if (getitem && Py_IS_TYPE(getitem, &PyFunction_Type)) {
            PyObject *args[2] = {container, sub};
            int done;
            Py_INCREF(getitem);
            res = od_rt_call_python(_PyThreadState_GET(), getitem, args, 2, NULL, &done);
            if (done) {
                /* __getitem__ and both operands moved into its frame, now released: no
                 * stack slot may keep pointing at them (as in od_rt_call) */
                c->fast++;
                sp[-1] = NULL;
                sp[-2] = res;
                return res ? OD_OK : OD_ERROR;
            }
            Py_DECREF(getitem);
        }
    }
    c->slow++;
    res = PyObject_GetItem(container, sub);
    if (!res)
        goto fail;
done:
    Py_DECREF(container);
    Py_DECREF(sub);
    sp[-2] = res;
    return OD_OK;
fail:
    Py_DECREF(container);
    Py_DECREF(sub);
    return OD_ERROR;
}

OD_HELPER(od_rt_store_subscr)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *sub = TOP(), *container = SECOND(), *v = THIRD();
    if (PyList_CheckExact(container) && PyLong_CheckExact(sub) && (size_t)Py_SIZE(sub) <= 1) {
        /* list[i] = v with a one-digit non-negative index in range (STORE_SUBSCR_LIST_INT) */
        Py_ssize_t i = Py_SIZE(sub) == 0 ? 0 : (Py_ssize_t)((PyLongObject *)sub)->ob_digit[0];
        if (i < PyList_GET_SIZE(container)) {
            PyObject *old = PyList_GET_ITEM(container, i);
            PyList_SET_ITEM(container, i, v); /* the stack's reference moves into the list */
            Py_DECREF(old);
            Py_DECREF(container);
            Py_DECREF(sub);
            return OD_OK;
        }
    }
    int err = PyObject_SetItem(container, sub, v);
    Py_DECREF(v);
    Py_DECREF(container);
    Py_DECREF(sub);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_delete_subscr)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *sub = TOP(), *container = SECOND();
    int err = PyObject_DelItem(container, sub);
    Py_DECREF(container);
    Py_DECREF(sub);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_get_iter)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *iterable = TOP();
    PyObject *iter = PyObject_GetIter(iterable);
    Py_DECREF(iterable);
    if (!iter)
        return OD_ERROR;
    sp[-1] = iter;
    return OD_OK;
}

OD_HELPER(od_rt_for_iter)
{
    (void)oparg; (void)f;
    PyObject *iter = TOP();
    OdOpCache *c = arg;
    c->left = c->right = Py_TYPE(iter);
    c->slow++;
    if (Py_IS_TYPE(iter, &PyGen_Type)) {
        /* A compiled generator: straight into its native code (gen_resume.h). Its return
         * value ends the loop like gen_iternext's StopIteration(value), which FOR_ITER
         * clears. */
        PyObject *r;
        int status = od_rt_gen_resume(_PyThreadState_GET(), (PyGenObject *)iter, NULL, &r);
        if (status == PYGEN_NEXT) {
            sp[0] = r;
            return OD_OK;
        }
        if (status == PYGEN_ERROR)
            return OD_ERROR;
        if (status == PYGEN_RETURN) {
            Py_DECREF(r);
            sp[-1] = NULL;
            Py_DECREF(iter);
            return OD_JUMP;
        }
    }
    PyObject *next = (*Py_TYPE(iter)->tp_iternext)(iter);
    if (next) {
        sp[0] = next;
        return OD_OK;
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_StopIteration))
            return OD_ERROR;
        PyErr_Clear();
    }
    sp[-1] = NULL;
    Py_DECREF(iter);
    return OD_JUMP;
}

OD_HELPER(od_rt_get_yield_from_iter)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *iterable = TOP();
    if (PyCoro_CheckExact(iterable))
        return OD_DEOPT; /* coroutines: the interpreter's checks and messages */
    if (PyGen_CheckExact(iterable))
        return OD_OK;
    PyObject *iter = PyObject_GetIter(iterable);
    Py_DECREF(iterable);
    if (!iter)
        return OD_ERROR;
    sp[-1] = iter;
    return OD_OK;
}

OD_HELPER(od_rt_get_len)
{
    (void)oparg; (void)arg; (void)f;
    Py_ssize_t n = PyObject_Length(TOP());
    if (n < 0)
        return OD_ERROR;
    PyObject *o = PyLong_FromSsize_t(n);
    if (!o)
        return OD_ERROR;
    sp[0] = o;
    return OD_OK;
}

OD_HELPER(od_rt_build_tuple)
{
    (void)arg; (void)f;
    PyObject *t = PyTuple_New(oparg);
    if (!t)
        return OD_ERROR;
    for (int i = 0; i < oparg; i++)
        PyTuple_SET_ITEM(t, i, sp[i - oparg]);
    sp[-oparg] = t;
    return OD_OK;
}

OD_HELPER(od_rt_build_list)
{
    (void)arg; (void)f;
    PyObject *l = PyList_New(oparg);
    if (!l)
        return OD_ERROR;
    for (int i = 0; i < oparg; i++)
        PyList_SET_ITEM(l, i, sp[i - oparg]);
    sp[-oparg] = l;
    return OD_OK;
}

OD_HELPER(od_rt_build_set)
{
    (void)arg; (void)f;
    PyObject *s = PySet_New(NULL);
    int err = s == NULL;
    for (int i = 0; i < oparg; i++) {
        PyObject *item = sp[i - oparg];
        if (!err)
            err = PySet_Add(s, item) != 0;
        Py_DECREF(item);
        sp[i - oparg] = NULL; /* released: an error leaves NULLs, which the unwinder skips */
    }
    if (err) {
        Py_XDECREF(s);
        return OD_ERROR;
    }
    sp[-oparg] = s;
    return OD_OK;
}

OD_HELPER(od_rt_build_map)
{
    (void)arg; (void)f;
    PyObject *d = _PyDict_NewPresized(oparg);
    if (!d)
        return OD_ERROR;
    for (int i = 0; i < oparg; i++) {
        PyObject *k = sp[2 * (i - oparg)], *v = sp[2 * (i - oparg) + 1];
        if (PyDict_SetItem(d, k, v) != 0) {
            Py_DECREF(d);
            return OD_ERROR;
        }
    }
    for (int i = 0; i < 2 * oparg; i++)
        Py_DECREF(sp[i - 2 * oparg]);
    sp[-2 * oparg] = d;
    return OD_OK;
}

OD_HELPER(od_rt_build_const_key_map)
{
    (void)arg; (void)f;
    PyObject *keys = TOP();
    if (!PyTuple_CheckExact(keys) || PyTuple_GET_SIZE(keys) != (Py_ssize_t)oparg) {
        PyErr_SetString(PyExc_SystemError, "bad BUILD_CONST_KEY_MAP keys argument");
        return OD_ERROR;
    }
    PyObject *d = _PyDict_NewPresized(oparg);
    if (!d)
        return OD_ERROR;
    for (int i = 0; i < oparg; i++) {
        if (PyDict_SetItem(d, PyTuple_GET_ITEM(keys, i), sp[i - oparg - 1]) != 0) {
            Py_DECREF(d);
            return OD_ERROR;
        }
    }
    for (int i = 0; i <= oparg; i++)
        Py_DECREF(sp[i - oparg - 1]);
    sp[-oparg - 1] = d;
    return OD_OK;
}

OD_HELPER(od_rt_build_string)
{
    (void)arg; (void)f;
    PyObject *empty = PyUnicode_New(0, 0);
    if (!empty)
        return OD_ERROR;
    PyObject *s = _PyUnicode_JoinArray(empty, sp - oparg, oparg);
    Py_DECREF(empty);
    if (!s)
        return OD_ERROR;
    for (int i = 0; i < oparg; i++)
        Py_DECREF(sp[i - oparg]);
    sp[-oparg] = s;
    return OD_OK;
}

OD_HELPER(od_rt_build_slice)
{
    (void)arg; (void)f;
    PyObject *step = oparg == 3 ? TOP() : NULL;
    PyObject *stop = sp[-(oparg - 1)], *start = sp[-oparg];
    PyObject *s = PySlice_New(start, stop, step);
    if (!s)
        return OD_ERROR;
    Py_DECREF(start);
    Py_DECREF(stop);
    Py_XDECREF(step);
    sp[-oparg] = s;
    return OD_OK;
}

OD_HELPER(od_rt_list_append)
{
    (void)arg; (void)f;
    PyObject *v = TOP();
    int err = PyList_Append(sp[-1 - oparg], v);
    Py_DECREF(v);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_set_add)
{
    (void)arg; (void)f;
    PyObject *v = TOP();
    int err = PySet_Add(sp[-1 - oparg], v);
    Py_DECREF(v);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_map_add)
{
    (void)arg; (void)f;
    PyObject *value = TOP(), *key = SECOND();
    /* the dict is below the key/value pair: PEEK(oparg + 2) before popping */
    int err = PyDict_SetItem(sp[-2 - oparg], key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_list_extend)
{
    (void)arg; (void)f;
    PyObject *iterable = TOP(), *list = sp[-1 - oparg];
    PyObject *none = _PyList_Extend((PyListObject *)list, iterable);
    if (!none) {
        if (PyErr_ExceptionMatches(PyExc_TypeError) && Py_TYPE(iterable)->tp_iter == NULL
            && !PySequence_Check(iterable)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "Value after * must be an iterable, not %.200s",
                         Py_TYPE(iterable)->tp_name);
        }
        Py_DECREF(iterable);
        return OD_ERROR;
    }
    Py_DECREF(none);
    Py_DECREF(iterable);
    return OD_OK;
}

OD_HELPER(od_rt_set_update)
{
    (void)arg; (void)f;
    PyObject *iterable = TOP();
    int err = _PySet_Update(sp[-1 - oparg], iterable);
    Py_DECREF(iterable);
    return err < 0 ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_dict_update)
{
    (void)arg; (void)f;
    PyObject *update = TOP();
    if (PyDict_Update(sp[-1 - oparg], update) < 0) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Format(PyExc_TypeError, "'%.200s' object is not a mapping",
                         Py_TYPE(update)->tp_name);
        }
        Py_DECREF(update);
        return OD_ERROR;
    }
    Py_DECREF(update);
    return OD_OK;
}

OD_HELPER(od_rt_dict_merge)
{
    (void)arg; (void)f;
    PyObject *update = TOP();
    /* Duplicate keywords and non-mapping errors carry messages built from the callee
     * (format_kwargs_error is private to ceval): leave those cases to the interpreter. */
    if (!PyDict_CheckExact(update))
        return OD_DEOPT;
    PyObject *dict = sp[-1 - oparg];
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(update, &pos, &k, &v)) {
        int has = PyDict_Contains(dict, k);
        if (has != 0) {
            if (has < 0)
                PyErr_Clear();  /* the interpreter will meet (and raise) it again */
            return OD_DEOPT;
        }
    }
    if (PyDict_Update(dict, update) < 0) {
        Py_DECREF(update);
        return OD_ERROR;
    }
    Py_DECREF(update);
    return OD_OK;
}

OD_HELPER(od_rt_list_to_tuple)
{
    (void)oparg; (void)arg; (void)f;
    PyObject *list = TOP();
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    if (!t)
        return OD_ERROR;
    sp[-1] = t;
    return OD_OK;
}

OD_HELPER(od_rt_unpack_sequence)
{
    (void)arg; (void)f;
    PyObject *seq = TOP();
    PyObject **items;
    if (PyTuple_CheckExact(seq) && PyTuple_GET_SIZE(seq) == oparg)
        items = &PyTuple_GET_ITEM(seq, 0);
    else if (PyList_CheckExact(seq) && PyList_GET_SIZE(seq) == oparg)
        items = ((PyListObject *)seq)->ob_item;
    else
        return OD_DEOPT; /* general iterables and the error messages: the interpreter */
    /* pushed so that items[0] ends on top */
    for (int i = 0; i < oparg; i++) {
        Py_INCREF(items[i]);
        sp[-1 + (oparg - 1 - i)] = items[i];
    }
    Py_DECREF(seq);
    return OD_OK;
}

OD_HELPER(od_rt_unpack_ex)
{
    (void)arg; (void)f;
    int before = oparg & 0xFF, after = oparg >> 8;
    PyObject *seq = TOP();
    if (!PyTuple_CheckExact(seq) && !PyList_CheckExact(seq))
        return OD_DEOPT; /* general iterables and the error messages: the interpreter */
    Py_ssize_t n = Py_SIZE(seq);
    if (n < before + after)
        return OD_DEOPT;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *middle = PyList_New(n - before - after);
    if (!middle)
        return OD_ERROR;
    for (Py_ssize_t i = 0; i < n - before - after; i++) {
        Py_INCREF(items[before + i]);
        PyList_SET_ITEM(middle, i, items[before + i]);
    }
    /* Logical element k (b0..b_before-1, middle, a0..) goes to base + total - 1 - k. */
    PyObject **base = sp - 1;
    int total = before + 1 + after;
    for (int k = 0; k < before; k++) {
        Py_INCREF(items[k]);
        base[total - 1 - k] = items[k];
    }
    for (int k = 0; k < after; k++) {
        Py_INCREF(items[n - after + k]);
        base[after - 1 - k] = items[n - after + k];
    }
    base[after] = middle;
    Py_DECREF(seq);
    return OD_OK;
}

OD_HELPER(od_rt_format_value)
{
    (void)arg; (void)f;
    int have_spec = (oparg & FVS_MASK) == FVS_HAVE_SPEC;
    PyObject *spec = have_spec ? TOP() : NULL;
    PyObject **slot = have_spec ? &sp[-2] : &sp[-1];
    PyObject *value = *slot, *res;
    PyObject *(*conv)(PyObject *) = NULL;
    switch (oparg & FVC_MASK) {
    case FVC_NONE: break;
    case FVC_STR: conv = PyObject_Str; break;
    case FVC_REPR: conv = PyObject_Repr; break;
    case FVC_ASCII: conv = PyObject_ASCII; break;
    default: return OD_DEOPT;
    }
    if (conv) {
        res = conv(value);
        if (!res)
            return OD_ERROR;
        Py_SETREF(*slot, res);
        value = res;
    }
    if (PyUnicode_CheckExact(value) && spec == NULL)
        return OD_OK;
    res = PyObject_Format(value, spec);
    if (!res)
        return OD_ERROR;
    Py_SETREF(*slot, res);
    if (spec) {
        sp[-1] = NULL;
        Py_DECREF(spec);
    }
    return OD_OK;
}

/* ---- locals, cells, free variables ---------------------------------------------- */

OD_HELPER(od_rt_delete_fast)
{
    (void)arg; (void)sp;
    PyObject *v = f->localsplus[oparg];
    if (!v)
        return OD_DEOPT; /* UnboundLocalError: raised by the interpreter */
    f->localsplus[oparg] = NULL;
    Py_DECREF(v);
    return OD_OK;
}

OD_HELPER(od_rt_make_cell)
{
    (void)arg; (void)sp;
    PyObject *initial = f->localsplus[oparg];
    PyObject *cell = PyCell_New(initial);
    if (!cell)
        return OD_ERROR;
    f->localsplus[oparg] = cell;
    Py_XDECREF(initial);
    return OD_OK;
}

OD_HELPER(od_rt_copy_free_vars)
{
    (void)arg; (void)sp;
    PyCodeObject *co = frame_code(f);
    PyObject *closure = f->f_func->func_closure;
    int offset = co->co_nlocals + co->co_nplaincellvars;
    for (int i = 0; i < oparg; i++) {
        PyObject *o = PyTuple_GET_ITEM(closure, i);
        Py_INCREF(o);
        f->localsplus[offset + i] = o;
    }
    return OD_OK;
}

OD_HELPER(od_rt_load_deref)
{
    (void)arg;
    PyObject *v = PyCell_GET(f->localsplus[oparg]);
    if (!v)
        return OD_DEOPT; /* unbound: the interpreter raises the exact NameError */
    Py_INCREF(v);
    sp[0] = v;
    return OD_OK;
}

OD_HELPER(od_rt_store_deref)
{
    (void)arg;
    PyObject *v = TOP();
    PyObject *cell = f->localsplus[oparg];
    PyObject *old = PyCell_GET(cell);
    PyCell_SET(cell, v);
    Py_XDECREF(old);
    return OD_OK;
}

OD_HELPER(od_rt_delete_deref)
{
    (void)arg; (void)sp;
    PyObject *cell = f->localsplus[oparg];
    PyObject *old = PyCell_GET(cell);
    if (!old)
        return OD_DEOPT;
    PyCell_SET(cell, NULL);
    Py_DECREF(old);
    return OD_OK;
}

OD_HELPER(od_rt_load_classderef)
{
    (void)arg;
    PyObject *locals = f->f_locals;
    PyObject *name = PyTuple_GET_ITEM(frame_code(f)->co_localsplusnames, oparg);
    PyObject *v;
    if (od_rt_lookup_locals(locals, name, &v) < 0)
        return OD_ERROR;
    if (!v) {
        v = PyCell_GET(f->localsplus[oparg]);
        if (!v)
            return OD_DEOPT;
        Py_INCREF(v);
    }
    sp[0] = v;
    return OD_OK;
}
