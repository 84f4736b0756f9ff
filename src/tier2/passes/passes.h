/* tier2/passes/passes.h — the HIR passes, declared once.
 *
 * Contract: a pass takes a verified HIR function and leaves a verified one (the caller
 * runs the verifier after each pass in tests and debug builds). It returns 0, or -1 with
 * a Python exception set. Passes keep use lists up to date (hir.h's setters do).
 * X(name, description); the function is od_hir_pass_<name>. The default pipeline is the
 * table's order. */
#ifndef OD_TIER2_PASSES_PASSES_H
#define OD_TIER2_PASSES_PASSES_H

#include "../hir/hir.h"

#define OD_HIR_PASSES(X)                                                                   \
    X(constfold, "fold operations on constant ints, floats, strs and conditions; "         \
                 "turn branches on constants into jumps")                                  \
    X(specialize, "speculate on recorded int/float operands (guards, unboxed arithmetic, "  \
                  "box/unbox at the boundaries) and on bound globals (dict-version guard)") \
    X(attrs, "attribute loads, stores and methods by tier 1's monomorphic sites: a guard " \
             "of the type version (one for several accesses to an unchanged object) and "   \
             "the access in place")                                                         \
    X(inline, "calls of type methods whose body only returns an argument or a constant: " \
              "the value itself, under a guard of the function's code")                   \
    X(subscr, "subscripts of lists by a constant index, by tier 1's site feedback: a guard "\
              "of the exact list class (one per value) and the item read or written in "   \
              "place")                                                                      \
    X(unbox, "phis of boxed ints/floats that are only unboxed again become unboxed phis")  \
    X(licm, "int/float guards and unboxes of values defined outside a loop move to a "     \
            "preheader on its entry edge (resuming at the loop header if they fail)")      \
    X(dce, "remove unreachable blocks, trivial phis and unused instructions without effects")

#define OD_HIR_PASS_DECL(name, desc) int od_hir_pass_##name(OdHirFunc *fn);
OD_HIR_PASSES(OD_HIR_PASS_DECL)
#undef OD_HIR_PASS_DECL

typedef struct {
    const char *name;
    const char *description;
    int (*run)(OdHirFunc *fn);
} OdHirPass;

extern const OdHirPass od_hir_passes[];
extern const int od_hir_npasses;
/* The pass called `name`, or NULL. */
const OdHirPass *od_hir_find_pass(const char *name);

#endif /* OD_TIER2_PASSES_PASSES_H */
