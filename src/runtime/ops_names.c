/* runtime/ops_names.c — globals, builtins, names (class and module bodies), attributes,
 * methods and imports. LOAD_GLOBAL caches the value per site, keyed on the version tags of
 * the globals and builtins dicts (any change to either dict changes its tag). */
#include "helpers.h"

#include "internal/pycore_moduleobject.h"

#include <string.h>

#include "structmember.h"

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

/* Index of `name` (by identity) among a unicode-keyed combined dict's entries, or -1. */
static Py_ssize_t entry_index_of(PyDictObject *d, PyObject *name)
{
    PyDictKeysObject *keys = d->ma_keys;
    if (keys->dk_kind != DICT_KEYS_UNICODE || d->ma_values)
        return -1;
    PyDictUnicodeEntry *e = DK_UNICODE_ENTRIES(keys);
    for (Py_ssize_t i = 0; i < keys->dk_nentries; i++)
        if (e[i].me_key == name)
            return i;
    return -1;
}

/* The current value of a global whose entry was at `c->globals_index`, if it still is.
 * Entries are only appended to a keys object (a deleted entry keeps no key), so a key
 * found at its old index is the dict's one entry for that name. */
static PyObject *global_at_hint(PyDictObject *globals, const OdGlobalCache *c, PyObject *name)
{
    PyDictKeysObject *keys = globals->ma_keys;
    Py_ssize_t i = c->globals_index;
    if (i < 0 || keys->dk_kind != DICT_KEYS_UNICODE || globals->ma_values
        || i >= keys->dk_nentries)
        return NULL;
    PyDictUnicodeEntry *e = &DK_UNICODE_ENTRIES(keys)[i];
    return e->me_key == name ? e->me_value : NULL;
}

/* The value of `site`'s name in `globals`, else in `builtins` (both exact dicts), as a new
 * reference, through the site's cache; NULL with NameError (or another error) set. */
static PyObject *load_global_cached(OdGlobalSite *site, PyObject *globals, PyObject *builtins)
{
    OdGlobalCache *c = &site->cache;
    uint64_t gv = ((PyDictObject *)globals)->ma_version_tag;
    uint64_t bv = ((PyDictObject *)builtins)->ma_version_tag;
    PyObject *v;
    if (c->value && c->globals_version == gv && c->builtins_version == bv) {
        c->hits++;
        v = c->value;
    } else if (c->value && (v = global_at_hint((PyDictObject *)globals, c, site->name))) {
        c->hits++;
        c->globals_version = gv;
        c->builtins_version = bv;
        c->value = v;
    } else {
        c->misses++;
        v = PyDict_GetItemWithError(globals, site->name);
        c->globals_index = v ? entry_index_of((PyDictObject *)globals, site->name) : -1;
        if (!v) {
            if (PyErr_Occurred())
                return NULL;
            v = PyDict_GetItemWithError(builtins, site->name);
            if (!v) {
                if (!PyErr_Occurred())
                    raise_name_error(site->name);
                return NULL;
            }
        }
        /* The versions read before the lookups: if a lookup changed either dict the
         * next access simply misses. */
        c->globals_version = c->globals_index < 0 && site->globals_only ? 0 : gv;
        c->builtins_version = bv;
        c->value = v;
    }
    Py_INCREF(v);
    return v;
}

OD_HELPER(od_rt_load_global)
{
    OdGlobalSite *site = arg;
    PyObject *globals = f->f_globals, *builtins = f->f_builtins, *v;
    int push_null = oparg & 1;
    if (PyDict_CheckExact(globals) && PyDict_CheckExact(builtins)) {
        if (!(v = load_global_cached(site, globals, builtins)))
            return OD_ERROR;
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

int od_rt_lookup_locals(PyObject *locals, PyObject *name, PyObject **out)
{
    if (PyDict_CheckExact(locals)) {
        *out = Py_XNewRef(PyDict_GetItemWithError(locals, name));
        return (*out || !PyErr_Occurred()) ? 0 : -1;
    }
    *out = PyObject_GetItem(locals, name);
    if (*out)
        return 0;
    if (!PyErr_ExceptionMatches(PyExc_KeyError))
        return -1;
    PyErr_Clear();
    return 0;
}

/* LOAD_NAME. In a frame whose locals are its globals (a module body, exec() with one
 * namespace), both exact dicts, the name is found where LOAD_GLOBAL finds it (the locals,
 * then the globals again, then the builtins, in the interpreter), and through the same
 * cache: the site is an OdGlobalSite (the inline path, tier1/fast_attr.c, reads it too). */
OD_HELPER(od_rt_load_name)
{
    (void)oparg;
    OdGlobalSite *site = arg;
    PyObject *name = site->name, *locals = f->f_locals, *v;
    if (locals == f->f_globals && PyDict_CheckExact(locals) && PyDict_CheckExact(f->f_builtins)) {
        if (!(v = load_global_cached(site, locals, f->f_builtins)))
            return OD_ERROR;
        sp[0] = v;
        return OD_OK;
    }
    if (!locals) {
        PyErr_Format(PyExc_SystemError, "no locals when loading %R", name);
        return OD_ERROR;
    }
    if (od_rt_lookup_locals(locals, name, &v) < 0)
        return OD_ERROR;
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

/* Entry blocks of attribute sites (helpers.h OdAttrSite.more), sorted by site address, so
 * that freeing a unit finds the blocks of its sites by their address range. */
typedef struct {
    const void *site;
    OdAttrCache *block;
} AttrBlock;

static AttrBlock *attr_blocks;
static size_t n_attr_blocks, cap_attr_blocks;

size_t od_rt_attr_blocks(void) { return n_attr_blocks; }

/* Index of the first block whose site is at or above `p`. */
static size_t attr_block_at(const void *p)
{
    size_t lo = 0, hi = n_attr_blocks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)attr_blocks[mid].site < (uintptr_t)p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The site's block of entries 1.., allocated and registered now; NULL if out of memory. */
static OdAttrCache *new_more(OdAttrSite *site)
{
    if (n_attr_blocks == cap_attr_blocks) {
        size_t cap = cap_attr_blocks ? cap_attr_blocks * 2 : 64;
        AttrBlock *p = realloc(attr_blocks, cap * sizeof *p);
        if (!p)
            return NULL;
        attr_blocks = p;
        cap_attr_blocks = cap;
    }
    OdAttrCache *m = calloc(OD_ATTR_WAYS - 1, sizeof *m);
    if (!m)
        return NULL;
    size_t at = attr_block_at(site);
    memmove(attr_blocks + at + 1, attr_blocks + at, (n_attr_blocks - at) * sizeof *attr_blocks);
    attr_blocks[at] = (AttrBlock){site, m};
    n_attr_blocks++;
    site->more = m;
    site->more_site = site;
    return m;
}

int od_rt_attr_sites_copy_blocks(void *to, const void *from, size_t len)
{
    if (!from || !n_attr_blocks)
        return 0;
    size_t lo = attr_block_at(from), hi = attr_block_at((const char *)from + len);
    if (hi == lo)
        return 0;
    /* new_more inserts into attr_blocks, which may move the range being read */
    AttrBlock *old = malloc((hi - lo) * sizeof *old);
    if (!old)
        return -1;
    memcpy(old, attr_blocks + lo, (hi - lo) * sizeof *old);
    int rc = 0;
    for (size_t i = 0; i < hi - lo; i++) {
        OdAttrSite *copy = (OdAttrSite *)((char *)to + ((const char *)old[i].site - (const char *)from));
        if (copy->more != old[i].block)
            continue;                   /* not a copy of that site (cannot happen) */
        OdAttrCache *m = new_more(copy);
        if (!m) {                       /* the copy keeps `more` as a flag only */
            rc = -1;
            continue;
        }
        memcpy(m, old[i].block, (OD_ATTR_WAYS - 1) * sizeof *m);
    }
    free(old);
    return rc;
}

size_t od_rt_attr_blocks_in(const void *sites, size_t len)
{
    return sites ? attr_block_at((const char *)sites + len) - attr_block_at(sites) : 0;
}

void od_rt_attr_sites_release(const void *sites, size_t len)
{
    if (!sites || !n_attr_blocks)
        return;
    size_t lo = attr_block_at(sites), hi = attr_block_at((const char *)sites + len);
    for (size_t i = lo; i < hi; i++)
        free(attr_blocks[i].block);
    memmove(attr_blocks + lo, attr_blocks + hi, (n_attr_blocks - hi) * sizeof *attr_blocks);
    n_attr_blocks -= hi - lo;
}

/* A site that has evicted OD_ATTR_MEGAMORPHIC entries meets more receiver types than it
 * has entries (email's header registry makes a class per header it parses; a generator
 * over a parse tree meets a dozen node types): refilling on every miss cost more than the
 * generic lookup it follows (email_parse: 94,000 fills for 92,000 generic loads). It keeps
 * its entries and refills once every OD_ATTR_RETRY misses only, in case few types come
 * again (the interpreter's adaptive instructions back off the same way). */
#define OD_ATTR_MEGAMORPHIC 32u
#define OD_ATTR_RETRY 1024u

/* The entry to (re)fill for type `t`: its own, an empty one, or the next victim (entry 0
 * when no block of further entries can be had); NULL when the site is megamorphic and this
 * miss is not a retry. */
static OdAttrCache *entry_to_fill(OdAttrSite *site, PyTypeObject *t)
{
    OdAttrCache *c = od_attr_entry_for(site, t);
    if (c)
        return c;
    if (site->cache[0].type == NULL)
        return &site->cache[0];
    OdAttrCache *m = od_attr_more(site);
    if (!m) {
        m = new_more(site);
        c = m ? &m[0] : &site->cache[0];
        if (!m)
            memset(c, 0, sizeof *c);
        return c;
    }
    for (int i = 0; i < OD_ATTR_WAYS - 1; i++)
        if (m[i].type == NULL)
            return &m[i];
    if (site->next_victim >= OD_ATTR_MEGAMORPHIC && ++site->next_victim % OD_ATTR_RETRY != 0)
        return NULL;
    unsigned v = site->next_victim++ % OD_ATTR_WAYS;
    c = v == 0 ? &site->cache[0] : &m[v - 1];
    memset(c, 0, sizeof *c);
    return c;
}

/* Only try to (re)fill while the site is not thrashing: a megamorphic site pays the
 * generic lookup once, not the lookup plus a refill. */
static int worth_filling(const OdAttrCache *c)
{
    return c->misses < 16 || c->hits >= c->misses;
}

/* After a generic lookup at `site` for key `t`: the entry to fill, with the miss counted, or
 * NULL when no fill is worth it (a megamorphic site between retries, or a thrashing entry). */
static OdAttrCache *entry_to_refill(OdAttrSite *site, PyTypeObject *t)
{
    OdAttrCache *c = entry_to_fill(site, t);
    if (!c)
        return NULL;
    c->misses++;
    return worth_filling(c) ? c : NULL;
}

/* Slot of `name` in the shared keys of instances of `tp`, or -1. Keys are compared by
 * identity (names are interned): a miss only costs the fast path, never correctness. */
static Py_ssize_t shared_key_index(PyTypeObject *tp, PyObject *name, Py_ssize_t *nentries)
{
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return -2;
    PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (!keys || keys->dk_kind != DICT_KEYS_SPLIT)
        return -2;
    *nentries = keys->dk_nentries;
    PyDictUnicodeEntry *e = DK_UNICODE_ENTRIES(keys);
    for (Py_ssize_t i = 0; i < keys->dk_nentries; i++)
        if (e[i].me_key == name)
            return i;
    return -1;
}

/* Whether the kind of instance dict this type uses can be cached: managed (with the
 * values pointer or dict pointer in front of the object) or at a positive offset. */
static int dict_kind_of(PyTypeObject *tp, Py_ssize_t *dictoffset)
{
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        *dictoffset = 0;
        return 1;
    }
    if (tp->tp_dictoffset > 0) {
        *dictoffset = tp->tp_dictoffset;
        return 1;
    }
    return 0;
}

/* Whether the type's version tag can key a cache entry (it changes on any modification). */
static int version_usable(PyTypeObject *tp)
{
    return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) && tp->tp_version_tag != 0;
}

/* Whether a combined dict whose keys are all exact str certainly lacks `name` (an exact
 * str whose hash is known): 1 = lacks it, 0 = has it, -1 = not that kind of dict. Probes
 * the index table the way the dict does (open addressing with perturbation); comparing
 * exact strs runs no Python code, so this cannot fail. It spares METHOD_WITH_DICT hits a
 * full lookup through the dict API. */
static int str_dict_lacks(PyDictObject *d, PyObject *name, Py_hash_t hash)
{
    PyDictKeysObject *k = d->ma_keys;
    if (d->ma_values || k->dk_kind != DICT_KEYS_UNICODE)
        return -1;
    const size_t mask = ((size_t)1 << k->dk_log2_size) - 1;
    const int width = k->dk_log2_index_bytes - k->dk_log2_size; /* log2 of bytes per index */
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(k);
    size_t perturb = (size_t)hash, i = (size_t)hash & mask;
    for (;;) {
        Py_ssize_t ix;
        switch (width) {
        case 0: ix = ((const int8_t *)k->dk_indices)[i]; break;
        case 1: ix = ((const int16_t *)k->dk_indices)[i]; break;
        case 2: ix = ((const int32_t *)k->dk_indices)[i]; break;
        default: ix = (Py_ssize_t)((const int64_t *)k->dk_indices)[i]; break;
        }
        if (ix == DKIX_EMPTY)
            return 1;
        if (ix >= 0) {
            PyObject *key = entries[ix].me_key;
            if (key == name
                || (((PyASCIIObject *)key)->hash == hash && _PyUnicode_EQ(key, name)))
                return 0;
        }
        perturb >>= 5;
        i = (i * 5 + perturb + 1) & mask;
    }
}

int od_rt_method_entry_hit(const OdAttrCache *c, PyObject *obj, PyObject *name)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp->tp_version_tag != c->type_version)
        return 0;
    if (c->kind == OD_ATTR_METHOD_NO_DICT)
        return 1;
    if (c->kind == OD_ATTR_METHOD_SHARED_KEYS) {
        /* Inline values in use (no materialized __dict__) and no new attribute names
         * since the entry was made, so the instance cannot shadow the method. */
        PyDictValues *values = *_PyObject_ValuesPointer(obj);
        PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
        return values && keys && keys->dk_nentries == c->keys_nentries;
    }
    if (c->kind != OD_ATTR_METHOD_WITH_DICT)
        return 0;
    /* No instance attribute of that name: no dict yet, empty inline values that do
     * not hold it, or a dict that does not contain it. */
    PyDictObject *dict = od_instance_dict(obj, c->dictoffset);
    if (dict) {
        Py_hash_t hash = ((PyASCIIObject *)name)->hash;
        if (hash == -1)
            hash = PyObject_Hash(name);
        int lacks = hash != -1 && PyUnicode_CheckExact(name) ? str_dict_lacks(dict, name, hash) : -1;
        if (lacks >= 0)
            return lacks;
        int ok = hash != -1
                 && _PyDict_GetItem_KnownHash((PyObject *)dict, name, hash) == NULL
                 && !PyErr_Occurred();
        if (!ok)
            PyErr_Clear();
        return ok;
    }
    if (c->dictoffset == 0 && *_PyObject_ValuesPointer(obj))
        return 0; /* inline values: the shared-keys kinds handle these */
    return c->dictoffset == 0 ? *_PyObject_ManagedDictPointer(obj) == NULL
                              : *(PyObject **)((char *)obj + c->dictoffset) == NULL;
}

static void fill_method_cache(OdAttrCache *c, PyObject *obj, PyObject *name, PyObject *meth);

/* Sites that look attributes up on class objects key their entries by the class: every
 * class has the same type (`type`), and a class is never an instance of itself. */
static PyTypeObject *attr_key(PyObject *owner)
{
    return Py_IS_TYPE(owner, &PyType_Type) ? (PyTypeObject *)owner : Py_TYPE(owner);
}

/* An attribute of class `cls` whose lookup result is the same object every time: a plain
 * class attribute (no __get__), or a function or staticmethod, whose __get__ on the class
 * returns the function itself. `res` is the result of the lookup just done. Metaclass
 * attributes take precedence in type.__getattribute__, so names `type` has are not cached
 * (type is immutable: that answer never changes). */
static void fill_class_cache(OdAttrCache *c, PyTypeObject *cls, PyObject *name, PyObject *res)
{
    c->type = cls;
    c->kind = OD_ATTR_NONE;
    if (_PyType_Lookup(&PyType_Type, name) != NULL)
        return;
    PyObject *descr = _PyType_Lookup(cls, name); /* also assigns a version tag */
    if (!descr || !version_usable(cls))
        return;
    int same_each_time = Py_TYPE(descr)->tp_descr_get == NULL ? descr == res
                         : (PyFunction_Check(descr) || Py_IS_TYPE(descr, &PyStaticMethod_Type));
    if (!same_each_time)
        return;
    c->type_version = cls->tp_version_tag;
    c->value = res; /* borrowed: the class dict holds descr, which holds res */
    c->kind = OD_ATTR_CLASS_VALUE;
}

/* Hit path of a class attribute (see fill_class_cache): the value, or NULL. */
static inline PyObject *class_value_hit(OdAttrSite *site, PyObject *owner)
{
    if (!Py_IS_TYPE(owner, &PyType_Type))
        return NULL;
    PyTypeObject *cls = (PyTypeObject *)owner;
    OdAttrCache *c = od_attr_entry_for(site, cls);
    if (c && c->kind == OD_ATTR_CLASS_VALUE && cls->tp_version_tag == c->type_version) {
        c->hits++;
        return c->value;
    }
    return NULL;
}

/* `for_load`: the entry serves a LOAD_ATTR site, which may also read `obj.__class__` as a
 * slot at ob_type (what the interpreter's LOAD_ATTR_SLOT does for it); a store site never
 * may (assigning __class__ checks layouts and moves references). */
/* A STORE_ATTR entry for an instance whose __dict__ is materialized (split or combined),
 * when the type's `descr` for the name (borrowed, or NULL) is no data descriptor: generic
 * setattr stores into that dict. 1 if made. */
static int fill_dict_store(OdAttrCache *c, PyObject *owner, PyObject *descr)
{
    PyTypeObject *tp = Py_TYPE(owner);
    Py_ssize_t dictoffset;
    if ((descr && Py_TYPE(descr)->tp_descr_set) || !dict_kind_of(tp, &dictoffset)
        || !od_instance_dict(owner, dictoffset))
        return 0;
    c->type_version = tp->tp_version_tag;
    c->dictoffset = dictoffset;
    c->value = descr;
    c->kind = OD_ATTR_DICT_STORE;
    return 1;
}

static void fill_attr_cache(OdAttrCache *c, PyObject *owner, PyObject *name, int for_load)
{
    PyTypeObject *tp = Py_TYPE(owner);
    c->type = tp;
    c->kind = OD_ATTR_NONE;
    if (PyModule_CheckExact(owner)) {
        PyObject *dict = ((PyModuleObject *)owner)->md_dict;
        if (!dict || !PyDict_CheckExact(dict))
            return;
        uint64_t version = ((PyDictObject *)dict)->ma_version_tag;
        PyObject *v = PyDict_GetItemWithError(dict, name);
        if (!v) {
            PyErr_Clear();
            return;
        }
        c->kind = OD_ATTR_MODULE_VALUE;
        c->dict_version = version;
        c->value = v;
        return;
    }
    if (tp->tp_getattro != PyObject_GenericGetAttr)
        return;
    PyObject *descr = _PyType_Lookup(tp, name); /* also assigns a version tag */
    if (!version_usable(tp))
        return;
    if (descr && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type == T_OBJECT_EX && !(m->flags & READONLY)) {
            c->type_version = tp->tp_version_tag;
            c->index = m->offset;
            c->kind = OD_ATTR_SLOT;
        }
        return;
    }
    if (for_load && descr && Py_IS_TYPE(descr, &PyGetSetDescr_Type)
        && _PyUnicode_EqualToASCIIString(name, "__class__")
        && descr == _PyType_Lookup(&PyBaseObject_Type, name)) {
        c->type_version = tp->tp_version_tag;
        c->index = offsetof(PyObject, ob_type);
        c->kind = OD_ATTR_SLOT;
        return;
    }
    if (for_load && descr && Py_IS_TYPE(descr, &PyGetSetDescr_Type)) {
        /* A getset is a data descriptor (its type has __set__), so the instance's dict
         * never shadows it, and generic getattr calls its getter after checking the
         * instance's type against the descriptor's: done once here, kept by the version
         * (a getset copied into an unrelated class stays generic and raises there).
         * Element.tag/.text, frame and code attributes, exception args: the interpreter
         * does not specialize these either, but a generic load costs about 75
         * instructions more in compiled code than in the interpreter. */
        PyGetSetDescrObject *gs = (PyGetSetDescrObject *)descr;
        if (gs->d_getset->get && PyType_IsSubtype(tp, PyDescr_TYPE(gs))) {
            c->type_version = tp->tp_version_tag;
            c->value = descr;   /* borrowed from the type's dict, valid while the version holds */
            c->kind = OD_ATTR_GETSET;
        }
        return;
    }
    if (for_load && descr && Py_IS_TYPE(descr, &PyProperty_Type)) {
        /* A data descriptor too: its __get__ (the getter's call) on each hit, without
         * generic getattr's lookup (email's parse-tree nodes: their values are properties). */
        c->type_version = tp->tp_version_tag;
        c->value = descr;   /* borrowed from the type's dict, valid while the version holds */
        c->kind = OD_ATTR_PROPERTY;
        return;
    }
    if (!for_load && descr && fill_dict_store(c, owner, descr))
        return;   /* an instance attribute shadowing a class attribute (email's Terminal) */
    if (descr) {
        /* A method read as an attribute, or any class attribute that is not a data
         * descriptor (class constants read through the instance: `self.token_type`): the
         * type's value after the same checks as LOAD_METHOD's (nothing on the instance
         * shadows it), bound on each hit as its type says then. */
        PyTypeObject *dt = Py_TYPE(descr);
        if ((dt->tp_flags & Py_TPFLAGS_METHOD_DESCRIPTOR)
            || (for_load && dt->tp_descr_set == NULL))
            fill_method_cache(c, owner, name, descr);
        return;
    }
    Py_ssize_t nentries;
    Py_ssize_t i = shared_key_index(tp, name, &nentries);
    if (i >= 0 && *_PyObject_ValuesPointer(owner) != NULL) {
        c->type_version = tp->tp_version_tag;
        c->index = i;
        c->kind = OD_ATTR_INSTANCE_VALUE;
        return;
    }
    Py_ssize_t dictoffset;
    PyDictObject *dict;
    if (dict_kind_of(tp, &dictoffset) && (dict = od_instance_dict(owner, dictoffset)) != NULL
        && (i = entry_index_of(dict, name)) >= 0) {
        c->type_version = tp->tp_version_tag;
        c->index = i;
        c->dictoffset = dictoffset;
        c->index_log2 = dict->ma_keys->dk_log2_index_bytes;
        c->kind = OD_ATTR_DICT_HINT;
        return;
    }
    if (!for_load) {
        fill_dict_store(c, owner, NULL);   /* a split dict, or a name new to the dict */
        return;
    }
    /* A split dict: made for an instance that never had inline values (instances of str,
     * list, ... subclasses: email's parse-tree Terminals), sharing the type's keys. */
    if (for_load && dict_kind_of(tp, &dictoffset) && (dict = od_instance_dict(owner, dictoffset))
        && dict->ma_values && dict->ma_keys->dk_kind == DICT_KEYS_SPLIT) {
        PyDictUnicodeEntry *e = DK_UNICODE_ENTRIES(dict->ma_keys);
        for (i = 0; i < dict->ma_keys->dk_nentries; i++)
            if (e[i].me_key == name)
                break;
        if (i < dict->ma_keys->dk_nentries) {
            c->type_version = tp->tp_version_tag;
            c->index = i;
            c->dictoffset = dictoffset;
            c->kind = OD_ATTR_SPLIT_DICT;
        }
    }
}

/* What load_attr_hit returns when the hit raised (binding a method, a getter). */
static char bind_failed_marker;
#define BIND_FAILED ((PyObject *)&bind_failed_marker)

/* LOAD_ATTR through entry `c` (made for Py_TYPE(owner)): a new reference, NULL when the
 * entry does not hold (take the generic path), or BIND_FAILED (binding a method or a getter raised). */
static PyObject *load_attr_hit(const OdAttrCache *c, PyObject *owner, PyObject *name)
{
    PyTypeObject *tp = Py_TYPE(owner);
    PyObject *res;
    if (c->kind == OD_ATTR_MODULE_VALUE) {
        PyObject *dict = ((PyModuleObject *)owner)->md_dict;
        if (!dict || ((PyDictObject *)dict)->ma_version_tag != c->dict_version)
            return NULL;
        return Py_NewRef(c->value);
    }
    if (tp->tp_version_tag != c->type_version)
        return NULL;
    switch (c->kind) {
    case OD_ATTR_INSTANCE_VALUE: {
        PyDictValues *values = *_PyObject_ValuesPointer(owner);
        res = values ? values->values[c->index] : NULL;
        return Py_XNewRef(res);
    }
    case OD_ATTR_DICT_HINT: {
        PyDictObject *dict = od_instance_dict(owner, c->dictoffset);
        if (!dict || dict->ma_values || dict->ma_keys->dk_kind != DICT_KEYS_UNICODE
            || c->index >= dict->ma_keys->dk_nentries)
            return NULL;
        PyDictUnicodeEntry *e = &DK_UNICODE_ENTRIES(dict->ma_keys)[c->index];
        return e->me_key == name ? Py_XNewRef(e->me_value) : NULL;
    }
    case OD_ATTR_SPLIT_DICT: {
        /* No descriptor of that name in the type (kept by the version): the dict's value
         * is the attribute; none (NULL) takes the generic path. */
        PyDictObject *dict = od_instance_dict(owner, c->dictoffset);
        if (!dict || !dict->ma_values || c->index >= dict->ma_keys->dk_nentries
            || DK_UNICODE_ENTRIES(dict->ma_keys)[c->index].me_key != name)
            return NULL;
        return Py_XNewRef(dict->ma_values->values[c->index]);
    }
    case OD_ATTR_SLOT: /* an empty slot: the generic path raises AttributeError */
        return Py_XNewRef(*(PyObject **)((char *)owner + c->index));
    case OD_ATTR_GETSET: {
        PyGetSetDef *gs = ((PyGetSetDescrObject *)c->value)->d_getset;
        res = gs->get(owner, gs->closure);
        return res ? res : BIND_FAILED;   /* the getter raised: not to be called twice */
    }
    case OD_ATTR_PROPERTY:
        res = Py_TYPE(c->value)->tp_descr_get(c->value, owner, (PyObject *)tp);
        return res ? res : BIND_FAILED;   /* the getter raised: not to be called twice */
    case OD_ATTR_METHOD_NO_DICT:
    case OD_ATTR_METHOD_SHARED_KEYS:
    case OD_ATTR_METHOD_WITH_DICT: {
        if (!od_rt_method_entry_hit(c, owner, name))
            return NULL;
        /* Bound as generic getattr would now: the value's type may have gained a
         * __get__ since the entry was made without changing the owner's version (a
         * non-data descriptor here; one that became a data descriptor reads the same
         * when, as checked, the instance does not hold the name). */
        PyObject *v = c->value;
        descrgetfunc get = Py_TYPE(v)->tp_descr_get;
        if (PyFunction_Check(v))
            res = PyMethod_New(v, owner);
        else if (get)
            res = get(v, owner, (PyObject *)tp);
        else
            return Py_NewRef(v);
        return res ? res : BIND_FAILED;
    }
    default:
        return NULL;
    }
}

uint64_t od_rt_attr_slow;

OD_HELPER(od_rt_load_attr)
{
    (void)oparg; (void)f;
    OdAttrSite *site = arg;
    PyObject *owner = TOP(), *res;
    PyTypeObject *tp = Py_TYPE(owner);
    if ((res = class_value_hit(site, owner)) != NULL) {
        Py_INCREF(res);
        goto done;
    }
    OdAttrCache *c = od_attr_entry_for(site, tp);
    if (c && (res = load_attr_hit(c, owner, site->name)) != NULL) {
        c->hits++;
        if (res == BIND_FAILED) {
            Py_DECREF(owner);
            return OD_ERROR;
        }
        goto done;
    }
    od_rt_attr_slow++;
    res = PyObject_GetAttr(owner, site->name);
    if (!res) {
        Py_DECREF(owner);
        return OD_ERROR;
    }
    if ((c = entry_to_refill(site, attr_key(owner))) != NULL) {
        if (Py_IS_TYPE(owner, &PyType_Type))
            fill_class_cache(c, (PyTypeObject *)owner, site->name, res);
        else
            fill_attr_cache(c, owner, site->name, 1);
    }
done:
    Py_DECREF(owner);
    sp[-1] = res;
    return OD_OK;
}

OD_HELPER(od_rt_store_attr)
{
    (void)oparg; (void)f;
    OdAttrSite *site = arg;
    PyObject *owner = TOP(), *v = SECOND();
    PyTypeObject *tp = Py_TYPE(owner);
    OdAttrCache *c = od_attr_entry_for(site, tp);
    if (c && c->kind == OD_ATTR_SLOT && tp->tp_version_tag == c->type_version) {
        PyObject **slot = (PyObject **)((char *)owner + c->index);
        PyObject *old = *slot;
        c->hits++;
        *slot = v;
        Py_XDECREF(old);
        Py_DECREF(owner);
        return OD_OK;
    }
    if (c && c->kind == OD_ATTR_INSTANCE_VALUE && tp->tp_version_tag == c->type_version) {
        /* The key is in the type's shared keys at `index` and the object still uses
         * inline values: what STORE_ATTR_INSTANCE_VALUE does. */
        PyDictValues *values = *_PyObject_ValuesPointer(owner);
        if (values) {
            c->hits++;
            PyObject *old = values->values[c->index];
            values->values[c->index] = v;
            if (old == NULL) /* a new attribute (as in __init__): keep the insertion order */
                _PyDictValues_AddToInsertionOrder(values, c->index);
            else
                Py_DECREF(old);
            Py_DECREF(owner);
            return OD_OK;
        }
    }
    if (c && c->kind == OD_ATTR_DICT_HINT && tp->tp_version_tag == c->type_version) {
        /* No descriptor of that name in the type (checked when the entry was made, kept by
         * the version), so generic setattr would store into the instance dict: do that. */
        PyDictObject *dict = od_instance_dict(owner, c->dictoffset);
        Py_hash_t hash = ((PyASCIIObject *)site->name)->hash;
        if (dict && hash != -1) {
            c->hits++;
            int err = _PyDict_SetItem_KnownHash((PyObject *)dict, site->name, v, hash);
            Py_DECREF(v);
            Py_DECREF(owner);
            return err ? OD_ERROR : OD_OK;
        }
    }
    if (c && c->kind == OD_ATTR_DICT_STORE && tp->tp_version_tag == c->type_version
        && !(c->value && Py_TYPE(c->value)->tp_descr_set)) {
        /* Generic setattr would store into the instance dict: do that. The class
         * attribute this shadows (if any) may have become a data descriptor since. */
        PyDictObject *dict = od_instance_dict(owner, c->dictoffset);
        Py_hash_t hash = ((PyASCIIObject *)site->name)->hash;
        int err;
        if (dict && hash != -1) {
            c->hits++;
            err = _PyDict_SetItem_KnownHash((PyObject *)dict, site->name, v, hash);
        } else {
            /* No dict yet (the first store to a new object: `self.x = ...` in __new__):
             * generic setattr makes it as the type wants it (split, sharing the type's
             * keys). The entry still holds for the next object: no refill. */
            err = PyObject_SetAttr(owner, site->name, v);
        }
        Py_DECREF(v);
        Py_DECREF(owner);
        return err ? OD_ERROR : OD_OK;
    }
    od_rt_attr_slow++;
    int err = PyObject_SetAttr(owner, site->name, v);
    Py_DECREF(v);
    if (!err) {
        c = entry_to_refill(site, tp);
        if (c && tp->tp_setattro == PyObject_GenericSetAttr)
            fill_attr_cache(c, owner, site->name, 0);
    }
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

/* Cache a method found by _PyObject_GetMethod when nothing on the instance can shadow it. */
static void fill_method_cache(OdAttrCache *c, PyObject *obj, PyObject *name, PyObject *meth)
{
    PyTypeObject *tp = Py_TYPE(obj);
    c->type = tp;
    c->kind = OD_ATTR_NONE;
    if (tp->tp_getattro != PyObject_GenericGetAttr || !version_usable(tp))
        return;
    if (_PyType_Lookup(tp, name) != meth)
        return;
    Py_ssize_t nentries, dictoffset;
    if (tp->tp_dictoffset == 0) {
        c->kind = OD_ATTR_METHOD_NO_DICT;
    } else if (shared_key_index(tp, name, &nentries) == -1 && *_PyObject_ValuesPointer(obj)) {
        c->keys_nentries = nentries;
        c->kind = OD_ATTR_METHOD_SHARED_KEYS;
    } else if (dict_kind_of(tp, &dictoffset)) {
        c->dictoffset = dictoffset;
        c->kind = OD_ATTR_METHOD_WITH_DICT;
    } else {
        return;
    }
    c->type_version = tp->tp_version_tag;
    c->value = meth; /* borrowed from the type's dict, valid while the version holds */
}

OD_HELPER(od_rt_load_method)
{
    (void)oparg; (void)f;
    OdAttrSite *site = arg;
    PyObject *obj = TOP(), *meth = NULL;
    PyTypeObject *tp = Py_TYPE(obj);
    if ((meth = class_value_hit(site, obj)) != NULL) {
        Py_INCREF(meth);
        sp[-1] = NULL;
        Py_DECREF(obj);
        sp[0] = meth;
        return OD_OK;
    }
    OdAttrCache *c = od_attr_entry_for(site, tp);
    if (c) {
        int ok = od_rt_method_entry_hit(c, obj, site->name);
        if (ok) {
            c->hits++;
            meth = c->value;
            Py_INCREF(meth);
            sp[-1] = meth;
            sp[0] = obj;
            return OD_OK;
        }
    }
    od_rt_attr_slow++;
    int found = _PyObject_GetMethod(obj, site->name, &meth);
    if (!meth)
        return OD_ERROR; /* obj stays on the stack, as in the interpreter */
    c = entry_to_refill(site, attr_key(obj));
    if (found) {
        if (c)
            fill_method_cache(c, obj, site->name, meth);
        sp[-1] = meth;   /* unbound method, then self */
        sp[0] = obj;
    } else {
        if (c && Py_IS_TYPE(obj, &PyType_Type))
            fill_class_cache(c, (PyTypeObject *)obj, site->name, meth);
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
