/* tier2/rt/attr.c — generic attribute instructions through a site of their own (attr.h). */
#include "attr.h"
#include "helpers.h"

#include <stdlib.h>

uint64_t od_t2_generic_attr[OD_ATTR_WHY__COUNT];
uint64_t od_t2_generic_attr_misses;

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

/* The runtime's helpers take their inputs from a value stack and consume them; tier-2
 * operands are borrowed, so each call gets a small stack of new references. */

OD_T2_HELPER(od_t2_load_attr)
{
    OdT2AttrSite *s = (OdT2AttrSite *)(intptr_t)imm;
    if (!s)
        return (intptr_t)PyObject_GetAttr(args[0], obj);
    od_t2_generic_attr[s->why]++;
    PyObject *stack[1] = {Py_NewRef(args[0])};
    uint64_t slow = od_rt_attr_slow;
    int r = od_rt_load_attr(f, stack + 1, 0, &s->site);
    od_t2_generic_attr_misses += od_rt_attr_slow != slow;
    return r == OD_OK ? (intptr_t)stack[0] : 0;   /* on error, the owner released */
}

OD_T2_HELPER(od_t2_store_attr)
{
    OdT2AttrSite *s = (OdT2AttrSite *)(intptr_t)imm;
    if (!s)
        return PyObject_SetAttr(args[0], obj, args[1]);
    od_t2_generic_attr[s->why]++;
    PyObject *stack[2] = {Py_NewRef(args[1]), Py_NewRef(args[0])};   /* value, owner */
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
