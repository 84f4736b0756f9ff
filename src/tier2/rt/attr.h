/* tier2/rt/attr.h — the inline caches of tier 2's generic attribute instructions.
 *
 * A LoadAttr / StoreAttr / LoadMethod that the `attrs` pass leaves generic (polymorphic,
 * module and class attributes, instance dicts, descriptors: OdAttrWhy) is not a bare
 * PyObject_GetAttr: lowering gives it a site of its own, the runtime's OdAttrSite (what
 * tier 1's helpers use: OD_ATTR_WAYS entries keyed by receiver type, or by the class for a
 * class object, of every OdAttrKind), owned by the tier-2 unit. Its helper
 * (od_t2_load_attr, od_t2_store_attr, od_t2_load_method, with the site as `imm`) goes
 * through the runtime's cached helpers, which fill the entries on a miss and back off on a
 * megamorphic site. No guard, no exit: a miss is a generic lookup, never a deopt. */
#ifndef OD_TIER2_RT_ATTR_H
#define OD_TIER2_RT_ATTR_H

#include "../../runtime/helpers.h"
#include "../hir/feedback.h"

/* One receiver type tier 1's site met, built into the code as immediates (lir/codegen.c
 * attr_chain): the type's version tag (unique to one type in one state: it alone proves
 * the layout, the index and the method) and what the access needs. */
typedef struct {
    uint32_t type_version;
    int kind;                   /* OD_ATTR_INSTANCE_VALUE, _SLOT, _METHOD_NO_DICT, _METHOD_SHARED_KEYS */
    Py_ssize_t index;           /* INSTANCE_VALUE: values[index]; SLOT: byte offset */
    Py_ssize_t keys_nentries;   /* METHOD_SHARED_KEYS: the type's shared keys' entries */
    const void *method;         /* METHOD_*: the address only, read under the guard */
} OdT2AttrWay;

typedef struct OdT2AttrSite {
    OdAttrSite site;            /* first: what the runtime's helpers take */
    int why;                    /* OdAttrWhy: the count its executions go to */
    /* Set by the lowering, read by the code generator: the receiver types of a site tier 1
     * met several of (hir/feedback.h od_feedback_attr_ways), each a guard of its version
     * and its access in line before the site's own entries; a receiver none of them
     * covers takes the road it took before (entries, then the helper), never a deopt. */
    int nways;
    OdT2AttrWay ways[OD_ATTR_WAYS];
} OdT2AttrSite;

/* n zeroed sites (one block), or NULL with MemoryError (n 0: NULL, no error). */
OdT2AttrSite *od_t2_attr_sites_new(int n);
/* Frees the block and the entry blocks its sites allocated. */
void od_t2_attr_sites_free(OdT2AttrSite *sites, int n);

/* Executions of generic attribute instructions by OdAttrWhy (stats()["tier2"]["generic_attr"]). */
extern uint64_t od_t2_generic_attr[OD_ATTR_WHY__COUNT];
/* Of those, the ones whose site's entries did not serve them (a lookup by the type's MRO
 * and dicts, then an entry (re)filled unless the site is megamorphic): "misses". */
extern uint64_t od_t2_generic_attr_misses;
/* Of all of them, the LoadAttrs served by the inline hit path (lir/codegen.c): no helper
 * call ("inline"). */
extern uint64_t od_t2_generic_attr_inline;
/* Generic sites compiled with ways (OdT2AttrSite.ways: receiver types tested in line with
 * their versions as immediates), counted when lowered ("way_sites"). Their hits count
 * under the site's reason, not as "inline" nor as misses. */
extern uint64_t od_t2_attr_way_sites;
/* 1 (the default): lowering gives generic sites their ways; 0: none (tests of the sites'
 * own road, module.c _t2_attr_ways). Read when a function is compiled. */
extern int od_t2_attr_ways_on;

/* Stores over an existing entry of a materialized instance __dict__ (what the
 * interpreter's STORE_ATTR_WITH_HINT does), taken in place by tier 2 (od_t2_store_attr and
 * the in-line path of lir/codegen.c) instead of through the dict's insert. Such a store must
 * give the dict a new ma_version_tag (PEP 509: a tag no dict ever had; overdrive's module
 * and global caches compare it), and CPython's counter (_pydict_global_version) is not
 * exported. The tags are drawn from a range of their own instead: CPython's counter counts
 * up from 0 by one per dict change and never reaches 2**63 (centuries at 10**9 a second),
 * these count up from 2**63, so no two dicts or states share one. CPython 3.11 itself reads
 * ma_version_tag nowhere (only _testcapi's dict_get_version returns it) and never orders
 * tags, so a tag from this range is as good as one of its own. */
#define OD_T2_DICT_VERSION_BASE ((uint64_t)1 << 63)
extern uint64_t od_t2_dict_version;     /* the last tag handed out */
static inline uint64_t od_t2_dict_version_next(void) { return ++od_t2_dict_version; }

/* The address of the value of entry `index` of `dict` when the dict is combined, of str
 * keys (an exact dict: od_instance_dict's), and that entry has `name` as its key and a
 * value; else NULL. Entries are only appended to a keys object, so the name found there is
 * the dict's one entry for it. */
static inline PyObject **od_t2_dict_hint_slot(PyDictObject *dict, Py_ssize_t index, PyObject *name)
{
    PyDictKeysObject *keys = dict->ma_keys;
    if (dict->ma_values || keys->dk_kind != DICT_KEYS_UNICODE || index < 0
        || index >= keys->dk_nentries)
        return NULL;
    PyDictUnicodeEntry *e = &DK_UNICODE_ENTRIES(keys)[index];
    return e->me_key == name && e->me_value ? &e->me_value : NULL;
}

/* StoreDictHint's road off its hint (lir/codegen.c, out of line): `name` (an exact str
 * of known hash) stored as `value` into the instance dict of `owner` (the managed one, the
 * inline values gone, or at byte `dictoffset`) when that is an exact dict of str keys (a
 * split one included), by the dict's own insert, taking no reference to `value` (the code
 * gives the store one, as to StoreField's): its old value (a new reference, NULL when
 * the key is new) comes back to the code, which releases it (nothing here can run Python
 * code: no finalizer, no __eq__). OD_T2_STORE_DICT_DEOPT when nothing was done (no such
 * dict, or the insert failed: the interpreter stores). */
#define OD_T2_STORE_DICT_DEOPT ((PyObject *)1)
PyObject *od_t2_store_dict_slow(PyObject *owner, PyObject *name, PyObject *value,
                                Py_ssize_t dictoffset);

#endif /* OD_TIER2_RT_ATTR_H */
