/* tier2/rt/attr.c — generic attribute instructions through a site of their own (attr.h). */
#include "attr.h"
#include "helpers.h"
#include "internal/pycore_moduleobject.h"   /* PyModuleObject.md_dict */

#include <stdlib.h>

uint64_t od_t2_generic_attr[OD_ATTR_WHY__COUNT];
uint64_t od_t2_dict_version = OD_T2_DICT_VERSION_BASE;
uint64_t od_t2_generic_attr_misses;
uint64_t od_t2_generic_attr_inline;
uint64_t od_t2_attr_way_sites;
int od_t2_attr_ways_on = 1;

OdT2AttrSite *od_t2_attr_sites_new(int n)
{
    if (n <= 0)
        return NULL;
    OdT2AttrSite *s = calloc((size_t)n, sizeof *s);
    if (!s)
        PyErr_NoMemory();
    return s;
}

void od_t2_attr_sites_free(OdT2AttrSite *sites, int n)
{
    if (!sites)
        return;
    od_rt_attr_sites_release(sites, sizeof *sites * (size_t)n);
    free(sites);
}

/* The hits tier 2 takes itself, reading the runtime's entries as tier 1's inline code does
 * (ops_names.c fills them and says what each kind guarantees): the common kinds, for a
 * receiver that is not a class object. Everything else, and every miss, goes through the
 * runtime's helpers, which take their inputs from a value stack and consume them: tier-2
 * operands are borrowed, so such a call gets a small stack of new references. */

/* A borrowed value when entry c of the receiver's type answers LOAD_ATTR by itself, else
 * NULL. Module entries are keyed by the module type: the dict's version (unique to one dict
 * in one state) proves the value is still the one cached. A DICT_HINT entry is the index of
 * the name among the instance dict's entries (no descriptor of that name in the type, kept
 * by the version), checked on every hit. */
static inline PyObject *load_hit(OdAttrCache *c, PyObject *owner, PyTypeObject *tp, PyObject *name)
{
    if (c->kind == OD_ATTR_MODULE_VALUE) {
        PyObject *dict = ((PyModuleObject *)owner)->md_dict;
        return dict && ((PyDictObject *)dict)->ma_version_tag == c->dict_version ? c->value : NULL;
    }
    if (tp->tp_version_tag != c->type_version)
        return NULL;
    if (c->kind == OD_ATTR_INSTANCE_VALUE) {
        PyDictValues *values = *_PyObject_ValuesPointer(owner);
        return values ? values->values[c->index] : NULL;    /* NULL: deleted, the runtime raises */
    }
    if (c->kind == OD_ATTR_SLOT)
        return *(PyObject **)((char *)owner + c->index);
    if (c->kind == OD_ATTR_DICT_HINT) {
        PyDictObject *dict = od_instance_dict(owner, c->dictoffset);
        if (!dict || dict->ma_values || dict->ma_keys->dk_kind != DICT_KEYS_UNICODE
            || c->index >= dict->ma_keys->dk_nentries)
            return NULL;
        PyDictUnicodeEntry *e = &DK_UNICODE_ENTRIES(dict->ma_keys)[c->index];
        return e->me_key == name ? e->me_value : NULL;
    }
    return NULL;
}

OD_T2_HELPER(od_t2_load_attr)
{
    OdT2AttrSite *s = (OdT2AttrSite *)(intptr_t)imm;
    if (!s)
        return (intptr_t)PyObject_GetAttr(args[0], obj);
    od_t2_generic_attr[s->why]++;
    PyTypeObject *tp = Py_TYPE(args[0]);
    OdAttrCache *c = tp != &PyType_Type ? od_attr_entry_for(&s->site, tp) : NULL;
    PyObject *res = c ? load_hit(c, args[0], tp, s->site.name) : NULL;
    if (res) {
        c->hits++;
        return (intptr_t)Py_NewRef(res);
    }
    PyObject *stack[1] = {Py_NewRef(args[0])};
    uint64_t slow = od_rt_attr_slow;
    int r = od_rt_load_attr(f, stack + 1, 0, &s->site);
    od_t2_generic_attr_misses += od_rt_attr_slow != slow;
    return r == OD_OK ? (intptr_t)stack[0] : 0;   /* on error, the owner released */
}

/* Whether store entry `c` (at the type's current version) stores into the instance dict:
 * DICT_HINT (no descriptor of the name in the type) or DICT_STORE while the class attribute
 * it shadows, if any, has no __set__ (the runtime's od_rt_store_attr tests the same). */
static inline int dict_store_hit(const OdAttrCache *c)
{
    return c->kind == OD_ATTR_DICT_HINT
           || (c->kind == OD_ATTR_DICT_STORE && !(c->value && Py_TYPE(c->value)->tp_descr_set));
}

OD_T2_HELPER(od_t2_store_attr)
{
    OdT2AttrSite *s = (OdT2AttrSite *)(intptr_t)imm;
    if (!s)
        return PyObject_SetAttr(args[0], obj, args[1]);
    od_t2_generic_attr[s->why]++;
    PyObject *owner = args[0];
    PyTypeObject *tp = Py_TYPE(owner);
    OdAttrCache *c = tp != &PyType_Type ? od_attr_entry_for(&s->site, tp) : NULL;
    if (c && tp->tp_version_tag == c->type_version) {
        PyObject **at = NULL;
        if (c->kind == OD_ATTR_SLOT) {
            at = (PyObject **)((char *)owner + c->index);
        } else if (c->kind == OD_ATTR_INSTANCE_VALUE) {
            /* an existing value only: a new one goes into the insertion order (runtime) */
            PyDictValues *values = *_PyObject_ValuesPointer(owner);
            at = values && values->values[c->index] ? &values->values[c->index] : NULL;
        }
        if (at) {
            PyObject *old = *at;
            c->hits++;
            *at = Py_NewRef(args[1]);
            Py_XDECREF(old);                /* last: a finalizer sees the new value */
            return 0;
        }
        if (dict_store_hit(c)) {
            /* into the instance dict, as generic setattr would: the runtime helper's hit
             * without its value stack (go's objects: 1.6 M stores in go 3). Over the
             * entry the hint names (STORE_ATTR_WITH_HINT's case) in place; anything else
             * (a new key, another index) through the dict's own insert. */
            PyDictObject *dict = od_instance_dict(owner, c->dictoffset);
            Py_hash_t hash = ((PyASCIIObject *)s->site.name)->hash;
            PyObject **slot = dict && c->kind == OD_ATTR_DICT_HINT
                              ? od_t2_dict_hint_slot(dict, c->index, s->site.name) : NULL;
            if (slot) {
                PyObject *old = *slot;
                c->hits++;
                *slot = Py_NewRef(args[1]);
                if (!_PyObject_GC_IS_TRACKED(dict) && _PyObject_GC_MAY_BE_TRACKED(args[1]))
                    PyObject_GC_Track(dict);
                dict->ma_version_tag = od_t2_dict_version_next();
                Py_DECREF(old);                 /* last: a finalizer sees the new value */
                return 0;
            }
            if (dict && hash != -1) {
                c->hits++;
                return _PyDict_SetItem_KnownHash((PyObject *)dict, s->site.name, args[1], hash) ? -1 : 0;
            }
        }
    }
    PyObject *stack[2] = {Py_NewRef(args[1]), Py_NewRef(owner)};   /* value, owner */
    uint64_t slow = od_rt_attr_slow;
    int r = od_rt_store_attr(f, stack + 2, 0, &s->site);
    od_t2_generic_attr_misses += od_rt_attr_slow != slow;
    return r == OD_OK ? 0 : -1;
}

OD_T2_HELPER(od_t2_load_method)
{
    OdT2AttrSite *s = (OdT2AttrSite *)(intptr_t)imm;
    if (!s) {
        PyObject *self = args[0], *meth = NULL;
        int unbound = _PyObject_GetMethod(self, obj, &meth);
        if (!meth)
            return -1;
        args[0] = unbound ? meth : NULL;
        args[1] = unbound ? Py_NewRef(self) : meth;
        return 0;
    }
    od_t2_generic_attr[s->why]++;
    PyObject *self = args[0];
    PyTypeObject *tp = Py_TYPE(self);
    OdAttrCache *c;
    if (tp == &PyType_Type) {
        /* a class's own attribute (LOAD_METHOD_CLASS): keyed by the class */
        PyTypeObject *cls = (PyTypeObject *)self;
        c = od_attr_entry_for(&s->site, cls);
        if (c && c->kind == OD_ATTR_CLASS_VALUE && cls->tp_version_tag == c->type_version) {
            c->hits++;
            args[0] = NULL;
            args[1] = Py_NewRef(c->value);
            return 0;
        }
    } else if ((c = od_attr_entry_for(&s->site, tp)) != NULL) {
        /* the runtime's test: the version, and nothing on the instance shadows the method
         * (METHOD_WITH_DICT probes the instance dict: go's objects, 1.5 M loads in go 3) */
        if (od_rt_method_entry_hit(c, self, s->site.name)) {
            c->hits++;
            args[0] = Py_NewRef(c->value);
            args[1] = Py_NewRef(self);
            return 0;
        }
    }
    PyObject *stack[2] = {Py_NewRef(args[0]), NULL};
    uint64_t slow = od_rt_attr_slow;
    int r = od_rt_load_method(f, stack + 1, 0, &s->site);
    od_t2_generic_attr_misses += od_rt_attr_slow != slow;
    if (r != OD_OK) {
        Py_DECREF(stack[0]);                /* an error leaves the owner on the stack */
        return -1;
    }
    args[0] = stack[0];                     /* the method, or NULL */
    args[1] = stack[1];                     /* self, or the attribute */
    return 0;
}

PyObject *od_t2_store_dict_slow(PyObject *owner, PyObject *name, PyObject *value,
                                Py_ssize_t dictoffset)
{
    PyDictObject *dict = od_instance_dict(owner, dictoffset);
    Py_hash_t hash = ((PyASCIIObject *)name)->hash;
    if (!dict || dict->ma_keys->dk_kind == DICT_KEYS_GENERAL || hash == -1)
        return OD_T2_STORE_DICT_DEOPT;   /* other keys' __eq__ could run */
    /* str keys only: the lookup compares strs, and raises nothing */
    PyObject *old = Py_XNewRef(_PyDict_GetItem_KnownHash((PyObject *)dict, name, hash));
    if (_PyDict_SetItem_KnownHash((PyObject *)dict, name, value, hash) < 0) {
        PyErr_Clear();
        Py_XDECREF(old);                /* still in the dict: not the last reference */
        return OD_T2_STORE_DICT_DEOPT;
    }
    /* the insert took a reference of its own; the code gives the store one (StoreField's
     * contract: it adds one, or moves its own), so this one goes (the dict holds another) */
    Py_DECREF(value);
    return old;                         /* the dict's reference dropped, ours kept */
}
