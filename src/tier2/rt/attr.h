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

typedef struct OdT2AttrSite {
    OdAttrSite site;            /* first: what the runtime's helpers take */
    int why;                    /* OdAttrWhy: the count its executions go to */
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

#endif /* OD_TIER2_RT_ATTR_H */
