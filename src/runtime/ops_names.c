/* runtime/ops_names.c — globals, builtins, names (class and module bodies), attributes,
 * methods and imports. LOAD_GLOBAL caches the value per site, keyed on the version tags of
 * the globals and builtins dicts (any change to either dict changes its tag). */
#include "helpers.h"

#define TOP() (sp[-1])
#define SECOND() (sp[-2])

/* NameError("name 'x' is not defined") with .name set, as the interpreter raises it. */
static void raise_name_error(PyObject *name)
{
    const char *s = PyUnicode_AsUTF8(name);
    if (!s)
        return;
    PyErr_Format(PyExc_NameError, "name '%.200s' is not defined", s);
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (PyErr_GivenExceptionMatches(value, PyExc_NameError)
        && ((PyNameErrorObject *)value)->name == NULL)
        (void)PyObject_SetAttrString(value, "name", name);
    PyErr_Restore(type, value, tb);
}

/* Look `name` up in builtins (any mapping); new reference or NULL with NameError set. */
static PyObject *load_builtin(PyObject *builtins, PyObject *name)
{
    PyObject *v;
    if (PyDict_CheckExact(builtins)) {
        v = PyDict_GetItemWithError(builtins, name);
        if (!v) {
            if (!PyErr_Occurred())
                raise_name_error(name);
            return NULL;
        }
        Py_INCREF(v);
        return v;
    }
    v = PyObject_GetItem(builtins, name);
    if (!v && PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        raise_name_error(name);
    }
    return v;
}

OD_HELPER(od_rt_load_global)
{
    OdGlobalSite *site = arg;
    OdGlobalCache *c = &site->cache;
    PyObject *globals = f->f_globals, *builtins = f->f_builtins, *v;
    int push_null = oparg & 1;
    if (PyDict_CheckExact(globals) && PyDict_CheckExact(builtins)) {
        uint64_t gv = ((PyDictObject *)globals)->ma_version_tag;
        uint64_t bv = ((PyDictObject *)builtins)->ma_version_tag;
        if (c->value && c->globals_version == gv && c->builtins_version == bv) {
            c->hits++;
            v = c->value;
            Py_INCREF(v);
        } else {
            c->misses++;
            v = PyDict_GetItemWithError(globals, site->name);
            if (!v) {
                if (PyErr_Occurred())
                    return OD_ERROR;
                v = PyDict_GetItemWithError(builtins, site->name);
                if (!v) {
                    if (!PyErr_Occurred())
                        raise_name_error(site->name);
                    return OD_ERROR;
                }
            }
            /* The versions read before the lookups: if a lookup changed either dict the
             * next access simply misses. */
            c->globals_version = gv;
            c->builtins_version = bv;
            c->value = v;
            Py_INCREF(v);
        }
    } else {
        v = PyObject_GetItem(globals, site->name);
        if (!v) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError))
                return OD_ERROR;
            PyErr_Clear();
            v = load_builtin(builtins, site->name);
            if (!v)
                return OD_ERROR;
        }
    }
    if (push_null)
        sp[0] = NULL;
    sp[push_null] = v;
    return OD_OK;
}

OD_HELPER(od_rt_store_global)
{
    (void)oparg;
    PyObject *v = TOP();
    int err = PyDict_SetItem(f->f_globals, arg, v);
    Py_DECREF(v);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_delete_global)
{
    (void)oparg; (void)sp;
    if (PyDict_DelItem(f->f_globals, arg) != 0) {
        if (PyErr_ExceptionMatches(PyExc_KeyError)) {
            PyErr_Clear();
            raise_name_error(arg);
        }
        return OD_ERROR;
    }
    return OD_OK;
}

OD_HELPER(od_rt_load_name)
{
    (void)oparg;
    PyObject *name = arg, *locals = f->f_locals, *v;
    if (!locals) {
        PyErr_Format(PyExc_SystemError, "no locals when loading %R", name);
        return OD_ERROR;
    }
    if (PyDict_CheckExact(locals)) {
        v = PyDict_GetItemWithError(locals, name);
        if (v)
            Py_INCREF(v);
        else if (PyErr_Occurred())
            return OD_ERROR;
    } else {
        v = PyObject_GetItem(locals, name);
        if (!v) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError))
                return OD_ERROR;
            PyErr_Clear();
        }
    }
    if (!v) {
        v = PyDict_GetItemWithError(f->f_globals, name);
        if (v)
            Py_INCREF(v);
        else if (PyErr_Occurred())
            return OD_ERROR;
        else if (!(v = load_builtin(f->f_builtins, name)))
            return OD_ERROR;
    }
    sp[0] = v;
    return OD_OK;
}

OD_HELPER(od_rt_store_name)
{
    (void)oparg;
    PyObject *name = arg, *locals = f->f_locals, *v = TOP();
    int err;
    if (!locals) {
        PyErr_Format(PyExc_SystemError, "no locals found when storing %R", name);
        Py_DECREF(v);
        return OD_ERROR;
    }
    err = PyDict_CheckExact(locals) ? PyDict_SetItem(locals, name, v)
                                    : PyObject_SetItem(locals, name, v);
    Py_DECREF(v);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_delete_name)
{
    (void)oparg; (void)sp;
    PyObject *name = arg, *locals = f->f_locals;
    if (!locals) {
        PyErr_Format(PyExc_SystemError, "no locals when deleting %R", name);
        return OD_ERROR;
    }
    if (PyObject_DelItem(locals, name) != 0) {
        PyErr_Clear();
        raise_name_error(name);
        return OD_ERROR;
    }
    return OD_OK;
}

static void record_type(OdAttrCache *c, PyObject *owner)
{
    PyTypeObject *t = Py_TYPE(owner);
    if (c->type == t && c->type_version == t->tp_version_tag) {
        c->hits++;
        return;
    }
    if (c->type && c->type != t)
        c->types_seen++;
    else if (!c->type)
        c->types_seen = 1;
    c->misses++;
    c->type = t;
    c->type_version = t->tp_version_tag;
}

OD_HELPER(od_rt_load_attr)
{
    (void)oparg; (void)f;
    OdAttrSite *site = arg;
    PyObject *owner = TOP();
    record_type(&site->cache, owner);
    PyObject *res = PyObject_GetAttr(owner, site->name);
    Py_DECREF(owner);
    if (!res)
        return OD_ERROR;
    sp[-1] = res;
    return OD_OK;
}

OD_HELPER(od_rt_store_attr)
{
    (void)oparg; (void)f;
    OdAttrSite *site = arg;
    PyObject *owner = TOP(), *v = SECOND();
    record_type(&site->cache, owner);
    int err = PyObject_SetAttr(owner, site->name, v);
    Py_DECREF(v);
    Py_DECREF(owner);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_delete_attr)
{
    (void)oparg; (void)f;
    PyObject *owner = TOP();
    int err = PyObject_SetAttr(owner, ((OdAttrSite *)arg)->name, NULL);
    Py_DECREF(owner);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_load_method)
{
    (void)oparg; (void)f;
    OdAttrSite *site = arg;
    PyObject *obj = TOP(), *meth = NULL;
    record_type(&site->cache, obj);
    int found = _PyObject_GetMethod(obj, site->name, &meth);
    if (!meth)
        return OD_ERROR; /* obj stays on the stack, as in the interpreter */
    if (found) {
        sp[-1] = meth;   /* unbound method, then self */
        sp[0] = obj;
    } else {
        sp[-1] = NULL;
        Py_DECREF(obj);
        sp[0] = meth;
    }
    return OD_OK;
}

OD_HELPER(od_rt_load_build_class)
{
    (void)oparg; (void)arg;
    PyObject *bc;
    PyObject *name = PyUnicode_InternFromString("__build_class__");
    if (!name)
        return OD_ERROR;
    if (PyDict_CheckExact(f->f_builtins)) {
        bc = PyDict_GetItemWithError(f->f_builtins, name);
        if (!bc) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_NameError, "__build_class__ not found");
            Py_DECREF(name);
            return OD_ERROR;
        }
        Py_INCREF(bc);
    } else {
        bc = PyObject_GetItem(f->f_builtins, name);
        if (!bc) {
            if (PyErr_ExceptionMatches(PyExc_KeyError))
                PyErr_SetString(PyExc_NameError, "__build_class__ not found");
            Py_DECREF(name);
            return OD_ERROR;
        }
    }
    Py_DECREF(name);
    sp[0] = bc;
    return OD_OK;
}

OD_HELPER(od_rt_load_assertion_error)
{
    (void)oparg; (void)arg; (void)f;
    Py_INCREF(PyExc_AssertionError);
    sp[0] = PyExc_AssertionError;
    return OD_OK;
}

OD_HELPER(od_rt_setup_annotations)
{
    (void)oparg; (void)arg; (void)sp;
    PyObject *locals = f->f_locals;
    if (!locals)
        return OD_DEOPT;
    PyObject *key = PyUnicode_InternFromString("__annotations__");
    if (!key)
        return OD_ERROR;
    int err = 0;
    if (PyDict_CheckExact(locals)) {
        PyObject *ann = PyDict_GetItemWithError(locals, key);
        if (!ann) {
            if (PyErr_Occurred()) {
                err = -1;
            } else {
                ann = PyDict_New();
                err = ann ? PyDict_SetItem(locals, key, ann) : -1;
                Py_XDECREF(ann);
            }
        }
    } else {
        PyObject *ann = PyObject_GetItem(locals, key);
        if (ann) {
            Py_DECREF(ann);
        } else if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            err = -1;
        } else {
            PyErr_Clear();
            ann = PyDict_New();
            err = ann ? PyObject_SetItem(locals, key, ann) : -1;
            Py_XDECREF(ann);
        }
    }
    Py_DECREF(key);
    return err ? OD_ERROR : OD_OK;
}

OD_HELPER(od_rt_import_name)
{
    (void)oparg;
    PyObject *name = arg, *fromlist = TOP(), *level = SECOND(), *res;
    PyObject *import_func = PyDict_GetItemWithError(f->f_builtins, &_Py_ID(__import__));
    if (!import_func) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ImportError, "__import__ not found");
        return OD_ERROR;
    }
    PyObject *locals = f->f_locals ? f->f_locals : Py_None;
    if (import_func == _PyInterpreterState_GET()->import_func) {
        int ilevel = _PyLong_AsInt(level);
        if (ilevel == -1 && PyErr_Occurred())
            return OD_ERROR;
        res = PyImport_ImportModuleLevelObject(name, f->f_globals, locals, fromlist, ilevel);
    } else {
        PyObject *args[5] = {name, f->f_globals, locals, fromlist, level};
        Py_INCREF(import_func);
        res = PyObject_Vectorcall(import_func, args, 5, NULL);
        Py_DECREF(import_func);
    }
    if (!res)
        return OD_ERROR;
    sp[-1] = NULL;
    Py_DECREF(fromlist);
    Py_DECREF(level);
    sp[-2] = res;
    return OD_OK;
}

OD_HELPER(od_rt_import_from)
{
    (void)oparg; (void)f;
    PyObject *module = TOP(), *name = arg, *x;
    int r = _PyObject_LookupAttr(module, name, &x);
    if (r < 0)
        return OD_ERROR;
    if (r == 0) {
        /* A circular relative import may have left the submodule only in sys.modules;
         * the fallback and its error messages are the interpreter's. */
        return OD_DEOPT;
    }
    sp[0] = x;
    return OD_OK;
}
